"""Scalar and elementwise algebra through sympy (gradcheck_cli/derive/scalars.py), case by case."""

from __future__ import annotations

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.derive import scalars
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.derive.exact import Exact, difference
from gradcheck_cli.lang.graph import parse
from gradcheck_cli.symbolic.printing import to_dsl, to_text
from gradcheck_cli.shapes import Dim


def _grad(text: str, wrt: str) -> str:
    d = derive(parse(text))
    g = next(g for g in d.gradients if g.wrt == wrt)
    ex = Exact(d.graph)
    assert difference(g.shape_form, ex.gradient(wrt), d.graph) is None  # still exactly right
    return to_text(g.shape_form, d.names())


def test_coefficients_cancel() -> None:
    text = "dims n = 2, m = 3\nW : n x m\nlam : scalar const\ns = lam/2 * norm(W)^2\n"
    assert _grad(text, "W") == "lam W"  # was 2 ((lam / 2) ‖W‖ / ‖W‖) W


def test_sigmoid_and_scalar_coefficients_collect() -> None:
    text = "dims d = 3\nw : d\nx : d const\nt : scalar const\nJ = log(1 + exp(w^T x)) - t * w^T x\n"
    assert _grad(text, "w") == "(σ(wᵀ x) − t) x"


def test_common_elementwise_factor() -> None:
    text = ("dims n = 3\nh : n const\nhc : n const\nw : n\nz : n\nu = sigmoid(z)\n"
            "hn = (1 - u) * h + u * hc\ns = w^T hn\n")
    assert _grad(text, "z") == "w ∘ (hc − h) ∘ u ∘ (1 − u)"


def test_the_files_names_come_back() -> None:
    text = ("dims n = 3\nv : n\nR : n const\nistd = 1 / sqrt(v + 1e-5)\ns = sum(R * istd)\n")
    out = _grad(text, "v")
    assert "istd³" in out and "sqrt" not in out, out


def test_decimals_print_as_each_file_wrote_them() -> None:
    a = parse("dims n = 2\nx : n\ns = sum(sqrt(x^2 + 1e-5))\n")
    b = parse("dims n = 2\nx : n\ns = sum(sqrt(x^2 + 0.00001))\n")
    assert "1e-5" in to_dsl(a.values["s"]) and "0.00001" in to_dsl(b.values["s"])
    assert "1.0000" not in to_text(a.values["s"], {})


def test_a_centred_matrix_sums_to_zero() -> None:
    text = ("dims n = 2, B = 3\nX : n x B\nu : n\nXc = X - mean(X, axis=1)\n"
            "s = u^T sum(Xc * Xc, axis=1)\n")
    d = derive(parse(text))
    assert difference(d.gradients[0].shape_form, Exact(d.graph).gradient("X"), d.graph) is None


def test_sign_is_abs_prime() -> None:
    text = "dims n = 2, m = 3\nW : n x m\nlam : scalar const\ns = lam * sum(abs(W))\n"
    assert _grad(text, "W") == "lam sign(W)"


def test_symmetric_by_form() -> None:
    X = alg.var("X", (Dim.of("n"), Dim.of("k")))
    G = alg.matmul(alg.T(X), X)
    assert alg.symmetric_form(G) and alg.T(G) is G and alg.T(alg.inv(G)) is alg.inv(G)
    assert not alg.symmetric_form(alg.matmul(X, alg.T(alg.var("Y", X.shape))))


def test_no_context_no_rewrite() -> None:
    x = alg.var("x", (Dim.of("n"), Dim.of(1)))
    e = alg.div(alg.mul(x, x), x)
    assert scalars.tidy(e) is e  # outside a derivation tidy changes nothing
