"""One numeric check of one value against the file's forward pass.

Chooses how much to check by size (every entry up to `FULL_LIMIT` entries;
above it random directions per block, then targeted entries to localise a
failure), which derivative method, and turns disagreements near a kink into
"kink" verdicts rather than failures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcheck_cli.numeric.compare import compare, default_step, diagnose
from gradcheck_cli.numeric.directional import directional_check
from gradcheck_cli.numeric.finite_diff import numeric_gradient, numeric_jacobian
from gradcheck_cli.numeric.kinks import LADDER, recheck_entries

FULL_LIMIT = 10_000
SAMPLE_DEFAULT = 200
# Complex step is exact to ~1e-16, but the value it is compared with (a formula
# evaluated in floating point, a student's numpy) carries its own rounding,
# which cancellation in saturated units can raise to ~1e-10 relative. These
# allowances still catch one entry off by 1e-4 relative.
COMPLEX_RTOL = 1e-7
COMPLEX_ATOL_SCALE = 1e-9


@dataclass
class Outcome:
    ok: bool
    status: str
    message: str
    max_abs_error: float | None
    max_rel_error: float | None
    worst_index: list[int] | None
    method: str
    mode: str
    diagnosis: str | None
    evaluations: int


def complex_safe_fn(name: str, order: int) -> bool:
    """Complex step through f⁽ᵏ⁾: analytic functions, and piecewise ones whose
    pieces are chosen by the real part (relu, abs…), exact away from kinks."""
    from gradcheck_cli.symbolic.elementwise import ELEMENTWISE

    e = ELEMENTWISE.get(name)
    if e is None:
        return False
    return e.analytic or order == 0


def complex_safe_op(rule: Any) -> bool:
    return True  # every op's numpy rule is written to work on complex arrays


class _Scalar:
    """The scalar view of a graph Function, keeping its incremental `entries` path."""

    def __init__(self, fun: Any):
        self.fun = fun
        self.bytes_per_point = fun.bytes_per_point

    def __call__(self, x: np.ndarray) -> Any:
        return self.fun.scalar(x)

    def entries(self, flat_idx: np.ndarray, new_vals: np.ndarray) -> np.ndarray:
        return self.fun.entries(flat_idx, new_vals)


def _fmt_index(label: Any, idx: tuple[int, ...], shape: tuple[int, ...]) -> str:
    if callable(label):  # the entries of a sequence's steps: x[3][1]
        return str(label(idx))
    if len(shape) == 2 and shape[1] == 1:
        return f"{label}[{idx[0]}]"
    if len(shape) == 2 and shape[0] == 1:
        return f"{label}[{idx[1]}]"
    return f"{label}[{', '.join(str(i) for i in idx)}]"


def _g(v: float) -> str:
    return f"{v:.6g}"


def _pair(claimed: float, numeric: float) -> tuple[str, str]:
    """Both values with enough digits to differ: a FAIL never shows two equal numbers."""
    for digits in (6, 9, 12, 17):
        a, b = f"{claimed:.{digits}g}", f"{numeric:.{digits}g}"
        if a != b:
            break
    return a, b


def check(fun: Any, claimed: np.ndarray, *, conv: str | None, method: str, mode: str, sample: int | None,
          rng: np.random.Generator, rtol: float | None, scalar_out: bool, label: Any,
          suspects: Any = None, atol_scale: float = 0.0) -> Outcome:
    """`suspects()` → (alternatives, missing terms): typical wrong answers, computed only on failure.

    atol_scale: an absolute floor of atol_scale·‖numeric‖∞ per entry (a float32 implementation's rounding).
    """
    x0 = fun.x0
    P = x0.size
    if not np.all(np.isfinite(claimed)):
        bad = np.argwhere(~np.isfinite(claimed))[0]
        at = _fmt_index(label, tuple(int(i) for i in bad), np.shape(claimed)) if np.ndim(claimed) == 2 \
            else f"index {list(map(int, bad))}"
        what = "NaN" if np.isnan(claimed[tuple(bad)]) else "Inf"
        return Outcome(False, "fail", f"the gradient has {what} (first at {at}); a value must be finite to be checked",
                       None, None, [int(i) for i in bad], method, "full", None, 0)
    if mode == "auto":
        mode = "full" if P <= FULL_LIMIT else "fast"
    if mode == "sample" and (sample or SAMPLE_DEFAULT) >= P:  # a sample of every entry is the full check
        mode = "full"
    if not scalar_out:
        return _check_jacobian(fun, claimed, method, rtol, label, suspects)
    target = claimed if conv != "jacobian" else claimed.T
    target = np.asarray(target, dtype=float).reshape(x0.shape)
    f0 = fun.scalar(x0)
    fscale = abs(float(np.real(f0)))
    if mode == "fast":
        return _check_directional(fun, target, method, rng, rtol, label, fscale)
    indices = None
    if mode == "sample":
        k = min(P, sample or SAMPLE_DEFAULT)
        flat = rng.choice(P, size=k, replace=False)
        indices = [tuple(int(i) for i in np.unravel_index(f, x0.shape)) for f in sorted(flat)]
    num, evals = numeric_gradient(_Scalar(fun), x0, method=method, indices=indices, batched=True)
    claimed_vals = target if indices is None else np.array([target[i] for i in indices])
    out = _verdict(fun, x0, num, claimed_vals, target, indices, method, mode, rtol, label, fscale, evals, suspects,
                   atol_scale)
    if mode == "sample" and out.ok and indices is not None and len(indices) < P:
        return _with_directions(out, _check_directional(fun, target, method, rng, rtol, label, fscale), len(indices), P)
    return out


def _with_directions(sampled: Outcome, directional: Outcome, k: int, P: int) -> Outcome:
    """A sampled check also runs random directions, which see every entry: a wholly wrong claim cannot pass."""
    evals = sampled.evaluations + directional.evaluations
    if not directional.ok:
        return replace(directional, message=f"the {k} sampled entries (of {P}) agree, but {directional.message}",
                       mode="sample", evaluations=evals)
    return replace(sampled, message=f"{k} of {P} entries sampled and checked, and 4 random directions agree "
                   f"(a bug confined to unsampled entries may be missed; --full checks all)", evaluations=evals)


def _verdict(fun: Any, x0: np.ndarray, num: np.ndarray, claimed_vals: np.ndarray, target: np.ndarray,
             indices: list[tuple[int, ...]] | None, method: str, mode: str, rtol: float | None, label: Any,
             fscale: float, evals: int, suspects: Any = None, atol_scale: float = 0.0) -> Outcome:
    xs = np.abs(x0) if indices is None else np.abs(np.array([x0[i] for i in indices]))
    cmp = compare(num, claimed_vals, method=method, f_scale=fscale, x_scale=xs,
                  **_allowance(method, num, rtol, atol_scale))
    if not np.all(np.isfinite(num)):
        return Outcome(False, "fail", "the forward pass gives NaN or Inf near this point",
                       None, None, None, method, mode, None, evals)
    def to_index(i: Any) -> tuple[int, ...]:
        if indices is None:
            return tuple(int(v) for v in i)
        return indices[int(i[0]) if isinstance(i, (tuple, list)) else int(i)]
    if cmp.ok:
        worst = to_index(cmp.worst_index) if cmp.worst_index is not None else None
        note = f"{'all ' + str(x0.size) if indices is None else len(indices)} entries agree"
        if mode == "sample":
            note += f" ({len(indices or [])} of {x0.size} sampled: the rest were not checked)"
        return Outcome(True, "pass", note, cmp.max_abs_error, cmp.max_rel_error,
                       list(worst) if worst else None, method, mode, None, evals)
    bad = [to_index(i) for i in cmp.bad_indices]
    if method == "complex":  # no step crosses a kink in complex step: every disagreement is real
        return _failure(x0, num, target, bad, indices, method, mode, label, evals, suspects, cmp)
    # a disagreement that goes away at smaller steps (or by complex step) crossed a kink
    kinks = recheck_entries(_Scalar(fun), x0, bad, target=[target[i] for i in bad], batched=True)
    evals += kinks.evaluations
    # an entry whose re-check at the smallest central step agrees with the claim was a step
    # artefact (Richardson's extrapolation across a kink, say): not a failure either
    central = np.asarray(kinks.central, dtype=float)
    claimed_bad = np.array([target[b] for b in bad], dtype=float)
    xs_bad = np.array([abs(x0[b]) for b in bad])
    disagree = set(range(len(bad)))
    for col, div in enumerate(LADDER[:central.shape[1]]):
        if div > 100:  # beyond h/100 round-off is too coarse to vouch for a claim
            break
        cmp_col = compare(central[:, col], claimed_bad, method="central", f_scale=fscale, x_scale=xs_bad,
                          h=default_step("central") / div)
        disagree &= {int(i[0]) for i in cmp_col.bad_indices}
    explained = getattr(kinks, "ok", kinks.is_kink)
    real_bad = [b for j, (b, k) in enumerate(zip(bad, explained)) if not k and j in disagree]
    if not real_bad:
        return Outcome(True, "kink", f"{len(bad)} entr{'y' if len(bad) == 1 else 'ies'} disagreed only across a "
                       f"kink (non-differentiable point), e.g. {_fmt_index(label, bad[0], x0.shape)}; "
                       f"re-checked at smaller steps", cmp.max_abs_error, cmp.max_rel_error,
                       list(bad[0]), method, mode, None, evals)
    return _failure(x0, num, target, real_bad, indices, method, mode, label, evals, suspects, cmp)


def _failure(x0: np.ndarray, num: np.ndarray, target: np.ndarray, real_bad: list[tuple[int, ...]],
             indices: list[tuple[int, ...]] | None, method: str, mode: str, label: Any, evals: int,
             suspects: Any, cmp: Any) -> Outcome:
    """The report of real disagreements: the worst entry, both values, a diagnosis."""
    worst = max(real_bad, key=lambda b: abs(target[b] - num[_pos(b, indices)]))
    nv, cv = num[_pos(worst, indices)], target[worst]
    rel = abs(nv - cv) / max(abs(nv), abs(cv), 1e-300)
    full_num = num.reshape(x0.shape) if indices is None else None
    diag = None
    if full_num is not None:
        alts, terms = suspects() if suspects is not None else ({}, {})
        diag = diagnose(full_num, target, alternatives=alts, terms=terms)
    cs, ns = _pair(cv, nv)
    msg = (f"{_fmt_index(label, worst, x0.shape)}: claimed {cs}, numeric {ns} (relative error {rel:.2g}); "
           f"{len(real_bad)} of {len(indices) if indices else x0.size} entries disagree")
    if diag:
        msg += f"; looks like: {diag}"
    return Outcome(False, "fail", msg, cmp.max_abs_error, cmp.max_rel_error, list(worst), method, mode, diag, evals)


def _allowance(method: str, num: np.ndarray, rtol: float | None, atol_scale: float = 0.0) -> dict[str, Any]:
    scale = float(np.max(np.abs(num))) if num.size else 0.0
    if method != "complex":
        return {"rtol": rtol, "atol": atol_scale * scale} if atol_scale else {"rtol": rtol}
    return {"rtol": rtol if rtol is not None else COMPLEX_RTOL, "atol": max(COMPLEX_ATOL_SCALE, atol_scale) * scale}


def _pos(idx: tuple[int, ...], indices: list[tuple[int, ...]] | None) -> Any:
    return idx if indices is None else indices.index(idx)


def _check_directional(fun: Any, target: np.ndarray, method: str, rng: np.random.Generator, rtol: float | None,
                       label: Any, fscale: float) -> Outcome:
    res = directional_check(fun.scalar, fun.x0, target, rng, k=4, method=method, f_scale=fscale, batched=True)
    evals = res.evaluations
    if res.ok:
        return Outcome(True, "pass", f"{res.k} random directions agree (a sampled check: a bug confined to "
                       f"a few entries below {res.resolution:.1g} relative would be missed)",
                       res.max_abs_error, res.max_rel_error, None, method, "fast", None, evals)
    # localise by group testing: halve the failing block until single entries remain
    suspects = _bisect(fun, target, method, rng, evals_box := [0])
    evals += evals_box[0]
    if not suspects:
        return Outcome(False, "fail", f"random directional derivatives disagree (relative error "
                       f"{res.max_rel_error:.2g}) but no single entry could be isolated; rerun with --full",
                       res.max_abs_error, res.max_rel_error, None, method, "fast", None, evals)
    idx = [tuple(int(i) for i in np.unravel_index(f, fun.x0.shape)) for f in suspects]
    num, e2 = numeric_gradient(_Scalar(fun), fun.x0, method=method, indices=idx, batched=True)
    out = _verdict(fun, fun.x0, num, np.array([target[i] for i in idx]), target, idx, method, "fast", rtol, label,
                   fscale, evals + e2)
    if out.ok:
        return Outcome(False, "fail", f"random directional derivatives disagree (relative error "
                       f"{res.max_rel_error:.2g}); the entries isolated by bisection agree — rerun with --full",
                       res.max_abs_error, res.max_rel_error, None, method, "fast", None, out.evaluations)
    out.message += f" (random directions disagreed; the entry was isolated by bisection)"
    return out


MAX_SUSPECTS = 8


def _bisect(fun: Any, target: np.ndarray, method: str, rng: np.random.Generator, evals: list[int]) -> list[int]:
    """Flat indices of entries whose directional derivative disagrees, by halving blocks.

    Each test restricts a random direction to a block and compares ⟨g, v⟩ with
    the derivative along v (complex step: one evaluation, exact; else central).
    About 2·log₂(P) tests per bad entry instead of P.
    """
    x0 = fun.x0
    flat_target = target.reshape(-1)
    found: list[int] = []
    stack = [np.arange(x0.size)]
    while stack and len(found) < MAX_SUSPECTS:
        block = stack.pop()
        if not _block_disagrees(fun, x0, flat_target, block, method, rng, evals):
            continue
        if block.size == 1:
            found.append(int(block[0]))
            continue
        half = block.size // 2
        stack.extend([block[half:], block[:half]])
    return found


def _block_disagrees(fun: Any, x0: np.ndarray, g: np.ndarray, block: np.ndarray, method: str,
                     rng: np.random.Generator, evals: list[int]) -> bool:
    v = np.zeros(x0.size)
    v[block] = rng.standard_normal(block.size) * np.maximum(1.0, np.abs(x0.reshape(-1)[block]))
    v = v.reshape(x0.shape)
    claimed = float(np.sum(g.reshape(x0.shape) * v))
    magnitude = float(np.sum(np.abs(g.reshape(x0.shape) * v)))
    if method == "complex":
        h = 1e-20
        num = float(np.imag(fun.scalar(x0.astype(complex) + 1j * h * v)) / h)
        evals[0] += 1
        # exact up to the rounding of ⟨g, v⟩ itself: a one-entry bug among 1e5 moves it by ~1e-9
        tol = 1e-11 * max(abs(num), abs(claimed), magnitude) + 1e-300
    else:
        h = 1e-6
        fp, fm = fun.scalar(x0 + h * v), fun.scalar(x0 - h * v)
        num = float((fp - fm) / (2 * h))
        evals[0] += 2
        tol = 1e-6 * max(abs(num), abs(claimed), magnitude) + 64 * np.finfo(float).eps * max(abs(fp), abs(fm)) / h
    return abs(num - claimed) > tol


def _check_jacobian(fun: Any, claimed: np.ndarray, method: str, rtol: float | None, label: Any,
                    suspects: Any = None) -> Outcome:
    x0 = fun.x0
    J, evals = numeric_jacobian(fun, x0, method=method, batched=True)
    claimed = np.asarray(claimed, dtype=float).reshape(J.shape)
    cmp = compare(J, claimed, method=method, f_scale=float(np.max(np.abs(np.real(fun(x0))))),
                  **_allowance(method, J, rtol))
    if cmp.ok:
        return Outcome(True, "pass", f"all {J.size} Jacobian entries agree", cmp.max_abs_error, cmp.max_rel_error,
                       cmp.worst_index, method, "full", None, evals)
    i = tuple(cmp.bad_indices[0])
    alts, terms = suspects() if suspects is not None else ({}, {})
    diag = diagnose(J, claimed, alternatives=alts, terms=terms)
    msg = (f"Jacobian entry [{i[0]}, {i[1]}]: claimed {_g(claimed[i])}, numeric {_g(J[i])}; "
           f"{len(cmp.bad_indices)} of {J.size} entries disagree")
    if diag:
        msg += f"; looks like: {diag}"
    return Outcome(False, "fail", msg, cmp.max_abs_error, cmp.max_rel_error, list(i), method, "full", diag, evals)


def analytic_path(out: Expr, wrt: Expr | tuple[Expr, ...], ctx: Context) -> bool:
    """Complex step is exact when every op between wrt (one node, or the steps of a sequence) and out
    is (piecewise) analytic."""
    from gradcheck_cli.numeric.evaluate import depends_on
    from gradcheck_cli.symbolic.elementwise import ELEMENTWISE
    from gradcheck_cli.symbolic.table import OPS

    targets = {id(w) for w in (wrt if isinstance(wrt, tuple) else (wrt,))}
    dep = depends_on(out, targets)
    for node in out.walk():
        if id(node) not in dep or id(node) in targets:
            continue
        if node.op == "fn":
            name = node.param("name")
            real = name if name in ELEMENTWISE else ctx.bind.get(name) or ctx.graph.functions.get(name)
            if real is None or not complex_safe_fn(real, node.param("order")):
                return False
        elif not complex_safe_op(OPS[node.op]):
            return False
    return True
