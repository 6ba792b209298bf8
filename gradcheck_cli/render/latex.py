"""A LaTeX fragment that compiles with amsmath: aligned equations, \\mathbf, \\odot, ^\\top."""

from __future__ import annotations

from ..derive import Derivation
from ..printing import latex_symbol
from .common import definitions, equations, output_is_scalar, signal_lines, step_rows


def _partial(num: str, den: str) -> str:
    return rf"\frac{{\partial {latex_symbol(num, None) if len(num) > 1 else num}}}{{\partial {latex_symbol(den)}}}"


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
        lhs = _partial(out, eq.wrt)
        if eq.skipped:
            continue
        if scalar and form in ("shape", "both") and eq.shape_form is not None:
            rows.append(rf"{lhs} &= {eq.shape_form}")
        if form in ("jacobian", "both") and eq.jacobian is not None and (eq.jacobian != eq.shape_form or not scalar):
            chain = ""
            if eq.chain:
                chain = r" \cdot ".join(_partial(a, b) for a, b, _ in eq.chain) + " = "
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
