"""Fuzzing the parser and the lowering: no input may raise anything but a
`GradcheckError`, and none may hang.

Four sources of input, from least to most structured: arbitrary text; a soup of
the language's own tokens; lines built from a small expression grammar over
declared names (mostly valid syntax, so the shape checker and the lowering are
exercised, not only the parser); and the example files with random edits.
Each example runs under a hard alarm as well as hypothesis's deadline, so a
hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.lang.graph import Graph, parse

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").rglob("*.grad"))
HARD_LIMIT_S = 10

FUZZ = settings(max_examples=300, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (rather than hang) when one example takes longer than `seconds`."""
    if sys.platform == "win32":  # no SIGALRM: rely on hypothesis's deadline
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"parse took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def parse_or_user_error(text: str) -> Graph | None:
    """Parse; a GradcheckError is a fine outcome, anything else fails the test."""
    with time_limit(HARD_LIMIT_S):
        try:
            graph = parse(text, "fuzz.grad")
        except GradcheckError as e:
            assert e.message, "an error without a message"
            if e.span is not None:
                assert e.span.source == "fuzz.grad"
                assert 1 <= e.span.line <= text.count("\n") + 2, (e.span, text)
                assert e.span.column >= 1
            return None
    assert graph.output_name in graph.values
    return graph


@pytest.fixture(scope="module", autouse=True)
def warm_up() -> None:
    """Build the grammar and import sympy once, outside the per-example deadline."""
    parse("dims n = 2\nx : n\ns = sum(tanh(x))\n")


# ---------------------------------------------------------------- arbitrary text


@FUZZ
@given(st.text(max_size=300))
@example("")
@example("\n\n\n")
@example("s = (((((((((((x")
@example("dims")
@example("claim")
@example("x : onehot(")
@example("f'(")
@example("∂s/∂")
@example("\\\n\\\n")
@example("s = x\x00")
@example("x ∈ ℝ^(")
def test_arbitrary_text(text: str) -> None:
    parse_or_user_error(text)


# ---------------------------------------------------------------- token soup

TOKENS = [
    "dims", "claim", "output", "function", "scalar", "onehot", "symmetric", "spd", "const",
    "n", "m", "W", "x", "b", "u", "s", "z", "h", "f", "Wx", "delta", "ds/dW", "∂s/∂W", "d s / d x",
    "tanh", "sigmoid", "σ", "relu", "softmax", "sum", "mean", "tr", "inv", "diag", "rows", "concat",
    "f'", "σ'", "tanh'", "axis", "0", "1", "2", "3", "0.5", "1e-3", "12",
    "=", ":", "∈", "ℝ", "R", "x", "×", ",", ";", "(", ")", "[", "]", "{", "}",
    "+", "-", "−", "*", "**", "∘", "⊙", "·", "/", "@", "^", "^T", "ᵀ", "'", "^-1", "^2", "²", "^(",
    "#", "# comment", "\\\n", "\n", "\n", "\n", " ", "\t",
]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=60), st.sampled_from([" ", ""]))
def test_token_soup(tokens: list[str], sep: str) -> None:
    parse_or_user_error(sep.join(tokens))


# ---------------------------------------------------------------- well-formed-ish lines

HEADER = """\
dims n = 3, m = 4, k
W : n x m
A : n x n
x : m
b : n
u : n
X : m x k
lam : scalar
y : onehot(n)
f : function
"""
NAMES = ["W", "A", "x", "b", "u", "X", "lam", "y", "f", "z", "h", "q", "n", "m", "2", "0.5", "Wx", "uᵀ"]
UNARY = ["tanh", "sigmoid", "σ", "relu", "exp", "log", "f", "f'", "softmax", "log_softmax", "sum", "mean",
         "norm", "tr", "det", "logdet", "inv", "diag", "logsumexp", "sqrt", "tanh'", "softmax'"]
