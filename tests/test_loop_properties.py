"""Random loops: the unrolled reading's derived gradients agree with numbers (issue 10).

Random T in 1..5, a random step body from the op table (tanh, sigmoid, relu of
W h[t-1] + U x[t] + b, with or without the input term), and a loss summed over the
steps or read at the last one: every derived gradient of the unrolled graph and the
BPTT claims stated from the derived recursion verify.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck_cli.lang.graph import parse
from gradcheck_cli.numeric.verify import VerifyOptions, verify

PROPS = settings(deadline=None, max_examples=int(os.environ.get("GRADCHECK_EXAMPLES", "12")),
                 suppress_health_check=[HealthCheck.too_slow])
DERIVATIVE = {"tanh": "1 - h[t]^2", "sigmoid": "h[t] * (1 - h[t])", "relu": "relu'(z[t])"}


def loop_text(T: int, H: int, fn: str, inputs: bool, loss: str, data: bool = True) -> str:
    body = "W h[t-1]" + (" + U x[t]" if inputs else "") + " + b"
    lines = [f"dims H = {H}, D = 2, T = {T}", "W : H x H", "U : H x D", "b : H", "u : H",
             f"x[t] : D{' const' if data else ''}, t = 1..T", "h[0] : H", "for t = 1..T:", f"  z[t] = {body}",
             f"  h[t] = {fn}(z[t])"]
    if loss == "sum":
        lines += ["  J[t] = u^T h[t]", "L = sum(J[t] for t = 1..T)", "g[T+1] = zeros(H)", "for t = 1..T:",
                  f"  g[t] = (W^T g[t+1] + u) * ({DERIVATIVE[fn]})"]
    else:
        lines += ["L = u^T h[T]", "g[T+1] = zeros(H)", "e[T] = u", "for t = 1..T-1:", "  e[t] = zeros(H)",
                  "for t = 1..T:", f"  g[t] = (W^T g[t+1] + e[t]) * ({DERIVATIVE[fn]})"]
    lines += ["claim dL/dW = sum(g[t] h[t-1]^T for t = 1..T)", "claim dL/db = Σ_t g[t]", "claim dL/dh[0] = W^T g[1]"]
    # claims about every step: the total ∂L/∂h[t] (through the recurrence and the step's own loss),
    # and for an input that is a variable, ∂L/∂x[t]
    lines += ["for t = 1..T:", "  claim dL/dh[t] = W^T g[t+1] + " + ("u" if loss == "sum" else "e[t]")]
    if inputs and not data:
        lines += ["for t = 1..T:", "  claim dL/dx[t] = U^T g[t]"]
    if not inputs:
        lines = [line for line in lines if not line.startswith(("U :", "x[t]"))]
    return "\n".join(lines) + "\n"


def one_line(text: str, backwards: bool) -> str:
    """The helpers and claims as derive prints them: every one-statement block after the graph on one
    line with its range (`g[t] = … for t = T, …, 1` or `for t = 1..T`), the boundary `g[T+1] = 0`."""
    head, _, rest = text.partition("\nL = ")
    loss, _, rest = rest.partition("\n")

    def line(m: re.Match) -> str:  # type: ignore[type-arg]
        var, lo, hi, stmt = m.groups()
        rng = f"{hi.replace('-', '−')}, …, {lo}" if backwards else f"{lo}..{hi}"
        return f"{stmt}   for {'every ' if stmt.startswith('claim') else ''}{var} = {rng}"

    rest = re.sub(r"^for (\w+) = (\S+)\.\.(\S+):\n  (.+)$", line, rest, flags=re.M)
    return f"{head}\nL = {loss}\n" + rest.replace("g[T+1] = zeros(H)", "g[T+1] = 0")


@PROPS
@given(T=st.integers(1, 5), H=st.integers(2, 4), fn=st.sampled_from(sorted(DERIVATIVE)), inputs=st.booleans(),
       loss=st.sampled_from(["sum", "last"]), seed=st.integers(0, 20), data=st.booleans(),
       written=st.sampled_from(["blocks", "one line", "one line, from the end"]))
def test_random_loops_verify(T: int, H: int, fn: str, inputs: bool, loss: str, seed: int, data: bool,
                             written: str) -> None:
    text = loop_text(T, H, fn, inputs, loss, data)
    if written != "blocks":  # as derive prints it: the same values, the same verdicts
        text = one_line(text, backwards=written.endswith("end"))
        assert " for every t = " in text and "g[T+1] = 0" in text and "\n  g[t] =" not in text, text
    graph = parse(text, "loop.grad", seed)
    assert graph.loop is not None and len([n for n in graph.values if n.startswith("h[")]) == T
    report = verify(graph, VerifyOptions(seed=seed))
    bad = [(c.name, c.message) for c in report.checks if not c.ok]
    assert not bad, (text, bad)
    names = [c.name for c in report.checks]
    with_x = inputs and not data
    assert sum(c.kind == "claim" for c in report.checks) == 4 + with_x
    assert "claim dL/dh[t]" in names
    # a sequence variable is one derived check, ∂L/∂x[t], as derive prints it (T ≥ 2: x[1..T])
    assert ("derived dL/dx[t]" in names) == (with_x and T >= 2), names
    assert not any(n.startswith("derived dL/dx[") and n != "derived dL/dx[t]" for n in names) or T == 1
