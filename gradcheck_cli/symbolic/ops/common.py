"""What the op families share: operands in the user's words, broadcasting
shape rules and the cotangent that undoes them, Jacobian guards, and the numpy and
sympy helpers used by more than one family."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import Shape, broadcast, env, is_scalar, shape_str
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.printing import Printer, to_dsl
from gradcheck_cli.symbolic.table import POSTFIX, ShapeMismatch

# --------------------------------------------------------------------------
# shape helpers


def describe(e: Expr) -> str:
    """An operand in the user's words: `W (n×m)` or `W x + b (n×1)`."""
    text = to_dsl(e, env().names)
    if len(text) > 30:
        text = text[:27] + "…"
    return f"{text} ({shape_str(e.shape)})"


def operand(e: Expr) -> str:
    """e as a factor of a product, parenthesised when it is not a single term."""
    return Printer("dsl", env().names).wrap(e, POSTFIX)


def broadcast_shape(a: Shape, b: Shape, what: str, ea: Expr, eb: Expr) -> Shape:
    """`shapes.broadcast`, or a ShapeMismatch in the user's words."""
    out = broadcast(a, b)
    if isinstance(out, int):
        raise ShapeMismatch(f"cannot {what} {describe(ea)} and {describe(eb)}: "
                            f"{'rows' if out == 0 else 'columns'} {a[out]} and {b[out]} differ")
    return out


def bshape(what: str) -> Callable[..., Shape]:
    return lambda args, **p: broadcast_shape(args[0].shape, args[1].shape, what, args[0], args[1])


def same_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    return args[0].shape


def vector_jac(fn: Callable[..., "Expr | None"]) -> Callable[..., "Expr | None"]:
    """Only vectors (and scalars) have matrix Jacobians; matrices give 3-tensors."""
    def jac(out: Expr, i: int, *args: Expr) -> Expr | None:
        shapes = [out.shape, args[i].shape]
        if any(not (s[0].is_one or s[1].is_one) for s in shapes):
            return None
        return fn(out, i, *args)
    return jac


def diag_col(v: Expr) -> Expr:
    """diag(v) of a vector held as a column or as a row: an elementwise op's Jacobian."""
    return alg.diag(v if v.shape[1].is_one else alg.T(v))


def unbroadcast(g: Expr, shape: Shape) -> Expr:
    """Sum the cotangent back over the axes the forward pass broadcast."""
    if g.shape == shape:  # symbolic: with `dims B = 1`, b (n×1) under W X (n×B) still sums over B
        return g
    if is_scalar(shape):
        return alg.sum_(g, None)
    if shape[1].is_one and not g.shape[1].is_one:
        g = alg.sum_(g, 1)
    if shape[0].is_one and not g.shape[0].is_one:
        g = alg.sum_(g, 0)
    return g


# --------------------------------------------------------------------------
# numpy and sympy helpers (numpy: stacks of matrices, the last two axes are rows, columns)


def np_transpose(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def _sym_bcast(a: Any, b: Any) -> tuple[Any, Any]:
    """Explicit broadcasting for the exact (entry by entry) sympy evaluator."""
    ra, ca = a.shape
    rb, cb = b.shape
    r, c = max(ra, rb), max(ca, cb)
    A_ = sp.Matrix(r, c, lambda i, j: a[i if ra > 1 else 0, j if ca > 1 else 0])
    B_ = sp.Matrix(r, c, lambda i, j: b[i if rb > 1 else 0, j if cb > 1 else 0])
    return A_, B_


def sym_elementwise(f: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def run(a: Any, b: Any) -> Any:
        A_, B_ = _sym_bcast(a, b)
        return sp.Matrix(A_.shape[0], A_.shape[1], lambda i, j: f(A_[i, j], B_[i, j]))
    return run
