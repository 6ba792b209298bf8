"""`gradcheck derive` on a loop file: text, LaTeX and JSON of the closed form (render/loops.py prints).

JSON (stable keys, sorted): besides the keys of every derivation (`file`, `output`, `layout`,
`gradients`, `signals`), a loop's derivation has
  "loop":       {"var": "t", "start": "1", "stop": "T", "loss": "sum" | "last", "states": ["h"],
                 "loss_text": "Σ_t J[t]", "step": [{"name": "z[t]", "text": …, "dsl": …}]}
  "recursions": [{"name": "delta", "of": "z[t]", "state": "h", "shape": [rows, cols],
                  "for": {"var": "t", "start": "1", "stop": "T"}, "dsl" / "text" / "latex": the body,
                  "boundary": [{"index": "T+1", "dsl": "0", "text": "0", "latex": "0"}]}]
  "chains":     [{"numerator": "h[T]", "denominator": "h[k]", "held_fixed": [the other carried states: an LSTM's
                  ∂c[T]/∂c[k] is the cell path alone, h held fixed], "dsl" / "text" / "latex": the product}]
  "claims_dsl": the helper lines and claims that read back under the file's graph
and each gradient's `shape_convention` carries `terms`: [{"kind": "sum" | "at" | "plain",
"start", "stop", "at", "dsl", "text", "latex"}], its `dsl` the whole sum
(`sum(delta[t] h[t-1]^T for t = 1..T)`); `every_step` is true for a per-step input (∂L/∂x[t]).
"""

from __future__ import annotations

import json
from typing import Any

from gradcheck_cli.lang.loops import index_text
from gradcheck_cli.derive.loops import LoopDerivation
from gradcheck_cli.render.loops import (LoopPrinter, claims_dsl, fix_text, gradient_rows, loss_text,
                                        recursion_rows)
from gradcheck_cli.shapes import SCALAR, shape_str


def _dims(shape: Any) -> str:
    rows, cols = (str(x) for x in shape)
    rows, cols = (f"({x})" if " " in x else x for x in (rows, cols))
    return f"{rows}×{cols}"


def render_loop_text(d: LoopDerivation, form: str = "both", steps: bool = False) -> str:
    s = d.step
    assert s is not None
    pr = LoopPrinter(d, "text")
    g = d.graph
    lines = [f"{g.source}: output {d.output} (scalar), a loop over t = {s.start}..{s.length}: "
             "back-propagation through time, derived on one generic step"]
    for k, (n, rhs) in enumerate(pr.definitions()):
        lines.append(f"  {'step ' if k == 0 else '     '} {n} = {rhs}")
    lines.append(f"  loss  {d.output} = {loss_text(d, 'text')}")
    for k, (lhs, rhs, rng) in enumerate(recursion_rows(d, "text")):
        tail = f"   for {rng}" if rng else ""
        lines.append(f"  {'with ' if k == 0 else '     '} {lhs} = {rhs}{tail}")
    for r in d.recursions:
        what = "what step t sends back" if r.node_name == f"{r.state}[t-1]" else "the error signal of step t"
        lines.append(f"        ({pr.signal(r, (s.var, 0))} = ∂{d.output}/∂{pr.of(r)}, {what})")
    lines.append("")
    if form in ("shape", "both"):
        for row in gradient_rows(d, "text"):
            head = f"∂{d.output}/∂{row['name']}"
            extra = "   " + row["every"] if row["every"] else ""
            note = f"   ({row['note']})" if row["note"] else ""
            lines.append(f"{head}   ({_dims(row['shape'])}){extra}")
            lines.append(f"  shape convention   {head} = {row['rhs']}{note}")
            lines.append("")
    if form in ("jacobian", "both"):
        for c in d.chains:
            num, den, prod = pr.chain(c.state, c.factor)
            first, last = pr.chain_range()
            lines.append(f"∂{num}/∂{den}   ({_dims((c.factor.shape[0], c.factor.shape[1]))})   "
                         f"for every k = {first}..{last}")
            held = f"   (along {c.state} alone, {', '.join(c.held)} held fixed)" if c.held else ""
            lines.append(f"  Jacobian form      ∂{num}/∂{den} = {prod}{held}")
            lines.append("")
    if steps:
        lines.extend(_steps_text(d))
    return "\n".join(lines).rstrip() + "\n"


def _steps_text(d: LoopDerivation) -> list[str]:
    from gradcheck_cli.render.text import render_steps

    s = d.step
    assert s is not None
    later = ", ".join(f"F_{st.name} = ∂{d.output}/∂{st.name}[t] through step t+1" for st in s.states)
    head = [f"one step's backward pass (step t; {later})",
            f"it repeats for every t, from t = {s.length} down to t = {s.start}"]
    return head + [fix_text(x) for x in render_steps(d)[1:]]


