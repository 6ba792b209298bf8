"""A sequence checked as one value (numeric/sequence_check.py), and claims about every step.

verify reads a loop at the T of `dims`; the steps x[1..T] of a sequence variable are one check,
∂L/∂x[t], as derive prints them, and a claim inside `for t = a..b:` is one claim about every step.
The stacked function must give the same numbers as perturbing each step on its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.lang.graph import parse
from gradcheck_cli.numeric import checker, sequence_check
from gradcheck_cli.numeric.evaluate import Context, Function, evaluate, sample_inputs
from gradcheck_cli.numeric.sequence_check import SequenceFunction, Steps, evaluate_all, stacked
from gradcheck_cli.numeric.verify import VerifyOptions, verify
from gradcheck_cli.shapes import using



RNN = Path(__file__).resolve().parent / "data" / "loops" / "rnn_sum.grad"  # x[t] a variable, a loss at every step


def rnn_text(T: int) -> str:
    return RNN.read_text(encoding="utf-8").replace("T = 4", f"T = {T}")


def _graph(T: int, extra: str = "") -> object:
    return parse(rnn_text(T) + extra, "rnn.grad")


def _ctx(g: object, seed: int = 0) -> Context:
    return Context(g, sample_inputs(g, np.random.default_rng(seed)))  # type: ignore[arg-type]


def _steps(g: object, base: str, T: int) -> Steps:
    names = [f"{base}[{k}]" for k in range(1, T + 1)]
    exprs = [g.variables[n].expr if n in g.variables else g.values[n] for n in names]  # type: ignore[attr-defined]
    return Steps(base, tuple(range(1, T + 1)), tuple(exprs))


@pytest.mark.parametrize("T", [3, 8])
def test_a_sequence_variable_is_one_derived_check(T: int) -> None:
    rep = verify(_graph(T), VerifyOptions(trials=1))
    names = [c.name for c in rep.checks]
    assert names == ["derived dL/dW_hh", "derived dL/dW_xh", "derived dL/dW_hy", "derived dL/db",
                     "derived dL/dx[t]", "derived dL/dh[0]"], names
    x = next(c for c in rep.checks if c.name == "derived dL/dx[t]")
    assert x.ok and x.wrt == "x[t]" and x.mode == "full" and x.message == f"all {3 * T} entries agree"


@pytest.mark.parametrize("base", ["x", "h"])
def test_the_stack_gives_what_each_step_alone_gives(base: str) -> None:
    """Every entry of every step, perturbed in one stack, against one `Function` per step: for a
    variable (x) and for an intermediate (h, whose later steps are recomputed from the moved one)."""
    T = 5
    g = _graph(T)
    ctx = _ctx(g)
    root = g.values["L"]  # type: ignore[attr-defined]
    with using(g.env):  # type: ignore[attr-defined]
        seq = SequenceFunction(root, _steps(g, base, T), ctx)
        assert seq.x0.shape == (T, 4 if base == "h" else 3)
        assert np.isclose(seq.scalar(seq.x0), float(evaluate(root, ctx).item()))
        flat = np.arange(seq.x0.size)
        vals = seq.x0.reshape(-1) + 1e-20j
        stacked_out = seq.entries(flat, vals)
        for k, e in enumerate(seq.steps.elems):
            one = Function(root, e, ctx)
            n = seq.x0.shape[1]
            alone = one.entries(np.arange(n), one.x0.reshape(-1) + 1e-20j)
            assert np.allclose(stacked_out[k * n:(k + 1) * n].imag, alone.imag, rtol=1e-12, atol=1e-40)


def test_a_long_sequence_holds_a_few_steps_at_a_time() -> None:
    """A stack of perturbed points keeps each value only until its last reader has run: the memory
    of one point does not grow with T the way the whole unrolled graph does."""
    sizes = {}
    for T in (20, 80):
        g = _graph(T)
        ctx = _ctx(g)
        with using(g.env):  # type: ignore[attr-defined]
            sizes[T] = SequenceFunction(g.values["L"], _steps(g, "x", T), ctx).bytes_per_point  # type: ignore[attr-defined]
            whole = Function(g.values["L"], g.variables["x[1]"].expr, ctx).bytes_per_point  # type: ignore[attr-defined]
    assert sizes[80] < 1.5 * sizes[20], sizes
    assert sizes[80] * 10 < whole, (sizes, whole)


def test_one_wrong_entry_of_one_step_is_found_and_named() -> None:
    T = 6
    g = _graph(T)
    ctx = _ctx(g)
    from gradcheck_cli.derive.reverse import derive

    d = derive(g, unrolled=True)  # type: ignore[arg-type]
    by = {gr.wrt: gr.shape_form for gr in d.gradients}
    d_exprs = [by[f"x[{k}]"] for k in range(1, T + 1)]
    with using(g.env):  # type: ignore[attr-defined]
        right = stacked(evaluate_all(d_exprs, ctx))
        wrong = right.copy()
        wrong[3, 1] += 1e-3 * (1 + abs(wrong[3, 1]))
        for mode in ("full", "sample"):
            fun = SequenceFunction(g.values["L"], _steps(g, "x", T), ctx)  # type: ignore[attr-defined]
            kw = dict(conv="shape", method="complex", mode=mode, sample=5, rng=np.random.default_rng(1), rtol=None,
                      scalar_out=True, label=fun.label)
            assert checker.check(fun, right, **kw).ok  # type: ignore[arg-type]
            out = checker.check(fun, wrong, **kw)  # type: ignore[arg-type]
            assert not out.ok, mode
            if mode == "full":
                assert out.message.startswith("x[4][1]: claimed"), out.message  # row 3 is step 4; entry 1


def test_a_long_sequence_is_sampled_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sequence_check, "FULL_WORK", 100)
    rep = verify(_graph(80), VerifyOptions(trials=1))
    x = next(c for c in rep.checks if c.name == "derived dL/dx[t]")
    assert x.ok and x.mode == "sample", (x.mode, x.message)
    assert x.message.startswith("200 of 240 entries sampled and checked, and 4 random directions agree"), x.message
    rep = verify(_graph(6), VerifyOptions(trials=1, mode="full"))  # --full still checks every entry
    assert next(c for c in rep.checks if c.name == "derived dL/dx[t]").mode == "full"


LOOP_CLAIMS = """
delta[T+1] = zeros(H)
for t = 1..T:
  delta[t] = (W_hh^T delta[t+1] + W_hy^T (softmax(W_hy h[t]) - y[t])) * (1 - h[t]^2)
