"""`gradcheck flow`: how the gradient flows back through the graph, and what that means.

The lecture's diagnosis of a deep or recurrent net: at a few random points,
how large is the gradient of the output when it reaches each layer (each
time step), does it shrink or grow geometrically on the way back
(vanishing / exploding: ‖∂h_T/∂h_k‖ ≈ c·ρ^(T−k), with ρ tied to the spectral
radius of the recurrent matrix), and are units stuck where their local
gradient is zero (a dead ReLU) or nearly so (a saturated sigmoid or tanh)?

Everything is read off the lowered graph, so a loop unrolled by the language
and one unrolled by hand are the same thing here:

- *layers* are the file's named intermediate values in topological order
  (z1, h1, z2, h2 of an MLP; h1 … hT of an RNN); names with a numeric suffix
  on one stem (h1, h2 / h_1, h_2, with a declared h0) form a *series*, and a
  series whose steps are joined by a *recurrent matrix* (a square variable
  applied, by matrix product, to a value that already depends on another
  application of it) is a sequence of *time steps*;
- gradients are the derivation's own cotangents (`derive.backward`) evaluated
  with numpy at the points `verify` samples (its sampler, init-scaled
  weights), so the numbers are the exact gradients of the file;
- ∂h_T/∂h_k is the same backward pass seeded with every unit vector at h_T.

Library code: builds a FlowReport, never prints; `render/flow.py` presents it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from gradcheck_cli.derive.reverse import backward
from gradcheck_cli.errors import UsageError
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.numeric.evaluate import Context
from gradcheck_cli.numeric.flow_measure import (
    SATURATED_FPRIME,
    Activation,
    num_text,
    Chain,
    Layer,
    Recurrent,
    activations,
    chain_of,
    layer_nodes,
    norms,
    radius,
    recurrent_matrices,
    series_of,
)
from gradcheck_cli.shapes import is_scalar, using
from gradcheck_cli.symbolic.elementwise import GENERIC_STANDINS

FACTOR = 100.0  # vanishing/exploding: the gradient changes by more than this between the ends of the chain
SHARE = 0.25  # saturated / dead fires when at least a quarter of one layer's units are
VERDICTS = ("vanishing", "exploding", "saturated", "dead")


@dataclass
class Verdict:
    kind: str  # vanishing | exploding | saturated | dead
    where: str
    message: str


@dataclass
class FlowReport:
    file: str
    output: str
    seed: int
    points: int
    sizes: dict[str, int]
    scales: dict[str, float]
    bind: dict[str, str]
    kind: str  # "time" (a recurrent series) or "layers"
    series: str | None  # the stem of the series (h), if any
    layers: list[Layer]
    parameters: list[Layer]
    activations: list[Activation]
    recurrent: list[Recurrent]
    chain: Chain | None
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fired(self, kinds: Iterable[str]) -> list[Verdict]:
        wanted = set(kinds)
        return [v for v in self.verdicts if v.kind in wanted]


@dataclass
class FlowOptions:
    seed: int = 0
    points: int = 16
    scales: dict[str, float] = field(default_factory=dict)
    bind: dict[str, str] = field(default_factory=dict)


def flow(graph: Graph, opts: FlowOptions | None = None) -> FlowReport:
    """Measure the gradient flow of `graph`'s scalar output at seeded random points."""
    opts = opts or FlowOptions()
    root = graph.output
    if not is_scalar(root.shape):
        raise UsageError(f"flow needs a scalar output; {graph.output_name} of {graph.source} is not one",
                         hint=f"end the file with a loss, e.g. `L = sum({graph.output_name})`")
    _check_scales(graph, opts.scales)
    bind = dict(opts.bind)
    notes = []
    for f in graph.generic_functions():
        if f not in bind:
            bind[f] = GENERIC_STANDINS[0]
            notes.append(f"{f} is generic: measured with {f} = {bind[f]} (choose with --bind {f}=…)")
    with using(graph.env):
        layers, params = layer_nodes(graph)
        stem, steps = series_of(graph, layers)
        recurrent = recurrent_matrices(graph)
        kind = "time" if stem is not None and recurrent else "layers"
        ctxs = _contexts(graph, opts, bind)
        targets = [e for _, e in layers] + [e for _, e in params]
        bw = backward(root, targets)
        layer_reports = norms(layers, bw.cotangents, ctxs, steps)
        param_reports = norms(params, bw.cotangents, ctxs, {})
        chain = chain_of([(n, e) for n, e in layers if n in steps], steps, ctxs) if kind == "time" else None
        report = FlowReport(
            file=graph.source, output=graph.output_name, seed=opts.seed, points=len(ctxs),
            sizes=dict(graph.env.sizes), scales=dict(opts.scales), bind=bind, kind=kind, series=stem,
            layers=layer_reports, parameters=param_reports, activations=activations(graph, ctxs),
            recurrent=[Recurrent(n, [radius(c.values[n]) for c in ctxs]) for n in recurrent],
            chain=chain, notes=notes)
    report.verdicts = _verdicts(report, steps)
    return report


