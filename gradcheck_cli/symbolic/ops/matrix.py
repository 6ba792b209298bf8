"""Square-matrix functions: trace, det, logdet, inverse, diag and the diagonal."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import SCALAR, Dim, Shape, env
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.table import ATOM, POSTFIX, SUM, OpRule, ShapeMismatch, register
from gradcheck_cli.symbolic.ops.common import describe


def _logdet_np(a: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(a):
        return np.log(np.linalg.det(a))[..., None, None]
    sign, logabs = np.linalg.slogdet(a)
    return np.where(sign > 0, logabs, np.nan)[..., None, None]


def _diag_np(ctx: Any, v: np.ndarray) -> np.ndarray:
    n = v.shape[-2]
    return v * np.eye(n)  # (…, n, 1) * (n, n) puts v_i on row i; mask to the diagonal


def _diagvec_np(ctx: Any, a: np.ndarray) -> np.ndarray:
    return np.diagonal(a, axis1=-2, axis2=-1)[..., None]


def _square(what: str) -> Callable[[Expr], None]:
    def check(a: Expr) -> None:
        r, c = a.shape
        if not env().same(r, c):
            raise ShapeMismatch(f"{what} needs a square matrix, but {describe(a)} is not square")
    return check


def _matrix_only(args: tuple[Expr, ...], what: str) -> Expr:
    a = args[0]
    _square(what)(a)
    return a


def _square_shape(what: str, out_scalar: bool) -> Callable[..., Shape]:
    def rule(args: tuple[Expr, ...], **p: Any) -> Shape:
        _square(what)(args[0])
        return SCALAR if out_scalar else args[0].shape
    return rule


register(OpRule(
    "tr", 1, shape=_square_shape("tr", True),
    numpy=lambda ctx, a: np.trace(a, axis1=-2, axis2=-1)[..., None, None],
    sympy=lambda a: sp.Matrix([[a.trace()]]),
    vjp=lambda g, out, a: (alg.mul(g, alg.eye(a.shape[0])),),
    doc="tr(A) (square); dA = g I",
))

register(OpRule(
    "det", 1, shape=_square_shape("det", True),
    numpy=lambda ctx, a: np.linalg.det(a)[..., None, None],
    sympy=lambda a: sp.Matrix([[a.det()]]),
    vjp=lambda g, out, a: (alg.mul(alg.mul(g, out), alg.T(alg.inv(a))),),
    doc="det(A) (square); dA = g det(A) A⁻ᵀ",
))

register(OpRule(
    "logdet", 1, shape=_square_shape("logdet", True),
    numpy=lambda ctx, a: _logdet_np(a),
    sympy=lambda a: sp.Matrix([[sp.log(a.det())]]),
    vjp=lambda g, out, a: (alg.mul(g, alg.T(alg.inv(a))),),
    doc="log det(A) (square, det > 0); dA = g A⁻ᵀ",
))


def _inv_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    t = alg.T(out)
    return (alg.neg(alg.matmul(alg.matmul(t, g), t)),)


register(OpRule(
    "inv", 1, shape=_square_shape("inv", False),
    numpy=lambda ctx, a: np.linalg.inv(a), sympy=lambda a: a.inv(), vjp=_inv_vjp,
    prec=POSTFIX, arg_prec=(POSTFIX,),
    show={"dsl": "inv({0})", "text": "{0}⁻¹", "latex": "{0}^{{-1}}"},
    doc="A⁻¹ (square); dA = −A⁻ᵀ G A⁻ᵀ",
))

register(OpRule(
    "diag", 1, shape=lambda args, **p: (args[0].shape[0], args[0].shape[0]),
    numpy=_diag_np, sympy=lambda v: sp.diag(*list(v)),
    vjp=lambda g, out, v: (alg.diagvec(g),),
    doc="diag(v): the diagonal matrix with v on its diagonal; dv = diag(G) (the diagonal of G)",
))

register(OpRule(
    "diagvec", 1, shape=lambda args, **p: (_matrix_only(args, "diag").shape[0], Dim.of(1)),
    numpy=_diagvec_np, sympy=lambda a: sp.Matrix([a[i, i] for i in range(a.shape[0])]),
    vjp=lambda g, out, a: (alg.diag(g),),
    prec=ATOM, arg_prec=(SUM,),  # a call: its argument needs no brackets of its own
    # (str.format: the braces of \operatorname{diag} are doubled, or `{diag}` is a field)
    show={"dsl": "diag({0})", "text": "diag({0})", "latex": r"\operatorname{{diag}}\left({0}\right)"},
    doc="diag(A) of a square matrix: its diagonal as a vector; dA = diag(g)",
))
