"""Loops built with the algebra, twice: one generic step (for derive/loops.py) and unrolled over a
concrete T (for the ordinary derive), from the same cell; and the numbers of a closed form.

A cell is `cell(P, prev, x) -> {name: Expr}` (its last entries the carried states, as `carry`
names them); `loss(P, values, y) -> J`. The closed form is evaluated by running its recursion
from the boundary inwards at numbers taken from the unrolled forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import gradcheck_cli.render  # noqa: F401  (the renderers file themselves)
from gradcheck_cli.derive.loop_step import State, StepGraph, localize
from gradcheck_cli.derive.loops import LoopDerivation, bptt
from gradcheck_cli.lang.graph import Graph, VarInfo, parse
from gradcheck_cli.numeric.evaluate import Context, evaluate
from gradcheck_cli.shapes import using
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr

Cell = Callable[[dict[str, Expr], dict[str, Expr], Expr], dict[str, Expr]]
Loss = Callable[[dict[str, Expr], dict[str, Expr], "Expr | None"], Expr]


@dataclass
class Loop:
    header: str  # dims and the shared parameters, as a .grad file declares them (plus D, C, H dims)
    cell: Cell
    loss: Loss
    carry: tuple[str, ...] = ("h",)
    kind: str = "sum"
    onehot: bool = False  # a one-hot target y[t] of size C
    extra: Callable[[dict[str, Expr]], Expr] | None = None


def _base(loop: Loop) -> Graph:
    return parse(loop.header + "\n_s = 0\n", "loop.grad")


def _col(g: Graph, dim: str) -> tuple[Any, Any]:
    from gradcheck_cli.shapes import Dim
    return (Dim.of(dim), Dim.of(1))


def _vinfo(e: Expr, kind: str = "vector") -> VarInfo:
    return VarInfo(e.name or "", kind, e.param("qualifiers") or (), None, e)  # type: ignore[arg-type]


def step_graph(loop: Loop) -> tuple[StepGraph, Graph]:
    base = _base(loop)
    with using(base.env):
        P = {n: v.expr for n, v in base.variables.items()}
        prev = {c: alg.var(f"{c}[t-1]", _col(base, "H")) for c in loop.carry}
        x = alg.var("x[t]", _col(base, "D"))
        y = alg.var("y[t]", _col(base, "C"), ("onehot",)) if loop.onehot else None
        vals = loop.cell(P, prev, x)
        J = loop.loss(P, vals, y)
        values = {f"{n}[t]": e for n, e in vals.items()}
        values["J[t]"] = J
        variables = dict(base.variables)
        for e in [*prev.values(), x] + ([y] if y is not None else []):
            variables[e.name] = _vinfo(e)  # type: ignore[index]
        g = Graph("loop.grad", "", base.env, variables, {}, values, {}, "J[t]")
        states = [State(c, prev[c], vals[c], f"{c}[0]") for c in loop.carry]
        extra = loop.extra(P) if loop.extra else None
        inputs = [x] + ([y] if y is not None else [])
        return StepGraph(g, states, inputs, list(base.params()), J, loop.kind, extra=extra), base


def unrolled(loop: Loop, T: int) -> Graph:
    """The loop spelled out: variables h[0], x[1..T] (y[1..T]); values z[k], h[k], J[k] and L."""
    base = _base(loop)
    with using(base.env):
        P = {n: v.expr for n, v in base.variables.items()}
        variables = dict(base.variables)
        cur = {c: alg.var(f"{c}[0]", _col(base, "H")) for c in loop.carry}
        for e in cur.values():
            variables[e.name] = _vinfo(e)  # type: ignore[index]
        values: dict[str, Expr] = {}
        Js = []
        for k in range(1, T + 1):
            x = alg.var(f"x[{k}]", _col(base, "D"))
            variables[x.name] = _vinfo(x)  # type: ignore[index]
            y = alg.var(f"y[{k}]", _col(base, "C"), ("onehot",)) if loop.onehot else None
            if y is not None:
                variables[y.name] = _vinfo(y, "onehot")  # type: ignore[index]
            vals = loop.cell(P, cur, x)
            J = loop.loss(P, vals, y)
            values.update({f"{n}[{k}]": e for n, e in vals.items()})
            Js.append(values.setdefault(f"J[{k}]", J))
            cur = {c: vals[c] for c in loop.carry}
        L = Js[-1] if loop.kind == "last" else _sum(Js)
        if loop.extra:
            L = alg.add(L, loop.extra(P))
        values["L"] = L
        return Graph("loop.grad", "", base.env, variables, {}, values, {}, "L")


def _sum(es: list[Expr]) -> Expr:
    out = es[0]
    for e in es[1:]:
        out = alg.add(out, e)
    return out


def closed_form(loop: Loop) -> LoopDerivation:
    step, base = step_graph(loop)
    return bptt(step, base)


def point(g: Graph, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for n, v in g.variables.items():
        shape = g.env.concrete(v.expr.shape)
        if v.kind == "onehot":
            a = np.zeros(shape)
            a[rng.integers(shape[0]), 0] = 1.0
        else:
            a = rng.normal(size=shape) * 0.7
        out[n] = a
    return out


def forward(g: Graph, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every named value of the unrolled graph (h[3], z[3], …) and the variables."""
    ctx = Context(g, values)
    out = dict(values)
    cache: dict[int, np.ndarray] = {}
    for n, e in g.values.items():
        out[n] = evaluate(e, ctx, cache=cache)
        cache[id(e)] = out[n]
    return out


