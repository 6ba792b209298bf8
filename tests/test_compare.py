"""compare: the error model never flags a correct gradient and catches a 1e-4 one-entry bug; diagnose."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gradcheck_cli.numeric.compare import (
    EPS,
    MODELS,
    SAFETY,
    compare,
    diagnose,
    noise_floor,
    relative_error,
    wrong_axis_sums,
)
from gradcheck_cli.numeric.finite_diff import numeric_gradient

# ---------------------------------------------------------------- a two-layer MLP, flattened to one θ


def mlp(D: int, H: int, C: int, N: int, seed: int):
    """softmax cross-entropy of tanh(X W₁ + b₁) W₂ + b₂, mean over N rows, as f(θ) with θ flat.

    f accepts a stack (k, P) too and complex θ (complex step), so every method can run.
    """
    r = np.random.default_rng(seed)
    X, y = r.standard_normal((N, D)), r.integers(C, size=N)
    shapes = [(D, H), (H,), (H, C), (C,)]
    cuts = np.cumsum([0] + [int(np.prod(s)) for s in shapes])

    def unpack(t):
        return [t[..., a:b].reshape(t.shape[:-1] + s) for a, b, s in zip(cuts[:-1], cuts[1:], shapes)]

    def f(t):
        W1, b1, W2, b2 = unpack(t)
        A = np.tanh(X @ W1 + b1[..., None, :])
        S = A @ W2 + b2[..., None, :]
        S = S - S.real.max(axis=-1, keepdims=True)
        lse = np.log(np.exp(S).sum(-1))
        return (lse - np.take_along_axis(S, np.broadcast_to(y[:, None], S.shape[:-1] + (1,)), -1)[..., 0]).mean(-1)

    def grad(t):
        W1, b1, W2, b2 = unpack(t)
        A = np.tanh(X @ W1 + b1)
        S = A @ W2 + b2
        P = np.exp(S - S.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        P[np.arange(N), y] -= 1
        dS = P / N
        dZ = dS @ W2.T * (1 - A**2)
        return np.concatenate([(X.T @ dZ).ravel(), dZ.sum(0), (A.T @ dS).ravel(), dS.sum(0)])

    theta = np.concatenate([r.standard_normal(int(np.prod(s))) / np.sqrt(s[0]) for s in shapes])
    return f, grad, theta


SIZES = {100: (6, 10, 4, 4), 1_000: (20, 40, 4, 4), 10_000: (100, 96, 4, 2)}  # P ≈ 1e2, 1e3, 1e4


@functools.cache
def central_mlp(P: int, seed: int):
    f, grad, theta = mlp(*SIZES[P], seed)
    num, _ = numeric_gradient(f, theta, batched=P <= 1_000)
    return num, grad(theta), abs(float(f(theta))), theta


# ---------------------------------------------------------------- the formula and the special results


def test_relative_error_is_the_style_guide_formula():
    a, b = np.array([1.0, 0.0, 1e-12, -2.0]), np.array([1.1, 0.0, 0.0, 2.0])
    np.testing.assert_allclose(relative_error(a, b, 1e-8), [0.1 / 1.1, 0.0, 1e-12 / 1e-8, 2.0])


def test_shape_mismatch_is_reported_before_values():
    c = compare(np.zeros((3, 1)), np.full((1, 3), np.nan), method="central", f_scale=1.0)
    assert not c.ok and c.problem == "shape"
    assert "(1, 3)" in c.message and "(3, 1)" in c.message


def test_nan_and_inf_are_reported_as_such():
    claimed = np.ones((2, 3))
    claimed[1, 2] = np.nan
    c = compare(np.ones((2, 3)), claimed, method="central", f_scale=1.0)
    assert not c.ok and c.problem == "nonfinite" and c.worst_index == [1, 2]
    assert "NaN in the claimed gradient" in c.message
    num = np.ones(4)
    num[0] = np.inf
    c = compare(num, np.ones(4), method="complex", f_scale=1.0)
    assert not c.ok and "Inf" in c.message and "numeric" in c.message


def test_tolerance_follows_the_error_model():
    c = compare(np.ones(3), np.ones(3), method="central", f_scale=10.0, x_scale=np.array([0.0, 1.0, 100.0]))
    assert c.ok and c.rtol == MODELS["central"].rtol
    floor = noise_floor("central", 10.0, x_scale=np.array([0.0, 100.0]))
    np.testing.assert_allclose(floor, SAFETY * EPS * 10.0 / (MODELS["central"].step * np.array([1.0, 100.0])))
    assert c.atol == pytest.approx(float(floor[0]))
    loose = compare(np.ones(2), np.array([1.0, 1.001]), method="central", f_scale=1.0, rtol=1e-2)
    assert loose.ok


# ---------------------------------------------------------------- never cry wolf, never miss the bug


@pytest.mark.parametrize("P", sorted(SIZES))
def test_correct_gradients_are_never_flagged_and_errors_do_not_creep_with_P(P):
    for seed in range(2 if P == 10_000 else 4):
        num, g, fs, theta = central_mlp(P, seed)
        c = compare(num, g, method="central", f_scale=fs, x_scale=np.abs(theta))
        assert c.ok, c
        assert c.max_rel_error <= 1e-7  # 10× under rtol at every size: no creep toward the fail line


@pytest.mark.parametrize("P", sorted(SIZES))
def test_one_entry_off_by_1e_4_relative_is_caught(P):
    num, g, fs, theta = central_mlp(P, 0)
    floor = noise_floor("central", fs, x_scale=np.abs(theta))
    nonzero = np.flatnonzero(g)
    # the error model can resolve a 1e-4 bug in (nearly) every entry, not just the big ones
    resolvable = 1e-4 * np.abs(g[nonzero]) > np.maximum(MODELS["central"].rtol * np.abs(g[nonzero]), floor[nonzero])
    assert resolvable.mean() >= 0.97, resolvable.mean()
    for j in np.random.default_rng(P).choice(nonzero, 25, replace=False):
        bad = g.copy()
        bad[j] *= 1 + 1e-4
        c = compare(num, bad, method="central", f_scale=fs, x_scale=np.abs(theta))
        if resolvable[np.searchsorted(nonzero, j)]:
            assert not c.ok and c.bad_indices == [(int(j),)] and c.worst_index == [int(j)]


def test_roundoff_safety_is_calibrated():
    """Measured round-off of central differences, in units of ε|f|/hᵢ, stays well under SAFETY."""
    step = MODELS["central"].step
    worst = 0.0
    for P in sorted(SIZES):
        num, g, fs, theta = central_mlp(P, 0)
        err = np.abs(num - g)
        beyond = err > MODELS["central"].rtol * np.abs(g)  # the part the relative term does not cover
        if beyond.any():
            worst = max(worst, float(np.max(err[beyond] / (EPS * fs / (step * np.maximum(1, np.abs(theta[beyond])))))))
    assert worst <= SAFETY / 4, worst


@pytest.mark.parametrize("method", ["complex", "richardson"])
def test_other_methods_pass_correct_gradients(method):
    f, grad, theta = mlp(*SIZES[1_000], 3)
    num, _ = numeric_gradient(f, theta, method=method, batched=True)
    c = compare(num, grad(theta), method=method, f_scale=abs(float(f(theta))), x_scale=np.abs(theta))
    assert c.ok, c
    assert c.max_rel_error <= (1e-12 if method == "complex" else 1e-9)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300), fs=st.floats(1e-3, 1e3))
def test_agreement_at_the_noise_level_passes_and_a_1e_4_bug_fails(seed, n, fs):
    r = np.random.default_rng(seed)
    g = r.standard_normal(n) * 10 ** r.uniform(-2, 1, n)
    noisy = g * (1 + 1e-8 * r.standard_normal(n)) + noise_floor("central", fs) * 0.5 * r.uniform(-1, 1, n)
    assert compare(noisy, g, method="central", f_scale=fs).ok
    j = int(np.argmax(np.abs(g)))
    assume(1e-4 * abs(g[j]) > 4 * float(noise_floor("central", fs)))  # else the model says: not resolvable
    bad = g.copy()
    bad[j] *= 1 + 1e-4
    c = compare(noisy, bad, method="central", f_scale=fs)
    assert not c.ok and c.worst_index == [j]


# ---------------------------------------------------------------- diagnoses on planted mutants


def scored_layer(seed: int = 0):
    """s = uᵀ tanh(W x): numeric-quality gradient ds/dW = δ xᵀ (square W), δ = u ∘ tanh′(W x)."""
    r = np.random.default_rng(seed)
    W, x, u = r.standard_normal((4, 4)), r.standard_normal((4, 1)), r.standard_normal((4, 1))
    z = W @ x
    return W, x, u, z, (u * (1 - np.tanh(z) ** 2)) @ x.T


def test_diagnose_sign_factor_zero_transposed_one_entry():
    *_, g = scored_layer()
    assert diagnose(g, g) is None
    assert diagnose(g, -g) == "sign flipped"
    assert diagnose(g, 2 * g) == "off by a factor of 2"
    assert diagnose(g, g / 2) == "off by a factor of ½"
    assert diagnose(g, -2 * g) == "sign flipped and off by a factor of 2"
    assert diagnose(g, 1.7 * g) == "off by a factor of 1.7"
    assert diagnose(g, np.zeros_like(g)) == "all zeros where the derivative is not"
    assert diagnose(g, g.T) == "transposed"
    one = g.copy()
    one[2, 1] *= 1 + 1e-4
    assert diagnose(g, one) == "one entry wrong"
    big = np.random.default_rng(9).standard_normal((6, 5))  # 30 entries: 1 outlier allowed in patterns
    one = big.copy()
    one[4, 2] *= 1 + 1e-4
    assert diagnose(big, one) == "one entry wrong"
    assert diagnose(g, g + np.random.default_rng(1).standard_normal(g.shape)) is None


def test_diagnose_shapes_vectors_are_not_mistakes():
    g = np.arange(1.0, 7.0).reshape(2, 3)
    assert diagnose(g, g.T) == "transposed"
    assert diagnose(g, np.ones((3, 2))) == "transposed shape"
    v = np.array([[1.0], [2.0], [3.0]])
    assert diagnose(v, v.ravel()) is None and diagnose(v, v.T) is None  # row vs column: the caller's business
    assert diagnose(v, -v.ravel()) == "sign flipped"


def test_diagnose_f_used_where_f_prime_belongs():
    _W, x, u, z, g = scored_layer(2)
    wrong = (u * np.tanh(z)) @ x.T  # f(z) in place of f′(z)
    alternatives = {"f used where f′ belongs": (u * np.tanh(z)) @ x.T}
    assert diagnose(g, wrong, alternatives=alternatives) == "f used where f′ belongs"
    assert diagnose(g, g, alternatives=alternatives) is None


def test_diagnose_summed_over_the_wrong_axis():
    delta = np.random.default_rng(3).standard_normal((5, 5))  # batch × units: db = Σₙ δ[n, :]
    db = delta.sum(axis=0)
    alternatives = wrong_axis_sums(delta, axis=0)
    assert diagnose(db, delta.sum(axis=1), alternatives=alternatives) == "summed over the wrong axis"
    assert diagnose(db, delta.sum(axis=1, keepdims=True), alternatives=alternatives) == "summed over the wrong axis"
    rect = np.random.default_rng(4).standard_normal((3, 5))  # shapes differ: still recognised
    assert diagnose(rect.sum(0), rect.sum(1), alternatives=wrong_axis_sums(rect, 0)) == "summed over the wrong axis"


def test_diagnose_a_term_is_missing():
    r = np.random.default_rng(5)
    A, x = r.standard_normal((4, 4)), r.standard_normal((4, 1))
    g = (A + A.T) @ x  # ∂(xᵀAx)/∂x
    assert diagnose(g, A @ x, terms={"Aᵀx": A.T @ x}) == "a term is missing (Aᵀx)"


def test_diagnose_ignores_unreliable_entries():
    *_, g = scored_layer(6)
    num = g.copy()
    num[0, 0] += 0.3  # say a kink disturbed this numeric value
    ignore = np.zeros(g.shape, dtype=bool)
    ignore[0, 0] = True
    assert diagnose(num, -g, ignore=ignore) == "sign flipped"
