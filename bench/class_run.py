"""`gradcheck run --submissions DIR` on a class of 300 copies of examples/homework.

    python bench/class_run.py                  # 300 students, the table
    python bench/class_run.py --students 60    # a smaller class
    python bench/class_run.py --strict         # exit 1 unless the class takes ≤ 60 s

Issue 11, item 4: 300 submissions of examples/homework graded in one command
in ≤ 60 s on 2 cores, with peak memory reported. The class is built in a
temporary directory: a third of the students hand in the reference solutions
(14/14), a third the example student's files (a transposed ds/dW, tanh′ with z:
6/14), and a third a mix (the reference claims with the example hw.py, an
untouched handout, an unrelated graph), so every path of the grader runs:
claims, impl checks in a child process, the handout comparison, failures.
Each student's q2 runs the student's hw.py in its own child process.

On a shared machine the wall time depends on what else runs; the CPU time of
the whole process tree (getrusage of the waited-for children: the grader, its
workers and every student's process) divided by the cores is what the class
costs on an idle machine of that size, and is printed beside it.

Peak memory is measured two ways: the sum of the resident set sizes of the
whole process tree (the grader, its pool workers and the students' children),
sampled every 20 ms from /proc, and getrusage's largest single process.

The machine may be shared: the table prints the load average before and
after, so a slow row can be read for what it is.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOMEWORK = ROOT / "examples" / "homework"
TARGET_S = 60.0


def gradcheck_cmd() -> list[str]:
    exe = shutil.which("gradcheck")
    return [exe] if exe else [sys.executable, "-m", "gradcheck_cli"]


def build(workdir: Path, n: int) -> tuple[Path, Path, dict[str, int]]:
    """The course (config, questions, grading) and n student directories; returns (config, dir, expected scores)."""
    course = workdir / "course"
    shutil.copytree(HOMEWORK, course, ignore=shutil.ignore_patterns("__pycache__", "submission", "reference"))
    subs = workdir / "submissions"
    subs.mkdir()
    ref, ex = HOMEWORK / "reference", HOMEWORK / "submission"
    kinds = [
        ((ref / "window.grad", ref / "hw.py"), 14),
        ((ex / "window.grad", ex / "hw.py"), 6),
        ((ref / "window.grad", ex / "hw.py"), 7),
        ((HOMEWORK / "questions" / "window.grad", ref / "hw.py"), 9),
    ]
    expected = {}
    for i in range(n):
        (grad, hw), score = kinds[i % 3] if i % 3 != 2 else kinds[2 + (i // 3) % 2]
        d = subs / f"student{i:03d}"
        d.mkdir()
        shutil.copy(grad, d / "window.grad")
        shutil.copy(hw, d / "hw.py")
        expected[d.name] = score
    return course / "gradcheck.toml", subs, expected


def tree_rss(root: int) -> int:
    """Resident bytes of root and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(name)] = int(fields[1])
        rss[int(name)] = int(fields[21]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(p for p, pp in parents.items() if pp == pid)
    return total


def measure(cmd: list[str]) -> tuple[float, float, int, int, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds of the tree, peak tree RSS, largest single-process RSS, the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.02)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    t.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    single = after.ru_maxrss * 1024  # KB on Linux
    return wall, cpu, peak[0], single, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--strict", action="store_true", help=f"exit 1 unless the class takes ≤ {TARGET_S:g} s")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gradcheck-class-") as tmp:
        config, subs, expected = build(Path(tmp), args.students)
        summary = Path(tmp) / "class.csv"
        cmd = gradcheck_cmd() + ["run", str(config), "--submissions", str(subs), "--format", "csv",
                                 "--output", str(summary), "--jobs", str(args.jobs)]
        load0 = os.getloadavg()
        wall, cpu, peak, single, proc = measure(cmd)
        load1 = os.getloadavg()
        if proc.returncode not in (0, 1):
            print(proc.stderr, file=sys.stderr)
            return 2
        import csv

        rows = list(csv.DictReader(summary.open(encoding="utf-8")))
        got = {r["student"]: int(float(r["score"])) for r in rows}
        wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    n = args.students
    print(f"gradcheck run --submissions: {n} students of examples/homework, 2 checks each "
          f"(q1 claims, q2 hw.py in a child process); {os.cpu_count()} cores, --jobs {args.jobs or 'cores'}")
    print(f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (other work on the machine slows every row)")
    print()
    print(f"| {'measure':<34} | {'value':>12} | {'target':>10} |")
    print(f"|{'-' * 36}|{'-' * 14}|{'-' * 12}|")
    print(f"| {'wall time, whole class':<34} | {wall:>10.1f} s | {f'≤ {TARGET_S:g} s':>10} |")
    print(f"| {'per submission':<34} | {1000 * wall / n:>9.0f} ms | {f'≤ {1000 * TARGET_S / 300:.0f} ms':>10} |")
    cores = os.cpu_count() or 1
    print(f"| {'CPU time, all processes':<34} | {cpu:>10.1f} s | {'':>10} |")
    print(f"| {f'CPU time / {cores} cores (idle machine)':<34} | {cpu / cores:>10.1f} s | {f'≤ {TARGET_S:g} s':>10} |")
    print(f"| {'peak memory, whole process tree':<34} | {peak / 2**20:>9.0f} MB | {'':>10} |")
    print(f"| {'peak memory, largest process':<34} | {single / 2**20:>9.0f} MB | {'':>10} |")
    print(f"| {'scores as expected':<34} | {n - len(wrong):>7} / {n:<3}| {n:>10} |")
    if wrong:
        print(f"wrong scores (got, expected): {dict(list(wrong.items())[:5])}")
        return 1
    return 1 if args.strict and wall > TARGET_S else 0


if __name__ == "__main__":
    sys.exit(main())
