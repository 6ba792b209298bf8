"""The measurements of `gradcheck flow`: what the graph holds and the numbers at the points.

What the graph holds: its layers (named intermediates), the longest series stem1, stem2, …
and the recurrent matrices. The numbers: the gradient reaching each layer, ‖∂h_T/∂h_k‖ of a
recurrent series and its log-linear fit, the share of saturated or dead units.
`numeric.flow` turns them into a FlowReport and its verdicts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from gradcheck_cli.derive.reverse import backward
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.numeric.evaluate import Context
from gradcheck_cli.numeric.evaluate_many import evaluate_many
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.elementwise import ELEMENTWISE
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.printing import to_dsl

SATURATED_FPRIME = 1e-3  # a sigmoid/tanh unit is saturated where f′(z) < 1e-3
_SUFFIX = re.compile(r"^(.*?[^\d_\[])(?:_|\[)?(\d+)\]?$")  # h3, h_3, h[3]


@dataclass
class Layer:
    """One named value: the gradient of the output reaching it, at every point."""

    name: str
    shape: tuple[int, int]
    norms: list[float]  # Frobenius norm of ∂out/∂value, one per point
    step: int | None = None  # its time step (the numeric suffix) when it belongs to the series
    overflow: int = 0  # points where the forward value itself is Inf or NaN

    @property
    def norm(self) -> float:
        return _median(self.norms)


@dataclass
class Activation:
    """An elementwise sigmoid, tanh or relu in the graph and how many of its units are stuck."""

    at: str  # the layer's name, or the expression when it has none
    function: str
    units: int
    saturated: float | None = None  # sigmoid/tanh: share of (unit, point) pairs with f′ < SATURATED_FPRIME
    dead: float | None = None  # relu: share of units whose local gradient is 0 at every point


@dataclass
class Recurrent:
    name: str
    radii: list[float]  # spectral radius max |λ(W)| at every point (after --scale)

    @property
    def radius(self) -> float:
        return _median(self.radii)


@dataclass
class Chain:
    """‖∂h_T/∂h_k‖₂ (spectral norm) against the distance T − k, and its log-linear fit."""

    last: str
    distances: list[int]
    names: list[str]
    norms: list[list[float]]  # per distance, one per point
    slope: float  # d log‖∂h_T/∂h_k‖ / d(T − k), natural log: the per-step factor is e^slope
    intercept: float = 0.0  # of the same fit (log‖·‖ at T − k = 0)

    @property
    def per_step(self) -> float:
        return math.exp(self.slope) if math.isfinite(self.slope) else (0.0 if self.slope < 0 else math.inf)

    @property
    def span(self) -> int:
        return max(self.distances) if self.distances else 0

    @property
    def total(self) -> float:
        """The fitted change over the whole chain, e^(slope · span)."""
        x = self.slope * self.span
        return math.exp(min(x, 700.0)) if math.isfinite(x) or x > 0 else 0.0

    @property
    def total_text(self) -> str:
        """×total as a number, or as a power of ten past what a double holds (×10^-523)."""
        x = self.slope * self.span / math.log(10)
        if not math.isfinite(x) or -300 < x < 300:
            return num_text(self.total)
        return f"10^{round(x)}"


# ---------------------------------------------------------------------------
# what the graph holds: layers, series, recurrent matrices


def layer_nodes(graph: Graph) -> tuple[list[tuple[str, Expr]], list[tuple[str, Expr]]]:
    """(named intermediates in topological order, declared non-data variables).

    Declared variables that continue a series (the initial state h0) are listed
    with the layers too: the gradient reaching step 0 is the end of the chain."""
    names = graph.names()
    order = {id(e): i for i, e in enumerate(graph.output.walk())}
    layers = [(names[id(e)], e) for e in graph.output.walk()
              if id(e) in names and e is not graph.output and e.op not in ("var", "const")]
    stems = {m.group(1) for n, _ in layers if (m := _SUFFIX.match(n))}
    params = [(n, v.expr) for n, v in graph.variables.items() if not v.is_data and id(v.expr) in order]
    starts = [(n, e) for n, e in params if (m := _SUFFIX.match(n)) and m.group(1) in stems
              and e.shape[1].is_one]
    layers = sorted(starts, key=lambda p: int(_SUFFIX.match(p[0]).group(2))) + layers  # type: ignore[union-attr]
    return layers, params


def series_of(graph: Graph, layers: list[tuple[str, Expr]]) -> tuple[str | None, dict[str, int]]:
    """The longest run of names stem1, stem2, … in which each step depends on the one before;
    among equally long runs the one ending nearest the output (h, not the z inside it)."""
    order = {id(e): i for i, e in enumerate(graph.output.walk())}
    groups: dict[str, dict[int, Expr]] = {}
    names_of: dict[str, dict[int, str]] = {}
    for n, e in layers:
        m = _SUFFIX.match(n)
        if m:
            groups.setdefault(m.group(1), {})[int(m.group(2))] = e
            names_of.setdefault(m.group(1), {})[int(m.group(2))] = n
    best: tuple[int, int, str] | None = None
    chosen: dict[str, int] = {}
    for stem, members in groups.items():
        ks = sorted(members)
        run = [ks[0]]
        for a, b in zip(ks, ks[1:]):
            if b == a + 1 and _depends(members[b], members[a], order):
                run.append(b)
            else:
                break
        if len(run) >= 2:
            key = (len(run), order.get(id(members[run[-1]]), -1), stem)
            if best is None or key[:2] > best[:2]:
                best = key
                chosen = {names_of[stem][k]: k for k in run}
    if best is None:
        return None, {}
    return best[2], chosen


def _depends(e: Expr, on: Expr, order: Mapping[int, int]) -> bool:
    """on is in e's DAG. Only nodes after `on` in the topological order can hold it, so the search
    does not enter the earlier steps: one step of an unrolled loop, not all of them (T² for T steps)."""
    start = order.get(id(on), -1)
    stack, seen = [e], set()
    while stack:
        n = stack.pop()
        if n is on:
            return True
        if id(n) in seen or order.get(id(n), start + 1) <= start:
            continue
        seen.add(id(n))
        stack.extend(n.args)
    return False


def recurrent_matrices(graph: Graph) -> list[str]:
    """Square variables W applied by matrix product (W h or Wᵀ h) to a value that itself
    depends on another product by W: the matrix the recurrence multiplies by at every step."""
    out = []
    nodes = list(graph.output.walk())
    for name, v in graph.variables.items():
        e = v.expr
        r, c = e.shape
        if not graph.env.same(r, c) or r.is_one:
            continue
        uses = [n for n in nodes if n.op == "matmul" and (n.args[0] is e or (n.args[0].op == "T" and n.args[0].args[0] is e))]
        if len(uses) < 2:
            continue
        dep: set[int] = set()
        ids = {id(u) for u in uses}
        for n in nodes:
            if id(n) in ids or any(id(a) in dep for a in n.args):
                dep.add(id(n))
        if any(id(u.args[1]) in dep for u in uses):
            out.append(name)
    return out


# ---------------------------------------------------------------------------
# numbers at the points


def _evaluate_all(roots: Iterable[Expr], ctx: Context, memo: dict[int, np.ndarray] | None = None) -> dict[int, np.ndarray]:
    """Every node under `roots`, each evaluated once (the forward pass and all cotangents share it)."""
    with np.errstate(all="ignore"):
        return evaluate_many(roots, ctx, memo)


def norms(items: list[tuple[str, Expr]], cts: Mapping[int, Expr], ctxs: list[Context],
           steps: Mapping[str, int]) -> list[Layer]:
    out = []
    for name, e in items:
        out.append(Layer(name, (0, 0), [], steps.get(name)))
    for ctx in ctxs:
        roots = [e for _, e in items] + [cts[id(e)] for _, e in items if id(e) in cts]
        memo = _evaluate_all(roots, ctx)
        for layer, (name, e) in zip(out, items):
            layer.shape = ctx.concrete(e.shape)
            layer.overflow += int(not np.all(np.isfinite(np.asarray(memo[id(e)], dtype=float))))
            g = memo[id(cts[id(e)])] if id(e) in cts else np.zeros(layer.shape)
            layer.norms.append(_fro(g))
    return out


def num_text(x: float) -> str:
    if not math.isfinite(x):
        return "∞" if x > 0 else "NaN"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"


def _fro(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    if not np.all(np.isfinite(a)):
        return math.inf
    with np.errstate(over="ignore"):
        return float(np.linalg.norm(a.reshape(-1)))


def radius(w: np.ndarray) -> float:
    w = np.asarray(w, dtype=float)
    if not np.all(np.isfinite(w)):
        return math.inf
    return float(np.max(np.abs(np.linalg.eigvals(w))))


def chain_of(series: list[tuple[str, Expr]], steps: Mapping[str, int], ctxs: list[Context]) -> Chain | None:
    """‖∂h_T/∂h_k‖₂ for every earlier step k: one backward pass from h_T with a symbolic seed,
    evaluated with the seed set to each unit vector (row i of every Jacobian at once)."""
    series = sorted(series, key=lambda p: steps[p[0]])
    last_name, last = series[-1]
    if not last.shape[1].is_one:
        return None  # a batch of states (H×B): the Jacobian is a 4-tensor, not fitted
    seed = alg.var("__flow_seed__", last.shape)
    earlier = series[:-1]
    bw = backward(last, [e for _, e in earlier], seed)
    roots = [bw.cotangents[id(e)] for _, e in earlier if id(e) in bw.cotangents]
    norms: list[list[float]] = [[] for _ in earlier]
    for ctx in ctxs:
        n = ctx.concrete(last.shape)[0]
        try:  # every unit vector at once: the numpy rules take stacks (k, r, c)
            jacs = _jacobians(earlier, bw.cotangents, roots, ctx, np.eye(n).reshape(n, n, 1))
        except (ValueError, IndexError, TypeError):  # an op without stacks: one unit vector at a time
            parts = [_jacobians(earlier, bw.cotangents, roots, ctx, np.eye(n)[:, i:i + 1]) for i in range(n)]
            jacs = [np.concatenate([p[j] for p in parts]) for j in range(len(earlier))]
        finally:
            ctx.values.pop("__flow_seed__", None)
        for j, jac in enumerate(jacs):
            norms[j].append(float(np.linalg.norm(jac, 2)) if np.all(np.isfinite(jac)) else math.inf)
    t_last = steps[last_name]
    distances = [t_last - steps[n] for n, _ in earlier]
    return Chain(last_name, distances, [n for n, _ in earlier], norms, *_fit(distances, norms))


def _jacobians(earlier: list[tuple[str, Expr]], cts: Mapping[int, Expr], roots: list[Expr], ctx: Context,
               seeds: np.ndarray) -> list[np.ndarray]:
    """Rows of ∂h_T/∂h_k for every earlier k: the backward pass from h_T evaluated with the seed
    cotangent set to each unit vector in `seeds` (a stack (k, H, 1), or one H×1 vector)."""
    k = seeds.shape[0] if seeds.ndim == 3 else 1
    ctx.values["__flow_seed__"] = seeds
    memo = _evaluate_all(roots, ctx)
    out = []
    for _, e in earlier:
        shape = ctx.concrete(e.shape)
        g = np.asarray(memo[id(cts[id(e)])], dtype=float) if id(e) in cts else np.zeros(shape)
        out.append(np.broadcast_to(g, (k, *shape) if g.ndim == 3 or seeds.ndim == 3 else shape).reshape(k, -1))
    return out


def _fit(distances: list[int], norms: list[list[float]]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through log(median ‖J‖) against the distance,
    with ‖∂h_T/∂h_T‖ = ‖I‖ = 1 at distance 0.

    A median Jacobian that is exactly zero (every unit dead) makes the slope
    −∞: vanishing; one that overflows +∞: exploding."""
    xs, ys = [0.0], [0.0]
    for d, ns in sorted(zip(distances, norms)):
        m = _median(ns)
        if math.isinf(m) or math.isnan(m) or m == 0.0:
            # past the largest or below the smallest double: the steps before it say how fast (a long
            # chain that underflows at T − k = 300 still shrinks ×0.86 a step); none before: ±∞
            if len(xs) < 3:
                return (-math.inf if m == 0.0 else math.inf), 0.0
            break
        xs.append(float(d))
        ys.append(math.log(m))
    x, y = np.array(xs), np.array(ys)
    if np.ptp(x) == 0:
        return 0.0, 0.0
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def activations(graph: Graph, ctxs: list[Context]) -> list[Activation]:
    names = graph.names()
    sites = []
    for e in graph.output.walk():
        if e.op != "fn" or e.param("order") != 0:
            continue
        fname = e.param("name")
        real = fname if fname in ELEMENTWISE else ctxs[0].bind.get(fname) or graph.functions.get(fname)
        if real in ("sigmoid", "tanh", "relu"):
            sites.append((e, real))
    out = []
    memos: list[dict[int, np.ndarray]] = [{} for _ in ctxs]  # one per point, shared by the sites: T steps, one pass
    for e, real in sites:
        z = [np.asarray(_evaluate_all([e.args[0]], c, m)[id(e.args[0])], dtype=float) for c, m in zip(ctxs, memos)]
        label = names.get(id(e)) or _short(to_dsl(e, names))
        act = Activation(label, real, int(z[0].size))
        if real == "relu":
            act.dead = float(np.mean(np.all(np.stack(z) <= 0, axis=0)))
        else:
            a = np.tanh(np.stack(z)) if real == "tanh" else 1 / (1 + np.exp(-np.stack(z)))
            fprime = 1 - a ** 2 if real == "tanh" else a * (1 - a)
            act.saturated = float(np.mean(fprime < SATURATED_FPRIME))
        out.append(act)
    return out


def _short(s: str, width: int = 24) -> str:
    return s if len(s) <= width else s[:width - 1] + "…"


def _median(xs: list[float]) -> float:
    return float(np.median(xs)) if xs else math.nan
