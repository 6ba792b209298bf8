"""Golden derivations: `gradcheck derive` on tests/golden/<case>.grad, in every format.

Each case is named after the identity it pins (softmax_xent_p_minus_y: ∂J/∂θ =
p − y). Three checks per case:

- the text, LaTeX and JSON outputs equal <case>.txt / .tex / .json
  (`pytest --update-goldens` rewrites them; review the diff);
- the identity itself, as the text a textbook writes (IDENTITIES below), so a
  golden cannot be re-blessed into a different answer unnoticed;
- every derived gradient equals the entry-by-entry derivative exactly, at
  small sizes (gradcheck_cli.exact): the goldens are right, not just stable.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gradcheck_cli.derive import derive
from gradcheck_cli.exact import Exact, difference
from gradcheck_cli.ir import load
from gradcheck_cli.shapes import is_scalar

TESTS = Path(__file__).parent
ROOT = TESTS.parent
GOLDEN = TESTS / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.grad"))
FORMATS = {"text": ".txt", "latex": ".tex", "json": ".json"}
STEPS_CASES = ("mlp_tanh_delta", "shared_weights_rnn", "max_routes")

# What the lecture writes, as it must appear in `derive`'s text output.
IDENTITIES: dict[str, tuple[str, ...]] = {
    "mlp_tanh_delta": ("δ = u ∘ (1 − h²)", "∂s/∂W = δ xᵀ", "∂s/∂b = δ", "∂s/∂x = Wᵀ δ", "∂s/∂u = h",
                       "= uᵀ diag(1 − h²) W"),
    "softmax_xent_p_minus_y": ("δ = p − y", "∂J/∂W = δ xᵀ", "∂J/∂x = Wᵀ δ"),
    "quadratic_form_A_plus_AT": ("∂s/∂x = (A + Aᵀ) x", "∂s/∂A = x xᵀ", "∂s/∂S = v vᵀ"),
    "logdet_inv_T": ("∂s/∂X = X⁻ᵀ",),
    "batch_bias_sum": ("δ = 1 − H²", "∂s/∂W = δ Xᵀ", "∂s/∂b = sum(δ, axis=1)", "∂s/∂X = Wᵀ δ"),
    "concat_window": ("∂s/∂W = δ₂ xᵀ", "∂s/∂b = δ₂", "[0:d]", "[d:2d]", "[2d:3d]"),
    "two_layer_deltas": ("δ₂ = u ∘ h2 ∘ (1 − h2)", "δ₁ = (W2ᵀ δ₂) ∘ h1 ∘ (1 − h1)", "∂s/∂W2 = δ₂ h1ᵀ",
                         "∂s/∂W1 = δ₁ xᵀ", "∂s/∂b1 = δ₁", "∂s/∂b2 = δ₂"),
    "vector_output_jacobian": ("∂h/∂x = diag(1 − h²) W", "∂h/∂b = diag(1 − h²)", "skipped: ∂h/∂W is a 3-tensor"),
    "trace_of_product": ("∂s/∂A = Bᵀ", "∂s/∂B = Aᵀ"),
    "shared_weights_rnn": ("δ₂ = u ∘ (1 − h2²)", "δ₁ = (Wᵀ δ₂) ∘ (1 − h1²)", "∂s/∂W = δ₂ h1ᵀ + δ₁ h0ᵀ",
                           "∂s/∂U = δ₂ x2ᵀ + δ₁ x1ᵀ"),
    "max_routes": ("∂s/∂a = u ∘ step(a − c)", "∂s/∂c = u ∘ step(c − a)", "∂s/∂u = m"),
    "batchnorm_train": ("∂L/∂X = δ − sum(δ, axis=1) / B", "∂L/∂gamma = sum(R ∘ Xhat, axis=1)",
                        "∂L/∂beta = sum(R, axis=1)"),
    "batch_mean_squared_error": ("δ = (H − T) ∘ (1 − H²)", "∂L/∂W = δ Xᵀ / N", "∂L/∂b = sum(δ, axis=1) / N"),
    "norm_squared": ("∂s/∂W = 2 r xᵀ", "∂s/∂x = 2 Wᵀ r", "= [2 rᵀ] · [W] = 2 rᵀ W"),
}


def _derive(cli, case: str, *flags: str) -> str:  # type: ignore[no-untyped-def]
    r = cli("derive", f"tests/golden/{case}.grad", *flags)
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, fmt: str, cli, golden, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)  # the outputs name the file as given: tests/golden/<case>.grad
    golden(GOLDEN / f"{case}{FORMATS[fmt]}", _derive(cli, case, "--format", fmt))


@pytest.mark.parametrize("case", STEPS_CASES)
def test_golden_steps(case: str, cli, golden, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    golden(GOLDEN / f"{case}.steps.txt", _derive(cli, case, "--steps"))


def test_every_case_pins_an_identity() -> None:
    assert sorted(IDENTITIES) == CASES, "name the identity each golden case pins in IDENTITIES"


@pytest.mark.parametrize("case", CASES)
def test_identity(case: str, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    text = _derive(cli, case)
    for want in IDENTITIES.get(case, ()):
        assert want in text, f"{case}: expected `{want}` in\n{text}"


@pytest.mark.parametrize("case", CASES)
def test_golden_is_exact(case: str) -> None:
    """Every gradient of the case equals sympy's entry-by-entry derivative (2 x 3 sizes)."""
    graph = load(str(GOLDEN / f"{case}.grad"))
    d = derive(graph)
    ex = Exact(graph)
    scalar = is_scalar(graph.output.shape)
    for g in d.gradients:
        if scalar:
            ref = ex.gradient(g.wrt)
            assert g.shape_form is not None
            why = difference(g.shape_form, ref, graph)
            assert why is None, f"∂/∂{g.wrt} (shape convention): {why}"
            if g.jacobian is not None:
                vector = g.wrt_expr.shape[1].is_one and not is_scalar(g.wrt_expr.shape)
                why = difference(g.jacobian, ref.T if vector else ref, graph)
                assert why is None, f"∂/∂{g.wrt} (Jacobian form): {why}"
        elif g.jacobian is not None:
            why = difference(g.jacobian, ex.jacobian(g.wrt), graph)
            assert why is None, f"∂/∂{g.wrt} (Jacobian): {why}"
        else:
            assert g.skipped, f"∂/∂{g.wrt}: neither a Jacobian nor a reason to skip it"


