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

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import is_scalar

_REGION = {"mul", "div", "pow", "neg", "add", "const", "ones"}
_CTX: list["_Context"] = []


class _Context:
    def __init__(self, names: Mapping[int, str], nodes: Mapping[str, Expr]):
        self.names = dict(names)  # the file's named values: atoms, and what to substitute back
        self.memo: dict[int, Expr] = {}
        self.active: set[int] = set()
        self.defs: list[tuple[Any, Any]] | None = None
        self.def_index: dict[Any, list[tuple[int, Any, Any, frozenset[Any]]]] = {}
        self.nodes = nodes
        self.sym: dict[int, sp.Symbol] = {}  # one symbol per node for the whole derivation
        self.node: dict[sp.Symbol, Expr] = {}


@contextmanager
def context(names: Mapping[int, str], nodes: Mapping[str, Expr]) -> Iterator[None]:
    """Tidy with the file's names (graph.names()) known: they are atoms and they are reused."""
    _CTX.append(_Context(names, nodes))
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


def _tidy(e: Expr, ctx: _Context) -> Expr:
    if not e.args or id(e) in ctx.names:
        return e
    args = tuple(tidy(a) for a in e.args)
    if any(x is not y for x, y in zip(args, e.args)):
        e = _rebuild(e, args)
    e = _patterns(e)
    if e.op in _REGION and not id(e) in ctx.names:
        e = _simplify_region(e, ctx)
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
    return alg._build(op, args, **dict(e.params))


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
    return out if out.shape == e.shape and _tree_size(out) < _tree_size(e) else e


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
    return out if out.shape == e.shape and _tree_size(out) < _tree_size(e) else e


def _tree_size(e: Expr, cap: int = 200) -> int:
    """Nodes as printed, counted up to `cap` (a deep shared DAG is not unfolded)."""
    n, stack = 0, [e]
    while stack and n < cap:
        x = stack.pop()
        n += 1
        stack.extend(x.args)
    return n


def _flat_terms(e: Expr) -> list[tuple[Expr, Expr]]:
    if e.op == "add" and id(e) not in alg._FORWARD and e.args[0].shape == e.args[1].shape:
        return _flat_terms(e.args[0]) + _flat_terms(e.args[1])
    if e.op == "neg":
        return [(alg.neg(s), c) for s, c in _flat_terms(e.args[0])] if e.args[0].op != "add" else [(alg.const(-1), e.args[0])]
    if e.op == "mul" and is_scalar(e.args[0].shape) and not is_scalar(e.args[1].shape):
        return [(e.args[0], e.args[1])]
    return [(alg.const(1), e)]


# --------------------------------------------------------------------------
# elementwise regions ↔ sympy


class _Sym:
    """One translation: nodes ↔ symbols, numbered in order of appearance (sympy orders by name)."""

    def __init__(self, ctx: _Context):
        self.ctx = ctx
        self.sym, self.node = ctx.sym, ctx.node
        self.ops = 0  # algebra nodes seen: nothing to gain from a region of one

    def atom(self, e: Expr) -> sp.Symbol:
        s = self.sym.get(id(e))
        if s is None:
            s = sp.Symbol(f"x{len(self.sym):04d}")
            self.sym[id(e)] = s
            self.node[s] = e
        return s

    def to(self, e: Expr, top: bool = False) -> Any:
        if id(e) in self.ctx.names and not top:
            return self.atom(e)
        op = e.op
        if op == "const":
            return sp.sympify(e.param("value"))
        if op == "ones":
            return sp.Integer(1)
        if op in ("mul", "div", "add", "neg", "pow") and not (op == "add" and id(e) in alg._FORWARD and not top):
            self.ops += 1
            xs = [self.to(a) for a in e.args]
            if op == "mul":
                return xs[0] * xs[1]
            if op == "div":
                return xs[0] / xs[1]
            if op == "add":
                return xs[0] + xs[1]
            if op == "neg":
                return -xs[0]
            return xs[0] ** sp.sympify(e.param("k"))
        if not top and (alg._copied_row(e) or alg._copied_column(e)):  # 𝟏 r is r, broadcast, in ∘ and +
            self.ops += 1
            return self.to(e.args[1] if alg._copied_row(e) else e.args[0])
        if op == "fn" and e.param("name") == "sqrt" and e.param("order") == 0:
            self.ops += 1
            return sp.sqrt(self.to(e.args[0]))
        return self.atom(e)

    def back(self, x: Any) -> Expr:
        if x in self.node:
            return self.node[x]
        if x.is_Number or not any(s in self.node for s in x.free_symbols):
            return alg.const(x)  # a number, or one made of sizes: 1/N, 2 B
        if x.is_Add:
            terms = [self.back(t) for t in _ordered(x.args)]
            out = terms[0]
            for t in terms[1:]:
                out = alg.add(out, t)
            return out
        if x.is_Mul or x.is_Pow:
            coef, factors = x.as_coeff_mul() if x.is_Mul else (sp.Integer(1), (x,))
            num: Expr | None = None
            den: Expr | None = None
            for f in factors:
                b, k = f.as_base_exp()
                if k.is_number and k < 0:
                    part = self._power(b, -k)
                    den = part if den is None else alg.mul(den, part)
                else:
                    part = self._power(b, k)
                    num = part if num is None else alg.mul(num, part)
            if num is None:
                num = alg.const(1)
            out = num if den is None else alg.div(num, den)
            return alg.scale(coef, out) if coef != 1 else out
        raise _Untranslatable(str(x))

    def _power(self, b: Any, k: Any) -> Expr:
        base = self.back(b)
        if k == 1:
            return base
        k = sp.sympify(k)
        if k.is_Rational and k.q == 2:
            return alg.pow_(alg.fn("sqrt", base), k.p)
        return alg.pow_(base, k)


