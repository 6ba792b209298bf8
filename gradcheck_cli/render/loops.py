"""A loop's closed-form derivation (derive/loops.py) in the notes' notation, in every style.

text: `∂L/∂W_hh = Σ_t δ[t] h[t−1]ᵀ`, `δ[t] = … δ[t+1] …`, `δ[T+1] = 0`;
LaTeX: `\\sum_{t=1}^{T} \\boldsymbol{\\delta}_{t} \\mathbf{h}_{t-1}^\\top`;
dsl: `sum(delta[t] h[t-1]^T for t = 1..T)` and the helper lines
`for t = 1..T:` / `  delta[t] = …` / `delta[T+1] = 0`, which read back as claims
(`claims_dsl`: paste it under the file's graph and `gradcheck verify` checks it
on the unrolled graph).
"""

from __future__ import annotations

import re
from typing import Any

from gradcheck_cli.derive.loop_step import localize, mover
from gradcheck_cli.lang.loops import Index, index_text, step_name
from gradcheck_cli.derive.loops import LoopDerivation, LoopGradient, Recursion, Term
from gradcheck_cli.lang.loops import split_step_index
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.printing import GREEK, Printer, dim_dsl, latex_symbol
from gradcheck_cli.symbolic.table import SUM

STYLES = ("text", "latex", "dsl")


def step_symbol(name: str, shape: Any = None) -> str:
    """LaTeX of a name: h[t-1] → \\mathbf{h}_{t-1}; delta_c[t] → \\boldsymbol{\\delta}^{(c)}_{t};
    x1[t] → \\mathbf{x}_{1,t}; a name without a step as everywhere (latex_symbol)."""
    parts = split_step_index(name)
    if parts is None:
        return latex_symbol(name, shape)
    base, ix = parts
    base, index = base.rstrip("_") or base, index_text(ix)
    head, _, tag = base.partition("_") if base.split("_")[0] in GREEK and "_" in base else (base, "", "")
    core = latex_symbol(head, shape)
    if tag:
        return f"{core}^{{({tag})}}_{{{index}}}"
    if core.endswith("}") and "_{" in core:
        return core[:-1] + f",{index}}}"
    return f"{core}_{{{index}}}"


class StepPrinter(Printer):
    """The shared printer, with a loop's step names set as subscripts in LaTeX."""

    def name(self, n: str, e: Expr) -> str:
        if self.style == "latex" and split_step_index(n) is not None:
            return step_symbol(n, e.shape)
        return super().name(n, e)


def display_name(name: str, style: str) -> str:
    """How a step name reads: text `δ[t+1]`, `h[t−1]`; dsl as written; LaTeX `\\boldsymbol{\\delta}_{t+1}`."""
    if style == "dsl":
        return name
    if style == "latex":
        return step_symbol(name)
    parts = split_step_index(name)
    if parts is None:
        return name
    base, ix = parts
    base = re.sub(r"^delta(?=_|$)", "δ", base.rstrip("_") or base)  # delta_: the file's own delta is a helper
    return f"{base}[{index_text(ix).replace('-', '−')}]"


def fix_text(line: str) -> str:
    """The raw step names of a text line (printed by the shared step rows) as the text style shows them."""
    line = re.sub(r"\bdelta(_\w+)?\[", lambda m: "δ" + (m.group(1) or "") + "[", line)
    return re.sub(r"\[(\w+)-(\d+)\]", r"[\1−\2]", line)


