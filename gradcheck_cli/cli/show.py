"""The commands that show a graph: `derive`, `graph`, `flow` and `ops`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from gradcheck_cli.cli.common import (
    DeriveFormat,
    FlowFormat,
    Form,
    GraphFormat,
    bindings,
    emit,
    guard,
    note,
    set_debug,
    split,
    use_color,
    warn,
)


def derive(
    file: Path = typer.Argument(..., help="The .grad file."),
    wrt: Optional[List[str]] = typer.Option(None, "--wrt", help="Variables (comma separated) to differentiate by; default: every parameter."),
    form: Form = typer.Option(Form.both, "--form", help="shape convention, Jacobian form, or both."),
    steps: bool = typer.Option(False, "--steps", help="Show the backward pass node by node (upstream × local = downstream)."),
    fmt: DeriveFormat = typer.Option(DeriveFormat.text, "--format", help="text (unicode), latex, or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of the terminal."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors.", callback=set_debug),
) -> None:
    """Derive the gradient of the output with respect to every parameter."""
    with guard():
        from gradcheck_cli.derive.from_file import derive_path
        from gradcheck_cli.render import RENDERERS

        graph, d = derive_path(str(file), split(wrt))
        warn(graph)
        note(graph)
        text = RENDERERS[fmt.value](d, form.value, steps)
        emit(text, output, fmt != DeriveFormat.text)
    raise typer.Exit(0)


def graph(
    file: Path = typer.Argument(..., help="The .grad file."),
    fmt: GraphFormat = typer.Option(GraphFormat.text, "--format", help="text, dot (Graphviz) or mermaid."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks of internal errors.", callback=set_debug),
) -> None:
    """Show the computation graph in topological order with each node's shape."""
    with guard():
        from gradcheck_cli.derive.from_file import LOOP_STEPS
        from gradcheck_cli.lang.graph import load
        from gradcheck_cli.render.graph import loop_step, render_graph

        g = load(str(file), steps=LOOP_STEPS)  # a loop is shown as one step, the same at every T
        step = loop_step(g)
        if g.short_of is not None and step is None:  # no step to cut out: the loop unrolled at its own T
            g = load(str(file))
        note(g)
        emit(render_graph(g, fmt.value, step), output, fmt != GraphFormat.text)
    raise typer.Exit(0)


def _scales(values: Optional[List[str]]) -> dict[str, float]:
    from gradcheck_cli.errors import UsageError

    out: dict[str, float] = {}
    for v in split(values) or []:
        k, _, factor = (s.strip() for s in v.partition("="))
        try:
            out[k] = float(factor)
        except ValueError:
            raise UsageError(f"--scale expects NAME=FACTOR (like W_hh=3), got {v!r}") from None
    return out


def _fail_kinds(fail_on: Optional[List[str]]) -> list[str]:
    from gradcheck_cli.errors import UsageError
    from gradcheck_cli.numeric.flow import VERDICTS

    kinds = split(fail_on) or []
    for k in kinds:
        if k not in VERDICTS:
            raise UsageError(f"--fail-on {k}: not a verdict", hint=f"choose from {','.join(VERDICTS)}")
    return kinds


def _show_flow(report: object, fmt: FlowFormat, output: Optional[Path]) -> None:
    """The machine format to the file (or stdout), the bar chart to the terminal."""
    from gradcheck_cli.render.flow import print_flow_rich, render_flow_json, render_flow_svg, render_flow_text

    text = render_flow_text(report)
    if fmt != FlowFormat.text:
        emit(render_flow_json(report) if fmt == FlowFormat.json else render_flow_svg(report), output, True)
    elif output is not None:
        emit(text, output, True)
    if fmt == FlowFormat.text or output is not None:
        if use_color():
            print_flow_rich(text)
        else:
            emit(text, None, True)


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
    with guard():
        from gradcheck_cli.lang.graph import load
        from gradcheck_cli.numeric.flow import FlowOptions
        from gradcheck_cli.numeric.flow import flow as run_flow

        kinds = _fail_kinds(fail_on)
        report = run_flow(load(str(file), seed=seed), FlowOptions(seed=seed, points=points, scales=_scales(scale),
                                                                  bind=bindings(bind)))
        _show_flow(report, fmt, output)
        code = 1 if report.fired(kinds) else 0
    raise typer.Exit(code)


def ops() -> None:
    """List the op table: every operation with its backward rule."""
    with guard():
        from gradcheck_cli.symbolic.elementwise import ELEMENTWISE
        from gradcheck_cli.symbolic.ops import OPS

        lines = ["ops (shape convention: each input's gradient has the input's shape)"]
        for name in sorted(OPS):
            r = OPS[name]
            lines.append(f"  {name:<12} {r.doc}")
        lines.append("elementwise functions (f′ from sympy's diff of the one definition)")
        for name in sorted(ELEMENTWISE):
            lines.append(f"  {name:<12} {ELEMENTWISE[name].doc}")
        emit("\n".join(lines), None, True)
    raise typer.Exit(0)