class _Untranslatable(Exception):
    pass


def _ordered(args: tuple[Any, ...]) -> list[Any]:
    """Terms in order of first appearance of their symbols, positive ones first."""
    def key(t: Any) -> tuple[bool, str]:
        names = sorted(s.name for s in t.free_symbols) or ["~"]
        return (t.could_extract_minus_sign(), names[0])
    return sorted(args, key=key)


def _simplify_region(e: Expr, ctx: _Context) -> Expr:
    ops = _region_ops(e, ctx, limit=_LARGEST_REGION)
    if ops < 2 and not any(a.op == "ones" for a in e.args):
        return e  # nothing to gain, and no reason to load sympy (a plain u ∘ f′(z))
    if ops >= _LARGEST_REGION:
        return e  # a deep chain's product of 1000 local derivatives: sympy would cost O(L²), gain nothing
    tr = _Sym(ctx)
    try:
        x = tr.to(e, top=True)
    except (TypeError, ValueError):
        return e
    if tr.ops < 2 and not any(a.op == "ones" for a in e.args):
        return e
    x = _substitute_names(x, tr, ctx)
    best = e
    for cand in _candidates(x):
        try:
            out = tr.back(cand)
        except _Untranslatable:
            continue
        if out.shape == e.shape and _printed_size(out, ctx) < _printed_size(best, ctx):
            best = out
    return best if best is e else tidy(best)  # the rebuilt products may hold new regions (𝟏 (s / sqrt(v)))


_LARGEST_REGION = 96  # algebra nodes in one region sympy is asked to simplify (batch norm's are < 40)


def _region_ops(e: Expr, ctx: _Context, limit: int = 2) -> int:
    """The algebra nodes `_Sym.to` would count, up to `limit`, found without sympy."""
    count, stack = 0, [(e, True)]
    while stack and count < limit:
        x, top = stack.pop()
        if id(x) in ctx.names and not top:
            continue
        if x.op in ("mul", "div", "add", "neg", "pow") and not (x.op == "add" and id(x) in alg._FORWARD and not top):
            count += 1
            stack.extend((a, False) for a in x.args)
        elif not top and (alg._copied_row(x) or alg._copied_column(x)):
            count += 1
            stack.append((x.args[1] if alg._copied_row(x) else x.args[0], False))
        elif x.op == "fn" and x.param("name") == "sqrt" and x.param("order") == 0:
            count += 1
            stack.append((x.args[0], False))
    return count


def _printed_size(e: Expr, ctx: _Context) -> int:
    """Nodes as printed (a shared w ∘ u counts twice), other ops' nodes as one: the reader's measure."""
    if id(e) in ctx.names:
        return 1
    if e.op not in _REGION or (e.op == "add" and id(e) in alg._FORWARD):
        return _tree_size(e, 50)  # an unnamed sqrt(v + 1e-5) is longer than the file's istd
    return 1 + sum(_printed_size(a, ctx) for a in e.args)


def _candidates(x: Any) -> list[Any]:
    out = [x]
    try:
        out.append(sp.factor_terms(x))
        fractions = any(p.exp.is_number and p.exp < 0 for p in x.atoms(sp.Pow))
        if fractions and x.count_ops() < 60:  # only a quotient is worth cancelling: r ∘ (1 − r) stays
            out.append(sp.powsimp(sp.cancel(x)))
    except (sp.PolynomialError, TypeError, ValueError):
        pass
    return out


def _substitute_names(x: Any, tr: _Sym, ctx: _Context) -> Any:
    """The file's elementwise definitions put back by name: 1/sqrt(v + ε) → istd.

    Each definition is filed under its rarest symbol, so a region looks only at the
    definitions it could contain: a file of 4,000 statements stays linear."""
    if ctx.defs is None:
        defs = []
        for node in ctx.nodes.values():
            if node.op not in _REGION or node.op == "const" or id(node) not in ctx.names:
                continue
            try:
                d = _Sym(ctx).to(node, top=True)
            except (TypeError, ValueError):
                continue
            if not (d.is_Symbol or d.is_Number):
                defs.append((d, tr.atom(node)))
        counts: dict[Any, int] = {}
        for d, _ in defs:
            for z in d.free_symbols:
                counts[z] = counts.get(z, 0) + 1
        ctx.defs = defs
        ctx.def_index = {}
        for k, (d, s) in enumerate(defs):
            fs = frozenset(d.free_symbols)
            key = min(fs, key=lambda z: (counts[z], str(z))) if fs else None
            ctx.def_index.setdefault(key, []).append((k, d, s, fs))
    free = x.free_symbols
    tried: set[int] = set()
    while True:
        cands = sorted((c for z in (*free, None) for c in ctx.def_index.get(z, ()) if c[0] not in tried),
                       key=lambda c: c[0])
        for k, d, s, fs in cands:
            tried.add(k)
            if not fs <= free:
                continue
            try:
                y = x.subs(d, s)
                if y == x and d.is_Pow:  # 1/sqrt(a) named: a^(-3/2) = istd³, and sqrt(a)⁻¹ likewise
                    y = x.subs(1 / d, 1 / s)
            except (TypeError, ValueError):
                continue
            if y != x:
                x, free = y, y.free_symbols
                break  # new symbols may admit other definitions
        else:
            return x
