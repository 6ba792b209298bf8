"""Loop blocks: the indented lines after `for t = a..b:` become the loop's body.

The grammar reads one statement a line (indentation is whitespace to it); this
pass groups them by the text's indentation, so comments and blank lines inside a
block need nothing special, and a tab/space mismatch gets its own message.
"""

from __future__ import annotations

from dataclasses import replace

from gradcheck_cli.errors import ParseError, Span
from gradcheck_cli.lang import ast
from gradcheck_cli.lang.to_ast import ForHead, Suffixed


def _indent(text: str, start: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    lead = text[line_start:start]
    return lead if not lead.strip() else lead[:len(lead) - len(lead.lstrip())]


def _bind(index: ast.Index | None, var: str) -> ast.Index | None:
    """`t` in `h[t]` inside `for t = …:` is the loop variable, not a size."""
    if index is not None and index.size == var:
        return replace(index, var=var, size=None)
    return index


def attach_loops(statements: list[ast.Node], text: str, source: str) -> list[ast.Node]:
    """Statements in file order with each ForHead and its indented lines folded into an `ast.For`."""
    out: list[ast.Node] = []
    i = 0
    while i < len(statements):
        s = statements[i]
        i += 1
        if isinstance(s, Suffixed):  # a one-line loop
            h = s.head
            out.append(ast.For(s.span, h.var, h.start, h.stop, (_body_statement(s.statement, h.var),)))
            continue
        if not isinstance(s, ForHead):
            out.append(s)
            continue
        head_indent = _indent(text, s.span.start)
        body: list[ast.Node] = []
        body_indent: str | None = None
        while i < len(statements) and len(ind := _indent(text, statements[i].span.start)) > len(head_indent):
            b = statements[i]
            body_indent = ind if body_indent is None else body_indent
            if ind != body_indent:
                raise _indent_error(b, ind, body_indent, text, source)
            body.append(_body_statement(b, s.var))
            i += 1
        if i < len(statements) and _indent(text, statements[i].span.start) != head_indent and body:
            b = statements[i]
            raise _indent_error(b, _indent(text, b.span.start), head_indent, text, source)
        if not body:
            raise ParseError("the loop has no body", s.span,
                             f"indent the lines of the loop under `for {s.var} = …:` (two spaces)")
        end = body[-1].span
        span = Span(s.span.start, end.end, s.span.line, s.span.column, source)
        out.append(ast.For(span, s.var, s.start, s.stop, tuple(body)))
    return out


def _body_statement(b: ast.Node, var: str) -> ast.Node:
    if isinstance(b, ForHead):
        raise ParseError("a loop inside a loop is not supported", b.span, "write one loop over t")
    if isinstance(b, ast.Claim):  # a claim about every step: `claim dL/dx[t] = W_xh^T delta[t]`
        c = replace(b, num_index=_bind(b.num_index, var), den_index=_bind(b.den_index, var))
        if b.error is None and all(ix is None or ix.var != var for ix in (c.num_index, c.den_index)):
            raise ParseError(f"a claim inside the loop over {var} is about a step: d{b.num}/d{b.den}"
                             f"{'' if b.den_index is None else '[…]'} names no step [{var}]", b.head_span,
                             f"write `claim d{b.num}/d{b.den}[{var}] = …` for every step, or put the claim "
                             "before or after the loop")
        return c
    if not isinstance(b, ast.Assign):
        raise ParseError("only assignments and claims go inside a loop", b.span,
                         "declare sequences (`x[t] : D, t = 1..T`) before the loop")
    return replace(b, index=_bind(b.index, var))


def _indent_error(b: ast.Node, ind: str, expected: str, text: str, source: str) -> ParseError:
    line_start = text.rfind("\n", 0, b.span.start) + 1
    span = Span(line_start, line_start + max(len(ind), 1), b.span.line, 1, source)
    if ("\t" in ind) != ("\t" in expected) or ("\t" in ind and " " in ind):
        return ParseError("inconsistent indentation: tabs and spaces are mixed", span,
                          "indent every line of the loop the same way (spaces, say two)")
    return ParseError(f"unexpected indentation: {len(ind)} columns where the block has {len(expected)}", span,
                      "indent every line of the loop's body by the same amount")