for t = 1..T:
  claim dL/dx[t] = W_xh^T delta[t]
for t = 1..T:
  claim dL/dx[t] = W_xh^T delta[t+1]
for t = 1..T:
  claim dL/dh[t] = W_hh^T delta[t+1] + W_hy^T (softmax(W_hy h[t]) - y[t])
for t = 1..T:
  claim dL/dh[t] = W_hh^T delta[t+1]
for t = 1..T:
  claim dJ[t]/dh[t] = W_hy^T (softmax(W_hy h[t]) - y[t])
for t = 1..T:
  claim dJ[t]/dh[t] = W_hy^T (softmax(W_hy h[t]) + y[t])
for t = 2..T:
  claim dL/dx[t] = W_xh^T delta[t]
for t = 1..T:
  claim dL/dx[t] = (W_xh^T delta[t])^T
"""


def test_claims_about_every_step() -> None:
    rep = verify(_graph(5, LOOP_CLAIMS), VerifyOptions(trials=1))
    got = [(c.name, c.ok) for c in rep.checks if c.kind == "claim"]
    assert got == [("claim dL/dx[t]", True), ("claim dL/dx[t]", False),  # δ[t+1] for δ[t]
                   ("claim dL/dh[t]", True), ("claim dL/dh[t]", False),  # the step's own loss left out
                   ("claim dJ[t]/dh[t]", True), ("claim dJ[t]/dh[t]", False),  # a numerator that moves with t
                   ("claim dL/dx[t]", True),  # t = 2..T only
                   ("claim dL/dx[t]", True)], got  # each step a row vector: the Jacobian form
    checks = [c for c in rep.checks if c.kind == "claim"]
    assert checks[1].wrt == "x[t]" and re.match(r"x\[\d\]\[\d\]: claimed", checks[1].message), checks[1].message
    assert checks[5].message.endswith("(at t = 1)"), checks[5].message
    assert checks[7].convention == "jacobian"
    base = len(rnn_text(5).splitlines()) + 4  # the claims come after the graph and the 4 helper lines
    assert [c.line for c in checks] == [base + 2 + 2 * k for k in range(8)]


def test_a_loop_claim_with_a_wrong_shape_says_which_step(tmp_path: Path) -> None:
    text = rnn_text(4) + "for t = 1..T:\n  claim dL/dx[t] = W_xh delta[t]\ndelta[T+1] = zeros(H)\n" \
        "for t = 1..T:\n  delta[t] = W_hh^T delta[t+1] * (1 - h[t]^2)\n"
    rep = verify(parse(text, "rnn.grad"), VerifyOptions(trials=1))
    c = next(c for c in rep.checks if c.kind == "claim")
    assert not c.ok and c.status == "error" and "cannot multiply W_xh (H×D) by delta[1]" in c.message


def test_loop_claims_through_the_cli(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "rnn.grad"
    f.write_text(rnn_text(4) + LOOP_CLAIMS, encoding="utf-8")
    res = cli("verify", str(f), "--format", "json")
    assert res.exit_code == 1
    data = json.loads(res.output)
    first = next(c for c in data["checks"] if c["kind"] == "claim")
    line = len(rnn_text(4).splitlines()) + 6
    assert (first["name"], first["wrt"], first["ok"], first["line"]) == ("claim dL/dx[t]", "x[t]", True, line)
    text = cli("verify", str(f)).output
    assert f"PASS  claim dL/dx[t] (line {line})" in text and f"FAIL  claim dL/dx[t] (line {line + 2})" in text


@pytest.mark.parametrize("claim,diagnosis", [
    ("for t = 1..T:\n  claim dL/dx[t] = W_xh^T delta[t+1]", "∂L/∂x[t+1]: one step off"),
    ("for t = 2..T:\n  claim dL/dx[t] = W_xh^T delta[t-1]", "∂L/∂x[t-1]: one step off"),
    ("for t = 1..T:\n  claim dL/dh[t] = W_hh^T delta[t+1]", "a term is missing (W_hy^T (p[t] - y[t]))"),
])
def test_a_wrong_claim_about_every_step_is_diagnosed(claim: str, diagnosis: str) -> None:
    helpers = "delta[T+1] = zeros(H)\nfor t = 1..T:\n  delta[t] = (W_hh^T delta[t+1] + W_hy^T (p[t] - y[t])) * (1 - h[t]^2)\n"
    rep = verify(_graph(5, helpers + claim + "\n"), VerifyOptions(trials=1))
    (c,) = [c for c in rep.checks if c.kind == "claim"]
    assert not c.ok and c.diagnosis == diagnosis, (c.diagnosis, c.message)
    assert c.message.endswith(f"looks like: {diagnosis}")


def test_claims_about_steps_the_output_never_reads() -> None:
    extra = "output L\nfor t = 1..T:\n  q[t] = 2 x[t]\nfor t = 1..T:\n  claim dL/dq[t] = 0\n" \
            "for t = 1..T:\n  claim dL/dq[t] = x[t]\n"
    rep = verify(_graph(4, extra), VerifyOptions(trials=1))
    assert [(c.name, c.ok) for c in rep.checks if c.kind == "claim"] == [("claim dL/dq[t]", True),
                                                                         ("claim dL/dq[t]", False)]


def test_a_claim_loop_without_steps_says_so() -> None:
    rep = verify(_graph(4, "for t = 3..2:\n  claim dL/dx[t] = x[t]\n"), VerifyOptions(trials=1))
    (c,) = [c for c in rep.checks if c.kind == "claim"]
    assert c.status == "error" and "has no steps" in c.message, c.message
