"""Numeric derivatives of a black-box function of one array.

Three estimates of ∂f/∂xᵢ, each with steps relative to the entry's scale
(hᵢ = h·max(1, |xᵢ|)) and in float64:

    central     (f(x + hᵢeᵢ) − f(x − hᵢeᵢ)) / 2hᵢ                 2 evaluations, error ~1e-10
    complex     Im f(x + i·h·eᵢ) / h,  h = 1e-20                   1 evaluation,  error ~1e-16
    richardson  (4·D(hᵢ/2) − D(hᵢ)) / 3, D the central quotient    4 evaluations, error ~1e-12

The denominators are the *representable* steps ((x+h) − (x−h) as stored), so
the rounding of x ± h costs nothing. Complex step needs f to be analytic on
the path and written to carry complex numbers through (no abs, no float()).

Evaluation is a loop over perturbed copies (in place on one private copy),
or, with `batched=True`, a stack (k, *x.shape) of perturbed copies per call in
chunks of at most `chunk_bytes`: much faster for small x, no faster for big x
because every row copies x.

The directional (dot-product) test of JAX's `check_vjp`, cheap for any size,
is in `numeric.directional`; `recheck_entries`, which tells a kink crossed by
the step from a wrong derivative, is in `numeric.kinks`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcheck_cli.numeric.compare import EPS, default_step

CHUNK_BYTES = 64 * 2**20
METHODS = ("central", "complex", "richardson")

Fun = Callable[[np.ndarray], Any]
Index = tuple[int, ...]


class FiniteDiffError(ValueError):
    """The function cannot be differentiated this way (wrong output shape, no complex support)."""


# ---------------------------------------------------------------- evaluation


def values_of(out: Any, rows: int, width: int, complex_step: bool) -> np.ndarray:
    """fun's output as a (rows, width) array; catches functions that drop the imaginary part."""
    v = np.asarray(out)
    if v.size != rows * width:
        want = "one value per row of the stack" if rows > 1 else "a scalar" if width == 1 else f"{width} values"
        raise FiniteDiffError(f"fun returned shape {v.shape}; expected {want}")
    if complex_step and not np.iscomplexobj(v):
        raise FiniteDiffError("complex step: fun returned a real value for a complex input (it drops the "
                              "imaginary part, e.g. via float(), abs() or astype(float)); use method='central'")
    return v.reshape(rows, width)


