"""The ground floor of the smart constructors: building a node, the leaves, and the
predicates the rewrites ask (is it a constant, a copied row, one of the file's named values)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import SCALAR, Dim, Shape, is_scalar
from gradcheck_cli.symbolic.expr import Expr, make
from gradcheck_cli.symbolic.table import OPS


_LITERAL = [False]


class literal:
    """Build what the user wrote: lowering keeps `xᵀAx + xᵀSx` as two terms and
    `(W x)ᵀ` as a transpose; only derivations get the algebraic rewrites."""

    def __enter__(self) -> None:
        _LITERAL.append(True)

    def __exit__(self, *exc: object) -> None:
        _LITERAL.pop()


def is_literal() -> bool:
    return _LITERAL[-1]


def build(op: str, args: tuple[Expr, ...], **params: Any) -> Expr:
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
    return build("ones", (), rows=rows, cols=cols)


def zeros(rows: Dim, cols: Dim) -> Expr:
    return build("zeros", (), rows=rows, cols=cols)


def eye(n: Dim) -> Expr:
    if n.is_one:
        return const(1)
    return build("eye", (), rows=n, cols=n)


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


def same_shape(a: Shape, b: Shape) -> bool:
    """The same shape symbolically. Rewrites must hold for every size, since derive keeps n, m
    symbolic: under `dims n = 1` an n-vector is not a scalar here (lowering still accepts
    what the file's sizes make agree, like `W : n x 6` with `dims n = 6`)."""
    return a == b


def zeros_like(shape: Shape) -> Expr:
    return const(0) if is_scalar(shape) else zeros(*shape)


def split_coef(e: Expr) -> tuple[Any, Expr]:
    """c·core: the scalar constant factor of an expression (1 if none)."""
    if e.op == "neg":
        c, core = split_coef(e.args[0])
        return -c, core
    if e.op == "mul" and is_const(e.args[0]):
        c, core = split_coef(e.args[1])
        return const_value(e.args[0]) * c, core
    return Fraction(1), e


def dim_symbol(d: Dim) -> Any:
    """A dim as a sympy number (`n`, `2*d + 3`): constants may involve sizes."""
    if not d.terms:
        return Fraction(d.const)
    return sp.Integer(d.const) + sum(c * sp.Symbol(s, positive=True, integer=True) for s, c in d.terms)


# --------------------------------------------------------------------------
# what the rewrites recognise


def is_decay(t: Expr) -> bool:
    """lam W: a penalty's gradient, which the notes write last (δ xᵀ + λ W)."""
    if not (t.op == "mul" and is_scalar(t.args[0].shape)):
        return False
    w = t.args[1]
    return w.op == "var" or (w.op == "fn" and w.param("name") == "sign" and w.args[0].op == "var")  # λ sign(W)


def copied_row(t: Expr) -> bool:
    """𝟏 r: a row copied down the rows, which broadcasting writes as plain r."""
    return t.op == "matmul" and t.args[0].op == "ones" and t.args[1].shape[0].is_one \
        and not t.args[1].shape[1].is_one and t.args[0].shape[1].is_one


def copied(t: Expr) -> Expr | None:
    """v for v 𝟏ᵀ (a column copied over the columns) and r for 𝟏 r (a row copied over the rows,
    as in batch norm over CS231n's rows): what broadcasting writes as plain v or r."""
    if copied_column(t):
        return t.args[0]
    if t.op == "matmul" and t.args[0].op == "ones" and t.args[1].shape[0].is_one \
            and not t.args[1].shape[1].is_one and not t.args[0].shape[0].is_one:
        return t.args[1]
    return None


def copied_column(t: Expr) -> bool:
    """v 𝟏ᵀ: a column copied over the columns, which broadcasting writes as plain v."""
    return t.op == "matmul" and t.args[1].op == "ones" and t.args[0].shape[1].is_one \
        and not t.args[0].shape[0].is_one


FORWARD: set[int] = set()  # the nodes lowering built from the file (its own sums keep their names)
NAMED: list[set[int]] = [set()]  # the values the file being derived assigned (scalars.context pushes them)


def named_value(e: Expr) -> bool:
    """e is one of the current file's named values: hᵀ stays hᵀ, not (relu(W1 x) ∘ mask)ᵀ / pkeep."""
    return id(e) in NAMED[-1]


def remember(e: Expr) -> Expr:
    FORWARD.add(id(e))
    return e


def transposes_away(x: Expr) -> bool:
    """xᵀ is no longer than x: x is a transpose, a scalar, or the inside of a file's A = Bᵀ."""
    if x.op == "T" or is_scalar(x.shape):
        return True
    if x.op == "sum" and x.param("axis") is not None:
        return transposes_away(x.args[0])
    return named_value(make("T", (x,), (), (x.shape[1], x.shape[0])))


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
