"""The usual wrong answers to a gradient, derived so that a failing claim can be named.

`usual_mistakes(graph, num, den)` derives ∂num/∂den and the slips students make on the
way (f used for f′, everywhere or at one function; two generic functions swapped or
composed the other way; a sum over the wrong axis; a term dropped inside the gradient,
or a term of the whole sum missing). `suspects_of` wraps them for the checker: derived
once per gradient and run, when a claim fails, and evaluated at the run's points.
New diagnoses (e.g. for loops over time) add their alternatives in `usual_mistakes`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck_cli.numeric.bptt_mistakes import bptt_mistakes
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.lang.graph import ClaimSpec, Graph
from gradcheck_cli.numeric.evaluate import Context, evaluate
from gradcheck_cli.shapes import using
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.rewrite import rebuilt as rebuild_as_written
from gradcheck_cli.symbolic.rewrite import substitute
from gradcheck_cli.symbolic.ops import MUTATION, OPS, ShapeMismatch
from gradcheck_cli.symbolic.printing import to_dsl


def suspects_of(graph: Graph, claim: ClaimSpec, cache: dict[tuple[str, str], Any]) -> Any:
    """The usual wrong answers, derived, so a failure can be named: f for f′ (everywhere, or at one
    function), a term dropped, a sum over the wrong axis.

    Derived only when a claim fails (the checker asks for them then), once per gradient
    and `verify` run: `cache` is shared by the run's claims.
    """
    if claim.num not in graph.values:
        return None
    key = (claim.num, claim.den)

    def values(ctx: Context) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        if key not in cache:
            cache[key] = (*usual_mistakes(graph, claim.num, claim.den), {})
        alt_exprs, term_exprs, at = cache[key]
        if id(ctx) not in at:  # every wrong claim of this gradient is compared at the same points
            at[id(ctx)] = (ctx, _evaluated(alt_exprs, term_exprs, ctx))
        return at[id(ctx)][1]
    return values


def _evaluated(alt_exprs: list[tuple[str, Expr]], term_exprs: list[tuple[str, Expr]],
               ctx: Context) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The suspects' values at one point; alternatives that coincide keep the first name."""
    alts: dict[str, np.ndarray] = {}
    seen: list[np.ndarray] = []
    for label, e in alt_exprs:
        v = value_or_none(e, ctx)
        if v is None or any(v.shape == w.shape and np.array_equal(v, w) for w in seen):
            continue  # the same wrong answer reached two ways keeps its first (plainest) name
        base, k = label, 1
        while label in alts:  # two sites that print alike (shortened): keep both
            k += 1
            label = f"{base} [{k}]"
        alts[label] = v
        seen.append(v)
    missing = {}
    for label, e in term_exprs:
        v = value_or_none(e, ctx)
        if v is not None:
            missing[label] = v
    return alts, missing


def value_or_none(e: Expr, ctx: Context) -> np.ndarray | None:
    try:
        with np.errstate(all="ignore"):
            return np.asarray(evaluate(e, ctx), dtype=float)
    except (KeyError, ValueError, IndexError, np.linalg.LinAlgError):
        return None


def _result(d: Any) -> Expr | None:
    """The gradient (scalar output) or the Jacobian (vector output: dh/dz = diag(f′(z)))."""
    g = d.gradients[0]
    return g.shape_form if g.shape_form is not None else g.jacobian


def usual_mistakes(graph: Graph, num: str, den: str) -> tuple[list[tuple[str, Expr]], list[tuple[str, Expr]]]:
    """(label, wrong gradient) alternatives and (label, term) missing terms of ∂num/∂den."""
    pair = _right_and_slip(graph, num, den)
    if pair is None:
        return [], []
    right, slip = pair
    names = graph.names()
    alts: list[tuple[str, Expr]] = []
    with using(graph.env):
        if slip is not None and slip is not right:
            alts.append(("f used where f′ belongs", slip))
        nodes = list(right.walk())
        alts.extend(_f_for_fprime_at_one(graph, right, nodes, names))
        alts.extend(_generic_swaps(graph, right))
        alts.extend(_wrong_axis_sums(right, nodes, names))
        top: set[int] = set()
        whole = _sum_terms(right, top)
        alts.extend(_dropped_inner_terms(graph, right, nodes, top, names))
        terms = [alg.scale(c, t) for c, t in whole] if right.op == "add" else []
    alts += bptt_mistakes(graph, num, den, right)  # loops over time: numeric/bptt_mistakes.py
    return alts, [(to_dsl(t, names), t) for t in terms]


def _right_and_slip(graph: Graph, num: str, den: str) -> tuple[Expr, Expr | None] | None:
    """The derived gradient, and the one derived with f used for f′ throughout; None if underivable."""
    try:
        right = _result(derive(graph, [den], output=num, unrolled=True))
        MUTATION.append("f_for_fprime")
        try:
            slip = _result(derive(graph, [den], output=num, unrolled=True))
        finally:
            MUTATION.pop()
    except GradcheckError:
        return None
    return None if right is None else (right, slip)


def _f_for_fprime_at_one(graph: Graph, right: Expr, nodes: list[Expr],
                         names: dict[int, str]) -> list[tuple[str, Expr]]:
    """f for f′ at one function: f′(z) as the lecture writes it (1 − tanh², σ(1 − σ)), f′, relu′."""
    ids = {id(n) for n in nodes}
    sites: dict[int, tuple[Expr, Expr]] = {}
    for o in graph.output.walk():
        if o.op == "fn" and o.param("order") == 0:
            d = alg.fn_derivative(o)
            if d is not o and id(d) in ids:
                sites[id(d)] = (d, o)
    for n in nodes:
        if n.op == "fn" and n.param("order", 0) >= 1 and id(n) not in sites:
            lower = alg.fn(n.param("name"), n.args[0], n.param("order") - 1, n.param("alpha"))
            sites[id(n)] = (n, lower)
    out = []
    for d, f in sites.values():
        wrong = _replace(right, d, f)
        if wrong is not None:
            out.append((f"f used where f′ belongs ({_short(f, names)} for {_short(d, names)})", wrong))
    return out


