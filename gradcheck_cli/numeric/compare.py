"""Verdicts from an error model: does a claimed derivative agree with what the numbers can resolve?

A fixed atol/rtol either cries wolf on large, badly scaled problems or misses
small bugs on well scaled ones. Instead each entry gets the tolerance the
method can actually resolve there (Nocedal & Wright §8.1, Squire & Trapp 1998):

    method      step h (relative)   truncation (relative)        round-off (absolute floor)
    central     ε^(1/3) ≈ 6.1e-6    h²|f‴|/6        → RTOL 1e-6   SAFETY·ε|f|/hᵢ
    richardson  ε^(1/5) ≈ 7.4e-4    h⁴|f⁽⁵⁾|/480    → RTOL 1e-8   3·SAFETY·ε|f|/hᵢ
    complex     1e-20               h²|f‴|/6 ≈ 0    → RTOL 1e-10  1e-11·‖numeric‖∞ + SAFETY·ε|f|/max(1, |xᵢ|)

with hᵢ = h·max(1, |xᵢ|) (steps relative to each entry's scale) and ε the
float64 machine epsilon. An entry passes when

    |a − b| ≤ max(rtol · max(|a|, |b|), floorᵢ)        floorᵢ = the round-off term

which is the same as `relative error ≤ rtol` with the relative error
`|a − b| / max(|a|, |b|, floorᵢ / rtol)`: the reported relative error and the
verdict cannot disagree. RTOL 1e-6 for central differences leaves a 100×
margin under the 1e-4 relative one-entry bug that must be caught, and a
margin of ~10⁴ over the ~1e-10 that central differences actually reach on
well scaled smooth functions. The round-off term grows with |f|, not with the
number of parameters, so correct gradients do not creep toward the fail line
as P grows.

Complex step itself reaches ~1e-15, but its tolerance is 1e-10: the *claimed*
gradient has float64 rounding of its own, amplified by cancellation (a
confident softmax computes p − y ≈ 1e-6 from numbers near 1, relative error
~1e-10). 1e-10 still leaves a 10⁶ margin under a 1e-4 bug.

The last complex-step term is the claimed gradient's own rounding, at the
scale of a gradient of f (|f|/|xᵢ|): a saturated `tanh(10 wᵀx)` has true
derivative 1e-18, which complex step finds, while the formula `1 − tanh²`
rounds to exactly 0 in float64. Both are correct to float64; without this
floor the relative error is 1 and a correct gradient fails. An entry that
small next to |f| is judged by its absolute error, still 10⁻¹⁵·|f|.

|f| can understate the magnitudes f cancels (a loss near 0 made of large
terms); `kinks.recheck_entries` re-checks flagged entries with a
lower-noise estimate before anything is called a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

EPS = float(np.finfo(np.float64).eps)

#: Multiplier on the ε|f|/h round-off estimate. Measured worst cases on MLPs,
#: softmax losses and random smooth functions stay below ~1 (see
#: tests/test_compare.py::test_roundoff_safety_is_calibrated); 16 leaves room for
#: summation-order noise in BLAS and cancellation inside f.
SAFETY = 16.0


@dataclass(frozen=True)
class ErrorModel:
    """What one finite-difference method can resolve: see the module docstring."""

    step: float  # default relative step h
    rtol: float  # relative allowance: truncation error of the method
    roundoff: float  # × ε|f|/hᵢ: absolute noise from subtracting nearly equal values
    grad_floor: float  # × ‖numeric‖∞: absolute floor where no subtraction happens (complex step)
    value_floor: float = 0.0  # × ε|f|/max(1, |xᵢ|): the claimed gradient's own float64 rounding


MODELS: Mapping[str, ErrorModel] = {
    "central": ErrorModel(step=EPS ** (1 / 3), rtol=1e-6, roundoff=SAFETY, grad_floor=0.0),
    "richardson": ErrorModel(step=EPS ** (1 / 5), rtol=1e-8, roundoff=3 * SAFETY, grad_floor=0.0),
    "complex": ErrorModel(step=1e-20, rtol=1e-10, roundoff=0.0, grad_floor=1e-11, value_floor=SAFETY),
}


def model(method: str) -> ErrorModel:
    """The error model of `method`; an unknown method is a caller bug, said plainly."""
    try:
        return MODELS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}: expected one of {', '.join(MODELS)}") from None


def default_step(method: str) -> float:
    return model(method).step


def noise_floor(
    method: str,
    f_scale: float,
    *,
    x_scale: np.ndarray | float | None = None,
    h: float | None = None,
    grad_scale: float = 0.0,
) -> np.ndarray:
    """Absolute error floor per entry: round-off ε|f|/hᵢ (× safety) plus the method's gradient floor.

    x_scale: |xᵢ| at the checked entries (hᵢ = h·max(1, |xᵢ|)); None means 1.
    grad_scale: ‖numeric‖∞, for methods without subtraction (complex step).
    """
    m = model(method)
    step = m.step if h is None else h
    xs = np.ones(()) if x_scale is None else np.abs(np.asarray(x_scale, dtype=float))
    hi = step * np.maximum(1.0, xs)
    return (m.roundoff * EPS * abs(float(f_scale)) / hi + m.grad_floor * float(grad_scale)
            + m.value_floor * EPS * abs(float(f_scale)) / np.maximum(1.0, xs))


def relative_error(a: np.ndarray, b: np.ndarray, floor: np.ndarray | float) -> np.ndarray:
    """|a − b| / max(|a|, |b|, floor): 0 where both are 0 and the floor is 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    den = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, diff / np.where(den > 0, den, 1.0), 0.0)


