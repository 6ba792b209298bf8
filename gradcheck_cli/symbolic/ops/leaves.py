"""The leaves: declared variables, constants, ones, zeros, the identity."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import SCALAR, Shape
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.printing import latex_symbol
from gradcheck_cli.symbolic.table import OpRule, register


def _leaf_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    return (p["rows"], p["cols"]) if "rows" in p else SCALAR


def _no_vjp(g: Expr, out: Expr) -> tuple[()]:
    return ()


register(OpRule(
    "var", 0, shape=lambda args, **p: p["shape"],
    numpy=lambda ctx, **p: ctx.value_of(p["name"]),
    sympy=lambda **p: None, vjp=_no_vjp,
    show={"dsl": lambda e: e.param("name"), "text": lambda e: e.param("name"),
          "latex": lambda e: _latex_name(e.param("name"), e.shape)},
    doc="a declared variable: a parameter, or data (const, one-hot)",
))

register(OpRule(
    "const", 0, shape=lambda args, **p: SCALAR,
    numpy=lambda ctx, value: np.array([[ctx.number(value)]]),
    sympy=lambda value: sp.Matrix([[value]]), vjp=_no_vjp,
    doc="a scalar constant; may involve dimension names (`sum(x) / n`)",
))

register(OpRule(
    "ones", 0, shape=_leaf_shape,
    numpy=lambda ctx, rows, cols: np.ones((ctx.size(rows), ctx.size(cols))),
    sympy=lambda rows, cols: None, vjp=_no_vjp,
    doc="ones(n) is n×1, ones(n, m) is n×m",
))

register(OpRule(
    "zeros", 0, shape=_leaf_shape,
    numpy=lambda ctx, rows, cols: np.zeros((ctx.size(rows), ctx.size(cols))),
    sympy=lambda rows, cols: None, vjp=_no_vjp,
    doc="zeros(n) is n×1, zeros(n, m) is n×m",
))

register(OpRule(
    "eye", 0, shape=_leaf_shape,
    numpy=lambda ctx, rows, cols: np.eye(ctx.size(rows)),
    sympy=lambda rows, cols: None, vjp=_no_vjp,
    doc="eye(n): the n×n identity",
))


def _latex_name(name: str, shape: Shape) -> str:
    return latex_symbol(name, shape)
