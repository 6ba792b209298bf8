"""Every example file is real: it parses, `graph` shows it in each format,
`derive` derives it, and `verify` passes every claim in it.

The examples are the README's and the lecture's cases. Their claims are the
textbook answers; the table WRONG below holds the textbook *mistakes* for them
(a transposed gradient, a forgotten f′, a missing sum over the batch …), and
each must make `verify` fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradcheck_cli.lang.graph import load

EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.rglob("*.grad"))  # also examples/homework/: a handout, a submission, …
IDS = [str(p.relative_to(EXAMPLES_DIR)) for p in EXAMPLES]
# the lecture examples: their claims are the textbook answers and must all pass
# (a homework handout has TODO claims and a submission may be wrong on purpose)
TOP = sorted(EXAMPLES_DIR.glob("*.grad"))
TOP_IDS = [p.name for p in TOP]
# files with a `for` loop: `gradcheck derive` prints them in closed form (one generic step, tested below)
# and `verify` checks them unrolled
LOOPS = [p for p in EXAMPLES if load(str(p)).loop is not None]
DERIVED = [p for p in EXAMPLES if p not in LOOPS]
DERIVED_IDS = [str(p.relative_to(EXAMPLES_DIR)) for p in DERIVED]
LECTURE = ["mlp", "oneline", "softmax_xent", "window_ner", "two_layer", "batch", "rnn", "lstm", "batchnorm"]


def test_the_lecture_examples_exist() -> None:
    assert {p.stem for p in EXAMPLES_DIR.glob("*.grad")} >= set(LECTURE)


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_example_parses_and_is_commented(path: Path) -> None:
    graph = load(str(path))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), "each example starts with a comment saying what it is"
    assert graph.output_name in graph.values
    assert graph.params(), "an example has something to differentiate"


@pytest.mark.parametrize("path", TOP, ids=TOP_IDS)
def test_lecture_example_claims_are_well_formed(path: Path) -> None:
    graph = load(str(path))
    assert graph.claims, "a lecture example states the textbook answer as claims"
    for claim in graph.claims:
        assert claim.error is None, f"{claim.name} (line {claim.line}): {claim.error}"


@pytest.mark.parametrize("fmt", ["text", "dot", "mermaid"])
@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_graph_shows_example(path: Path, fmt: str, cli: Callable[..., Any]) -> None:
    r = cli("graph", path, "--format", fmt)
    assert r.exit_code == 0, r.output
    graph = load(str(path))
    from gradcheck_cli.render.graph import loop_step

    step = loop_step(graph)  # a loop is shown as its one generic step: its variables are x[t], h[t-1]
    if fmt == "text":
        assert r.stdout.rstrip().endswith(f"output {graph.output_name}")
        for name in (step.graph if step is not None else graph).variables:
            assert f"input {name}:" in r.stdout
    elif fmt == "dot":
        assert r.stdout.startswith("digraph")
        assert r.stdout.rstrip().endswith("}")
    else:
        assert r.stdout.startswith("flowchart")


def test_the_sequence_examples_are_loops() -> None:
    assert {p.stem for p in LOOPS} == {"rnn", "rnn_last", "lstm_seq", "gru_seq", "flow_relu_rnn"}


@pytest.mark.parametrize("path", LOOPS, ids=[p.name for p in LOOPS])
def test_derive_of_a_loop_example_keeps_the_loop(path: Path, cli: Callable[..., Any]) -> None:
    r = cli("derive", path)
    assert r.exit_code == 0, r.output
    assert "back-propagation through time, derived on one generic step" in r.stdout
    graph = load(str(path))
    for name in graph.params():
        if "[" not in name or name.endswith("[0]"):  # shared parameters and initial states: one line each
            assert f"∂{graph.output_name}/∂{name}" in r.stdout, name
    assert "[1]" not in r.stdout.replace("δ[1]", "").replace("_h[1]", "").replace("_c[1]", ""), "no unrolled step"


@pytest.mark.parametrize("path", DERIVED, ids=DERIVED_IDS)
def test_derive_example(path: Path, cli: Callable[..., Any]) -> None:
    r = cli("derive", path)
    assert r.exit_code == 0, r.output
    graph = load(str(path))
    for name in graph.params():
        assert f"∂{graph.output_name}/∂{name}" in r.stdout, name


@pytest.mark.parametrize("path", DERIVED, ids=DERIVED_IDS)
def test_derive_json_lists_every_parameter(path: Path, cli: Callable[..., Any]) -> None:
    r = cli("derive", path, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    graph = load(str(path))
    assert data["output"] == graph.output_name
    assert [g["wrt"] for g in data["gradients"]] == graph.params()


@pytest.mark.parametrize("path", TOP, ids=TOP_IDS)
def test_verify_example(path: Path, cli: Callable[..., Any]) -> None:
    r = cli("verify", path, "--format", "json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    failed = [c["name"] for c in report["checks"] if not c["ok"]]
    assert not failed, failed
    claims = [c for c in report["checks"] if c["kind"] == "claim"]
    assert len(claims) == len(load(str(path)).claims)


def test_window_claim_uses_what_derive_prints(cli: Callable[..., Any]) -> None:
    """The window example's per-word claims are in the form `derive` prints them."""
    r = cli("derive", EXAMPLES_DIR / "window_ner.grad", "--format", "json", "--wrt", "x1")
    assert r.exit_code == 0, r.output
    (grad,) = json.loads(r.stdout)["gradients"]
    assert grad["shape_convention"]["dsl"].startswith("rows(W^T ")
    assert grad["shape_convention"]["dsl"].endswith(", 0, d)")


