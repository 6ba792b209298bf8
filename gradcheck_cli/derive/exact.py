"""The exact reference: gradients entry by entry, at small concrete sizes.

Nothing here knows a matrix rule. Every variable becomes an explicit sympy
Matrix of scalar symbols (W ↦ [[W_0_0, W_0_1, …], …]), the graph is
evaluated forward with each op's `OPS[op].sympy` rule (the entry-wise
definition: a sum of products for `matmul`, `tanh` of each entry for `fn`),
and the scalar output is differentiated by every symbol, one entry at a time.
That is the slow, obviously-correct derivative that `derive`'s matrix
calculus is checked against: ∂s/∂W_ij is `sp.diff(s, W_ij)`, nothing more.

Constraints the file declares are applied *after* differentiating, as the
gradient at a constrained point: a symmetric A gets A_j_i := A_i_j (the
gradient is the unconstrained one, evaluated at a symmetric matrix, which is
what `derive` and `verify` mean), a one-hot y gets y_last := 1 − Σ others
(all `derive` may assume is Σ y = 1).

The differentiation uses symengine when it is installed (the `fast` extra)
and the forward expression only contains functions whose symengine
derivative round-trips to sympy intact; otherwise sympy. At n = 10 the
symengine route is ~50× faster for uᵀ tanh(Wx + b) (see bench/derive.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping

import mpmath
import sympy as sp

from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.derive.mp_eval import is_finite, numeric_values
from gradcheck_cli.symbolic.ops import OPS
from gradcheck_cli.shapes import Dim, Shape

try:  # the optional `fast` extra
    import symengine as _se
except ImportError:  # pragma: no cover - exercised only without the extra
    _se = None

HAVE_SYMENGINE = _se is not None

#: sizes given to dimension names, in order of first use: 2 x 3 as the issue asks
SMALL_SIZES = (2, 3, 4, 5, 6, 7, 8, 9)


class SizeMismatch(Exception):
    """The small sizes break a shape the file's own sizes satisfy (literal dims)."""


# --------------------------------------------------------------------------
# symbols


def entry_symbol(name: str, i: int, j: int, shape: tuple[int, int]) -> sp.Symbol:
    """The scalar symbol of one entry: W_0_1 (scalars keep their own name)."""
    if shape == (1, 1):
        return sp.Symbol(name, real=True)
    return sp.Symbol(f"{name}_{i}_{j}", real=True)


def symbol_matrix(name: str, shape: tuple[int, int]) -> sp.Matrix:
    r, c = shape
    return sp.Matrix(r, c, lambda i, j: entry_symbol(name, i, j, shape))


def small_sizes(graph: Graph, sizes: Mapping[str, int] | None = None) -> dict[str, int]:
    """Distinct small sizes (2, 3, 4, …) for every dimension name; `sizes` wins."""
    out: dict[str, int] = {}
    pool = iter(SMALL_SIZES)
    for name in graph.env.sizes:
        out[name] = sizes[name] if sizes and name in sizes else next(pool)
    return out


# --------------------------------------------------------------------------
# the entry-wise forward pass


