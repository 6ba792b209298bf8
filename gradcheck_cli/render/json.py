"""The JSON of spec/CLI.md: stable (sorted keys), shapes as lists, numerator layout."""

from __future__ import annotations

import json
from typing import Any

from gradcheck_cli.derive.reverse import Derivation
from gradcheck_cli.symbolic.printing import Printer
from gradcheck_cli.render.common import equations, signal_lines, step_rows


def derivation_dict(d: Derivation, form: str = "both", steps: bool = False) -> dict[str, Any]:
    dsl = Printer("dsl", d.file_names())  # dsl strings use only the file's names: δ is written out
    texts = {e.wrt: e for e in equations(d, "text")}
    latexes = {e.wrt: e for e in equations(d, "latex")}
    grads = []
    for g in d.gradients:
        t, l = texts[g.wrt], latexes[g.wrt]
        entry: dict[str, Any] = {
            "wrt": g.wrt,
            "shape": [str(g.wrt_expr.shape[0]), str(g.wrt_expr.shape[1])],
            "shape_convention": None,
            "jacobian": None,
        }
        if g.shape_form is not None and form in ("shape", "both"):
            entry["shape_convention"] = {"dsl": dsl.top(g.shape_form),
                                         "text": t.shape_form, "latex": l.shape_form}
        if g.jacobian is not None and form in ("jacobian", "both"):
            entry["jacobian"] = {
                "dsl": dsl.top(g.jacobian), "text": t.jacobian, "latex": l.jacobian,
                "chain": [{"numerator": a, "denominator": b, "text": f} for a, b, f in t.chain],
                "note": g.jacobian_note,
            }
        if g.skipped:
            entry["skipped"] = g.skipped
        grads.append(entry)
    out: dict[str, Any] = {
        "file": d.graph.source,
        "output": d.output,
        "layout": "numerator",
        "gradients": grads,
        "signals": [{"name": n, "text": txt} for n, txt in signal_lines(d, "text")],
    }
    if steps:
        out["steps"] = step_rows(d, "text")
    return out


def render_json(d: Derivation, form: str = "both", steps: bool = False) -> str:
    return json.dumps(derivation_dict(d, form, steps), indent=2, sort_keys=True, ensure_ascii=False)
