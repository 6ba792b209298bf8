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

Also here: the directional (dot-product) test of JAX's `check_vjp`, cheap for
any size, and `recheck_entries`, which tells a kink crossed by the step from
a wrong derivative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck_cli.numeric.compare import EPS, default_step, model, noise_floor

CHUNK_BYTES = 64 * 2**20
METHODS = ("central", "complex", "richardson")

#: Relative tolerance of a directional derivative against Σ|gᵢvᵢ|, the dot product's
#: magnitude. Complex step is tighter than per entry: a bug confined to one entry of
#: P moves ⟨g, v⟩ by only ~1e-4/P of that magnitude (1e-9 at P = 1e5).
DIRECTIONAL_RTOL = {"central": 1e-6, "complex": 1e-11}

#: Step divisors of the kink re-check: h, h/10, …, h/10⁴. Round-off grows as the step
#: shrinks (ε|f|/s, accounted for in the tolerance); a kink at distance d stops being
#: straddled once s < d, so most kinks are resolved somewhere on the ladder.
LADDER = (1.0, 10.0, 100.0, 1e3, 1e4)

Fun = Callable[[np.ndarray], Any]
Index = tuple[int, ...]


class FiniteDiffError(ValueError):
    """The function cannot be differentiated this way (wrong output shape, no complex support)."""


# ---------------------------------------------------------------- evaluation


def _values(out: Any, rows: int, width: int, complex_step: bool) -> np.ndarray:
    """fun's output as a (rows, width) array; catches functions that drop the imaginary part."""
    v = np.asarray(out)
    if v.size != rows * width:
        want = "one value per row of the stack" if rows > 1 else "a scalar" if width == 1 else f"{width} values"
        raise FiniteDiffError(f"fun returned shape {v.shape}; expected {want}")
    if complex_step and not np.iscomplexobj(v):
        raise FiniteDiffError("complex step: fun returned a real value for a complex input (it drops the "
                              "imaginary part, e.g. via float(), abs() or astype(float)); use method='central'")
    return v.reshape(rows, width)