class Exact:
    """A graph at concrete sizes with every variable an explicit symbol matrix."""

    def __init__(self, graph: Graph, sizes: Mapping[str, int] | None = None, engine: str = "auto"):
        assert engine in ("auto", "sympy", "symengine"), f"unknown engine {engine!r}"
        if engine == "symengine" and not HAVE_SYMENGINE:
            raise RuntimeError("engine='symengine' needs the symengine package (pip install 'gradcheck-cli[fast]')")
        self.graph = graph
        self.engine = engine
        self.bind = {k: v for k, v in graph.functions.items() if v}
        self.sizes = small_sizes(graph, sizes)
        try:
            self._setup()
            self.value(graph.output)  # checks every node's size on the way
        except SizeMismatch:
            if sizes is not None:
                raise
            self.sizes = dict(graph.env.sizes)  # literal sizes in the file: use its own
            self._setup()

    def _setup(self) -> None:
        self.dim_subs = {sp.Symbol(n, positive=True, integer=True): v for n, v in self.sizes.items()}
        self.symbols: dict[str, sp.Matrix] = {}
        self.constraints: dict[sp.Symbol, sp.Expr] = {}
        for name, v in self.graph.variables.items():
            shape = self.concrete(v.expr.shape)
            m = symbol_matrix(name, shape)
            self.symbols[name] = m
            self.constraints.update(_constraints(m, v.qualifiers, v.kind))
        self._memo: dict[int, sp.Matrix] = {}

    def concrete(self, shape: Shape) -> tuple[int, int]:
        return (shape[0].size(self.sizes), shape[1].size(self.sizes))

    def size(self, d: Dim) -> int:
        return d.size(self.sizes)

    def value(self, expr: Expr, overrides: Mapping[int, sp.Matrix] | None = None) -> sp.Matrix:
        """The explicit matrix of `expr`; `overrides` replaces nodes (by id) by matrices."""
        memo = self._memo if not overrides else dict(overrides)
        for node in expr.walk():
            if id(node) in memo:
                continue
            m = self.apply_op(node, [memo[id(a)] for a in node.args])
            if tuple(m.shape) != self.concrete(node.shape):
                raise SizeMismatch(f"{node.op} gave {m.shape}, expected {self.concrete(node.shape)}")
            memo[id(node)] = m
        return memo[id(expr)]

    def apply_op(self, node: Expr, args: list[sp.Matrix]) -> sp.Matrix:
        p = dict(node.params)
        op = node.op
        if op == "var":
            return self.symbols[p["name"]]
        if op == "const":
            return sp.Matrix([[sp.sympify(p["value"]).xreplace(self.dim_subs)]])
        if op in ("ones", "zeros", "eye"):
            r, c = self.concrete(node.shape)
            return {"ones": sp.ones, "zeros": sp.zeros}[op](r, c) if op != "eye" else sp.eye(r)
        if op == "rows":
            return args[0][self.size(p["start"]):self.size(p["stop"]), :]
        if op == "fn":
            return OPS["fn"].sympy(args[0], bind=self.bind, **p)
        out = OPS[op].sympy(*args, **p)
        assert out is not None, f"op {op!r} has no entry-wise sympy rule"
        return sp.Matrix(out)

    # ------------------------------------------------------------------ derivatives

    def constrain(self, m: sp.Matrix) -> sp.Matrix:
        """Put the declared constraints (symmetric, one-hot) into a matrix of expressions."""
        if not self.constraints:
            return m
        return m.applyfunc(lambda e: replace(e, self.constraints))

    def _wrt_symbols(self, wrt: str) -> tuple[sp.Matrix, dict[int, sp.Matrix], dict[sp.Symbol, sp.Expr]]:
        """(symbols to differentiate by, overrides, back-substitution) for a variable or a node."""
        if wrt in self.graph.variables:
            return self.symbols[wrt], {}, {}
        node = self.graph.values[wrt]
        shape = self.concrete(node.shape)
        fresh = symbol_matrix(f"_{wrt}", shape)  # the node as an input of its own
        actual = self.value(node)
        back = {fresh[i, j]: actual[i, j] for i in range(shape[0]) for j in range(shape[1])}
        return fresh, {id(node): fresh}, back

    def gradient(self, wrt: str, output: str | None = None) -> sp.Matrix:
        """∂s/∂wrt, entry by entry, in wrt's shape (s a scalar output)."""
        out = self.graph.values[output or self.graph.output_name]
        syms, overrides, back = self._wrt_symbols(wrt)
        val = self.value(out, overrides) if overrides else self.value(out)
        assert val.shape == (1, 1), f"the output is {val.shape}, not a scalar: use jacobian()"
        flat = diff_all(val[0, 0], list(syms), self.engine)
        g = sp.Matrix(syms.shape[0], syms.shape[1], flat)
        if back:
            g = g.applyfunc(lambda e: replace(e, back))
        return self.constrain(g)

    def jacobian(self, wrt: str, output: str | None = None) -> sp.Matrix:
        """∂vec(out)/∂vec(wrt) in numerator layout (rows: output entries, row-major)."""
        out = self.graph.values[output or self.graph.output_name]
        syms, overrides, back = self._wrt_symbols(wrt)
        val = self.value(out, overrides) if overrides else self.value(out)
        entries, variables = list(val), list(syms)
        rows = [diff_all(e, variables, self.engine) for e in entries]
        J = sp.Matrix(len(entries), len(variables), lambda i, k: rows[i][k])
        if back:
            J = J.applyfunc(lambda e: replace(e, back))
        return self.constrain(J)

    def evaluate(self, derived: Expr) -> sp.Matrix:
        """A derived expression at the same symbols, with the same constraints."""
        return self.constrain(self.value(derived))


