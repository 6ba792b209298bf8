"""Graph → numpy: the forward pass every numeric check reads.

Evaluation walks the same expression DAG the derivation uses, with each op's
`numpy` rule from the op table. Values may be stacks (k, r, c) of matrices
(many perturbed inputs at once) and complex (complex step). Nodes that do
not depend on a perturbed input are evaluated once and reused, which is what
makes per-entry finite differences cheap: perturbing W never recomputes a
branch that does not read W.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy as sp

from ..algebra import dim_symbol
from ..elementwise import ELEMENTWISE
from ..expr import Expr
from ..ir import Graph
from ..ops import OPS
from ..shapes import Dim, Shape


class Context:
    """Everything an op's numpy rule may ask: sizes, variable values, bindings."""

    def __init__(self, graph: Graph, values: Mapping[str, np.ndarray], bind: Mapping[str, str] | None = None):
        self.graph = graph
        self.values = dict(values)
        self.sizes = graph.env.sizes
        self.dim_subs = {sp.Symbol(n, positive=True, integer=True): v for n, v in self.sizes.items()}
        self.bind = dict(bind or {})

    def value_of(self, name: str) -> np.ndarray:
        return self.values[name]

    def size(self, d: Dim) -> int:
        return d.size(self.sizes)

    def concrete(self, shape: Shape) -> tuple[int, int]:
        return (self.size(shape[0]), self.size(shape[1]))

    def resolve_function(self, name: str) -> str:
        bound = self.bind.get(name) or self.graph.functions.get(name)
        if bound is None or bound not in ELEMENTWISE:
            raise KeyError(f"function {name} is not bound to a concrete function")
        return bound


def evaluate(expr: Expr, ctx: Context, overrides: Mapping[int, np.ndarray] | None = None,
             cache: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """The value of `expr`; `overrides` replaces nodes by values (an intermediate
    treated as an input), `cache` holds values known not to change."""
    memo: dict[int, np.ndarray] = dict(cache) if cache else {}
    if overrides:
        memo.update(overrides)
    for node in expr.walk():
        if id(node) in memo:
            continue
        memo[id(node)] = _apply(node, ctx, [memo[id(a)] for a in node.args])
    return memo[id(expr)]


def _apply(node: Expr, ctx: Context, args: list[np.ndarray]) -> np.ndarray:
    rule = OPS[node.op]
    params = dict(node.params)
    if node.op == "var":
        return np.asarray(ctx.value_of(params["name"]))
    if node.op == "const":
        return np.array([[float(sp.sympify(params["value"]).subs(ctx.dim_subs))]])
    if node.op == "fn":
        return rule.numpy(ctx, *args, **params)
    if node.op == "pow":
        k = params["k"]
        kf = float(k)
        return args[0] ** (int(kf) if kf.is_integer() else kf)
    return rule.numpy(ctx, *args, **params)


def depends_on(expr: Expr, targets: set[int]) -> set[int]:
    """Ids of nodes in expr's DAG whose value changes when a target changes."""
    dep: set[int] = set()
    for node in expr.walk():
        if id(node) in targets or any(id(a) in dep for a in node.args):
            dep.add(id(node))
    return dep


class Function:
    """x ↦ value of `out` with the node `wrt` set to x: what finite differences perturb.

    Everything that does not depend on `wrt` is computed once at construction.
    Accepts a stack (k, r, c) of inputs as well (batched evaluation).
    """

    def __init__(self, out: Expr, wrt: Expr, ctx: Context):
        self.out, self.wrt, self.ctx = out, wrt, ctx
        dep = depends_on(out, {id(wrt)})
        self.cache: dict[int, np.ndarray] = {}
        for node in out.walk():
            if id(node) in dep or id(node) in self.cache:
                continue
            self.cache[id(node)] = _apply(node, ctx, [self.cache[id(a)] for a in node.args])
        base = ctx.values.get(wrt.name) if wrt.op == "var" else None
        self.x0 = np.asarray(base if base is not None else evaluate(wrt, ctx), dtype=float)
        self.evaluations = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.evaluations += 1 if np.ndim(x) <= 2 else int(np.prod(np.shape(x)[:-2]))
        memo = dict(self.cache)
        memo[id(self.wrt)] = x
        return evaluate(self.out, self.ctx, None, memo)

    def scalar(self, x: np.ndarray) -> Any:
        """For a scalar output: a Python number (real or complex)."""
        v = self(x)
        return v.reshape(v.shape[:-2]) if np.ndim(v) > 2 else v.reshape(()).item()


def sample_inputs(graph: Graph, rng: np.random.Generator, positive: bool = False) -> dict[str, np.ndarray]:
    """One random point: shapes from the dims; one-hot, symmetric and SPD as declared."""
    out: dict[str, np.ndarray] = {}
    for name, v in graph.variables.items():
        r, c = (v.expr.shape[0].size(graph.env.sizes), v.expr.shape[1].size(graph.env.sizes))
        q = v.qualifiers
        if v.kind == "onehot":
            x = np.zeros((r, 1))
            x[rng.integers(r), 0] = 1.0
        elif "spd" in q:
            m = rng.standard_normal((r, r))
            x = m @ m.T / r + np.eye(r)
        elif "symmetric" in q:
            m = rng.standard_normal((r, r))
            x = (m + m.T) / 2
        elif positive:
            x = rng.uniform(0.5, 2.0, (r, c))
        else:
            x = rng.standard_normal((r, c))
        out[name] = x
    return out
