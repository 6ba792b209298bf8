"""The text `gradcheck derive` prints for a loop reads back (DSL.md: everything gradcheck prints,
pasted as a claim, parses and passes).

A student copies the `with` lines (`δ[t] = … for t = T, …, 1`, `δ[T+1] = 0`) and the formulas
(`∂L/∂W_hh = Σ_t δ[t] h[t−1]ᵀ`, `∂L/∂x[t] = W_xhᵀ δ[t]   for every t = 1..T`,
`∂h[T]/∂h[k] = ∏_{t=k+1}^{T} …   for every k = 0..T−1`) under the file's graph, as the lines are
printed, and verify passes every one of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gradcheck_cli.render  # noqa: F401  (the renderers file themselves)
from gradcheck_cli.derive.loops import LoopDerivation
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.lang.graph import parse
from gradcheck_cli.numeric.verify import VerifyOptions, verify
from gradcheck_cli.render import RENDERERS

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "data" / "loops").glob("*.grad"))
FILES += [f"examples/{n}.grad" for n in ("rnn", "rnn_last", "lstm_seq", "gru_seq", "flow_relu_rnn")]


def graph_part(text: str, output: str) -> str:
    """The file up to its output's line: the graph, without the file's own helpers and claims."""
    lines = text.splitlines()
    end = max(i for i, line in enumerate(lines) if line.startswith(f"{output} ="))
    return "\n".join(line for line in lines[:end + 1] if not line.lstrip().startswith("claim ")) + "\n"


def pasted(printed: str) -> list[str]:
    """derive's text as a student pastes it: the `with` lines as they are (the notes in brackets
    left out), and each formula as a claim with its `for every …` range."""
    out: list[str] = []
    section, every = "", ""
    for raw in printed.splitlines()[1:]:
        line = raw.strip()
        if raw.startswith(("  step", "  loss")):
            section = "graph"
        elif raw.startswith("  with"):
            section = "with"
            out.append(line)  # `with δ[t] = …`: the first line keeps its `with`
        elif raw.startswith("        ") and section == "with":
            if not line.startswith("("):
                out.append(line)
        elif raw and not raw.startswith(" "):
            section, every = "gradient", (raw[raw.index("for every"):] if "for every" in raw else "")
        elif ("shape convention" in line or "Jacobian form" in line) and "held fixed" not in line:
            # (a path alone, `∂c[T]/∂c[k] … (along c alone, h held fixed)`, is a remark, not a claim)
            formula = re.split(r"shape convention|Jacobian form", line, maxsplit=1)[1].strip()
            out.append(f"claim {formula}" + (f"   {every}" if every else ""))
    return out


@pytest.mark.parametrize("path", FILES)
def test_the_printed_loop_derivation_pasted_back_verifies(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    d = derive(parse(text, path))
    assert isinstance(d, LoopDerivation)
    printed = RENDERERS["text"](d)
    lines = pasted(printed)
    claims = [line for line in lines if line.startswith("claim ")]
    assert any("Σ" in c for c in claims), lines
    assert any("for every k" in c for c in claims) == (len(d.step.states) == 1), lines  # type: ignore[union-attr]
    source = graph_part(text, d.output) + "\n".join(lines) + "\n"
    report = verify(parse(source, path), VerifyOptions(trials=1))
    checks = [c for c in report.checks if c.kind == "claim"]
    assert len(checks) == len(claims), (len(checks), claims)
    bad = [(c.name, c.message) for c in checks if not c.ok]
    assert not bad, f"{path}: the printed derivation does not read back:\n{source}\n{bad}"


def test_a_zero_boundary_takes_the_sequence_shape() -> None:
    """`δ[T+1] = 0` as printed: the zero of δ's shape (H×1), found from the step that reads it."""
    text = graph_part((ROOT / "examples" / "rnn.grad").read_text(encoding="utf-8"), "L") + (
        "δ[T+1] = 0\n"
        "δ[t] = (W_hyᵀ (p[t] − y[t]) + W_hhᵀ δ[t+1]) ∘ (1 − h[t]²)   for t = T, …, 1\n")
    g = parse(text, "rnn.grad")
    T = g.env.sizes["T"]
    assert g.values[f"δ[{T + 1}]"].op == "zeros" and str(g.values[f"δ[{T + 1}]"].shape[0]) == "H"
    assert all(str(g.values[f"δ[{k}]"].shape[1]) == "1" for k in range(1, T + 1))


@pytest.mark.parametrize("suffix,first,last", [("for t = T, …, 1", 1, "T"), ("for t = T−1, …, 1", 1, "T-1"),
                                               ("for t = 2..T", 2, "T"), ("for every t = 1..T", 1, "T")])
def test_one_line_loops(suffix: str, first: int, last: str) -> None:
    text = graph_part((ROOT / "examples" / "rnn.grad").read_text(encoding="utf-8"), "L") + \
        f"q[t] = 2 h[t]   {suffix}\n"
    g = parse(text, "rnn.grad")
    T = g.env.sizes["T"]
    top = T if last == "T" else T - 1
    assert sorted(int(n[2:-1]) for n in g.values if n.startswith("q[")) == list(range(first, top + 1))


def test_two_one_line_loops_that_read_each_other() -> None:
    """An LSTM's dh[t] = δ_h[t+1] and δ_h[t] = … dh[t] …, each on its own line, interleave step by step."""
    text = graph_part((ROOT / "examples" / "rnn.grad").read_text(encoding="utf-8"), "L") + (
        "a[T] = h[T]\n"
        "a[t] = b[t+1]   for t = T−1, …, 1\n"
        "b[t] = W_hhᵀ a[t] ∘ (1 − h[t]²)   for t = T, …, 1\n")
    g = parse(text, "rnn.grad")
    T = g.env.sizes["T"]
    assert {f"a[{k}]" for k in range(1, T + 1)} | {f"b[{k}]" for k in range(1, T + 1)} <= set(g.values)


def test_a_one_line_claim_about_a_step_needs_the_loop_variable() -> None:
    from gradcheck_cli.errors import GradcheckError

    text = graph_part((ROOT / "examples" / "rnn.grad").read_text(encoding="utf-8"), "L") + \
        "claim dL/dW_hh = W_hh   for every t = 1..T\n"
    with pytest.raises(GradcheckError, match="a claim inside the loop over t is about a step"):
        parse(text, "rnn.grad")


# (lstm_seq's claims_dsl has one `for` block of four lines and no chain claim: nothing to write on one line)
@pytest.mark.parametrize("path", [f for f in FILES if not f.endswith("lstm_seq.grad")])
def test_one_line_loops_read_as_their_blocks(path: str) -> None:
    """claims_dsl with every one-statement `for` block written on one line (`STMT   for t = a..b`)
    lowers to the same values and the same passing claims."""
    from gradcheck_cli.render.loop_formats import loop_dict

    text = (ROOT / path).read_text(encoding="utf-8")
    d = derive(parse(text, path))
    block = loop_dict(d)["claims_dsl"]
    one_line = re.sub(r"^for (\w+) = (\S+):\n  (.+)$(?!\n  )", r"\3   for \1 = \2", block, flags=re.M)
    assert one_line != block
    base = graph_part(text, d.output)
    reports = [verify(parse(base + src, path), VerifyOptions(trials=1)) for src in (block, one_line)]
    assert [(c.name, c.ok) for c in reports[0].checks] == [(c.name, c.ok) for c in reports[1].checks]
    assert all(c.ok for c in reports[1].checks), [(c.name, c.message) for c in reports[1].checks if not c.ok]
