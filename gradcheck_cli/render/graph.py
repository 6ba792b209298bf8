"""`gradcheck graph`: the DAG in topological order as text, Graphviz DOT or Mermaid."""

from __future__ import annotations

from typing import Any

from gradcheck_cli.lang.graph import Graph, pp_graph
from gradcheck_cli.symbolic.printing import to_dsl
from gradcheck_cli.shapes import shape_str


def _nodes(g: Graph) -> tuple[list[tuple[str, str, str, list[str]]], str]:
    """(id, label, shape, input ids) per node, topological; and the output's id."""
    names = g.names()
    var_names = {id(v.expr): n for n, v in g.variables.items()}
    ids: dict[int, str] = {}
    rows = []
    for k, e in enumerate(g.output.walk()):
        nid = f"n{k}"
        ids[id(e)] = nid
        if id(e) in var_names:
            label = var_names[id(e)]
        elif e.op in ("const", "ones", "zeros", "eye"):
            label = to_dsl(e)
        else:
            op = e.param("name") + "'" * e.param("order") if e.op == "fn" else e.op
            label = f"{names[id(e)]} = {op}" if id(e) in names else op
        rows.append((nid, label, shape_str(e.shape), [ids[id(a)] for a in e.args]))
    return rows, ids[id(g.output)]


def loop_step(g: Graph) -> Any:
    """The generic step of a loop file (derive/loop_build.py), or None: then the graph is shown unrolled."""
    if g.loop is None:
        return None
    from gradcheck_cli.derive.loop_build import step_from_unrolled
    from gradcheck_cli.errors import GradcheckError

    try:
        return step_from_unrolled(g, g.loop.length)
    except GradcheckError:
        return None


def _loop_header(g: Graph, step: Any) -> str:
    J = step.graph.output_name
    parts = [{"sum": f"Σ_{step.var} {J}", "last": J.replace(f"[{step.var}]", f"[{step.length}]")}.get(step.kind, "")]
    parts.append(to_dsl(step.extra) if step.extra is not None else "")
    loss = " + ".join(p for p in parts if p) or "…"
    return (f"a loop over {step.var} = {step.start}..{step.length}: one generic step shown, its inputs the step "
            f"before's state and the step's own inputs; the output {g.output_name} = {loss}")


_FIND = object()  # render_graph's `step` when the caller has not looked for the loop's step


def render_graph(g: Graph, fmt: str, step: Any = _FIND) -> str:
    """`step`: what `loop_step(g)` gave, when the caller has already asked (None: show g unrolled)."""
    step = loop_step(g) if step is _FIND else step
    if step is not None:  # the loop once, not T copies of it
        body = render_graph(step.graph, fmt, None)
        header = _loop_header(g, step)
        if fmt == "text":  # the file's output last, as for any graph (the header says how the steps make it)
            lines = [line for line in body.splitlines() if not line.startswith("output ")]
            return "\n".join([header, *lines, f"output {g.output_name}"])
        if fmt == "dot":
            return body.replace("digraph gradcheck {", f'digraph gradcheck {{\n  label="{header}";', 1)
        return body.replace("flowchart BT", f"flowchart BT\n  %% {header}", 1)
    if fmt == "text":
        return pp_graph(g)
    rows, out = _nodes(g)
    if fmt == "dot":
        lines = ["digraph gradcheck {", "  rankdir=BT;", '  node [shape=box, fontname="Helvetica"];']
        for nid, label, shape, ins in rows:
            esc = label.replace('"', '\\"')
            extra = ", style=bold" if nid == out else ""
            lines.append(f'  {nid} [label="{esc}\\n{shape}"{extra}];')
            lines.extend(f"  {i} -> {nid};" for i in ins)
        lines.append("}")
        return "\n".join(lines)
    lines = ["flowchart BT"]
    for nid, label, shape, ins in rows:
        esc = label.replace('"', "#quot;")
        lines.append(f'  {nid}["{esc}<br/>{shape}"]')
        lines.extend(f"  {i} --> {nid}" for i in ins)
    return "\n".join(lines)
