"""A sequence variable checked as one value: ∂L/∂x[t] for every t = 1..T, as derive prints it.

verify expands a loop to the T of `dims`, which makes every x[t] a variable of its own. Checked one
by one, each x[t] built its own `Function` over the unrolled graph, and each of those walks all T
steps: verify was quadratic in T (5 s at T = 100). Here the steps of a sequence are one (T, n) array
(row k is step k's value, flattened: the (T, D) array `--impl` passes as `x`):

- the T derived gradients share their error signals δ[t], and are evaluated in one pass;
- the forward pass is walked once per stack of perturbed points, all steps' entries in one stack,
  and keeps a value only until its last reader has run, so a stack of T·n points through T steps
  costs the memory of a few steps, not of the whole unrolled graph.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.lang.loops import split_step_name
from gradcheck_cli.numeric.evaluate import Context, apply_op, depends_on, stable_value
from gradcheck_cli.numeric.evaluate_many import evaluate_many
from gradcheck_cli.shapes import Dim
from gradcheck_cli.symbolic.expr import Expr

FULL_WORK = 3_000_000  # entries × nodes: a T = 300 RNN (H = 4, D = 3) is checked in full, T = 1000 sampled


@dataclass(frozen=True)
class Steps:
    """The steps of one sequence that a check covers: x[1], …, x[T]."""
    base: str  # x
    steps: tuple[int, ...]  # 1, …, T
    elems: tuple[Expr, ...]  # the variables x[1], …, x[T] of the unrolled graph

    @property
    def name(self) -> str:
        return f"{self.base}[t]"


def sequences(exprs: Mapping[str, Expr], declared: set[str]) -> dict[str, Steps]:
    """The declared sequences among the names of `exprs` that have two or more numbered steps, by base name."""
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for n in exprs:
        split = split_step_name(n)
        if split is not None and isinstance(split[1], int) and split[0] in declared:
            found[split[0]].append((split[1], n))
    out: dict[str, Steps] = {}
    for base, items in found.items():
        if len(items) >= 2:
            items.sort()
            out[base] = Steps(base, tuple(k for k, _ in items), tuple(exprs[n] for _, n in items))
    return out


def evaluate_all(roots: list[Expr], ctx: Context) -> list[np.ndarray]:
    """Every root's value from one memo: the T gradients ∂L/∂x[t] share δ[t], δ[t+1], …, so one
    pass over their common graph costs what the last one alone costs."""
    memo = evaluate_many(roots, ctx)
    return [memo[id(r)] for r in roots]


def stacked(values: list[np.ndarray]) -> np.ndarray:
    """(T, n): row k is step k's value, flattened."""
    return np.stack([np.asarray(v, dtype=float).reshape(-1) for v in values])


