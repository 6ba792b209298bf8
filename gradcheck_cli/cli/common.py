"""What every command shares: the typer app, the flag choices, the error guard, the output helpers.

Imports stay light (typer and the standard library); the library is imported
inside the helpers that need it, so `gradcheck --help` loads no sympy or numpy.
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


class FlowFormat(str, Enum):
    text = "text"
    json = "json"
    svg = "svg"


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


def set_debug(value: bool) -> None:
    """`gradcheck verify … --debug` works as well as `gradcheck --debug verify …`."""
    if value:
        STATE["debug"] = True


def note(graph: object) -> None:
    """Which node was taken as the output, when that was a guess among several unused ones."""
    text = getattr(graph, "output_note", None)
    if text:
        sys.stderr.write(f"note: {text}\n")


def warn(graph: object) -> None:
    """The file's warnings (`tr(X^2)` read elementwise), on stderr: stdout stays the derivation."""
    from gradcheck_cli.errors import format_error

    for w in getattr(graph, "warnings", []):
        sys.stderr.write(format_error(w, getattr(graph, "text", None)) + "\n")


def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _use_color_stderr() -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ


def _source_of(err: Exception) -> str | None:
    span = getattr(err, "span", None)
    if span is None:
        return None
    try:
        return Path(span.source).read_bytes().decode("utf-8-sig", errors="replace")  # as lang.graph.load places bad bytes
    except (OSError, ValueError):
        return None


def gradescope_fallback(fmt: str, output: Optional[Path]) -> Callable[[str], None] | None:
    """Gradescope needs a results.json even when the run errs: score 0 and the message."""
    if fmt != "gradescope":
        return None

    def write(message: str) -> None:
        from gradcheck_cli.errors import GradcheckError
        from gradcheck_cli.report import gradescope_error

        try:
            emit(gradescope_error(message), output, True)
        except GradcheckError:
            pass  # the report cannot be written at all: the message on stderr is all there is
    return write


def _print_error(msg: str) -> None:
    """A GradcheckError's message on stderr, its first line bold red on a colour terminal."""
    if not _use_color_stderr():
        sys.stderr.write(msg + "\n")
        return
    from rich.console import Console
    from rich.text import Text

    head, _, rest = msg.partition("\n")
    text = Text(head, style="bold red")
    text.append("\n" + rest if rest else "")
    Console(stderr=True, highlight=False, soft_wrap=True).print(text)


@contextmanager
def guard(on_error: Callable[[str], None] | None = None) -> Iterator[None]:
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
        _print_error(msg)
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


def emit(text: str, output: Optional[Path], machine: bool) -> None:
    """Machine formats are written plain, never wrapped by the terminal renderer."""
    if output is not None:
        from gradcheck_cli.report.common import write_atomic

        write_atomic(output, text if text.endswith("\n") else text + "\n")
        return
    if machine or not use_color():
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    from gradcheck_cli.render.terminal import print_rich

    print_rich(text)


def split(values: Optional[List[str]]) -> list[str] | None:
    """Repeated and comma-separated flag values, as one list (None when none were given)."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def bindings(values: Optional[List[str]]) -> dict[str, str]:
    """`--bind f=tanh` → {"f": "tanh"}."""
    from gradcheck_cli.errors import UsageError

    out: dict[str, str] = {}
    for v in split(values) or []:
        if "=" not in v:
            raise UsageError(f"--bind expects NAME=FUNCTION (like f=tanh), got {v!r}")
        k, fn = (s.strip() for s in v.split("=", 1))
        out[k] = fn
    return out

