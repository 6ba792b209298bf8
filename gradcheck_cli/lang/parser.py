"""Text → AST. The one place lark's exceptions become `ParseError`s.

The DSL text is data: it is only ever tokenized by the grammar, never passed
to `eval`, `exec`, `sympify` or `parse_expr`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from gradcheck_cli.errors import GradcheckError, ParseError, Span
from gradcheck_cli.lang import ast
from gradcheck_cli.lang.blocks import attach_loops
from gradcheck_cli.lang.to_ast import ToAst, claim_head, token_span

GRAMMAR = Path(__file__).with_name("grammar.lark")

# What the user types, for lark's terminal names
_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "INT": "a whole number", "_NL": "end of line",
    "$END": "end of file", "PRIMED": "a derivative like f'(z)", "DERIV": "a derivative like ds/dW",
    "TRANSPOSE": "^T", "POWER": "^2", "HADAMARD": "*", "MINUS": "-", "TIMES": "x",
    "REALS": "ℝ", "QUALIFIER": "a qualifier (symmetric, spd, const)", "MATMUL": "@",
    "POWERED": "a call like tanh²(z)", "NORM_BAR": "‖", "NORM_BAR_F": "‖_F", "ABS_BAR": "|",
    "TIGHT_LSQB": "'['", "SCALED_DIM": "a whole number",
}
_DERIV_PATTERN = (r"[d∂]\s*[A-Za-z_\u0370-\u03FF][A-Za-z_0-9\u0370-\u03FF\u2080-\u2089]*(?:\[[^\]\n]*\])?\s*/\s*"
                  r"[d∂]\s*[A-Za-z_\u0370-\u03FF][A-Za-z_0-9\u0370-\u03FF\u2080-\u2089]*(?:\[[^\]\n]*\])?")  # the grammar's DERIV
_EXPR_START = {"NAME", "NUMBER", "LPAR", "LSQB", "MINUS", "PRIMED", "POWERED", "ONES", "NORM_BAR", "ABS_BAR"}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # cache=True keeps the LALR tables in the temp dir (keyed by the grammar's hash): 0.5 s → 20 ms
    try:
        return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", propagate_positions=True,
                    maybe_placeholders=True, cache=True)
    except OSError:  # a read-only temp dir: build the tables every time
        return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", propagate_positions=True,
                    maybe_placeholders=True)


def parse_file(text: str, source: str = "<stdin>") -> ast.File:
    """Parse a whole .grad file; raises ParseError with a position.

    A syntax error inside a claim's expression is a student's wrong answer, not a
    broken file (DSL.md: an error inside a claim fails that claim): the claim line
    is blanked, the rest parsed again, and the claim comes back carrying its error.
    """
    if not text.endswith("\n"):
        text += "\n"
    # Claim lines are parsed one by one (an error there fails that claim alone), the
    # rest once with those lines blanked: linear in the file however many claims are broken.
    claim_lines = _claim_lines(text)
    errors: list[GradcheckError] = []
    claims = []
    for start, end, line_no in claim_lines:
        try:
            claims.append(_parse_claim(text, start, end, line_no, source))
        except GradcheckError as e:  # a broken claim head: the file's error, unless an earlier line has one
            errors.append(e)
            break
    try:
        statements = _parse_rest(_blank(text, claim_lines), text, source)
    except GradcheckError as e:
        errors.append(e)
    if errors:
        raise min(errors, key=lambda e: e.span.start if e.span is not None else -1)
    if claims:
        statements = sorted(statements + claims, key=lambda n: n.span.start)
    return ast.File(tuple(attach_loops(statements, text, source)), source, text)


def _parse_rest(parsed: str, text: str, source: str) -> list[Any]:
    """The statements of `parsed` (the file, claim lines blanked); a claim left in (a continued line) may still fail alone."""
    broken: list[ast.Claim] = []
    while True:
        try:
            tree = _lark().parse(parsed)
            break
        except UnexpectedInput as e:
            err = _convert(e, text, source)
            claim = _broken_claim(err, parsed, source)
            if claim is None or any(b.span.start == claim.span.start for b in broken):
                raise err from None
            broken.append(claim)
            start, end = claim.span.start, claim.span.end
            parsed = parsed[:start] + " " * (end - start) + parsed[end:]
    _check_depth(tree, source)
    try:
        stmts = ToAst(source).transform(tree)
    except UnexpectedInput as e:
        raise _convert(e, text, source) from None
    except VisitError as e:
        if isinstance(e.orig_exc, GradcheckError):
            raise e.orig_exc from None
        raise
    except RecursionError:
        raise ParseError("the expression is nested too deeply", None) from None
    statements = list(stmts.children)
    if broken:
        statements = sorted(statements + broken, key=lambda n: n.span.start)
    return statements


def _claim_lines(text: str) -> list[tuple[int, int, int]]:
    """(start, end, line number) of each claim that is one whole line (not continued with a backslash)."""
    out: list[tuple[int, int, int]] = []
    start, line_no, continued = 0, 1, False
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end].rstrip("\r")
        code = line.split("#", 1)[0].rstrip()
        ends_continued = code.endswith("\\")
        if not continued and not ends_continued and _CLAIM_HEAD.match(line):
            out.append((start, start + len(line), line_no))
        continued = ends_continued
        start, line_no = end + 1, line_no + 1
    return out


def _blank(text: str, spans: list[tuple[int, int, int]]) -> str:
    parts, pos = [], 0
    for start, end, _ in spans:
        parts += [text[pos:start], " " * (end - start)]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _parse_claim(text: str, start: int, end: int, line_no: int, source: str) -> ast.Claim:
    """One claim line alone, with spans placed in the whole file; a syntax error comes back inside the claim."""
    line = text[start:end] + "\n"
    try:
        tree = _lark().parse(line)
        _check_depth(tree, source, start, line_no - 1)
        (claim,) = ToAst(source, start, line_no - 1).transform(tree).children
        return claim  # type: ignore[no-any-return]
    except UnexpectedInput as e:
        err = _convert(e, line, source)
        if err.span is not None:
            sp_ = err.span
            err.span = Span(sp_.start + start, sp_.end + start, sp_.line + line_no - 1, sp_.column, source)
    except VisitError as e:
        if not isinstance(e.orig_exc, ParseError):
            raise
        err = e.orig_exc
    except ParseError as e:  # nested too deeply
        err = e
    claim = _broken_claim(err, text, source, line_no)
    if claim is None:
        raise err from None
    return claim

# Every later stage (lowering, derive, the printers, numpy evaluation) walks an
# expression recursively; 256 levels of the parse tree (about 128 nested calls or a
# 256-term chain of operators) is far past any lecture formula and well inside
# Python's recursion limit.
MAX_DEPTH = 256


def _check_depth(tree: Any, source: str, offset: int = 0, line0: int = 0) -> None:
    """A clean error at the first level past MAX_DEPTH, found without recursion."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            span = (Span(meta.start_pos + offset, meta.end_pos + offset, meta.line + line0, meta.column, source)
                    if not meta.empty else None)
            raise ParseError(f"the expression is nested too deeply: more than {MAX_DEPTH} levels of calls, "
                             "brackets and operators", span,
                             "name the inner parts with assignments (h1 = tanh(z), h2 = tanh(h1), …)")
        stack.extend((c, depth + 1) for c in reversed(node.children) if hasattr(c, "children"))


