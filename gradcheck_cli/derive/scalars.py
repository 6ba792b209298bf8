"""Scalar and elementwise algebra through sympy: the coefficients a careful person simplifies.

The matrix rules in algebra.py never look inside a product of scalars, so L2's
penalty used to come out as `2 ((lam / 2) ‖W‖ / ‖W‖) W` and batch norm's δ
divided by `sqrt(v + ε)` three times. Here every maximal region of a gradient
built from elementwise ops only (`∘` with broadcasting, `/`, `+`, `−`, powers,
`sqrt`, constants, `𝟏`) is a commutative algebra: it goes to sympy with each
other node as an opaque symbol, sympy collects and cancels (`(lam/2)·2 = lam`,
`‖W‖/‖W‖ = 1`, `(v+ε)^(-1/2)³`, `w∘hc − w∘h = w∘(hc − h)`), the file's own
elementwise definitions are substituted back (`istd` for `1/sqrt(v + 1e-5)`),
and the result replaces the region only if it is smaller and has the same
shape. A few patterns sympy has no name for follow: `eˣ/(1 + eˣ) = σ(x)`,
`A (s I) = s A`, and, in a sum, like terms with scalar coefficients
(`σ(a) x − t x = (σ(a) − t) x`).

derive.backward runs every cotangent through `tidy`; the results are memoised
per node (nodes are hash-consed), so each node is looked at once.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from gradcheck_cli.derive.sympy_regions import REGION, TidyContext, simplify_region, tree_size
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import is_scalar

_CTX: list[TidyContext] = []


@contextmanager
def context(names: Mapping[int, str], nodes: Mapping[str, Expr]) -> Iterator[None]:
    """Tidy with the file's names (graph.names()) known: they are atoms and they are reused."""
    _CTX.append(TidyContext(names, nodes))
    alg.NAMED.append({id(e) for e in nodes.values()})
    try:
        yield
    finally:
        _CTX.pop()
        alg.NAMED.pop()


def tidy(e: Expr) -> Expr:
    """e with its elementwise regions simplified; e itself when nothing got shorter."""
    if not _CTX:
        return e
    ctx = _CTX[-1]
    hit = ctx.memo.get(id(e))
    if hit is not None:
        return hit
    if id(e) in ctx.active:  # a rewrite of e asked for e again: e as it is
        return e
    ctx.active.add(id(e))
    try:
        out = _tidy(e, ctx)
    finally:
        ctx.active.discard(id(e))
    ctx.memo[id(e)] = out
    ctx.memo[id(out)] = out
    return out


def _tidy(e: Expr, ctx: TidyContext) -> Expr:
    if not e.args or id(e) in ctx.names:
        return e
    args = tuple(tidy(a) for a in e.args)
    if any(x is not y for x, y in zip(args, e.args)):
        e = _rebuild(e, args)
    e = _patterns(e)
    if e.op in REGION and not id(e) in ctx.names:
        e = simplify_region(e, ctx, tidy)
    return e


def _rebuild(e: Expr, args: tuple[Expr, ...]) -> Expr:
    """The same op on new arguments, through the smart constructors."""
    op = e.op
    if op == "add":
        return alg.add(*args)
    if op == "mul":
        return alg.mul(*args)
    if op == "div":
        return alg.div(*args)
    if op == "neg":
        return alg.neg(args[0])
    if op == "matmul":
        return alg.matmul(*args)
    if op == "T":
        return alg.T(args[0])
    if op == "pow":
        return alg.pow_(args[0], e.param("k"))
    if op == "sum":
        return alg.sum_(args[0], e.param("axis"))
    if op == "fn":
        return alg.fn(e.param("name"), args[0], e.param("order"), e.param("alpha"))
    if op == "diag":
        return alg.diag(args[0])
    return alg.build(op, args, **dict(e.params))


def _patterns(e: Expr) -> Expr:
    """What sympy has no name for: σ, A (s I), s-weighted like terms."""
    if e.op == "div":
        num, den = e.args
        if _is_exp(num) and den.op == "add":  # eˣ / (1 + eˣ) = σ(x)
            a, b = den.args
            if (alg.is_const(a, 1) and b is num) or (alg.is_const(b, 1) and a is num):
                return alg.fn("sigmoid", num.args[0])
    if e.op == "matmul":
        a, b = e.args
        for s, m in ((b, a), (a, b)):  # A (s I) = s A
            if s.op == "mul" and is_scalar(s.args[0].shape) and s.args[1].op == "eye":
                return alg.mul(s.args[0], m)
    if e.op == "add" and not is_scalar(e.shape):
        return _weighted_like_terms(e)
    if e.op == "sum" and e.param("axis") is not None:
        return _sum_by_linearity(e)
    return e


