"""Per-rule tests generated from the op table (tinygrad's helper_test_op).

For every op in OPS: a small graph that exercises it, weighted by a random
data matrix R so the op's output cotangent is generic (s = sum(R ∘ op(…))),
and then:

- the symbolic VJP (through `derive`) matches central differences;
- the rule's cotangents have their inputs' shapes (symbolically and numerically);
- the rule has a doc string, and the README's ops list names it.

For every elementwise function: the pretty derivative `algebra.fn_derivative`
uses (1 − tanh², σ(1 − σ), …) equals `sp.diff` of the one sympy definition.
A new op cannot land half-done.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.symbolic.elementwise import ELEMENTWISE, A, T, derivative_sym
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lang.graph import Graph, parse
from gradcheck_cli.numeric.evaluate import Context, evaluate
from gradcheck_cli.symbolic.ops import OPS
from gradcheck_cli.shapes import Dim, using

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
H = 1e-6

# The declarations every case may use (n, m, k distinct so no transpose hides).
DECLS = """\
dims n = 3, m = 4, k = 2
A : n x m
B : n x m
C : m x k
S : n x n
a : n
c : n
q : m
lam : scalar
"""

# op -> expressions (DSL) that contain it; each is wrapped as s = sum(R * (expr)).
CASES: dict[str, tuple[str, ...]] = {
    "var": ("A",),
    "const": ("2.5 * A", "A / n"),
    "ones": ("A + ones(n, m)", "a + ones(n)"),
    "zeros": ("[a; zeros(2)]", "[A; zeros(1, m)]"),
    "eye": ("S + eye(n)",),
    "add": ("A + B", "A + a", "A + q^T", "A + lam"),
    "neg": ("-A",),
    "mul": ("A * B", "A * a", "A * q^T", "lam * A"),
    "div": ("A / exp(B)", "A / exp(a)", "A / exp(lam)", "lam / exp(A)"),
    "matmul": ("A C", "A q", "a^T A"),
    "T": ("A^T",),
    "pow": ("A^2", "A^3", "exp(A)^1.5", "exp(A)^(-1)"),
    "fn": ("tanh(A)", "sigmoid(A)", "exp(A)", "sin(A)", "leaky_relu(A, 0.2)", "tanh'(A)"),
    "max": ("max(A, B)", "max(A, a)"),
    "min": ("min(A, B)", "min(A, lam)"),
    "concat": ("[A; B]", "[a; q]", "[a; lam]"),
    "rows": ("rows(A, 1, 3)", "rows([a; q], 1, n + 2)", "rows(A^T, 0, 2)"),
    "sum": ("sum(A)", "sum(A, axis=0)", "sum(A, axis=1)"),
    "softmax": ("softmax(A)", "softmax(a)"),
    "log_softmax": ("log_softmax(A)", "log_softmax(a)"),
    "logsumexp": ("logsumexp(A)", "logsumexp(a)"),
    "norm": ("norm(A)", "norm(a)"),
    "tr": ("tr(S)", "tr(A C C^T A^T)"),
    "det": ("det(S)",),
    "logdet": ("logdet(S)",),
    "inv": ("inv(S)", "S^-1"),
    "diag": ("diag(a)",),
    "diagvec": ("diag(S)",),
}


def _graph(expr: str) -> Graph:
    """s = sum(R ∘ expr), R data of expr's shape (a first parse finds the shape)."""
    probe = parse(DECLS + f"e = {expr}\n")
    r, c = probe.output.shape
    text = DECLS + f"R : ({r.dsl()}, {c.dsl()}) const\ne = {expr}\ns = sum(R * e)\noutput s\n"
    return parse(text)


def _nodes(graph: Graph, op: str) -> list[Expr]:
    return [e for e in graph.output.walk() if e.op == op]