class LoopPrinter:
    """One style's printer of a loop derivation: step variables shown by `display_name`."""

    def __init__(self, d: LoopDerivation, style: str):
        self.d, self.style = d, style
        self.names: dict[int, str] = dict(d.step.post_names) if d.step is not None else {}
        if style == "text":
            for e in all_exprs(d):
                for n in e.walk():
                    if n.op == "var" and n.name and split_step_index(n.name):
                        self.names[id(n)] = display_name(n.name, style)
        self.printer = StepPrinter(style, self.names)

    def expr(self, e: Expr, atom: bool = False) -> str:
        s, prec = self.printer.go(e)
        if atom and prec <= SUM:
            return r"\left(" + s + r"\right)" if self.style == "latex" else f"({s})"
        return s

    def index(self, ix: Index) -> str:
        return index_text(ix).replace("-", "−") if self.style == "text" else index_text(ix)

    def over(self, kind: str, body: str, start: Index, stop: Index) -> str:
        t, a, b = self.d.step.var, self.index(start), self.index(stop)  # type: ignore[union-attr]
        full = start == (None, self.d.step.start) and stop == (self.d.step.length, 0)  # type: ignore[union-attr]
        if self.style == "dsl":
            return f"{kind}({body} for {t} = {a}..{b})"
        if self.style == "latex":
            op = r"\sum" if kind == "sum" else r"\prod"
            return rf"{op}_{{{t}={a}}}^{{{b}}} {body}"
        op = "Σ" if kind == "sum" else "∏"
        return f"{op}_{t} {body}" if full and kind == "sum" else f"{op}_{{{t}={a}}}^{{{b}}} {body}"

    def term(self, term: Term, alone: bool) -> str:
        if term.start is not None and term.stop is not None:
            return self.over("sum", self.expr(term.expr, atom=True), term.start, term.stop)
        return self.expr(term.expr, atom=not alone)

    def gradient(self, g: LoopGradient) -> str:
        if not g.terms:
            return "0"
        return " + ".join(self.term(t, len(g.terms) == 1) for t in g.terms)

    def name(self, name: str, shape: Any = None) -> str:
        if self.style == "latex":
            return step_symbol(name, shape)
        return display_name(name, self.style)

    def signal(self, r: Recursion, ix: Index) -> str:
        return self.name(step_name(r.name, ix))

    def boundary(self, e: Expr) -> str:
        """`δ[T+1] = 0` in text; `zeros(H)` in the DSL, which reads a bare 0 as a scalar."""
        if not alg.is_zero(e):
            return self.expr(e)
        if self.style != "dsl":
            return "0"
        rows, cols = (dim_dsl(x) for x in e.shape)
        return f"zeros({rows})" if cols == "1" else f"zeros({rows}, {cols})"

    def chain(self, state: str, factor: Expr) -> tuple[str, str, str]:
        """(numerator, denominator, product) of ∂h[T]/∂h[k]."""
        s = self.d.step
        assert s is not None
        num, den = self.name(step_name(state, (s.length, 0))), self.name(step_name(state, ("k", 0)))
        return num, den, self.over("prod", self.expr(factor, atom=True), ("k", 1), (s.length, 0))

    def chain_range(self) -> tuple[str, str]:
        """The k of ∂h[T]/∂h[k]: (first, last) = (start − 1, T − 1), from the initial state on."""
        s = self.d.step
        assert s is not None
        return self.index((None, s.start - 1)), self.index((s.length, -1))

    def definitions(self) -> list[tuple[str, str]]:
        """The step's named values: `z[t] = W_hh h[t−1] + W_xh x[t] + b`."""
        s = self.d.step
        assert s is not None
        names = s.step_names()
        shown: dict[int, str] = {}
        for k, v in names.items():
            shown[k] = display_name(v, self.style) if self.style == "text" else v
        rows = []
        for n, e in s.graph.values.items():
            if names.get(id(e)) != n:
                continue
            own = {k: v for k, v in shown.items() if k != id(e)}
            var_names = {id(x): display_name(x.name, self.style) for x in e.walk()
                         if self.style == "text" and x.op == "var" and x.name and split_step_index(x.name)}
            rows.append((self.name(n, e.shape), StepPrinter(self.style, {**var_names, **own}).top(e)))
        for n, e in s.post_values.items():  # the file's values after the loop: p = softmax(W_hy h[T])
            own = {i: v for i, v in self.names.items() if i != id(e)}
            rows.append((self.name(n, e.shape), StepPrinter(self.style, own).top(e)))
        return rows

    def of(self, r: Recursion) -> str:
        """What a signal is the cotangent of: `z[t]`, or the unnamed pre-activation in parentheses."""
        if split_step_index(r.node_name) is not None or r.of_expr is None:
            return self.name(r.node_name)
        inner = self.expr(r.of_expr)
        return rf"\left({inner}\right)" if self.style == "latex" else f"({inner})"


def all_exprs(d: LoopDerivation) -> list[Expr]:
    out: list[Expr] = []
    for r in d.recursions:
        out.append(r.body)
        out.extend(e for _, e in r.boundary)
    for g in d.loop_gradients:
        out.extend(t.expr for t in g.terms)
    out.extend(c.factor for c in d.chains)
    return out


def loss_text(d: LoopDerivation, style: str) -> str:
    s = d.step
    assert s is not None
    pr = LoopPrinter(d, style)
    j = s.graph.output_name.split("[")[0]
    parts = []
    if s.loss is not None and s.kind == "sum":
        parts.append(pr.over("sum", pr.name(step_name(j, (s.var, 0)), s.loss.shape), (None, s.start), (s.length, 0)))
    elif s.loss is not None:
        parts.append(pr.name(step_name(j, (s.length, 0)), s.loss.shape))
    if s.extra is not None:
        parts.append(pr.expr(s.extra, atom=bool(parts)))
    return " + ".join(parts) or "0"