def _wrong_axis_sums(right: Expr, nodes: list[Expr], names: dict[int, str]) -> list[tuple[str, Expr]]:
    """A sum over the other axis (a broadcast bias summed over the features, not the batch)."""
    sums = [n for n in nodes if n.op == "sum" and n.param("axis") in (0, 1)]
    out = []
    for n in sums:
        other = rebuild_as_written(n, (n.args[0],), axis=1 - n.param("axis"))
        wrong = _replace(right, n, other) if other is not None else None
        if wrong is not None:
            label = "summed over the wrong axis"
            out.append((label if len(sums) == 1 else f"{label} ({_short(n, names)})", wrong))
    return out


def _dropped_inner_terms(graph: Graph, right: Expr, nodes: list[Expr], top: set[int],
                         names: dict[int, str]) -> list[tuple[str, Expr]]:
    """A term dropped inside the gradient (1 − h² → −h²); a term of the whole sum is a missing term."""
    forward = {id(n) for n in graph.output.walk()}
    out = []
    for n in nodes:
        if n.op != "add" or id(n) in top or id(n) in forward:
            continue
        for keep, dropped in ((n.args[0], n.args[1]), (n.args[1], n.args[0])):
            if keep.shape == n.shape:
                wrong = _replace(right, n, keep)
                if wrong is not None:
                    where = _short(n, names)
                    out.append((f"a term is missing ({_short(dropped, names, 20)} in {where})", wrong))
    return out


def _sum_terms(e: Expr, nodes: set[int] | None = None) -> list[tuple[Any, Expr]]:
    """c₁·t₁ + c₂·t₂ + …: every term, also of sums the file wrote itself (a claim of `p - y`
    is the same node as the derived p − y, and its terms are still the ones a student drops).
    `nodes` collects the add nodes looked through: dropping one of their terms is a missing
    top-level term."""
    if e.op == "add" and e.args[0].shape == e.shape and e.args[1].shape == e.shape:
        if nodes is not None:
            nodes.add(id(e))
        return _sum_terms(e.args[0], nodes) + _sum_terms(e.args[1], nodes)
    if e.op == "neg" and e.args[0].op == "add":
        return [(-c, t) for c, t in _sum_terms(e.args[0], nodes)]
    return [alg.split_coef(e)]


def _generic_swaps(graph: Graph, right: Expr) -> list[tuple[str, Expr]]:
    """Two generic functions confused: f′ and g′ swapped (`Wᵀ g′(Wx) + Vᵀ f′(Vx)`), or every f
    and g swapped, which for a composition is g∘f written for f∘g (`g′(f(x)) ∘ f′(x)`)."""
    used = {n.param("name") for n in right.walk() if n.op == "fn"}
    generic = [f for f in graph.generic_functions() if f in used]
    forward = list(graph.output.walk())
    out: list[tuple[str, Expr]] = []
    for i, a in enumerate(generic):
        for b in generic[i + 1:]:
            wrong = _renamed(right, {a: b, b: a}, derivatives_only=True)
            if wrong is not None:
                out.append((f"two generic functions swapped ({a}′ and {b}′)", wrong))
            wrong = _renamed(right, {a: b, b: a}, derivatives_only=False)
            if wrong is None:
                continue
            outer = next((f for f, g in ((a, b), (b, a)) if _composes(forward, f, g)), None)
            if outer is not None:
                inner = b if outer == a else a
                out.append((f"two generic functions composed the other way ({inner}∘{outer} for {outer}∘{inner})",
                            wrong))
            else:
                out.append((f"two generic functions swapped ({b} for {a} everywhere)", wrong))
    return out


def _composes(nodes: list[Expr], outer: str, inner: str) -> bool:
    """Some outer(… inner(…) …) in the forward graph."""
    return any(n.op == "fn" and n.param("name") == outer and
               any(m.op == "fn" and m.param("name") == inner for m in n.args[0].walk()) for n in nodes)


def _renamed(root: Expr, names: dict[str, str], derivatives_only: bool) -> Expr | None:
    """root with the elementwise functions renamed (only f′, f″, … with derivatives_only)."""
    memo: dict[int, Expr] = {}
    for node in root.walk():
        args = tuple(memo[id(a)] for a in node.args)
        rename = node.op == "fn" and node.param("name") in names and \
            (node.param("order", 0) >= 1 or not derivatives_only)
        if not rename and all(a is b for a, b in zip(args, node.args)):
            memo[id(node)] = node
            continue
        extra = {"name": names[node.param("name")]} if rename else {}
        rebuilt = rebuild_as_written(node, args, **extra)
        if rebuilt is None:
            return None
        memo[id(node)] = rebuilt
    out = memo[id(root)]
    return None if out is root else out


def _replace(root: Expr, old: Expr, new: Expr) -> Expr | None:
    """root with every occurrence of the node `old` replaced by `new`; None if it no longer type-checks."""
    return substitute(root, {id(old): new})


def _short(e: Expr, names: dict[int, str], width: int = 40) -> str:
    s = to_dsl(e, names)
    return s if len(s) <= width else s[:width - 1] + "…"
