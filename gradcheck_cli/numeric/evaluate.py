"""Graph → numpy: the forward pass every numeric check reads.

Evaluation walks the same expression DAG the derivation uses, with each op's
`numpy` rule from the op table. Values may be stacks (k, r, c) of matrices
(many perturbed inputs at once) and complex (complex step). Nodes that do
not depend on a perturbed input are evaluated once and reused, which is what
makes per-entry finite differences cheap: perturbing W never recomputes a
branch that does not read W. `Function.entries` goes further for the
perturbations of single entries: the changed row is followed through the
graph while the change stays in one row or column (`_Rows`), so one entry of
W costs the work of one row of W x, not of the whole forward pass.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping

import numpy as np

from gradcheck_cli.symbolic.algebra import dim_symbol
from gradcheck_cli.symbolic.elementwise import ELEMENTWISE
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.symbolic.ops import OPS
from gradcheck_cli.shapes import Dim, Shape


class Context:
    """Everything an op's numpy rule may ask: sizes, variable values, bindings."""

    def __init__(self, graph: Graph, values: Mapping[str, np.ndarray], bind: Mapping[str, str] | None = None):
        self.graph = graph
        self.values = dict(values)
        self.sizes = graph.env.sizes
        self.bind = dict(bind or {})

    @property
    def dim_subs(self) -> dict[Any, int]:
        """The sizes as sympy substitutions, for a constant that involves one (mean: 1/n)."""
        return {sp.Symbol(n, positive=True, integer=True): v for n, v in self.sizes.items()}

    def number(self, value: Any) -> float:
        """A constant's value at these sizes (sympy only for one that involves a size)."""
        if isinstance(value, (int, float, Fraction)):
            return float(value)
        return float(sp.sympify(value).subs(self.dim_subs))

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
        stable = stable_value(node, memo)
        memo[id(node)] = stable if stable is not None else apply_op(node, ctx, [memo[id(a)] for a in node.args])
    return memo[id(expr)]


def _is_one(e: Expr) -> bool:
    return e.op == "const" and e.param("value") == 1


def _fn_of(e: Expr, name: str) -> bool:
    return e.op == "fn" and e.param("name") == name and e.param("order") == 0


def _one_minus(e: Expr) -> Expr | None:
    """x when e is 1 − x (built as sub(1, x) or add(1, −x))."""
    if e.op == "sub" and _is_one(e.args[0]):
        return e.args[1]
    if e.op == "add":
        for one, other in ((e.args[0], e.args[1]), (e.args[1], e.args[0])):
            if _is_one(one) and other.op == "neg":
                return other.args[0]
    return None


def stable_value(node: Expr, memo: Mapping[int, np.ndarray]) -> np.ndarray | None:
    """tanh′ and σ′ as written (1 − tanh², σ(1 − σ)), evaluated without cancellation.

    At a saturated unit tanh(z) rounds to ±1 and `1 − tanh²` to exactly 0 while the
    true value (sech² z, ~1e-18 at z = 20) is what complex step measures: a correct
    gradient would fail. sech² z = 1/cosh² z and σ(z)σ(−z) have no cancellation.
    """
    sq = _one_minus(node)
    if sq is not None:
        if sq.op == "pow" and sq.param("k") == 2 and _fn_of(sq.args[0], "tanh") and id(sq.args[0].args[0]) in memo:
            z = memo[id(sq.args[0].args[0])]
            with np.errstate(over="ignore"):
                return 1.0 / np.cosh(z) ** 2
    if node.op == "mul":
        for s, rest in ((node.args[0], node.args[1]), (node.args[1], node.args[0])):
            if _fn_of(s, "sigmoid") and _one_minus(rest) is s and id(s.args[0]) in memo and id(s) in memo:
                z = memo[id(s.args[0])]
                return memo[id(s)] * ELEMENTWISE["sigmoid"].numpy(-z)  # type: ignore[misc]
    return None