@dataclass(frozen=True)
class Comparison:
    """One verdict: every entry of `numeric` against `claimed`.

    `problem` is None for a value comparison, "shape" when the shapes differ
    (checked before any value), "nonfinite" when NaN or Inf appear.
    `bad_indices` are in C order; `worst_index` is the entry with the largest
    relative error. `rtol` and `atol` are the tolerances used (`atol` the largest
    per-entry floor).
    """

    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: list[int] | None
    bad_indices: list[tuple[int, ...]] = field(default_factory=list)
    rtol: float = 0.0
    atol: float = 0.0
    method: str = "central"
    problem: str | None = None
    message: str = ""

    @property
    def tolerance(self) -> tuple[float, float]:
        return (self.rtol, self.atol)

    def __bool__(self) -> bool:
        return self.ok


def _first_nonfinite(a: np.ndarray) -> list[int]:
    return [int(i) for i in np.argwhere(~np.isfinite(a))[0]]


def _nonfinite(num: np.ndarray, cl: np.ndarray, r: float, method: str) -> Comparison | None:
    """The verdict when either side holds a NaN or an Inf (the claim is looked at first)."""
    for what, arr in (("claimed", cl), ("numeric", num)):
        if not np.all(np.isfinite(arr)):
            i = _first_nonfinite(arr)
            kind = "NaN" if np.isnan(arr[tuple(i)]) else "Inf"
            where = "the claimed gradient" if what == "claimed" else "the numeric derivative (f is not finite near x)"
            return Comparison(False, float("nan"), float("nan"), i, [tuple(i)], r, 0.0, method, "nonfinite",
                              f"{kind} in {where} at index {i}")
    return None


