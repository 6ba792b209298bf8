"""Arithmetic: add, neg, elementwise mul and div, matmul, transpose, powers."""

from __future__ import annotations

from typing import Any

from gradcheck_cli.shapes import Dim, Shape, env, is_scalar
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.table import (
    ATOM, POSTFIX, PROD, SUM, UNARY, OpRule, ShapeMismatch, register,
)
from gradcheck_cli.symbolic.ops.common import (
    bshape, describe, diag_col, np_transpose, operand, same_shape, sym_elementwise, unbroadcast,
    vector_jac,
)


def _sympy_matmul(a: Any, b: Any) -> Any:
    return a * b


register(OpRule(
    "add", 2, shape=bshape("add"),
    numpy=lambda ctx, a, b: a + b,
    sympy=sym_elementwise(lambda x, y: x + y),
    vjp=lambda g, out, a, b: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)),
    jac=vector_jac(lambda out, i, a, b: _bcast_identity(out, (a, b)[i])),
    prec=SUM, arg_prec=(SUM, PROD), gate="add distributes",
    show={"dsl": "{0} + {1}", "text": "{0} + {1}", "latex": "{0} + {1}"},
    doc="a + b, broadcasting; the gradient flows unchanged to both (summed over broadcast axes)",
))

register(OpRule(
    "neg", 1, shape=same_shape,
    numpy=lambda ctx, a: -a, sympy=lambda a: -a,
    vjp=lambda g, out, a: (alg.neg(g),),
    jac=vector_jac(lambda out, i, a: alg.neg(alg.eye(a.shape[0] if not a.shape[0].is_one else a.shape[1]))),
    prec=UNARY, arg_prec=(UNARY,),
    show={"dsl": "-{0}", "text": "−{0}", "latex": "-{0}"},
    doc="-a; the gradient is negated",
))

register(OpRule(
    "mul", 2, shape=bshape("multiply elementwise"),
    numpy=lambda ctx, a, b: a * b,
    sympy=sym_elementwise(lambda x, y: x * y),
    vjp=lambda g, out, a, b: (unbroadcast(alg.mul(g, b), a.shape), unbroadcast(alg.mul(g, a), b.shape)),
    jac=vector_jac(lambda out, i, a, b: _mul_jac(out, (a, b)[i], (b, a)[i])),
    prec=PROD, arg_prec=(PROD, UNARY), gate="multiply swaps",
    show={"dsl": "{0} * {1}", "text": "{0} ∘ {1}", "latex": r"{0} \odot {1}"},
    doc="a ∘ b (Hadamard, broadcasting; a scalar scales); each input's gradient is g ∘ the other input",
))

register(OpRule(
    "div", 2, shape=bshape("divide"),
    numpy=lambda ctx, a, b: a / b,
    sympy=sym_elementwise(lambda x, y: x / y),
    vjp=lambda g, out, a, b: (unbroadcast(alg.div(g, b), a.shape),
                              unbroadcast(alg.neg(alg.div(alg.mul(g, out), b)), b.shape)),
    jac=vector_jac(lambda out, i, a, b: _mul_jac(out, (a, b)[i], alg.div(alg.const(1), b)) if i == 0
                    else _mul_jac(out, b, alg.neg(alg.div(out, b)))),
    prec=PROD, arg_prec=(PROD, UNARY),
    show={"dsl": "{0} / {1}", "text": "{0} / {1}", "latex": r"{0} \oslash {1}"},
    doc="a / b elementwise; da = g / b, db = −g ∘ (a/b) / b",
))


def _matmul_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    a, b = args
    if not env().same(a.shape[1], b.shape[0]):
        hint = None
        if env().same(b.shape[1], a.shape[0]):
            hint = f"did you mean `{operand(b)} {operand(a)}`?"
        elif env().same(a.shape[0], b.shape[0]):
            hint = f"did you mean `{operand(a)}^T {operand(b)}`?"
        raise ShapeMismatch(f"cannot multiply {describe(a)} by {describe(b)}: "
                            f"inner sizes {a.shape[1]} and {b.shape[0]} differ", hint)
    return (a.shape[0], b.shape[1])