_CLAIM_HEAD = re.compile(r"[ \t]*claim[ \t]+(" + _DERIV_PATTERN + r")[ \t]*=")


def _broken_claim(err: ParseError, text: str, source: str, line_no: int | None = None) -> ast.Claim | None:
    """The claim line a syntax error lies on, as a Claim that carries the error; None off claim lines."""
    if err.span is None:
        return None
    pos = min(err.span.start, len(text) - 1)
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    line = text[start:end]
    head = _CLAIM_HEAD.match(line)
    if head is None or err.span.start < start + head.end(0):
        return None  # not a claim, or its head (`claim ds/dW =`) is what is broken
    (num, num_index), (den, den_index) = claim_head(head.group(1), err.span)
    line_no = line_no or text.count("\n", 0, start) + 1
    code = line.split("#", 1)[0].rstrip()
    span = Span(start, start + len(code), line_no, 1, source)
    hstart = start + head.start(1)
    head_span = Span(hstart, start + head.end(1), line_no, head.start(1) + 1, source)
    return ast.Claim(span, num, den, None, head_span, error=err, num_index=num_index, den_index=den_index)


def _span(meta: Any, source: str) -> Span:
    return Span(meta.start_pos, meta.end_pos, meta.line, meta.column, source)


def _describe_expected(expected: set[str]) -> str:
    terms = {t.name: t for t in _lark().terminals}
    if "_NL" in expected:  # a line may go on with a one-line loop (`… for t = 1..T`): no need to suggest it
        expected = expected - {"FOR"}
    if len(expected & _EXPR_START) >= 3:
        return "an expression (a name, a number or '(')"
    words = []
    for name in sorted(expected):
        if name in _WORDS:
            words.append(_WORDS[name])
        elif name in terms and terms[name].pattern.type == "str":
            words.append(repr(terms[name].pattern.value))
        else:
            words.append(name.lower())
    words = sorted(set(words))
    if len(words) > 6:
        return "one of " + ", ".join(words[:6]) + ", …"
    return " or ".join(words) if len(words) <= 2 else "one of " + ", ".join(words)


