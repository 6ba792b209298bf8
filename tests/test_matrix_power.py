"""`X^2` is the elementwise square; `tr(X^2)` says so, and `X @ X` is the matrix square.

The Matrix Cookbook's ∂tr(X²)/∂X = 2Xᵀ means the matrix square. The DSL keeps
`^k` elementwise (DSL.md), so `tr(X^2)` derives to 2 (I ∘ X); because a student
writing it almost surely means X X, the file gets a warning naming what was
read and how to write the other (`tr(X @ X)`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.lang.graph import parse
from gradcheck_cli.symbolic.printing import to_text
from gradcheck_cli.shapes import using
from gradcheck_cli.numeric.verify import VerifyOptions, verify

HEAD = "dims n = 3, m = 4\nX : n x n\nA : n x m\nx : n\n"


def _grad(text: str, wrt: str = "X") -> str:
    g = parse(text)
    with using(g.env):
        d = derive(g, [wrt])
        return to_text(d.gradients[0].shape_form, g.names())


def test_tr_of_an_elementwise_square_warns_with_the_matrix_spelling() -> None:
    g = parse(HEAD + "s = tr(X^2)\n")
    assert len(g.warnings) == 1
    w = g.warnings[0]
    assert "elementwise" in w.message and "tr(X @ X)" in (w.hint or "")
    assert w.span is not None and (w.span.line, w.span.column) == (5, 8)
    assert _grad(HEAD + "s = tr(X^2)\n") == "2 (I ∘ X)"  # what was read, derived as read


def test_tr_of_a_cube_names_the_matrix_cube() -> None:
    g = parse(HEAD + "s = tr(X^3)\n")
    assert g.warnings and "tr(X @ X @ X)" in (g.warnings[0].hint or "")


@pytest.mark.parametrize("body", [
    "s = tr(X @ X)",     # the matrix square: what the warning suggests
    "s = tr(X X)",
    "s = sum(X^2)",      # elementwise and meant so: no trace
    "s = tr(X)^2",       # the square of the trace
    "s = tr(X^(2))",     # a bracketed exponent is explicitly elementwise
    "s = tr(X^-1)",      # the inverse, not a power
    "s = x^T x + tr(X)",
])
def test_no_warning_where_nothing_is_ambiguous(body: str) -> None:
    assert parse(HEAD + body + "\n").warnings == []


def test_the_matrix_square_derives_to_the_cookbooks_answer() -> None:
    assert _grad(HEAD + "s = tr(X @ X)\n") == "2 Xᵀ"
    assert _grad(HEAD + "s = tr(X X X)\n") == "3 Xᵀ Xᵀ"  # ∂tr(X³)/∂X = 3 (X²)ᵀ


def test_verify_reports_the_warning_and_judges_the_file_as_read(tmp_path: Path) -> None:
    g = parse(HEAD + "s = tr(X^2)\nclaim ds/dX = 2 X^T\n", "t.grad")
    rep = verify(g, VerifyOptions())
    assert any(n.startswith("warning: line 5: tr(X^2)") for n in rep.notes), rep.notes
    assert not rep.ok  # 2 Xᵀ is the matrix square's gradient, not the elementwise one's
    g = parse(HEAD + "s = tr(X @ X)\nclaim ds/dX = 2 X^T\n", "t.grad")
    assert verify(g, VerifyOptions()).ok


def test_derive_prints_the_warning_on_stderr_only(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "t.grad"
    p.write_text(HEAD + "s = tr(X^2)\n")
    r = cli("derive", p, "--format", "json")
    assert r.exit_code == 0, r.output
    json.loads(r.stdout)  # stdout is still only the JSON
    assert "warning: tr(X^2) is read as" in r.stderr and "^^^" in r.stderr and "tr(X @ X)" in r.stderr
