"""Hostile inputs (issue 14): exit 0, 1 or 2 with a positioned message, never 3, never a hang.

Two halves. Regression tests pin each reported case (huge sizes and numbers,
100,000-digit decimals, deep nesting, 1,000-layer chains, 10⁴ broken claims,
max ties, saturated tanh, graph reuse in the API, --sample, --impl errors,
float32 implementations, message hygiene). Then a fuzzer drives the whole CLI
(`graph`, `derive` in every format, `verify`) in-process on mutated examples and
random bytes, and checks the contract of CLI.md: an exit code in {0, 1, 2}, no
traceback, `file:line:col` in every exit-2 message that comes from the file, and
a time bound per input.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import gradcheck_cli as gc
from gradcheck_cli.cli import app
from gradcheck_cli.errors import GradcheckError, ParseError, format_error

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.grad"))
RUNNER = CliRunner()


def run(*args: str) -> tuple[int, str]:
    r = RUNNER.invoke(app, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def write(tmp_path: Path, text: str, name: str = "f.grad") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def error_of(text: str) -> GradcheckError:
    with pytest.raises(GradcheckError) as info:
        gc.parse(text, "f.grad")
    return info.value


# ---------------------------------------------------------------- sizes and numbers (items 2, 3, 11)


def test_huge_dimension_derives_and_verify_says_why_not(tmp_path: Path) -> None:
    p = write(tmp_path, "dims n = 1000000000, m = 3\nW : n x m\nx : m\ns = sum(W x)\n")
    code, out = run("derive", p)
    assert code == 0 and "∂s/∂W" in out, out
    code, out = run("verify", p)
    assert code == 2, out
    assert "W (n×m) would have 3,000,000,000 entries (24 GB" in out and "f.grad:2:1" in out, out


def test_huge_intermediate_is_named(tmp_path: Path) -> None:
    code, out = run("verify", write(tmp_path, "dims n = 100000\nx : n\ns = sum(x x^T)\n"))
    assert code == 2 and "n×n intermediate" in out and "f.grad:3:" in out, out


def test_five_thousand_digit_size_and_literal_are_positioned_errors() -> None:
    e = error_of("dims n = " + "9" * 5000 + "\nx : n\ns = sum(x)\n")
    assert isinstance(e, ParseError) and e.span is not None and (e.span.line, e.span.column) == (1, 10)
    assert "5,000 digits" in e.message and len(e.message) < 200
    e = error_of("dims n = 3\nx : n\ns = sum(x) * " + "7" * 5000 + "\n")
    assert e.span is not None and (e.span.line, e.span.column) == (3, 14) and "too large for float64" in e.message


def test_a_100000_digit_decimal_parses_in_linear_time() -> None:
    t0 = time.perf_counter()
    g = gc.parse("dims n = 3\nx : n\ns = sum(x) * 0." + "3" * 100_000 + "\n")
    d = gc.derive(g)
    assert time.perf_counter() - t0 < 5
    assert gc.verify(g).ok and "0.333333333333333" in str(d.gradients[0].shape_form.args[0].param("value"))


def test_numbers_are_built_from_their_digits_not_sympified(monkeypatch: pytest.MonkeyPatch) -> None:
    import sympy as sp

    from gradcheck_cli.lang.graph import exact_number

    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("the DSL text reached sympy's parser")

    monkeypatch.setattr(sp.parsing.sympy_parser, "parse_expr", refuse)
    assert exact_number("0.1", 0.1) == sp.Rational(1, 10)
    assert exact_number("2", 2.0) == 2 and exact_number("2.50", 2.5) == sp.Rational(5, 2)
    assert exact_number("1e-3", 1e-3) == sp.Rational(1, 1000)  # exact, and printed as written (1e-3)
    assert exact_number("1e-300", 1e-300) == sp.Float(1e-300)  # a far exponent is its float64: no 10^300
    assert exact_number("0." + "3" * 40, 1 / 3) == sp.Float(1 / 3)  # past float64's digits, too
    g = gc.parse("dims n = 3\nx : n\ns = sum(x) * 0.25 + 12345678901234567890\n")
    assert gc.verify(g).ok


# ---------------------------------------------------------------- depth (items 4, 10; issue 15 item 5)


@pytest.mark.parametrize("depth", [200, 5000])
def test_deep_nesting_is_a_positioned_error(depth: int) -> None:
    text = "dims n = 3\nx : n\ns = sum(" + "tanh(" * depth + "x" + ")" * depth + ")\n"
    e = error_of(text)
    assert "nested too deeply" in e.message and e.span is not None and e.span.line == 3 and e.span.column > 1
    assert "f.grad:3:" in format_error(e, text)


def test_moderate_nesting_still_derives() -> None:
    g = gc.parse("dims n = 3\nx : n\ns = sum(" + "tanh(" * 100 + "x" + ")" * 100 + ")\n")
    assert gc.verify(g).ok


def test_a_deep_nested_claim_fails_alone() -> None:
    text = "dims n = 3\nx : n\ns = sum(x)\nclaim ds/dx = " + "tanh(" * 300 + "x" + ")" * 300 + "\n"
    r = gc.verify(gc.parse(text))
    claim = [c for c in r.checks if c.kind == "claim"][0]
    assert not claim.ok and "nested too deeply" in claim.message and claim.line == 4


@pytest.mark.parametrize("fmt", ["text", "json", "latex"])
def test_a_1000_layer_chain_derives(tmp_path: Path, fmt: str) -> None:
    lines = ["dims n = 3", "a0 : n"] + [f"a{i} = tanh(a{i - 1})" for i in range(1, 1001)] + ["s = sum(a1000)"]
    code, out = run("derive", "--format", fmt, write(tmp_path, "\n".join(lines) + "\n"))
    assert code == 0, out[-500:]
    assert ("a}_{999}" if fmt == "latex" else "a999") in out


def test_a_1000_layer_chain_verifies() -> None:
    lines = ["dims n = 3", "a0 : n"] + [f"a{i} = tanh(a{i - 1})" for i in range(1, 1001)] + ["s = sum(a1000)"]
    assert gc.verify(gc.parse("\n".join(lines) + "\n")).ok


def _chain(n: int) -> str:
    return "\n".join(["dims n = 3", "x : n", "a0 = x"] + [f"a{i} = a{i - 1} + x" for i in range(1, n + 1)]
                     + [f"s = sum(a{n})"]) + "\n"


def test_plain_statements_cost_linear_time(tmp_path: Path) -> None:
    """4,000 statements through derive --steps: the cost of 1,000 times ~4 (quadratic would be ~16)."""
    def cost(n: int) -> float:
        p = write(tmp_path, _chain(n), f"c{n}.grad")
        t0 = time.perf_counter()
        code, out = run("derive", "--steps", p)
        assert code == 0, out[-300:]
        return time.perf_counter() - t0

    cost(200)  # warm-up
    small, large = cost(1000), cost(4000)
    assert large < 9 * small + 1.0, (small, large)


def test_ten_thousand_broken_claims_are_linear(tmp_path: Path) -> None:
    text = "dims n = 3\nx : n\ns = sum(tanh(x))\n" + "claim ds/dx = 1 - tanh(x)^^2\n" * 10_000
    t0 = time.perf_counter()
    code, out = run("verify", write(tmp_path, text))
    assert code == 1 and "10001 checks: 1 passed, 10000 failed" in out
    assert time.perf_counter() - t0 < 60


def test_claim_line_spans_are_placed_in_the_file() -> None:
    text = "dims n = 3\nx : n\ns = sum(x)\n\nclaim ds/dx = ones(n) +\nclaim ds/dx = ones(n)\n"
    g = gc.parse(text, "f.grad")
    broken, good = g.claims
    assert broken.error is not None and broken.error.span.line == 5 and good.line == 6
    assert text[good.span.start:good.span.end] == "claim ds/dx = ones(n)"
    e = error_of("dims n = 3\nx : n\nclaim ds/d = x\ns = sum(x)\n")  # a broken head breaks the file
    assert e.span is not None and e.span.line == 3


# ---------------------------------------------------------------- numerics (items 5, 6, 12)


def test_max_tie_splits_the_gradient() -> None:
    g = gc.parse("dims n = 3\nx : n\ns = sum(max(x, x)) + sum(min(x, x))\n")
    d = gc.derive(g)
    assert "step" not in str(d.gradients[0].shape_form.op) and gc.verify(g).ok
    g = gc.parse("dims n = 4\nx : n\ns = sum(max(x, abs(x)))\n")  # ties wherever x > 0
    assert gc.verify(g, gc.VerifyOptions(trials=6)).ok


def test_step_is_half_at_zero() -> None:
    from gradcheck_cli.symbolic.elementwise import T, derivative_sym, numpy_fn

    assert list(numpy_fn("step", 0)(np.array([-1.0, 0.0, 2.0]))) == [0.0, 0.5, 1.0]
    import sympy as sp
    assert derivative_sym("step", 0).subs(T, 0) == sp.Rational(1, 2)


@pytest.mark.parametrize("text", [
    "dims n = 3\nw : n\nx : n\ns = tanh(10 * w^T x)\n",
    "dims n = 3\nu : n\nW : n x n\nx : n\ns = u^T tanh(30 * W x)\n",
    "dims n = 3\nu : n\nW : n x n\nx : n\ns = u^T sigmoid(40 * W x)\n",
])
def test_saturated_units_never_fail_a_correct_gradient(text: str) -> None:
    r = gc.verify(gc.parse(text), gc.VerifyOptions(trials=5))
    assert r.ok, [c.message for c in r.checks if not c.ok]


def test_a_wrong_gradient_through_a_saturated_unit_still_fails() -> None:
    r = gc.verify(gc.parse("dims n = 3\nw : n\nx : n\ns = tanh(10 * w^T x)\nclaim ds/dw = 10 * x\n"))
    assert not [c for c in r.checks if c.kind == "claim"][0].ok


IMPL = '''
import numpy as np

def fb(W, x, b, u, dtype=np.float32):
    W, x, b, u = (np.asarray(a, dtype=dtype) for a in (W, x, b, u))
    h = np.tanh(W @ x + b)
    d = u * (1 - h ** 2)
    return u @ h, {"W": np.outer(d, x), "x": W.T @ d, "b": d, "u": h}

def wrong(W, x, b, u):
    s, g = fb(W, x, b, u)
    g["b"] = 2 * g["b"]
    return s, g
'''
GRAPH = "dims n = 5, m = 7\nW : n x m\nx : m\nb : n\nu : n\ns = u^T tanh(W x + b)\n"


def test_float32_implementation_is_checked_at_its_precision(tmp_path: Path) -> None:
    (tmp_path / "hw.py").write_text(IMPL, encoding="utf-8")
    p = write(tmp_path, GRAPH)
    code, out = run("verify", p, "--impl", f"{tmp_path / 'hw.py'}:fb")
    assert code == 0, out
    assert "the implementation returned float32: checked to 1e-3" in out
    code, out = run("verify", p, "--impl", f"{tmp_path / 'hw.py'}:wrong")
    assert code == 1 and "impl wrong: grad b" in out and "factor of 2" in out, out


def test_a_fail_never_prints_two_equal_numbers() -> None:
    from gradcheck_cli.numeric.checker import _pair

    a, b = _pair(1.0000001, 1.0000002)
    assert a != b and _pair(0.5, 0.25) == ("0.5", "0.25")


# ---------------------------------------------------------------- API and impl robustness (items 7, 9)


def test_a_graph_is_reusable() -> None:
    g = gc.parse((ROOT / "examples" / "mlp.grad").read_text(encoding="utf-8"))
    first = gc.verify(g)
    d1 = gc.derive(g)
    second = gc.verify(g)
    d2 = gc.derive(g)
    assert first.ok and second.ok and callable(gc.derive) and callable(gc.verify)
    assert [c.max_rel_error for c in first.checks] == [c.max_rel_error for c in second.checks]
    assert [str(x.shape_form) for x in d1.gradients] == [str(x.shape_form) for x in d2.gradients]


def test_an_internal_error_in_the_impl_path_is_a_failed_check(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hw.py").write_text(IMPL, encoding="utf-8")
    import gradcheck_cli.numeric.impl_check as ic

    def broken(*a: Any, **k: Any) -> Any:
        raise KeyError("an internal bug")

    monkeypatch.setattr(ic, "_grad_check", broken)
    code, out = run("verify", write(tmp_path, GRAPH), "--impl", f"{tmp_path / 'hw.py'}:fb")
    assert code == 1 and "gradcheck could not check this gradient (KeyError" in out, out
    monkeypatch.setattr(ic, "_impl_checks", broken)
    code, out = run("verify", write(tmp_path, GRAPH), "--impl", f"{tmp_path / 'hw.py'}:fb")
    assert code == 1 and "gradcheck could not check the implementation" in out, out


# ---------------------------------------------------------------- --sample (item 8)


def test_sample_cannot_pass_a_wholly_wrong_claim(tmp_path: Path) -> None:
    text = ("dims c = 40\ntheta : c\ny : onehot(c)\np = softmax(theta)\nJ = -y^T log(p)\n"
            "claim dJ/dtheta = p\nclaim dJ/dtheta = p - y\n")
    code, out = run("verify", write(tmp_path, text), "--sample", "3")
    assert code == 1, out
    assert "the 3 sampled entries (of 40) agree, but" in out
    assert "3 of 40 entries sampled and checked, and 4 random directions agree" in out


# ---------------------------------------------------------------- messages (issue 15 item 5)


def test_non_utf8_bytes_are_placed_at_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "f.grad"
    p.write_bytes(b"dims n = 3\nx : n\ns = sum(x) \xff\n")
    code, out = run("derive", str(p))
    assert code == 2 and "f.grad:3:12" in out and "not UTF-8" in out and "position" not in out, out


def test_a_form_feed_in_a_comment_does_not_shift_the_caret_line() -> None:
    text = "dims n = 3\n# a \f comment\nx : n\ns = sum(y)\n"
    msg = format_error(error_of(text), text)
    assert "4 | s = sum(y)" in msg, msg


def test_a_one_megabyte_name_gives_a_short_message(tmp_path: Path) -> None:
    code, out = run("derive", write(tmp_path, "dims n = 3\nx : n\ns = sum(" + "q" * 1_000_000 + ")\n"))
    assert code == 2 and "f.grad:3:9" in out and "(1,000,000 characters)" in out
    assert len(out) < 2000, len(out)


# ---------------------------------------------------------------- the CLI fuzzer

COMMANDS = [("graph",), ("derive",), ("derive", "--format", "json"), ("derive", "--format", "latex"),
            ("derive", "--steps"), ("verify", "--trials", "1")]
POSITION = re.compile(r"\S+\.grad:\d+:\d+")
TIME_BOUND_S = 20.0
FINDINGS: Counter[str] = Counter()


# the attacks of issue 14, as fragments a mutation may splice in anywhere
HOSTILE = [b"9" * 5000, b"0." + b"3" * 20000, b"tanh(" * 300, b"max(x, x)", b"q" * 20000, b"\n1000000000",
           b"\nclaim ds/dx = 1 - tanh(x)^^2" * 200, b"sum(" * 150, b" + x" * 400]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """An example file with a few random edits: bytes deleted, duplicated, replaced or inserted."""
    data = bytearray(draw(st.sampled_from(EXAMPLES)).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["delete", "dup", "replace", "insert"]))
        n = draw(st.integers(1, 12))
        if kind == "delete":
            del data[i:i + n]
        elif kind == "dup":
            data[i:i] = data[i:i + n]
        elif kind == "replace":
            data[i:i + 1] = draw(st.sampled_from([b"(", b")", b"^T", b"'", b"0", b"1e999", b"\xff", b"\f", b"\\\n",
                                                  b"tanh(", b"claim ", b"=", b"x", b"*", b" ", b"\n", b"-"] + HOSTILE))
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=n))
    return bytes(data)


def check_cli(tmp_path: Path, data: bytes, command: tuple[str, ...]) -> None:
    p = tmp_path / "fuzz.grad"
    p.write_bytes(data)
    t0 = time.perf_counter()
    r = RUNNER.invoke(app, [*command, str(p)], catch_exceptions=True)
    seconds = time.perf_counter() - t0
    out = r.output
    FINDINGS["inputs"] += 1
    FINDINGS[f"exit {r.exit_code}"] += 1
    FINDINGS["last exit"] = r.exit_code
    assert r.exception is None or isinstance(r.exception, SystemExit), (command, data[:300], repr(r.exception))
    assert r.exit_code in (0, 1, 2), (command, r.exit_code, data[:300], out[-800:])
    assert "Traceback" not in out and "internal error" not in out, (command, data[:300], out[-800:])
    if r.exit_code == 2:
        assert POSITION.search(out), (command, data[:300], out[-800:])
    assert seconds < TIME_BOUND_S, (command, seconds, data[:300])


# 60 inputs per command and source in the suite (~25 s); GRADCHECK_FUZZ_EXAMPLES=1000 for a longer hunt
FUZZ_CLI = settings(max_examples=int(os.environ.get("GRADCHECK_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
@FUZZ_CLI
@given(data=mutated())
def test_cli_on_mutated_examples(tmp_path: Path, command: tuple[str, ...], data: bytes) -> None:
    check_cli(tmp_path, data, command)


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
@FUZZ_CLI
@given(data=st.binary(max_size=400))
def test_cli_on_random_bytes(tmp_path: Path, command: tuple[str, ...], data: bytes) -> None:
    check_cli(tmp_path, data, command)


def _attack(kind: str, k: int) -> str:
    head = "dims n = 3\nx : n\n"
    return {
        "nest": head + f"s = sum({'tanh(' * k}x{')' * k})\n",
        "integer": head + f"s = sum(x) * {'7' * k}\n",
        "decimal": head + f"s = sum(x) * 0.{'3' * (20 * k)}\n",
        "size": f"dims n = 1{'0' * k}, m = 2\nW : n x m\nx : m\ns = sum(W x)\n",
        "chain": head + "a0 = x\n" + "".join(f"a{i} = tanh(a{i - 1})\n" for i in range(1, k + 1)) + f"s = sum(a{k})\n",
        "claims": head + "s = sum(tanh(x))\n" + "claim ds/dx = 1 - tanh(x)^^2\n" * k,
        "tie": head + "y : n\n" + f"s = sum(max(x, x)) + {k} * sum(min(x, abs(x)))\n",
        "saturated": head + "w : n\n" + f"s = tanh({k} * w^T x)\n",
        "name": f"dims n = 3\n{'q' * (100 * k)} : n\ns = sum({'q' * (100 * k)})\n",
    }[kind]


ATTACKS = ["nest", "integer", "decimal", "size", "chain", "claims", "tie", "saturated", "name"]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
@settings(max_examples=int(os.environ.get("GRADCHECK_FUZZ_EXAMPLES", "60")) // 4, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(ATTACKS), k=st.integers(1, 300))
def test_cli_on_issue_14_attacks(tmp_path: Path, command: tuple[str, ...], kind: str, k: int) -> None:
    """The issue's attacks at random sizes; a file without claims that verify accepts must pass (no false alarm)."""
    check_cli(tmp_path, _attack(kind, k).encode("utf-8"), command)
    if command[0] == "verify" and kind != "claims":
        assert FINDINGS["last exit"] in (0, 2), (kind, k, FINDINGS["last exit"])


def test_zz_fuzzer_counts() -> None:
    """Runs after the fuzzers (file order): every input they fed ended in 0, 1 or 2."""
    if FINDINGS["inputs"]:
        print(f"\nCLI fuzzer: {({k: v for k, v in FINDINGS.items() if k != 'last exit'})}")
        assert FINDINGS["inputs"] == sum(v for k, v in FINDINGS.items() if k.startswith("exit "))
        assert FINDINGS["last exit"] in (0, 1, 2)
