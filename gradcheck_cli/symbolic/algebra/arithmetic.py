"""The rewrites of sums and products: +, −, scaling, ∘, /, matrix products,
transposes, sums over axes and diag, which call one another as the algebra does."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import Dim, broadcast, is_scalar
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.algebra.base import (
    FORWARD, build, const, const_value, copied, copied_column, dim_symbol, eye, has_qualifier,
    is_const, is_decay, is_literal, is_negative, is_zero, named_value, number, ones, remember,
    same_shape, split_coef, symmetric_form, transposes_away, zeros, zeros_like,
)


def add(a: Expr, b: Expr) -> Expr:
    if is_zero(a) and (is_scalar(a.shape) or same_shape(a.shape, b.shape)):
        return b
    if is_zero(b) and (is_scalar(b.shape) or same_shape(a.shape, b.shape)):
        return a
    if is_const(a) and is_const(b):
        return const(const_value(a) + const_value(b))
    if is_literal():
        return remember(build("add", (a, b)))
    if not same_shape(a.shape, b.shape):  # broadcasting sums stay as written
        return build("add", (a, b))
    terms = _collect(_terms(a) + _terms(b))
    return _sum_of(terms) if terms else zeros_like(a.shape)  # everything cancelled: a − a = 0


def add_all(items: list[Expr]) -> Expr:
    """a₁ + a₂ + … + aₙ with the terms collected once: the T contributions to a weight shared by T
    unrolled steps. Adding them two at a time re-collected the growing sum at every addition."""
    first = items[0]
    plain = not is_literal() and all(same_shape(e.shape, first.shape) and not is_const(e) for e in items)
    if len(items) < 3 or not plain:
        out = first
        for e in items[1:]:
            out = add(out, e)
        return out
    terms = _collect([t for e in items if not is_zero(e) for t in _terms(e)])
    return _sum_of(terms) if terms else zeros_like(first.shape)


def _terms(e: Expr) -> list[tuple[Any, Expr]]:
    """c₁·t₁ + c₂·t₂ + …, not looking inside the file's own sums (they keep their names)."""
    if e.op == "add" and id(e) not in FORWARD and same_shape(e.args[0].shape, e.args[1].shape):
        return _terms(e.args[0]) + _terms(e.args[1])
    if e.op == "neg" and e.args[0].op == "add" and id(e.args[0]) not in FORWARD:
        return [(-c, t) for c, t in _terms(e.args[0])]
    return [split_coef(e)]


def _collect(terms: list[tuple[Any, Expr]]) -> list[tuple[Any, Expr]]:
    """Like terms combined (x + x = 2x); then A x + B x = (A + B) x."""
    acc: dict[int, list[Any]] = {}
    for c, t in terms:
        if id(t) in acc:
            acc[id(t)][0] += c
        else:
            acc[id(t)] = [c, t]
    merged = [(c, t) for c, t in acc.values() if c != 0]
    groups: dict[int, list[tuple[Any, Expr]]] = {}
    for c, t in merged:
        if t.op == "matmul":
            groups.setdefault(id(t.args[1]), []).append((c, t))
    out: list[tuple[Any, Expr]] = []
    done: set[int] = set()
    for c, t in merged:
        if id(t) in done:
            continue
        group = groups.get(id(t.args[1]), []) if t.op == "matmul" else []
        if len(group) >= 2:
            left = None
            for gc, gt in group:
                term = scale(gc, gt.args[0])
                left = term if left is None else add(left, term)
            assert left is not None
            out.append((Fraction(1), matmul(left, t.args[1])))
            done.update(id(gt) for _, gt in group)
        else:
            out.append((c, t))
            done.add(id(t))
    return out


def _sum_of(terms: list[tuple[Any, Expr]]) -> Expr:
    if not terms:
        raise AssertionError("empty sum")
    # a size in every coefficient comes out: −Y/N + P/N = (P − Y) / N (a batch mean's 1/N)
    k = terms[0][0]
    if len(terms) > 1 and not isinstance(k, Fraction):  # a Fraction holds no size: no sympy needed
        k = sp.sympify(k)
        if not k.is_number and all((sp.sympify(c) / k).is_Rational for c, _ in terms):
            k = -k if k.could_extract_minus_sign() else k
            return scale(k, _sum_of([(sp.sympify(c) / k, t) for c, t in terms]))
    # positive terms first (−a + b reads b − a), and A before Aᵀ
    terms = sorted(terms, key=lambda p: (is_negative(p[0]), p[1].op == "T", is_decay(p[1])))
    if len(terms) > 1 and not copied_column(terms[0][1]):  # X − v 𝟏ᵀ/B = X − v/B, broadcasting
        terms = [(c, t.args[0] if copied_column(t) else t) for c, t in terms]
    if len(terms) > 1 and copied(terms[0][1]) is None and not any(t.op == "eye" for _, t in terms):
        terms = [(c, copied(t) or t) for c, t in terms]  # X − 𝟏 r/N = X − r/N (not I − 𝟏 pᵀ: a Jacobian)
    out = scale(terms[0][0], terms[0][1])
    for c, t in terms[1:]:
        out = build("add", (out, scale(c, t)))
    return out


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