def _at(e: Expr, step: StepGraph, k: int, T: int) -> Expr:
    """e at the concrete step k (t ↦ k) of a loop of T steps (T ↦ T)."""
    def move(ix: Any) -> Any:
        if ix[0] == step.var:
            return None, k + ix[1]
        if ix[0] == step.length:
            return None, T + ix[1]
        return ix
    return localize(e, {}, move)


def evaluate_closed(d: LoopDerivation, g: Graph, numbers: dict[str, np.ndarray], T: int) -> dict[str, np.ndarray]:
    """The closed form's gradients at these numbers: the recursion run from its boundary inwards."""
    step = d.step
    assert step is not None
    env = dict(numbers)
    sizes = dict(g.env.sizes, **{step.length: T})
    ctx = Context(g, env)
    ctx.sizes = sizes

    def ev(e: Expr) -> np.ndarray:
        ctx.values = env
        return np.asarray(evaluate(e, ctx), dtype=float)

    with using(g.env):
        for r in d.recursions:
            for ix, e in r.boundary:
                k = T + ix[1] if ix[0] is not None else ix[1]
                env[f"{r.name}[{k}]"] = np.zeros(g.env.concrete(r.shape)) if alg.is_zero(e) else ev(_at(e, step, k, T))
        for k in range(T, 0, -1):
            todo = [r for r in d.recursions if f"{r.name}[{k}]" not in env]
            for _ in range(len(todo) + 1):
                for r in list(todo):
                    try:
                        env[f"{r.name}[{k}]"] = ev(_at(r.body, step, k, T))
                        todo.remove(r)
                    except KeyError:
                        pass
            assert not todo, f"signals {[r.name for r in todo]} at t = {k} depend on each other"
        out: dict[str, np.ndarray] = {}
        for lg in d.loop_gradients:
            if lg.every_step:
                upto = T + lg.upto[1] if lg.upto else T
                for k in range(1, upto + 1):
                    name = lg.wrt.replace("[t]", f"[{k}]")
                    out[name] = sum(ev(_at(t.expr, step, k, T)) for t in lg.terms)
                continue
            total: Any = 0.0
            for t in lg.terms:
                if t.start is not None and t.stop is not None:
                    a = t.start[1] if t.start[0] is None else T + t.start[1]
                    b = T + t.stop[1]
                    for k in range(a, b + 1):
                        total = total + ev(_at(t.expr, step, k, T))
                else:
                    total = total + ev(_at(t.expr, step, T, T))
            out[lg.wrt.replace(f"[{step.length}]", f"[{T}]")] = total
        return out
