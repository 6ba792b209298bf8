"""What every renderer shows, computed once: the equations of a derivation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from gradcheck_cli.derive.reverse import Derivation, Gradient, Step
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.printing import Printer, render
from gradcheck_cli.shapes import is_scalar


@dataclass
class Equation:
    wrt: str
    shape: tuple[str, str]
    shape_form: str | None
    jacobian: str | None
    chain: list[tuple[str, str, str]] = field(default_factory=list)
    note: str = ""
    skipped: str = ""


def display_names(d: Derivation) -> dict[int, str]:
    return d.names()


def equations(d: Derivation, style: str) -> list[Equation]:
    # one printer for every gradient: a chain or δ shared by many gradients prints once
    pr = Printer(style, display_names(d))
    out = []
    for g in d.gradients:
        shape = (str(g.wrt_expr.shape[0]), str(g.wrt_expr.shape[1]))
        sf = pr.top(g.shape_form) if g.shape_form is not None else None
        jac = pr.top(g.jacobian) if g.jacobian is not None else None
        chain = [(a, b, pr.top(f)) for a, b, f in g.chain]
        out.append(Equation(g.wrt, shape, sf, jac, chain, g.jacobian_note, g.skipped))
    return out


class _Except(Mapping[int, str]):
    """`names` without one key, without copying: a copy per row made a 4,000-line file quadratic."""

    def __init__(self, names: Mapping[int, str], key: int):
        self.names, self.key = names, key

    def __getitem__(self, k: int) -> str:
        if k == self.key:
            raise KeyError(k)
        return self.names[k]

    def __iter__(self) -> Iterator[int]:
        return (k for k in self.names if k != self.key)

    def __len__(self) -> int:
        return len(self.names) - (self.key in self.names)


def signal_lines(d: Derivation, style: str) -> list[tuple[str, str]]:
    names = display_names(d)
    lines = []
    for name, e in d.signal_exprs:
        lines.append((name, render(e, style, _Except(names, id(e)))))
    return lines


def definitions(d: Derivation, style: str) -> list[tuple[str, str]]:
    """The file's named intermediates on the output's path, as `z = W x + b`."""
    g = d.graph
    names = g.names()
    roots = [g.values[d.output]] + [e for gr in d.gradients for e in (gr.shape_form, gr.jacobian) if e is not None]
    in_graph = _reachable(roots)
    rows = []
    for n, e in g.values.items():
        if id(e) in in_graph and names.get(id(e)) == n:
            rows.append((n, render(e, style, _Except(names, id(e)))))
    return rows


def _reachable(roots: list[Expr]) -> set[int]:
    """Ids of every node under any root, each visited once: the gradients of a deep net
    share their chains, so walking each one separately would cost the sum of their sizes."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        e = stack.pop()
        if id(e) not in seen:
            seen.add(id(e))
            stack.extend(a for a in e.args if id(a) not in seen)
    return seen


def node_label(d: Derivation, node: Expr, style: str, names: Mapping[int, str] | None = None) -> str:
    names = display_names(d) if names is None else names  # step_rows passes its own: one walk, not one per row
    if id(node) in names:
        if style == "latex":
            from gradcheck_cli.symbolic.printing import latex_symbol
            return latex_symbol(names[id(node)], node.shape)
        return names[id(node)]
    return render(node, style, names)


def step_rows(d: Derivation, style: str) -> list[dict[str, object]]:
    names = display_names(d)
    rows = []
    for k, s in enumerate(d.steps, 1):
        rows.append({
            "index": k,
            "node": node_label(d, s.node, style, names),
            "definition": render(s.node, style, _Except(names, id(s.node))),
            "op": s.node.op,
            "gate": s.gate,
            "copy_adds": s.fan_in > 1,
            "upstream": render(s.upstream, style, names),
            "inputs": [
                {"input": node_label(d, c.input, style, names),
                 "local": render(c.local, style, names) if c.local is not None else None,
                 "downstream": render(c.downstream, style, names)}
                for c in s.contributions
            ],
        })
    return rows


def output_is_scalar(d: Derivation) -> bool:
    return is_scalar(d.graph.values[d.output].shape)


__all__ = ["Equation", "equations", "signal_lines", "definitions", "step_rows", "Gradient", "Step"]
