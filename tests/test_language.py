"""The notation of the slides and of derive's own output, as input (DSL.md's readback table).

Each construct is checked by value: the file written with it and the same file
written the long way evaluate to the same thing at the same random point.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.lang.graph import parse
from gradcheck_cli.numeric.evaluate import Context, evaluate, sample_inputs
from gradcheck_cli.render.latex import render_latex
from gradcheck_cli.numeric.verify import verify

ROOT = Path(__file__).parent.parent
DECLS = ("dims n = 3, m = 4, d = 2\nW : n x m\nA : n x n\nB : m x n\nW1 : n x d\nW2 : n x d\nx : m\nv : n\n"
         "g : 5d\nf : function\nf = tanh\n")


def _value(expr: str, seed: int = 0) -> np.ndarray:
    graph = parse(DECLS + f"s = {expr}\n")
    ctx = Context(graph, sample_inputs(graph, np.random.default_rng(seed)), {})
    return evaluate(graph.output, ctx)


@pytest.mark.parametrize("new, old", [
    ("f′(W x)", "f'(W x)"),
    ("σ′(W x)", "sigmoid'(W x)"),
    ("relu′(W x)", "relu'(W x)"),
    ("tanh²(W x)", "tanh(W x)^2"),
    ("‖x‖", "norm(x)"),
    ("‖W‖²", "norm(W)^2"),
    ("||x||^2", "norm(x)^2"),
    ("‖W‖_F", "norm(W)"),
    ("||W||_F + 1", "norm(W) + 1"),
    ("|W x|", "abs(W x)"),
    ("|v| ∘ ‖x‖", "abs(v) * norm(x)"),
    ("W · x", "W @ x"),
    ("vᵀ · W · x", "v^T @ W @ x"),
    ("[W1, W2]", "concat(W1^T, W2^T)^T"),
    ("[W1, W2; W1, W2]", "[[W1, W2]; [W1, W2]]"),
    ("g[0:d]", "rows(g, 0, d)"),
    ("g[2d:3d]", "rows(g, 2*d, 3*d)"),
    ("(W x)[1:n]", "rows(W x, 1, n)"),
    ("𝟏ᵀ x", "ones(m)^T x"),
    ("W 𝟏", "W ones(m)"),
    ("𝟏(n×m) x", "ones(n, m) x"),
    ("A + I", "A + eye(n)"),
    ("[vᵀ] · [I]", "v^T eye(n)"),
    ("x (W x)ᵀ", "x @ (W x)^T"),             # the postfix binds tightest: x ((W x)ᵀ)
    ("B (v)ᵀ", "B^T v"),                        # no: B (vᵀ) is m×n times 1×n …
])
def test_printed_notation_means_the_long_form(new: str, old: str) -> None:
    if new == "B (v)ᵀ":  # … which is a shape error, not B v transposed
        with pytest.raises(GradcheckError, match="cannot multiply"):
            _value(new)
        return
    np.testing.assert_allclose(_value(new), _value(old), rtol=1e-12, atol=1e-12)


def test_the_dot_is_the_matrix_product_not_elementwise() -> None:
    """`u · tanh(Wx+b)` with two column vectors was an n×1 Hadamard product; now it does not fit."""
    with pytest.raises(GradcheckError, match="cannot multiply"):
        _value("v · tanh(W x)")
    assert _value("vᵀ · tanh(W x)").shape == (1, 1)


def test_subscripted_names_are_the_digit_names() -> None:
    text = DECLS + "δ₂ = 2 g[0:d]\ns = sum(W₁ δ₂)\nclaim ds/dW₁ = 𝟏(n×1) δ₂ᵀ\noutput s\n"
    graph = parse(text)
    assert "δ2" in graph.values and graph.claims[0].den == "W1"
    assert verify(graph).ok


@pytest.mark.parametrize("shape, rows, cols", [("n x 5d", 3, 10), ("n x 2n + 1", 3, 7), ("(n, 2d)", 3, 4),
                                               ("n × 3", 3, 3), ("3x4", 3, 4)])
def test_a_number_next_to_a_dimension_is_a_product(shape: str, rows: int, cols: int) -> None:
    graph = parse(f"dims n = 3, d = 2\nM : {shape}\ns = sum(M)\n")
    assert graph.env.concrete(graph.variables["M"].expr.shape) == (rows, cols)


def test_word2vec_claim_with_a_transposed_difference_passes() -> None:
    """CS224n a2: dJ/dU = v (ŷ − y)ᵀ, with U : d x V (the issue's first report)."""
    text = ("dims d = 3, V = 5\nU : d x V\nv : d\ny : onehot(V)\nyhat = softmax(U^T v)\nJ = cross_entropy(y, yhat)\n"
            "claim dJ/dU = v (yhat - y)^T\nclaim dJ/dv = U (yhat - y)\n")
    assert verify(parse(text)).ok


# ---------------------------------------------------------------- did-you-mean


@pytest.mark.parametrize("call, hint", [("ReLU(z)", "relu"), ("trace(A)", "tr"), ("softMax(z)", "softmax"),
                                        ("Tanh(z)", "tanh"), ("ln(z)", "log"), ("sigmod(z)", "sigmoid")])
def test_near_miss_function_names_get_a_hint(call: str, hint: str, tmp_path: Path) -> None:
    f = tmp_path / "near.grad"
    f.write_text(f"A : n x n\nz : n\ns = sum({call})\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "gradcheck_cli", "derive", str(f)], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert f"did you mean `{hint}`?" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_near_miss_inside_a_claim_fails_that_claim_with_the_hint() -> None:
    graph = parse("z : n\np = softmax(z)\ns = sum(p)\nclaim ds/dz = ReLU(z)\n")
    report = verify(graph)
    bad = [c for c in report.checks if c.kind == "claim"][0]
    assert not bad.ok and "did you mean `relu`?" in bad.message


# ---------------------------------------------------------------- the output


def test_a_claims_numerator_may_be_the_output() -> None:
    graph = parse("z : n\np = softmax(z)\nclaim dp/dz = diag(p) - p p^T\n")
    assert graph.output_name == "p" and graph.output_note is None
    assert verify(graph).ok


def test_an_inferred_output_is_named_when_another_assignment_is_unused() -> None:
    text = "\n".join(line for line in (ROOT / "examples/mlp.grad").read_text().splitlines()
                     if not line.startswith("claim")) + "\n"
    graph = parse(text)
    assert graph.output_name == "delta"
    assert graph.output_note is not None and "delta" in graph.output_note and "s (line" in graph.output_note
    assert "output NAME" in graph.output_note
    assert graph.output_note in verify(graph).notes
    assert parse(text + "output s\n").output_note is None
    assert parse((ROOT / "examples/mlp.grad").read_text()).output_note is None  # the claims use delta


def test_impl_on_an_inferred_vector_output_is_a_usage_error_not_a_crash(tmp_path: Path) -> None:
    text = "\n".join(line for line in (ROOT / "examples/mlp.grad").read_text().splitlines()
                     if not line.startswith("claim")) + "\n"
    (tmp_path / "m.grad").write_text(text, encoding="utf-8")
    (tmp_path / "hw.py").write_text(
        "import numpy as np\n"
        "def fb(W, x, b, u):\n"
        "    h = np.tanh(W @ x + b)\n"
        "    d = u * (1 - h**2)\n"
        "    return float(u @ h), {'W': np.outer(d, x), 'x': W.T @ d, 'b': d, 'u': h}\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "gradcheck_cli", "verify", str(tmp_path / "m.grad"), "--impl",
                        f"{tmp_path / 'hw.py'}:fb", "--bind", "f=tanh"], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "scalar" in r.stderr and "output delta" in r.stderr and "internal error" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "gradcheck_cli", "derive", str(tmp_path / "m.grad")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "note: the output is delta" in r.stderr


def test_debug_is_accepted_after_the_subcommand(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "gradcheck_cli", "verify", str(ROOT / "examples/mlp.grad"), "--debug",
                        "--bind", "f=tanh"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- δ names


def test_error_signals_never_print_like_the_files_names() -> None:
    """The window classifier defines delta (LaTeX δ): derive's own signal is δ₁, not a second δ."""
    graph = parse((ROOT / "examples/window_ner.grad").read_text(), "examples/window_ner.grad")
    d = derive(graph)
    names = [n for n, _ in d.signal_exprs]
    assert names and "δ" not in names
    tex = render_latex(d, "both", False)
    defined = [line.split("&=")[0].strip() for line in tex.splitlines() if "&=" in line]
    defined = [lhs for lhs in defined if not lhs.startswith(r"\frac")]  # the gradients (shown in two forms)
    assert r"\boldsymbol{\delta}" in defined and r"\boldsymbol{\delta}_{1}" in defined
    assert len(defined) == len(set(defined)), defined


def test_signal_names_skip_every_taken_subscript() -> None:
    """Two signals (δ₁, δ₂ in the golden) in a file that has its own delta1: they become δ₂ and δ₃."""
    text = (ROOT / "tests/golden/two_layer_deltas.grad").read_text() + "delta1 = u\noutput s\n"
    d = derive(parse(text))
    assert sorted(n for n, _ in d.signal_exprs) == ["δ₂", "δ₃"]
