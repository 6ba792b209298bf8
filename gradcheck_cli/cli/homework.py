"""The homework commands: `run` (one config, or a class with --submissions) and `init`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from gradcheck_cli.cli.common import CI, ReportFormat, emit, gradescope_fallback, guard, set_debug


def run(
    config: Optional[Path] = typer.Argument(None, help="gradcheck.toml or pyproject.toml (default: ./gradcheck.toml, else ./pyproject.toml)."),
    fmt: ReportFormat = typer.Option(ReportFormat.text, "--format", help="text, json, junit, github, gradescope, classroom."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here; the terminal keeps the text."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Parallel checks (0: one per core)."),
    submissions: Optional[Path] = typer.Option(None, "--submissions", help="Grade a class: DIR holds one directory per student, each replacing the config's `submission` directory."),
    reports: Optional[Path] = typer.Option(None, "--reports", help="With --submissions: write each student's JSON report to DIR/<student>.json."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors.", callback=set_debug),
) -> None:
    """Run every check of a homework config and report them together with a score."""
    if submissions is not None:
        raise typer.Exit(_run_class(config, submissions, fmt, output, jobs, reports))
    code = 0
    with guard(gradescope_fallback(fmt.value, output)):
        from gradcheck_cli.errors import UsageError
        from gradcheck_cli.homework.grading import run_config, write_step_summary

        if fmt == ReportFormat.csv:
            raise UsageError("--format csv is the class summary of `gradcheck run --submissions DIR`")
        if reports is not None:
            raise UsageError("--reports goes with --submissions DIR (one report per student)")

        result, text = run_config(config, fmt.value, jobs)
        code = 0 if result.ok else 1
        if fmt == ReportFormat.text:
            emit(text, output, False)
        else:
            from gradcheck_cli.report import FORMATS

            emit(FORMATS[fmt.value](result), output, True)
        if output is not None:
            emit(text, None, False)
        write_step_summary(result)
    raise typer.Exit(code)


def _run_class(config: Optional[Path], submissions: Path, fmt: ReportFormat, output: Optional[Path], jobs: int,
               reports: Optional[Path]) -> int:
    """`run --submissions DIR`: 0 every student has full marks, 1 someone lost points, 2 unusable input."""
    code = 0
    with guard():
        from gradcheck_cli.errors import UsageError
        from gradcheck_cli.homework.class_run import render_class, run_class, write_reports

        if fmt not in (ReportFormat.text, ReportFormat.json, ReportFormat.csv):
            raise UsageError(f"--submissions writes a class summary in text, json or csv, not {fmt.value}",
                             hint="--reports DIR adds each student's own JSON report")
        result = run_class(config, submissions, jobs)
        code = 0 if result.ok else 1
        if reports is not None:
            write_reports(result, reports)
        text = render_class(result, fmt.value)
        emit(text, output, fmt != ReportFormat.text)
        if output is not None:
            emit(render_class(result, "text"), None, False)
    return code


def init(
    ci: CI = typer.Option(CI.github, "--ci", help="Which system to write files for."),
    directory: Path = typer.Option(Path("."), "--dir", help="Where to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write a homework config and the files a CI system needs."""
    with guard():
        from gradcheck_cli.homework.grading import init_files

        for path in init_files(ci.value, directory, force):
            typer.echo(f"wrote {path}")
    raise typer.Exit(0)