def _point(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Random values: S well-conditioned with det > 0; ties of max/min and kinks avoided."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, v in graph.variables.items():
        shape = (v.expr.shape[0].size(graph.env.sizes), v.expr.shape[1].size(graph.env.sizes))
        x = rng.uniform(-1.5, 1.5, shape)
        x = np.where(np.abs(x) < 0.1, np.sign(x) * 0.1 + x, x)  # away from relu-type kinks at 0
        if name == "S":
            x = 2 * np.eye(shape[0]) + 0.3 * x
        if name == "B":  # max(A, B), min(A, B): no ties
            x = out["A"] + np.where(rng.random(shape) < 0.5, -1, 1) * rng.uniform(0.2, 1.0, shape)
        out[name] = x
    return out


def central_differences(graph: Graph, values: dict[str, np.ndarray], name: str) -> np.ndarray:
    """∂s/∂name entry by entry: (s(x + h eᵢ) − s(x − h eᵢ)) / 2h."""
    x0 = values[name]
    grad = np.zeros_like(x0)
    for idx in np.ndindex(*x0.shape):
        vals = []
        for sign in (1, -1):
            x = x0.copy()
            x[idx] += sign * H
            vals.append(evaluate(graph.output, Context(graph, {**values, name: x})).item())
        grad[idx] = (vals[0] - vals[1]) / (2 * H)
    return grad


def _check_against_central_differences(graph: Graph, values: dict[str, np.ndarray], label: str) -> None:
    d = derive(graph)
    ctx = Context(graph, values)
    for g in d.gradients:
        assert g.shape_form is not None
        got = evaluate(g.shape_form, ctx)
        want = central_differences(graph, values, g.wrt)
        assert got.shape == want.shape, f"{label}: ∂s/∂{g.wrt} is {got.shape}, the variable is {want.shape}"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{label}: ∂s/∂{g.wrt} = {g.shape_form}")


def test_every_op_has_cases() -> None:
    assert sorted(CASES) == sorted(OPS), "add a small graph for every op to CASES"


@pytest.mark.parametrize("name", sorted(OPS))
def test_vjp_matches_central_differences(name: str) -> None:
    for k, expr in enumerate(CASES[name]):
        graph = _graph(expr)
        assert _nodes(graph, name), f"`{expr}` does not exercise {name}: {[e.op for e in graph.output.walk()]}"
        _check_against_central_differences(graph, _point(graph, seed=100 + k), f"{name}: `{expr}`")


@pytest.mark.parametrize("name", sorted(OPS))
def test_cotangent_shapes(name: str) -> None:
    """Each rule maps a cotangent of the output's shape to one per input, of that input's shape."""
    for k, expr in enumerate(CASES[name]):
        graph = _graph(expr)
        values = _point(graph, seed=200 + k)
        with using(graph.env):
            for node in _nodes(graph, name):
                r, c = node.shape
                g = alg.var("G_", node.shape)
                cts = OPS[name].vjp(g, node, *node.args)
                assert len(cts) == len(node.args), f"{name}: {len(cts)} cotangents for {len(node.args)} inputs"
                ctx = Context(graph, {**values, "G_": np.random.default_rng(k).standard_normal(
                    (r.size(graph.env.sizes), c.size(graph.env.sizes)))})
                for arg, ct in zip(node.args, cts):
                    if ct is None:
                        continue
                    assert graph.env.same_shape(ct.shape, arg.shape), \
                        f"{name} in `{expr}`: cotangent {ct.shape} for an input of shape {arg.shape}"
                    want = (arg.shape[0].size(graph.env.sizes), arg.shape[1].size(graph.env.sizes))
                    assert evaluate(ct, ctx).shape == want, f"{name} in `{expr}`: numeric cotangent shape"


@pytest.mark.parametrize("name", sorted(OPS))
def test_rule_is_documented(name: str) -> None:
    assert OPS[name].doc.strip(), f"op {name} has no doc"
    if not README.exists():
        pytest.skip("README.md does not exist yet")
    text = README.read_text(encoding="utf-8")
    section = text.split("## Ops", 1)[1].split("\n## ", 1)[0] if "## Ops" in text else text
    assert f"`{name}`" in section, f"op {name} is missing from the README's ops list"


# --------------------------------------------------------------------------
# elementwise functions: the pretty f′ is sp.diff of the one definition


# sp.diff of a kinked definition brings Heaviside and DiracDelta: their values away from the kink
_STEPS = {"Heaviside": lambda x, h=0.5: np.heaviside(x, h), "DiracDelta": lambda x, *k: 0.0 * x}


def _fn_points(name: str, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    e = ELEMENTWISE[name]
    lo, hi = max(e.domain[0], -3.0), min(e.domain[1], 3.0)
    t = rng.uniform(lo + 1e-3, hi, size)
    for kink in e.kinks:  # the derivative jumps there: stay clear
        t = np.where(np.abs(t - kink) < 0.05, t + 0.1, t)
    return t


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_pretty_derivative_is_sp_diff(name: str, order: int) -> None:
    """fn_derivative(f(z)) (order 1), and of f′(z) (order 2), equal sp.diff(f(t), t, order)."""
    e = ELEMENTWISE[name]
    alpha = sp.Rational(1, 5) if e.nparams else None
    defn = e.sympy(T, A) if e.nparams else e.sympy(T)
    ref = sp.lambdify(T, sp.diff(defn, T, order).subs(A, alpha or 0), modules=[_STEPS, "numpy", "scipy"])
    t = _fn_points(name, np.random.default_rng(order))
    graph = parse(f"dims n = {t.size}\nz : n\ns = sum(z)\n")
    with using(graph.env):
        z = graph.variables["z"].expr
        node = alg.fn(name, z, 0, alpha)
        pretty = alg.fn_derivative(node)
        if order == 2:
            pretty = alg.fn_derivative(alg.fn(name, z, 1, alpha)) if pretty.op != "fn" else alg.fn_derivative(pretty)
        got = evaluate(pretty, Context(graph, {"z": t[:, None]}))[:, 0]
    want = np.broadcast_to(np.asarray(ref(t), dtype=float), t.shape)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                               err_msg=f"{name}{chr(39) * order} printed as {pretty}")


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_forward_is_its_definition(name: str) -> None:
    """The stable numpy forward equals the sympy definition it stands for."""
    e = ELEMENTWISE[name]
    t = _fn_points(name, np.random.default_rng(7))
    args = (T, A) if e.nparams else (T,)
    ref = sp.lambdify(args, derivative_sym(name, 0), modules=["numpy", "scipy"])
    graph = parse(f"dims n = {t.size}\nz : n\ns = sum(z)\n")
    with using(graph.env):
        node = alg.fn(name, graph.variables["z"].expr, 0, sp.Rational(1, 5) if e.nparams else None)
        got = evaluate(node, Context(graph, {"z": t[:, None]}))[:, 0]
    want = ref(t, 0.2) if e.nparams else ref(t)
    np.testing.assert_allclose(got, np.broadcast_to(want, t.shape), rtol=1e-12, atol=1e-14)


def test_readme_lists_every_elementwise_function() -> None:
    if not README.exists():
        pytest.skip("README.md does not exist yet")
    section = README.read_text(encoding="utf-8").split("## Ops", 1)[-1].split("\n## ", 1)[0]
    missing = [n for n in ELEMENTWISE if not re.search(rf"\b{n}\b", section)]
    assert not missing, f"elementwise functions missing from the README's ops list: {missing}"


def test_dims_are_kept_symbolic() -> None:
    """Rules never read a concrete size: n stays n in every gradient (Dim, not int)."""
    graph = _graph("tanh(A C) C^T")
    for g in derive(graph).gradients:
        assert g.shape_form is not None
        for node in g.shape_form.walk():
            for d in node.shape:
                assert isinstance(d, Dim)
