"""`gradcheck verify` against the other ways of checking a gradient numerically.

    python bench/verify.py            # the whole table, ~2 minutes
    python bench/verify.py --quick    # P = 1e2 and 1e3 only, ~15 s
    python bench/verify.py --only mlp:2e4    # one case: issue 11's equal-work row

One table: for each function and size, the time, the number of evaluations of
the function, the worst relative error on the correct gradient, whether the
method's own verdict raises a false alarm on it, and whether it catches a
planted one-entry bug, for

  gradcheck (auto)                    `gradcheck verify FILE` as it runs by default
  gradcheck --full --method central   every entry, central differences
  gradcheck --full --method complex   every entry, complex step (what `--full` alone picks
                                      here: every op on the path is analytic)
  loop (CS231n)                       eval_numerical_gradient: one entry at a time, in place
  scipy check_grad                    scipy.optimize.check_grad (forward differences)
  numdifftools                        numdifftools.Gradient (central, Richardson extrapolation)
  torch gradcheck                     torch.autograd.gradcheck, CPU, float64 (optional: skipped
                                      with a note when torch is not installed)

The functions (x is data, every other variable a parameter; P = all parameters):

  seed   s = uᵀ tanh(W x + b)                       W n×m, b n, u n
  mlp    s = uᵀ tanh(W2 tanh(W1 x + b1) + b2)        W1 H×d, b1 H, W2 H×H, b2 H, u H

at P ≈ 1e2, 1e3, 1e4, 1e5, and the two-layer 100-unit net (H = 100, P = 2e4).

The gradcheck rows go through the library function `gradcheck verify` calls
(`gradcheck_cli.numeric.verify.verify`) on the .grad files written below, at one point
(`--trials 1`), checking every derived gradient; the planted bug is a `claim`
in the file. The other rows run the same function written in numpy (torch for
torch), at the same point, over all P parameters flattened into one θ. The
exact gradient every row is measured against is written by hand in numpy.

A baseline whose whole run would take more than BUDGET seconds is run on a
random subset of the entries and scaled (marked est.). The legend printed
under the table (also below) defines every column and each method's verdict.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads BLAS
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402
import scipy.optimize._optimize  # noqa: E402  check_grad's module: its approx_fprime is recorded

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradcheck_cli.lang.graph import Graph, parse  # noqa: E402
from gradcheck_cli.numeric import checker  # noqa: E402
from gradcheck_cli.numeric.evaluate import sample_inputs  # noqa: E402
from gradcheck_cli.numeric.verify import VerifyOptions, verify  # noqa: E402

BUG = 1e-4  # the planted bug: one entry × (1 + BUG)
BUDGET = 6.0  # seconds one baseline run may take before it is estimated from a subset
SUBSET_SECONDS = 1.5  # what the subset run aims to take
REPEAT_WITHIN = 1.5  # repeat a timed run (up to 3×, best kept) while the runs so far took less


# ---------------------------------------------------------------------------- the functions


@dataclass
class Case:
    fn: str  # "seed" | "mlp"
    label: str  # "1e4"
    sizes: dict[str, int]
    bug_var: str  # the variable whose gradient gets the planted bug
    graph: Graph = field(init=False)
    bug_graph: Graph = field(init=False)

    def text(self, bug: bool) -> str:
        dims = ", ".join(f"{k} = {v}" for k, v in self.sizes.items())
        if self.fn == "seed":
            body = SEED
            claim = ("ei : onehot(n)\nej : onehot(m)\ndelta = u * tanh'(z)\n"
                     f"claim ds/dW = delta x^T + {BUG} * (delta x^T) * (ei ej^T)\n")
        else:
            body = MLP
            claim = ("ei : onehot(H)\nej : onehot(d)\ndelta2 = u * tanh'(z2)\n"
                     "delta1 = (W2^T delta2) * tanh'(z1)\n"
                     f"claim ds/dW1 = delta1 x^T + {BUG} * (delta1 x^T) * (ei ej^T)\n")
        return f"dims {dims}\n{body}" + (claim if bug else "")

    @property
    def name(self) -> str:
        return f"{self.fn} P={self.label}"


SEED = """\
W : n x m
x : m const
b : n
u : n
z = W x + b
h = tanh(z)
s = u^T h
output s
"""

MLP = """\
W1 : H x d
x : d const
b1 : H
W2 : H x H
b2 : H
u : H
z1 = W1 x + b1
h1 = tanh(z1)
z2 = W2 h1 + b2
h2 = tanh(z2)
s = u^T h2
output s
"""


def cases(quick: bool, only: str | None = None) -> list[Case]:
    seed = {"1e2": (8, 10), "1e3": (20, 48), "1e4": (100, 98), "1e5": (250, 398)}  # P = nm + 2n
    mlp = {"1e2": (6, 8), "1e3": (20, 28), "1e4": (60, 104), "2e4": (100, 97), "1e5": (200, 297)}  # Hd + H² + 3H
    keep = {"1e2", "1e3"} if quick and not only else set(seed) | set(mlp)
    out = [Case("seed", k, {"n": n, "m": m}, "W") for k, (n, m) in seed.items() if k in keep]
    out += [Case("mlp", k, {"H": h, "d": d}, "W1") for k, (h, d) in mlp.items() if k in keep]
    if only:
        out = [c for c in out if f"{c.fn}:{c.label}" in only.split(",")]
    return out


# ---------------------------------------------------------------------------- one point, exact gradient


@dataclass
class Problem:
    """The point, the exact gradient and the numpy function of one case."""

    case: Case
    values: dict[str, np.ndarray]  # every variable of the bug graph, (r, c) arrays
    params: list[str]  # declaration order: θ's blocks
    shapes: dict[str, tuple[int, int]]
    theta: np.ndarray
    f: Callable[[np.ndarray], float]  # θ ↦ s, numpy
    grad: Callable[[np.ndarray], np.ndarray]  # θ ↦ ∂s/∂θ, numpy, by hand
    g: np.ndarray  # the exact gradient at θ
    bug_flat: int  # the entry of θ that carries the planted bug
    bug_entry: tuple[int, int]  # (i, j) in bug_var

    @property
    def P(self) -> int:
        return self.theta.size

    def blocks(self) -> Iterator[tuple[str, slice]]:
        start = 0
        for p in self.params:
            size = int(np.prod(self.shapes[p]))
            yield p, slice(start, start + size)
            start += size

    def unflatten(self, t: np.ndarray) -> dict[str, np.ndarray]:
        return {p: t[sl].reshape(self.shapes[p]) for p, sl in self.blocks()}

    @property
    def g_bug(self) -> np.ndarray:
        bad = self.g.copy()
        bad[self.bug_flat] *= 1 + BUG
        return bad

    def point(self, bug: bool) -> dict[str, np.ndarray]:
        names = self.case.bug_graph.variables if bug else self.case.graph.variables
        return {k: v for k, v in self.values.items() if k in names}


def problem(case: Case) -> Problem:
    case.graph = parse(case.text(False), f"{case.name}.grad")
    case.bug_graph = parse(case.text(True), f"{case.name} (bug).grad")
    values = sample_inputs(case.bug_graph, np.random.default_rng(0))
    params = case.graph.params()
    shapes = {p: tuple(values[p].shape) for p in params}
    x = values["x"][:, 0]
    theta = np.concatenate([values[p].ravel() for p in params])
    cuts = np.cumsum([0] + [int(np.prod(shapes[p])) for p in params])
    sl = dict(zip(params, (slice(a, b) for a, b in zip(cuts[:-1], cuts[1:]))))

    if case.fn == "seed":
        n, m = case.sizes["n"], case.sizes["m"]

        def f(t: np.ndarray) -> float:
            return t[sl["u"]] @ np.tanh(t[sl["W"]].reshape(n, m) @ x + t[sl["b"]])

        def grad(t: np.ndarray) -> np.ndarray:
            W, b, u = t[sl["W"]].reshape(n, m), t[sl["b"]], t[sl["u"]]
            h = np.tanh(W @ x + b)
            delta = u * (1 - h * h)
            out = np.empty_like(t)
            out[sl["W"]] = np.outer(delta, x).ravel()
            out[sl["b"]], out[sl["u"]] = delta, h
            return out
    else:
        H, d = case.sizes["H"], case.sizes["d"]

        def f(t: np.ndarray) -> float:
            h1 = np.tanh(t[sl["W1"]].reshape(H, d) @ x + t[sl["b1"]])
            return t[sl["u"]] @ np.tanh(t[sl["W2"]].reshape(H, H) @ h1 + t[sl["b2"]])

        def grad(t: np.ndarray) -> np.ndarray:
            W1, b1, W2, b2, u = (t[sl[k]] for k in ("W1", "b1", "W2", "b2", "u"))
            W1, W2 = W1.reshape(H, d), W2.reshape(H, H)
            h1 = np.tanh(W1 @ x + b1)
            h2 = np.tanh(W2 @ h1 + b2)
            d2 = u * (1 - h2 * h2)
            d1 = (W2.T @ d2) * (1 - h1 * h1)
            out = np.empty_like(t)
            out[sl["W1"]], out[sl["b1"]] = np.outer(d1, x).ravel(), d1
            out[sl["W2"]], out[sl["b2"]], out[sl["u"]] = np.outer(d2, h1).ravel(), d2, h2
            return out

    g = grad(theta)
    # the planted bug: an entry of typical size (|g| between the 25th and 90th percentile)
    block = g[sl[case.bug_var]]
    lo, hi = np.percentile(np.abs(block), [25, 90])
    typical = np.flatnonzero((np.abs(block) >= lo) & (np.abs(block) <= hi))
    j = int(np.random.default_rng(1).choice(typical))
    i_row, j_col = np.unravel_index(j, shapes[case.bug_var])
    for name, k in (("ei", i_row), ("ej", j_col)):  # the claim's one-hot vectors pick that entry
        values[name] = np.zeros_like(values[name])
        values[name][k, 0] = 1.0
    return Problem(case, values, params, shapes, theta, f, grad, g, sl[case.bug_var].start + j,
                   (int(i_row), int(j_col)))


# ---------------------------------------------------------------------------- results


@dataclass
class Row:
    method: str
    seconds: float | None = None
    evals: int | None = None
    worst: float | None = None
    worst_mark: str = ""  # "d" directional, "²" normwise 2-norm
    worst_entry: float | None = None  # per entry, |Δᵢ| / |gᵢ| where |gᵢ| ≥ 1e-3 max |g|
    false_alarm: bool | None = None
    caught: bool | None = None
    estimated: str = ""  # "k=500" when estimated from a subset
    note: str = ""  # why a row has no numbers
    bug_seconds: float | None = None  # gradcheck: the failing claim's check alone
    lower_bound: bool = False  # the scaled time understates a cost that grows faster than P
    peak_mb: float = 0.0  # gradcheck: tracemalloc's peak during one verify() (numpy's buffers included)


def errors(p: Problem, num: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """(worst rel, worst per entry) of a numerical gradient of θ over the entries in `mask`:
    max over variables of maxᵢ |numᵢ − gᵢ| / maxᵢ |gᵢ|, and maxᵢ |numᵢ − gᵢ| / |gᵢ| over
    the entries with |gᵢ| ≥ 1e-3 · max |g| of their variable."""
    worst = per_entry = 0.0
    for _name, sl in p.blocks():
        keep = np.ones(sl.stop - sl.start, dtype=bool) if mask is None else mask[sl]
        if not keep.any():
            continue
        g = p.g[sl]
        top = max(float(np.max(np.abs(g))), 1e-300)
        err = np.abs(num[sl] - g)
        worst = max(worst, float(np.max(err[keep])) / top)
        big = keep & (np.abs(g) >= 1e-3 * top)
        if big.any():
            per_entry = max(per_entry, float(np.max(err[big] / np.abs(g[big]))))
    return worst, per_entry


def best_of(run: Callable[[], Any]) -> tuple[float, Any]:
    """(best time, last result) over up to 3 runs, repeated only while they are short."""
    times, out, spent = [], None, 0.0
    while len(times) < 3 and (not times or spent < REPEAT_WITHIN):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    return min(times), out


def subset(p: Problem, k: int) -> np.ndarray:
    """k entries of θ at random, always with the planted bug's entry, sorted."""
    rng = np.random.default_rng(2)
    pick = rng.choice(p.P, size=min(k, p.P) - 1, replace=False)
    return np.unique(np.concatenate([pick[pick != p.bug_flat], [p.bug_flat]]))


