"""`gradcheck run --submissions DIR`: a whole class graded in one command.

DIR holds one subdirectory per student, each laid out like the config's
`submission` directory (`alice/window.grad`, `alice/hw.py`). Every check of
the config is run for every student, with the paths inside `submission`
pointing into that student's directory instead, and that directory as the one
the student's files must stay in. All (student, check) pairs share one pool of
worker processes (start-up is paid once per worker), and each student's code
still runs in its own child process with the limits of `impl_runner`, so one
student's hang, crash or flood costs only that student's check.

The result is one RunResult per student (the same scoring as a single `run`)
and a class summary: a text table, JSON, or CSV for a grade book.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gradcheck_cli.errors import UsageError


@dataclass(frozen=True)
class Student:
    name: str
    result: Any  # RunResult


@dataclass(frozen=True)
class ClassResult:
    students: tuple[Student, ...]
    checks: tuple[str, ...]  # check names, config order
    max_score: float
    seconds: float

    @property
    def ok(self) -> bool:
        return all(s.result.ok for s in self.students)


def student_dirs(root: Path) -> list[Path]:
    """The students: every directory in root (not hidden, not a symlink), sorted by name."""
    if not root.is_dir():
        raise UsageError(f"--submissions {root}: not a directory",
                         hint="pass the directory that holds one subdirectory per student")
    dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")),
                  key=lambda p: p.name)
    if not dirs:
        raise UsageError(f"--submissions {root}: no student directories in it",
                         hint="each student's files go in their own subdirectory: DIR/alice/window.grad, …")
    return dirs


def for_student(check: Any, base: Path, student: Path) -> Any:
    """The check with every path inside `base` (the config's submission directory) moved to `student`."""
    def move(path: Path) -> Path:
        try:
            return student / Path(path).relative_to(base)
        except ValueError:
            return Path(path)

    impl = check.impl
    if impl is not None:
        path, _, func = impl.rpartition(":")
        impl = f"{move(Path(path))}:{func}"
    return replace(check, file=move(check.file), impl=impl, submission=student)


def run_class(config: Path | None, submissions: Path, jobs: int = 0) -> ClassResult:
    from gradcheck_cli.homework.config import load_config
    from gradcheck_cli.homework.grading import entry, run_checks
    from gradcheck_cli.report.model import RunResult

    cfg = load_config(config)
    base = cfg.defaults.submission
    if base is None:
        raise UsageError(f"--submissions needs `submission = \"…\"` in {cfg.path.name}",
                         hint="it names the directory (e.g. \"submission\") that each student's directory replaces")
    dirs = student_dirs(submissions)
    tasks = [for_student(c, base, d.resolve()) for d in dirs for c in cfg.checks]
    t0 = time.perf_counter()
    outcomes = run_checks(tasks, jobs)
    seconds = time.perf_counter() - t0
    n = len(cfg.checks)
    students = []
    for k, d in enumerate(dirs):
        part = slice(k * n, (k + 1) * n)
        entries = [entry(c, o) for c, o in zip(tasks[part], outcomes[part])]
        students.append(Student(d.name, RunResult(entries=entries, name=d.name)))
    return ClassResult(tuple(students), tuple(c.name for c in cfg.checks), cfg.max_score, seconds)


# ---------------------------------------------------------------- the summary


def _problem(e: Any) -> str:
    """One line a teacher reads: why this check lost points, or ""."""
    from gradcheck_cli.report.common import first_line

    if e.error is not None:
        return first_line(e.error)
    for c in e.failed:
        return f"{c.name}: {first_line(c.message)}"
    return ""


def _first_problem(s: Student, labels: list[str] | None = None) -> str:
    """The first check that lost points and why, named by `labels` (q1, q2, … in the table) or in full."""
    names = labels or [e.name for e in s.result.entries]
    return next((f"{name}: {p}" for name, e in zip(names, s.result.entries) if (p := _problem(e))), "")


def _stats(cr: ClassResult) -> dict[str, Any]:
    scores = [s.result.score for s in cr.students]
    return {"students": len(scores), "mean": round(statistics.fmean(scores), 3),
            "median": statistics.median(scores), "full_marks": sum(1 for x in scores if x >= cr.max_score),
            "zero": sum(1 for x in scores if x == 0), "seconds": round(cr.seconds, 3)}


def render_class(cr: ClassResult, fmt: str) -> str:
    if fmt == "json":
        return _json(cr)
    if fmt == "csv":
        return _csv(cr)
    return _text(cr)


def _json(cr: ClassResult) -> str:
    students = [{"student": s.name, "score": s.result.score, "max_score": s.result.max_score, "ok": s.result.ok,
                 "checks": [{"name": e.name, "score": e.score, "max_score": e.max_score, "ok": e.ok,
                             "problem": _problem(e) or None} for e in s.result.entries]}
                for s in cr.students]
    return json.dumps({"version": 1, "max_score": cr.max_score, "summary": _stats(cr), "students": students},
                      indent=2, ensure_ascii=False) + "\n"


def _csv(cr: ClassResult) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["student", "score", "max_score", *cr.checks, "problem"])
    for s in cr.students:
        w.writerow([s.name, f"{s.result.score:g}", f"{s.result.max_score:g}",
                    *(f"{e.score:g}" for e in s.result.entries), _first_problem(s)])
    return out.getvalue()


def _text(cr: ClassResult) -> str:
    width = max([len("student")] + [len(s.name) for s in cr.students])
    heads = [f"q{i + 1}" for i in range(len(cr.checks))]
    lines = [f"{'student':<{width}}  {'score':>9}  " + "  ".join(f"{h:>5}" for h in heads) + "  first problem"]
    for s in cr.students:
        score = f"{s.result.score:g}/{s.result.max_score:g}"
        cells = "  ".join(f"{e.score:>5g}" for e in s.result.entries)
        problem = _first_problem(s, heads)
        problem = problem if len(problem) <= 200 else problem[:199] + "…"
        lines.append(f"{s.name:<{width}}  {score:>9}  {cells}  {problem}".rstrip())
    st = _stats(cr)
    lines.append("")
    lines += [f"  {h} = {name}" for h, name in zip(heads, cr.checks)]
    lines.append(f"{st['students']} students graded in {cr.seconds:.1f} s: mean {st['mean']:g} / {cr.max_score:g}, "
                 f"{st['full_marks']} with full marks, {st['zero']} with 0")
    return "\n".join(lines) + "\n"


def write_reports(cr: ClassResult, directory: Path) -> None:
    """Each student's own report, `<student>.json` in `directory` (the JSON report format)."""
    from gradcheck_cli.report import FORMATS
    from gradcheck_cli.report.common import write_atomic

    for s in cr.students:
        write_atomic(directory / f"{s.name}.json", FORMATS["json"](s.result))