def evaluate_points(fun: Fun, base: np.ndarray, flat_idx: np.ndarray, new_vals: np.ndarray, *, width: int,
                     batched: bool, chunk_bytes: int) -> np.ndarray:
    """f at `base` with base.flat[flat_idx[j]] set to new_vals[j], for every j: shape (n, width).

    The loop version perturbs one private copy in place and restores it (the
    CS231n way), so each call costs O(1) besides f itself. fun must not keep
    or modify its argument.
    """
    complex_step = np.iscomplexobj(base)
    dtype = np.complex128 if complex_step else np.float64
    n = len(flat_idx)
    out = np.empty((n, width), dtype=dtype)
    if not batched:
        work = base.copy()
        flat = work.reshape(-1)  # a view: base is contiguous
        for j in range(n):
            i = int(flat_idx[j])
            old = flat[i]
            flat[i] = new_vals[j]
            out[j] = values_of(fun(work), 1, width, complex_step)[0]
            flat[i] = old
        return out
    entries = getattr(fun, "entries", None)
    if entries is not None:  # the function knows how to evaluate single-entry changes cheaply
        rows = max(1, min(n, chunk_bytes // max(1, int(getattr(fun, "bytes_per_point", base.nbytes)))))
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            out[start:stop] = values_of(entries(flat_idx[start:stop], new_vals[start:stop]), stop - start, width,
                                      complex_step)
        return out
    rows = max(1, min(n, chunk_bytes // max(1, base.nbytes)))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        k = stop - start
        stack = np.empty((k, *base.shape), dtype=dtype)
        stack[...] = base
        stack.reshape(k, -1)[np.arange(k), flat_idx[start:stop]] = new_vals[start:stop]
        out[start:stop] = values_of(fun(stack), k, width, complex_step)
    return out


def flat_indices(x: np.ndarray, indices: Sequence[Index | int] | None) -> np.ndarray:
    if indices is None:
        return np.arange(x.size)
    if len(indices) == 0:
        return np.zeros(0, dtype=np.intp)
    tup = [(i,) if isinstance(i, (int, np.integer)) else tuple(i) for i in indices]
    if x.ndim == 0:
        return np.zeros(len(tup), dtype=np.intp)
    return np.asarray(np.ravel_multi_index(tuple(np.array(tup).T), x.shape), dtype=np.intp)


def _derivatives(fun: Fun, x: np.ndarray, flat_idx: np.ndarray, method: str, h: float, *, width: int,
                 batched: bool, chunk_bytes: int) -> tuple[np.ndarray, int]:
    """(n, width) derivatives along the entries `flat_idx`, and the number of evaluations."""
    n = len(flat_idx)
    xi = x.reshape(-1)[flat_idx]
    ev = {"width": width, "batched": batched, "chunk_bytes": chunk_bytes}
    if method == "complex":
        vals = evaluate_points(fun, x.astype(np.complex128), flat_idx, xi + 1j * h, **ev)  # type: ignore[arg-type]
        return vals.imag / h, n
    if method not in ("central", "richardson"):
        raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    steps = h * np.maximum(1.0, np.abs(xi))
    fracs = (1.0,) if method == "central" else (1.0, 0.5)
    pts = [xi + s * steps for f in fracs for s in (f, -f)]
    vals = evaluate_points(fun, x, np.tile(flat_idx, len(pts)), np.concatenate(pts), **ev)  # type: ignore[arg-type]
    vals = vals.reshape(len(pts), n, width)
    quotients = [(vals[2 * q] - vals[2 * q + 1]) / (pts[2 * q] - pts[2 * q + 1])[:, None] for q in range(len(fracs))]
    if method == "central":
        return quotients[0], 2 * n
    coarse, fine = quotients
    return fine + (fine - coarse) / 3.0, 4 * n


def numeric_gradient(
    fun: Fun,
    x: np.ndarray,
    *,
    method: str = "central",
    indices: Sequence[Index | int] | None = None,
    h: float | None = None,
    batched: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[np.ndarray, int]:
    """∂f/∂x for scalar f, entry by entry: (gradient, number of evaluations of f).

    fun(x) returns a scalar (complex for method="complex"); with batched=True
    fun(stack) takes (k, *x.shape) and returns k values. h is the relative step
    (default: ε^(1/3) central, ε^(1/5) richardson, 1e-20 complex). With
    `indices` (index tuples) only those entries are computed and the result is
    1-D in that order; otherwise it has x's shape.
    """
    x = np.array(x, dtype=np.float64)
    step = default_step(method) if h is None else float(h)
    flat_idx = flat_indices(x, indices)
    d, evals = _derivatives(fun, x, flat_idx, method, step, width=1, batched=batched, chunk_bytes=chunk_bytes)
    g = d[:, 0].real.astype(np.float64)
    return (g.reshape(x.shape) if indices is None else g), evals


def numeric_jacobian(
    fun: Fun,
    x: np.ndarray,
    *,
    method: str = "central",
    h: float | None = None,
    batched: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[np.ndarray, int]:
    """Jacobian of a vector- or array-valued f in numerator layout: (J, evaluations).

    J has shape (f(x).size, x.size): row r is the r-th output entry and column c
    the c-th input entry, both flattened in C (row-major) order. So for
    y = W x with x (m, 1), J = W; for a matrix input X, column c is X.flat[c].
    One extra evaluation at x finds the output size.
    """
    x = np.array(x, dtype=np.float64)
    step = default_step(method) if h is None else float(h)
    base = x.astype(np.complex128) if method == "complex" else x
    f0 = np.asarray(fun(base[None] if batched else base))
    width = f0.size
    d, evals = _derivatives(fun, x, np.arange(x.size), method, step, width=width, batched=batched,
                            chunk_bytes=chunk_bytes)
    return d.real.astype(np.float64).T.copy(), evals + 1


__all__ = ["CHUNK_BYTES", "EPS", "METHODS", "FiniteDiffError", "numeric_gradient", "numeric_jacobian"]
