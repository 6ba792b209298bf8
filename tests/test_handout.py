"""handout.compare: a submission keeps the handout's graph and answers its TODO claims.

Each test writes a small handout and a submission that differ in one way,
and checks what compare() says: the first difference with its line and
both texts, or None when only claims and new helpers were added.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_cli.homework.handout import MAX_SHOWN, compare
from gradcheck_cli.report.model import Entry
from gradcheck_cli.numeric.result import Check, Report

HANDOUT = """\
dims n = 3, m = 4
W : n x m
x : m
u : n
f : function
z = W x
h = f(z)
s = u^T h
claim ds/du = TODO
claim ds/dW = TODO   # n x m
"""


def pair(tmp_path: Path, submission: str, handout: str = HANDOUT) -> tuple[Path, Path]:
    q, s = tmp_path / "q.grad", tmp_path / "s.grad"
    q.write_text(handout, encoding="utf-8")
    s.write_text(submission, encoding="utf-8")
    return q, s


def answered(text: str = HANDOUT) -> str:
    return (text.replace("claim ds/du = TODO", "delta = u * f'(z)\nclaim ds/du = h")
                .replace("claim ds/dW = TODO", "claim ds/dW = delta x^T"))


def test_answers_and_helpers_keep_the_graph(tmp_path: Path) -> None:
    c = compare(*pair(tmp_path, answered()))
    assert c.difference is None
    assert [r.name for r in c.required] == ["claim ds/du", "claim ds/dW"]
    assert [r.line for r in c.required] == [9, 10]
    assert c.missing == []


def test_spacing_comments_and_the_order_of_lines_do_not_matter(tmp_path: Path) -> None:
    text = answered().replace("z = W x", "z   =   W x    # the pre-activation")
    lines = text.splitlines()
    lines[1], lines[2] = lines[2], lines[1]  # x declared before W
    assert compare(*pair(tmp_path, "\n".join(lines) + "\n")).difference is None


@pytest.mark.parametrize("change,words", [
    (("z = W x", "z = W @ x"), "line 6 `z = W @ x` changes the assignment to z (the handout's line 6: `z = W x`)"),
    (("h = f(z)", "h = tanh(z)"), "changes the assignment to h"),
    (("dims n = 3, m = 4", "dims n = 2, m = 4"), "changes the size n (the handout's line 1: `dims n = 3, m = 4`)"),
    (("W : n x m", "W : m x n"), "changes the declaration of W"),
    (("f : function\n", ""), "the declaration of f is missing (the handout's line 5: `f : function`)"),
    (("s = u^T h", "s = sum(x)"), "changes the assignment to s"),
])
def test_a_changed_line_is_the_difference_named(tmp_path: Path, change: tuple[str, str], words: str) -> None:
    c = compare(*pair(tmp_path, answered().replace(*change)))
    assert c.difference is not None and words in c.difference, c.difference


@pytest.mark.parametrize("extra,words", [
    ("y : n\n", "`y : n` is not in the handout"),
    ("z = W x + 1\n", "defines z a second time"),
    ("f = tanh\n", "`f = tanh` is not in the handout"),  # f is declared: binding it changes the question
    ("dims k = 2\n", "`dims k = 2` is not in the handout"),
])
def test_added_declarations_and_redefinitions_are_differences(tmp_path: Path, extra: str, words: str) -> None:
    c = compare(*pair(tmp_path, answered() + extra))
    assert c.difference is not None and words in c.difference, c.difference


def test_missing_claims_are_listed(tmp_path: Path) -> None:
    sub = "\n".join(ln for ln in answered().splitlines() if not ln.startswith("claim ds/dW")) + "\n"
    c = compare(*pair(tmp_path, sub))
    assert c.difference is None and [r.name for r in c.missing] == ["claim ds/dW"]


def test_without_todo_every_claim_of_the_handout_is_required(tmp_path: Path) -> None:
    handout = HANDOUT.replace("claim ds/du = TODO", "claim ds/du = h").replace("claim ds/dW = TODO   # n x m\n", "")
    c = compare(*pair(tmp_path, answered(handout), handout))
    assert [r.name for r in c.required] == ["claim ds/du"] and c.missing == []


def test_long_lines_are_cut_in_the_message(tmp_path: Path) -> None:
    long = "z = W x" + " + W x" * 200
    c = compare(*pair(tmp_path, answered().replace("z = W x", long)))
    assert c.difference is not None and len(c.difference) < 3 * MAX_SHOWN + 100 and "…" in c.difference


def _claim(name: str, ok: bool) -> Check:
    return Check(name=name, kind="claim", ok=ok, status="pass" if ok else "fail")


def test_required_claims_count_once_each() -> None:
    """Ten copies of a right claim do not outweigh a missing one; a wrong copy fails its claim."""
    checks = [_claim("claim ds/du", True)] * 10 + [_claim("claim ds/dW", False), _claim("claim ds/dx", True)]
    e = Entry(name="q1", points=4, partial=True, report=Report(file="s.grad", checks=checks),
              required=("claim ds/du", "claim ds/dW"))
    assert e.score == 2.0  # ds/du right, ds/dW wrong; ds/dx is not asked for
    checks.append(_claim("claim ds/du", False))
    assert e.score == 0.0
    plain = Entry(name="q1", points=4, partial=True, report=Report(file="s.grad", checks=checks[:12]))
    assert plain.score == pytest.approx(4 * 11 / 12)  # without a handout: every claim counts, as before


LOOP_HANDOUT = """\
dims H = 3, D = 2, T = 4
W : H x H
U : H x D
u : H
x[t] : D, t = 1..T
h[0] : H
for t = 1..T:
  h[t] = tanh(W h[t-1] + U x[t])
