"""The directional (dot-product) test of JAX's `check_vjp`: ⟨g, v⟩ against d/dt f(x + t v).

Cheap for any size (2 evaluations per direction, central; 1, complex step); a central
direction that disagrees is re-checked on the kink ladder of `numeric.kinks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradcheck_cli.numeric.compare import model, noise_floor
from gradcheck_cli.numeric.finite_diff import Fun, values_of
from gradcheck_cli.numeric.kinks import LADDER, kink_verdict

#: Relative tolerance of a directional derivative against Σ|gᵢvᵢ|, the dot product's
#: magnitude. Complex step is tighter than per entry: a bug confined to one entry of
#: P moves ⟨g, v⟩ by only ~1e-4/P of that magnitude (1e-9 at P = 1e5).
DIRECTIONAL_RTOL = {"central": 1e-6, "complex": 1e-11}


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
        return values_of(fun(np.stack(pts)), len(ts), 1, cplx)[:, 0]
    return np.array([values_of(fun(p), 1, 1, cplx)[0, 0] for p in pts])


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
    step = model(meth).step if h is None else float(h)
    dirs: list[Direction] = []
    evals = 0
    resolution = 0.0
    for _ in range(k):
        v = rng.standard_normal(x.shape) * np.maximum(1.0, np.abs(x))
        d, magnitude, extra = _one_direction(fun, x, g, v, meth, step, f_scale, batched)
        evals += extra
        dirs.append(d)
        typical = magnitude / max(1, x.size)
        if typical > 0:
            resolution = max(resolution, d.tolerance / typical)
    ok = all(d.status != "fail" for d in dirs)
    n_fail = sum(d.status == "fail" for d in dirs)
    msg = (f"{k} random directions agree" if ok else f"{n_fail} of {k} random directions disagree")
    if any(d.status == "kink" for d in dirs):
        msg += " (some only after re-checking at smaller steps: a kink was crossed)"
    return DirectionalResult(ok, k, dirs, max((d.abs_error for d in dirs), default=0.0),
                             max((d.rel_error for d in dirs), default=0.0), resolution, evals, meth, msg)


def _one_direction(fun: Fun, x: np.ndarray, g: np.ndarray, v: np.ndarray, meth: str, step: float,
                   f_scale: float | None, batched: bool) -> tuple[Direction, float, int]:
    """One direction's verdict, the dot product's magnitude Σ|gᵢvᵢ|, and the evaluations spent."""
    fp = fm = 0.0
    if meth == "complex":
        num = float(_along(fun, x, v, [1j * step], batched)[0].imag / step)
        cl = float(np.sum(g * v))
        evals = 1
        fs = abs(f_scale) if f_scale is not None else 0.0
    else:
        veff = ((x + step * v) - (x - step * v)) / (2 * step)  # the step actually taken
        fp, fm = _along(fun, x, v * step, [1.0, -1.0], batched).real
        num = float((fp - fm) / (2 * step))
        cl = float(np.sum(g * veff))
        evals = 2
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
    return Direction(cl, num, err, rel, tol, status), magnitude, evals


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
    kink, _moved, _jump, _why = kink_verdict(central, fwd, bwd, np.array([cl]), r * magnitude + noise, noise,
                                              at_kink_ok=False)
    return ("kink" if kink[0] else "fail"), len(ts)