# ---------------------------------------------------------------------------
# numbers at the points


def _check_scales(graph: Graph, scales: Mapping[str, float]) -> None:
    for name, k in scales.items():
        if name not in graph.variables:
            raise UsageError(f"--scale {name}={k:g}: {graph.source} declares no variable {name}",
                             hint=f"the variables are {', '.join(graph.variables) or '(none)'}")
        if not math.isfinite(k):
            raise UsageError(f"--scale {name}: the factor must be a finite number")


def _contexts(graph: Graph, opts: FlowOptions, bind: dict[str, str]) -> list[Context]:
    """verify's points (its sampler: init-scaled weights, finite forward pass), then --scale."""
    from gradcheck_cli.numeric.verify import VerifyOptions, sample_points

    ctxs = []
    for pt in sample_points(graph, VerifyOptions(seed=opts.seed, trials=opts.points, bind=bind)):
        for name, k in opts.scales.items():
            pt.ctx.values[name] = np.asarray(pt.ctx.values[name], dtype=float) * k
        ctxs.append(pt.ctx)
    return ctxs


# ---------------------------------------------------------------------------
# verdicts


def _verdicts(r: FlowReport, steps: Mapping[str, int]) -> list[Verdict]:
    out: list[Verdict] = []
    radii = "; ".join(f"the spectral radius of {m.name} is {m.radius:.3g}" for m in r.recurrent)
    over = next((l for l in r.layers if l.overflow), None)
    if over is not None:  # Inf − Inf is NaN and relu′(NaN) = 0: what follows an overflow means nothing
        out.append(Verdict("exploding", over.name, f"the forward pass overflows at {over.name} (Inf or NaN at "
                           f"{over.overflow} of {r.points} points)" + (f"; {radii}" if radii else "")))
    elif r.chain is not None:
        c = r.chain
        what = f"‖∂{c.last}/∂{r.series}_k‖"
        where = f"{r.series}{min(steps.values())}…{c.last}"
        if c.total > FACTOR:
            out.append(Verdict("exploding", where, f"{what} grows ×{num_str(c.per_step)} per step back in time, "
                               f"×{c.total_text} over {c.span} steps" + (f"; {radii}" if radii else "")))
        elif c.total < 1 / FACTOR:
            out.append(Verdict("vanishing", where, f"{what} shrinks ×{num_str(c.per_step)} per step back in time, "
                               f"×{c.total_text} over {c.span} steps" + (f"; {radii}" if radii else "")))
    else:
        # a named series (h1 … hL) if there is one, else every named layer; z → h inside one layer
        # is the activation's own derivative (a dead ReLU), not a gradient vanishing with depth
        chain = [l for l in r.layers if l.step is not None] or (r.layers if len(r.layers) >= 3 else [])
        if len(chain) >= 2:
            first, last = chain[0], chain[-1]
            ratio = _ratio(first.norm, last.norm)
            where = f"{first.name}…{last.name}"
            said = f"the gradient reaching {first.name} is ×{num_str(ratio)} the one reaching {last.name}"
            if ratio == 0:
                said = f"no gradient reaches {first.name} (its median norm is 0; {last.name} gets {num_str(last.norm)})"
            if ratio > FACTOR:
                out.append(Verdict("exploding", where, said))
            elif ratio < 1 / FACTOR:
                out.append(Verdict("vanishing", where, said))
    inf = next((l for l in r.layers if math.isinf(l.norm)), None)
    if inf is not None and not any(v.kind == "exploding" for v in out):
        out.append(Verdict("exploding", inf.name, f"the gradient reaching {inf.name} overflows (Inf or NaN)"))
    for kind, what in (("saturated", f"with f′ < {SATURATED_FPRIME:g}, where the gradient stops (saturated)"),
                       ("dead", "with a zero gradient at every point (dead ReLUs)")):
        sites = [(a, a.saturated if kind == "saturated" else a.dead) for a in r.activations]
        bad = [(a, x) for a, x in sites if x is not None and x >= SHARE]
        if bad:
            at = ", ".join(f"{x:.0%} at {a.at}" for a, x in bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
            fns = "/".join(sorted({a.function for a, _ in bad}))
            out.append(Verdict(kind, ", ".join(a.at for a, _ in bad), f"{fns} units {what}: {at}"))
    return out


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


num_str = num_text  # the numbers of the verdicts, as the charts print them


__all__ = [
    "FACTOR", "SATURATED_FPRIME", "SHARE", "VERDICTS", "Activation", "Chain", "FlowOptions", "FlowReport", "Layer",
    "Recurrent", "Verdict", "flow", "num_str",
]
