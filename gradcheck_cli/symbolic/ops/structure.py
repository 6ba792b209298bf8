"""Structure: stacking, slicing rows, sums."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import SCALAR, Dim, Shape, env
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.table import OpRule, ShapeMismatch, register
from gradcheck_cli.symbolic.ops.common import describe, vector_jac


def _concat_np(ctx: Any, *xs: np.ndarray) -> np.ndarray:
    lead = np.broadcast_shapes(*(x.shape[:-2] for x in xs))
    return np.concatenate([np.broadcast_to(x, lead + x.shape[-2:]) for x in xs], axis=-2)


def _sum_np(ctx: Any, x: np.ndarray, axis: int | None = None) -> np.ndarray:
    if axis is None:
        return np.sum(x, axis=(-2, -1), keepdims=True)
    return np.sum(x, axis=-2 if axis == 0 else -1, keepdims=True)


def _sym_sum(x: Any, axis: int | None = None) -> Any:
    if axis is None:
        return sp.Matrix([[sum(x)]])
    if axis == 0:
        return sp.Matrix(1, x.shape[1], lambda i, j: sum(x[k, j] for k in range(x.shape[0])))
    return sp.Matrix(x.shape[0], 1, lambda i, j: sum(x[i, k] for k in range(x.shape[1])))


def _concat_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    cols = args[0].shape[1]
    rows = args[0].shape[0]
    for a in args[1:]:
        if not env().same(a.shape[1], cols):
            raise ShapeMismatch(f"cannot stack {describe(args[0])} on {describe(a)}: "
                                f"column counts {cols} and {a.shape[1]} differ")
        rows = rows + a.shape[0]
    return (rows, cols)


def _concat_vjp(g: Expr, out: Expr, *args: Expr) -> tuple[Expr, ...]:
    parts = []
    start = Dim()
    for a in args:
        stop = start + a.shape[0]
        parts.append(alg.rows(g, start, stop))
        start = stop
    return tuple(parts)


register(OpRule(
    "concat", None, shape=_concat_shape, numpy=_concat_np,
    sympy=lambda *ms: sp.Matrix.vstack(*ms), vjp=_concat_vjp,
    show={"dsl": lambda e, parts: "[" + "; ".join(parts) + "]",
          "text": lambda e, parts: "[" + "; ".join(parts) + "]",
          "latex": lambda e, parts: r"\begin{bmatrix} " + r" \\ ".join(parts) + r" \end{bmatrix}"},
    doc="[a; b] stacks vertically; the gradient is split back into the blocks",
))


def _rows_shape(args: tuple[Expr, ...], start: Dim, stop: Dim) -> Shape:
    return (stop - start, args[0].shape[1])


def _rows_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    start, stop = out.param("start"), out.param("stop")
    total = a.shape[0]
    blocks = []
    if start != Dim():
        blocks.append(alg.zeros(start, a.shape[1]))
    blocks.append(g)
    if stop != total:
        blocks.append(alg.zeros(total - stop, a.shape[1]))
    return (alg.concat(*blocks) if len(blocks) > 1 else g,)


register(OpRule(
    "rows", 1, shape=_rows_shape,
    numpy=lambda ctx, a, start, stop: a[..., ctx.size(start):ctx.size(stop), :],
    sympy=lambda a, start, stop: None, vjp=_rows_vjp,
    show={"dsl": lambda e, parts: f"rows({parts[0]}, {e.param('start').dsl()}, {e.param('stop').dsl()})",
          "text": lambda e, parts: f"{parts[0]}[{e.param('start')}:{e.param('stop')}]",
          "latex": lambda e, parts: f"{parts[0]}_{{{e.param('start')}:{e.param('stop')}}}"},
    doc="rows(X, i, j): rows i … j−1 (0-based, numpy's X[i:j]); the gradient is padded with zeros",
))


def _sum_shape(args: tuple[Expr, ...], axis: int | None = None) -> Shape:
    r, c = args[0].shape
    from gradcheck_cli.shapes import ONE
    return SCALAR if axis is None else (ONE, c) if axis == 0 else (r, ONE)


def _sum_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    axis = out.param("axis")
    r, c = a.shape
    if axis is None:
        return (alg.mul(g, alg.ones(r, c)),)
    if axis == 0:  # g is 1×c: copy it down the rows
        return (alg.matmul(alg.ones(r, Dim.of(1)), g),)
    return (alg.matmul(g, alg.T(alg.ones(c, Dim.of(1)))),)


def _sum_show(style: str) -> Callable[..., str]:
    def show(e: Expr, parts: list[str]) -> str:
        axis = e.param("axis")
        if style == "latex":
            inner = parts[0] if axis is None else parts[0] + r", \text{axis}=" + str(axis)
            return r"\operatorname{sum}(" + inner + ")"
        inner = parts[0] if axis is None else f"{parts[0]}, axis={axis}"
        return f"sum({inner})"
    return show


register(OpRule(
    "sum", 1, shape=_sum_shape,
    numpy=_sum_np, sympy=_sym_sum, vjp=_sum_vjp,
    jac=vector_jac(lambda out, i, a: alg.T(alg.ones(a.shape[0], Dim.of(1))) if a.shape[1].is_one else None),
    gate="sum copies",
    show={s: _sum_show(s) for s in ("dsl", "text", "latex")},
    doc="sum(X), sum(X, axis=0) (1×c), sum(X, axis=1) (r×1); the gradient is copied back over the summed axis",
))