def _sum_by_linearity(e: Expr) -> Expr:
    """sum(δ, axis) term by term, when that is shorter: a factor constant along the axis comes out,
    a column broadcast over B columns sums to B times it, and a centred X − mean(X) sums to 0
    (batch norm's sum(Xhat) = 0, which turns δ − sum(δ)/B into the CS231n closed form)."""
    axis = e.param("axis")
    try:
        out = _linear(e.args[0], axis, (e.args[0].shape[axis], e.shape), depth=0)
    except _NotLinear:
        return e
    out = tidy(out)
    return out if out.shape == e.shape and tree_size(out) < tree_size(e) else e


class _NotLinear(Exception):
    pass


def _along(x: Expr, axis: int) -> Expr | None:
    """x without the copies when it is constant along the axis: an n×1 for axis=1 (or v 𝟏ᵀ), a 1×m
    for axis=0 (or 𝟏 r, layer norm's row copied down the rows), a scalar; else None."""
    if is_scalar(x.shape) or x.shape[axis].is_one:
        return x
    if x.op == "matmul":
        p, q = x.args
        if axis == 0 and p.op == "ones" and p.shape[1].is_one:
            return q
        if axis == 1 and q.op == "ones" and q.shape[0].is_one:
            return p
    return None


def _linear(a: Expr, axis: int, shape: Any, depth: int) -> Expr:
    """sum(a, axis) distributed over a's terms; `shape` is (the summed size, the result's shape)."""
    if depth > 12:
        raise _NotLinear
    c = _along(a, axis)
    if c is not None:  # a broadcast column summed over B columns: B a
        return alg.mul(alg.const(alg.dim_symbol(shape[0])), c)
    if _centred(a, axis):
        return alg.zeros(*shape[1])
    op = a.op
    if op == "add":
        return alg.add(_linear(a.args[0], axis, shape, depth + 1), _linear(a.args[1], axis, shape, depth + 1))
    if op == "neg":
        return alg.neg(_linear(a.args[0], axis, shape, depth + 1))
    if op == "mul":
        x, y = a.args
        cx, cy = _along(x, axis), _along(y, axis)
        if cx is not None:
            return alg.mul(cx, _linear(y, axis, shape, depth + 1))
        if cy is not None:
            return alg.mul(_linear(x, axis, shape, depth + 1), cy)
    if op == "div":
        c = _along(a.args[1], axis)
        if c is not None:
            return alg.div(_linear(a.args[0], axis, shape, depth + 1), c)
    return alg.sum_(a, axis)


def _centred(a: Expr, axis: int) -> bool:
    """a = X − sum(X, axis) / n, the file's Xc = X − mean(X): its sum over that axis is 0."""
    if a.op != "add" or a.args[1].op != "neg":
        return False
    x, m = a.args[0], a.args[1].args[0]
    if m.op == "div" and alg.is_const(m.args[1]):
        s, n = m.args[0], alg.const_value(m.args[1])
    elif m.op == "mul" and alg.is_const(m.args[0]):
        s, n = m.args[1], 1 / alg.const_value(m.args[0])
    else:
        return False
    return s.op == "sum" and s.param("axis") == axis and s.args[0] is x \
        and sp.simplify(n - alg.dim_symbol(x.shape[axis])) == 0


def _is_exp(e: Expr) -> bool:
    return e.op == "fn" and e.param("name") == "exp" and e.param("order") == 0


def _weighted_like_terms(e: Expr) -> Expr:
    """s₁ x + s₂ x = (s₁ + s₂) x for scalar s (the matrix rules only merge numbers)."""
    terms = _flat_terms(e)
    if len(terms) < 2:
        return e
    groups: dict[int, list[tuple[Expr, Expr]]] = {}
    for s, core in terms:
        groups.setdefault(id(core), []).append((s, core))
    if all(len(g) < 2 for g in groups.values()):
        return e
    out: Expr | None = None
    for g in groups.values():
        coef = g[0][0]
        for s, _ in g[1:]:
            coef = alg.add(coef, s)
        term = alg.mul(coef, g[0][1])
        out = term if out is None else alg.add(out, term)
    assert out is not None
    return out if out.shape == e.shape and tree_size(out) < tree_size(e) else e


def _flat_terms(e: Expr) -> list[tuple[Expr, Expr]]:
    if e.op == "add" and id(e) not in alg.FORWARD and e.args[0].shape == e.args[1].shape:
        return _flat_terms(e.args[0]) + _flat_terms(e.args[1])
    if e.op == "neg":
        return [(alg.neg(s), c) for s, c in _flat_terms(e.args[0])] if e.args[0].op != "add" else [(alg.const(-1), e.args[0])]
    if e.op == "mul" and is_scalar(e.args[0].shape) and not is_scalar(e.args[1].shape):
        return [(e.args[0], e.args[1])]
    return [(alg.const(1), e)]