@pytest.mark.parametrize("form,present,absent", [
    ("shape", "shape convention", "Jacobian form"),
    ("jacobian", "Jacobian form", "shape convention"),
])
def test_form_flag(form: str, present: str, absent: str, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    text = _derive(cli, "mlp_tanh_delta", "--form", form)
    assert present in text and absent not in text, text


def test_latex_goldens_compile(tmp_path: Path) -> None:
    """Every .tex golden is a fragment that compiles with amsmath (one document for all).

    With pdflatex installed (Debian: texlive-latex-base) the document is compiled;
    without it, the structural check of test_latex.py stands in, so the test never skips.
    """
    body = "\n".join((GOLDEN / f"{case}.tex").read_text(encoding="utf-8") for case in CASES)
    doc = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body + "\\end{document}\n"
    if shutil.which("pdflatex") is None:
        from test_latex import check_fragment

        assert check_fragment(body) == []
        return
    (tmp_path / "all.tex").write_text(doc, encoding="utf-8")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "all.tex"], check=False, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]


# ---------------------------------------------------------------- the bundled examples, in all formats

EXAMPLES = ROOT / "examples"
EXAMPLE_GOLDEN = GOLDEN / "examples"
EXAMPLE_CASES = sorted(p.stem for p in EXAMPLES.glob("*.grad"))
# what each example's comments promise, as derive's text must show it
EXAMPLE_IDENTITIES: dict[str, tuple[str, ...]] = {
    "batch": ("∂L/∂W = δ Xᵀ", "∂L/∂b = sum(δ, axis=1)"),
    "batchnorm": ("∂L/∂X = δ − sum(δ, axis=1) / B", "∂L/∂gamma = sum(R ∘ Xhat, axis=1)", "∂L/∂beta = sum(R, axis=1)"),
    "lstm": ("∂s/∂c_prev = dc ∘ f", "∂s/∂Wc = dg vᵀ", "∂s/∂bc = dg", "∂s/∂u = h"),
    "mlp": ("∂s/∂W = delta xᵀ", "∂s/∂b = delta", "∂s/∂x = Wᵀ delta", "= uᵀ diag(f′(z)) W"),
    "oneline": ("∂s/∂W = delta xᵀ", "∂s/∂b = delta", "∂s/∂x = Wᵀ delta", "∂s/∂u = tanh(W x + b)"),
    "rnn": ("∂s/∂W = delta3 h2ᵀ + delta2 h1ᵀ + delta1 h0ᵀ", "∂s/∂U = delta3 x3ᵀ + delta2 x2ᵀ + delta1 x1ᵀ"),
    "softmax_xent": ("δ = p − y", "∂J/∂W = δ xᵀ", "∂J/∂b = δ", "∂J/∂x = Wᵀ δ", "= [pᵀ − yᵀ] · [W] = (pᵀ − yᵀ) W"),
    "two_layer": ("∂J/∂W1 = δ xᵀ", "∂J/∂W2 = delta2 hᵀ", "∂J/∂b2 = delta2", "∂J/∂b2 = pᵀ − yᵀ"),
    "window_ner": ("δ = Wᵀ delta", "∂s/∂x1 = δ[0:d]", "∂s/∂x5 = δ[4d:5d]", "∂s/∂W = delta xᵀ"),
}


def test_every_example_pins_an_identity() -> None:
    assert sorted(EXAMPLE_IDENTITIES) == EXAMPLE_CASES, "name what each example's derivation must show"


@pytest.mark.parametrize("fmt", [*sorted(FORMATS), "steps"])
@pytest.mark.parametrize("case", EXAMPLE_CASES)
def test_example_golden(case: str, fmt: str, cli, golden, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    flags = ("--steps",) if fmt == "steps" else ("--format", fmt)
    r = cli("derive", f"examples/{case}.grad", *flags)
    assert r.exit_code == 0, r.output
    EXAMPLE_GOLDEN.mkdir(exist_ok=True)
    golden(EXAMPLE_GOLDEN / f"{case}{'.steps.txt' if fmt == 'steps' else FORMATS[fmt]}", r.stdout)


@pytest.mark.parametrize("case", EXAMPLE_CASES)
def test_example_identity(case: str, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    r = cli("derive", f"examples/{case}.grad")
    assert r.exit_code == 0, r.output
    for want in EXAMPLE_IDENTITIES[case]:
        assert want in r.stdout, f"{case}: expected `{want}` in\n{r.stdout}"
