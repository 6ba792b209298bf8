"""Every `dsl` string derive prints reads back as the same tree, not only the same numbers.

For every derived result (shape convention and Jacobian form) of every
example, every golden and random graphs: print it with the DSL printer (the
file's names, δ written out, as `derive --format json` does), parse it back
as a claim of that file, and compare the two expression trees.

The trees are compared up to what the printer may legitimately choose: a
product chain's brackets (`A (B C)` prints as `A B C`, which reads as
`(A B) C`), and where a scalar factor sits in it (`2 * r x^T` is `(2 r) xᵀ` or
`2 (r xᵀ)`; `M / B` is `(1/B) M`). Everything else must be the same node:
an elementwise product read where a matrix product was printed (`Aᵀ s * M Bᵀ`
read as `((Aᵀ s) ∘ M) Bᵀ`), a sum or a transpose bound to the wrong operand,
are different trees even where the numbers happen to agree.
"""

from __future__ import annotations

import re

import os
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lang.graph import Graph, parse
from gradcheck_cli.symbolic.printing import to_dsl
from gradcheck_cli.shapes import is_scalar, using

from test_properties import REGRESSIONS, graphs

TESTS = Path(__file__).parent
ROOT = TESTS.parent
# files with a `for` loop: derive prints them in closed form (branch loops-derive); their unrolled
# derivation (T copies) is not what is read back or typeset
FILES = sorted(str(p.relative_to(ROOT)) for p in (TESTS / "golden").glob("*.grad")) + \
    sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.grad") if not re.search(r"^for \w+ = ", p.read_text(encoding="utf-8"), re.M))
EXAMPLES = int(os.environ.get("GRADCHECK_EXAMPLES", "60"))

# hand-written cases whose dsl strings once read back as other trees
PINNED = {
    # `A^T s * inv(A X B)^T B^T` read as ((Aᵀ s) ∘ A⁻ᵀ…) Bᵀ
    "det_of_product": "dims n = 3\nA : n x n\nX : n x n\nB : n x n\ns = det(A X B)\n",
    # attention: a softmax Jacobian between two products, a scalar 1/√d inside the chain
    "attention": "dims n = 3, d = 4\nq : d\nK : n x d\nV : d x n\na = softmax(K q / sqrt(d))\ns = sum(V a)\n",
    "scaled_inside_chain": "dims n = 3\nA : n x n\nB : n x n\nc : scalar\nx : n\ns = sum(A (c * B) x)\n",
    "diag_of_product": "dims n = 3\nx : n\nA : n x n\ns = sum(diag(x) A)\n",
}


# ---------------------------------------------------------------------------- the comparison


def canon(e: Expr) -> Any:
    """A hashable form of e, up to product brackets and the place of scalar factors."""
    coef, scalars, kind, items = _factors(e)
    core = items[0] if kind == "atom" else (kind, tuple(items))
    if coef == 1 and not scalars:
        return core
    return ("scaled", coef, tuple(sorted(scalars, key=repr)), core)


def _factors(e: Expr) -> tuple[Any, list[Any], str, list[Any]]:
    """(numeric coefficient, other scalar factors, 'matmul' | 'mul' | 'atom', the chain's items)."""
    coef: Any = sp.Integer(1)
    scalars: list[Any] = []

    def absorb(a: Expr) -> None:
        nonlocal coef
        c, s, kind, items = _factors(a)  # a scalar's own factors join the product's
        coef = coef * c
        scalars.extend(s)
        core = items[0] if kind == "atom" else (kind, tuple(items))
        if not (isinstance(core, tuple) and core[0] == "const" and core[1] == 1):
            scalars.append(core)

    if e.op == "neg":
        c, s, kind, items = _factors(e.args[0])
        return -c, s, kind, items
    if e.op == "div" and is_scalar(e.args[1].shape):
        c, s, kind, items = _factors(e.args[0])
        b = e.args[1]
        if b.op == "const":
            return c / sp.sympify(b.param("value")), s, kind, items
        return c, s + [("inverse", canon(b))], kind, items
    if e.op in ("mul", "matmul") and _row_chain(e):  # (v3ᵀ v0ᵀ) v1ᵀ is v3ᵀ (v0ᵀ v1ᵀ): one chain
        return _chain(e, "matmul")
    if e.op in ("mul", "matmul") and any(is_scalar(a.shape) for a in e.args):  # scalars commute; a 1×1 @ is ∘
        scalar, other = (e.args[0], e.args[1]) if is_scalar(e.args[0].shape) else (e.args[1], e.args[0])
        absorb(scalar)
        c, s, kind, items = _factors(other)
        return coef * c, scalars + s, kind, items
    if e.op in ("matmul", "mul", "add"):
        return _chain(e, e.op)
    if e.op == "const" and is_scalar(e.shape):
        return sp.sympify(e.param("value")), [], "atom", [("const", sp.Integer(1), e.shape)]
    if e.op == "const":
        return sp.Integer(1), [], "atom", [("const", sp.sympify(e.param("value")), e.shape)]
    params = tuple((k, v) for k, v in e.params)
    return sp.Integer(1), [], "atom", [(e.op, params, e.shape, tuple(canon(a) for a in e.args))]


