"""Hostile submissions (tests/data/hostile/) through `gradcheck run`, in every report format.

Each case is what a student who wants the points without the work, or wants
to break the grader, hands in for examples/homework. The course is copied to a
temporary directory, the reference solutions are put in submission/ and the
case's files over them (symlinks, FIFOs and oversized files are made here), and
`gradcheck run --format F --output report` runs for every F. Each case must
score 0 on the check it attacks with a message a teacher can read, leave the
other check's points alone, never exit 3, and leave a report that parses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_homework import FORMATS, HOMEWORK, gradcheck

HOSTILE = Path(__file__).parent / "data" / "hostile"
REFERENCE = HOMEWORK / "reference"


def course_with(tmp_path: Path, *cases: str) -> Path:
    """examples/homework with the reference answers in submission/, then each case's files over them."""
    dest = tmp_path / "homework"
    shutil.copytree(HOMEWORK, dest, ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.xml"))
    sub = dest / "submission"
    for name in ("window.grad", "hw.py"):
        (sub / name).unlink()
        shutil.copy(REFERENCE / name, sub / name)
    for case in cases:
        for f in (HOSTILE / case).iterdir():
            shutil.copy(f, sub / f.name)
    return dest


def scores(course: Path, env: dict[str, str] | None = None) -> tuple[dict[str, float], dict[str, str]]:
    """Run every format; return the Gradescope scores per check and every format's report text."""
    texts: dict[str, str] = {}
    for fmt in FORMATS:
        out = course / "out" / f"report.{fmt}"
        r = gradcheck("run", "--jobs", "1", "--format", fmt, "--output", out, cwd=course, env=env)
        assert r.exit_code in (0, 1), (fmt, r.exit_code, r.stdout, r.stderr)
        text = out.read_text(encoding="utf-8")
        if fmt in ("json", "gradescope", "classroom"):
            json.loads(text)
        elif fmt == "junit":
            ET.fromstring(text)
        texts[fmt] = text
    gs = json.loads(texts["gradescope"])
    return {t["name"].split()[0]: t["score"] for t in gs["tests"]}, texts


def assert_everywhere(texts: dict[str, str], words: str) -> None:
    """The teacher's message is in every format (text, JSON, XML, annotations, results.json)."""
    for fmt, text in texts.items():
        assert words in text, f"{words!r} missing from the {fmt} report"


def _link(course: Path, name: str, target: str) -> None:
    p = course / "submission" / name
    p.unlink()
    p.symlink_to(target)


# ---------------------------------------------------------------- items 1 and 3: each case attacks q1 (the claims)
# and q2 (hw.py) at once; each must lose exactly its own check's points


SECRET = "hunter2-s3cret"


@pytest.mark.parametrize("q1_case,q2_case,q1,q2,words", [
    (None, None, 5, 9, []),
    ("unrelated_graph", "fd_forge", 0, 0,
     ["does not keep the handout's graph: the size d is missing", "[handout questions/window.grad]", "private channel"]),
    ("no_claims", "memory_hog", 0, 0,
     ["missing claim ds/dW: the handout asks for it (questions/window.grad line", "MemoryError"]),
    ("handout_untouched", "env_leak", 0, 0, ["TODO", "GRADER_SECRET="]),
    ("repeated_claim", None, 1, 9, ["missing claim ds/dx3"]),  # ten copies of the right ds/du count once: 1 of 5
])
def test_trivial_and_hostile_submissions_score_nothing_for_what_they_attack(
        tmp_path: Path, q1_case: str | None, q2_case: str | None, q1: int, q2: int, words: list[str]) -> None:
    course = course_with(tmp_path, *(c for c in (q1_case, q2_case) if c))
    got, texts = scores(course, env={"GRADER_SECRET": SECRET})
    assert got == {"q1": q1, "q2": q2}
    for w in words:
        assert_everywhere(texts, w)
    for fmt, text in texts.items():
        assert SECRET not in text, f"the grader's secret reached the {fmt} report"


def test_a_changed_assignment_is_named_with_its_line(tmp_path: Path) -> None:
    course = course_with(tmp_path)
    grad = course / "submission" / "window.grad"
    grad.write_text(grad.read_text(encoding="utf-8").replace("z = W x + b", "z = W x"), encoding="utf-8")
    line = next(i for i, t in enumerate(grad.read_text(encoding="utf-8").splitlines(), 1) if t.startswith("z = "))
    # a symlink that stays inside the submission directory is the student's own file: followed
    sub = course / "submission"
    (sub / "hw.py").rename(sub / "mine.py")
    (sub / "hw.py").symlink_to("mine.py")
    got, texts = scores(course)
    assert got == {"q1": 0, "q2": 9}
    assert_everywhere(texts, f"line {line} `z = W x` changes the assignment to z")


# ---------------------------------------------------------------- item 2: only the student's own regular files


@pytest.mark.parametrize("links,q1,q2,words", [
    ({"window.grad": "../reference/window.grad", "hw.py": "../reference/hw.py"}, 0, 0,
     "outside the submission directory"),
    ({"hw.py": "/dev/zero"}, 5, 0, "outside the submission directory"),
    ({"hw.py": "hw.py"}, 5, 0, "symbolic link loop"),
])
def test_symlinks_out_of_the_submission_score_zero_for_their_own_check(tmp_path: Path, links: dict[str, str],
                                                                        q1: int, q2: int, words: str) -> None:
    course = course_with(tmp_path)
    for name, target in links.items():
        _link(course, name, target)
    got, texts = scores(course)
    assert got == {"q1": q1, "q2": q2}
    assert_everywhere(texts, words)


def test_a_fifo_and_an_oversized_file_are_refused(tmp_path: Path) -> None:
    course = course_with(tmp_path)
    sub = course / "submission"
    (sub / "hw.py").unlink()
    os.mkfifo(sub / "hw.py")  # reading it would block the grader forever
    grad = sub / "window.grad"
    grad.write_text(grad.read_text(encoding="utf-8") + ("#" * 999 + "\n") * 300, encoding="utf-8")  # 300 KB
    got, texts = scores(course)
    assert got == {"q1": 0, "q2": 0}
    assert_everywhere(texts, "is not a regular file")
    assert_everywhere(texts, "more than the 256 KB a submitted file may have")


# ---------------------------------------------------------------- item 3: the student's process cannot reach the grader


def _run_subprocess(course: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gradcheck_cli", "run", *args], cwd=course, text=True,
                          capture_output=True, env={**os.environ, "NO_COLOR": "1", **(env or {})}, timeout=300)


def _processes_in(directory: Path) -> list[int]:
    """Live processes whose working directory is inside `directory`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cwd = os.readlink(f"/proc/{name}/cwd")
                state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if cwd.startswith(str(directory)) and state != "Z":
                found.append(int(name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the subreaper and /proc are Linux's")
def test_a_setsid_grandchild_cannot_overwrite_the_report(tmp_path: Path) -> None:
    course = course_with(tmp_path, "setsid_forger")  # it rewrites --output 3 s after it starts
    written = {}
    for fmt in FORMATS:
        report = course / "out" / f"report.{fmt}"
        r = _run_subprocess(course, "--format", fmt, "--output", str(report))
        assert r.returncode == 0, r.stderr
        written[report] = report.read_text(encoding="utf-8")
        assert _processes_in(course) == []  # killed with its parent, before the report was written
    time.sleep(3.5)
    for report, text in written.items():
        assert report.read_text(encoding="utf-8") == text and "forged" not in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KB is Linux's")
def test_a_flood_of_output_costs_the_grader_little_memory(tmp_path: Path) -> None:
    course = course_with(tmp_path, "output_flood")  # 300 MB on stderr and 300 MB on stdout, then right answers
    # a fresh parent process, so that ru_maxrss covers this run's processes only
    probe = ("import json, resource, subprocess, sys\n"
             "r = subprocess.run([sys.executable, '-m', 'gradcheck_cli', 'run', '--jobs', '1', '--format', 'json'],"
             " capture_output=True, text=True)\n"
             "print(json.dumps([r.returncode, json.loads(r.stdout)['score'],"
             " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n")
    r = subprocess.run([sys.executable, "-c", probe], cwd=course, text=True, capture_output=True, timeout=300,
                       env={**os.environ, "NO_COLOR": "1"})
    code, score, peak_kb = json.loads(r.stdout)
    assert code == 0 and score == 14
    assert peak_kb / 1024 < 300, f"the largest process reached {peak_kb / 1024:.0f} MB"


# ---------------------------------------------------------------- item 4: the report itself


def test_an_unwritable_output_is_exit_2_and_the_old_report_stays(tmp_path: Path) -> None:
    course = course_with(tmp_path)
    report = course / "out" / "report.json"
    assert _run_subprocess(course, "--format", "json", "--output", str(report)).returncode == 0
    good = report.read_text(encoding="utf-8")
    assert len(good) > 3 * 4096
    umask = os.umask(0)
    os.umask(umask)
    assert report.stat().st_mode & 0o777 == 0o666 & ~umask  # a report file, not mkstemp's 0600
    r = subprocess.run(["bash", "-c", f"ulimit -f 4; {sys.executable} -m gradcheck_cli run --format json "
                        f"--output {report}"], cwd=course, text=True, capture_output=True, timeout=300)
    assert r.returncode == 2 and f"cannot write the report to {report}" in r.stderr and "File too large" in r.stderr
    assert report.read_text(encoding="utf-8") == good  # not a truncated 4,096 bytes
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.json"]  # no temporary file left
    for target, why in ((course / "out", "it is a directory"), (Path("/proc/nope/r.json"), "No such file")):
        r = _run_subprocess(course, "--format", "json", "--output", str(target))
        assert r.returncode == 2 and why in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_killing_run_leaves_no_worker_or_student_process(tmp_path: Path) -> None:
    course = course_with(tmp_path)
    (course / "submission" / "hw.py").write_text("import time\ntime.sleep(120)\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", "run", "--jobs", "2"], cwd=course,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _processes_in(course / "submission") and time.monotonic() < deadline:
        time.sleep(0.1)  # until the student's process runs
    assert _processes_in(course / "submission"), "the student's process never started"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _processes_in(course) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_in(course) == []

