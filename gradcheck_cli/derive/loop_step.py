"""One generic step of a loop over time, and the renaming of its expressions by step.

The closed form of back-propagation through time (derive/loops.py) works on ONE
step lowered with `t` symbolic: the carried state enters as a variable named
`h[t-1]`, the step's inputs as `x[t]`, and the step's own values are named
`z[t]`, `h[t]`, `J[t]`. A result about step t is written over those names; the
same result one step later (the recursion's `δ[t+1]`) or at a fixed step
(`δ[T]`, `∂L/∂h[0] = W_hhᵀ δ[1]`) is the same expression with every step name
moved, built by `localize`. Nothing here grows with the number of steps T.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.lang.loops import Index, split_step_index, step_name
from gradcheck_cli.symbolic.expr import Expr, make
from gradcheck_cli.symbolic import algebra as alg


def mover(var: str, to: Index) -> Callable[[Index], Index]:
    """The index map that puts step `var` at `to`: t ↦ t+1 moves t-1 to t; t ↦ 1 moves t-1 to 0."""
    def move(ix: Index) -> Index:
        if ix[0] != var:
            return ix
        return to[0], to[1] + ix[1]
    return move


@dataclass(frozen=True)
class State:
    """A carried state: `h[t] = …` reads `h[t-1]`."""

    name: str
    prev: Expr  # the variable h[t-1]
    cur: Expr  # the step's value h[t]
    initial: str | None = None  # the file's variable for h[0], if it is one


@dataclass
class StepGraph:
    """One generic step, and how the loss is made of its steps."""

    graph: Graph  # values named `z[t]`, `h[t]`, `J[t]`; variables: the shared parameters and the step variables
    states: list[State]
    inputs: list[Expr]  # per-step variables that are not carried: x[t], y[t]
    params: list[str]  # the shared parameters (the file's variables that get gradients)
    loss: Expr | None  # the per-step loss J[t] (None: the loss is all after the loop)
    kind: str  # "sum": L = Σ_t J[t] + …;  "last": L = J[T] + …;  "none": no J[t]
    output: str = "L"
    extra: Expr | None = None  # the loss's terms outside the loop: lam/2 ‖W_hh‖², cross_entropy(y, softmax(W_hy h[T]))
    post_vars: dict[str, Expr] = field(default_factory=dict)  # state -> the variable h[T] that `extra` reads
    post_names: dict[int, str] = field(default_factory=dict)  # the file's names of values after the loop (p)
    post_values: dict[str, Expr] = field(default_factory=dict)  # those values, reading the variables h[T]
    var: str = "t"
    start: int = 1
    length: str = "T"
    display: dict[str, str] = field(default_factory=dict)  # base name -> how text shows it (delta -> δ)
    taken: set[str] = field(default_factory=set)  # every name of the file (its helpers too): no signal takes one

    def step_names(self) -> dict[int, str]:
        """The step's named values (node id -> `z[t]`)."""
        out: dict[int, str] = {}
        for n, e in self.graph.values.items():
            if split_step_index(n) is not None and e.op != "var" and id(e) not in out:
                out[id(e)] = n
        return out


def substitute(root: Expr, mapping: dict[int, Expr]) -> Expr:
    """root with the nodes of `mapping` replaced (same shapes), rebuilt without rewrites."""
    return substitute_all(root, mapping)[id(root)]


def substitute_all(root: Expr, mapping: dict[int, Expr]) -> dict[int, Expr]:
    """Every node of root (by id) → its rebuilt node, the nodes of `mapping` replaced."""
    memo: dict[int, Expr] = dict(mapping)
    for node in root.walk():
        if id(node) in memo:
            continue
        args = tuple(memo[id(a)] for a in node.args)
        memo[id(node)] = node if all(a is b for a, b in zip(args, node.args)) else \
            make(node.op, args, node.params, node.shape, node.span)
    return memo


def localize(root: Expr, names: dict[int, str], move: Callable[[Index], Index]) -> Expr:
    """root over step names only: each named step value becomes a variable of its name (an
    atom), and every step name is moved by `move` (t ↦ t+1 for the next step, t ↦ T)."""
    mapping: dict[int, Expr] = {}
    for node in root.walk():
        name = names.get(id(node)) if node.op != "var" else node.name
        parts = split_step_index(name) if name else None
        if parts is None:
            continue
        base, ix = parts
        mapping[id(node)] = alg.var(step_name(base, move(ix)), node.shape, node.param("qualifiers") or ())
    return substitute(root, mapping) if mapping else root


def step_vars(root: Expr) -> set[str]:
    """The step variables an expression reads (`h[t-1]`, `x[t]`, `delta[t+1]`)."""
    return {n.name for n in root.walk() if n.op == "var" and n.name and split_step_index(n.name)}


def sum_terms(e: Expr) -> list[Expr]:
    """The terms of a sum as it prints, a + b − c → [a, b, −c] (a broadcasting sum is one term)."""
    if e.op == "add" and alg.same_shape(e.args[0].shape, e.shape) and alg.same_shape(e.args[1].shape, e.shape):
        return sum_terms(e.args[0]) + sum_terms(e.args[1])
    return [e]


def aligned(e: Expr, ref: Expr, memo: dict[tuple[int, int], Expr] | None = None) -> Expr:
    """e with the terms of its sums put in ref's order wherever the two correspond (the same value:
    only the order of terms changes), so that the last step's line, built by another reverse pass,
    reads term for term like the recursion's (and is ref itself when the two are the same sum)."""
    memo = {} if memo is None else memo
    if e is ref or e.op != ref.op or len(e.args) != len(ref.args):
        return e
    if (id(e), id(ref)) not in memo:
        memo[(id(e), id(ref))] = _aligned(e, ref, memo)
    return memo[(id(e), id(ref))]


def _aligned(e: Expr, ref: Expr, memo: dict[tuple[int, int], Expr]) -> Expr:
    terms, refs = sum_terms(e), sum_terms(ref)
    if len(terms) > 1 and len(refs) > 1:
        out: list[Expr] = []
        for r in refs:  # each of ref's terms takes the term that is it, else the first with its head
            pick = next((i for i, t in enumerate(terms) if aligned(t, r, memo) is r), None)
            if pick is None:
                pick = next((i for i, t in enumerate(terms) if _head(t) == _head(r)), None)
            if pick is not None:
                out.append(aligned(terms.pop(pick), r, memo))
        acc, *rest = out + terms  # the terms ref has no place for keep their order, after
        for t in rest:
            acc = make("add", (acc, t), e.params, e.shape)
        return acc
    args = tuple(aligned(a, r, memo) for a, r in zip(e.args, ref.args))
    return e if all(a is b for a, b in zip(args, e.args)) else make(e.op, args, e.params, e.shape, e.span)


def _head(e: Expr) -> tuple[object, ...]:
    """What a term starts with (Wfᵀ in Wfᵀ (…), dh[t] in dh[t] ∘ …): terms with one head correspond."""
    if e.op == "neg":
        return ("neg", *_head(e.args[0]))
    if e.op in ("matmul", "mul"):
        return e.op, id(e.args[0])  # nodes are interned: one id, one expression
    return e.op, id(e)
