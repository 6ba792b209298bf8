"""Unicode text, as a textbook writes it; rich adds colour on a terminal only."""

from __future__ import annotations

from gradcheck_cli.derive.reverse import Derivation
from gradcheck_cli.render.common import definitions, equations, output_is_scalar, signal_lines, step_rows


def render_plain(d: Derivation, form: str = "both", steps: bool = False) -> str:
    out = d.output
    lines: list[str] = []
    g = d.graph
    oshape = g.values[out].shape
    from gradcheck_cli.shapes import shape_str

    lines.append(f"{g.source}: output {out} ({shape_str(oshape)})")
    defs = definitions(d, "text")
    one_line = "  where " + ",  ".join(f"{n} = {rhs}" for n, rhs in defs)
    if defs and len(one_line) <= 100:
        lines.append(one_line)
    elif defs:  # a long graph (an LSTM step) reads better one definition a line
        lines.extend(f"  {'where' if k == 0 else '     '} {n} = {rhs}" for k, (n, rhs) in enumerate(defs))
    sig = signal_lines(d, "text")
    for k, (name, rhs) in enumerate(sig):
        lines.append(f"  {'with ' if k == 0 else '     '} {name} = {rhs}")
    lines.append("")
    scalar = output_is_scalar(d)
    for eq in equations(d, "text"):
        head = f"∂{out}/∂{eq.wrt}"
        rows, cols = (f"({x})" if " " in x else x for x in eq.shape)
        lines.append(f"{head}   ({rows}×{cols})")
        if eq.skipped:
            lines.append(f"  skipped: {eq.skipped}")
            lines.append("")
            continue
        if scalar and form in ("shape", "both") and eq.shape_form is not None:
            lines.append(f"  shape convention   {head} = {eq.shape_form}")
        if (form in ("jacobian", "both") or not scalar) and eq.jacobian is not None:
            chain = ""
            if eq.chain:
                chain = " · ".join(f"∂{a}/∂{b}" for a, b, _ in eq.chain) + " = " + \
                    " · ".join(f"[{f}]" for _, _, f in eq.chain) + " = "
            label = "Jacobian form     " if scalar else "Jacobian          "
            lines.append(f"  {label} {head} = {chain}{eq.jacobian}")
        lines.append("")
    if steps:
        lines.extend(render_steps(d))
    return "\n".join(lines).rstrip() + "\n"


def _wrap(label: str) -> str:
    """∂(W x + b), not ∂W x + b: an unnamed node's label is an expression."""
    simple = label.replace("ᵀ", "").replace("_", "").isalnum()
    return label if simple or (label.startswith("(") and label.endswith(")")) else f"({label})"


def render_steps(d: Derivation) -> list[str]:
    lines = ["backward pass (reverse topological order; downstream = local × upstream)"]
    for row in step_rows(d, "text"):
        gate = f"   [{row['gate']}]" if row["gate"] else ""
        node = row["node"]
        head = f"{row['index']:>3}. {node} = {row['definition']}" if node != row["definition"] else \
            f"{row['index']:>3}. {node}"
        lines.append(head + gate)
        fan = "   (copy adds: the sum of its consumers' gradients)" if row["copy_adds"] else ""
        lines.append(f"       upstream    ∂{d.output}/∂{_wrap(node)} = {row['upstream']}{fan}")
        for inp in row["inputs"]:  # type: ignore[attr-defined]
            local = f"local ∂{_wrap(node)}/∂{_wrap(inp['input'])} = {inp['local']};  " if inp["local"] else ""
            lines.append(f"       → {inp['input']}:  {local}downstream {inp['downstream']}")
    return lines