def _convert(e: UnexpectedInput, text: str, source: str) -> ParseError:
    line, col = getattr(e, "line", 1) or 1, getattr(e, "column", 1) or 1
    pos = getattr(e, "pos_in_stream", None)
    if isinstance(e, UnexpectedCharacters):
        ch = text[pos] if pos is not None and pos < len(text) else "?"
        span = Span(pos or 0, (pos or 0) + 1, line, col, source)
        hint = None
        if ch == "=" and text[pos:pos + 2] == "==":
            hint = "assignments use a single '='"
        return ParseError(f"unexpected character {ch!r}", span, hint)
    if isinstance(e, UnexpectedToken):
        tok = e.token
        expected = set(e.expected)
        caret = text.rfind("^", 0, tok.start_pos or 0)
        if expected == {"LPAR"} and caret >= 0 and not text[caret + 1:tok.start_pos].strip():
            # `u^`, `u^ T`, `x^a`: a lone '^' (`^T` and `^2` are single tokens)
            line_no = text.count("\n", 0, caret) + 1
            col = caret - (text.rfind("\n", 0, caret) + 1) + 1
            return ParseError("'^' must be followed by T (a transpose) or a number (a power)",
                              Span(caret, caret + 1, line_no, col, source),
                              "write u^T for a transpose, x^2 for a square, A^-1 for an inverse, A^-T for its transpose")
        if tok.type in ("$END", "_NL"):
            span = Span(tok.start_pos or len(text), (tok.start_pos or len(text)) + 1,
                        tok.line or line, tok.column or col, source)
            if "RPAR" in expected and not expected & _EXPR_START:
                return ParseError("unclosed '(': the line ended before its ')'", span,
                                  "add the missing ')'")
            if "RSQB" in expected and not expected & _EXPR_START:
                return ParseError("unclosed '[': the line ended before its ']'", span)
            return ParseError(f"the line ended unexpectedly: expected {_describe_expected(expected)}", span)
        span = token_span(tok, source)
        hint = None
        if tok.type == "RPAR":
            hint = "is there a ')' too many?"
        elif tok.type == "EQUAL" and text[max(0, (tok.start_pos or 1) - 1)] == "=":
            hint = "assignments use a single '='"
        elif "onehot" in text[text.rfind("\n", 0, tok.start_pos or 0) + 1:text.find("\n", tok.start_pos or 0)]:
            hint = "a batch of one-hot labels is `Y : N x onehot(C)` (each row one-hot) or `Y : onehot(C) x N` (each column)"
        return ParseError(f"unexpected {tok.value!r}: expected {_describe_expected(expected)}", span, hint)
    if isinstance(e, UnexpectedEOF):
        return ParseError("the file ended unexpectedly", Span(len(text), len(text), line, col, source))
    return ParseError(str(e), Span(0, 0, line, col, source))

