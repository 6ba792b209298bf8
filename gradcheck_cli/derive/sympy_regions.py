"""Elementwise regions ↔ sympy: the translation `derive.scalars.tidy` simplifies through.

A region (products, quotients, sums, powers, sqrt, constants, 𝟏 of one shape) goes to
sympy with every other node as an opaque symbol; sympy's candidates come back through
the smart constructors, with the file's own elementwise definitions substituted back.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr

REGION = {"mul", "div", "pow", "neg", "add", "const", "ones"}


class TidyContext:
    """One derivation's tidying state: the file's names, the memo, and the symbols of its nodes."""

    def __init__(self, names: Mapping[int, str], nodes: Mapping[str, Expr]):
        self.names = dict(names)  # the file's named values: atoms, and what to substitute back
        self.memo: dict[int, Expr] = {}
        self.active: set[int] = set()
        self.defs: list[tuple[Any, Any]] | None = None
        self.def_index: dict[Any, list[tuple[int, Any, Any, frozenset[Any]]]] = {}
        self.nodes = nodes
        self.sym: dict[int, sp.Symbol] = {}  # one symbol per node for the whole derivation
        self.node: dict[sp.Symbol, Expr] = {}


def tree_size(e: Expr, cap: int = 200) -> int:
    """Nodes as printed, counted up to `cap` (a deep shared DAG is not unfolded)."""
    n, stack = 0, [e]
    while stack and n < cap:
        x = stack.pop()
        n += 1
        stack.extend(x.args)
    return n


# --------------------------------------------------------------------------
# elementwise regions ↔ sympy


class _Sym:
    """One translation: nodes ↔ symbols, numbered in order of appearance (sympy orders by name)."""

    def __init__(self, ctx: TidyContext):
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
        if op in ("mul", "div", "add", "neg", "pow") and not (op == "add" and id(e) in alg.FORWARD and not top):
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
        if not top and (alg.copied_row(e) or alg.copied_column(e)):  # 𝟏 r is r, broadcast, in ∘ and +
            self.ops += 1
            return self.to(e.args[1] if alg.copied_row(e) else e.args[0])
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


def simplify_region(e: Expr, ctx: TidyContext, retidy: Callable[[Expr], Expr]) -> Expr:
    """e's elementwise region simplified by sympy, if that prints shorter; `retidy` tidies the result."""
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
    return best if best is e else retidy(best)  # the rebuilt products may hold new regions (𝟏 (s / sqrt(v)))


_LARGEST_REGION = 96  # algebra nodes in one region sympy is asked to simplify (batch norm's are < 40)


def _region_ops(e: Expr, ctx: TidyContext, limit: int = 2) -> int:
    """The algebra nodes `_Sym.to` would count, up to `limit`, found without sympy."""
    count, stack = 0, [(e, True)]
    while stack and count < limit:
        x, top = stack.pop()
        if id(x) in ctx.names and not top:
            continue
        if x.op in ("mul", "div", "add", "neg", "pow") and not (x.op == "add" and id(x) in alg.FORWARD and not top):
            count += 1
            stack.extend((a, False) for a in x.args)
        elif not top and (alg.copied_row(x) or alg.copied_column(x)):
            count += 1
            stack.append((x.args[1] if alg.copied_row(x) else x.args[0], False))
        elif x.op == "fn" and x.param("name") == "sqrt" and x.param("order") == 0:
            count += 1
            stack.append((x.args[0], False))
    return count


def _printed_size(e: Expr, ctx: TidyContext) -> int:
    """Nodes as printed (a shared w ∘ u counts twice), other ops' nodes as one: the reader's measure."""
    if id(e) in ctx.names:
        return 1
    if e.op not in REGION or (e.op == "add" and id(e) in alg.FORWARD):
        return tree_size(e, 50)  # an unnamed sqrt(v + 1e-5) is longer than the file's istd
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


def _substitute_names(x: Any, tr: _Sym, ctx: TidyContext) -> Any:
    """The file's elementwise definitions put back by name: 1/sqrt(v + ε) → istd.

    Each definition is filed under its rarest symbol, so a region looks only at the
    definitions it could contain: a file of 4,000 statements stays linear."""
    if ctx.defs is None:
        defs = []
        for node in ctx.nodes.values():
            if node.op not in REGION or node.op == "const" or id(node) not in ctx.names:
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