def compare(
    numeric: np.ndarray,
    claimed: np.ndarray,
    *,
    method: str,
    f_scale: float,
    x_scale: np.ndarray | float | None = None,
    h: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> Comparison:
    """Entry-wise verdict of `claimed` against `numeric` under the error model of `method`.

    f_scale: |f| at the point (the round-off of a difference quotient scales with it).
    x_scale: |x| at the compared entries, same shape as numeric or broadcastable.
    rtol / atol: overrides of the model's relative tolerance / absolute floor.
    """
    m = model(method)
    num = np.asarray(numeric)
    cl = np.asarray(claimed)
    r = m.rtol if rtol is None else float(rtol)
    if num.shape != cl.shape:
        return Comparison(False, float("inf"), float("inf"), None, [], r, 0.0, method, "shape",
                          f"shape mismatch: claimed {cl.shape}, expected {num.shape}")
    if np.iscomplexobj(num) or np.iscomplexobj(cl):
        raise ValueError("compare expects real derivatives; take the imaginary part of a complex step first")
    num, cl = num.astype(float), cl.astype(float)
    nonfinite = _nonfinite(num, cl, r, method)
    if nonfinite is not None:
        return nonfinite
    if num.size == 0:
        return Comparison(True, 0.0, 0.0, None, [], r, 0.0, method, None, "nothing to compare")
    grad_scale = float(np.max(np.abs(num)))
    floor = noise_floor(method, f_scale, x_scale=x_scale, h=h, grad_scale=grad_scale)
    if atol is not None:
        floor = np.maximum(floor, float(atol))
    floor = np.broadcast_to(floor, num.shape)
    rel = relative_error(num, cl, floor / r)
    bad = rel > r
    flat_worst = int(np.argmax(rel))
    worst = [int(i) for i in np.unravel_index(flat_worst, num.shape)]
    bad_idx = [tuple(int(v) for v in i) for i in np.argwhere(bad)]
    n_bad = len(bad_idx)
    msg = (f"all {num.size} entries agree" if not n_bad else
           f"{n_bad} of {num.size} entries disagree beyond the {method} error model (rtol {r:.0e})")
    return Comparison(not n_bad, float(np.max(np.abs(num - cl))), float(rel.ravel()[flat_worst]), worst, bad_idx,
                      r, float(np.max(floor)), method, None, msg)


# ---------------------------------------------------------------- diagnosis

_NICE = {2.0: "2", 0.5: "½", 3.0: "3", 1 / 3: "⅓", 4.0: "4", 0.25: "¼"}


def _agree(a: np.ndarray, b: np.ndarray, rel: float = 1e-5) -> np.ndarray:
    """a ≈ b per entry, relative to each entry and (for tiny entries) to the arrays' scale."""
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return np.asarray(np.abs(a - b) <= rel * np.maximum(np.abs(a), np.abs(b)) + 1e-3 * rel * scale)


class _Matcher:
    """`close(a, b)`: a ≈ b on the entries that count, allowing a few outliers.

    Entries in `ignore` (say, those near a kink, where the numeric value is not
    to be trusted) do not count; of the rest, a fraction `outliers` may
    disagree, so one unreliable entry does not hide a global pattern.
    """

    def __init__(self, shape: tuple[int, ...], ignore: np.ndarray | None, outliers: float):
        self.keep = np.ones(shape, dtype=bool) if ignore is None else ~np.asarray(ignore, dtype=bool).reshape(shape)
        self.allowed = int(outliers * int(self.keep.sum()))

    def equal(self, a: np.ndarray, b: np.ndarray) -> bool:
        """a ≈ b on every entry that counts: no outliers (else one wrong entry would pass)."""
        return a.shape == b.shape and bool(np.all(_agree(a, b)[self.keep] if a.shape == self.keep.shape
                                                  else _agree(a, b)))

    def close(self, a: np.ndarray, b: np.ndarray, keep: np.ndarray | None = None) -> bool:
        if a.shape != b.shape:
            return False
        k = self.keep if keep is None else keep
        if a.shape != k.shape:
            return bool(np.all(_agree(a, b)))
        n_keep = int(k.sum())
        return n_keep > 0 and int(np.count_nonzero(~_agree(a, b) & k)) <= min(self.allowed, n_keep - 1)


def _factor_name(c: float) -> str | None:
    for v, name in _NICE.items():
        if abs(c - v) <= 1e-4 * v:
            return name
    return None


def _align_vector(numeric: np.ndarray, claimed: np.ndarray) -> np.ndarray:
    """A vector given as (m,), (m, 1) or (1, m) is not a mistake: reshape it to numeric's shape."""
    same_vector = np.squeeze(claimed).shape == np.squeeze(numeric).shape and np.squeeze(numeric).ndim <= 1
    if claimed.shape != numeric.shape and claimed.size == numeric.size and same_vector:
        return claimed.reshape(numeric.shape)
    return claimed


def diagnose(
    numeric: np.ndarray,
    claimed: np.ndarray,
    *,
    alternatives: Mapping[str, np.ndarray] | None = None,
    terms: Mapping[str, np.ndarray] | None = None,
    ignore: np.ndarray | None = None,
    outliers: float = 0.05,
) -> str | None:
    """A short name for the mistake when one pattern explains the whole disagreement, else None.

    Patterns, first match wins: one of the caller's `alternatives` (label →
    what a typical wrong derivation gives, e.g. "f used where f′ belongs" or
    "summed over the wrong axis", see `wrong_axis_sums`), transposed (shape or
    values), all zeros, sign flipped, off by a constant factor c (claimed ≈
    c·numeric, c from the median ratio), a term missing (claimed + r ≈ numeric
    for r in `terms`), one entry wrong. Values must agree to ~1e-5 on all
    entries not in `ignore` (entries whose numeric value is unreliable, e.g.
    near a kink) but a fraction `outliers`.
    """
    num = np.asarray(numeric, dtype=float)
    cl = _align_vector(num, np.asarray(claimed, dtype=float))
    if not (np.all(np.isfinite(num)) and np.all(np.isfinite(cl))):
        return None
    m = _Matcher(num.shape, ignore, outliers)
    for label, alt in (alternatives or {}).items():
        alt = np.asarray(alt, dtype=float)
        a, b = (cl, alt) if alt.shape == cl.shape else (np.squeeze(cl), np.squeeze(alt))
        # an alternative that (but for a few outliers) is the derivative itself explains no mistake
        fits = m.close(np.squeeze(alt), np.squeeze(num)) if alt.size == num.size else False
        if m.close(a, b) and not m.equal(cl, num) and not fits:
            return label
    if cl.shape != num.shape:
        if cl.ndim == 2 and cl.shape == num.T.shape:
            return "transposed" if m.close(cl.T, num) else "transposed shape"
        return None
    if m.equal(cl, num):
        return None
    return _value_pattern(num, cl, terms or {}, m)


def _value_pattern(num: np.ndarray, cl: np.ndarray, terms: Mapping[str, np.ndarray], m: _Matcher) -> str | None:
    keep = m.keep
    if not np.any(cl[keep]) and np.any(num[keep]):
        return "all zeros where the derivative is not"
    big = keep & (np.abs(num) > 1e-3 * float(np.max(np.abs(num[keep]), initial=0.0)))
    if np.any(big):
        c = float(np.median(cl[big] / num[big]))
        # one informative entry fits some factor whatever it is: then only a plain one (−1, 2, ½…) is named
        plain = abs(c + 1) <= 1e-4 or _factor_name(abs(c)) is not None
        if m.close(cl, c * num) and abs(c - 1) > 1e-3 and (np.count_nonzero(big) > 1 or plain):
            if abs(c + 1) <= 1e-4:
                return "sign flipped"
            name = _factor_name(abs(c)) or f"{abs(c):.3g}"
            return ("sign flipped and " if c < 0 else "") + f"off by a factor of {name}"
    if num.ndim == 2 and num.shape[0] == num.shape[1] > 1 and m.close(cl, num.T, keep & keep.T):
        return "transposed"
    for name, r in terms.items():
        r = np.asarray(r, dtype=float)
        if r.shape == num.shape and np.any(r) and m.close(cl + r, num):
            return f"a term is missing ({name})" if name else "a term is missing"
    if num.size > 1:
        off = ~_agree(cl, num) & keep
        err = np.abs(cl - num)
        # one entry stands out: the others agree far better (not all slightly off, like an ε dropped)
        if int(np.count_nonzero(off)) == 1 and float(err[off][0]) > 100 * float(np.max(err[keep & ~off], initial=0.0)):
            return "one entry wrong"
    return None


def wrong_axis_sums(summands: np.ndarray, axis: int,
                    label: str = "summed over the wrong axis") -> dict[str, np.ndarray]:
    """Alternatives for `diagnose`: the sums of `summands` over every axis but the right one.

    For a batch bias gradient db = Σₙ δ[n, :] (axis 0), a student who sums over
    axis 1 gets δ.sum(1); passing `wrong_axis_sums(δ, 0)` lets diagnose name it
    (with or without keepdims: diagnose ignores singleton axes here).
    """
    s = np.asarray(summands, dtype=float)
    wrong = [ax for ax in range(s.ndim) if ax != axis % s.ndim]
    return {(label if len(wrong) == 1 else f"{label} (axis {ax})"): s.sum(axis=ax) for ax in wrong}