def apply_op(node: Expr, ctx: Context, args: list[np.ndarray]) -> np.ndarray:
    rule = OPS[node.op]
    params = dict(node.params)
    if node.op == "var":
        return np.asarray(ctx.value_of(params["name"]))
    if node.op == "const":
        return np.array([[ctx.number(params["value"])]])
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
        self.constant = id(out) not in dep  # a declared variable the output never uses: ∂ = 0
        self.cache: dict[int, np.ndarray] = {}
        for node in out.walk():
            if id(node) in dep or id(node) in self.cache:
                continue
            self.cache[id(node)] = apply_op(node, ctx, [self.cache[id(a)] for a in node.args])
        base = ctx.values.get(wrt.name) if wrt.op == "var" else None
        self.x0 = np.asarray(base if base is not None else evaluate(wrt, ctx), dtype=float)
        self.evaluations = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.evaluations += 1 if np.ndim(x) <= 2 else int(np.prod(np.shape(x)[:-2]))
        memo = dict(self.cache)
        memo[id(self.wrt)] = x
        out = evaluate(self.out, self.ctx, None, memo)
        if self.constant:  # the same value for every x, in x's kind (complex step expects complex)
            out = np.asarray(out, dtype=np.result_type(out, x))
            if np.ndim(x) > 2:
                out = np.broadcast_to(out, (*np.shape(x)[:-2], *np.shape(out)[-2:])).copy()
        return out

    def scalar(self, x: np.ndarray) -> Any:
        """For a scalar output: a Python number (real or complex)."""
        v = self(x)
        return v.reshape(v.shape[:-2]) if np.ndim(v) > 2 else v.reshape(()).item()

    # -- incremental evaluation: one changed entry of W changes one row of W x ----------
    def _base(self) -> dict[int, np.ndarray]:
        """Every node's value at x0 (the nodes that do not depend on wrt are the cache)."""
        if not hasattr(self, "_base_cache"):
            memo = dict(self.cache)
            memo[id(self.wrt)] = self.x0
            with np.errstate(all="ignore"):
                for node in self.out.walk():
                    if id(node) not in memo:
                        memo[id(node)] = apply_op(node, self.ctx, [memo[id(a)] for a in node.args])
            self._base_cache = memo
        return self._base_cache  # type: ignore[no-any-return]

    @property
    def bytes_per_point(self) -> int:
        """Memory one perturbed point takes in `entries` (complex step, every intermediate kept)."""
        if not hasattr(self, "_bytes_cache"):
            sizes: list[int] = []
            first = self.x0.reshape(-1)[:1]
            try:
                with np.errstate(all="ignore"):
                    self._propagate(np.zeros(1, dtype=np.intp), first.astype(complex), sizes)
            except (TypeError, ValueError, ArithmeticError, IndexError):  # no complex arithmetic here: real, twice
                sizes = [2 * n for n in (sizes or [self.x0.nbytes])]
            self._bytes_cache = max(16, sum(sizes))
        return self._bytes_cache  # type: ignore[no-any-return]

    def entries(self, flat_idx: np.ndarray, new_vals: np.ndarray) -> np.ndarray:
        """The output with x0.flat[flat_idx[j]] replaced by new_vals[j], for every j.

        Incremental: a changed entry of wrt changes one row of it, and that row
        is followed through the graph (see `_Rows`) for as long as the change
        stays confined to one row or column — through elementwise functions,
        sums and products with unchanged operands, transposes and W x — and is
        expanded to full values only where it spreads (A h with h changed in
        one entry: a rank-one update, never a full product). For a layer
        `tanh(W x + b)` one changed entry of W costs O(1) instead of O(nm).
        """
        k = len(flat_idx)
        self.evaluations += k
        v = self._propagate(np.asarray(flat_idx, dtype=np.intp), np.asarray(new_vals))
        return v.reshape(k) if self.out.shape == (Dim.of(1), Dim.of(1)) else v.reshape(k, -1)

    def _propagate(self, flat_idx: np.ndarray, new_vals: np.ndarray, sizes: list[int] | None = None) -> np.ndarray:
        base = self._base()
        x0 = self.x0.reshape(self.x0.shape[-2:]) if self.x0.ndim >= 2 else self.x0.reshape(-1, 1)
        r, c = x0.shape
        rows, cols = np.divmod(flat_idx, c)
        if r == 1 and c > 1:  # a row vector: the changed entry is a column
            vals = np.asarray(new_vals, dtype=np.result_type(new_vals, x0)).reshape(-1, 1)
            start = _Rows(x0, cols, vals, 1)
        else:
            new = np.asarray(new_vals)
            start = _Rows(x0, rows, None, 0, entry=(cols, new - x0[rows, cols], new))
        memo: dict[int, Any] = dict(self.cache)
        memo[id(self.wrt)] = start
        for node in self.out.walk():
            if id(node) in memo:
                continue
            args = [memo[id(a)] for a in node.args]
            val = _sparse_apply(node, self.ctx, args, base[id(node)]) if any(
                isinstance(a, _Rows) for a in args) else None
            if val is None:
                val = apply_op(node, self.ctx, [a.dense() if isinstance(a, _Rows) else a for a in args])
            memo[id(node)] = val
            if sizes is not None:
                sizes.append(int(val.vals.nbytes if isinstance(val, _Rows) else np.asarray(val).nbytes))
        out = memo[id(self.out)]
        if isinstance(out, _Rows):
            out = out.dense()
        if np.ndim(out) < 3:  # did not depend on wrt after all
            out = np.broadcast_to(out, (len(flat_idx), *np.shape(out)))
        return np.asarray(out, dtype=np.result_type(out, new_vals))


