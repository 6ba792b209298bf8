"""`gradcheck run` and `gradcheck init`: a course's checks, run together.

Start-up (sympy, numpy) is paid once per worker process, and the checks run
in parallel on the machine's cores. A check whose files cannot be used is
reported as that check's error, so one broken question does not hide the
others' scores.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .errors import GradcheckError, format_error
from .numeric.result import Report


def _options(check: Any) -> Any:
    from .verify import VerifyOptions

    return VerifyOptions(seed=check.seed, trials=check.trials, method=check.method,
                         convention=check.convention, bind=dict(check.bind), impl=check.impl,
                         vectors=check.vectors, timeout=check.timeout, tolerance=check.tolerance)


Outcome = tuple["Report | None", "str | None", "int | None"]


def run_one(check: Any) -> Outcome:
    """One configured check, in a worker: (report, None, None) or (None, error text, line)."""
    from .verify import verify_file

    try:
        return verify_file(str(check.file), _options(check)), None, None
    except GradcheckError as e:
        src = None
        if e.span is not None:
            try:
                src = Path(e.span.source).read_text(encoding="utf-8")
            except OSError:
                src = None
        return None, format_error(e, src), e.span.line if e.span else None
    except Exception as e:  # a crash in one check must not sink the run
        return None, f"gradcheck internal error in this check ({type(e).__name__}: {e}); please report it", None


def rerun_command(check: Any) -> str:
    """`gradcheck verify …` with the options of a configured check: what a student types to reproduce it."""
    import shlex

    from .report.common import relpath

    parts = ["gradcheck", "verify", relpath(str(check.file)), "--seed", str(check.seed)]
    if check.trials != 2:
        parts += ["--trials", str(check.trials)]
    if check.convention != "either":
        parts += ["--convention", check.convention]
    if check.method != "auto":
        parts += ["--method", check.method]
    for name, fn in sorted(dict(check.bind).items()):
        parts += ["--bind", f"{name}={fn}"]
    if check.impl:
        path, _, func = check.impl.rpartition(":")
        parts += ["--impl", f"{relpath(path)}:{func}"]
        if check.vectors != "flat":
            parts += ["--vectors", check.vectors]
        if check.timeout != 60.0:
            parts += ["--timeout", f"{check.timeout:g}"]
    return " ".join(shlex.quote(p) for p in parts)


def run_checks(checks: list[Any], jobs: int = 0) -> list[Outcome]:
    jobs = jobs or os.cpu_count() or 1
    jobs = max(1, min(jobs, len(checks)))
    if jobs == 1 or len(checks) <= 1:
        return [run_one(c) for c in checks]
    # Import the checker (numpy, sympy, the grammar) before the pool starts: forked
    # workers inherit it, so start-up is paid once, not once per worker.
    from . import verify  # noqa: F401

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_one, checks))


def run_config(path: Path | None, fmt: str = "text", jobs: int = 0) -> tuple[Any, str]:
    """Load the config, run every check, return (RunResult, text report)."""
    from .config import load_config
    from .render.report_text import render_report_text
    from .report.model import Entry, RunResult

    cfg = load_config(path)
    t0 = time.perf_counter()
    outcomes = run_checks(list(cfg.checks), jobs)
    entries = []
    lines = []
    for check, (report, error, line) in zip(cfg.checks, outcomes):
        entries.append(Entry(name=check.name, points=check.points, visibility=check.visibility,
                             report=report, error=error, partial=check.partial, file=str(check.file), line=line,
                             rerun=rerun_command(check)))
        pts = f" [{check.points:g} point{'s' if check.points != 1 else ''}]" if check.points is not None else ""
        lines.append(f"== {check.name}{pts}")
        lines.append(render_report_text(report).rstrip() if report is not None else f"  ERROR {error}")
        if not entries[-1].ok:  # what the student types to see the same points again
            lines.append(f"  reproduce: {entries[-1].rerun}")
    result = RunResult(entries=entries, seconds=time.perf_counter() - t0)
    lines.append("")
    lines.append(f"score {result.score:g} / {result.max_score:g}; "
                 f"{sum(1 for e in entries if e.ok)} of {len(entries)} checks passed "
                 f"({result.seconds:.1f} s)")
    return result, "\n".join(lines) + "\n"


def write_step_summary(result: Any) -> None:
    """Append a Markdown table to $GITHUB_STEP_SUMMARY when GitHub Actions set it."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from .report.github import markdown_summary

    with open(target, "a", encoding="utf-8") as fh:
        fh.write(markdown_summary(result) + "\n")


def init_files(ci: str, directory: Path, force: bool) -> list[Path]:
    from .ci_templates import TEMPLATES

    written = []
    for rel, content in TEMPLATES[ci].items():
        p = directory / rel
        if p.exists() and not force:
            from .errors import UsageError

            raise UsageError(f"{p} exists; use --force to overwrite it")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
        if content.startswith("#!"):  # run_autograder, setup.sh: Gradescope executes them
            p.chmod(p.stat().st_mode | 0o111)
        written.append(p)
    return written
