"""`gradcheck graph`: the DAG in topological order as text, Graphviz DOT or Mermaid."""

from __future__ import annotations

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


def render_graph(g: Graph, fmt: str) -> str:
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
