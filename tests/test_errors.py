"""Bad input: one clear message per error, with file:line:col, the line and a caret.

Each `tests/golden/errors/<case>.grad` is a file with one mistake; `<case>.err`
next to it is the exact `format_error` output. `pytest --update-goldens`
rewrites the `.err` files (read the diff: each one is a message a student sees).
Every case also goes through the command line: exit code 2, the same message on
stderr, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradcheck_cli.errors import (
    GradcheckError,
    NameError_,
    ParseError,
    ShapeError,
    Span,
    format_error,
)
from gradcheck_cli.lang.graph import parse

ERRORS = Path(__file__).parent / "golden" / "errors"
CASES = sorted(p.stem for p in ERRORS.glob("*.grad"))

# the kind of error each case must be, and where it must point (line, column)
EXPECTED: dict[str, tuple[type[GradcheckError], int, int]] = {
    "syntax_trailing_plus": (ParseError, 7, 10),
    "syntax_unclosed_paren": (ParseError, 7, 21),
    "syntax_extra_paren": (ParseError, 7, 22),
    "syntax_lone_caret": (ParseError, 8, 6),
    "syntax_unclosed_bracket": (ParseError, 5, 12),
    "syntax_bad_character": (ParseError, 6, 22),
    "syntax_double_equals": (ParseError, 6, 4),
    "syntax_incomplete_declaration": (ParseError, 2, 8),
    "syntax_claim_without_value": (ParseError, 7, 12),
    "unknown_name_suggestion": (NameError_, 7, 9),
    "unknown_function_suggestion": (NameError_, 6, 9),
    "unknown_name_no_suggestion": (NameError_, 6, 20),
    "shape_x_W": (ShapeError, 7, 14),
    "shape_needs_transpose": (ShapeError, 6, 5),
    "shape_add_mismatch": (ShapeError, 6, 5),
    "function_as_value": (NameError_, 6, 9),
    "generic_function_as_value": (NameError_, 7, 9),
    "declared_twice": (NameError_, 6, 1),
    "assigned_twice": (NameError_, 7, 1),
    "assign_to_declared": (NameError_, 6, 1),
    "function_bound_twice": (NameError_, 7, 1),
    "missing_output": (NameError_, 10, 1),
    "output_unknown": (NameError_, 7, 1),
    "arity_max": (ShapeError, 6, 9),
    "arity_tanh": (ShapeError, 6, 9),
    "axis_out_of_range": (ShapeError, 6, 21),
    "axis_unknown_keyword": (ShapeError, 6, 20),
    "bad_axis_on_softmax": (ShapeError, 6, 27),
    "nonsquare_tr": (ShapeError, 6, 5),
    "nonsquare_inverse": (ShapeError, 6, 9),
    "rows_out_of_range": (ShapeError, 6, 9),
    "concat_mismatch": (ShapeError, 6, 5),
    "dims_zero": (ShapeError, 1, 6),
    "dims_twice": (NameError_, 1, 20),
    "symmetric_not_square": (ShapeError, 6, 1),
    "builtin_declared": (NameError_, 6, 1),
    "derivative_of_softmax": (NameError_, 6, 9),
    "softmax_of_scalar": (ShapeError, 6, 5),
    "leaky_relu_slope": (ShapeError, 6, 25),
    "near_miss_case": (NameError_, 3, 9),
    "near_miss_alias": (NameError_, 3, 5),
    "slice_out_of_range": (ShapeError, 4, 9),
}


def error_of(path: Path, source: str | None = None) -> GradcheckError:
    text = path.read_text(encoding="utf-8")
    with pytest.raises(GradcheckError) as info:
        parse(text, source or path.name)
    return info.value


def test_every_case_has_an_expectation() -> None:
    assert sorted(EXPECTED) == CASES


@pytest.mark.parametrize("case", CASES)
def test_error_message_golden(case: str, golden: Callable[[Path, str], None]) -> None:
    path = ERRORS / f"{case}.grad"
    err = error_of(path)
    golden(ERRORS / f"{case}.err", format_error(err, path.read_text(encoding="utf-8")) + "\n")


@pytest.mark.parametrize("case", CASES)
def test_error_kind_and_position(case: str) -> None:
    kind, line, column = EXPECTED[case]
    err = error_of(ERRORS / f"{case}.grad")
    assert type(err) is kind, f"{case}: {type(err).__name__}: {err.message}"
    assert err.span is not None
    assert (err.span.line, err.span.column) == (line, column), format_error(err, None)
    assert err.span.source == f"{case}.grad"
    assert err.message and not err.message.endswith(".")


@pytest.mark.parametrize("case", CASES)
def test_error_exits_2_without_traceback(case: str, cli: Callable[..., Any]) -> None:
    path = ERRORS / f"{case}.grad"
    r = cli("graph", path)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert r.stdout == ""
    expected = format_error(error_of(path, str(path)), path.read_text(encoding="utf-8"))
    assert r.stderr == expected + "\n"


@pytest.mark.parametrize("case", ["syntax_trailing_plus", "shape_x_W", "unknown_name_suggestion", "missing_output"])
def test_derive_exits_2_too(case: str, cli: Callable[..., Any]) -> None:
    r = cli("derive", ERRORS / f"{case}.grad")
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error[")
    assert "Traceback" not in r.output


def test_subprocess_exit_code_and_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.grad"
    bad.write_text("dims n = 3, m = 4\nW : n x m\nx : m\nu : n\ns = u^T tanh(x W)\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "gradcheck_cli", "graph", str(bad)], capture_output=True,
                       text=True, timeout=60, check=False, env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    assert r.stderr.splitlines()[:2] == [
        "error[shape]: cannot multiply x (m×1) by W (n×m): inner sizes 1 and n differ",
        f" --> {bad}:5:14",
    ]
    assert "  = hint: did you mean `W x`?" in r.stderr


def test_missing_file_exits_2(cli: Callable[..., Any], tmp_path: Path) -> None:
    r = cli("graph", tmp_path / "nope.grad")
    assert r.exit_code == 2, r.output
    assert "no such file" in r.stderr
    assert "Traceback" not in r.output


def test_a_directory_exits_2(cli: Callable[..., Any], tmp_path: Path) -> None:
    r = cli("graph", tmp_path)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_bad_format_flag_exits_2(cli: Callable[..., Any]) -> None:
    r = cli("graph", ERRORS / "shape_x_W.grad", "--format", "png")
    assert r.exit_code == 2, r.output


def test_non_utf8_file_exits_2(cli: Callable[..., Any], tmp_path: Path) -> None:
    bad = tmp_path / "latin1.grad"
    bad.write_bytes("x : n\ns = sum(x) # é\n".encode("latin-1"))
    r = cli("graph", bad)
    assert r.exit_code == 2, r.output


# ---------------------------------------------------------------- errors inside claims


CLAIMS = """\
dims n = 3, m = 4
W : n x m
x : m
u : n
s = u^T W x
claim ds/dx = W u
claim ds/dQ = u
claim ds/dW = u x^T + nope
claim ds/dW = u x^T
"""


def test_claim_errors_fail_the_claim_not_the_file() -> None:
    graph = parse(CLAIMS, "claims.grad")
    msgs = [c.error.message if c.error else None for c in graph.claims]
    assert msgs == [
        "cannot multiply W (n×m) by u (n×1): inner sizes m and n differ",
        "unknown name Q in ds/dQ",
        "unknown name nope",
        None,
    ]
    spans = [c.error.span for c in graph.claims if c.error]
    assert [(s.line, s.column) for s in spans if s] == [(6, 15), (7, 7), (8, 23)]


def test_claim_errors_do_not_stop_graph(cli: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "claims.grad"
    path.write_text(CLAIMS, encoding="utf-8")
    r = cli("graph", path)
    assert r.exit_code == 0, r.output


# ---------------------------------------------------------------- format_error itself


def test_format_error_underlines_the_span() -> None:
    text = "a\ns = u^T tanh(x W + b)\n"
    err = ShapeError("cannot multiply", Span(15, 18, 2, 14, "f.grad"), "did you mean `W x`?")
    assert format_error(err, text) == (
        "error[shape]: cannot multiply\n"
        " --> f.grad:2:14\n"
        "  |\n"
        "2 | s = u^T tanh(x W + b)\n"
        "  |              ^^^\n"
        "  = hint: did you mean `W x`?"
    )


def test_format_error_without_source_or_span() -> None:
    assert format_error(ParseError("boom"), None) == "error[syntax]: boom"
    err = ParseError("boom", Span(0, 1, 9, 1, "f.grad"))
    assert format_error(err, "only one line\n") == "error[syntax]: boom\n --> f.grad:9:1"


def test_error_str_has_the_position() -> None:
    err = error_of(ERRORS / "shape_x_W.grad")
    assert str(err) == "shape_x_W.grad:7:14: shape error: cannot multiply x (m×1) by W (n×m): inner sizes 1 and n differ"


def test_a_byte_order_mark_and_crlf_line_ends_are_not_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Files saved by Windows editors: a UTF-8 BOM and CRLF; positions still point at the right column."""
    from gradcheck_cli.errors import GradcheckError
    from gradcheck_cli.lang.graph import load

    good = tmp_path / "bom.grad"
    good.write_bytes("\ufeffW : n x m\r\nx : m\r\ns = sum(W x)\r\n".encode())
    assert load(str(good)).output_name == "s"
    bad = tmp_path / "bad.grad"
    bad.write_bytes("\ufeffW : n x m\r\nx : k\r\ns = sum(W x)\r\n".encode())
    try:
        load(str(bad))
    except GradcheckError as e:
        assert e.span is not None and (e.span.line, e.span.column) == (3, 9)
    else:
        raise AssertionError("W x with x : k must not type-check")
