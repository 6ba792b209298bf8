"""check_gradient / assert_gradient: the CS224n gradcheck_naive use, with reports a student can act on."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli import assert_gradient, check_gradient
from gradcheck_cli.numeric.check_api import GradientCheck
from gradcheck_cli.numeric.result import Check

R = np.random.default_rng(42)
W0, x0, u0 = R.standard_normal((3, 4)), R.standard_normal(4), R.standard_normal(3)


def layer(W, x):
    """s = uᵀ tanh(W x): ds/dW = δ xᵀ, ds/dx = Wᵀ δ, δ = u ∘ tanh′(W x)."""
    z = W @ x
    d = u0 * (1 - np.tanh(z) ** 2)
    return u0 @ np.tanh(z), {"W": np.outer(d, x), "x": W.T @ d}


def mutant(**changes):
    def f(W, x):
        s, g = layer(W, x)
        return s, {k: changes.get(k, lambda a: a)(v) for k, v in g.items()}

    return f


def test_cs224n_quadratic_sanity_check():
    def quad(x):
        return np.sum(x**2), 2 * x

    for x in (np.array(123.456), np.random.default_rng(0).standard_normal(3),
              np.random.default_rng(1).standard_normal((4, 5)), 2.5):
        res = check_gradient(quad, x)
        assert res and isinstance(res, GradientCheck)
        assert all(isinstance(c, Check) for c in res.checks)
        assert res.worst is not None and res.worst.rel_error <= 1e-12
        assert "passed" in res.report


def test_named_arrays_name_the_bad_entry_with_both_values_and_diagnosis():
    def one_entry(g):
        g = g.copy()
        g[2, 1] *= 1.5
        return g

    res = check_gradient(mutant(W=one_entry), W=W0, x=x0)
    assert not res
    assert res.worst is not None and res.worst.name == "W" and res.worst.index == (2, 1)
    assert res.worst.label == "W[2, 1]"
    _, g = layer(W0, x0)
    assert res.worst.claimed == pytest.approx(1.5 * g["W"][2, 1])
    assert res.worst.numeric == pytest.approx(g["W"][2, 1], rel=1e-6)
    assert "W[2, 1]" in res.report and "one entry wrong" in res.report and "x: ok" in res.report
    assert [c.ok for c in res.checks] == [False, True] and res.checks[0].diagnosis == "one entry wrong"


@pytest.mark.parametrize("change,diagnosis", [
    (lambda g: -g, "sign flipped"),
    (lambda g: 2 * g, "off by a factor of 2"),
    (lambda g: 0.5 * g, "off by a factor of ½"),
])
def test_global_mistakes_are_diagnosed(change, diagnosis):
    res = check_gradient(mutant(x=change), W=W0, x=x0)
    assert not res and res.checks[1].diagnosis == diagnosis and diagnosis in res.report


def test_one_entry_off_by_1e_4_is_caught():
    def tiny(g):
        g = g.copy()
        g[1, 3] *= 1 + 1e-4
        return g

    for method in ("central", "complex", "auto"):
        res = check_gradient(mutant(W=tiny), W=W0, x=x0, method=method)
        assert not res and res.worst.index == (1, 3), (method, res.report)


def test_gradients_as_tuple_list_or_dict_by_position():
    def f(W, x):
        s, g = layer(W, x)
        return s, (g["W"], g["x"])

    assert check_gradient(f, W0, x0)
    assert check_gradient(lambda W, x: (f(W, x)[0], list(f(W, x)[1])), W0, x0)
    assert check_gradient(lambda W, x: (f(W, x)[0], dict(enumerate(f(W, x)[1]))), W0, x0)


def test_vector_gradient_may_be_flat_or_column_and_misshaped_is_named():
    def col(W, x):
        s, g = layer(W, x)
        return s, {"W": g["W"], "x": g["x"][:, None]}

    assert check_gradient(col, W=W0, x=x0)  # (m, 1) for an (m,) input: fine
    xc = x0[:, None]

    def flat(W, x):
        s, g = layer(W, x.ravel())
        return s, {"W": g["W"], "x": g["x"]}

    assert check_gradient(flat, W=W0, x=xc)  # (m,) for an (m, 1) input: fine

    res = check_gradient(mutant(W=lambda g: g.T), W=W0, x=x0)
    assert not res and "has shape (4, 3), expected (3, 4)" in res.report and "transposed" in res.report
    res = check_gradient(mutant(x=lambda g: g[:2]), W=W0, x=x0)
    assert not res and "expected (4,) or (4, 1)" in res.report


def test_missing_gradient_and_wrong_return_are_clear():
    res = check_gradient(lambda W, x: (layer(W, x)[0], {"W": layer(W, x)[1]["W"]}), W=W0, x=x0)
    assert not res and "no gradient for x (expected shape (4,) or (4, 1))" in res.report
    res = check_gradient(lambda W, x: layer(W, x)[0], W=W0, x=x0)
    assert not res and "must return (value, grads)" in res.report
    res = check_gradient(lambda x: (np.ones(2), x), x0)
    assert not res and "value must be a scalar" in res.report
    with pytest.raises(TypeError, match="positionally or all by name"):
        check_gradient(layer, W0, x=x0)


def test_nan_is_reported():
    res = check_gradient(lambda x: (np.sum(x), np.full(x.shape, np.nan)), x0)
    assert not res and "NaN" in res.report and "claimed" in res.report
    res = check_gradient(lambda x: (np.nan, x), x0)
    assert not res and "nan" in res.report.lower()


def test_assert_gradient_raises_with_the_report():
    assert_gradient(layer, W=W0, x=x0)  # passes silently
    with pytest.raises(AssertionError, match=r"W\[\d, \d\]: claimed .* numeric .*sign flipped"):
        assert_gradient(mutant(W=lambda g: -g), W=W0, x=x0)


def test_auto_uses_complex_step_when_f_carries_it_else_central():
    res = check_gradient(layer, W=W0, x=x0)
    assert {c.method for c in res.checks} == {"complex"}
    assert res.worst.rel_error <= 1e-13

    def with_abs(x):  # |x| drops the imaginary part's sign information: complex step is wrong here
        return np.sum(np.abs(x) ** 3), 3 * x * np.abs(x)

    res = check_gradient(with_abs, x0)
    assert res and res.checks[0].method == "central"
    res = check_gradient(with_abs, x0, method="complex")
    assert not res and res.checks[0].status in ("fail", "error")


def test_relu_kinks_are_not_failures():
    z0 = np.array([3e-7, -3e-7, 1e-9, 0.0, 0.7, -0.2])
    w = np.arange(1.0, 7.0)

    def relu_score(z):
        return w @ np.maximum(z, 0), w * (z > 0)

    res = check_gradient(relu_score, z0, method="central")
    assert res and res.checks[0].status == "kink", res.report
    assert "kink" in res.report
    res = check_gradient(lambda z: (relu_score(z)[0], 2 * relu_score(z)[1]), z0, method="central")
    assert not res and res.worst.index == (4,)  # the entry far from any kink is the one to show
    assert res.worst.numeric == pytest.approx(5.0) and res.checks[0].diagnosis == "off by a factor of 2"


def test_confident_softmax_roundoff_is_not_a_failure():
    """A loss near 0 computed from logits near 30: |f| understates the round-off of f itself."""
    r = np.random.default_rng(7)
    X, y = r.standard_normal((8, 5)), r.integers(3, size=8)

    def loss(W):
        S = 30 * X @ W
        S = S - S.max(1, keepdims=True)
        P = np.exp(S) / np.exp(S).sum(1, keepdims=True)
        value = -np.mean(np.log(P[np.arange(8), y]))
        P[np.arange(8), y] -= 1
        return value, 30 * X.T @ P / 8

    W = r.standard_normal((5, 3))
    W[:, 0] += 2  # predictions become very confident for class 0
    y[:] = np.argmax(X @ W, axis=1)
    res = check_gradient(loss, W, method="central")
    assert res, res.report


def test_large_inputs_use_random_directions_and_still_catch_bugs():
    r = np.random.default_rng(3)
    a, x = r.standard_normal(20_000), r.standard_normal(20_000)

    def f(v):
        return np.sum(a * np.sin(v)), a * np.cos(v)

    res = check_gradient(f, x)
    assert res and res.checks[0].mode == "fast" and res.evaluations < 100
    res = check_gradient(lambda v: (f(v)[0], 2 * f(v)[1]), x)
    assert not res and res.checks[0].mode == "fast"

    def one_entry(v):
        value, g = f(v)
        g = g.copy()
        g[1234] *= 1 + 1e-4
        return value, g

    assert not check_gradient(one_entry, x)  # complex step directions resolve 1e-4 at P = 2e4
    assert not check_gradient(one_entry, x, mode="fast", method="complex")


def test_sample_checks_only_that_many_entries():
    res = check_gradient(layer, W=W0, x=x0, sample=5, method="central")
    assert res and all(c.mode == "sample" for c in res.checks)
    assert res.checks[0].evaluations == 2 * 5 and "5 of 12 sampled" in res.checks[0].message