BINARY = ["+", "-", "*", "/", "@", " ", "∘"]
POSTFIX = ["^T", "ᵀ", "'", "^-1", "^2", "**2", "^(0.5)"]


def expressions() -> st.SearchStrategy[str]:
    leaves = st.sampled_from(NAMES)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(st.sampled_from(UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, st.sampled_from(POSTFIX)).map(lambda t: f"{t[0]}{t[1]}"),
            inner.map(lambda e: f"({e})"),
            inner.map(lambda e: f"-{e}"),
            st.tuples(inner, inner).map(lambda t: f"[{t[0]}; {t[1]}]"),
            st.tuples(st.sampled_from(["sum", "mean"]), inner, st.sampled_from(["0", "1", "2"]))
            .map(lambda t: f"{t[0]}({t[1]}, axis={t[2]})"),
            st.tuples(st.sampled_from(["max", "min", "leaky_relu", "cross_entropy", "rows"]), inner, inner)
            .map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def statements() -> st.SearchStrategy[str]:
    targets = st.sampled_from(["z", "h", "q", "s", "f", "W", "tanh"])
    return st.one_of(
        st.tuples(targets, expressions()).map(lambda t: f"{t[0]} = {t[1]}"),
        st.tuples(st.sampled_from(["ds/dW", "ds/dx", "dh/dz", "∂s/∂b", "dq/dQ"]), expressions())
        .map(lambda t: f"claim {t[0]} = {t[1]}"),
        st.sampled_from(["output s", "output h", "f = tanh", "g = f", "v : n const", "dims n = 5", "dims k"]),
    )


@FUZZ
@given(st.lists(statements(), min_size=1, max_size=6))
def test_generated_statements(lines: list[str]) -> None:
    graph = parse_or_user_error(HEADER + "\n".join(lines) + "\n")
    if graph is not None:
        # whatever parsed is a consistent graph: every claim parsed or carries its own error
        for claim in graph.claims:
            assert (claim.expr is None) != (claim.error is None)


# ---------------------------------------------------------------- mutated examples


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLES)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate_line"]))
        if kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)):]
        elif kind == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        elif kind == "replace":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos + 1:]
        else:
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, max(0, len(lines) - 1)))
            text = "".join(lines[:i + 1] + lines[i:i + 1] + lines[i + 1:])
    return text


@pytest.mark.skipif(not EXAMPLES, reason="no examples/*.grad")
@FUZZ
@given(mutated_examples())
def test_mutated_examples(text: str) -> None:
    parse_or_user_error(text)


# ---------------------------------------------------------------- pathological sizes


PATHOLOGICAL = {
    "deep_parens": "dims n = 3\nx : n\ns = sum(" + "(" * 3000 + "x" + ")" * 3000 + ")\n",
    "deep_minus": "dims n = 3\nx : n\ns = sum(" + "-" * 3000 + "x)\n",
    "deep_calls": "dims n = 3\nx : n\ns = sum(" + "tanh(" * 3000 + "x" + ")" * 3000 + ")\n",
    "long_sum": "dims n = 3\nx : n\ns = " + " + ".join(["sum(x)"] * 3000) + "\n",
    "long_chain_then_shape_error": "dims n = 3, m = 4\nx : n\nW : n x m\nh0 = x\n"
    + "".join(f"h{i} = tanh(h{i - 1})\n" for i in range(1, 2500)) + "s = h2499 W\n",
    "one_huge_name": "x" * 100_000,
    "huge_dim": "dims n = 99999999999999999999\nx : n\ns = sum(x)\n",
    "huge_power": "dims n = 3\nx : n\ns = sum(x^99999999999)\n",
    "overflowing_number": "dims n = 3\nx : n\ns = 1e99999 * sum(x)\n",
}


@pytest.mark.parametrize("case", sorted(PATHOLOGICAL))
def test_pathological_inputs(case: str) -> None:
    parse_or_user_error(PATHOLOGICAL[case])
