"""A LaTeX fragment that compiles with amsmath: aligned equations, \\mathbf, \\odot, ^\\top."""

from __future__ import annotations

from typing import Any

from gradcheck_cli.derive.reverse import Derivation
from gradcheck_cli.symbolic.printing import latex_symbol
from gradcheck_cli.render.common import definitions, equations, output_is_scalar, signal_lines, step_rows


def _partial(d: Derivation, num: str, den: str) -> str:
    """∂h/∂z with each name set as the equations set it: bold unless the file says it is a scalar."""
    return rf"\frac{{\partial {latex_symbol(num, _shape(d, num))}}}{{\partial {latex_symbol(den, _shape(d, den))}}}"


def _shape(d: Derivation, name: str) -> Any:
    g = d.graph
    if name in g.values:
        return g.values[name].shape
    if name in g.variables:
        return g.variables[name].expr.shape
    return None


def render_latex(d: Derivation, form: str = "both", steps: bool = False, fragment: bool = True,
                 inline: bool = False) -> str:
    out = d.output
    rows: list[str] = []
    for n, rhs in definitions(d, "latex"):
        rows.append(rf"{latex_symbol(n, d.graph.values[n].shape)} &= {rhs}")
    for n, rhs in signal_lines(d, "latex"):
        rows.append(rf"{latex_symbol(n)} &= {rhs}")
    scalar = output_is_scalar(d)
    for eq in equations(d, "latex"):
        lhs = _partial(d, out, eq.wrt)
        if eq.skipped:
            continue
        if scalar and form in ("shape", "both") and eq.shape_form is not None:
            rows.append(rf"{lhs} &= {eq.shape_form}")
        if form in ("jacobian", "both") and eq.jacobian is not None and (eq.jacobian != eq.shape_form or not scalar):
            chain = ""
            if eq.chain:
                chain = r" \cdot ".join(_partial(d, a, b) for a, b, _ in eq.chain) + " = "
            tag = r" && \text{(Jacobian)}" if scalar else ""
            rows.append(rf"{lhs} &= {chain}{eq.jacobian}{tag}")
    body = "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
    if inline:
        return body
    header = f"% gradcheck derive {d.graph.source} (needs \\usepackage{{amsmath,amssymb}})\n"
    text = header + "\\[\n" + body + "\n\\]\n"
    if steps and d.steps:
        text += "\n% backward pass\n\\begin{enumerate}\n"
        for row in step_rows(d, "latex"):
            gate = f" ({row['gate']})" if row["gate"] else ""
            head = row["node"] if row["node"] == row["definition"] else f"{row['node']} = {row['definition']}"
            text += f"  \\item ${head}${gate}: upstream ${row['upstream']}$"
            for inp in row["inputs"]:  # type: ignore[attr-defined]
                text += f"; to ${inp['input']}$: ${inp['downstream']}$"
            text += "\n"
        text += "\\end{enumerate}\n"
    if not fragment:
        text = ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                + text + "\\end{document}\n")
    return text
