"""Golden closed forms of loops (tests/golden/loops/<case>.txt/.tex/.json): what a student sees.

The cases are the notes' recurrent cells, built with the algebra (tests/loopkit.py) so that they
stand without the loop syntax; each golden was read, and each case's identities (as the notes
write them) are asserted on the text as well, so a golden cannot drift into another answer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gradcheck_cli.render import RENDERERS
from gradcheck_cli.symbolic import algebra as alg

from loopkit import Loop, closed_form
from test_loops_closed_form import LSTM_HEADER, RNN_HEADER, check, linear, lstm_cell, rnn_cell, xent

GOLDEN = Path(__file__).parent / "golden" / "loops"

GRU_HEADER = """dims H = 3, D = 2
W_z : H x H
W_r : H x H
W_h : H x H
U_z : H x D
U_r : H x D
U_h : H x D
u : H
"""


def gru_cell(P, prev, x):
    h = prev["h"]
    z = alg.fn("sigmoid", alg.add(alg.matmul(P["W_z"], h), alg.matmul(P["U_z"], x)))
    r = alg.fn("sigmoid", alg.add(alg.matmul(P["W_r"], h), alg.matmul(P["U_r"], x)))
    hh = alg.fn("tanh", alg.add(alg.matmul(P["W_h"], alg.mul(r, h)), alg.matmul(P["U_h"], x)))
    new = alg.add(alg.mul(alg.sub(alg.const(1), z), h), alg.mul(z, hh))
    return {"zg": z, "r": r, "hh": hh, "h": new}


CASES = {
    "rnn_sum": Loop(RNN_HEADER, rnn_cell(), xent, onehot=True),
    "rnn_last": Loop(RNN_HEADER, rnn_cell(), xent, onehot=True, kind="last"),
    "lstm_sum": Loop(LSTM_HEADER, lstm_cell, linear, carry=("h", "c")),
    "gru_last": Loop(GRU_HEADER, gru_cell, linear, kind="last"),
}

IDENTITIES = {
    "rnn_sum": ("loss  L = Σ_t J[t]", "δ[t] = (W_hyᵀ (p[t] − y[t]) + W_hhᵀ δ[t+1]) ∘ (1 − h[t]²)   for t = T, …, 1",
                "δ[T+1] = 0", "∂L/∂W_hh = Σ_t δ[t] h[t−1]ᵀ", "∂L/∂W_xh = Σ_t δ[t] x[t]ᵀ",
                "∂L/∂W_hy = Σ_t (p[t] − y[t]) h[t]ᵀ", "∂L/∂b = Σ_t δ[t]", "∂L/∂h[0] = W_hhᵀ δ[1]",
                "∂L/∂x[t] = W_xhᵀ δ[t]", "∂h[T]/∂h[k] = ∏_{t=k+1}^{T} diag(1 − h[t]²) W_hh"),
    "rnn_last": ("loss  L = J[T]", "δ[T] = (W_hyᵀ (p[T] − y[T])) ∘ (1 − h[T]²)",
                 "δ[t] = (W_hhᵀ δ[t+1]) ∘ (1 − h[t]²)   for t = T−1, …, 1", "∂L/∂W_hh = Σ_t δ[t] h[t−1]ᵀ",
                 "∂L/∂W_hy = (p[T] − y[T]) h[T]ᵀ"),
    "lstm_sum": ("dh[t] = u + δ_h[t+1]   for t = T, …, 1", "dc[t] = δ_c[t+1] + dh[t] ∘ o[t] ∘ (1 − tanh²(c[t]))",
                 "δ_c[t] = dc[t] ∘ f[t]   for t = T, …, 1", "δ_c[T+1] = 0", "∂L/∂c[0] = δ_c[1]", "∂L/∂h[0] = δ_h[1]",
                 "∂L/∂Wf = Σ_t (dc[t] ∘ c[t−1] ∘ f[t] ∘ (1 − f[t])) h[t−1]ᵀ", "∂c[T]/∂c[k] = ∏_{t=k+1}^{T} diag(f[t])"),
    "gru_last": ("dh[T] = u", "dh[t] = δ_h[t+1]   for t = T−1, …, 1", "∂L/∂h[0] = δ_h[1]",
                 "∂L/∂W_h = Σ_t (dh[t] ∘ zg[t] ∘ (1 − hh[t]²)) (r[t] ∘ h[t−1])ᵀ", "∂L/∂u = h[T]"),
}


def _outputs(case: str) -> dict[str, str]:
    d = closed_form(CASES[case])
    return {".txt": RENDERERS["text"](d, "both", False), ".tex": RENDERERS["latex"](d, "both", False),
            ".json": RENDERERS["json"](d, "both", False), ".steps.txt": RENDERERS["text"](d, "both", True)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loop_goldens(case: str, golden) -> None:  # type: ignore[no-untyped-def]
    out = _outputs(case)
    for ext, text in out.items():
        golden(GOLDEN / f"{case}{ext}", text)
    for identity in IDENTITIES[case]:
        assert identity in out[".txt"], f"{case}: {identity!r} not in\n{out['.txt']}"


@pytest.mark.parametrize("case", ["gru_last"])
def test_gru_closed_form_is_right(case: str) -> None:
    check(CASES[case], 3)
    check(Loop(GRU_HEADER, gru_cell, linear), 2)


def test_steps_show_one_step_and_say_it_repeats() -> None:
    text = _outputs("rnn_sum")[".steps.txt"]
    assert "one step's backward pass (step t; F_h = ∂L/∂h[t] through step t+1)" in text
    assert "it repeats for every t, from t = T down to t = 1" in text
    assert "→ h[t−1]:  local ∂(W_hh h[t−1])/∂(h[t−1]) = W_hh;  downstream W_hhᵀ δ[t]" in text
    assert text.count("upstream") < 20  # one step, not T of them


def test_json_keys_for_sums_and_recursions() -> None:
    j = json.loads(_outputs("rnn_sum")[".json"])
    (rec,) = j["recursions"]
    assert rec["name"] == "delta" and rec["of"] == "z[t]" and rec["for"] == {"var": "t", "start": "1", "stop": "T"}
    assert rec["boundary"] == [{"index": "T+1", "dsl": "zeros(H)", "text": "0", "latex": "0"}]
    w = next(g for g in j["gradients"] if g["wrt"] == "W_hh")
    assert w["shape_convention"]["dsl"] == "sum(delta[t] h[t-1]^T for t = 1..T)"
    assert w["shape_convention"]["latex"].startswith(r"\sum_{t=1}^{T} \boldsymbol{\delta}_{t} {\mathbf{h}_{t-1}}^\top")
    assert w["shape_convention"]["terms"][0]["kind"] == "sum"
    assert j["claims_dsl"].splitlines()[:3] == [
        "delta[T+1] = zeros(H)", "for t = 1..T:", "  delta[t] = (W_hy^T (p[t] - y[t]) + W_hh^T delta[t+1]) * (1 - h[t]^2)"]
    assert j["chains"][0]["dsl"] == "prod(diag(1 - h[t]^2) W_hh for t = k+1..T)"


def test_loop_latex_compiles(tmp_path: Path) -> None:
    """The .tex goldens compile with amsmath (pdflatex if installed, else the structural check)."""
    body = "\n".join((GOLDEN / f"{case}.tex").read_text(encoding="utf-8") for case in sorted(CASES))
    assert r"\sum_{t=1}^{T}" in body and r"\mathbf{h}_{t-1}" in body and r"\boldsymbol{\delta}_{t+1}" in body
    if shutil.which("pdflatex") is None:
        from test_latex import check_fragment

        assert check_fragment(body) == []
        return
    doc = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body + "\\end{document}\n"
    (tmp_path / "loops.tex").write_text(doc, encoding="utf-8")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "loops.tex"], check=False,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]