def _constraints(m: sp.Matrix, qualifiers: Iterable[str], kind: str) -> dict[sp.Symbol, sp.Expr]:
    out: dict[sp.Symbol, sp.Expr] = {}
    if "symmetric" in qualifiers or "spd" in qualifiers:
        for i in range(m.shape[0]):
            for j in range(i):
                out[m[i, j]] = m[j, i]
    if kind == "onehot" and "onehot_rows" in qualifiers and m.shape[1] > 1:  # each row sums to 1
        for i in range(m.shape[0]):
            out[m[i, m.shape[1] - 1]] = 1 - sum(m[i, k] for k in range(m.shape[1] - 1))
    elif kind == "onehot" and m.shape[0] > 1:  # each column sums to 1
        for j in range(m.shape[1]):
            out[m[m.shape[0] - 1, j]] = 1 - sum(m[k, j] for k in range(m.shape[0] - 1))
    return out


# --------------------------------------------------------------------------
# differentiation engines

# Function heads whose symengine derivative converts back to the same sympy
# expression. Max, Min, Abs come back unevaluated (Derivative(max(x, y), x)),
# and a sympy Subs (f′ of a generic f inside the forward) is mangled on the way
# in (it becomes Derivative(f(x y), x y), whose derivative is 0): sympy does those.
_SYMENGINE_SAFE = (sp.exp, sp.log, sp.tanh, sp.sin, sp.cos, sp.tan, sp.erf)


def dag(*exprs: sp.Basic) -> Iterator[sp.Basic]:
    """Each distinct subexpression once. Entry-wise derivatives of deep graphs are trees with
    exponentially many paths but few distinct nodes: `preorder_traversal`, `free_symbols`
    and `count_ops` walk the paths, this walks the nodes."""
    seen: set[sp.Basic] = set()
    stack = list(exprs)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        yield node
        stack.extend(node.args)


def replace(expr: sp.Basic, mapping: Mapping[sp.Basic, sp.Basic]) -> sp.Basic:
    """xreplace, rebuilding each distinct subexpression once (xreplace walks every path)."""
    done: dict[sp.Basic, sp.Basic] = dict(mapping)
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in done:
            continue
        if not node.args:
            done[node] = node
        elif ready:
            args = [done[a] for a in node.args]
            same = all(x is y for x, y in zip(args, node.args))
            done[node] = node if same else node.func(*args)
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in done)
    return done[expr]


def _symbols(exprs: Iterable[sp.Basic]) -> list[sp.Symbol]:
    return sorted((n for n in dag(*exprs) if isinstance(n, sp.Symbol)), key=str)


def symengine_safe(expr: sp.Expr) -> bool:
    for node in dag(expr):
        if isinstance(node, (sp.Add, sp.Mul, sp.Pow, sp.Symbol, sp.Number, sp.NumberSymbol,
                             sp.Piecewise, sp.logic.boolalg.Boolean, sp.core.relational.Relational)):
            continue
        if isinstance(node, sp.core.function.AppliedUndef):
            continue
        if isinstance(node, sp.Tuple) or type(node).__name__ == "ExprCondPair":
            continue
        if isinstance(node, _SYMENGINE_SAFE):
            continue
        return False
    return True


def diff_all(expr: sp.Expr, variables: list[sp.Symbol], engine: str = "auto") -> list[sp.Expr]:
    """[∂expr/∂v for v in variables], by symengine where it is safe and available."""
    use_se = engine == "symengine" or (engine == "auto" and HAVE_SYMENGINE)
    if use_se and symengine_safe(expr):
        try:
            return _diff_symengine(expr, variables)
        except Exception:  # symengine's SympifyError and friends: sympy can do it
            if engine == "symengine":
                raise
    return [sp.diff(expr, v) for v in variables]


def _diff_symengine(expr: sp.Expr, variables: list[sp.Symbol]) -> list[sp.Expr]:
    assert _se is not None
    back = {sp.Symbol(s.name): s for s in _symbols([expr])}  # symengine drops assumptions
    e = _se.sympify(expr)
    out = []
    for v in variables:
        d = sp.sympify(e.diff(_se.Symbol(v.name)))
        out.append(replace(d, back))
    return out


# --------------------------------------------------------------------------
# public API


def exact_value(graph: Graph, expr: Expr | None = None, sizes: Mapping[str, int] | None = None) -> sp.Matrix:
    """The explicit matrix of `expr` (default: the output) at small sizes."""
    ex = Exact(graph, sizes)
    return ex.value(expr if expr is not None else graph.output)


