"""`gradcheck verify`: the numerical check of one or more .grad files, in the report formats."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, List, Optional

import typer

from gradcheck_cli.cli.common import (
    Convention,
    Method,
    ReportFormat,
    Vectors,
    bindings,
    emit,
    gradescope_fallback,
    guard,
    set_debug,
)


def _check_flags(files: List[Path], impl: Optional[str], full: bool, fast: bool, sample: Optional[int],
                 fmt: ReportFormat) -> None:
    from gradcheck_cli.errors import UsageError

    if sum([full, fast, sample is not None]) > 1:
        raise UsageError("choose one of --full, --fast and --sample N")
    if fmt == ReportFormat.csv:
        raise UsageError("--format csv is the class summary of `gradcheck run --submissions DIR`",
                         hint="verify reports in text, json, junit, github, gradescope or classroom")
    if impl is not None and len(files) > 1:
        raise UsageError("--impl checks one .grad file at a time")


def verify(
    files: List[Path] = typer.Argument(..., help="The .grad file(s)."),
    impl: Optional[str] = typer.Option(None, "--impl", help="Check a numpy implementation: PATH.py:FUNC."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random points (printed in every report)."),
    trials: int = typer.Option(2, "--trials", min=1, help="Random points per check."),
    method: Method = typer.Option(Method.auto, "--method", help="auto: complex step where every op is analytic, central elsewhere."),
    convention: Convention = typer.Option(Convention.either, "--convention", help="'shape' rejects claims in Jacobian (row) form."),
    bind: Optional[List[str]] = typer.Option(None, "--bind", help="Bind a generic function: f=tanh (repeatable)."),
    full: bool = typer.Option(False, "--full", help="Check every entry, however large."),
    fast: bool = typer.Option(False, "--fast", help="Random directions only (plus localisation of failures)."),
    sample: Optional[int] = typer.Option(None, "--sample", min=1, help="Check only N random entries per gradient."),
    vectors: Vectors = typer.Option(Vectors.flat, "--vectors", help="How --impl receives vectors: flat (m,) or column (m, 1)."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds allowed for an --impl call."),
    memory: float = typer.Option(2048.0, "--memory", help="MB of memory for the --impl process (0: no limit)."),
    fmt: ReportFormat = typer.Option(ReportFormat.text, "--format", help="text, json, junit, github, gradescope, classroom."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here; the terminal keeps the text."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors.", callback=set_debug),
) -> None:
    """Check numerically the derived gradients, every claim, and an implementation."""
    code = 0
    with guard(gradescope_fallback(fmt.value, output)):
        from gradcheck_cli.numeric.verify import VerifyOptions, verify_file

        _check_flags(files, impl, full, fast, sample, fmt)
        opts = VerifyOptions(seed=seed, trials=trials, method=method.value, convention=convention.value,
                             bind=bindings(bind), mode="full" if full else "fast" if fast else
                             ("sample" if sample else "auto"), sample=sample, impl=impl,
                             vectors=vectors.value, timeout=timeout, memory=memory if memory > 0 else None,
                             progress=_progress_bar())
        reports = [verify_file(str(f), opts) for f in files]
        code = 0 if all(r.ok for r in reports) else 1
        _report(reports, fmt.value, output)
    raise typer.Exit(code)


def _progress_bar() -> Callable[[int, int, str], None] | None:
    """A rich progress bar on stderr, only on a real terminal and only once checking has
    taken a second (quick runs stay quiet)."""
    if not sys.stderr.isatty():
        return None
    import time

    start = time.perf_counter()
    state: dict[str, object] = {}

    def tick(done: int, total: int, name: str) -> None:
        if "bar" not in state:
            if time.perf_counter() - start < 1.0 or done >= total:
                return
            from rich.console import Console
            from rich.progress import Progress

            bar = Progress(console=Console(stderr=True), transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task("checking", total=total)
        bar, task = state["bar"], state["task"]
        bar.update(task, completed=done, description=name)  # type: ignore[attr-defined]
        if done >= total:
            bar.stop()  # type: ignore[attr-defined]
    return tick


def _report(reports: list, fmt: str, output: Optional[Path]) -> None:  # type: ignore[type-arg]
    from gradcheck_cli.render.report_text import render_report_text

    text_view = "\n".join(render_report_text(r) for r in reports)
    if fmt == "text":
        emit(text_view, output, False)
        if output is not None:
            emit(text_view, None, False)
        return
    from gradcheck_cli.report import FORMATS
    from gradcheck_cli.report.model import Entry, RunResult

    result = RunResult(entries=[Entry(name=r.file, points=None, visibility="visible", report=r, error=None)
                                for r in reports])
    machine = FORMATS[fmt](result)
    if output is not None:
        emit(machine, output, True)
        emit(text_view, None, False)
    else:
        emit(machine, None, True)