def _evaluate_points(fun: Fun, base: np.ndarray, flat_idx: np.ndarray, new_vals: np.ndarray, *, width: int,
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
            out[j] = _values(fun(work), 1, width, complex_step)[0]
            flat[i] = old
        return out
    entries = getattr(fun, "entries", None)
    if entries is not None:  # the function knows how to evaluate single-entry changes cheaply
        rows = max(1, min(n, chunk_bytes // max(1, int(getattr(fun, "bytes_per_point", base.nbytes)))))
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            out[start:stop] = _values(entries(flat_idx[start:stop], new_vals[start:stop]), stop - start, width,
                                      complex_step)
        return out
    rows = max(1, min(n, chunk_bytes // max(1, base.nbytes)))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        k = stop - start
        stack = np.empty((k, *base.shape), dtype=dtype)
        stack[...] = base
        stack.reshape(k, -1)[np.arange(k), flat_idx[start:stop]] = new_vals[start:stop]
        out[start:stop] = _values(fun(stack), k, width, complex_step)
    return out


def _flat_indices(x: np.ndarray, indices: Sequence[Index | int] | None) -> np.ndarray:
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
        vals = _evaluate_points(fun, x.astype(np.complex128), flat_idx, xi + 1j * h, **ev)  # type: ignore[arg-type]
        return vals.imag / h, n
    if method not in ("central", "richardson"):
        raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    steps = h * np.maximum(1.0, np.abs(xi))
    fracs = (1.0,) if method == "central" else (1.0, 0.5)
    pts = [xi + s * steps for f in fracs for s in (f, -f)]
    vals = _evaluate_points(fun, x, np.tile(flat_idx, len(pts)), np.concatenate(pts), **ev)  # type: ignore[arg-type]
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
    flat_idx = _flat_indices(x, indices)
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


# ---------------------------------------------------------------- directional (dot-product) test


@dataclass(frozen=True)
class Direction:
    """One random direction v: the claimed ⟨g, v⟩ against the numeric directional derivative."""

    claimed: float
    numeric: float
    abs_error: float
    rel_error: float
    tolerance: float
    status: str  # "pass" | "kink" (agrees at smaller steps: the step crossed a kink) | "fail"


@dataclass(frozen=True)
class DirectionalResult:
    """Verdict of k random directions. `resolution` ≈ the smallest relative error confined to one
    typical entry that the directions would have noticed (larger P → coarser)."""

    ok: bool
    k: int
    directions: list[Direction]
    max_abs_error: float
    max_rel_error: float
    resolution: float
    evaluations: int
    method: str
    message: str = ""

    def __bool__(self) -> bool:
        return self.ok


def _along(fun: Fun, x: np.ndarray, v: np.ndarray, ts: Sequence[complex], batched: bool) -> np.ndarray:
    """f(x + t·v) for each t (a handful of points: no chunking needed beyond one stack)."""
    cplx = any(isinstance(t, complex) for t in ts)
    pts = [(x.astype(np.complex128) if cplx else x) + t * v for t in ts]
    if batched:
        return _values(fun(np.stack(pts)), len(ts), 1, cplx)[:, 0]
    return np.array([_values(fun(p), 1, 1, cplx)[0, 0] for p in pts])


def directional_check(
    fun: Fun,
    x: np.ndarray,
    claimed_grad: np.ndarray,
    rng: np.random.Generator,
    k: int = 4,
    method: str = "central",
    *,
    h: float | None = None,
    f_scale: float | None = None,
    batched: bool = False,
) -> DirectionalResult:
    """JAX check_vjp-style test: ⟨claimed, v⟩ against d/dt f(x + t v) for k random v.

    vᵢ = zᵢ·max(1, |xᵢ|) with z standard normal (steps relative to scale). Costs
    2 evaluations per direction (central; richardson is run as central) or 1
    (complex), plus 9 per central direction that disagrees (re-checked at
    h/10 … h/10⁴ with one-sided quotients, as `recheck_entries` does, so a
    kink crossed by the step is not a failure). Tolerance per direction:
    rtol·Σ|gᵢvᵢ| + round-off, the model of `compare` with the dot product's
    natural magnitude Σ|gᵢvᵢ| as the scale.
    """
    x = np.array(x, dtype=np.float64)
    g = np.asarray(claimed_grad, dtype=np.float64).reshape(x.shape)
    meth = "complex" if method == "complex" else "central"
    m = model(meth)
    step = m.step if h is None else float(h)
    dirs: list[Direction] = []
    evals = 0
    resolution = 0.0
    for _ in range(k):
        v = rng.standard_normal(x.shape) * np.maximum(1.0, np.abs(x))
        if meth == "complex":
            num = float(_along(fun, x, v, [1j * step], batched)[0].imag / step)
            cl = float(np.sum(g * v))
            evals += 1
            fs = abs(f_scale) if f_scale is not None else 0.0
        else:
            veff = ((x + step * v) - (x - step * v)) / (2 * step)  # the step actually taken
            fp, fm = _along(fun, x, v * step, [1.0, -1.0], batched).real
            num = float((fp - fm) / (2 * step))
            cl = float(np.sum(g * veff))
            evals += 2
            fs = abs(f_scale) if f_scale is not None else max(abs(fp), abs(fm))
        magnitude = float(np.sum(np.abs(g * v)))
        rtol = DIRECTIONAL_RTOL[meth]
        tol = rtol * max(abs(num), abs(cl), magnitude) + float(noise_floor(meth, fs, h=step, grad_scale=magnitude))
        err = abs(num - cl)
        rel = err / max(abs(num), abs(cl), magnitude, tol / rtol, np.finfo(float).tiny)
        status = "pass" if err <= tol else "fail"
        if status == "fail" and meth == "central":
            status, extra = _directional_kink(fun, x, g, v, step, fs, magnitude, fp, fm, batched)
            evals += extra
        dirs.append(Direction(cl, num, err, rel, tol, status))
        typical = magnitude / max(1, x.size)
        if typical > 0:
            resolution = max(resolution, tol / typical)
    ok = all(d.status != "fail" for d in dirs)
    n_fail = sum(d.status == "fail" for d in dirs)
    msg = (f"{k} random directions agree" if ok else f"{n_fail} of {k} random directions disagree")
    if any(d.status == "kink" for d in dirs):
        msg += " (some only after re-checking at smaller steps: a kink was crossed)"
    return DirectionalResult(ok, k, dirs, max((d.abs_error for d in dirs), default=0.0),
                             max((d.rel_error for d in dirs), default=0.0), resolution, evals, meth, msg)


def _directional_kink(fun: Fun, x: np.ndarray, g: np.ndarray, v: np.ndarray, step: float, fs: float,
                      magnitude: float, fp_h: float, fm_h: float, batched: bool) -> tuple[str, int]:
    """Re-check a failing direction as `recheck_entries` re-checks an entry (kink or real)."""
    r = DIRECTIONAL_RTOL["central"]
    steps = np.array([step / d for d in LADDER])
    ts = [0.0] + [sgn * s for s in steps[1:] for sgn in (1.0, -1.0)]
    vals = np.real(_along(fun, x, v, ts, batched)).astype(float)
    f0 = vals[0]
    fp = np.concatenate([[fp_h], vals[1::2]])
    fm = np.concatenate([[fm_h], vals[2::2]])
    central = ((fp - fm) / (2 * steps))[None]
    fwd, bwd = ((fp - f0) / steps)[None], ((f0 - fm) / steps)[None]
    cl = float(np.sum(g * v))
    noise = np.array([[float(noise_floor("central", fs, h=s)) for s in steps]])
    # at_kink_ok=False: a direction that sits on a kink would otherwise pass any claim
    kink, _moved, _jump, _why = _kink_verdict(central, fwd, bwd, np.array([cl]), r * magnitude + noise, noise,
                                              at_kink_ok=False)
    return ("kink" if kink[0] else "fail"), len(ts)


def _stable_from(series: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Per row, the first column k ≥ 1 from which the estimates agree with each other to
    the end (consecutive pairs within their tolerances), or K when there is none: the
    most precise estimate not disturbed by a kink (nor by round-off, which keeps growing)."""
    K = series.shape[1]
    pair_ok = np.abs(np.diff(series, axis=1)) <= tol[:, :-1] + tol[:, 1:]  # (n, K-1)
    suffix = np.flip(np.logical_and.accumulate(np.flip(pair_ok, axis=1), axis=1), axis=1)
    return np.asarray(np.where(suffix[:, 1:].any(axis=1), 1 + np.argmax(suffix[:, 1:], axis=1), K))


def _kink_verdict(central: np.ndarray, fwd: np.ndarray, bwd: np.ndarray, t: np.ndarray, tol: np.ndarray,
                  noise: np.ndarray, at_kink_ok: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(kink, moved, jump, why) per row; columns are the steps of `LADDER`; why names the
    criterion that made it a kink ("converges", "one side", "between", "at kink") or is "".

    Every claim is judged at the most precise estimate that no kink disturbs:
    converges: the central estimate moves with the step, then settles (stable to
      the smallest step, or kink-free at the smallest step); where it first
      settles, it matches the claim t;
    one side: one one-sided quotient settles (a kink-free side) and matches t there;
    between: the kink is never resolved (the one-sided gap is significant down to
      h/10⁴ and, at h … h/100, behaves like a kink, see `_jump`) and t lies between
      the one-sided derivatives (a subgradient), widened by half their gap;
    at kink (`at_kink_ok`): unresolved and the gap is the same at every step: x is
      within ~1e-10·max(1, |x|) of a kink or on it, where one-dimensional data
      cannot judge the claim (with several relu units at exactly 0 the chain
      rule's choice per unit is valid and can lie anywhere).
    """
    n, K = central.shape
    rows = np.arange(n)
    moved = np.any(np.abs(central[:, 1:] - central[:, :1]) > tol[:, 1:] + tol[:, :1], axis=1)
    size = np.maximum(np.abs(fwd), np.abs(bwd))
    gap = np.abs(fwd - bwd)
    tol_side = 2 * noise + (tol - noise) + 1e-5 * np.abs(t)[:, None]

    unresolved = gap[:, -1] > 4 * noise[:, -1] + 1e-5 * size[:, -1]

    def settles_on_t(series: np.ndarray, tl: np.ndarray, last_ok: np.ndarray) -> np.ndarray:
        k0 = _stable_from(series, tl)
        k0 = np.where((k0 > K - 2) & last_ok, K - 1, k0)  # clean only at the last step: judge there
        k = np.minimum(k0, K - 1)
        return np.asarray((k0 <= K - 1) & (np.abs(series[rows, k] - t) <= tl[rows, k]))

    converges = moved & settles_on_t(central, tol, ~unresolved)
    jump = _jump(gap[:, :3], noise[:, 2], size[:, 2])
    never = np.zeros(n, dtype=bool)
    one_side = (moved | jump) & (settles_on_t(fwd, tol_side, never) | settles_on_t(bwd, tol_side, never))
    side_tol = tol_side[:, 2] + gap[:, 2] / 2
    lo, hi = np.minimum(fwd[:, 2], bwd[:, 2]), np.maximum(fwd[:, 2], bwd[:, 2])
    between = jump & unresolved & (t >= lo - side_tol) & (t <= hi + side_tol)
    with np.errstate(divide="ignore", invalid="ignore"):
        steady = np.max(gap, axis=1) <= 3 * np.min(gap, axis=1)
    at_kink = steady & unresolved & at_kink_ok
    why = np.full(n, "", dtype=object)
    for name, cond in (("at kink", at_kink), ("between", between), ("one side", one_side),
                       ("converges", converges)):  # last wins: the most specific reason
        why[cond] = name
    return why != "", moved, jump, why


KINK_REASONS = {
    "converges": "agrees at smaller steps: the step crossed a kink",
    "between": "on a kink: the claim lies between the one-sided derivatives (a subgradient)",
    "one side": "a kink near x: the claim equals the one-sided derivative on the kink-free side",
    "at kink": "on a kink (not differentiable here): this entry cannot be checked",
}


def _jump(gap: np.ndarray, noise_small: np.ndarray, size: np.ndarray) -> np.ndarray:
    """One-sided quotients that differ like a kink: gap (n, 3) at steps h, h/10, h/100.

    Curvature makes the gap shrink with the step (ratios 1/10, 1/100),
    round-off makes it grow (×10, ×100); a kink straddled by the steps keeps it
    roughly constant, or shrinks it unevenly when it lies between two steps.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r2 = gap[:, 1] / gap[:, 0], gap[:, 2] / gap[:, 0]
    curvature = (r1 >= 0.05) & (r1 <= 0.2) & (r2 >= 0.005) & (r2 <= 0.02)
    roundoff = ~(r2 <= 3)  # NaN (gap at h is 0) counts as round-off: no evidence
    significant = gap[:, 2] > 4 * noise_small + 1e-5 * size
    return np.asarray(significant & ~curvature & ~roundoff)


@dataclass(frozen=True)
class Recheck:
    """Re-evaluation of disagreeing entries, and a verdict per entry.

    Columns of `central`, `forward` and `backward` are the steps h/d for d in `LADDER`;
    `richardson` is a low-noise estimate at the larger step ε^(1/5).
    With the claimed values (`target`), `status[j]` is:
      "kink"  the disagreement comes from a non-differentiable point (ok);
      "pass"  the claim agrees with the low-noise estimate: the first
              disagreement was round-off (ok);
      "fail"  a real mismatch.
    Without `target`, `is_kink[j]` only says whether there is kink evidence.
    """

    indices: list[Index]
    status: list[str]
    is_kink: list[bool]
    central: np.ndarray  # (n, len(LADDER))
    forward: np.ndarray  # (n, len(LADDER))
    backward: np.ndarray  # (n, len(LADDER))
    richardson: np.ndarray  # (n,)
    best: np.ndarray  # (n,) the estimate to report
    reasons: list[str] = field(default_factory=list)
    evaluations: int = 0
    evidence: list[bool] = field(default_factory=list)  # a kink is near (whatever the verdict)

    @property
    def ok(self) -> list[bool]:
        """Per entry: the disagreement is explained (kink or round-off)."""
        return [s in ("kink", "pass") for s in self.status]


def recheck_entries(
    fun: Fun,
    x: np.ndarray,
    indices: Sequence[Index | int],
    h: float | None = None,
    *,
    target: Sequence[float] | np.ndarray | None = None,
    batched: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
) -> Recheck:
    """Tell "the step crossed a kink" or "round-off" from "the derivative is wrong", per entry.

    Central and one-sided quotients on the step `LADDER` h … h/10⁴; the claim is
    judged at the most precise estimate no kink disturbs (see `_kink_verdict`:
    the estimate settles on the claim once the step no longer straddles the
    kink; or the kink-free side's one-sided quotient equals it; or, for a kink
    never resolved, the claim lies between the one-sided derivatives; or x
    sits on the kink, where one-dimensional data cannot judge).
    Round-off: the claim agrees, within the central tolerance, with Richardson
    at step ε^(1/5), whose round-off is ~100× smaller (|f| can understate the
    magnitudes f cancels, e.g. a confident softmax loss).
    Costs 1 + 14 evaluations per entry.
    """
    x = np.array(x, dtype=np.float64)
    step = default_step("central") if h is None else float(h)
    flat_idx = _flat_indices(x, indices)
    idx = [tuple(int(v) for v in np.unravel_index(i, x.shape)) for i in flat_idx]
    n, K = len(flat_idx), len(LADDER)
    with np.errstate(all="ignore"):
        f0 = float(np.real(_values(fun(x[None] if batched else x), 1, 1, False)[0, 0]))
        xi = x.reshape(-1)[flat_idx]
        scale = np.maximum(1.0, np.abs(xi))
        big = default_step("richardson")
        offsets = [sgn * d for d in (*(step / k for k in LADDER), big, big / 2) for sgn in (1.0, -1.0)]
        pts = [xi + o * scale for o in offsets]
        vals = _evaluate_points(fun, x, np.tile(flat_idx, len(pts)), np.concatenate(pts), width=1, batched=batched,
                                chunk_bytes=chunk_bytes)[:, 0].real.reshape(len(pts), n)
        q = [(vals[2 * k] - vals[2 * k + 1]) / (pts[2 * k] - pts[2 * k + 1]) for k in range(K + 2)]
        central = np.stack(q[:K], axis=1)
        rich = q[K + 1] + (q[K + 1] - q[K]) / 3.0
        fwd = np.stack([(vals[2 * k] - f0) / (pts[2 * k] - xi) for k in range(K)], axis=1)
        bwd = np.stack([(f0 - vals[2 * k + 1]) / (xi - pts[2 * k + 1]) for k in range(K)], axis=1)
    evals = 1 + len(pts) * n
    m = model("central")
    noise = np.stack([noise_floor("central", f0, x_scale=xi, h=step / d) for d in LADDER], axis=1)
    tol = m.rtol * np.abs(central) + noise
    t = np.zeros(n) if target is None else np.asarray(target, dtype=float).reshape(n)
    kink, moved, jump, why = _kink_verdict(central, fwd, bwd, t, tol, noise)
    evidence = moved | jump
    settled = np.minimum(_stable_from(central, tol), K - 1)
    best = np.where(moved | jump, central[np.arange(n), settled], rich)
    if target is None:
        reasons = ["kink evidence" if e else "no kink evidence" for e in evidence]
        status = ["kink" if e else "smooth" for e in evidence]
        return Recheck(idx, status, [bool(e) for e in evidence], central, fwd, bwd, rich, best, reasons, evals,
                       [bool(e) for e in evidence])
    roundoff = np.abs(t - rich) <= m.rtol * np.maximum(np.abs(t), np.abs(rich)) + noise[:, 0]
    status, reasons = [], []
    for j in range(n):
        if kink[j]:
            status.append("kink")
            reasons.append(KINK_REASONS[why[j]])
        elif roundoff[j]:
            status.append("pass")
            reasons.append("agrees with a lower-noise estimate: the disagreement was round-off")
        else:
            status.append("fail")
            reasons.append("a kink, but the claim matches neither side" if evidence[j] else "a real mismatch")
    return Recheck(idx, status, [s == "kink" for s in status], central, fwd, bwd, rich, best, reasons, evals,
                   [bool(e) for e in evidence])


__all__ = [
    "CHUNK_BYTES", "EPS", "LADDER", "METHODS", "Direction", "DirectionalResult", "FiniteDiffError", "Recheck",
    "directional_check", "numeric_gradient", "numeric_jacobian", "recheck_entries",
]
