"""`gradcheck run --submissions DIR`: a class of examples/homework submissions in one command.

Four students (the reference, the example student, an unrelated graph with a
symlinked hw.py, and one who handed in nothing) are graded together; each
gets the score a single `gradcheck run` on their files gives, in the text
table, the JSON summary, the CSV and their own JSON report.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from test_homework import HOMEWORK, gradcheck

HOSTILE = Path(__file__).parent / "data" / "hostile"
EXPECTED = {"alice": 14, "bob": 6, "carol": 0, "dave": 0}


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("class")
    shutil.copytree(HOMEWORK, root / "course", ignore=shutil.ignore_patterns("__pycache__"))
    subs = root / "subs"
    for name in EXPECTED:
        (subs / name).mkdir(parents=True)
    for f in ("window.grad", "hw.py"):
        shutil.copy(HOMEWORK / "reference" / f, subs / "alice" / f)
        shutil.copy(HOMEWORK / "submission" / f, subs / "bob" / f)
    shutil.copy(HOSTILE / "unrelated_graph" / "window.grad", subs / "carol" / "window.grad")
    (subs / "carol" / "hw.py").symlink_to(HOMEWORK / "reference" / "hw.py")  # another student's file
    (subs / ".git").mkdir()  # not a student
    return root


@pytest.fixture(scope="module")
def outputs(klass: Path) -> dict[str, tuple[int, str]]:
    out = {}
    for fmt in ("text", "json", "csv"):
        r = gradcheck("run", "course/gradcheck.toml", "--submissions", "subs", "--format", fmt, "--jobs", "2",
                      "--output", f"summary.{fmt}", *(("--reports", "reports") if fmt == "json" else ()), cwd=klass)
        out[fmt] = (r.exit_code, (klass / f"summary.{fmt}").read_text(encoding="utf-8"))
    return out


def test_every_student_gets_the_score_of_a_single_run(outputs: dict[str, tuple[int, str]]) -> None:
    code, text = outputs["json"]
    assert code == 1  # someone lost points
    data = json.loads(text)
    assert {s["student"]: s["score"] for s in data["students"]} == EXPECTED
    assert data["summary"] == {**data["summary"], "students": 4, "full_marks": 1, "zero": 2}
    carol = next(s for s in data["students"] if s["student"] == "carol")
    problems = [c["problem"] for c in carol["checks"]]
    assert "does not keep the handout's graph" in problems[0]
    assert "outside the submission directory" in problems[1]
    dave = next(s for s in data["students"] if s["student"] == "dave")
    assert all("no such file" in c["problem"] for c in dave["checks"])


def test_the_same_scores_as_running_each_student_alone(klass: Path, tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(klass / "course", course)
    for f in ("window.grad", "hw.py"):
        shutil.copy(klass / "subs" / "bob" / f, course / "submission" / f)
    r = gradcheck("run", "--format", "json", cwd=course)
    assert json.loads(r.stdout)["score"] == EXPECTED["bob"]


def test_csv_has_a_row_per_student_and_a_column_per_check(outputs: dict[str, tuple[int, str]]) -> None:
    rows = list(csv.DictReader(io.StringIO(outputs["csv"][1])))
    assert [r["student"] for r in rows] == sorted(EXPECTED)  # .git is not a student
    assert {r["student"]: float(r["score"]) for r in rows} == EXPECTED
    assert [float(r["q1 gradients of the window score"]) for r in rows] == [5, 4, 0, 0]
    assert [float(r["q2 numpy forward_backward"]) for r in rows] == [9, 2, 0, 0]
    assert rows[0]["problem"] == "" and "claim ds/dW" in rows[1]["problem"]


def test_text_table_and_summary_line(outputs: dict[str, tuple[int, str]]) -> None:
    text = outputs["text"][1]
    assert "4 students graded in" in text and "1 with full marks, 2 with 0" in text
    assert any(line.startswith("alice") and "14/14" in line for line in text.splitlines())


def test_each_students_own_report(klass: Path, outputs: dict[str, tuple[int, str]]) -> None:
    reports = sorted(p.name for p in (klass / "reports").iterdir())
    assert reports == [f"{n}.json" for n in sorted(EXPECTED)]
    assert json.loads((klass / "reports" / "bob.json").read_text(encoding="utf-8"))["score"] == EXPECTED["bob"]


@pytest.mark.parametrize("args,words", [
    (("--format", "junit"), "class summary in text, json or csv"),
    (("--submissions", "nope"), "not a directory"),
])
def test_unusable_class_runs_are_exit_2(klass: Path, args: tuple[str, ...], words: str) -> None:
    base = ["run", "course/gradcheck.toml", "--submissions", "subs"]
    r = gradcheck(*(base[:2] + list(args) if args[0] == "--submissions" else base + list(args)), cwd=klass)
    assert r.exit_code == 2 and words in r.stderr


def test_a_config_without_a_submission_directory_is_exit_2(klass: Path) -> None:
    r = gradcheck("run", "course/reference/gradcheck.toml", "--submissions", "subs", cwd=klass)
    assert r.exit_code == 2 and "--submissions needs `submission" in r.stderr


@pytest.mark.parametrize("args,words", [
    (("run", "--format", "csv"), "--format csv is the class summary"),
    (("run", "--reports", "out"), "--reports goes with --submissions"),
    (("verify", "grading/window.grad", "--format", "csv"), "--format csv is the class summary"),
])
def test_class_only_options_elsewhere_are_exit_2(klass: Path, args: tuple[str, ...], words: str) -> None:
    r = gradcheck(*args, cwd=klass / "course")
    assert r.exit_code == 2 and words in r.stderr
