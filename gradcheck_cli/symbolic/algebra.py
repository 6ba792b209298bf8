"""Smart constructors: build an expression and simplify it on the way.

Every node of a derivation is built here, so the simplifications the lecture
does by hand happen once, in one place, for every op's rule: no Aᵀᵀ, no 1·x,
no x + 0, (AB)ᵀ = BᵀAᵀ, diag(a) b = a ∘ b, A x + B x = (A + B) x, x + x = 2x,
p ∘ (y / p) = y, Σ of a one-hot = 1, log(softmax(z)) = log_softmax(z).
Each rule shrinks or keeps the size of the expression, so simplification
terminates and a derivation stays finite.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from gradcheck_cli.symbolic.expr import Expr, make
from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import SCALAR, Dim, Shape, broadcast, env, is_scalar
from gradcheck_cli.symbolic.table import OPS


_LITERAL = [False]


class literal:
    """Build what the user wrote: lowering keeps `xᵀAx + xᵀSx` as two terms and
    `(W x)ᵀ` as a transpose; only derivations get the algebraic rewrites."""

    def __enter__(self) -> None:
        _LITERAL.append(True)

    def __exit__(self, *exc: object) -> None:
        _LITERAL.pop()


def _lit() -> bool:
    return _LITERAL[-1]


def _build(op: str, args: tuple[Expr, ...], **params: Any) -> Expr:
    rule = OPS[op]
    shape = rule.shape(args, **params)
    return make(op, args, tuple(sorted(params.items())), shape)


# --------------------------------------------------------------------------
# leaves


def var(name: str, shape: Shape, qualifiers: tuple[str, ...] = ()) -> Expr:
    return make("var", (), (("name", name), ("qualifiers", tuple(sorted(qualifiers)))), shape)


def const(value: Any, written: str | None = None) -> Expr:
    """A number; `written` keeps a decimal as the file wrote it (1e-5, where sympy would say 1/100000)."""
    v = number(value)
    params: tuple[tuple[str, Any], ...] = (("value", v),)
    if written is not None and not (isinstance(v, Fraction) and v.denominator == 1):
        params += (("written", written),)
    return make("const", (), params, SCALAR)


def number(value: Any) -> Any:
    """A constant as expressions keep it: a rational as a Fraction (exact, and the numeric
    path needs no sympy), anything else (a float literal, a size n) as sympy. One kind per
    value, so hash-consing sees 1/2 from anywhere as the same constant."""
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float):
        value = sp.nsimplify(value)
    elif not type(value).__module__.startswith("sympy"):
        value = sp.sympify(value)
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    return value


def is_negative(c: Any) -> bool:
    """A constant known to be < 0 (a size n, a symbol, is not)."""
    if isinstance(c, Fraction):
        return c < 0
    c = sp.sympify(c)
    return bool(c.is_number and c < 0)


def ones(rows: Dim, cols: Dim) -> Expr:
    return _build("ones", (), rows=rows, cols=cols)


def zeros(rows: Dim, cols: Dim) -> Expr:
    return _build("zeros", (), rows=rows, cols=cols)


def eye(n: Dim) -> Expr:
    if n.is_one:
        return const(1)
    return _build("eye", (), rows=n, cols=n)


def const_value(e: Expr) -> Any:
    return e.param("value") if e.op == "const" else None


def is_const(e: Expr, value: Any = None) -> bool:
    if e.op != "const":
        return False
    return value is None or e.param("value") == value


def is_zero(e: Expr) -> bool:
    return e.op == "zeros" or is_const(e, 0)


def has_qualifier(e: Expr, q: str) -> bool:
    return e.op == "var" and q in e.param("qualifiers", ())


def _same(a: Shape, b: Shape) -> bool:
    """The same shape symbolically. Rewrites must hold for every size, since derive keeps n, m
    symbolic: under `dims n = 1` an n-vector is not a scalar here (lowering still accepts
    what the file's sizes make agree, like `W : n x 6` with `dims n = 6`)."""
    return a == b


def _zeros_like(shape: Shape) -> Expr:
    return const(0) if is_scalar(shape) else zeros(*shape)


def _split_coef(e: Expr) -> tuple[Any, Expr]:
    """c·core: the scalar constant factor of an expression (1 if none)."""
    if e.op == "neg":
        c, core = _split_coef(e.args[0])
        return -c, core
    if e.op == "mul" and is_const(e.args[0]):
        c, core = _split_coef(e.args[1])
        return const_value(e.args[0]) * c, core
    return Fraction(1), e


# --------------------------------------------------------------------------
# arithmetic


def add(a: Expr, b: Expr) -> Expr:
    if is_zero(a) and (is_scalar(a.shape) or _same(a.shape, b.shape)):
        return b
    if is_zero(b) and (is_scalar(b.shape) or _same(a.shape, b.shape)):
        return a
    if is_const(a) and is_const(b):
        return const(const_value(a) + const_value(b))
    if _lit():
        return _remember(_build("add", (a, b)))
    if not _same(a.shape, b.shape):  # broadcasting sums stay as written
        return _build("add", (a, b))
    terms = _collect(_terms(a) + _terms(b))
    return _sum_of(terms) if terms else _zeros_like(a.shape)  # everything cancelled: a − a = 0


def _terms(e: Expr) -> list[tuple[Any, Expr]]:
    """c₁·t₁ + c₂·t₂ + …, not looking inside the file's own sums (they keep their names)."""
    if e.op == "add" and id(e) not in _FORWARD and _same(e.args[0].shape, e.args[1].shape):
        return _terms(e.args[0]) + _terms(e.args[1])
    if e.op == "neg" and e.args[0].op == "add" and id(e.args[0]) not in _FORWARD:
        return [(-c, t) for c, t in _terms(e.args[0])]
    return [_split_coef(e)]


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
    terms = sorted(terms, key=lambda p: (is_negative(p[0]), p[1].op == "T", _decay(p[1])))
    if len(terms) > 1 and not _copied_column(terms[0][1]):  # X − v 𝟏ᵀ/B = X − v/B, broadcasting
        terms = [(c, t.args[0] if _copied_column(t) else t) for c, t in terms]
    if len(terms) > 1 and _copied(terms[0][1]) is None and not any(t.op == "eye" for _, t in terms):
        terms = [(c, _copied(t) or t) for c, t in terms]  # X − 𝟏 r/N = X − r/N (not I − 𝟏 pᵀ: a Jacobian)
    out = scale(terms[0][0], terms[0][1])
    for c, t in terms[1:]:
        out = _build("add", (out, scale(c, t)))
    return out


def _decay(t: Expr) -> bool:
    """lam W: a penalty's gradient, which the notes write last (δ xᵀ + λ W)."""
    if not (t.op == "mul" and is_scalar(t.args[0].shape)):
        return False
    w = t.args[1]
    return w.op == "var" or (w.op == "fn" and w.param("name") == "sign" and w.args[0].op == "var")  # λ sign(W)


def _copied_row(t: Expr) -> bool:
    """𝟏 r: a row copied down the rows, which broadcasting writes as plain r."""
    return t.op == "matmul" and t.args[0].op == "ones" and t.args[1].shape[0].is_one \
        and not t.args[1].shape[1].is_one and t.args[0].shape[1].is_one


def _copied(t: Expr) -> Expr | None:
    """v for v 𝟏ᵀ (a column copied over the columns) and r for 𝟏 r (a row copied over the rows,
    as in batch norm over CS231n's rows): what broadcasting writes as plain v or r."""
    if _copied_column(t):
        return t.args[0]
    if t.op == "matmul" and t.args[0].op == "ones" and t.args[1].shape[0].is_one \
            and not t.args[1].shape[1].is_one and not t.args[0].shape[0].is_one:
        return t.args[1]
    return None


def _copied_column(t: Expr) -> bool:
    """v 𝟏ᵀ: a column copied over the columns, which broadcasting writes as plain v."""
    return t.op == "matmul" and t.args[1].op == "ones" and t.args[0].shape[1].is_one \
        and not t.args[0].shape[0].is_one


_FORWARD: set[int] = set()
NAMED: list[set[int]] = [set()]  # the values the file being derived assigned (scalars.context pushes them)


def _named_value(e: Expr) -> bool:
    """e is one of the current file's named values: hᵀ stays hᵀ, not (relu(W1 x) ∘ mask)ᵀ / pkeep."""
    return id(e) in NAMED[-1]


def _remember(e: Expr) -> Expr:
    _FORWARD.add(id(e))
    return e


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


def scale(c: Any, e: Expr) -> Expr:
    c = number(c)
    if c == 0:
        return _zeros_like(e.shape)
    if c == 1:
        return e
    if c == -1:
        return neg(e)
    return mul(const(c), e)


def neg(a: Expr) -> Expr:
    if is_const(a):
        return const(-const_value(a))
    if _lit():
        return _remember(_build("neg", (a,)))
    if a.op == "neg":
        return a.args[0]
    if is_zero(a):
        return a
    if a.op == "mul" and is_const(a.args[0]):
        return scale(-const_value(a.args[0]), a.args[1])
    if a.op == "add" and a.args[1].op == "neg":  # −(a − b) = b − a
        return add(a.args[1].args[0], neg(a.args[0]))
    return _build("neg", (a,))


def mul(a: Expr, b: Expr) -> Expr:
    if is_const(a) and is_const(b):
        return const(const_value(a) * const_value(b))
    if is_const(b) and not is_const(a):
        a, b = b, a
    if is_const(a):
        c = const_value(a)
        if c == 1:
            return b
        if c == 0:
            return _zeros_like(b.shape)
        if c == -1:
            return neg(b)
        if b.op == "mul" and is_const(b.args[0]):
            return mul(const(c * const_value(b.args[0])), b.args[1])
        if b.op == "neg":
            return mul(const(-c), b.args[0])
    if is_zero(a) and _same(a.shape, broadcast(a.shape, b.shape)):
        return a
    if is_zero(b) and _same(b.shape, broadcast(a.shape, b.shape)):
        return b
    if _lit():
        return _build("mul", (a, b))
    if is_scalar(b.shape) and not is_scalar(a.shape):
        a, b = b, a  # scalar factors first: c x
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
    # 𝟏 ∘ x = x where the ones only broadcast (softmax over a batch: P ∘ 𝟏ᵀ from Σ of one-hot columns)
    for p, q in ((a, b), (b, a)):
        if p.op == "ones" and _same(q.shape, broadcast(a.shape, b.shape)):
            return q
    # (c 𝟏) ∘ x = c x
    if a.op == "mul" and is_const(a.args[0]) and a.args[1].op == "ones" and _same(a.shape, b.shape):
        return scale(const_value(a.args[0]), b)
    if b.op == "mul" and is_const(b.args[0]) and b.args[1].op == "ones" and _same(a.shape, b.shape):
        return scale(const_value(b.args[0]), a)
    # (v 𝟏ᵀ) ∘ X = v ∘ X: a column copied over the columns is what broadcasting does
    for p, q in ((a, b), (b, a)):
        v = _copied(p)
        if v is not None and _same(p.shape, q.shape):
            return mul(v, q) if p is a else mul(q, v)
    # ones ∘ x = x (same shape)
    if a.op == "ones" and _same(a.shape, b.shape):
        return b
    if b.op == "ones" and _same(a.shape, b.shape):
        return a
    # a ∘ (1 / b) = a / b
    if b.op == "div" and is_const(b.args[0], 1) and _same(a.shape, b.shape) and not is_const(a):
        return div(a, b.args[1])  # (c · 1/x stays: c/x is written c (1/x), see div)
    if a.op == "div" and is_const(a.args[0], 1) and _same(a.shape, b.shape) and not is_const(b):
        return div(b, a.args[1])
    # x ∘ (y / x) = y
    if b.op == "div" and b.args[1] is a and _same(b.args[0].shape, b.shape):
        return b.args[0]
    if a.op == "div" and a.args[1] is b and _same(a.args[0].shape, a.shape):
        return a.args[0]
    return _build("mul", (a, b))


def div(a: Expr, b: Expr) -> Expr:
    if _lit() and not (is_const(a) and is_const(b)):
        return _remember(_build("div", (a, b)))
    if is_const(b):
        c = const_value(b)
        if c == 1:
            return a
        return scale(1 / c, a) if not is_const(a) else const(const_value(a) / c)
    if is_zero(a):
        return a if _same(a.shape, b.shape) or is_scalar(b.shape) else _build("div", (a, b))
    if a.op == "neg":
        return neg(div(a.args[0], b))
    if a.op == "mul" and is_const(a.args[0]) and not is_const(a.args[1]):
        return mul(a.args[0], div(a.args[1], b))
    if is_const(a) and const_value(a) != 1:  # c / x = c (1 / x): the constant joins the others outside
        return scale(const_value(a), div(const(1), b))
    if a is b:
        return ones(*a.shape) if not is_scalar(a.shape) else const(1)
    return _build("div", (a, b))


def matmul(a: Expr, b: Expr, simplify_diag: bool = True) -> Expr:
    """A B; a 1×1 factor is a scalar wherever a scalar fits."""
    if is_scalar(a.shape) or is_scalar(b.shape):
        return mul(a, b)
    if _lit():
        return _remember(_build("matmul", (a, b)))
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
    return _build("matmul", (a, b))


def T(a: Expr) -> Expr:
    if is_scalar(a.shape):
        return a
    op = a.op
    if op == "T":
        return a.args[0]
    if _lit():
        return _build("T", (a,))
    if has_qualifier(a, "symmetric") or has_qualifier(a, "spd") or symmetric_form(a):
        return a
    if op in ("eye", "diag"):
        return a
    if op in ("ones", "zeros"):
        return _build(op, (), rows=a.shape[1], cols=a.shape[0])
    if op == "matmul":
        return matmul(T(a.args[1]), T(a.args[0]))
    if op == "add" and id(a) not in _FORWARD:  # the file's sums keep their names: rᵀ, not xᵀWᵀ − yᵀ
        return add(T(a.args[0]), T(a.args[1]))
    if op == "neg":
        return neg(T(a.args[0]))
    if op == "mul" and is_const(a.args[0]):
        return mul(a.args[0], T(a.args[1]))
    if op == "div" and id(a) in _FORWARD and _named_value(a):  # the file's h = relu(z) ∘ m / p: hᵀ, by name
        return _build("T", (a,))
    if op == "div" and is_scalar(a.args[1].shape):
        return div(T(a.args[0]), a.args[1])
    if op == "div" and _same(a.args[0].shape, a.args[1].shape):  # (Y / P)ᵀ = Yᵀ / Pᵀ, entry by entry
        return div(T(a.args[0]), T(a.args[1]))
    if op == "mul" and is_scalar(a.args[0].shape):
        return mul(a.args[0], T(a.args[1]))
    if op == "mul" and is_scalar(a.args[1].shape):
        return mul(T(a.args[0]), a.args[1])
    if op == "inv" and (has_qualifier(a.args[0], "symmetric") or has_qualifier(a.args[0], "spd")):
        return a
    if op == "mul" and not _named_value(a) and all(_transposes_away(x) for x in a.args):
        return mul(T(a.args[0]), T(a.args[1]))  # (Pᵀ ∘ s)ᵀ = P ∘ sᵀ: ∘ commutes with ᵀ, broadcasting too
    if op == "sum" and a.param("axis") is not None and not _named_value(a) and _transposes_away(a.args[0]):
        return sum_(T(a.args[0]), 1 - a.param("axis"))  # sum(Yᵀ, axis=0)ᵀ = sum(Y, axis=1)
    return _build("T", (a,))


def _transposes_away(x: Expr) -> bool:
    """xᵀ is no longer than x: x is a transpose, a scalar, or the inside of a file's A = Bᵀ."""
    if x.op == "T" or is_scalar(x.shape):
        return True
    if x.op == "sum" and x.param("axis") is not None:
        return _transposes_away(x.args[0])
    return _named_value(make("T", (x,), (), (x.shape[1], x.shape[0])))


def symmetric_form(a: Expr) -> bool:
    """Symmetric by how it is built (Xᵀ X, X Xᵀ − I, (Xᵀ X)⁻¹): (Xᵀ X − I)ᵀ is Xᵀ X − I."""
    op = a.op
    if op in ("eye", "diag") or has_qualifier(a, "symmetric") or has_qualifier(a, "spd"):
        return True
    if op == "matmul":
        p, q = a.args
        return (p.op == "T" and p.args[0] is q) or (q.op == "T" and q.args[0] is p)
    if op in ("add",) and a.args[0].shape == a.args[1].shape:
        return all(symmetric_form(x) for x in a.args)
    if op in ("neg", "inv"):
        return symmetric_form(a.args[0])
    if op == "mul" and is_scalar(a.args[0].shape):
        return symmetric_form(a.args[1])
    return False


def pow_(a: Expr, k: Any) -> Expr:
    k = number(k)
    if k == 1:
        return a
    if k == 0:
        return ones(*a.shape) if not is_scalar(a.shape) else const(1)
    if is_const(a):
        v = const_value(a)
        if isinstance(v, Fraction) and isinstance(k, Fraction) and k.denominator == 1 and (v or k > 0):
            return const(v ** int(k))
        return const(sp.sympify(v) ** sp.sympify(k))  # in sympy: 2^(1/2) stays √2
    if a.op == "pow":
        return pow_(a.args[0], a.param("k") * k)
    return _build("pow", (a,), k=k)


def fn(name: str, a: Expr, order: int = 0, alpha: Any = None) -> Expr:
    if name == "log" and order == 0 and a.op == "softmax":
        return log_softmax(a.args[0])
    if name == "log" and order == 0 and a.op == "T" and a.args[0].op == "softmax":  # rows: softmax(S, axis=1)
        return T(log_softmax(a.args[0].args[0]))
    if name == "log" and order == 0 and a.op == "fn" and a.param("name") == "exp" and a.param("order") == 0:
        return a.args[0]
    if name == "step" and order == 0 and a.op in ("zeros", "const"):  # a structural tie: max(x, x) routes ½ each
        half = const(sp.Heaviside(a.param("value"), sp.Rational(1, 2)) if a.op == "const" else sp.Rational(1, 2))
        return half if a.op == "const" else mul(half, ones(a.shape[0], a.shape[1]))
    params: dict[str, Any] = {"name": name, "order": order}
    if alpha is not None:
        params["alpha"] = number(alpha)
    return _build("fn", (a,), **params)


def fn_derivative(out: Expr) -> Expr:
    """f′ at the node's input, as the lecture writes it (σ(z)(1 − σ(z)), 1 − tanh²)."""
    name, order, z = out.param("name"), out.param("order"), out.args[0]
    alpha = out.param("alpha")
    if order == 0:
        one = const(1)
        if name == "tanh":
            return sub(one, pow_(out, 2))
        if name == "sigmoid":
            return mul(out, sub(one, out))
        if name == "exp":
            return out
        if name == "log":
            return div(one, z)
        if name == "sqrt":
            return div(const(Fraction(1, 2)), out)
        if name == "sin":
            return fn("cos", z)
        if name == "cos":
            return neg(fn("sin", z))
        if name == "tan":
            return add(one, pow_(out, 2))
        if name == "softplus":
            return fn("sigmoid", z)
        if name == "abs":
            return fn("sign", z)  # L1's gradient reads λ sign(W)
        if name == "sign":
            return zeros(*z.shape) if not is_scalar(z.shape) else const(0)
    return fn(name, z, order + 1, alpha)


def max_(a: Expr, b: Expr) -> Expr:
    if is_const(b, 0) and not is_scalar(a.shape):
        return fn("relu", a)
    return _build("max", (a, b))


def min_(a: Expr, b: Expr) -> Expr:
    return _build("min", (a, b))


# --------------------------------------------------------------------------
# structure


def concat(*parts: Expr) -> Expr:
    if len(parts) == 1:
        return parts[0]
    return _build("concat", tuple(parts))


def rows(a: Expr, start: Dim, stop: Dim) -> Expr:
    if start == Dim() and stop == a.shape[0]:
        return a
    if a.op == "zeros":  # rows of zero are zero (prints as 0, not 0[0:m])
        return zeros(stop - start, a.shape[1])
    if a.op == "concat":  # a block of a stack is that block
        off = Dim()
        for p in a.args:
            end = off + p.shape[0]
            if off == start and end == stop:
                return p
            off = end
    return _build("rows", (a,), start=start, stop=stop)


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
    if _lit():
        return _remember(_build("sum", (a,), axis=axis))
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
    if axis is None and a.op == "mul" and c.is_one and _same(a.args[0].shape, a.args[1].shape) and not _lit():
        return matmul(T(a.args[0]), a.args[1])  # Σ a ∘ b = aᵀ b
    return _build("sum", (a,), axis=axis)


def dim_symbol(d: Dim) -> Any:
    """A dim as a sympy number (`n`, `2*d + 3`): constants may involve sizes."""
    if not d.terms:
        return Fraction(d.const)
    return sp.Integer(d.const) + sum(c * sp.Symbol(s, positive=True, integer=True) for s, c in d.terms)


def softmax(a: Expr) -> Expr:
    return _build("softmax", (a,))


def log_softmax(a: Expr) -> Expr:
    return _build("log_softmax", (a,))


def logsumexp(a: Expr) -> Expr:
    return _build("logsumexp", (a,))


def norm(a: Expr) -> Expr:
    return _build("norm", (a,))


def tr(a: Expr) -> Expr:
    return _build("tr", (a,))


def det(a: Expr) -> Expr:
    return _build("det", (a,))


def logdet(a: Expr) -> Expr:
    return _build("logdet", (a,))


def inv(a: Expr) -> Expr:
    if a.op == "inv":
        return a.args[0]
    if a.op == "eye":
        return a
    return _build("inv", (a,))


def diag(v: Expr) -> Expr:
    if is_scalar(v.shape):
        return v
    if v.op == "ones" and not _lit():  # diag(𝟏) = I
        return eye(v.shape[0])
    return _build("diag", (v,))


def diagvec(a: Expr) -> Expr:
    if a.op == "diag":
        return a.args[0]
    return _build("diagvec", (a,))