def _row_chain(e: Expr) -> bool:
    """A 1×1 matrix product times a row on its right (or a column on its left): a matrix chain."""
    a, b = e.args
    return (is_scalar(a.shape) and a.op == "matmul" and not is_scalar(b.shape) and b.shape[0].is_one) or \
        (is_scalar(b.shape) and b.op == "matmul" and not is_scalar(a.shape) and a.shape[1].is_one)


def _chain(e: Expr, op: str) -> tuple[Any, list[Any], str, list[Any]]:
    """A product (or sum) chain, flattened through nested nodes of the same kind."""
    if op == "add":  # a + b + c: flatten, keep the order
        flat: list[Any] = []
        for a in e.args:
            it = canon(a)
            flat.extend(it[1] if isinstance(it, tuple) and it and it[0] == "add" else [it])
        return sp.Integer(1), [], "add", flat
    coef: Any = sp.Integer(1)
    scalars: list[Any] = []
    items: list[Any] = []
    for a in e.args:
        c, s, kind, sub = _factors(a)
        coef = coef * c
        scalars.extend(s)
        if kind == op:
            items.extend(sub)
        else:
            items.append(sub[0] if kind == "atom" else (kind, tuple(sub)))
    return coef, scalars, op, items


# ---------------------------------------------------------------------------- the round trip


def results(graph: Graph) -> list[tuple[str, str, Expr]]:
    with using(graph.env):
        d = derive(graph)
    out = []
    for g in d.gradients:
        for form, e in (("shape convention", g.shape_form), ("Jacobian form", g.jacobian)):
            if e is not None:
                out.append((g.wrt, form, e))
    return out


def read_back(text: str, graph: Graph, wrt: str, dsl: str) -> Expr:
    body = text if text.endswith("\n") else text + "\n"
    body += f"claim d{graph.output_name}/d{wrt} = {dsl}\n"
    if "\noutput " not in "\n" + text:
        body += f"output {graph.output_name}\n"
    again = parse(body, graph.source)
    claim = again.claims[-1]
    assert claim.error is None, f"∂/∂{wrt}: `{dsl}` does not parse back: {claim.error}"
    assert claim.expr is not None
    return claim.expr


def problems(text: str, source: str = "<stdin>") -> list[str]:
    graph = parse(text, source)
    names = graph.names()
    out = []
    for wrt, form, e in results(graph):
        with using(graph.env):
            dsl = to_dsl(e, names)
        back = read_back(text, graph, wrt, dsl)
        if canon(back) != canon(e):
            with using(graph.env):
                out.append(f"∂/∂{wrt} {form}: `{dsl}` reads back as `{to_dsl(back)}`, not `{to_dsl(e)}`")
    return out


@pytest.mark.parametrize("path", FILES)
def test_every_dsl_string_reads_back_as_the_same_tree(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    found = problems(text, path)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("case", sorted(PINNED))
def test_pinned_cases_read_back_as_the_same_tree(case: str) -> None:
    found = problems(PINNED[case])
    assert not found, "\n".join(found)


@settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(text=graphs())
def test_random_graphs_read_back_as_the_same_tree(text: str) -> None:
    found = problems(text)
    assert not found, "\n".join(found) + "\n" + text


@pytest.mark.parametrize("text", REGRESSIONS)
def test_regression_graphs_read_back_as_the_same_tree(text: str) -> None:
    found = problems(text)
    assert not found, "\n".join(found)


def test_the_comparison_tells_products_apart() -> None:
    """canon is not too coarse: the misread det gradient, a transpose moved, ∘ for @ all differ."""
    g = parse("dims n = 3\nA : n x n\nM : n x n\nB : n x n\ns : scalar\nx : n\nt = sum(A)\n")
    v = {n: g.variables[n].expr for n in "AMBsx"}
    with using(g.env):
        from gradcheck_cli.symbolic import algebra as alg

        right = alg.matmul(v["A"], alg.matmul(alg.mul(v["s"], v["M"]), v["B"]))
        assert canon(right) == canon(alg.matmul(alg.matmul(v["A"], alg.mul(v["s"], v["M"])), v["B"]))
        assert canon(right) == canon(alg.mul(v["s"], alg.matmul(alg.matmul(v["A"], v["M"]), v["B"])))
        misread = alg.matmul(alg.mul(alg.mul(v["A"], v["s"]), v["M"]), v["B"])
        assert canon(right) != canon(misread)
        assert canon(alg.matmul(v["A"], v["x"])) != canon(alg.matmul(alg.T(v["A"]), v["x"]))
        assert canon(alg.add(v["A"], alg.matmul(v["M"], v["B"]))) != canon(alg.matmul(alg.add(v["A"], v["M"]), v["B"]))
