"""The command line: parses flags, calls the library, maps outcomes to exit codes.

No maths here. Heavy imports (sympy, numpy) happen inside the commands, so
`gradcheck --help` stays fast. Exit codes (spec/CLI.md): 0 every check
passed, 1 a check failed, 2 the input could not be used, 3 gradcheck failed.
"""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import typer

from gradcheck_cli import __version__

app = typer.Typer(
    name="gradcheck",
    help="Derive gradients the way the lecture writes them, and check them numerically.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

STATE = {"debug": False}


class DeriveFormat(str, Enum):
    text = "text"
    latex = "latex"
    json = "json"


class Form(str, Enum):
    shape = "shape"
    jacobian = "jacobian"
    both = "both"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    junit = "junit"
    github = "github"
    gradescope = "gradescope"
    classroom = "classroom"
    csv = "csv"  # only the class summary of `run --submissions`


class GraphFormat(str, Enum):
    text = "text"
    dot = "dot"
    mermaid = "mermaid"


class Method(str, Enum):
    auto = "auto"
    central = "central"
    complex = "complex"
    richardson = "richardson"


class Convention(str, Enum):
    either = "either"
    shape = "shape"


class Vectors(str, Enum):
    flat = "flat"
    column = "column"


class CI(str, Enum):
    github = "github"
    classroom = "classroom"
    gradescope = "gradescope"
    precommit = "pre-commit"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gradcheck {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors."),
) -> None:
    """gradcheck: s = uᵀf(Wx+b) → ∂s/∂W = δ xᵀ, δ = u ∘ f′(z), checked numerically."""
    STATE["debug"] = debug


def _set_debug(value: bool) -> None:
    """`gradcheck verify … --debug` works as well as `gradcheck --debug verify …`."""
    if value:
        STATE["debug"] = True


def _note(graph: object) -> None:
    """Which node was taken as the output, when that was a guess among several unused ones."""
    note = getattr(graph, "output_note", None)
    if note:
        sys.stderr.write(f"note: {note}\n")


def _use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _source_of(err: Exception) -> str | None:
    span = getattr(err, "span", None)
    if span is None:
        return None
    try:
        return Path(span.source).read_bytes().decode("utf-8-sig", errors="replace")  # as ir.load places bad bytes
    except (OSError, ValueError):
        return None


def _gradescope_fallback(fmt: str, output: Optional[Path]) -> Callable[[str], None] | None:
    """Gradescope needs a results.json even when the run errs: score 0 and the message."""
    if fmt != "gradescope":
        return None

    def write(message: str) -> None:
        from gradcheck_cli.errors import GradcheckError
        from gradcheck_cli.report import gradescope_error

        try:
            _emit(gradescope_error(message), output, True)
        except GradcheckError:
            pass  # the report cannot be written at all: the message on stderr is all there is
    return write


@contextmanager
def _guard(on_error: Callable[[str], None] | None = None) -> Iterator[None]:
    """GradcheckError → message + exit 2; anything unexpected → exit 3."""
    from gradcheck_cli.errors import GradcheckError, format_error

    try:
        yield
    except typer.Exit:
        raise
    except GradcheckError as e:
        msg = format_error(e, _source_of(e))
        if on_error is not None:
            on_error(msg)
        if _use_color_stderr():
            from rich.console import Console
            from rich.text import Text

            head, _, rest = msg.partition("\n")
            text = Text(head, style="bold red")
            text.append("\n" + rest if rest else "")
            Console(stderr=True, highlight=False, soft_wrap=True).print(text)
        else:
            sys.stderr.write(msg + "\n")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None
    except Exception as e:  # a bug in gradcheck, not in the user's input
        if on_error is not None:
            on_error(f"gradcheck internal error ({type(e).__name__}: {e})")
        if STATE["debug"]:
            traceback.print_exc()
        sys.stderr.write(f"gradcheck internal error ({type(e).__name__}: {e}); please report it with the input "
                         f"file, or rerun with --debug for the traceback\n")
        raise typer.Exit(3) from None


def _use_color_stderr() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def _warn(graph: object) -> None:
    """The file's warnings (`tr(X^2)` read elementwise), on stderr: stdout stays the derivation."""
    from gradcheck_cli.errors import format_error

    for w in getattr(graph, "warnings", []):
        sys.stderr.write(format_error(w, getattr(graph, "text", None)) + "\n")


def _emit(text: str, output: Optional[Path], machine: bool) -> None:
    """Machine formats are written plain, never wrapped by the terminal renderer."""
    if output is not None:
        from gradcheck_cli.report.common import write_atomic

        write_atomic(output, text if text.endswith("\n") else text + "\n")
        return
    if machine or not _use_color():
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    from gradcheck_cli.render.terminal import print_rich

    print_rich(text)


def _split(values: Optional[List[str]]) -> list[str] | None:
    if not values:
        return None
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def _bindings(values: Optional[List[str]]) -> dict[str, str]:
    from gradcheck_cli.errors import UsageError

    out: dict[str, str] = {}
    for v in _split(values) or []:
        if "=" not in v:
            raise UsageError(f"--bind expects NAME=FUNCTION (like f=tanh), got {v!r}")
        k, fn = (s.strip() for s in v.split("=", 1))
        out[k] = fn
    return out


@app.command()
def derive(
    file: Path = typer.Argument(..., help="The .grad file."),
    wrt: Optional[List[str]] = typer.Option(None, "--wrt", help="Variables (comma separated) to differentiate by; default: every parameter."),
    form: Form = typer.Option(Form.both, "--form", help="shape convention, Jacobian form, or both."),
    steps: bool = typer.Option(False, "--steps", help="Show the backward pass node by node (upstream × local = downstream)."),
    fmt: DeriveFormat = typer.Option(DeriveFormat.text, "--format", help="text (unicode), latex, or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of the terminal."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors.", callback=_set_debug),
) -> None:
    """Derive the gradient of the output with respect to every parameter."""
    with _guard():
        from gradcheck_cli.derive.reverse import derive as run_derive
        from gradcheck_cli.lang.graph import load
        from gradcheck_cli.render import RENDERERS

        graph = load(str(file))
        _warn(graph)
        _note(graph)
        d = run_derive(graph, _split(wrt))
        text = RENDERERS[fmt.value](d, form.value, steps)
        _emit(text, output, fmt != DeriveFormat.text)
    raise typer.Exit(0)


@app.command()
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
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors.", callback=_set_debug),
) -> None:
    """Check numerically the derived gradients, every claim, and an implementation."""
    code = 0
    with _guard(_gradescope_fallback(fmt.value, output)):
        from gradcheck_cli.errors import UsageError
        from gradcheck_cli.numeric.verify import VerifyOptions, verify_file

        if sum([full, fast, sample is not None]) > 1:
            raise UsageError("choose one of --full, --fast and --sample N")
        if fmt == ReportFormat.csv:
            raise UsageError("--format csv is the class summary of `gradcheck run --submissions DIR`",
                             hint="verify reports in text, json, junit, github, gradescope or classroom")
        if impl is not None and len(files) > 1:
            raise UsageError("--impl checks one .grad file at a time")
        opts = VerifyOptions(seed=seed, trials=trials, method=method.value, convention=convention.value,
                             bind=_bindings(bind), mode="full" if full else "fast" if fast else
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
        _emit(text_view, output, False)
        if output is not None:
            _emit(text_view, None, False)
        return
    from gradcheck_cli.report import FORMATS
    from gradcheck_cli.report.model import Entry, RunResult

    result = RunResult(entries=[Entry(name=r.file, points=None, visibility="visible", report=r, error=None)
                                for r in reports])
    machine = FORMATS[fmt](result)
    if output is not None:
        _emit(machine, output, True)
        _emit(text_view, None, False)
    else:
        _emit(machine, None, True)


@app.command()
def graph(
    file: Path = typer.Argument(..., help="The .grad file."),
    fmt: GraphFormat = typer.Option(GraphFormat.text, "--format", help="text, dot (Graphviz) or mermaid."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors.", callback=_set_debug),
) -> None:
    """Show the computation graph in topological order with each node's shape."""
    with _guard():
        from gradcheck_cli.lang.graph import load
        from gradcheck_cli.render.graph import render_graph

        g = load(str(file))
        _note(g)
        _emit(render_graph(g, fmt.value), output, fmt != GraphFormat.text)
    raise typer.Exit(0)


class FlowFormat(str, Enum):
    text = "text"
    json = "json"
    svg = "svg"


def _scales(values: Optional[List[str]]) -> dict[str, float]:
    from gradcheck_cli.errors import UsageError

    out: dict[str, float] = {}
    for v in _split(values) or []:
        k, _, factor = (s.strip() for s in v.partition("="))
        try:
            out[k] = float(factor)
        except ValueError:
            raise UsageError(f"--scale expects NAME=FACTOR (like W_hh=3), got {v!r}") from None
    return out


@app.command()
def flow(
    file: Path = typer.Argument(..., help="The .grad file."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random points (as verify samples them)."),
    points: int = typer.Option(16, "--points", "--trials", min=1, help="Random points to measure at."),
    scale: Optional[List[str]] = typer.Option(None, "--scale", help="Multiply a variable at sampling: W_hh=3 (repeatable)."),
    bind: Optional[List[str]] = typer.Option(None, "--bind", help="Bind a generic function: f=tanh (default tanh)."),
    fail_on: Optional[List[str]] = typer.Option(None, "--fail-on", help="Exit 1 if one fires: vanishing,exploding,dead,saturated."),
    fmt: FlowFormat = typer.Option(FlowFormat.text, "--format", help="text (a bar chart), json, or svg (a plot)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (the terminal keeps the text)."),
) -> None:
    """Gradient flow: the gradient's norm at each layer or time step, and vanishing, exploding, saturated, dead."""
    code = 0
    with _guard():
        from gradcheck_cli.errors import UsageError
        from gradcheck_cli.numeric.flow import VERDICTS, FlowOptions
        from gradcheck_cli.numeric.flow import flow as run_flow
        from gradcheck_cli.lang.graph import load
        from gradcheck_cli.render.flow import (
            print_flow_rich,
            render_flow_json,
            render_flow_svg,
            render_flow_text,
        )

        kinds = _split(fail_on) or []
        for k in kinds:
            if k not in VERDICTS:
                raise UsageError(f"--fail-on {k}: not a verdict", hint=f"choose from {','.join(VERDICTS)}")
        report = run_flow(load(str(file), seed=seed), FlowOptions(seed=seed, points=points, scales=_scales(scale),
                                                                  bind=_bindings(bind)))
        text = render_flow_text(report)
        if fmt != FlowFormat.text:
            _emit(render_flow_json(report) if fmt == FlowFormat.json else render_flow_svg(report), output, True)
        elif output is not None:
            _emit(text, output, True)
        if fmt == FlowFormat.text or output is not None:
            if _use_color():
                print_flow_rich(text)
            else:
                _emit(text, None, True)
        code = 1 if report.fired(kinds) else 0
    raise typer.Exit(code)


@app.command()
def run(
    config: Optional[Path] = typer.Argument(None, help="gradcheck.toml or pyproject.toml (default: ./gradcheck.toml, else ./pyproject.toml)."),
    fmt: ReportFormat = typer.Option(ReportFormat.text, "--format", help="text, json, junit, github, gradescope, classroom."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here; the terminal keeps the text."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Parallel checks (0: one per core)."),
    submissions: Optional[Path] = typer.Option(None, "--submissions", help="Grade a class: DIR holds one directory per student, each replacing the config's `submission` directory."),
    reports: Optional[Path] = typer.Option(None, "--reports", help="With --submissions: write each student's JSON report to DIR/<student>.json."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors.", callback=_set_debug),
) -> None:
    """Run every check of a homework config and report them together with a score."""
    if submissions is not None:
        raise typer.Exit(_run_class(config, submissions, fmt, output, jobs, reports))
    code = 0
    with _guard(_gradescope_fallback(fmt.value, output)):
        from gradcheck_cli.errors import UsageError
        from gradcheck_cli.homework.grading import run_config

        if fmt == ReportFormat.csv:
            raise UsageError("--format csv is the class summary of `gradcheck run --submissions DIR`")
        if reports is not None:
            raise UsageError("--reports goes with --submissions DIR (one report per student)")

        result, text = run_config(config, fmt.value, jobs)
        code = 0 if result.ok else 1
        if fmt == ReportFormat.text:
            _emit(text, output, False)
            if output is not None:
                _emit(text, None, False)
        else:
            from gradcheck_cli.report import FORMATS

            _emit(FORMATS[fmt.value](result), output, True)
            if output is not None:
                _emit(text, None, False)
        from gradcheck_cli.homework.grading import write_step_summary

        write_step_summary(result)
    raise typer.Exit(code)


def _run_class(config: Optional[Path], submissions: Path, fmt: ReportFormat, output: Optional[Path], jobs: int,
               reports: Optional[Path]) -> int:
    """`run --submissions DIR`: 0 every student has full marks, 1 someone lost points, 2 unusable input."""
    code = 0
    with _guard():
        from gradcheck_cli.homework.class_run import render_class, run_class, write_reports
        from gradcheck_cli.errors import UsageError

        if fmt not in (ReportFormat.text, ReportFormat.json, ReportFormat.csv):
            raise UsageError(f"--submissions writes a class summary in text, json or csv, not {fmt.value}",
                             hint="--reports DIR adds each student's own JSON report")
        result = run_class(config, submissions, jobs)
        code = 0 if result.ok else 1
        if reports is not None:
            write_reports(result, reports)
        text = render_class(result, fmt.value)
        _emit(text, output, fmt != ReportFormat.text)
        if output is not None:
            _emit(render_class(result, "text"), None, False)
    return code


@app.command()
def init(
    ci: CI = typer.Option(CI.github, "--ci", help="Which system to write files for."),
    directory: Path = typer.Option(Path("."), "--dir", help="Where to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write a homework config and the files a CI system needs."""
    with _guard():
        from gradcheck_cli.homework.grading import init_files

        for path in init_files(ci.value, directory, force):
            typer.echo(f"wrote {path}")
    raise typer.Exit(0)


@app.command()
def ops() -> None:
    """List the op table: every operation with its backward rule."""
    with _guard():
        from gradcheck_cli.symbolic.elementwise import ELEMENTWISE
        from gradcheck_cli.symbolic.ops import OPS

        lines = ["ops (shape convention: each input's gradient has the input's shape)"]
        for name in sorted(OPS):
            r = OPS[name]
            lines.append(f"  {name:<12} {r.doc}")
        lines.append("elementwise functions (f′ from sympy's diff of the one definition)")
        for name in sorted(ELEMENTWISE):
            lines.append(f"  {name:<12} {ELEMENTWISE[name].doc}")
        _emit("\n".join(lines), None, True)
    raise typer.Exit(0)


def main() -> None:
    """Console entry point: exit codes from the commands, 3 for a crash outside them."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as e:  # pragma: no cover - last resort
        if STATE["debug"]:
            traceback.print_exc()
        sys.stderr.write(f"gradcheck internal error ({type(e).__name__}: {e}); please report it\n")
        sys.exit(3)
