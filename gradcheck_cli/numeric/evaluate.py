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

    # -- incremental evaluation: one changed entry of W changes one row of W x ----------
    def _plan(self) -> tuple[Expr, str, np.ndarray, np.ndarray] | None:
        """(consumer C, "left"|"right", the other factor's value, C at x0) when wrt's only
        use is one side of a matmul whose other side does not depend on wrt."""
        if hasattr(self, "_plan_cache"):
            return self._plan_cache  # type: ignore[no-any-return]
        users = [n for n in self.out.walk() if any(a is self.wrt for a in n.args)]
        plan = None
        if len(users) == 1 and users[0].op == "matmul" and users[0].args[0] is not users[0].args[1]:
            c = users[0]
            side = "left" if c.args[0] is self.wrt else "right"
            other = c.args[1] if side == "left" else c.args[0]
            if id(other) in self.cache:
                memo = dict(self.cache)
                memo[id(self.wrt)] = self.x0
                plan = (c, side, self.cache[id(other)], evaluate(c, self.ctx, None, memo))
        self._plan_cache = plan
        return plan

    @property
    def bytes_per_point(self) -> int:
        plan = self._plan()
        return int(16 * (plan[3].size if plan is not None else self.x0.size))

    def entries(self, flat_idx: np.ndarray, new_vals: np.ndarray) -> np.ndarray:
        """The output with x0.flat[flat_idx[j]] replaced by new_vals[j], for every j.

        With a matmul consumer only that product's changed row (or column) is
        rebuilt: O(k·n) memory instead of O(k·P) copies of the parameter.
        """
        k = len(flat_idx)
        plan = self._plan()
        if plan is None:
            stack = np.empty((k, *self.x0.shape), dtype=np.result_type(new_vals, self.x0))
            stack[...] = self.x0
            stack.reshape(k, -1)[np.arange(k), flat_idx] = new_vals
            return self.scalar(stack) if self.out.shape == (Dim.of(1), Dim.of(1)) else self(stack)
        c, side, other, c0 = plan
        delta = new_vals - self.x0.reshape(-1)[flat_idx]
        rows, cols = np.unravel_index(flat_idx, self.x0.shape)
        stack = np.empty((k, *c0.shape), dtype=np.result_type(delta, c0))
        stack[...] = c0
        if side == "left":  # (W + δ e_i e_jᵀ) B = W B + δ e_i B[j, :]
            stack[np.arange(k), rows, :] += delta[:, None] * other[cols, :]
        else:  # A (W + δ e_i e_jᵀ) = A W + δ A[:, i] e_jᵀ
            stack[np.arange(k), :, cols] += delta[:, None] * other[:, rows].T
        self.evaluations += k
        memo = dict(self.cache)
        memo[id(c)] = stack
        v = evaluate(self.out, self.ctx, None, memo)
        return v.reshape(k) if self.out.shape == (Dim.of(1), Dim.of(1)) else v.reshape(k, -1)


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
        elif r > 1 and c > 1:
            # a weight matrix scaled like an initialisation (variance 1/fan-in), so W x stays O(1)
            # and the units are not saturated: a saturated tanh makes every gradient ~0
            x = rng.standard_normal((r, c)) / np.sqrt(c)
        else:
            x = rng.standard_normal((r, c))
        out[name] = x
    return out
