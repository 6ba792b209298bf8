"""finite_diff: accuracy of each method, batching, Jacobian layout, directional test, kinks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli.numeric.compare import compare
from gradcheck_cli.numeric.directional import directional_check
from gradcheck_cli.numeric.finite_diff import FiniteDiffError, numeric_gradient, numeric_jacobian
from gradcheck_cli.numeric.kinks import recheck_entries


def rel(num: np.ndarray, exact: np.ndarray) -> float:
    """Worst per-entry relative error (entries are bounded away from 0 in these functions)."""
    return float(np.max(np.abs(num - exact) / np.abs(exact)))


# ---------------------------------------------------------------- smooth test functions with exact gradients

RNG = np.random.default_rng(1234)
A = RNG.standard_normal((5, 5))


def sin_exp(x):  # Σ sin(x)·exp(x/3): works on stacks (k, ...) and on complex input
    return np.sum(np.sin(x) * np.exp(x / 3), axis=(-2, -1))


def sin_exp_grad(x):
    return np.exp(x / 3) * (np.cos(x) + np.sin(x) / 3)


def logsumexp(x):
    m = np.max(x.real)
    return m + np.log(np.sum(np.exp(x - m)))


def logsumexp_grad(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def quad(x):  # xᵀ A x
    return x @ A @ x


def quad_grad(x):
    return (A + A.T) @ x


SMOOTH = {
    "sin_exp": (sin_exp, sin_exp_grad, RNG.uniform(0.2, 1.3, (3, 4))),
    "logsumexp": (logsumexp, logsumexp_grad, RNG.standard_normal(7)),
    "quadratic_form": (quad, quad_grad, np.array([0.7, -1.1, 0.4, 1.9, -0.6])),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("method,bound", [("central", 1e-8), ("richardson", 1e-10), ("complex", 1e-13)])
def test_accuracy_on_known_functions(name, method, bound):
    f, grad, x = SMOOTH[name]
    num, evals = numeric_gradient(f, x, method=method)
    assert num.shape == x.shape
    assert rel(num, grad(x)) <= bound
    assert evals == {"central": 2, "richardson": 4, "complex": 1}[method] * x.size


def test_steps_are_relative_to_each_entrys_scale():
    # entries near 1e6 with derivatives near 1e-6: an absolute step of 6e-6 would leave
    # round-off ε|f|/h ≈ 1e-9, a relative error of ~1e-3; a relative step leaves ~1e-9
    x = np.array([[3e6, 1.5e6], [7e5, 2.0]])
    c = np.array([[1.0, 2.0], [3.0, 4.0]])

    def f(v):
        return np.sum(c * np.log(v))

    num, _ = numeric_gradient(f, x)
    assert rel(num, c / x) <= 1e-8


@pytest.mark.parametrize("method", ["central", "complex", "richardson"])
def test_batched_and_chunked_equal_the_loop(method):
    x = RNG.uniform(0.2, 1.3, (6, 5))
    loop, e1 = numeric_gradient(sin_exp, x, method=method)
    batched, e2 = numeric_gradient(sin_exp, x, method=method, batched=True)
    chunked, e3 = numeric_gradient(sin_exp, x, method=method, batched=True, chunk_bytes=3 * x.nbytes)
    np.testing.assert_allclose(batched, loop, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(chunked, batched)
    assert e1 == e2 == e3


def test_indices_give_those_entries_in_order():
    f, grad, x = SMOOTH["sin_exp"]
    idx = [(2, 3), (0, 0), (1, 2)]
    num, evals = numeric_gradient(f, x, indices=idx)
    assert num.shape == (3,) and evals == 6
    np.testing.assert_allclose(num, [grad(x)[i] for i in idx], rtol=1e-8)


def test_does_not_modify_the_input():
    x = np.arange(6.0).reshape(2, 3)
    before = x.copy()
    numeric_gradient(lambda v: np.sum(v**2), x)
    np.testing.assert_array_equal(x, before)


def test_jacobian_is_numerator_layout_in_c_order():
    W = RNG.standard_normal((3, 2))
    x = np.array([[0.3], [-0.8]])
    J, evals = numeric_jacobian(lambda v: np.tanh(W @ v), x)
    exact = np.diag(1 - np.tanh(W @ x).ravel() ** 2) @ W  # ∂h/∂x = diag(f′(z)) W: (3, 2)
    assert J.shape == (3, 2) and evals == 2 * 2 + 1
    np.testing.assert_allclose(J, exact, rtol=1e-8)
    # matrix input: column c is X.flat[c] (C order); row r is the r-th output entry
    X = RNG.standard_normal((2, 3))
    J, _ = numeric_jacobian(lambda M: M.sum(axis=1), X, method="complex")
    np.testing.assert_allclose(J, [[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], atol=1e-15)


def test_complex_step_refuses_a_function_that_drops_the_imaginary_part():
    x = np.array([0.5, 1.5])
    with pytest.raises(FiniteDiffError, match="imaginary part"):
        numeric_gradient(lambda v: float(np.sum(np.abs(v) ** 2)) if not np.iscomplexobj(v) else
                         np.sum(np.abs(v) ** 2), x, method="complex")
    with pytest.raises(FiniteDiffError, match="scalar"):
        numeric_gradient(lambda v: v * 2, x)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p=st.integers(1, 40), scale=st.sampled_from([1e-3, 1.0, 30.0]))
def test_random_smooth_functions_are_accurate_and_never_flagged(seed, p, scale):
    """f(x) = Σ aᵢ·tanh(bᵢxᵢ + cᵢ) + ½(wᵀx)²/p: random, smooth, coupled, with an exact gradient."""
    r = np.random.default_rng(seed)
    a, b, c, w = r.standard_normal((4, p))
    x = scale * r.standard_normal(p)

    def f(v):
        return np.sum(a * np.tanh(b * v + c)) + 0.5 * (w @ v) ** 2 / p

    g = a * b / np.cosh(b * x + c) ** 2 + w * (w @ x) / p
    for method in ("central", "complex", "richardson"):
        num, _ = numeric_gradient(f, x, method=method)
        cmp = compare(num, g, method=method, f_scale=abs(f(x)), x_scale=np.abs(x))
        assert cmp.ok, (method, cmp)
    num, _ = numeric_gradient(f, x, method="complex")
    assert np.max(np.abs(num - g)) <= 1e-13 * max(1.0, np.max(np.abs(g)))


# ---------------------------------------------------------------- directional test


def separable(P, seed):
    r = np.random.default_rng(seed)
    a, c = r.standard_normal((2, P))
    x = r.standard_normal(P)
    return (lambda v: np.sum(a * np.sin(v + c)) + 0.1 * np.sum(v * v)), a * np.cos(x + c) + 0.2 * x, x


@pytest.mark.parametrize("P", [10, 1_000, 100_000])
@pytest.mark.parametrize("method", ["central", "complex"])
def test_directional_never_flags_correct_gradients(P, method):
    for seed in range(5):
        f, g, x = separable(P, seed)
        res = directional_check(f, x, g, np.random.default_rng(seed), k=4, method=method)
        assert res.ok, res
        assert res.evaluations == 4 * (2 if method == "central" else 1)


def test_directional_complex_catches_one_entry_off_by_1e_4_at_1e5():
    f, g, x = separable(100_000, 7)
    caught = 0
    for j in np.random.default_rng(0).choice(x.size, 10, replace=False):
        bad = g.copy()
        bad[j] *= 1 + 1e-4
        caught += not directional_check(f, x, bad, np.random.default_rng(j), method="complex").ok
    assert caught >= 9  # an entry whose |gⱼ| is 100× below average may hide below the resolution


def test_directional_central_catches_a_global_mistake():
    f, g, x = separable(1_000, 3)
    assert not directional_check(f, x, 2 * g, np.random.default_rng(0)).ok
    assert not directional_check(f, x, -g, np.random.default_rng(0)).ok


def relu_mlp(D, H, N, seed):
    """s = Σ uᵀ relu(W xₙ) / N with its exact gradient wrt W (D·H parameters): lots of kinks."""
    r = np.random.default_rng(seed)
    X, u = r.standard_normal((N, D)), r.standard_normal(H)
    W0 = r.standard_normal((H, D)) / np.sqrt(D)

    def f(W):
        return np.sum(np.maximum(X @ W.T, 0) @ u) / N

    grad = ((X @ W0.T > 0) * u).T @ X / N
    return f, grad, W0


def test_directional_relu_mlp_kinks_are_not_failures():
    for seed in range(10):
        f, g, W = relu_mlp(100, 100, 40, seed)  # P = 1e4, 4000 pre-activations
        res = directional_check(f, W, g, np.random.default_rng(seed), k=4)
        assert res.ok, res


# ---------------------------------------------------------------- kinks


def test_relu_kink_is_classified_as_kink_not_failure():
    # pre-activations planted at ±3e-7, 1e-9 and exactly 0 from relu's kink
    z = np.array([3e-7, -3e-7, 1e-9, 0.0, 0.4])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])

    def f(v):
        return np.sum(w * np.maximum(v, 0))

    claimed = w * (z > 0)  # relu′(0) = 0, a valid subgradient
    num, _ = numeric_gradient(f, z)
    cmp = compare(num, claimed, method="central", f_scale=abs(f(z)), x_scale=np.abs(z))
    assert not cmp.ok  # the step crosses the kink...
    bad = cmp.bad_indices
    r = recheck_entries(f, z, bad, target=claimed[[i[0] for i in bad]])
    assert r.status == ["kink"] * len(bad), r.reasons  # ...and the re-check says so
    assert all(r.is_kink) and all(r.ok)
    assert r.evaluations == 1 + 14 * len(bad)


def test_wrong_derivative_near_a_kink_is_still_a_failure():
    z = np.array([3e-7, 1e-9, -2e-8])

    def f(v):
        return np.sum(np.maximum(v, 0))

    wrong = np.array([2.0, 1.5, -0.5])  # neither side (0 or 1), nor between
    r = recheck_entries(f, z, [(0,), (1,), (2,)], target=wrong)
    assert r.status == ["fail", "fail", "fail"], r.reasons


def test_exactly_on_a_kink_the_entry_cannot_be_judged():
    # several relu units at exactly 0 on one line: any per-unit choice of relu′(0) is valid

    def f(v):
        return np.sum(np.maximum(np.array([1.0, -2.0, 0.5]) * v[0], 0) * np.array([1.0, 1.0, -3.0]))

    r = recheck_entries(f, np.zeros(1), [(0,)], target=[1.0])  # relu′(0) = 1, 0, 0 per unit
    assert r.status == ["kink"] and "cannot be checked" in r.reasons[0]


def test_smooth_mismatch_is_not_a_kink():
    f, g, x = SMOOTH["sin_exp"]
    bad = g(x)[1, 2] * (1 + 1e-4)
    r = recheck_entries(f, x, [(1, 2)], target=[bad])
    assert r.status == ["fail"] and not r.is_kink[0]
    assert recheck_entries(f, x, [(1, 2)]).is_kink == [False]  # no target: evidence only


def test_roundoff_disagreement_is_rescued_by_the_low_noise_estimate():
    # a loss near 0 made of large cancelling terms: |f| understates the round-off
    big = 1e4

    def f(v):
        return (big + np.sum(np.sin(v))) - big

    x = np.array([1.5707, 0.3, 2.0])
    g = np.cos(x)
    num, _ = numeric_gradient(f, x)
    cmp = compare(num, g, method="central", f_scale=abs(f(x)), x_scale=np.abs(x))
    bad = [b for b in cmp.bad_indices]
    if bad:  # the tiny entry cos(1.5707) ≈ 1e-4 drowns in round-off at h
        r = recheck_entries(f, x, bad, target=[g[b] for b in bad])
        assert all(r.ok), r.reasons