def render_loop_latex(d: LoopDerivation, form: str = "both", steps: bool = False, fragment: bool = True,
                      inline: bool = False) -> str:
    s = d.step
    assert s is not None
    pr = LoopPrinter(d, "latex")
    rows = [f"{n} &= {rhs}" for n, rhs in pr.definitions()]
    rows.append(rf"{pr.name(d.output, SCALAR)} &= {loss_text(d, 'latex')}")
    for lhs, rhs, rng in recursion_rows(d, "latex"):
        tail = " && " + rng.replace("…", r"\dots") if rng else ""  # this signal's own range: t = T-1, \dots, 1
        rows.append(f"{lhs} &= {rhs}{tail}")
    if form in ("shape", "both"):
        for row in gradient_rows(d, "latex"):
            lhs = rf"\frac{{\partial {pr.name(d.output, SCALAR)}}}{{\partial {row['name']}}}"
            tail = rf" && t = {s.start}, \dots, {row['upto']}" if row["every"] else ""
            rows.append(f"{lhs} &= {row['rhs']}{tail}")
    if form in ("jacobian", "both"):
        for c in d.chains:
            num, den, prod = pr.chain(c.state, c.factor)
            first, last = pr.chain_range()
            held = rf", along ${pr.name(c.state, c.factor.shape)}$ alone" if c.held else ""
            rows.append(rf"\frac{{\partial {num}}}{{\partial {den}}} &= {prod} && k = {first}, \dots, {last} "
                        rf"\quad \text{{(Jacobian{held})}}")
    body = "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
    if inline:
        return body
    text = f"% gradcheck derive {d.graph.source} (needs \\usepackage{{amsmath,amssymb}})\n\\[\n{body}\n\\]\n"
    if not fragment:
        text = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + text + \
            "\\end{document}\n"
    return text


def loop_dict(d: LoopDerivation, form: str = "both", steps: bool = False) -> dict[str, Any]:
    s = d.step
    assert s is not None
    styles = ("dsl", "text", "latex")
    prs = {st: LoopPrinter(d, st) for st in styles}
    recs = {st: recursion_rows(d, st) for st in styles}
    grads = {st: gradient_rows(d, st) for st in styles}
    out: dict[str, Any] = {
        "file": d.graph.source, "output": d.output, "layout": "numerator", "signals": [],
        "loop": {"var": s.var, "start": str(s.start), "stop": s.length, "loss": s.kind,
                 "states": [st.name for st in s.states], "loss_text": loss_text(d, "text"),
                 "step": [{"name": n, "text": t, "dsl": dd} for (n, dd), (_, t)
                          in zip(prs["dsl"].definitions(), prs["text"].definitions())]},
        "recursions": [], "gradients": [], "chains": [], "claims_dsl": claims_dsl(d),
    }
    for r in d.recursions:
        body = {st: next(x[1] for x in recs[st] if x[2] and x[0] == prs[st].signal(r, (s.var, 0)))
                for st in styles}
        out["recursions"].append({
            "name": r.name, "of": r.node_name, "state": r.state, "shape": [str(x) for x in r.shape],
            "for": {"var": s.var, "start": index_text(r.start), "stop": index_text(r.stop)}, **body,
            "boundary": [{"index": index_text(ix), **{st: prs[st].boundary(e) for st in styles}}
                         for ix, e in r.boundary]})
    for k, g in enumerate(d.loop_gradients):
        entry: dict[str, Any] = {"wrt": g.wrt, "shape": [str(x) for x in g.shape], "every_step": g.every_step,
                                 "upto": index_text(g.upto) if g.upto else None, "note": g.note, "jacobian": None, "shape_convention": None}
        if form in ("shape", "both"):
            entry["shape_convention"] = {st: grads[st][k]["rhs"] for st in styles}
            entry["shape_convention"]["terms"] = [_term(prs, t) for t in g.terms]
        out["gradients"].append(entry)
    for c in d.chains:
        parts = {st: prs[st].chain(c.state, c.factor) for st in styles}
        out["chains"].append({"numerator": parts["dsl"][0], "denominator": parts["dsl"][1],
                              "held_fixed": list(c.held), **{st: parts[st][2] for st in styles}})
    if steps:
        from gradcheck_cli.render.common import step_rows

        out["steps"] = step_rows(d, "text")
    return out


def _term(prs: dict[str, LoopPrinter], t: Any) -> dict[str, Any]:
    kind = "sum" if t.start is not None else "at" if t.at is not None else "plain"
    return {"kind": kind, "start": index_text(t.start) if t.start else None,
            "stop": index_text(t.stop) if t.stop else None, "at": index_text(t.at) if t.at else None,
            **{st: pr.expr(t.expr) for st, pr in prs.items()}}


def render_loop_json(d: LoopDerivation, form: str = "both", steps: bool = False) -> str:
    return json.dumps(loop_dict(d, form, steps), indent=2, sort_keys=True, ensure_ascii=False)


__all__ = ["render_loop_text", "render_loop_latex", "render_loop_json", "loop_dict", "shape_str"]
