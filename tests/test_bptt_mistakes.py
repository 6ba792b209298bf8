"""The usual mistakes of back-propagation through time, each caught with its own diagnosis (issue 10).

Mutations of the BPTT claims of examples/rnn.grad (a loss at every step) and
examples/rnn_last.grad (the loss at the end): only the last step's term, a missing
W_hhᵀ in the recursion, the recursion run forward, h_t for h_{t−1}. Each mutant must
fail verify on exactly the claims it breaks, and name the mistake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_cli.lang.graph import parse
from gradcheck_cli.numeric.bptt_mistakes import FORWARD, LAST_STEP, NO_TRANSPOSE, SHIFTED
from gradcheck_cli.numeric.verify import VerifyOptions, verify

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

RNN_SUM = "claim dL/dW_hh = sum(delta[t] h[t-1]^T for t = 1..T)"
RNN_REC = "  delta[t] = (W_hh^T delta[t+1] + W_hy^T (p[t] - y[t])) * (1 - h[t]^2)"
LAST_REC = "  delta[t] = (W_hh^T delta[t+1] + g[t]) * (1 - h[t]^2)"

# (example, [(line as written, mutant)], the claims that must fail, the diagnosis)
MUTANTS = {
    "rnn-last-step-only": ("rnn", [(RNN_SUM, "claim dL/dW_hh = delta[T] h[T-1]^T")], ["claim dL/dW_hh"], LAST_STEP),
    "rnn-h_t-for-h_t-1": ("rnn", [(RNN_SUM, "claim dL/dW_hh = sum(delta[t] h[t]^T for t = 1..T)")],
                          ["claim dL/dW_hh"], SHIFTED),
    "rnn-no-W_hh^T": ("rnn", [(RNN_REC, RNN_REC.replace("W_hh^T delta[t+1]", "delta[t+1]"))],
                      ["claim dL/dW_hh", "claim dL/dW_xh", "claim dL/db", "claim dL/dh[0]"], NO_TRANSPOSE.format(m="W_hh")),
    "rnn-forward": ("rnn", [(RNN_REC, RNN_REC.replace("delta[t+1]", "delta[t-1]")),
                            ("delta[T+1] = zeros(H)", "delta[0] = zeros(H)")],
                    ["claim dL/dW_hh", "claim dL/dW_xh", "claim dL/db", "claim dL/dh[0]"], FORWARD.format(name="delta")),
    "last-last-step-only": ("rnn_last", [("claim dL/dW_xh = sum(delta[t] x[t]^T for t = 1..T)",
                                          "claim dL/dW_xh = delta[T] x[T]^T")], ["claim dL/dW_xh"], LAST_STEP),
    "last-h_t-for-h_t-1": ("rnn_last", [("claim dL/dW_hh = sum(delta[t] h[t-1]^T for t = 1..T)",
                                         "claim dL/dW_hh = Σ_t delta[t] h[t]^T")], ["claim dL/dW_hh"], SHIFTED),
    "last-no-W_hh^T": ("rnn_last", [(LAST_REC, LAST_REC.replace("W_hh^T delta[t+1]", "delta[t+1]"))],
                       ["claim dL/dW_hh", "claim dL/dW_xh", "claim dL/db", "claim dL/dh[0]"], NO_TRANSPOSE.format(m="W_hh")),
    "last-forward": ("rnn_last", [(LAST_REC, LAST_REC.replace("delta[t+1]", "delta[t-1]")),
                                  ("delta[T+1] = zeros(H)", "delta[0] = zeros(H)")],
                     ["claim dL/dW_hh", "claim dL/dW_xh", "claim dL/db", "claim dL/dh[0]"], FORWARD.format(name="delta")),
}


def _mutant(stem: str, edits: list[tuple[str, str]]) -> str:
    lines = (EXAMPLES / f"{stem}.grad").read_text(encoding="utf-8").splitlines()
    for right, wrong in edits:
        hits = [i for i, line in enumerate(lines) if line.split("#")[0].rstrip() == right]
        assert len(hits) == 1, f"{right!r} is not one line of {stem}.grad"
        lines[hits[0]] = wrong
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", sorted(MUTANTS))
def test_bptt_mistake_is_caught_and_named(case: str) -> None:
    stem, edits, failing, diagnosis = MUTANTS[case]
    report = verify(parse(_mutant(stem, edits), f"{stem}.grad"), VerifyOptions())
    bad = {c.name: c for c in report.checks if not c.ok}
    assert sorted(bad) == sorted(failing), {n: c.message for n, c in bad.items()}
    for name in failing:
        if name == "claim dL/dh[0]":
            continue  # W_hhᵀ δ_1 of a wrong δ: it fails (above); its diagnosis is about the whole chain
        assert bad[name].diagnosis == diagnosis, (name, bad[name].diagnosis, bad[name].message)


@pytest.mark.parametrize("stem", ["rnn", "rnn_last"])
def test_the_examples_themselves_pass(stem: str) -> None:
    report = verify(parse((EXAMPLES / f"{stem}.grad").read_text(encoding="utf-8"), f"{stem}.grad"), VerifyOptions())
    assert report.ok, [(c.name, c.message) for c in report.checks if not c.ok]


def test_no_bptt_diagnosis_without_a_loop() -> None:
    from gradcheck_cli.numeric.bptt_mistakes import bptt_mistakes

    g = parse("dims n = 2\nW : n x n\nx : n\ns = sum(tanh(W x))\n")
    assert bptt_mistakes(g, "s", "W", g.output) == []