class _Rows:
    """A stack of k values, each equal to `base` (r×c) but for one row (axis 0) or one
    column (axis 1): item j has `vals[j]` as its row (column) `idx[j]`. What one
    changed entry of W makes of W, of W x and of tanh(W x + b)."""

    __slots__ = ("base", "idx", "_vals", "axis", "entry")

    def __init__(self, base: np.ndarray, idx: np.ndarray, vals: np.ndarray | None, axis: int,
                 entry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
        self.base, self.idx, self._vals, self.axis = base, idx, vals, axis
        self.entry = entry  # (columns, changes, new values): only entry (idx[j], columns[j]) differs

    @property
    def vals(self) -> np.ndarray:
        if self._vals is None:
            assert self.entry is not None
            cols, _d, new = self.entry
            self._vals = self.base[self.idx].astype(np.result_type(new, self.base))
            self._vals[np.arange(len(self.idx)), cols] = new
        return self._vals

    def lines(self, a: np.ndarray) -> np.ndarray:
        """The rows (columns) idx of a constant r×c array `a`, one per item: (k, c) ((k, r))."""
        if self.axis == 0:
            return a[:1] if a.shape[0] == 1 else a[self.idx]  # a broadcast row stays (1, c)
        return (a[:, :1] if a.shape[1] == 1 else a[:, self.idx]).T

    def delta(self) -> np.ndarray:
        return self.vals - self.lines(self.base)

    def dense(self) -> np.ndarray:
        k = len(self.idx)
        out = np.empty((k, *self.base.shape), dtype=np.result_type(self.vals, self.base))
        out[...] = self.base
        if self.axis == 0:
            out[np.arange(k), self.idx, :] = self.vals
        else:
            out[np.arange(k), :, self.idx] = self.vals
        return out


_ELEMENTWISE_1 = ("fn", "neg", "pow")
_ELEMENTWISE_2 = ("add", "mul", "div")


def _sparse_apply(node: Expr, ctx: Context, args: list[Any], out0: np.ndarray) -> Any:
    """node's value when some arguments are `_Rows`: a `_Rows` while the change stays in one
    row (column), a full stack where it spreads cheaply, None where the caller must expand."""
    op = node.op
    if any(not isinstance(a, _Rows) and np.ndim(a) > 2 for a in args):
        return None  # mixed with a full stack: evaluate normally
    if op in _ELEMENTWISE_1:
        a = args[0]
        return _Rows(out0, a.idx, apply_op(node, ctx, [a.vals]), a.axis)
    if op == "T":
        a = args[0]
        return _Rows(out0, a.idx, a.vals, 1 - a.axis)
    if op in _ELEMENTWISE_2:
        a, b = args
        if isinstance(a, _Rows) and isinstance(b, _Rows):
            if a.axis != b.axis or a.idx is not b.idx or a.base.shape != out0.shape or b.base.shape != out0.shape:
                return None
            return _Rows(out0, a.idx, apply_op(node, ctx, [a.vals, b.vals]), a.axis)
        s, const = (a, b) if isinstance(a, _Rows) else (b, a)
        if s.base.shape != out0.shape:  # the changed operand is broadcast: the change spreads
            return None
        other = s.lines(np.asarray(const))
        vals = apply_op(node, ctx, [s.vals, other] if s is a else [other, s.vals])
        return _Rows(out0, s.idx, vals, s.axis)
    if op == "matmul":
        return _sparse_matmul(args[0], args[1], out0)
    if op == "sum" and node.param("axis") is None:
        a = args[0]
        return out0 + a.delta().sum(axis=1)[:, None, None]
    return None


def _sparse_matmul(a: Any, b: Any, out0: np.ndarray) -> Any:
    """A B with one side changed in a few rows or columns (`_Rows`): see `_sparse_apply`."""
    if isinstance(a, _Rows) and isinstance(b, _Rows):
        return None
    if isinstance(a, _Rows):
        if a.entry is not None:  # (A + δ e_i e_jᵀ) B: row i of the product moves by δ B[j, :]
            cols, d, _new = a.entry
            return _Rows(out0, a.idx, out0[a.idx] + d[:, None] * b[cols], 0)
        if a.axis == 0:  # (A + e_i δᵀ) B: row i of the product changes, to (row i of A') B
            return _Rows(out0, a.idx, a.vals @ b, 0)
        # (A + δ e_jᵀ) B = A B + δ B[j, :]: a rank-one change of the whole product
        return out0 + a.delta()[:, :, None] * b[a.idx][:, None, :]
    if b.axis == 1:  # A (B + δ e_jᵀ): column j of the product changes, to A (column j of B')
        return _Rows(out0, b.idx, (a @ b.vals.T).T, 1)
    # A (B + e_i δᵀ) = A B + A[:, i] δᵀ: rank one. The columns A[:, i] are gathered as rows of
    # a contiguous Aᵀ, and for a column B (W h) added to out0 in place: a strided gather and
    # two temporaries of the (k, r) stack were half the time of `verify --full` on an MLP
    cols = np.ascontiguousarray(np.asarray(a).T)[b.idx]  # (k, r)
    d = b.delta()  # (k, c)
    if d.shape[1] == 1 and np.result_type(cols, d, out0) == np.result_type(cols, d):
        upd = cols * d
        upd += out0[:, 0]
        return upd[:, :, None]
    return out0 + cols[:, :, None] * d[:, None, :]


def sample_inputs(graph: Graph, rng: np.random.Generator, positive: bool = False) -> dict[str, np.ndarray]:
    """One random point: shapes from the dims; one-hot, symmetric and SPD as declared."""
    out: dict[str, np.ndarray] = {}
    for name, v in graph.variables.items():
        r, c = (v.expr.shape[0].size(graph.env.sizes), v.expr.shape[1].size(graph.env.sizes))
        q = v.qualifiers
        if v.kind == "onehot" and "onehot_rows" in q:  # N x onehot(C): one 1 in each row
            x = np.zeros((r, c))
            x[np.arange(r), rng.integers(c, size=r)] = 1.0
        elif v.kind == "onehot":  # onehot(C) (x N): one 1 in each column
            x = np.zeros((r, c))
            x[rng.integers(r, size=c), np.arange(c)] = 1.0
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
