"""`--impl` on a loop file: the student's function sees sequences as arrays, not steps.

A sequence `x[t] : D, t = 1..T` is passed as one (T, D) array named `x` (row t−1 is
x[t], numpy's 0-based time axis); a single element `h[0] : H` is passed as `h0`
(the name `h_0` is accepted for its gradient too). The gradients come back the same
way: `grads["x"]` of shape (T, D), `grads["h0"]` of shape (H,) or (H, 1); they are
split into the graph's steps before they are compared.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.lang.loops import split_step_name


def _groups(graph: Graph) -> tuple[dict[str, list[tuple[int, str]]], dict[str, str]]:
    """(sequence name → [(step, variable)], single element variable → argument name)."""
    seqs = {s.decl.names[0] for s in (graph.loop.seq_decls if graph.loop else ()) if s.var is not None}
    groups: dict[str, list[tuple[int, str]]] = {}
    singles: dict[str, str] = {}
    for name in graph.variables:
        split = split_step_name(name)
        if split is None or not isinstance(split[1], int):
            continue
        base, k = split
        if base in seqs:
            groups.setdefault(base, []).append((k, name))
        else:
            singles[name] = f"{base}{k}"
    return groups, singles


def pack(graph: Graph, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arguments of one call: sequences stacked to (T, D), h[0] as h0, the rest as they are."""
    groups, singles = _groups(graph)
    stepped = {n for members in groups.values() for _, n in members}
    out = {singles.get(n, n): v for n, v in values.items() if n not in stepped}
    for base, members in groups.items():
        out[base] = np.stack([np.asarray(values[n]).reshape(-1) for _, n in sorted(members)])
    return out


def pack_spec(graph: Graph, spec: Mapping[str, tuple[str, tuple[int, int]]]) -> dict[str, tuple[str, tuple[int, int]]]:
    groups, singles = _groups(graph)
    stepped = {n for members in groups.values() for _, n in members}
    out = {singles.get(n, n): s for n, s in spec.items() if n not in stepped}
    for base, members in groups.items():
        out[base] = ("matrix", (len(members), spec[members[0][1]][1][0]))
    return out


def unpack_grads(graph: Graph, grads: dict[str, Any]) -> dict[str, Any]:
    """The student's gradients under the graph's step names: grads["x"][t-1] → x[t], h0 → h[0]."""
    groups, singles = _groups(graph)
    out = dict(grads)
    for name, arg in singles.items():
        for key in (arg, arg[:-1] + "_" + arg[-1] if arg[-1:].isdigit() else arg):
            if key in grads and name not in out:
                out[name] = grads[key]
    for base, members in groups.items():
        g = np.asarray(grads[base]) if base in grads else None
        if g is None or g.ndim < 1 or g.shape[0] != len(members):
            continue
        for (k, name), row in zip(sorted(members), g):
            out[name] = row
    return out


def argument_name(graph: Graph, name: str) -> str:
    """What the student's function calls a variable: `h0` for h[0], `x` for a step x[t] of a sequence."""
    groups, singles = _groups(graph)
    if name in singles:
        return singles[name]
    return next((base for base, members in groups.items() if any(n == name for _, n in members)), name)