def per_eval_seconds(call: Callable[[], Any], n: int = 30) -> float:
    call()
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) / n


# ---------------------------------------------------------------------------- gradcheck


@contextlib.contextmanager
def capture() -> Iterator[dict[str, Any]]:
    """Record the numerical gradients and directional results `verify` computes (by variable)."""
    seen: dict[str, Any] = {}
    ng, dc = checker.numeric_gradient, checker.directional_check

    def numeric_gradient(fun: Any, x: Any, **kw: Any) -> Any:
        out = ng(fun, x, **kw)
        if kw.get("indices") is None:
            seen[fun.fun.wrt.param("name")] = ("full", out[0])
        return out

    def directional_check(fun: Any, x: Any, g: Any, rng: Any, **kw: Any) -> Any:
        out = dc(fun, x, g, rng, **kw)
        seen[fun.__self__.wrt.param("name")] = ("dir", out)
        return out

    checker.numeric_gradient, checker.directional_check = numeric_gradient, directional_check
    try:
        yield seen
    finally:
        checker.numeric_gradient, checker.directional_check = ng, dc


def run_gradcheck(p: Problem, label: str, mode: str, method: str) -> Row:
    def opts(bug: bool) -> VerifyOptions:
        return VerifyOptions(seed=0, trials=1, mode=mode, method=method, points=[p.point(bug)])

    verify(p.case.graph, opts(False))  # warm-up: numpy, lambdified f′, caches
    seconds, report = best_of(lambda: verify(p.case.graph, opts(False)))
    tracemalloc.start()
    with capture() as seen:
        verify(p.case.graph, opts(False))
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    num, mask = np.zeros(p.P), np.zeros(p.P, dtype=bool)
    worst_dir, mark = 0.0, ""
    for name, sl in p.blocks():
        kind, val = seen[name]
        if kind == "full":
            num[sl], mask[sl] = val.ravel(), True
        else:  # directional: each direction's error relative to Σ|gᵢvᵢ|, as the check reports it
            worst_dir, mark = max(worst_dir, max(d.rel_error for d in val.directions)), "d"
    worst, per_entry = errors(p, num, mask)
    worst = max(worst, worst_dir)
    bug = verify(p.case.bug_graph, opts(True))
    claim = next(c for c in bug.checks if c.kind == "claim")
    if claim.status == "error":
        raise RuntimeError(f"{p.case.name}: the bug claim could not be evaluated: {claim.message}")
    return Row(label, seconds, sum(c.evaluations for c in report.checks), worst, mark, per_entry,
               false_alarm=not report.ok, caught=not claim.ok, bug_seconds=claim.seconds, peak_mb=peak_mb)


