"""Pointwise functions: f(z) (tanh, σ, relu, a generic f, …), max and min."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import Shape
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.elementwise import ELEMENTWISE, numpy_fn
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.table import ATOM, OpRule, register
from gradcheck_cli.symbolic.ops.common import (
    bshape, diag_col, sym_elementwise, unbroadcast, vector_jac,
)


def _fn_np(ctx: Any, x: np.ndarray, name: str, order: int = 0, alpha: Any = None) -> np.ndarray:
    real = name if name in ELEMENTWISE else ctx.resolve_function(name)
    if ELEMENTWISE[real].nparams:
        return numpy_fn(real, order)(x, float(alpha if alpha is not None else 0.01))
    return numpy_fn(real, order)(x)


def _fn_sym(x: Any, name: str, order: int = 0, alpha: Any = None, bind: Any = None) -> Any:
    from gradcheck_cli.symbolic.elementwise import A, T, derivative_sym

    real = name if name in ELEMENTWISE else (bind or {}).get(name, name)
    if real not in ELEMENTWISE:  # a generic f stays a sympy Function
        f = sp.Function(name)
        return x.applyfunc(lambda t: sp.diff(f(T), T, order).subs(T, t) if order else f(t))
    expr = derivative_sym(real, order)
    subs = {A: sp.sympify(alpha) if alpha is not None else sp.Rational(1, 100)}
    return x.applyfunc(lambda t: expr.subs({T: t, **subs}))


def _fn_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    return args[0].shape


MUTATION: list[str | None] = [None]  # "f_for_fprime": the classic slip, derived to diagnose it


def _fn_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    if MUTATION[-1] == "f_for_fprime":
        return (alg.mul(g, out),)
    return (alg.mul(g, alg.fn_derivative(out)),)


register(OpRule(
    "fn", 1, shape=_fn_shape, numpy=_fn_np, sympy=_fn_sym, vjp=_fn_vjp,
    jac=vector_jac(lambda out, i, a: diag_col(alg.fn_derivative(out))),
    prec=ATOM, doc="f(z) elementwise (tanh, σ, relu, a generic f, …); dz = g ∘ f′(z)",
))


def _max_vjp(g: Expr, out: Expr, a: Expr, b: Expr) -> tuple[Expr, Expr]:
    # max routes: the gradient goes to whichever input was larger. At a tie it is split,
    # ½ to each (torch.maximum and jax.numpy.maximum do the same): step(0) = ½, so
    # max(x, x) = x gets 1 and max(x, |x|) gets the right slope where x > 0. A tie is a
    # kink for the numeric check unless both sides have the same slope.
    return (unbroadcast(alg.mul(g, alg.fn("step", alg.sub(a, b))), a.shape),
            unbroadcast(alg.mul(g, alg.fn("step", alg.sub(b, a))), b.shape))


def _min_vjp(g: Expr, out: Expr, a: Expr, b: Expr) -> tuple[Expr, Expr]:
    return (unbroadcast(alg.mul(g, alg.fn("step", alg.sub(b, a))), a.shape),
            unbroadcast(alg.mul(g, alg.fn("step", alg.sub(a, b))), b.shape))


def _where_np(pick_a: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    def run(ctx: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a2, b2 = np.broadcast_arrays(a, b)
        return np.where(pick_a(np.real(a2), np.real(b2)), a2, b2)
    return run


register(OpRule(
    "max", 2, shape=bshape("take the max of"),
    numpy=_where_np(lambda a, b: a > b), sympy=sym_elementwise(lambda x, y: sp.Max(x, y)), vjp=_max_vjp,
    gate="max routes", analytic=False,
    show={"dsl": "max({0}, {1})", "text": "max({0}, {1})", "latex": r"\max({0}, {1})"},
    doc="elementwise max(a, b); the gradient is routed to the larger input, split ½ each at a tie",
))

register(OpRule(
    "min", 2, shape=bshape("take the min of"),
    numpy=_where_np(lambda a, b: a < b), sympy=sym_elementwise(lambda x, y: sp.Min(x, y)), vjp=_min_vjp,
    gate="min routes", analytic=False,
    show={"dsl": "min({0}, {1})", "text": "min({0}, {1})", "latex": r"\min({0}, {1})"},
    doc="elementwise min(a, b); the gradient is routed to the smaller input, split ½ each at a tie",
))