def exact_gradient(graph: Graph, wrt_name: str, sizes: Mapping[str, int] | None = None,
                   engine: str = "auto", output: str | None = None) -> sp.Matrix:
    """∂output/∂wrt_name entry by entry (wrt's shape), at small concrete sizes."""
    return Exact(graph, sizes, engine).gradient(wrt_name, output)


def exact_jacobian(graph: Graph, wrt_name: str, sizes: Mapping[str, int] | None = None,
                   engine: str = "auto", output: str | None = None) -> sp.Matrix:
    """∂vec(output)/∂vec(wrt_name) in numerator layout, entry by entry."""
    return Exact(graph, sizes, engine).jacobian(wrt_name, output)


def equal_exactly(derived_expr: Expr, exact_matrix: sp.Matrix, graph: Graph,
                  sizes: Mapping[str, int] | None = None, points: int = 3, seed: int = 0) -> bool:
    """Is the derived expression, entry by entry, exactly the reference matrix?"""
    return difference(derived_expr, exact_matrix, graph, sizes, points, seed) is None


def difference(derived_expr: Expr, exact_matrix: sp.Matrix, graph: Graph,
               sizes: Mapping[str, int] | None = None, points: int = 3, seed: int = 0) -> str | None:
    """None when equal; otherwise which entry differs and how (for test messages).

    Each entry: a − b is shown to be 0 symbolically where that is cheap
    (structurally, by expansion, by `simplify` on small entries); the other
    entries are evaluated at `points` random rational points with 40
    significant digits (mpmath) and must agree to 1e-30, relative. A generic
    `f` is replaced by a different smooth stand-in at each point.
    """
    ex = Exact(graph, sizes)
    try:
        a = ex.evaluate(derived_expr)
    except SizeMismatch as e:  # the formula only type-checks at the file's own sizes
        return f"the derived expression is ill-shaped at sizes {ex.sizes}: {e}"
    if a.shape != exact_matrix.shape:
        return f"shape {a.shape} but the exact derivative is {exact_matrix.shape}"
    b = exact_matrix
    open_ = [k for k in range(len(a)) if not symbolically_zero(a[k] - b[k])]
    if not open_:
        return None
    rng = random.Random(seed)
    exprs = [a[k] for k in open_] + [b[k] for k in open_]
    nodes = list(dag(*exprs))  # bound variables of Subs are Symbols too: harmless extra inputs
    syms = sorted((n for n in nodes if isinstance(n, sp.Symbol)), key=str)
    generic = sorted({n.func for n in nodes if isinstance(n, sp.core.function.AppliedUndef)}, key=str)
    compared = [0] * len(open_)
    for k in range(4 * points):  # extra points stand in for poles and kinks
        if min(compared) >= points:
            break
        values = numeric_values(exprs, syms, generic, rng, k)
        for n, idx in enumerate(open_):
            va, vb = values[n], values[n + len(open_)]
            if not (is_finite(va) and is_finite(vb)):
                continue  # a pole, or a kink (relu′, max at a tie): the other points decide
            if abs(va - vb) > mpmath.mpf("1e-30") * max(1, abs(va), abs(vb)):
                i, j = divmod(idx, a.shape[1])
                return (f"entry [{i}, {j}]: {mpmath.nstr(va, 12)} ≠ {mpmath.nstr(vb, 12)} at a random point\n"
                        f"  derived: {a[idx]}\n  exact:   {b[idx]}")
            compared[n] += 1
    for n, idx in enumerate(open_):
        if not compared[n]:
            i, j = divmod(idx, a.shape[1])
            return f"entry [{i}, {j}]: no random point where both sides are finite and away from kinks"
    return None


def symbolically_zero(d: sp.Expr) -> bool:
    """A cheap proof that d = 0 (never a proof that it is not)."""
    if d == 0:
        return True
    if HAVE_SYMENGINE and symengine_safe(d):
        try:
            return bool(_se.expand(_se.sympify(d)) == 0)
        except Exception:  # noqa: BLE001, S110 - not convertible (an ITE in a condition): sympy decides
            pass
    ops = sum(1 for _ in dag(d))  # distinct nodes: count_ops would walk every path
    if ops <= 150 and sp.expand(d) == 0:
        return True
    # simplify is slow on Piecewise (relu′, max): those are left to the numeric test
    return ops <= 25 and not d.has(sp.Piecewise, sp.Heaviside, sp.Max, sp.Min) and sp.simplify(d) == 0