class SequenceFunction:
    """X ↦ the output with step k of the sequence moved to row k of X, for a (T, n) X or a stack
    (m, T, n) of them; the same interface as `evaluate.Function` (x0, __call__, scalar, entries,
    bytes_per_point, evaluations), so the checker treats the whole sequence as one variable.

    A step is moved by adding X_k − x0_k where its value is computed, and the steps after it are
    computed from there: for an intermediate sequence (`claim dL/dh[t]` inside a loop) that is the
    derivative "as if h[t] were an input", every later use of h[t] seeing the change. Each point
    of a stack moves one entry of one step (the checker's entries and directions both do).
    """

    def __init__(self, out: Expr, steps: Steps, ctx: Context):
        self.out, self.steps, self.ctx = out, steps, ctx
        elems = steps.elems
        dep = depends_on(out, {id(e) for e in elems})
        self.constant = id(out) not in dep
        self.cache: dict[int, np.ndarray] = {}
        self.order: list[Expr] = []
        for node in out.walk():
            if id(node) in dep:
                self.order.append(node)
            else:
                self.cache[id(node)] = apply_op(node, ctx, [self.cache[id(a)] for a in node.args])
        self.evaluations = 0
        self._free = self._last_reads()
        self._peak = 0
        self._row = {id(e): k for k, e in enumerate(elems)}
        base: dict[int, np.ndarray] = {id(e): self.cache[id(e)] for e in elems if id(e) in self.cache}
        self._walk({}, seen=base)
        for e in elems:  # a step the output never reads (its gradient is 0): its own value
            if id(e) not in base:
                base[id(e)] = np.asarray(evaluate_all([e], ctx)[0])
        self.elem_shape = tuple(np.shape(base[id(elems[0])]))
        self.x0 = stacked([base[id(e)] for e in elems])

    def _last_reads(self) -> dict[int, list[int]]:
        """After node i of the walk: the values nobody reads any more. A value is read by its
        parents and, for the stable forms of tanh′ and σ′ (`stable_value`), by its grandparents."""
        last: dict[int, int] = {}
        for i, node in enumerate(self.order):
            for a in node.args:
                last[id(a)] = i
                for g in a.args:
                    last[id(g)] = i
        free: dict[int, list[int]] = defaultdict(list)
        keep = {id(self.out)}
        for k, i in last.items():
            if k not in self.cache and k not in keep:
                free[i].append(k)
        return free

    def _walk(self, moves: dict[int, np.ndarray], seen: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """The output with each step's value moved by `moves[id(step)]`. `seen` (the base walk)
        collects the steps' own values and measures the most memory held at once."""
        memo = dict(self.cache)
        live = 0
        for i, node in enumerate(self.order):
            stable = stable_value(node, memo)
            val = stable if stable is not None else apply_op(node, self.ctx, [memo[id(a)] for a in node.args])
            if id(node) in moves:
                val = val + moves[id(node)]
            memo[id(node)] = val
            if seen is not None:
                if id(node) in self._row:
                    seen[id(node)] = val
                live += np.asarray(val).nbytes
                self._peak = max(self._peak, live)
            for k in self._free.get(i, ()):
                gone = memo.pop(k, None)
                if seen is not None and gone is not None:
                    live -= np.asarray(gone).nbytes
        return memo[id(self.out)]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        batch = X.shape[:-2]
        self.evaluations += int(np.prod(batch)) if batch else 1
        moves = {id(e): (X[..., k, :] - self.x0[k]).reshape(*batch, *self.elem_shape)
                 for k, e in enumerate(self.steps.elems) if id(e) not in self.cache}
        out = self._walk(moves)
        if self.constant:  # the same value for every X, in X's kind (complex step expects complex)
            out = np.asarray(out, dtype=np.result_type(out, X))
            if batch:
                out = np.broadcast_to(out, (*batch, *np.shape(out)[-2:])).copy()
        return out

    def auto_mode(self) -> str:
        """`full` while every entry costs at most FULL_WORK node evaluations in all (each entry is a
        forward pass through the steps after it: T·n entries times T steps); beyond, `sample`:
        SAMPLE_DEFAULT random entries and random directions, which see every entry."""
        return "full" if self.x0.size * max(1, len(self.order)) <= FULL_WORK else "sample"

    def label(self, idx: tuple[int, ...]) -> str:
        """Row k, entry j of the stack: `x[3][1]` (entry 1 of step 3; entries count from 0 as everywhere)."""
        step, j = self.steps.steps[idx[0]], idx[1]
        r, c = self.elem_shape
        if r == 1 or c == 1:
            return f"{self.steps.base}[{step}][{j}]"
        return f"{self.steps.base}[{step}][{j // c}, {j % c}]"

    def scalar(self, X: np.ndarray) -> Any:
        v = self(X)
        return v.reshape(v.shape[:-2]) if np.ndim(v) > 2 else v.reshape(()).item()

    @property
    def bytes_per_point(self) -> int:
        """The most memory one point holds at once during the walk, complex (twice the real)."""
        return max(16, 2 * self._peak)

    def entries(self, flat_idx: np.ndarray, new_vals: np.ndarray) -> np.ndarray:
        """The output with x0.flat[flat_idx[j]] set to new_vals[j], for every j: entries of all steps in one stack."""
        k = len(flat_idx)
        stack = np.empty((k, *self.x0.shape), dtype=np.result_type(new_vals, self.x0))
        stack[...] = self.x0
        stack.reshape(k, -1)[np.arange(k), flat_idx] = new_vals
        v = self(stack)
        return v.reshape(k) if self.out.shape == (Dim.of(1), Dim.of(1)) else v.reshape(k, -1)


def one_step_off(graph: Any, num: str, steps: Steps, claimed: np.ndarray, ctx: Context) -> str | None:
    """A claim about every step that is right one step later or earlier (`W_xhᵀ δ[t+1]` for ∂L/∂x[t]):
    its name, else None. The right values come from the unrolled derive of num by each step."""
    from gradcheck_cli.derive.reverse import derive

    names = [e.name or graph.value_name(e) for e in steps.elems]
    try:
        d = derive(graph, names, output=num, unrolled=True)
        right = stacked(evaluate_all([g.shape_form for g in d.gradients], ctx))
    except (GradcheckError, KeyError, ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None  # a diagnosis is a hint: without one the failure stands as it is
    claimed = np.asarray(claimed, dtype=float).reshape(right.shape)
    if len(right) < 2 or np.allclose(claimed, right):
        return None
    scale = float(np.max(np.abs(right), initial=0.0)) or 1.0
    for shift, word in ((1, "t+1"), (-1, "t-1")):
        ours, theirs = (claimed[:-1], right[1:]) if shift == 1 else (claimed[1:], right[:-1])
        if np.any(theirs) and np.allclose(ours, theirs, rtol=1e-7, atol=1e-10 * scale):
            return f"∂{num}/∂{steps.base}[{word}]: one step off"
    return None


def at_any_step(text: str | None, k: int, var: str) -> str | None:
    """What one step's diagnosis says, for every step: `p[3] − y[3]` at t = 3 reads `p[t] − y[t]`."""
    if text is None:
        return None
    for step, written in ((k + 1, f"{var}+1"), (k - 1, f"{var}-1"), (k, var)):
        text = re.sub(rf"\[{step}\]", f"[{written}]", text)
    return text
