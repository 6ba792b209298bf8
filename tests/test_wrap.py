"""Terminal output fits the console's width: breaks at spaces only (no number or word is cut),
continuations hang under the formula, and piped output keeps one line per formula."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from rich.console import Console

from gradcheck_cli.render.terminal import print_rich
from gradcheck_cli.render.wrap import wrap_line

ROOT = Path(__file__).parent.parent
FILES = ["examples/lstm.grad", "examples/batchnorm.grad", "tests/golden/l2_norm.grad",
         "tests/golden/batchnorm_closed.grad"]


def _rich(text: str, width: int) -> str:
    buf = io.StringIO()
    print_rich(text, Console(file=buf, width=width, highlight=False, soft_wrap=True, color_system=None))
    return buf.getvalue()


def _assert_fits(original: str, shown: str, width: int) -> None:
    for line in shown.splitlines():
        longest = max(line.split(), key=len, default="")
        assert len(line) <= width or len(line.strip()) == len(longest), f"{len(line)} > {width}: {line!r}"
    # the same tokens in the same order: nothing was cut inside a number or a word
    assert shown.split() == original.split()


@pytest.mark.parametrize("width", [60, 100])
@pytest.mark.parametrize("path", FILES)
def test_derive_fits_the_terminal(path: str, width: int, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    text = cli("derive", path).stdout
    _assert_fits(text, _rich(text, width), width)


@pytest.mark.parametrize("width", [60, 100])
def test_verify_fits_the_terminal(width: int, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    text = cli("verify", "examples/homework/submission/window.grad").stdout
    shown = _rich(text, width)
    _assert_fits(text, shown, width)
    assert "error 2.4e-15" in shown  # a number is never split: "2.4e-" / "15"
    assert "the variable's" in shown


def test_continuations_hang_under_the_formula() -> None:
    line = "  shape convention   ∂J/∂W1 = " + " + ".join(f"lam{k} W{k} xᵀ" for k in range(12))
    pieces = wrap_line(line, 60)
    assert len(pieces) > 1
    col = line.index(" = ") + 3
    for p in pieces[1:]:
        assert p[:col].strip() == "" and p[col] != " ", p  # under the right-hand side, never column 0
        assert p[col:].startswith("+ ")  # broken before the operator, at depth 0
    assert " ".join(p.strip() for p in pieces).split() == line.split()


def test_prefers_the_outermost_space() -> None:
    line = "  with  δ = a + (b ∘ (c + d ∘ e ∘ f ∘ g ∘ h)) + (k ∘ (m + n ∘ o ∘ p ∘ q ∘ rr))"
    pieces = wrap_line(line, 50)
    assert pieces[0].endswith("))") or pieces[1].lstrip().startswith("+"), pieces


def test_short_lines_and_pipes_are_untouched(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert wrap_line("  PASS  derived ds/dW", 60) == ["  PASS  derived ds/dW"]
    monkeypatch.chdir(ROOT)
    text = cli("derive", "examples/lstm.grad").stdout  # the runner is a pipe: plain, unwrapped
    assert any(len(l) > 100 for l in text.splitlines())


@given(st.lists(st.sampled_from(["W", "xᵀ", "+", "−", "∘", "(a + b)", "1.6e-15", "relu′(W1 x)", "δ₁",
                                 "sum(R ∘ Xhat, axis=1)", "‖W‖²"]), min_size=1, max_size=60),
       st.integers(min_value=20, max_value=120))
def test_wrap_never_cuts_a_token(words: list[str], width: int) -> None:
    line = "  shape convention   ∂s/∂W = " + " ".join(words)
    pieces = wrap_line(line, width)
    assert " ".join(pieces).split() == line.split()
    for p in pieces[1:] if width < 40 else pieces:
        assert len(p) <= width or len(p.split()) == 1, (width, p)  # only a lone overlong token overflows
