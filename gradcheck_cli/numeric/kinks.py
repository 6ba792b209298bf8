"""Kinks: telling "the step crossed a kink" or "round-off" from "the derivative is wrong".

`recheck_entries` re-evaluates the entries a central or complex-step check flagged, on
a ladder of smaller steps with one-sided quotients too, and judges each claim at the
most precise estimate no kink disturbs (`kink_verdict`, shared with the directional test).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gradcheck_cli.numeric.compare import default_step, model, noise_floor
from gradcheck_cli.numeric.finite_diff import CHUNK_BYTES, Fun, Index, evaluate_points, flat_indices, values_of

#: Step divisors of the kink re-check: h, h/10, …, h/10⁴. Round-off grows as the step
#: shrinks (ε|f|/s, accounted for in the tolerance); a kink at distance d stops being
#: straddled once s < d, so most kinks are resolved somewhere on the ladder.
LADDER = (1.0, 10.0, 100.0, 1e3, 1e4)


def stable_from(series: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Per row, the first column k ≥ 1 from which the estimates agree with each other to
    the end (consecutive pairs within their tolerances), or K when there is none: the
    most precise estimate not disturbed by a kink (nor by round-off, which keeps growing)."""
    K = series.shape[1]
    pair_ok = np.abs(np.diff(series, axis=1)) <= tol[:, :-1] + tol[:, 1:]  # (n, K-1)
    suffix = np.flip(np.logical_and.accumulate(np.flip(pair_ok, axis=1), axis=1), axis=1)
    return np.asarray(np.where(suffix[:, 1:].any(axis=1), 1 + np.argmax(suffix[:, 1:], axis=1), K))


def kink_verdict(central: np.ndarray, fwd: np.ndarray, bwd: np.ndarray, t: np.ndarray, tol: np.ndarray,
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
        k0 = stable_from(series, tl)
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
    flat_idx = flat_indices(x, indices)
    idx = [tuple(int(v) for v in np.unravel_index(i, x.shape)) for i in flat_idx]
    n, K = len(flat_idx), len(LADDER)
    f0, xi, central, fwd, bwd, rich, evals = _ladder(fun, x, flat_idx, step, batched, chunk_bytes)
    m = model("central")
    noise = np.stack([noise_floor("central", f0, x_scale=xi, h=step / d) for d in LADDER], axis=1)
    tol = m.rtol * np.abs(central) + noise
    t = np.zeros(n) if target is None else np.asarray(target, dtype=float).reshape(n)
    kink, moved, jump, why = kink_verdict(central, fwd, bwd, t, tol, noise)
    evidence = moved | jump
    settled = np.minimum(stable_from(central, tol), K - 1)
    best = np.where(moved | jump, central[np.arange(n), settled], rich)
    if target is None:
        reasons = ["kink evidence" if e else "no kink evidence" for e in evidence]
        status = ["kink" if e else "smooth" for e in evidence]
        return Recheck(idx, status, [bool(e) for e in evidence], central, fwd, bwd, rich, best, reasons, evals,
                       [bool(e) for e in evidence])
    roundoff = np.abs(t - rich) <= m.rtol * np.maximum(np.abs(t), np.abs(rich)) + noise[:, 0]
    status, reasons = _verdicts(kink, roundoff, evidence, why)
    return Recheck(idx, status, [s == "kink" for s in status], central, fwd, bwd, rich, best, reasons, evals,
                   [bool(e) for e in evidence])


def _ladder(fun: Fun, x: np.ndarray, flat_idx: np.ndarray, step: float, batched: bool,
            chunk_bytes: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """f(x), the entries, and per entry the central, forward and backward quotients on the
    `LADDER` and Richardson at step ε^(1/5); with the evaluations spent."""
    n, K = len(flat_idx), len(LADDER)
    with np.errstate(all="ignore"):
        f0 = float(np.real(values_of(fun(x[None] if batched else x), 1, 1, False)[0, 0]))
        xi = x.reshape(-1)[flat_idx]
        scale = np.maximum(1.0, np.abs(xi))
        big = default_step("richardson")
        offsets = [sgn * d for d in (*(step / k for k in LADDER), big, big / 2) for sgn in (1.0, -1.0)]
        pts = [xi + o * scale for o in offsets]
        vals = evaluate_points(fun, x, np.tile(flat_idx, len(pts)), np.concatenate(pts), width=1, batched=batched,
                               chunk_bytes=chunk_bytes)[:, 0].real.reshape(len(pts), n)
        q = [(vals[2 * k] - vals[2 * k + 1]) / (pts[2 * k] - pts[2 * k + 1]) for k in range(K + 2)]
        central = np.stack(q[:K], axis=1)
        rich = q[K + 1] + (q[K + 1] - q[K]) / 3.0
        fwd = np.stack([(vals[2 * k] - f0) / (pts[2 * k] - xi) for k in range(K)], axis=1)
        bwd = np.stack([(f0 - vals[2 * k + 1]) / (xi - pts[2 * k + 1]) for k in range(K)], axis=1)
    return f0, xi, central, fwd, bwd, rich, 1 + len(pts) * n


def _verdicts(kink: np.ndarray, roundoff: np.ndarray, evidence: np.ndarray,
              why: np.ndarray) -> tuple[list[str], list[str]]:
    """(status, reason) per entry, given the kink verdicts and the round-off test."""
    status, reasons = [], []
    for j in range(len(kink)):
        if kink[j]:
            status.append("kink")
            reasons.append(KINK_REASONS[why[j]])
        elif roundoff[j]:
            status.append("pass")
            reasons.append("agrees with a lower-noise estimate: the disagreement was round-off")
        else:
            status.append("fail")
            reasons.append("a kink, but the claim matches neither side" if evidence[j] else "a real mismatch")
    return status, reasons
