"""Vector functions, column-wise on matrices (softmax over a batch of columns), and the norm."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import SCALAR, Dim
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.table import OpRule, register
from gradcheck_cli.symbolic.ops.common import same_shape, vector_jac


def _softmax_np(z: np.ndarray) -> np.ndarray:
    shift = np.max(np.real(z), axis=-2, keepdims=True)
    e = np.exp(z - shift)
    return e / np.sum(e, axis=-2, keepdims=True)


def _logsumexp_np(z: np.ndarray) -> np.ndarray:
    shift = np.max(np.real(z), axis=-2, keepdims=True)
    return shift + np.log(np.sum(np.exp(z - shift), axis=-2, keepdims=True))


def _sym_softmax(z: Any) -> Any:
    out = sp.zeros(*z.shape)
    for j in range(z.shape[1]):
        col = [sp.exp(z[i, j]) for i in range(z.shape[0])]
        s = sum(col)
        for i in range(z.shape[0]):
            out[i, j] = col[i] / s
    return out


def _sym_logsumexp(z: Any) -> Any:
    return sp.Matrix(1, z.shape[1], lambda i, j: sp.log(sum(sp.exp(z[k, j]) for k in range(z.shape[0]))))


def _columns_only(fn: Callable[..., Expr | None]) -> Callable[..., Expr | None]:
    """Column-wise ops (softmax) on a row vector act on 1-entry columns: no Jacobian rule here."""
    def jac(out: Expr, i: int, *args: Expr) -> Expr | None:
        return fn(out, i, *args) if args[i].shape[1].is_one else None
    return jac


def _softmax_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    # p ∘ (g − pᵀg): the Jacobian diag(p) − p pᵀ applied to g
    return (alg.mul(out, alg.sub(g, alg.sum_(alg.mul(out, g), 0))),)


def _log_softmax_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    return (alg.sub(g, alg.mul(alg.softmax(a), alg.sum_(g, 0))),)


register(OpRule(
    "softmax", 1, shape=same_shape,
    numpy=lambda ctx, z: _softmax_np(z), sympy=_sym_softmax, vjp=_softmax_vjp,
    jac=vector_jac(_columns_only(lambda out, i, a: alg.sub(alg.diag(out), alg.matmul(out, alg.T(out))))),
    doc="softmax over each column; dz = p ∘ (g − pᵀ g)",
))

register(OpRule(
    "log_softmax", 1, shape=same_shape,
    numpy=lambda ctx, z: z - _logsumexp_np(z),
    sympy=lambda z: z - sp.Matrix.vstack(*([_sym_logsumexp(z)] * z.shape[0])),
    vjp=_log_softmax_vjp,
    jac=vector_jac(_columns_only(lambda out, i, a: alg.sub(alg.eye(a.shape[0]), alg.matmul(
        alg.ones(a.shape[0], Dim.of(1)), alg.T(alg.softmax(a)))))),
    doc="log softmax over each column, computed stably; dz = g − softmax(z) sum(g)",
))

register(OpRule(
    "logsumexp", 1, shape=lambda args, **p: (Dim.of(1), args[0].shape[1]),
    numpy=lambda ctx, z: _logsumexp_np(z), sympy=_sym_logsumexp,
    vjp=lambda g, out, a: (alg.mul(alg.softmax(a), g),),
    jac=vector_jac(_columns_only(lambda out, i, a: alg.T(alg.softmax(a)))),
    doc="log Σ exp over each column (1×c); dz = softmax(z) ∘ g",
))


def _norm_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    return (alg.mul(alg.div(g, out), a),)


register(OpRule(
    "norm", 1, shape=lambda args, **p: SCALAR,
    numpy=lambda ctx, a: np.sqrt(np.sum(a * a, axis=(-2, -1), keepdims=True)),
    sympy=lambda a: sp.Matrix([[sp.sqrt(sum(t ** 2 for t in a))]]),
    vjp=_norm_vjp,
    jac=vector_jac(lambda out, i, a: alg.T(alg.div(a, out)) if a.shape[1].is_one else alg.div(a, out)),
    doc="‖x‖₂ (Frobenius for matrices); dx = g x / ‖x‖",
))