# ---------------------------------------------------------------- textbook mistakes must fail

WRONG: dict[str, list[tuple[str, str]]] = {
    "mlp": [
        ("claim ds/dW = delta x^T", "claim ds/dW = x delta^T"),            # transposed
        ("claim ds/dx = W^T delta", "claim ds/dx = W^T u"),                # forgot f'
        ("claim ds/du = h", "claim ds/du = f'(z)"),
    ],
    "oneline": [
        ("claim ds/db = delta", "claim ds/db = u * tanh(W x + b)"),        # f instead of f'
    ],
    "softmax_xent": [
        ("claim dJ/dW = (p - y) x^T", "claim dJ/dW = (y - p) x^T"),        # sign
        ("claim dJ/dx = W^T (p - y)", "claim dJ/dx = W^T p"),
    ],
    "window_ner": [
        ("claim ds/dx3 = rows(W^T delta, 2*d, 3*d)", "claim ds/dx3 = rows(W^T delta, d, 2*d)"),  # wrong word
        ("claim ds/dx = W^T delta", "claim ds/dx = W^T u"),
    ],
    "two_layer": [
        ("claim dJ/dW1 = delta1 x^T", "claim dJ/dW1 = (W2^T delta2) x^T"),  # forgot σ'
        ("claim dJ/dW2 = delta2 h^T", "claim dJ/dW2 = (p - y) x^T + 0 * delta2 h^T"),
    ],
    "batch": [
        ("claim dL/db = sum(E, axis=1)", "claim dL/db = sum(E, axis=1) * B"),  # not averaged
        ("claim dL/dW = E X^T", "claim dL/dW = (H - T) X^T / B"),              # forgot tanh'
    ],
    "rnn": [
        ("claim dL/dW_hh = sum(delta[t] h[t-1]^T for t = 1..T)", "claim dL/dW_hh = delta[T] h[T-1]^T"),  # only the last step
        ("claim dL/dh[0] = W_hh^T delta[1]", "claim dL/dh[0] = W_hh delta[1]"),
        ("claim dL/dW_hy = Σ_t (p[t] - y[t]) h[t]^T", "claim dL/dW_hy = Σ_t (p[t] - y[t]) h[t-1]^T"),
    ],
    "rnn_last": [
        ("claim dL/dW_xh = sum(delta[t] x[t]^T for t = 1..T)", "claim dL/dW_xh = sum(g[t] x[t]^T for t = 1..T)"),  # forgot tanh'
        ("claim dL/dW_hy = (p - y) h[T]^T", "claim dL/dW_hy = (p - y) h[T-1]^T"),
    ],
    "lstm_seq": [
        ("claim ds/dc[0] = fc[1]", "claim ds/dc[0] = dc[1]"),                   # forgot the forget gate
        ("claim ds/dWf = sum(df[t] v[t]^T for t = 1..T)", "claim ds/dWf = df[T] v[T]^T"),
    ],
    "gru_seq": [
        ("claim ds/dU_h = sum(a[t] (r[t] * h[t-1])^T for t = 1..T)", "claim ds/dU_h = sum(a[t] h[t-1]^T for t = 1..T)"),  # forgot r
        ("claim ds/dh[0] = dh[0]", "claim ds/dh[0] = dh[1]"),
    ],
    "lstm": [
        ("claim ds/dc_prev = dc * f", "claim ds/dc_prev = dc"),           # forgot the forget gate
        ("claim ds/dWo = do v^T", "claim ds/dWo = (u * tanh(c)) v^T"),
    ],
    "batchnorm": [
        ("claim dL/dgamma = sum(R * Xhat, axis=1)", "claim dL/dgamma = sum(R, axis=1)"),
        ("claim dL/dX = (gamma / std) * (R - mean(R, axis=1) - Xhat * mean(R * Xhat, axis=1))",
         "claim dL/dX = (gamma / std) * R"),                                 # ignores the batch statistics
    ],
}


@pytest.mark.parametrize("stem,right,wrong", [
    pytest.param(s, r, w, id=f"{s}-{k}") for s, pairs in sorted(WRONG.items()) for k, (r, w) in enumerate(pairs)
])
def test_textbook_mistakes_fail(stem: str, right: str, wrong: str, cli: Callable[..., Any], tmp_path: Path) -> None:
    text = (EXAMPLES_DIR / f"{stem}.grad").read_text(encoding="utf-8")
    lines = text.splitlines()
    hits = [i for i, line in enumerate(lines) if line.split("#")[0].strip() == right]
    assert len(hits) == 1, f"{right!r} is not a line of {stem}.grad"
    lines[hits[0]] = wrong
    bad = tmp_path / f"{stem}.grad"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = cli("verify", bad, "--format", "json")
    assert r.exit_code == 1, r.output
    report = json.loads(r.stdout)
    failed = [(c["name"], c.get("line")) for c in report["checks"] if not c["ok"]]
    claim = "claim " + wrong.split("=")[0].split()[1]
    assert failed == [(claim, hits[0] + 1)], failed