def scale(c: Any, e: Expr) -> Expr:
    c = number(c)
    if c == 0:
        return zeros_like(e.shape)
    if c == 1:
        return e
    if c == -1:
        return neg(e)
    return mul(const(c), e)


def neg(a: Expr) -> Expr:
    if is_const(a):
        return const(-const_value(a))
    if is_literal():
        return remember(build("neg", (a,)))
    if a.op == "neg":
        return a.args[0]
    if is_zero(a):
        return a
    if a.op == "mul" and is_const(a.args[0]):
        return scale(-const_value(a.args[0]), a.args[1])
    if a.op == "add" and a.args[1].op == "neg":  # −(a − b) = b − a
        return add(a.args[1].args[0], neg(a.args[0]))
    return build("neg", (a,))


def mul(a: Expr, b: Expr) -> Expr:
    if is_const(a) and is_const(b):
        return const(const_value(a) * const_value(b))
    if is_const(b) and not is_const(a):
        a, b = b, a
    if is_const(a):
        out = _mul_by_constant(a, b)
        if out is not None:
            return out
    if is_zero(a) and same_shape(a.shape, broadcast(a.shape, b.shape)):
        return a
    if is_zero(b) and same_shape(b.shape, broadcast(a.shape, b.shape)):
        return b
    if is_literal():
        return build("mul", (a, b))
    if is_scalar(b.shape) and not is_scalar(a.shape):
        a, b = b, a  # scalar factors first: c x
    out = _mul_factors(a, b)
    if out is None:
        out = _mul_broadcast(a, b)
    return out if out is not None else build("mul", (a, b))


def _mul_by_constant(a: Expr, b: Expr) -> Expr | None:
    """c b for a constant c: 1 b, 0 b, −b, and constants gathered into one."""
    c = const_value(a)
    if c == 1:
        return b
    if c == 0:
        return zeros_like(b.shape)
    if c == -1:
        return neg(b)
    if b.op == "mul" and is_const(b.args[0]):
        return mul(const(c * const_value(b.args[0])), b.args[1])
    if b.op == "neg":
        return mul(const(-c), b.args[0])
    return None


def _mul_factors(a: Expr, b: Expr) -> Expr | None:
    """Signs and scalar factors move to the front: (−x) ∘ y = −(x ∘ y), c (x ∘ y)."""
    if a.op == "neg":
        return neg(mul(a.args[0], b))
    if b.op == "neg":
        return neg(mul(a, b.args[0]))
    if b.op == "mul" and is_const(b.args[0]) and not is_const(a):
        return mul(b.args[0], mul(a, b.args[1]))
    if a.op == "mul" and is_const(a.args[0]) and not is_const(b) \
            and not (b.op == "mul" and is_scalar(b.args[0].shape)):  # (c x) ∘ b = c (x ∘ b); scalars gather below
        return mul(a.args[0], mul(a.args[1], b))
    if is_scalar(a.shape) and not is_const(a) and b.op == "mul" and is_scalar(b.args[0].shape) \
            and not is_scalar(b.shape):
        return mul(mul(a, b.args[0]), b.args[1])  # scalars gather on the left
    return None