s = u^T h[T]
claim ds/dW = TODO
claim ds/dh[T] = TODO
for t = 1..T:
  claim ds/dx[t] = TODO
"""

LOOP_ANSWER = (LOOP_HANDOUT
               .replace("claim ds/dW = TODO", "g[T+1] = 0\ng[t] = (W^T g[t+1] + e[t]) * (1 - h[t]^2)   for t = T, …, 1\n"
                        "e[T] = u\ne[t] = zeros(H)   for t = T−1, …, 1\nclaim ds/dW = sum(g[t] h[t-1]^T for t = 1..T)")
               .replace("claim ds/dh[T] = TODO", "claim ds/dh[T] = u")
               .replace("  claim ds/dx[t] = TODO", "  claim ds/dx[t] = U^T g[t]"))


def test_a_loop_handout_answered_with_helper_loops_keeps_the_graph(tmp_path: Path) -> None:
    c = compare(*pair(tmp_path, LOOP_ANSWER, LOOP_HANDOUT))
    assert c.difference is None
    assert [r.name for r in c.required] == ["claim ds/dW", "claim ds/dh[T]", "claim ds/dx[t]"]
    assert c.missing == []


def test_the_required_claims_are_named_as_verify_names_them(tmp_path: Path) -> None:
    """A report scores a required claim by the checks of its name: the names must be the same."""
    from gradcheck_cli.lang.graph import parse
    from gradcheck_cli.numeric.verify import VerifyOptions, verify

    c = compare(*pair(tmp_path, LOOP_ANSWER, LOOP_HANDOUT))
    checks = {k.name: k.ok for k in verify(parse(LOOP_ANSWER, "s.grad"), VerifyOptions(trials=1)).checks}
    assert {r.name: checks.get(r.name) for r in c.required} == {r.name: True for r in c.required}


@pytest.mark.parametrize("change,words", [
    (("  h[t] = tanh(W h[t-1] + U x[t])", "  h[t] = tanh(W h[t-1] + U x[t] + u)"), "changes the assignment to h[t]"),
    (("x[t] : D, t = 1..T", "x[t] : D const, t = 1..T"), "changes the declaration of x[t]"),
    (("for t = 1..T:\n  h[t]", "for t = 2..T:\n  h[t]"), "changes the assignment to h[t]"),
])
def test_a_changed_loop_is_a_difference(tmp_path: Path, change: tuple[str, str], words: str) -> None:
    c = compare(*pair(tmp_path, LOOP_ANSWER.replace(*change), LOOP_HANDOUT))
    assert c.difference is not None and words in c.difference, c.difference


def test_a_missing_claim_about_every_step_is_listed(tmp_path: Path) -> None:
    text = LOOP_ANSWER.replace("for t = 1..T:\n  claim ds/dx[t] = U^T g[t]\n", "")
    c = compare(*pair(tmp_path, text, LOOP_HANDOUT))
    assert [r.name for r in c.missing] == ["claim ds/dx[t]"]


def test_a_required_claim_no_check_answers_does_not_pass() -> None:
    """A required claim is graded by the checks of its name; with none of that name it has not passed."""
    e = Entry(name="q1", points=2.0, report=Report(file="s.grad", checks=[]), required=("claim ds/dx[t]",), partial=True)
    assert e.score == 0.0