# ---------------------------------------------------------------------------- the loop (CS231n)


def cs231n_loop(f: Callable[[np.ndarray], float], x: np.ndarray, idx: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """eval_numerical_gradient of the CS231n assignments, over the entries `idx`: in place, one at a time."""
    grad = np.zeros(len(idx))
    for k, ix in enumerate(idx):
        old = x[ix]
        x[ix] = old + h
        fp = f(x)
        x[ix] = old - h
        fm = f(x)
        x[ix] = old
        grad[k] = (fp - fm) / (2 * h)
    return grad


def cs231n_rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def run_loop(p: Problem) -> Row:
    t_eval = per_eval_seconds(lambda: p.f(p.theta))
    idx = np.arange(p.P)
    est = ""
    if 2 * p.P * t_eval > BUDGET:
        idx = subset(p, int(SUBSET_SECONDS / (2 * t_eval)))
        est = f"k={len(idx)}"
    seconds, num = best_of(lambda: cs231n_loop(p.f, p.theta.copy(), idx))
    return _per_entry_row("loop (CS231n)", p, idx, num, seconds, 2 * len(idx), est,
                          lambda n, c: cs231n_rel_error(n, c) > 1e-7)


def _per_entry_row(label: str, p: Problem, idx: np.ndarray, num: np.ndarray, seconds: float, evals: int,
                   est: str, flags: Callable[[np.ndarray, np.ndarray], bool]) -> Row:
    full = np.zeros(p.P)
    full[idx] = num
    mask = np.zeros(p.P, dtype=bool)
    mask[idx] = True
    scale = p.P / len(idx)
    worst, per_entry = errors(p, full, mask)
    return Row(label, seconds * scale, int(round(evals * scale)), worst, "", per_entry,
               false_alarm=flags(num, p.g[idx]), caught=flags(num, p.g_bug[idx]), estimated=est)


# ---------------------------------------------------------------------------- scipy


class Counted:
    def __init__(self, f: Callable[[np.ndarray], Any]):
        self.f, self.n = f, 0

    def __call__(self, t: np.ndarray) -> Any:
        self.n += 1
        return self.f(t)


def run_check_grad(p: Problem) -> Row:
    t_eval = per_eval_seconds(lambda: p.f(p.theta))
    predicted = (p.P + 1) * (t_eval + p.P * 1e-9)  # approx_fprime copies θ for every entry: O(P²)
    if predicted > 3 * BUDGET:  # check_grad is one call: it cannot be run on a subset
        return Row("scipy check_grad", note=f"skipped (> {3 * BUDGET:.0f} s: ~{predicted:.0f} s predicted)")
    counted = Counted(p.f)
    mod = scipy.optimize._optimize
    real, seen = mod.approx_fprime, []

    def approx_fprime(*a: Any, **kw: Any) -> Any:
        out = real(*a, **kw)
        seen.append(out)
        return out

    mod.approx_fprime = approx_fprime
    def once() -> float:
        counted.n = 0
        return float(scipy.optimize.check_grad(counted, p.grad, p.theta))

    try:
        seconds, err = best_of(once)
    finally:
        mod.approx_fprime = real
    # the bug's verdict: check_grad(f, grad_bug, θ) = ‖grad_bug − approx_fprime(θ)‖₂, the same numbers
    err_bug = float(np.linalg.norm(p.g_bug - seen[-1]))
    gn = float(np.linalg.norm(p.g))
    return Row("scipy check_grad", seconds, counted.n, err / gn, "²", false_alarm=err / gn > 1e-6,
               caught=err_bug / gn > 1e-6)


# ---------------------------------------------------------------------------- numdifftools


ND_WHOLE = 2_000  # numdifftools runs whole up to this P; above, on ND_SUBSET entries
ND_SUBSET = 1_000


def run_numdifftools(p: Problem) -> Row:
    """numdifftools.Gradient with its defaults. Its cost grows as P²: every step builds a P×P
    identity (`np.identity(n) * h`) and a full copy of x per entry, so above ND_WHOLE entries
    it runs on a subset and its scaled time is a lower bound (P = 1e5 would need 80 GB)."""
    try:
        import numdifftools as nd
    except ImportError:
        return Row("numdifftools", note="not installed (pip install numdifftools)")
    work = p.theta.copy()
    idx, est = np.arange(p.P), ""
    if p.P > ND_WHOLE:
        idx = subset(p, ND_SUBSET)
        est = f"k={len(idx)}"

    def f(sub: np.ndarray) -> float:  # θ with the entries idx set to sub
        work[idx] = sub
        return p.f(work)

    counted = Counted(f)

    def once() -> np.ndarray:
        counted.n = 0
        return np.asarray(nd.Gradient(counted)(p.theta[idx])).ravel()

    seconds, num = best_of(once)
    work[:] = p.theta

    def flags(n: np.ndarray, c: np.ndarray) -> bool:
        return not np.allclose(n, c, rtol=1e-6, atol=1e-9 * float(np.max(np.abs(c))))

    row = _per_entry_row("numdifftools", p, idx, num, seconds, counted.n, est, flags)
    row.lower_bound = bool(est)
    return row


# ---------------------------------------------------------------------------- torch


def run_torch(p: Problem) -> Row:
    try:
        import torch
    except ImportError:
        return Row("torch gradcheck", note="not installed (optional: pip install torch==2.13.0, CPU)")
    import torch.autograd.gradcheck  # noqa: F401  the module, for its numerical Jacobian
    tg = sys.modules["torch.autograd.gradcheck"]
    x = torch.tensor(p.values["x"][:, 0], dtype=torch.float64)
    shapes = p.shapes

    def forward(params: dict[str, Any]) -> Any:
        if p.case.fn == "seed":
            return params["u"] @ torch.tanh(params["W"] @ x + params["b"])
        h1 = torch.tanh(params["W1"] @ x + params["b1"])
        return params["u"] @ torch.tanh(params["W2"] @ h1 + params["b2"])

    # the full problem: one input per variable; estimated: one input of k entries of θ
    def tshape(n: str) -> tuple[int, ...]:  # vectors 1-D, the numpy habit
        return shapes[n] if shapes[n][1] > 1 else (shapes[n][0],)

    def tensors(t: np.ndarray, grad: bool = False) -> list[Any]:
        return [torch.tensor(v.reshape(tshape(n)), requires_grad=grad) for n, v in p.unflatten(t).items()]

    t_eval = per_eval_seconds(lambda: forward(dict(zip(p.params, tensors(p.theta)))))
    idx, est = None, ""
    # gradcheck's own per-entry work is ~2× the evaluations; the P = 1e4 rows (a target) always run whole
    if 2 * p.P * t_eval * 2.5 > BUDGET and p.P > 10_100:
        idx = subset(p, max(16, int(SUBSET_SECONDS / (2 * t_eval * 2.5))))
        est = f"k={len(idx)}"

    def make(claimed: np.ndarray) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """(fn, inputs) for gradcheck, with backward returning `claimed` (the flat θ gradient)."""
        base = torch.tensor(p.theta)
        if idx is None:
            names = p.params
            grads = tensors(claimed)
            inputs = tuple(tensors(p.theta, grad=True))

            def params_of(*xs: Any) -> dict[str, Any]:
                return dict(zip(names, xs))
        else:
            tidx = torch.tensor(idx)
            grads = [torch.tensor(claimed[idx])]
            inputs = (torch.tensor(p.theta[idx], requires_grad=True),)

            def params_of(*xs: Any) -> dict[str, Any]:
                full = base.index_put((tidx,), xs[0])
                out, start = {}, 0
                for n in p.params:
                    size = int(np.prod(shapes[n]))
                    out[n] = full[start:start + size].reshape(tshape(n))
                    start += size
                return out

        class Claimed(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, *xs: Any) -> Any:  # noqa: ARG004
                return forward(params_of(*xs))

            @staticmethod
            def backward(ctx: Any, go: Any) -> Any:  # noqa: ARG004
                return tuple(go * gr for gr in grads)

        return Claimed.apply, inputs

    fn, inputs = make(p.g)
    grabbed: list[Any] = []
    real = tg._get_numerical_jacobian

    def numerical(*a: Any, **kw: Any) -> Any:
        out = real(*a, **kw)
        grabbed.append(out)
        return out

    tg._get_numerical_jacobian = numerical
    try:
        counter = [0]

        def counted(*xs: Any) -> Any:
            counter[0] += 1
            return fn(*xs)

        def once() -> bool:
            counter[0] = 0
            grabbed.clear()
            return bool(torch.autograd.gradcheck(counted, inputs, raise_exception=False))

        seconds, ok = best_of(once)
        evals = counter[0]
        fn_bug, inputs_bug = make(p.g_bug)
        ok_bug = torch.autograd.gradcheck(fn_bug, inputs_bug, raise_exception=False)
    finally:
        tg._get_numerical_jacobian = real
    num = np.concatenate([per_input[0].detach().numpy().ravel() for per_input in grabbed[0]])  # one per input
    chosen = np.arange(p.P) if idx is None else idx
    full = np.zeros(p.P)
    full[chosen] = num
    mask = np.zeros(p.P, dtype=bool)
    mask[chosen] = True
    scale = p.P / len(chosen)
    worst, per_entry = errors(p, full, mask)
    return Row("torch gradcheck", seconds * scale, int(round(evals * scale)), worst, "", per_entry,
               false_alarm=not ok, caught=not ok_bug, estimated=est)


# ---------------------------------------------------------------------------- the table


GRADCHECK = (("gradcheck (auto)", "auto", "auto"),
             ("gradcheck --full --method central", "full", "central"),
             ("gradcheck --full --method complex", "full", "complex"))


def control(p: Problem) -> None:
    """The bug's claim with the bug set to 0 must pass: a claim that fails anyway would catch nothing."""
    graph = parse(p.case.text(True).replace(f"{BUG} *", "0.0 *"), f"{p.case.name} (control).grad")
    report = verify(graph, VerifyOptions(seed=0, trials=1, points=[p.point(True)]))
    claim = next(c for c in report.checks if c.kind == "claim")
    if not claim.ok:
        raise RuntimeError(f"{p.case.name}: the bench's claim fails without the bug: {claim.message}")


def bench_case(case: Case, torch_ok: bool) -> tuple[Problem, list[Row]]:
    p = problem(case)
    control(p)
    rows = [run_gradcheck(p, label, mode, method) for label, mode, method in GRADCHECK]
    rows += [run_loop(p), run_check_grad(p), run_numdifftools(p)]
    rows.append(run_torch(p) if torch_ok else
                Row("torch gradcheck", note="not installed (optional: pip install torch==2.13.0, CPU)"))
    return p, rows


def fmt_rows(p: Problem, rows: list[Row]) -> list[list[str]]:
    loop = next(r for r in rows if r.method.startswith("loop"))
    out = []
    for r in rows:
        cells = [p.case.fn, f"{p.P:>6}", r.method]
        if r.seconds is None:
            out.append(cells + [r.note])
            continue
        speed = loop.seconds / r.seconds if loop.seconds else float("nan")
        est = " est." if r.estimated else ""
        low = "≥" if r.lower_bound else ""
        cells += [f"{low}{r.seconds:.3g}{est}", f"{low and '≤'}{speed:.3g}", f"{r.evals}{est}", f"{r.evals / p.P:.3g}",
                  f"{r.worst:.1e}{r.worst_mark or ' '}" if r.worst is not None else "—",
                  "YES" if r.false_alarm else "no", "yes" if r.caught else "NO",
                  (f"est. from {r.estimated.removeprefix('k=')} of {p.P} entries" if r.estimated else "")
                  + (f"; ≥: cost ∝ P² ({p.P ** 2 * 8 / 1e9:.2g} GB step matrix)" if r.lower_bound else "")]
        out.append(cells)
    return out


HEAD = ["fn", "P", "method", "time s", "×loop", "evals", "evals/P", "worst rel", "false alarm", "bug caught",
        "note"]
RIGHT = {1, 3, 4, 5, 6, 7}

LEGEND = f"""\
time         seconds to check every parameter once, best of up to 3 runs; gradcheck: the in-process
             `verify()` of `gradcheck verify FILE --trials 1 [--full --method M]` (derivation included,
             parse not); every method single-threaded (BLAS, torch)
×loop        the loop's time / this row's time (> 1: faster than the per-entry loop)
evals        evaluations of the function (a stack of k perturbed points counts k); evals/P per parameter
worst rel    max over variables of maxᵢ |numᵢ − gᵢ| / maxᵢ |gᵢ| against the exact gradient (by hand, numpy)
             d  gradcheck auto above 10⁴ entries checks random directions: |D_v s − ⟨g, v⟩| / Σ|gᵢvᵢ|
             ²  check_grad returns only ‖num − g‖₂: ‖num − g‖₂ / ‖g‖₂
false alarm  the method's own verdict calls the correct gradient wrong
bug caught   one entry of ∂s/∂W (mlp: ∂s/∂W1), of typical size, × (1 + {BUG:g}); flagged by the method's own rule:
             gradcheck     the claim `ds/dW = … + {BUG:g} (…) ∘ (eᵢ eⱼᵀ)` fails in `verify` (the same claim
                           with 0 for {BUG:g} is checked to pass)
             loop          CS231n rel_error max |a − b| / max(1e-8, |a| + |b|) > 1e-7 (h = 1e-5)
             check_grad    ‖num − g‖₂ / ‖g‖₂ > 1e-6 (scipy documents no threshold)
             numdifftools  not np.allclose(num, g, rtol=1e-6, atol=1e-9·max|g|) (gradcheck's central rtol)
             torch         gradcheck's defaults (atol 1e-5, rtol 1e-3); backward returns the claimed gradient
est.         too slow to run whole: run on k random entries (always with the bug's), time and evals scaled
             by P/k (torch's subset input adds an index_put per evaluation); worst rel and verdicts on the k.
             ≥: numdifftools builds a P×P identity per step (np.identity(n) * h), so its cost grows as P²
             and the scaled time is a lower bound; scipy's approx_fprime also copies θ per entry (O(P²))
"""


def print_table(table: list[list[str]], groups: list[int]) -> None:
    full = [r for r in [HEAD, *table] if len(r) == len(HEAD)]
    widths = [max(len(r[i]) for r in full) for i in range(len(HEAD))]

    def line(r: list[str]) -> str:
        cells = r if len(r) == len(HEAD) else r[:3]
        text = "  ".join(c.rjust(w) if i in RIGHT else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return text + ("  " + r[3] if len(r) < len(HEAD) else "")

    print(line(HEAD).rstrip())
    print("  ".join("-" * w for w in widths[:-1]) + "  " + "-" * 4)
    for k, r in enumerate(table):
        if k in groups and k:
            print()
        print(line(r).rstrip())


def targets(results: dict[tuple[str, str], tuple[Problem, list[Row]]]) -> list[str]:
    def row(fn: str, label: str, method: str) -> Row | None:
        got = results.get((fn, label))
        return next((r for r in got[1] if r.method == method), None) if got else None

    out = []

    def verdict(ok: bool | None) -> str:
        return "n/a " if ok is None else ("PASS" if ok else "MISS")

    # 1. the full check ≥ 3× (moonshot 10×) faster than the loop on the 100-unit two-layer net
    loop = row("mlp", "2e4", "loop (CS231n)")
    for label, method in (("--full (complex step: what --full picks)", "gradcheck --full --method complex"),
                          ("--full --method central", "gradcheck --full --method central")):
        r = row("mlp", "2e4", method)
        if loop and r and loop.seconds and r.seconds:
            s = loop.seconds / r.seconds
            out.append(f"{verdict(s >= 3)}  1. full check ≥ 3× the loop, mlp H = 100, P = 2e4, {label}: "
                       f"{s:.1f}× ({r.seconds * 1e3:.0f} ms vs {loop.seconds * 1e3:.0f} ms; "
                       f"{loop.seconds / loop.evals * 1e6:.1f} µs per loop evaluation); moonshot 10×: "
                       f"{'reached' if s >= 10 else 'not reached'}")
        else:
            out.append(f"n/a   1. full check vs the loop at P = 2e4 ({label}): not run (--quick?)")
    # issue 11, item 2: equal work (every entry, central) ≥ 10× the loop at P = 2e4, moonshot 50×; memory ≤ 256 MB
    for method in ("gradcheck --full --method central", "gradcheck --full --method complex"):
        r = row("mlp", "2e4", method)
        if loop and r and loop.seconds and r.seconds:
            s = loop.seconds / r.seconds
            goal = "" if method.endswith("central") else " (complex step: not the equal-work row)"
            out.append(f"{verdict(s >= 10) if method.endswith('central') else 'info'}  issue 11: every entry, "
                       f"P = 2e4, {method.removeprefix('gradcheck ')} vs the loop: {s:.1f}× (target ≥ 10×, "
                       f"moonshot 50×: {'reached' if s >= 50 else 'not reached'}){goal}; peak memory of the "
                       f"check {r.peak_mb:.0f} MB (bound 256 MB: {'ok' if r.peak_mb <= 256 else 'OVER'})")
    # 2. faster than torch gradcheck at P = 1e4
    for fn in ("seed", "mlp"):
        t = row(fn, "1e4", "torch gradcheck")
        if t is None or t.seconds is None:
            out.append(f"n/a   2. faster than torch gradcheck at P = 1e4 ({fn}): "
                       f"{'torch not installed' if t else 'not run (--quick?)'}")
            continue
        slowest = max((r for r in results[(fn, "1e4")][1] if r.method.startswith("gradcheck")),
                      key=lambda r: r.seconds or 0)
        s = t.seconds / (slowest.seconds or float("inf"))
        out.append(f"{verdict(s > 1)}  2. faster than torch gradcheck at P = 1e4 ({fn}): every gradcheck row; the "
                   f"slowest ({slowest.method.removeprefix('gradcheck ')}, {slowest.seconds:.3f} s) is {s:.0f}× "
                   f"faster than torch ({t.seconds:.2f} s{' est.' if t.estimated else ''})")
    # 3. auto on P = 1e5 under 1 s, catching the one-entry bug
    for fn in ("seed", "mlp"):
        r = row(fn, "1e5", "gradcheck (auto)")
        if r is None:
            out.append(f"n/a   3. auto at P = 1e5 ({fn}): not run (--quick?)")
            continue
        ok = (r.seconds or 9) < 1 and (r.bug_seconds or 9) < 1 and bool(r.caught) and not r.false_alarm
        out.append(f"{verdict(ok)}  3. auto at P = 1e5 under 1 s, catching the bug ({fn}): {r.seconds:.3f} s, "
                   f"bug {'caught' if r.caught else 'MISSED'} (that check: {r.bug_seconds:.3f} s), "
                   f"{'a false alarm' if r.false_alarm else 'no false alarm'}")
    # 4. worst rel error on correct smooth gradients
    for method, bound in (("gradcheck --full --method central", 1e-8), ("gradcheck --full --method complex", 1e-13)):
        rows = [r for _p, rs in results.values() for r in rs if r.method == method]
        worst = max(r.worst or 0.0 for r in rows)
        entry = max(r.worst_entry or 0.0 for r in rows)
        out.append(f"{verdict(worst <= bound)}  4. worst rel error on correct gradients ≤ {bound:.0e} "
                   f"({method.removeprefix('gradcheck ')}, every case): {worst:.1e} (per entry, |Δᵢ|/|gᵢ| where "
                   f"|gᵢ| ≥ 1e-3 max|g|: {entry:.1e})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, epilog=LEGEND,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="P = 1e2 and 1e3 only")
    ap.add_argument("--only", help="these cases only, e.g. mlp:2e4 or seed:1e4,mlp:2e4")
    args = ap.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
        torch_ok = True
    except ImportError:
        torch_ok = False
    t0 = time.perf_counter()
    results = {}
    table: list[list[str]] = []
    groups: list[int] = []
    for case in cases(args.quick, args.only):
        p, rows = bench_case(case, torch_ok)
        results[(case.fn, case.label)] = (p, rows)
        groups.append(len(table))
        table += fmt_rows(p, rows)
        print(f"  … {case.name} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print("gradcheck verify against other gradient checks. Each row checks the gradients of ALL variables")
    print("(P = every parameter; x is data), at one random point, float64.")
    print("  seed: s = uᵀ tanh(W x + b)              W n×m, b n, u n")
    print("  mlp:  s = uᵀ tanh(W2 tanh(W1 x + b1) + b2)  W1 H×d, b1 H, W2 H×H, b2 H, u H  (P = 2e4: H = 100)")
    print()
    print_table(table, groups)
    print()
    print(LEGEND)
    print("TARGETS")
    for t in targets(results):
        print("  " + t)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
