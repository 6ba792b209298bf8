"""CS231n's row convention: softmax/log_softmax/logsumexp over rows (`axis=1`) and one-hot batches.

A batch holds one example per row (X : N x D), labels are one-hot rows
(Y : N x onehot(C)) or, in the column convention, one-hot columns
(Y : onehot(C) x N). `softmax(S, axis=1)` normalises each row; it is the
column rule applied to Sᵀ, so derive, verify and the exact check share the
column rule's code, and the printer writes it back as `axis=1`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.lang.graph import parse
from gradcheck_cli.numeric.evaluate import Context, evaluate, sample_inputs
from gradcheck_cli.symbolic.printing import to_dsl, to_text
from gradcheck_cli.shapes import shape_str, using
from gradcheck_cli.numeric.verify import VerifyOptions, verify

HEAD = "dims N = 4, C = 3\nS : N x C\n"


def _value(text: str, name: str, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    g = parse(text)
    values = sample_inputs(g, np.random.default_rng(seed))
    return evaluate(g.values[name], Context(g, values)), values


def _softmax_rows(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("expr, want", [
    ("softmax(S, axis=1)", lambda s: _softmax_rows(s)),
    ("log_softmax(S, axis=1)", lambda s: np.log(_softmax_rows(s))),
    ("logsumexp(S, axis=1)", lambda s: np.log(np.exp(s).sum(axis=1, keepdims=True))),
    ("softmax(S, axis=0)", lambda s: _softmax_rows(s.T).T),
    ("logsumexp(S, axis=0)", lambda s: np.log(np.exp(s).sum(axis=0, keepdims=True))),
    ("logsumexp(S)", lambda s: np.log(np.exp(s).sum(axis=0, keepdims=True))),
])
def test_axis_is_numpys(expr: str, want) -> None:  # type: ignore[no-untyped-def]
    got, values = _value(HEAD + f"t = {expr}\ns = sum(t)\n", "t")
    np.testing.assert_allclose(got, want(values["S"]), rtol=1e-12)


def test_axis_shapes_and_default() -> None:
    g = parse(HEAD + "p = softmax(S, axis=1)\nl = logsumexp(S, axis=1)\nq = softmax(S)\nr = softmax(S, axis=0)\n"
                     "s = sum(p) + sum(l) + sum(q) + sum(r)\n")
    with using(g.env):
        assert shape_str(g.values["p"].shape) == "N×C"
        assert shape_str(g.values["l"].shape) == "N×1"  # one per row, as numpy's keepdims
        assert g.values["q"] is g.values["r"]  # axis=0 is the default: over each column


@pytest.mark.parametrize("body, message", [
    ("softmax(S, axis=2)", "axis must be 0"),
    ("softmax(S, dim=1)", "softmax has no argument dim="),
    ("log_softmax(S, axis=x)", "axis must be 0"),
])
def test_bad_axis_is_a_clear_error(body: str, message: str) -> None:
    with pytest.raises(GradcheckError) as e:
        parse(HEAD + "x : C\n" + f"s = sum({body})\n")
    assert message in e.value.message and e.value.span is not None


@pytest.mark.parametrize("expr", ["softmax(S, axis=1)", "log_softmax(S, axis=1)", "logsumexp(S, axis=1)"])
def test_axis_1_prints_back_as_written(expr: str) -> None:
    g = parse(HEAD + f"s = sum({expr})\n")
    with using(g.env):
        assert to_dsl(g.output) == f"sum({expr})"
        assert to_text(g.output) == f"sum({expr})"


# ---------------------------------------------------------------- one-hot batches

ROWS = "dims N = 5, C = 4, D = 3\nX : N x D const\nW : D x C\nb : 1 x C\nY : N x onehot(C)\n"
COLS = "dims N = 5, C = 4, D = 3\nX : D x N const\nW : C x D\nb : C\nY : onehot(C) x N\n"


@pytest.mark.parametrize("head, shape, axis", [(ROWS, (5, 4), 1), (COLS, (4, 5), 0)])
def test_one_hot_batches_are_declared_and_sampled(head: str, shape: tuple[int, int], axis: int) -> None:
    g = parse(head + "s = sum(W)\n")
    y = g.variables["Y"]
    assert y.is_data and "Y" not in g.params()
    for seed in range(5):
        v = sample_inputs(g, np.random.default_rng(seed))["Y"]
        assert v.shape == shape and set(np.unique(v)) <= {0.0, 1.0}
        np.testing.assert_array_equal(v.sum(axis=axis), np.ones(shape[1 - axis]))  # one 1 per example


def test_one_hot_sums_are_known_to_derive() -> None:
    """derive's algebra (not the file's own lines, which stay as written) knows a one-hot sums to 1."""
    from gradcheck_cli.symbolic import algebra as alg

    g = parse(ROWS + "s = sum(W)\n")
    y = g.variables["Y"].expr
    with using(g.env):
        assert to_dsl(alg.sum_(y, 1)) == "ones(N)"
        assert to_dsl(alg.sum_(alg.T(y), 0)) == "ones(1, N)"
        assert to_dsl(alg.sum_(y, None)) == "N"
        assert to_dsl(alg.sum_(y, 0)) == "sum(Y, axis=0)"  # the class counts: not known
    g = parse(COLS + "s = sum(W)\n")
    y = g.variables["Y"].expr
    with using(g.env):
        assert to_dsl(alg.sum_(y, 0)) == "ones(1, N)"
        assert to_dsl(alg.sum_(y, 1)) == "sum(Y, axis=1)"


@pytest.mark.parametrize("head, loss, dS, dW, db", [
    (ROWS, "S = X W + b\nP = softmax(S, axis=1)\nL = -sum(Y * log(P)) / N\n",
     "δ = P − Y", "∂L/∂W = Xᵀ δ / N", "∂L/∂b = sum(δ, axis=0) / N"),
    (COLS, "S = W X + b\nP = softmax(S)\nL = -sum(Y * log(P)) / N\n",
     "δ = P − Y", "∂L/∂W = δ Xᵀ / N", "∂L/∂b = sum(δ, axis=1) / N"),
])
def test_batch_softmax_loss_derives_p_minus_y(head: str, loss: str, dS: str, dW: str, db: str, cli,
                                              tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "loss.grad"
    p.write_text(head + loss)
    r = cli("derive", p)
    assert r.exit_code == 0, r.output
    for want in (dS, dW, db):
        assert want in r.stdout, f"expected {want!r} in\n{r.stdout}"
    assert verify(parse(head + loss), VerifyOptions()).ok


@pytest.mark.parametrize("claim, ok", [
    ("(P - Y) / N", True),
    ("(softmax(S, axis=1) - Y) / N", True),
    ("P - Y", False),                 # the batch mean's 1/N forgotten
    ("(P - Y)^T / N", False),         # not even the right shape
    ("(softmax(S) - Y) / N", False),  # softmax over the wrong axis
])
def test_claims_about_the_row_softmax_loss(claim: str, ok: bool) -> None:
    text = ROWS + "S = X W + b\nP = softmax(S, axis=1)\nL = -sum(Y * log(P)) / N\n" + f"claim dL/dS = {claim}\n"
    rep = verify(parse(text), VerifyOptions())
    c = next(c for c in rep.checks if c.kind == "claim")
    assert c.ok is ok, c.message


def test_row_softmax_loss_gradient_reads_back_as_written() -> None:
    g = parse(ROWS + "S = X W + b\nP = softmax(S, axis=1)\nL = -sum(Y * log(P)) / N\n")
    with using(g.env):
        grads = {gr.wrt: to_dsl(gr.shape_form, g.names()) for gr in derive(g).gradients}
    assert grads == {"W": "X^T (P - Y) / N", "b": "sum(P - Y, axis=0) / N"}


@pytest.mark.parametrize("decl, col", [("Y : N x C onehot", 11), ("Y : onehot(N, C)", 13)])
def test_other_one_hot_batch_spellings_get_a_hint(decl: str, col: int) -> None:
    with pytest.raises(GradcheckError) as e:
        parse(f"dims N = 3, C = 4\n{decl}\nS : N x C\ns = sum(S * Y)\n")
    err = e.value
    assert err.kind == "syntax" and err.span is not None and (err.span.line, err.span.column) == (2, col)
    assert err.hint is not None and "Y : N x onehot(C)" in err.hint and "Y : onehot(C) x N" in err.hint
