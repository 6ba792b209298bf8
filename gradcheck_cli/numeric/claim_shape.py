"""A claim's shape: which layout it uses (shape convention, Jacobian form), or why it fits none;
and a misshapen claim that is one of the usual wrong answers, named by its value."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck_cli.numeric.mistakes import value_or_none
from gradcheck_cli.shapes import env, is_scalar, shape_str
from gradcheck_cli.symbolic.expr import Expr


def misshaped(expr: Expr, points: list[Any], suspects: Any) -> str | None:
    """A claim of the wrong shape that is one of the usual wrong answers, by value (a bias gradient
    summed over the batch's other axis is 1×B, not n×1): its name, else None."""
    if suspects is None or not points:
        return None
    ctx = points[0].ctx
    claimed = value_or_none(expr, ctx)
    if claimed is None or not np.all(np.isfinite(claimed)):
        return None
    alternatives, _ = suspects(ctx)
    scale = float(np.max(np.abs(claimed), initial=0.0))
    for label, alt in alternatives.items():
        if alt.shape == claimed.shape and np.any(alt) and np.allclose(alt, claimed, rtol=1e-7, atol=1e-12 * scale):
            return label
    return None



def convention(num: Expr, den: Expr, claim: Expr, strict: str) -> tuple[str | None, str | None]:
    """Which layout the claim uses, or why it fits none."""
    E = env()
    ds, cs = den.shape, claim.shape
    if is_scalar(num.shape):
        if E.same_shape(cs, ds):
            return "shape", None
        if ds[1].is_one and E.same_shape(cs, (ds[1], ds[0])):
            if strict == "shape":
                return "jacobian", (f"the claim is a row vector ({shape_str(cs)}), the Jacobian form; "
                                    f"in shape convention it must be {shape_str(ds)} like the variable")
            return "jacobian", None
        if E.same_shape(cs, (ds[1], ds[0])):
            return None, (f"the claim is {shape_str(cs)}, the transpose of the variable's shape {shape_str(ds)}: "
                          f"in shape convention the gradient has the variable's shape")
        return None, (f"the claim is {shape_str(cs)}, which fits no convention: the gradient should be "
                      f"{shape_str(ds)} (shape convention)" + ("" if not ds[1].is_one else f" or {shape_str((ds[1], ds[0]))} (Jacobian form)"))
    if not (ds[0].is_one or ds[1].is_one):
        return None, "a vector's derivative by a matrix is a 3-tensor; claims of it are not checked"
    n_out = num.shape[0] if not num.shape[0].is_one else num.shape[1]
    n_in = ds[0] if not ds[0].is_one else ds[1]
    want = (n_out, n_in)
    if E.same_shape(cs, want):
        return "jacobian", None
    if E.same_shape(cs, (n_in, n_out)):
        return None, (f"the claim is {shape_str(cs)}, the transposed Jacobian (denominator layout); "
                      f"the Jacobian is {shape_str(want)} (numerator layout: rows follow the output)")
    return None, f"the claim is {shape_str(cs)}, but the Jacobian is {shape_str(want)}"
