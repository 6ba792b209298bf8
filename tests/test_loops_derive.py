"""The central test of `derive` on loop files: its dsl output reads back as claims that verify.

For every loop file (tests/data/loops/*.grad and the loop examples), derive in closed form
(one generic step), paste `claims_dsl` (the recursion as loop helpers with their boundary
lines, then one claim per gradient) under the file's graph, and `verify` the result on the
unrolled graph: every pasted claim must pass. A claim with the recursion's `δ[t+1]` turned
into `δ[t]` (a BPTT slip) must fail, so the check can fail. And derive costs the same at any T.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import gradcheck_cli.render  # noqa: F401
from gradcheck_cli.derive.loops import LoopDerivation
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.lang.graph import parse
from gradcheck_cli.numeric.verify import VerifyOptions, verify
from gradcheck_cli.render import RENDERERS
from gradcheck_cli.render.loop_formats import loop_dict

TESTS = Path(__file__).parent
ROOT = TESTS.parent
LOOP_EXAMPLES = ("rnn", "rnn_last", "lstm_seq", "gru_seq", "flow_relu_rnn")
FILES = sorted(str(p.relative_to(ROOT)) for p in (TESTS / "data" / "loops").glob("*.grad"))
FILES += [f"examples/{n}.grad" for n in LOOP_EXAMPLES
          if (ROOT / "examples" / f"{n}.grad").exists() and "for t" in (ROOT / "examples" / f"{n}.grad").read_text()]


def _without_claims(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("claim ")) + "\n"


def _claim_checks(text: str, path: str) -> list:  # type: ignore[type-arg]
    rep = verify(parse(text, path), VerifyOptions(trials=1))
    return [c for c in rep.checks if c.kind == "claim"]


@pytest.mark.parametrize("path", FILES)
def test_derived_dsl_reads_back_as_claims_that_verify(path: str) -> None:
    text = _without_claims((ROOT / path).read_text(encoding="utf-8"))
    d = derive(parse(text, path))
    assert isinstance(d, LoopDerivation), f"{path}: derive did not keep the loop"
    claims = loop_dict(d)["claims_dsl"]
    checks = _claim_checks(text + "\n" + claims, path)
    want = sum(line.lstrip().startswith("claim ") for line in claims.splitlines())  # a loop's own are indented
    assert len(checks) == want, (len(checks), claims)
    bad = [(c.name, c.message) for c in checks if not c.ok]
    assert not bad, f"{path}: pasted claims fail:\n{claims}\n{bad}"


SLIPS = {"h[t] for h[t-1]": lambda rhs: rhs.replace("h[t-1]^T", "h[t]^T"),
         "only the last step's term": lambda rhs: re.sub(r"sum\((\w+)\[t\] h\[t-1\]\^T for t = 1\.\.T\)",
                                                       r"\1[T] h[T-1]^T", rhs)}


@pytest.mark.parametrize("slip", sorted(SLIPS))
@pytest.mark.parametrize("path", [p for p in FILES if "rnn" in p and "flow" not in p])
def test_a_bptt_slip_in_the_pasted_claims_fails(path: str, slip: str) -> None:
    text = _without_claims((ROOT / path).read_text(encoding="utf-8"))
    claims = loop_dict(derive(parse(text, path)))["claims_dsl"]
    lines = claims.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("claim dL/dW_hh = "))
    lines[k] = SLIPS[slip](lines[k])
    assert lines[k] != claims.splitlines()[k], lines[k]
    checks = _claim_checks(text + "\n" + "\n".join(lines) + "\n", path)
    assert [c.ok for c in checks if c.name == "claim dL/dW_hh"] == [False], [(c.name, c.ok) for c in checks]


def test_derive_on_T_1000_costs_what_T_3_costs() -> None:
    base = (TESTS / "data" / "loops" / "rnn_sum.grad").read_text(encoding="utf-8")
    texts, times = [], []
    for T in (3, 1000):
        g = parse(base.replace("T = 4", f"T = {T}"), "rnn.grad")
        t0 = time.perf_counter()
        d = derive(g)
        times.append(time.perf_counter() - t0)
        texts.append(RENDERERS["text"](d))
    assert texts[0] == texts[1]
    assert times[1] < 10 * times[0] + 0.05, times


def _derived(path: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    text = _without_claims((ROOT / path).read_text(encoding="utf-8"))
    d = derive(parse(text, path))
    return RENDERERS["text"](d), loop_dict(d)


def test_a_boundary_line_seeded_with_ones_has_no_ones_factor() -> None:
    """s = sum(h[T]) seeds the last step with 𝟏: δ[T] = relu′(W_hh h[T−1]), not 𝟏(H×1) ∘ relu′(…),
    in the text, the LaTeX, the DSL and claims_dsl (which reads back: the test above)."""
    text, j = _derived("examples/flow_relu_rnn.grad")
    assert "δ[T] = relu′(W_hh h[T−1])\n" in text and "𝟏" not in text, text
    (rec,) = j["recursions"]
    (last,) = rec["boundary"]
    assert (last["dsl"], last["text"]) == ("relu'(W_hh h[T-1])", "relu′(W_hh h[T−1])")
    assert "mathbf{1}" not in last["latex"] and "odot" not in last["latex"]
    assert j["claims_dsl"].startswith("delta[T] = relu'(W_hh h[T-1])\nfor t = 1..T-1:\n")


@pytest.mark.parametrize("path", FILES)
def test_latex_gives_every_recursion_its_own_range(path: str) -> None:
    """The LaTeX rows of the recursions say the ranges the text says (gru_seq's δ_h holds for t = T, …, 1:
    the LaTeX said T−1 from dh's range and so lost δ_h[T])."""
    d = derive(parse(_without_claims((ROOT / path).read_text(encoding="utf-8")), path))
    text, latex = RENDERERS["text"](d), RENDERERS["latex"](d)
    said = [m.replace("−", "-") for m in re.findall(r"   for t = (\S+), …, 1$", text, re.M)]  # T down to 1
    assert said == re.findall(r"&& t = (\S+), \\dots, 1 \\\\$", latex, re.M), latex


def _terms(e):  # type: ignore[no-untyped-def]
    if e.op == "add" and e.args[0].shape == e.shape and e.args[1].shape == e.shape:
        return _terms(e.args[0]) + _terms(e.args[1])
    return [e]


def _canonical(e) -> str:  # type: ignore[no-untyped-def]
    """e with every sum's terms sorted: two sums that differ only in the order of their terms agree."""
    terms = _terms(e)
    if len(terms) > 1:
        return "+(" + ", ".join(sorted(_canonical(t) for t in terms)) + ")"
    return f"{e.op}{e.params!r}(" + ", ".join(_canonical(a) for a in e.args) + ")"


def _last_step_lines(path: str):  # type: ignore[no-untyped-def]
    """(recursion, its δ[T] line's right-hand side put back at t) of every line `δ[T] = …`."""
    from gradcheck_cli.derive.loop_step import localize, mover

    d = derive(parse(_without_claims((ROOT / path).read_text(encoding="utf-8")), path))
    s = d.step
    return [(r, localize(e, {}, mover(s.length, (s.var, 0)))) for r in d.recursions for ix, e in r.boundary
            if ix == (s.length, 0)]


@pytest.mark.parametrize("path", FILES)
def test_a_last_step_line_is_printed_only_where_the_recursion_does_not_hold(path: str) -> None:
    """δ_h[T] = … is its own line only when it is not the recursion at t = T, order of terms aside
    (lstm_seq printed δ_h[T] and δ_h[t] with the same four terms in another order)."""
    for r, back in _last_step_lines(path):
        assert _canonical(back) != _canonical(r.body), (path, r.name)


@pytest.mark.parametrize("path", FILES)
def test_a_last_step_line_has_the_terms_it_shares_with_the_recursion_in_its_order(path: str) -> None:
    from gradcheck_cli.derive.loop_step import aligned

    for r, back in _last_step_lines(path):
        assert aligned(back, r.body) is back, (path, r.name)


def test_lstm_prints_one_line_for_a_recursion_that_holds_at_T() -> None:
    text, j = _derived("examples/lstm_seq.grad")
    assert "δ_h[T] =" not in text, text
    (line,) = [x for x in text.splitlines() if x.lstrip().startswith("δ_h[t] = ")]
    assert line.endswith("   for t = T, …, 1") and line.count("ᵀ (") == 4, line
    rec = next(r for r in j["recursions"] if r["name"] == "delta_h")
    assert rec["boundary"] == [] and rec["for"]["stop"] == "T"


def test_aligned_puts_a_sum_in_the_order_of_another() -> None:
    from gradcheck_cli.derive.loop_step import aligned
    from gradcheck_cli.shapes import Dim
    from gradcheck_cli.symbolic import algebra as alg
    from gradcheck_cli.symbolic.printing import to_dsl

    n = (Dim.of(3), Dim.of(1))
    a, b, c, x, y = (alg.var(v, n) for v in "abcxy")
    W = alg.var("W", (Dim.of(3), Dim.of(3)))
    ref = alg.add(alg.add(alg.matmul(W, x), a), alg.mul(b, c))  # W x + a + b ∘ c
    other = alg.add(alg.add(alg.mul(b, c), a), alg.matmul(W, x))  # b ∘ c + a + W x
    assert other is not ref and aligned(other, ref) is ref
    partly = alg.add(alg.add(y, alg.matmul(W, y)), a)  # y + W y + a: W y takes W x's place, y has none
    assert to_dsl(aligned(partly, ref)) == "W y + a + y"
    assert aligned(alg.fn("tanh", other), alg.fn("tanh", ref)) is alg.fn("tanh", ref)
