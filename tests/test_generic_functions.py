"""Hypothesis: in a random graph with two or three generic functions, no claim passes by confusing them.

The random graphs of test_properties, with tanh, σ and sin renamed to generic
`f`, `g`, `h : function` (so a graph may compose them, add them, or apply one
to the other's output). For every derived gradient and every pair of generic
functions used, two wrong claims are made from it:

    swap      f′ and g′ swapped (every f′, f″ becomes g′, g″ and back; f and g stay)
    compose   every f and g swapped, f′ included (g∘f for f∘g where the graph composes them)

Each is put in the graph as a claim and `verify` must fail it, unless it is
numerically the gradient at every point verify checks (a swap under a relu
that is off everywhere, or in a term that cancels).
"""

from __future__ import annotations

import os
import re

import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.symbolic.expr import Expr, make
from gradcheck_cli.lang.graph import ClaimSpec, Graph, parse
from gradcheck_cli.numeric.evaluate import Context, evaluate
from gradcheck_cli.symbolic.printing import to_dsl
from gradcheck_cli.shapes import using
from gradcheck_cli.numeric.verify import VerifyOptions, verify
from gradcheck_cli.numeric.verify import sample_points as verify_points

from test_properties import graphs

EXAMPLES = int(os.environ.get("GRADCHECK_EXAMPLES", "40"))
GENERIC = {"tanh": "f", "sigmoid": "g", "sin": "h"}

# f ∘ g and f + g, hand-written so every run checks them
COMPOSED = ("dims n = 3, m = 2\nv0 : (n, m)\nv1 : (m, 1)\nf : function\ng : function\n"
            "t0 = v0 @ v1\nt1 = f(g(t0))\ns = sum(t1)\noutput s\n")
SUMMED = ("dims n = 3, m = 2\nv0 : (n, m)\nv1 : (m, 1)\nv2 : (n, m)\nf : function\ng : function\nh : function\n"
          "t0 = f(v0 @ v1) + g(v2 @ v1)\nt1 = h(t0)\ns = sum(t1)\noutput s\n")


def with_generic_functions(text: str) -> str:
    """tanh → f, sigmoid → g, sin → h, each declared `: function`."""
    used = []
    for builtin, name in GENERIC.items():
        text, k = re.subn(rf"\b{builtin}\(", f"{name}(", text)
        if k:
            used.append(name)
    decls = "".join(f"{f} : function\n" for f in used)
    head, rest = text.split("\n", 1)  # after the dims line
    return f"{head}\n{decls}{rest}"


def renamed(root: Expr, names: dict[str, str], derivatives_only: bool) -> Expr:
    memo: dict[int, Expr] = {}
    for node in root.walk():
        params = node.params
        if node.op == "fn" and node.param("name") in names and (node.param("order") >= 1 or not derivatives_only):
            params = tuple((k, names[v] if k == "name" else v) for k, v in params)
        memo[id(node)] = make(node.op, tuple(memo[id(a)] for a in node.args), params, node.shape)
    return memo[id(root)]


def _value(e: Expr, ctx: Context) -> np.ndarray | None:
    try:
        with np.errstate(all="ignore"):
            return np.asarray(evaluate(e, ctx), dtype=float)
    except (ValueError, KeyError, IndexError, np.linalg.LinAlgError):
        return None


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None or a.shape != b.shape:
        return False
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9 * max(1.0, float(np.max(np.abs(b), initial=0.0)))))


def swap_claims(graph: Graph) -> list[tuple[str, ClaimSpec]]:
    """(what, claim) for every swap of two generic functions in every derived gradient."""
    generic = graph.generic_functions()
    span = graph.value_spans[graph.output_name]
    out = []
    for g in derive(graph).gradients:
        e = g.shape_form
        if e is None:
            continue
        for i, a in enumerate(generic):
            for b in generic[i + 1:]:
                for kind, only in (("swap", True), ("compose", False)):
                    m = renamed(e, {a: b, b: a}, only)
                    if m is not e:
                        what = f"{kind} {a}/{b} in ∂s/∂{g.wrt}: {to_dsl(m)} for {to_dsl(e)}"
                        out.append((what, ClaimSpec(graph.output_name, g.wrt, span, expr=m, text=what)))
    return out


def check_every_swap_is_caught(text: str) -> int:
    """The number of swaps verify failed (0: the graph has none that changes the gradient)."""
    graph = parse(text)
    if len(graph.generic_functions()) < 2:
        return 0
    caught = 0
    with using(graph.env):
        claims = swap_claims(graph)
        opts = VerifyOptions(seed=0, trials=1)
        points = [p.ctx for p in verify_points(graph, opts)]
        rights = {c.den: derive(graph, [c.den]).gradients[0].shape_form for _, c in claims}
        differing = [(what, c) for what, c in claims
                     if not all(_same(_value(c.expr, ctx), _value(rights[c.den], ctx)) for ctx in points)]
        if not differing:
            return 0
        graph.claims = [c for _, c in differing]
        rep = verify(graph, opts)
    results = [c for c in rep.checks if c.kind == "claim"]
    assert len(results) == len(differing)
    for (what, _), r in zip(differing, results):
        assert not r.ok, f"{what} PASSED: {r.message}\n{text}"
        caught += 1
    return caught


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.filter_too_much])
@given(text=graphs(max_ops=5).map(with_generic_functions))
@example(text=COMPOSED)
@example(text=SUMMED)
def test_swapping_two_generic_functions_is_always_caught(text: str) -> None:
    assume(check_every_swap_is_caught(text) > 0)


def test_the_pinned_graphs_have_swaps_to_catch() -> None:
    """The property is not vacuous: the hand-written graphs give swaps and compositions that verify fails."""
    assert check_every_swap_is_caught(COMPOSED) >= 2
    assert check_every_swap_is_caught(SUMMED) >= 6