def _mul_broadcast(a: Expr, b: Expr) -> Expr | None:
    """What a product of ones, copies and quotients reduces to (𝟏 ∘ x = x, x ∘ (y / x) = y)."""
    # 𝟏 ∘ x = x where the ones only broadcast (softmax over a batch: P ∘ 𝟏ᵀ from Σ of one-hot columns)
    for p, q in ((a, b), (b, a)):
        if p.op == "ones" and same_shape(q.shape, broadcast(a.shape, b.shape)):
            return q
    # (c 𝟏) ∘ x = c x
    if a.op == "mul" and is_const(a.args[0]) and a.args[1].op == "ones" and same_shape(a.shape, b.shape):
        return scale(const_value(a.args[0]), b)
    if b.op == "mul" and is_const(b.args[0]) and b.args[1].op == "ones" and same_shape(a.shape, b.shape):
        return scale(const_value(b.args[0]), a)
    # (v 𝟏ᵀ) ∘ X = v ∘ X: a column copied over the columns is what broadcasting does
    for p, q in ((a, b), (b, a)):
        v = copied(p)
        if v is not None and same_shape(p.shape, q.shape):
            return mul(v, q) if p is a else mul(q, v)
    # ones ∘ x = x (same shape)
    if a.op == "ones" and same_shape(a.shape, b.shape):
        return b
    if b.op == "ones" and same_shape(a.shape, b.shape):
        return a
    # a ∘ (1 / b) = a / b
    if b.op == "div" and is_const(b.args[0], 1) and same_shape(a.shape, b.shape) and not is_const(a):
        return div(a, b.args[1])  # (c · 1/x stays: c/x is written c (1/x), see div)
    if a.op == "div" and is_const(a.args[0], 1) and same_shape(a.shape, b.shape) and not is_const(b):
        return div(b, a.args[1])
    # x ∘ (y / x) = y
    if b.op == "div" and b.args[1] is a and same_shape(b.args[0].shape, b.shape):
        return b.args[0]
    if a.op == "div" and a.args[1] is b and same_shape(a.args[0].shape, a.shape):
        return a.args[0]
    return None


def div(a: Expr, b: Expr) -> Expr:
    if is_literal() and not (is_const(a) and is_const(b)):
        return remember(build("div", (a, b)))
    if is_const(b):
        c = const_value(b)
        if c == 1:
            return a
        return scale(1 / c, a) if not is_const(a) else const(const_value(a) / c)
    if is_zero(a):
        return a if same_shape(a.shape, b.shape) or is_scalar(b.shape) else build("div", (a, b))
    if a.op == "neg":
        return neg(div(a.args[0], b))
    if a.op == "mul" and is_const(a.args[0]) and not is_const(a.args[1]):
        return mul(a.args[0], div(a.args[1], b))
    if is_const(a) and const_value(a) != 1:  # c / x = c (1 / x): the constant joins the others outside
        return scale(const_value(a), div(const(1), b))
    if a is b:
        return ones(*a.shape) if not is_scalar(a.shape) else const(1)
    return build("div", (a, b))


def matmul(a: Expr, b: Expr, simplify_diag: bool = True) -> Expr:
    """A B; a 1×1 factor is a scalar wherever a scalar fits."""
    if is_scalar(a.shape) or is_scalar(b.shape):
        return mul(a, b)
    if is_literal():
        return remember(build("matmul", (a, b)))
    if a.op == "eye":
        return b
    if b.op == "eye":
        return a
    if is_zero(a) or is_zero(b):
        return zeros(a.shape[0], b.shape[1])
    if a.op == "neg":
        return neg(matmul(a.args[0], b, simplify_diag))
    if b.op == "neg":
        return neg(matmul(a, b.args[0], simplify_diag))
    if a.op == "mul" and is_const(a.args[0]):
        return mul(a.args[0], matmul(a.args[1], b, simplify_diag))
    if b.op == "mul" and is_const(b.args[0]):
        return mul(b.args[0], matmul(a, b.args[1], simplify_diag))
    if a.shape[0].is_one and b.op == "ones" and b.shape[1].is_one:  # aᵀ 𝟏 = Σ a (= 1 for a one-hot a)
        return sum_(T(a), None)
    if a.shape[0].is_one and b.op == "matmul" and b.args[0].op == "ones" and b.args[0].shape[1].is_one:
        return matmul(matmul(a, b.args[0], simplify_diag), b.args[1], simplify_diag)  # (aᵀ𝟏) pᵀ
    if a.shape[0].is_one and b.op == "add" and any(t.op == "eye" for t in b.args):
        # yᵀ (I − 𝟏 pᵀ) = yᵀ − (yᵀ𝟏) pᵀ: a row times identity-plus-something (softmax's Jacobian)
        return add(matmul(a, b.args[0], simplify_diag), matmul(a, b.args[1], simplify_diag))
    if a.op == "ones" and b.op == "ones":  # 𝟏(n×k) 𝟏(k×B) = k 𝟏(n×B): a sum broadcast back
        return scale(dim_symbol(a.shape[1]), ones(a.shape[0], b.shape[1]))
    if a.op == "diag" and b.op == "diag":  # diag(o) diag(1 − tanh²(c)) = diag(o ∘ (1 − tanh²(c)))
        return diag(mul(a.args[0], b.args[0]))
    if b.op == "diag" and a.op == "matmul" and a.args[1].op == "diag":  # (uᵀ diag(o)) diag(f′) likewise
        return matmul(a.args[0], diag(mul(a.args[1].args[0], b.args[0])), simplify_diag)
    if simplify_diag and a.op == "diag" and b.shape[1].is_one:  # diag(a) b = a ∘ b
        return mul(a.args[0], b)
    if simplify_diag and b.op == "diag" and a.shape[0].is_one:  # aᵀ diag(b) = (a ∘ b)ᵀ
        return T(mul(T(a), b.args[0]))
    return build("matmul", (a, b))


