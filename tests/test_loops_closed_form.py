"""derive keeps the loop: the closed form of BPTT (derive/loops.py) against the unrolled derivation.

Every case is a cell built with the algebra (tests/loopkit.py), derived twice: once on one
generic step, in closed form, and once unrolled over a concrete T with the ordinary derive.
Both are evaluated at random points; they must agree, and agree with central differences of
the loss along a random direction. The hypothesis test draws the cell, T and the loss.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.numeric.evaluate import Context, evaluate
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.printing import to_text

from loopkit import Loop, closed_form, evaluate_closed, forward, point, unrolled

RNN_HEADER = """dims H = 3, D = 2, C = 4
W_hh : H x H
W_xh : H x D
W_hy : C x H
b : H
"""


def rnn_cell(act: str = "tanh"):
    def cell(P, prev, x):
        z = alg.add(alg.add(alg.matmul(P["W_hh"], prev["h"]), alg.matmul(P["W_xh"], x)), P["b"])
        return {"z": z, "h": alg.fn(act, z)}
    return cell


def xent(P, v, y):
    p = alg.softmax(alg.matmul(P["W_hy"], v["h"]))
    v["p"] = p
    return alg.neg(alg.matmul(alg.T(y), alg.fn("log", p)))


def check(loop: Loop, T: int, seed: int = 0) -> None:
    """Closed form = unrolled derive = central differences, at two random points."""
    d = closed_form(loop)
    g = unrolled(loop, T)
    ref = derive(g, unrolled=True)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        vals = point(g, rng)
        nums = forward(g, vals)
        got = evaluate_closed(d, g, nums, T)
        ctx = Context(g, vals)
        for gr in ref.gradients:
            want = evaluate(gr.shape_form, ctx)
            assert gr.wrt in got, f"closed form has no ∂L/∂{gr.wrt}"
            np.testing.assert_allclose(got[gr.wrt], want, rtol=1e-9, atol=1e-9, err_msg=f"∂L/∂{gr.wrt}")
        _finite_difference(g, vals, got, rng)


def _finite_difference(g, vals, got, rng) -> None:
    direction = {n: rng.normal(size=v.shape) for n, v in vals.items() if n in got}
    eps = 1e-6

    def loss(s: float) -> float:
        moved = {n: v + s * direction[n] if n in direction else v for n, v in vals.items()}
        return float(np.asarray(evaluate(g.output, Context(g, moved))).reshape(-1)[0])

    numeric = (loss(eps) - loss(-eps)) / (2 * eps)
    analytic = sum(float(np.sum(got[n] * direction[n])) for n in direction)
    assert abs(numeric - analytic) <= 1e-5 * max(1.0, abs(numeric)), (numeric, analytic)


def test_rnn_loss_at_every_step_reads_as_the_notes():
    d = closed_form(Loop(RNN_HEADER, rnn_cell(), xent, onehot=True))
    (r,) = d.recursions
    assert (r.name, r.node_name) == ("delta", "z[t]")
    assert to_text(r.body) == "(W_hyᵀ (p[t] − y[t]) + W_hhᵀ delta[t+1]) ∘ (1 − h[t]²)"
    assert [(ix, alg.is_zero(e)) for ix, e in r.boundary] == [(("T", 1), True)]
    grads = {g.wrt: [(to_text(t.expr), t.start, t.stop) for t in g.terms] for g in d.loop_gradients}
    assert grads["W_hh"] == [("delta[t] h[t-1]ᵀ", (None, 1), ("T", 0))]
    assert grads["W_hy"] == [("(p[t] − y[t]) h[t]ᵀ", (None, 1), ("T", 0))]
    assert grads["h[0]"] == [("W_hhᵀ delta[1]", None, None)]
    assert grads["x[t]"] == [("W_xhᵀ delta[t]", None, None)]
    assert to_text(d.chains[0].factor) == "diag(1 − h[t]²) W_hh"


def test_rnn_loss_at_the_last_step_has_its_boundary_at_T():
    d = closed_form(Loop(RNN_HEADER, rnn_cell(), xent, onehot=True, kind="last"))
    (r,) = d.recursions
    assert to_text(r.body) == "(W_hhᵀ delta[t+1]) ∘ (1 − h[t]²)"
    assert r.stop == ("T", -1)
    ((ix, e),) = r.boundary
    assert ix == ("T", 0) and to_text(e) == "(W_hyᵀ (p[T] − y[T])) ∘ (1 − h[T]²)"
    grads = {g.wrt: g.terms for g in d.loop_gradients}
    assert [t.at for t in grads["W_hy"]] == [("T", 0)] and to_text(grads["W_hy"][0].expr) == "(p[T] − y[T]) h[T]ᵀ"


@pytest.mark.parametrize("kind", ["sum", "last"])
@pytest.mark.parametrize("T", [1, 2, 5])
def test_rnn_closed_form_is_the_unrolled_gradient(kind: str, T: int):
    check(Loop(RNN_HEADER, rnn_cell(), xent, onehot=True, kind=kind), T)


def test_weight_decay_outside_the_loop():
    header = RNN_HEADER + "lam : scalar const\n"
    extra = lambda P: alg.mul(alg.const(Fraction(1, 2)), alg.mul(P["lam"], alg.sum_(alg.mul(P["W_hh"], P["W_hh"]), None)))
    loop = Loop(header, rnn_cell(), xent, onehot=True, extra=extra)
    d = closed_form(loop)
    (g,) = [g for g in d.loop_gradients if g.wrt == "W_hh"]
    assert len(g.terms) == 2 and g.terms[1].start is None and to_text(g.terms[1].expr) == "lam W_hh"
    check(loop, 3)


LSTM_HEADER = """dims H = 3, D = 2
Wf : H x H
Wi : H x H
Wo : H x H
Wg : H x H
Uf : H x D
Ui : H x D
Uo : H x D
Ug : H x D
u : H
"""


def lstm_cell(P, prev, x):
    def gate(k, f):
        return alg.fn(f, alg.add(alg.matmul(P["W" + k], prev["h"]), alg.matmul(P["U" + k], x)))
    f, i, o, g = gate("f", "sigmoid"), gate("i", "sigmoid"), gate("o", "sigmoid"), gate("g", "tanh")
    c = alg.add(alg.mul(f, prev["c"]), alg.mul(i, g))
    return {"f": f, "i": i, "o": o, "g": g, "c": c, "h": alg.mul(o, alg.fn("tanh", c))}


def linear(P, v, y):
    return alg.matmul(alg.T(P["u"]), v["h"])


@pytest.mark.parametrize("kind", ["sum", "last"])
def test_lstm_two_carried_states(kind: str):
    loop = Loop(LSTM_HEADER, lstm_cell, linear, carry=("h", "c"), kind=kind)
    d = closed_form(loop)
    assert {r.name for r in d.recursions} == {"delta_h", "delta_c", "dh", "dc"}
    assert {g.wrt for g in d.loop_gradients} >= {"h[0]", "c[0]", "Wf", "u"}
    check(loop, 3)


# ----------------------------------------------------------------------------- random loops

ACTS = ("tanh", "sigmoid", "relu", "softplus")


def random_cell(act: str, form: str):
    def cell(P, prev, x):
        z = alg.add(alg.add(alg.matmul(P["W_hh"], prev["h"]), alg.matmul(P["W_xh"], x)), P["b"])
        a = alg.fn(act, z)
        if form == "gated":  # an elementwise product with a second recurrent matmul
            return {"z": z, "h": alg.mul(a, alg.fn("sigmoid", alg.matmul(P["V"], prev["h"])))}
        if form == "residual":  # the state also flows straight through
            return {"z": z, "h": alg.add(prev["h"], alg.mul(alg.const(Fraction(1, 2)), a))}
        return {"z": z, "h": a}
    return cell


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(act=st.sampled_from(ACTS), form=st.sampled_from(("plain", "gated", "residual")),
       loss=st.sampled_from(("xent", "linear")), kind=st.sampled_from(("sum", "last")),
       T=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_random_loops_closed_form_equals_unrolled_and_numbers(act, form, loss, kind, T, seed):
    header = RNN_HEADER + "V : H x H\nu : H\n"
    loss_fn = xent if loss == "xent" else linear
    check(Loop(header, random_cell(act, form), loss_fn, onehot=loss == "xent", kind=kind), T, seed)


# ----------------------------------------------------------------------------- from the unrolled graph


def _texts(d):
    recs = [(r.name, r.node_name, to_text(r.body), [(ix, to_text(e)) for ix, e in r.boundary]) for r in d.recursions]
    grads = [(g.wrt, [(to_text(t.expr), t.start, t.stop, t.at) for t in g.terms]) for g in d.loop_gradients]
    return recs, grads


@pytest.mark.parametrize("kind", ["sum", "last"])
@pytest.mark.parametrize("T", [1, 3])
def test_the_step_cut_out_of_the_unrolled_graph_is_the_generic_step(kind: str, T: int):
    from gradcheck_cli.derive.loop_build import step_from_unrolled
    from gradcheck_cli.derive.loops import bptt

    loop = Loop(RNN_HEADER, rnn_cell(), xent, onehot=True, kind=kind)
    g = unrolled(loop, T)
    step = step_from_unrolled(g)
    assert step is not None and [s.name for s in step.states] == ["h"]
    got = bptt(step, g)
    if T > 1:
        assert _texts(got) == _texts(closed_form(loop))
    check(loop, T)
    # at T = 1 the sum and the last step are the same loss: the closed form is right either way
    if T == 1:
        assert {gr.wrt for gr in got.loop_gradients} == {"W_hh", "W_xh", "W_hy", "b", "h[0]", "x[t]"}


def test_derive_keeps_the_loop_of_a_loop_file_and_its_size_does_not_grow_with_T():
    import time
    from types import SimpleNamespace

    from gradcheck_cli.derive.loops import LoopDerivation
    from gradcheck_cli.render import RENDERERS

    loop = Loop(RNN_HEADER, rnn_cell(), xent, onehot=True)
    outputs, nodes = [], []
    for T in (3, 40):
        g = unrolled(loop, T)
        g.loop = SimpleNamespace(length="T")
        d = derive(g)
        assert isinstance(d, LoopDerivation)
        outputs.append(RENDERERS["text"](d, "both", False))
        nodes.append(sum(t.expr.size() for gr in d.loop_gradients for t in gr.terms))
        assert isinstance(derive(g, unrolled=True).gradients[0].shape_form, object)
    assert outputs[0] == outputs[1] and nodes[0] == nodes[1]
    assert "∂L/∂W_hh = Σ_t δ[t] h[t−1]ᵀ" in outputs[0]
    assert "δ[t] = (W_hyᵀ (p[t] − y[t]) + W_hhᵀ δ[t+1]) ∘ (1 − h[t]²)   for t = T, …, 1" in outputs[0]
    assert "δ[T+1] = 0" in outputs[0] and "∂L/∂h[0] = W_hhᵀ δ[1]" in outputs[0]
    assert "∂h[T]/∂h[k] = ∏_{t=k+1}^{T} diag(1 − h[t]²) W_hh" in outputs[0]