def _matmul_jac(out: Expr, i: int, a: Expr, b: Expr) -> Expr | None:
    if i == 1 and b.shape[1].is_one:  # A x: ∂/∂x = A
        return a
    if i == 0 and a.shape[0].is_one and b.shape[1].is_one:  # aᵀ-row · x: ∂/∂a = xᵀ
        return alg.T(b)
    if i == 0 and a.shape[0].is_one:  # row · B: out_j = Σ a_k B_kj → ∂/∂a = Bᵀ
        return alg.T(b)
    return None


register(OpRule(
    "matmul", 2, shape=_matmul_shape,
    numpy=lambda ctx, a, b: a @ b, sympy=_sympy_matmul,
    vjp=lambda g, out, a, b: (alg.matmul(g, alg.T(b)), alg.matmul(alg.T(a), g)),
    jac=vector_jac(_matmul_jac),
    prec=PROD, arg_prec=(PROD, POSTFIX), gate="multiply swaps",
    show={"dsl": "{0} {1}", "text": "{0} {1}", "latex": "{0} {1}"},
    doc="A B (m×k · k×n); dA = G Bᵀ (m×k), dB = Aᵀ G (k×n)",
))

register(OpRule(
    "T", 1, shape=lambda args, **p: (args[0].shape[1], args[0].shape[0]),
    numpy=lambda ctx, a: np_transpose(a), sympy=lambda a: a.T,
    vjp=lambda g, out, a: (alg.T(g),),
    jac=vector_jac(lambda out, i, a: alg.eye(a.shape[0] if not a.shape[0].is_one else a.shape[1])),
    prec=POSTFIX, arg_prec=(POSTFIX,),
    show={"dsl": "{0}^T", "text": "{0}ᵀ", "latex": r"{0}^\top"},
    doc="Aᵀ; the gradient is transposed back",
))


def _pow_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    k = out.param("k")
    return (alg.mul(g, alg.mul(alg.const(k), alg.pow_(a, k - 1))),)


register(OpRule(
    "pow", 1, shape=same_shape,
    numpy=lambda ctx, a, k: a ** float(k) if not float(k).is_integer() else a ** int(k),
    sympy=lambda a, k: a.applyfunc(lambda t: t ** k),
    vjp=_pow_vjp,
    jac=vector_jac(lambda out, i, a: diag_col(alg.mul(alg.const(out.param("k")), alg.pow_(a, out.param("k") - 1)))),
    prec=POSTFIX, arg_prec=(ATOM,),
    show={"dsl": "{0}^{k}", "text": "{0}{k_sup}", "latex": "{0}^{{{k}}}"},
    doc="a^k elementwise; da = g ∘ k a^(k−1)",
))


# --------------------------------------------------------------------------
# Jacobian helpers


def _bcast_identity(out: Expr, a: Expr) -> Expr:
    """∂(a + b)/∂a: the identity, or a column of ones when a scalar was broadcast."""
    n = out.shape[0] if not out.shape[0].is_one else out.shape[1]
    if is_scalar(a.shape) and not is_scalar(out.shape):
        return alg.ones(n, Dim.of(1))
    return alg.eye(n)


def _mul_jac(out: Expr, a: Expr, other: Expr) -> Expr:
    """∂(a ∘ b)/∂a = diag(b); a scalar a gives the column b; a scalar b gives b I."""
    if is_scalar(out.shape):
        return other
    if is_scalar(a.shape):
        return other if other.shape[1].is_one else alg.T(other)
    if is_scalar(other.shape):
        return alg.mul(other, alg.eye(a.shape[0] if not a.shape[0].is_one else a.shape[1]))
    return alg.diag(other if other.shape[1].is_one else alg.T(other))