def T(a: Expr) -> Expr:
    if is_scalar(a.shape):
        return a
    op = a.op
    if op == "T":
        return a.args[0]
    if is_literal():
        return build("T", (a,))
    if has_qualifier(a, "symmetric") or has_qualifier(a, "spd") or symmetric_form(a):
        return a
    if op in ("eye", "diag"):
        return a
    if op in ("ones", "zeros"):
        return build(op, (), rows=a.shape[1], cols=a.shape[0])
    if op == "matmul":
        return matmul(T(a.args[1]), T(a.args[0]))
    if op == "add" and id(a) not in FORWARD:  # the file's sums keep their names: rᵀ, not xᵀWᵀ − yᵀ
        return add(T(a.args[0]), T(a.args[1]))
    if op == "neg":
        return neg(T(a.args[0]))
    if op == "mul" and is_const(a.args[0]):
        return mul(a.args[0], T(a.args[1]))
    if op == "div" and id(a) in FORWARD and named_value(a):  # the file's h = relu(z) ∘ m / p: hᵀ, by name
        return build("T", (a,))
    if op == "div" and is_scalar(a.args[1].shape):
        return div(T(a.args[0]), a.args[1])
    if op == "div" and same_shape(a.args[0].shape, a.args[1].shape):  # (Y / P)ᵀ = Yᵀ / Pᵀ, entry by entry
        return div(T(a.args[0]), T(a.args[1]))
    if op == "mul" and is_scalar(a.args[0].shape):
        return mul(a.args[0], T(a.args[1]))
    if op == "mul" and is_scalar(a.args[1].shape):
        return mul(T(a.args[0]), a.args[1])
    if op == "inv" and (has_qualifier(a.args[0], "symmetric") or has_qualifier(a.args[0], "spd")):
        return a
    if op == "mul" and not named_value(a) and all(transposes_away(x) for x in a.args):
        return mul(T(a.args[0]), T(a.args[1]))  # (Pᵀ ∘ s)ᵀ = P ∘ sᵀ: ∘ commutes with ᵀ, broadcasting too
    if op == "sum" and a.param("axis") is not None and not named_value(a) and transposes_away(a.args[0]):
        return sum_(T(a.args[0]), 1 - a.param("axis"))  # sum(Yᵀ, axis=0)ᵀ = sum(Y, axis=1)
    return build("T", (a,))


def sum_(a: Expr, axis: int | None) -> Expr:
    r, c = a.shape
    if is_scalar(a.shape):
        return a
    if axis == 0 and c.is_one:
        axis = None
    if axis == 1 and c.is_one:
        return a
    if axis == 1 and r.is_one:
        axis = None
    if axis == 0 and r.is_one:
        return a
    if is_literal():
        return remember(build("sum", (a,), axis=axis))
    if a.op == "neg":
        return neg(sum_(a.args[0], axis))
    if a.op == "mul" and is_const(a.args[0]):
        return mul(a.args[0], sum_(a.args[1], axis))
    # one-hot labels sum to 1 along their one-hot axis: Σ y = 1, sum(Y, axis=0) = 𝟏ᵀ (columns), rows alike
    if has_qualifier(a, "onehot") and axis in (None, 0):
        return const(dim_symbol(c)) if axis is None else ones(Dim.of(1), c)
    if has_qualifier(a, "onehot_rows") and axis in (None, 1):
        return const(dim_symbol(r)) if axis is None else ones(r, Dim.of(1))
    if a.op == "T" and axis is not None and (has_qualifier(a.args[0], "onehot") or
                                             has_qualifier(a.args[0], "onehot_rows")):
        return T(sum_(a.args[0], 1 - axis))  # sum(Yᵀ, axis=0) = sum(Y, axis=1)ᵀ
    if axis is None and a.op == "ones":
        return const(dim_symbol(r) * dim_symbol(c))
    if axis is None and a.op == "mul" and c.is_one and same_shape(a.args[0].shape, a.args[1].shape) and not is_literal():
        return matmul(T(a.args[0]), a.args[1])  # Σ a ∘ b = aᵀ b
    return build("sum", (a,), axis=axis)


def diag(v: Expr) -> Expr:
    if is_scalar(v.shape):
        return v
    if v.op == "ones" and not is_literal():  # diag(𝟏) = I
        return eye(v.shape[0])
    return build("diag", (v,))
