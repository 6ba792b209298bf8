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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcheck_cli.errors import GradcheckError, format_error
from gradcheck_cli.numeric.result import Report


def _options(check: Any) -> Any:
    from gradcheck_cli.numeric.verify import VerifyOptions

    return VerifyOptions(seed=check.seed, trials=check.trials, method=check.method,
                         convention=check.convention, bind=dict(check.bind), impl=check.impl,
                         vectors=check.vectors, timeout=check.timeout, tolerance=check.tolerance,
                         memory=check.memory)


@dataclass(frozen=True)
class Outcome:
    """What one check gave: a report, or the error text (and its line) saying why there is none.

    required: the claims the handout asks for (names like "claim ds/dW"), which
    are then the graded claims; None when the check names no `question`.
    """

    report: Report | None = None
    error: str | None = None
    line: int | None = None
    required: tuple[str, ...] | None = None


def run_one(check: Any) -> Outcome:
    """One configured check, in a worker: never raises, so one bad submission fails only its own check."""
    from gradcheck_cli.numeric.verify import verify_file

    try:
        problem = submitted_file_problem(check)
        if problem is not None:
            return Outcome(error=problem)
        report = verify_file(str(check.file), _options(check))
        if check.question is None:
            return Outcome(report)
        return _against_handout(check, report)
    except GradcheckError as e:
        src = None
        if e.span is not None:
            try:
                src = Path(e.span.source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                src = None
        return Outcome(error=format_error(e, src), line=e.span.line if e.span else None)
    except Exception as e:  # a crash in one check must not sink the run
        return Outcome(error=f"gradcheck internal error in this check ({type(e).__name__}: {e}); please report it")


def _against_handout(check: Any, report: Report) -> Outcome:
    """The submission must keep the handout's graph, and answer each of its TODO claims."""
    from gradcheck_cli.homework.handout import compare
    from gradcheck_cli.numeric.result import Check
    from gradcheck_cli.report.common import relpath

    cmp = compare(check.question, check.file)
    question = relpath(str(check.question))
    if cmp.difference is not None:
        return Outcome(error=f"{relpath(str(check.file))} does not keep the handout's graph: {cmp.difference} "
                             f"[handout {question}]; claims about another graph score 0")
    for r in cmp.missing:
        report.checks.append(Check(name=r.name, kind="claim", ok=False, status="fail", file=str(check.file),
                                   wrt=r.den, message=f"missing claim d{r.num}/d{r.den}: the handout asks for it "
                                                      f"({question} line {r.line})"))
    return Outcome(report, required=tuple(r.name for r in cmp.required))


def submitted_file_problem(check: Any) -> str | None:
    """Why a file the check reads cannot be graded, or None.

    Inside the config's `submission` directory a file must, once every symlink
    is resolved, be a regular file that is still inside that directory (not
    `../reference/hw.py`, not /dev/zero) and at most `max_file_kb` large. A file
    outside it (the teacher's) is only checked for being there.
    """
    from gradcheck_cli.report.common import relpath

    paths = [Path(check.file)] + ([Path(check.impl.rpartition(":")[0])] if check.impl else [])
    for path in paths:
        shown = relpath(str(path))
        base = check.submission
        if base is None or not _inside(path, Path(base)):
            continue
        try:
            real = path.resolve(strict=True)
            base_real = Path(base).resolve(strict=True)
        except FileNotFoundError:
            if path.is_symlink():
                return f"{shown} is a symbolic link to a file that does not exist"
            continue  # not submitted: verify says "no such file" (missing_files = "fail")
        except (OSError, RuntimeError) as e:  # a symlink loop
            return f"{shown} cannot be opened: it is a symbolic link loop ({getattr(e, 'strerror', None) or e})"
        if not _inside(real, base_real):
            return (f"{shown} is a symbolic link to {real}, outside the submission directory "
                    f"{relpath(str(base))}: only files the student wrote are graded")
        import stat

        st = real.stat()
        if not stat.S_ISREG(st.st_mode):
            return f"{shown} is not a regular file (it is a device, a directory or a pipe): only files are graded"
        if st.st_size > check.max_file_kb * 1024:
            return (f"{shown} is {st.st_size / 1024:.0f} KB, more than the {check.max_file_kb:g} KB a submitted "
                    f"file may have (max_file_kb in the config)")
    return None


def _inside(path: Path, base: Path) -> bool:
    try:
        path.relative_to(base)
        return True
    except ValueError:
        return False


def rerun_command(check: Any) -> str:
    """`gradcheck verify …` with the options of a configured check: what a student types to reproduce it."""
    import shlex

    from gradcheck_cli.report.common import relpath

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


def _worker_init() -> None:
    """A pool worker dies with the grader (PR_SET_PDEATHSIG): a killed `run` leaves no workers behind."""
    from gradcheck_cli.numeric.sandbox import die_with_parent

    die_with_parent()


def run_checks(checks: list[Any], jobs: int = 0) -> list[Outcome]:
    jobs = jobs or os.cpu_count() or 1
    jobs = max(1, min(jobs, len(checks)))
    if jobs == 1 or len(checks) <= 1:
        return [run_one(c) for c in checks]
    # Import the checker (numpy, sympy, the grammar) before the pool starts: forked
    # workers inherit it, so start-up is paid once, not once per worker.
    from gradcheck_cli.numeric import verify  # noqa: F401

    with ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init) as pool:
        return list(pool.map(run_one, checks, chunksize=max(1, min(8, len(checks) // (4 * jobs)))))


def entry(check: Any, outcome: Outcome) -> Any:
    from gradcheck_cli.report.model import Entry

    return Entry(name=check.name, points=check.points, visibility=check.visibility, report=outcome.report,
                 error=outcome.error, partial=check.partial, file=str(check.file), line=outcome.line,
                 rerun=rerun_command(check), required=outcome.required)


def run_config(path: Path | None, fmt: str = "text", jobs: int = 0) -> tuple[Any, str]:
    """Load the config, run every check, return (RunResult, text report)."""
    from gradcheck_cli.homework.config import load_config
    from gradcheck_cli.report.model import RunResult

    cfg = load_config(path)
    t0 = time.perf_counter()
    outcomes = run_checks(list(cfg.checks), jobs)
    entries = [entry(check, out) for check, out in zip(cfg.checks, outcomes)]
    result = RunResult(entries=entries, seconds=time.perf_counter() - t0)
    return result, render_text(result)


def render_text(result: Any) -> str:
    from gradcheck_cli.render.report_text import render_report_text

    lines = []
    for e in result.entries:
        pts = f" [{e.points:g} point{'s' if e.points != 1 else ''}]" if e.points is not None else ""
        lines.append(f"== {e.name}{pts}")
        lines.append(render_report_text(e.report).rstrip() if e.report is not None else f"  ERROR {e.error}")
        if not e.ok:  # what the student types to see the same points again
            lines.append(f"  reproduce: {e.rerun}")
    lines.append("")
    lines.append(f"score {result.score:g} / {result.max_score:g}; "
                 f"{sum(1 for e in result.entries if e.ok)} of {len(result.entries)} checks passed "
                 f"({result.seconds:.1f} s)")
    return "\n".join(lines) + "\n"


def write_step_summary(result: Any) -> None:
    """Append a Markdown table to $GITHUB_STEP_SUMMARY when GitHub Actions set it."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from gradcheck_cli.report.github import markdown_summary

    with open(target, "a", encoding="utf-8") as fh:
        fh.write(markdown_summary(result) + "\n")


def init_files(ci: str, directory: Path, force: bool) -> list[Path]:
    from gradcheck_cli.homework.ci_templates import TEMPLATES

    written = []
    for rel, content in TEMPLATES[ci].items():
        p = directory / rel
        if p.exists() and not force:
            from gradcheck_cli.errors import UsageError

            raise UsageError(f"{p} exists; use --force to overwrite it")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
        if content.startswith("#!"):  # run_autograder, setup.sh: Gradescope executes them
            p.chmod(p.stat().st_mode | 0o111)
        written.append(p)
    return written
