"""Hypothesis: random well-shaped graphs, symbolic vs numeric vs exact.

`graphs()` writes a random .grad file that type-checks *by construction*:
small dims (1–4) on a `dims` line, then a chain of ops, each applied to the
current node and an operand of a shape that op accepts (a fresh variable, or
an earlier node: fan-out), ending in a scalar (uᵀ … w, sum, norm). Ops:
matmul on either side, + − ∘ / with broadcasting (a column bias over a
matrix's columns, a row over its rows, a scalar), transposes, elementwise
tanh, σ, exp, log of positive things, sin, relu, softplus, sum over an axis,
softmax, norm, concat, max.

Properties, for every derived gradient:
(a) evaluated with numpy it matches central differences of the forward pass
    (h = 1e-6, rtol 1e-5), at points away from relu/max kinks;
(b) it has its variable's shape;
(c) the graph printed back as DSL parses to the same output value;
(d) the JSON rendering survives json.loads → json.dumps unchanged;
(e) at small sizes (2, 3, 4) it equals the exact entry-by-entry derivative.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.derive.exact import Exact, difference
from gradcheck_cli.lang.graph import Graph, parse
from gradcheck_cli.numeric.evaluate import Context, evaluate, sample_inputs
from gradcheck_cli.symbolic.printing import to_dsl
from gradcheck_cli.render.json import render_json
from gradcheck_cli.shapes import Dim

H = 1e-6
RTOL = 1e-5
KINK_MARGIN = 1e-4
ONE = Dim.of(1)
# GRADCHECK_EXAMPLES=1000 pytest tests/test_properties.py: a longer bug hunt than CI's
EXAMPLES = int(os.environ.get("GRADCHECK_EXAMPLES", "60"))
PROPS = settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
EXACT_PROPS = settings(deadline=None, max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])

# elementwise forms: {} is the operand (log only of positive things)
FUNCTIONS = ("tanh({})", "sigmoid({})", "exp(tanh({}))", "log(softplus({}))", "log(1 + {}^2)", "sin({})",
             "relu({})", "softplus({})", "exp({})")
OPS = ("matmul", "rmatmul", "add", "sub", "mul", "div", "T", "fn", "fn", "sum_axis", "softmax", "norm",
       "concat", "max")


# --------------------------------------------------------------------------
# the strategy


class _Builder:
    def __init__(self, draw: st.DrawFn, dims: list[str]):
        self.draw = draw
        self.dims = dims
        self.decls: list[str] = []
        self.lines: list[str] = []
        self.pool: list[tuple[str, tuple[Dim, Dim]]] = []

    def dim(self) -> Dim:
        return self.draw(st.sampled_from([Dim.of(d) for d in self.dims] + [ONE]))

    def operand(self, shape: tuple[Dim, Dim]) -> str:
        """An earlier node of this shape (fan-out) or a fresh variable."""
        same = [name for name, s in self.pool if s == shape]
        if same and self.draw(st.booleans()):
            return self.draw(st.sampled_from(same))
        name = f"v{len(self.decls)}"
        const = " const" if self.draw(st.integers(0, 5)) == 0 else ""
        self.decls.append(f"{name} : ({shape[0].dsl()}, {shape[1].dsl()}){const}")
        self.pool.append((name, shape))
        return name

    def fresh(self, shape: tuple[Dim, Dim]) -> str:
        name = f"v{len(self.decls)}"
        self.decls.append(f"{name} : ({shape[0].dsl()}, {shape[1].dsl()})")
        self.pool.append((name, shape))
        return name

    def assign(self, expr: str, shape: tuple[Dim, Dim]) -> tuple[str, tuple[Dim, Dim]]:
        name = f"t{len(self.lines)}"
        self.lines.append(f"{name} = {expr}")
        self.pool.append((name, shape))
        return name, shape

    def broadcast_partner(self, shape: tuple[Dim, Dim]) -> tuple[Dim, Dim]:
        r, c = shape
        options = [shape, (ONE, ONE)]
        if c != ONE:
            options.append((r, ONE))  # a column bias over the columns
        if r != ONE:
            options.append((ONE, c))  # a row over the rows
        return self.draw(st.sampled_from(options))

    def step(self, cur: str, shape: tuple[Dim, Dim]) -> tuple[str, tuple[Dim, Dim]]:
        r, c = shape
        op = self.draw(st.sampled_from(OPS))
        if op == "matmul":
            k = self.dim()
            return self.assign(f"{cur} @ {self.operand((c, k))}", (r, k))
        if op == "rmatmul":
            k = self.dim()
            return self.assign(f"{self.operand((k, r))} @ {cur}", (k, c))
        if op in ("add", "sub", "mul", "max"):
            other = self.operand(self.broadcast_partner(shape))
            if op == "max" and other == cur:  # max(x, x) ties everywhere: no derivative to check
                return self.assign(f"max({cur}, {self.fresh(shape)})", shape)
            a, b = (cur, other) if self.draw(st.booleans()) else (other, cur)
            expr = {"add": f"{a} + {b}", "sub": f"{a} - {b}", "mul": f"{a} * {b}", "max": f"max({a}, {b})"}[op]
            return self.assign(expr, shape)
        if op == "div":
            other = self.operand(self.broadcast_partner(shape))
            den = self.draw(st.sampled_from((f"exp({other})", f"(1 + {other}^2)")))
            return self.assign(f"{cur} / {den}", shape)
        if op == "T":
            return self.assign(f"{cur}^T", (c, r))
        if op == "fn":
            return self.assign(self.draw(st.sampled_from(FUNCTIONS)).format(cur), shape)
        if op == "sum_axis" and (r, c) != (ONE, ONE):
            axis = self.draw(st.sampled_from((0, 1)))
            return self.assign(f"sum({cur}, axis={axis})", (ONE, c) if axis == 0 else (r, ONE))
        if op == "softmax" and (r, c) != (ONE, ONE):
            return self.assign(f"softmax({cur})", shape)
        if op == "norm":
            return self.assign(f"norm({cur})", (ONE, ONE))
        if op == "concat":
            other = self.operand((self.dim(), c))
            oshape = next(s for n, s in self.pool if n == other)
            a, b = (cur, other) if self.draw(st.booleans()) else (other, cur)
            return self.assign(f"[{a}; {b}]", (r + oshape[0] if a == cur else oshape[0] + r, c))
        return self.assign(f"tanh({cur})", shape)

    def finish(self, cur: str, shape: tuple[Dim, Dim]) -> str:
        r, c = shape
        if shape == (ONE, ONE):
            return f"s = {cur}"
        how = self.draw(st.sampled_from(("uTw", "sum", "norm")))
        if how == "sum":
            return f"s = sum({cur})"
        if how == "norm":
            return f"s = norm({cur})"
        u = self.operand((r, ONE)) if r != ONE else None
        w = self.operand((c, ONE)) if c != ONE else None
        return "s = " + " @ ".join(p for p in (f"{u}^T" if u else None, cur, w) if p)


@st.composite
def graphs(draw: st.DrawFn, max_ops: int = 5) -> str:
    """The text of a random, well-shaped .grad file with a scalar output `s`."""
    names = ["n", "m", "k"][: draw(st.integers(1, 3))]
    sizes = {n: draw(st.integers(1, 4)) for n in names}
    b = _Builder(draw, names)
    shape = (b.dim(), b.dim())
    cur = b.operand(shape)
    for _ in range(draw(st.integers(1, max_ops))):
        cur, shape = b.step(cur, shape)
    last = b.finish(cur, shape)
    dims = "dims " + ", ".join(f"{n} = {sizes[n]}" for n in names)
    return "\n".join([dims, *b.decls, *b.lines, last, "output s", ""])


# --------------------------------------------------------------------------
# helpers


@dataclass
class Point:
    graph: Graph
    values: dict[str, np.ndarray]
    ctx: Context
    s: float


def _point(text: str, seed: int) -> Point:
    graph = parse(text)
    values = sample_inputs(graph, np.random.default_rng(seed))
    ctx = Context(graph, values)
    with np.errstate(all="ignore"):
        s = evaluate(graph.output, ctx)
    assume(np.all(np.isfinite(s)) and abs(s.item()) < 1e6)
    return Point(graph, values, ctx, s.item())


def _away_from_kinks(p: Point) -> bool:
    """No relu argument and no max(a, b) tie within KINK_MARGIN of the kink."""
    for node in p.graph.output.walk():
        if node.op == "fn" and node.param("name") == "relu" and \
                np.min(np.abs(evaluate(node.args[0], p.ctx))) < KINK_MARGIN:
            return False
        if node.op in ("max", "min"):
            a, b = (evaluate(x, p.ctx) for x in node.args)
            if np.min(np.abs(a - b)) < KINK_MARGIN:
                return False
        if node.op == "norm" and np.max(np.abs(evaluate(node.args[0], p.ctx))) < KINK_MARGIN:
            return False
    return True


def central_differences(p: Point, name: str) -> np.ndarray:
    x0 = p.values[name]
    grad = np.zeros_like(x0)
    for idx in np.ndindex(*x0.shape):
        sides = []
        for sign in (1.0, -1.0):
            x = x0.copy()
            x[idx] += sign * H
            sides.append(evaluate(p.graph.output, Context(p.graph, {**p.values, name: x})).item())
        grad[idx] = (sides[0] - sides[1]) / (2 * H)
    return grad


def reprint(graph: Graph, named: bool) -> str:
    """The graph as DSL again: dims, declarations, then each assignment (or the output inline)."""
    lines = ["dims " + ", ".join(f"{n} = {v}" for n, v in graph.env.sizes.items())]
    for name, v in graph.variables.items():
        r, c = v.expr.shape
        quals = "".join(f" {q}" for q in v.qualifiers)
        lines.append(f"{name} : ({r.dsl()}, {c.dsl()}){quals}")
    if named:
        names: dict[int, str] = {}
        for name, e in graph.values.items():
            lines.append(f"{name} = {to_dsl(e, {k: v for k, v in names.items() if k != id(e)} | ({id(e): names[id(e)]} if id(e) in names else {}))}")
            names.setdefault(id(e), name)
    else:
        lines.append(f"{graph.output_name} = {to_dsl(graph.output)}")
    lines.append(f"output {graph.output_name}")
    return "\n".join(lines) + "\n"


# A few graphs hypothesis found hard (kept as regression examples).
MLP = "dims n = 3, m = 2\nv0 : (n, m)\nv1 : (m, 1)\nv2 : (n, 1)\nt0 = v0 @ v1\nt1 = tanh(t0 + v2)\ns = v2^T @ t1\noutput s\n"
BIAS = "dims n = 2, m = 3\nv0 : (n, m)\nv1 : (n, 1)\nt0 = v0 + v1\nt1 = sigmoid(t0)\ns = sum(t1)\noutput s\n"
FANOUT = "dims n = 2\nv0 : (n, 1)\nt0 = v0 * v0\nt1 = [t0; v0]\ns = norm(t1)\noutput s\n"
# a − a cancelled to an empty sum (algebra.add raised "empty sum")
CANCEL = "dims n = 1\nv0 : (n, 1) const\nv1 : (n, 1)\nt0 = v0 - v0\ns = v1^T @ t0\noutput s\n"
# the Jacobian rules of norm and of elementwise functions assumed column vectors
ROW_NORM = "dims n = 2\nv0 : (n, n) const\nv1 : (1, n)\nt0 = v1 @ v0\nt1 = tanh(t0)\ns = norm(t1)\noutput s\n"
# with `dims n = 1`, broadcasting and its sum-back compared sizes, not dims: n x n became n x 1
SIZE_ONE = "dims n = 1\nv0 : (n, n) const\nv1 : (n, 1)\nv2 : (n, 1) const\nt0 = max(v1, v0)\ns = v2^T @ t0 @ v1\noutput s\n"
SCALAR_ROW = "dims n = 1\nv0 : (1, 1)\nv1 : (1, n)\nt0 = v0 @ v1\ns = sum(t0)\noutput s\n"
# `v2 (v1 + v0)^T` read back as the call v2(v1 + v0), transposed
CALL = "dims n = 2\nv0 : (1, n) const\nv1 : (1, 1) const\nv2 : (n, n)\nt0 = v1 + v0\nt1 = t0^T\nt2 = v2 @ t1\ns = sum(t2)\noutput s\n"
# relu inside max: sympy writes the step's condition as an ITE
RELU_MAX = ("dims n = 2\nv0 : (n, n) const\nv1 : (n, n) const\nv2 : (1, 1)\nt0 = relu(v0)\nt1 = t0 @ v1\n"
            "t2 = max(v2, t1)\ns = sum(t2)\noutput s\n")
# (c x) ∘ b = c (x ∘ b) and "scalars gather on the left" rewrote each other forever
SCALAR_LOOP = "dims n = 3, m = 3\nv0 : (n, 1)\nv1 : (m, 1)\nt0 = norm(v0)\nt1 = v1 @ t0\ns = v1^T @ t1\noutput s\n"
REGRESSIONS = (MLP, BIAS, FANOUT, CANCEL, ROW_NORM, SIZE_ONE, SCALAR_ROW, CALL, RELU_MAX, SCALAR_LOOP)


def pinned(**fixed: object):  # type: ignore[no-untyped-def]
    """@example(text=…) for every regression graph (with the other arguments fixed)."""
    def wrap(test):  # type: ignore[no-untyped-def]
        for text in REGRESSIONS:
            test = example(text=text, **fixed)(test)
        return test
    return wrap


# --------------------------------------------------------------------------
# properties


@PROPS
@given(text=graphs(), seed=st.integers(0, 2**31 - 1))
@pinned(seed=0)
def test_gradient_matches_central_differences(text: str, seed: int) -> None:
    p = _point(text, seed)
    assume(_away_from_kinks(p))
    d = derive(p.graph)
    assert [g.wrt for g in d.gradients] == p.graph.params()
    for g in d.gradients:
        assert g.shape_form is not None, f"∂s/∂{g.wrt}: no shape-convention result\n{text}"
        got = evaluate(g.shape_form, p.ctx)
        want = central_differences(p, g.wrt)
        assert np.all(np.isfinite(got)), f"∂s/∂{g.wrt} = {g.shape_form} is not finite\n{text}"
        scale = max(1.0, abs(p.s), float(np.max(np.abs(want))))
        ok = np.abs(got - want) <= RTOL * np.abs(want) + 1e-6 * scale
        assert ok.all(), f"∂s/∂{g.wrt} = {g.shape_form}\n{got}\n≠ central differences\n{want}\n{text}"


@PROPS
@given(text=graphs(), seed=st.integers(0, 2**31 - 1))
@pinned(seed=0)
def test_every_gradient_has_its_variables_shape(text: str, seed: int) -> None:
    p = _point(text, seed)
    for g in derive(p.graph).gradients:
        var = p.graph.variables[g.wrt].expr
        assert g.shape_form is not None
        assert p.graph.env.same_shape(g.shape_form.shape, var.shape), f"∂s/∂{g.wrt}: {g.shape_form.shape}\n{text}"
        assert g.shape_form.shape == var.shape, f"∂s/∂{g.wrt}: dims not kept symbolic\n{text}"
        with np.errstate(all="ignore"):
            assert evaluate(g.shape_form, p.ctx).shape == p.values[g.wrt].shape


@PROPS
@given(text=graphs(), seed=st.integers(0, 2**31 - 1), named=st.booleans())
@pinned(seed=0, named=False)
def test_dsl_printing_round_trips(text: str, seed: int, named: bool) -> None:
    p = _point(text, seed)
    again = parse(reprint(p.graph, named))
    assert sorted(again.variables) == sorted(p.graph.variables)
    value = evaluate(again.output, Context(again, p.values))
    np.testing.assert_allclose(value, p.s, rtol=1e-12, atol=1e-12, err_msg=reprint(p.graph, named))


@PROPS
@given(text=graphs())
@pinned()
def test_json_round_trips(text: str) -> None:
    graph = parse(text)
    d = derive(graph)
    out = render_json(d)
    data = json.loads(out)
    assert json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) == out
    assert data["output"] == "s" and data["layout"] == "numerator"
    assert [g["wrt"] for g in data["gradients"]] == graph.params()
    for g in data["gradients"]:
        var = graph.variables[g["wrt"]].expr
        assert g["shape"] == [str(var.shape[0]), str(var.shape[1])]
        assert g["shape_convention"]["dsl"] and g["shape_convention"]["text"] and g["shape_convention"]["latex"]


@EXACT_PROPS
@given(text=graphs(max_ops=4))
@pinned()
def test_equals_exact_entry_by_entry_derivative(text: str) -> None:
    assume(_away_from_kinks(_point(text, 0)))  # max(x, [y; x]) ties for every value: no derivative there
    graph = parse(text)
    d = derive(graph)
    ex = Exact(graph)  # sizes 2, 3, 4: the formula must not depend on the file's sizes
    for g in d.gradients:
        assert g.shape_form is not None
        why = difference(g.shape_form, ex.gradient(g.wrt), graph, ex.sizes)
        assert why is None, f"∂s/∂{g.wrt} = {g.shape_form}: {why}\n{text}"