def recursion_rows(d: LoopDerivation, style: str) -> list[tuple[str, str, str]]:
    """(lhs, rhs, range) for every signal: the recursion and its boundary lines."""
    pr = LoopPrinter(d, style)
    rows = []
    for r in d.recursions:
        rng = f"{pr.index(r.start)}..{pr.index(r.stop)}" if style == "dsl" else \
            f"t = {pr.index(r.stop)}, …, {pr.index(r.start)}"
        for ix, e in r.boundary:
            if ix[1] <= 0:  # a last-step boundary comes first, as the recursion starts from it
                rows.append((pr.signal(r, ix), pr.boundary(e), ""))
        rows.append((pr.signal(r, (d.step.var, 0)), pr.expr(r.body), rng))  # type: ignore[union-attr]
        for ix, e in r.boundary:
            if ix[1] > 0:
                rows.append((pr.signal(r, ix), pr.boundary(e), ""))
    return rows


def claims_dsl(d: LoopDerivation) -> str:
    """The whole result as DSL lines to paste under the file's graph: helpers, then claims.

    Every signal's step lines go in ONE `for` block (the unrolled reading runs a block from its end
    when it reads a later step, and the signals of an LSTM read each other), each line after the
    lines of the same step it reads; a signal whose own range is longer gets its extra step as a
    boundary line."""
    s = d.step
    assert s is not None
    pr = LoopPrinter(d, "dsl")
    stop = min((r.stop for r in d.recursions), key=lambda ix: ix[1], default=(s.length, 0))
    lines: list[str] = []
    for r in d.recursions:
        lines += [f"{pr.signal(r, ix)} = {pr.boundary(e)}" for ix, e in r.boundary]
        if r.stop != stop:
            at_end = localize(r.body, {}, mover(s.var, r.stop))
            lines.append(f"{pr.signal(r, r.stop)} = {pr.expr(at_end)}")
    if d.recursions:
        lines.append(f"for {s.var} = {s.start}..{index_text(stop)}:")
        lines += [f"  {pr.signal(r, (s.var, 0))} = {pr.expr(r.body)}" for r in _same_step_order(d)]
    for g in d.loop_gradients:
        if g.every_step:  # ∂L/∂x[t] for every t: a claim inside a loop, as the text prints it
            lines += [f"for {s.var} = {s.start}..{index_text(g.upto or (s.length, 0))}:",
                      f"  claim d{d.output}/d{g.wrt} = {pr.gradient(g)}"]
            continue
        lines.append(f"claim d{d.output}/d{g.wrt} = {pr.gradient(g)}")
    for c in d.chains:  # ∂h[T]/∂h[k] for every k: a claim inside a loop over k (a path alone is no claim)
        if c.held:
            continue
        num, den, prod = pr.chain(c.state, c.factor)
        lines += ["for k = {}..{}:".format(*pr.chain_range()), f"  claim d{num}/d{den} = {prod}"]
    return "\n".join(lines) + "\n"


def _same_step_order(d: LoopDerivation) -> list[Recursion]:
    """The signals, each after the signals of the same step that its line reads (dh[t] before dc[t])."""
    t = d.step.var if d.step is not None else "t"
    reads = {r.name: {n.name.split("[")[0] for n in r.body.walk()
                      if n.op == "var" and n.name and n.name.endswith(f"[{t}]")} for r in d.recursions}
    out: list[Recursion] = []
    todo = list(d.recursions)
    while todo:
        done = {r.name for r in out}
        nxt = next((r for r in todo if reads[r.name] - {r.name} <= done | (reads[r.name] - {x.name for x in todo})),
                   todo[0])
        out.append(nxt)
        todo.remove(nxt)
    return out


def gradient_rows(d: LoopDerivation, style: str) -> list[dict[str, Any]]:
    pr = LoopPrinter(d, style)
    out = []
    for g in d.loop_gradients:
        s = d.step
        assert s is not None
        every = f"for every t = {s.start}..{pr.index(g.upto or (s.length, 0))}" if g.every_step else ""
        out.append({"wrt": g.wrt, "name": pr.name(g.wrt), "shape": g.shape, "rhs": pr.gradient(g),
                    "every": every, "note": g.note, "terms": g.terms,
                    "upto": index_text(g.upto or (s.length, 0))})
    return out
