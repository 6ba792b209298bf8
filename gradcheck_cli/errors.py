"""Errors are values with a source position until the CLI prints them.

Every user-facing problem is a `GradcheckError` carrying a `Span`; the CLI maps
them to exit code 2 and prints them with `render_error` (file:line:col, the
source line, a caret under the offending text, and what was expected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A stretch of source text: character offsets plus 1-based line/column."""

    start: int
    end: int
    line: int
    column: int
    source: str = "<stdin>"

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


class GradcheckError(Exception):
    """Base of every user-facing error; the CLI maps these to exit code 2."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.kind} error: {self.message}"


class ParseError(GradcheckError):
    kind = "syntax"


class NameError_(GradcheckError):
    kind = "name"


class ShapeError(GradcheckError):
    kind = "shape"


class DeriveError(GradcheckError):
    """A construct that gradcheck cannot differentiate (never a wrong answer instead)."""

    kind = "derive"


class Warning_(GradcheckError):
    """Not an error: the file is read, but maybe not as its author meant (`tr(X^2)`).

    Carried on the graph (`Graph.warnings`), never raised; printed like an error, headed `warning`.
    """

    kind = "warning"


class UsageError(GradcheckError):
    """A bad flag, a missing file, a bad config: exit 2 like input errors."""

    kind = "usage"


def format_error(err: GradcheckError, source_text: str | None) -> str:
    """Plain-text error report: header, location, source line, caret, hint.

    ```
    error[shape]: cannot multiply x (m×1) by W (n×m): inner sizes 1 and n differ
     --> net.grad:1:11
      |
    1 | s = u^T f(x W + b)
      |           ^^^
      = hint: did you mean `W x`?
    ```
    """
    lines = [f"warning: {cut_long_words(err.message)}" if isinstance(err, Warning_)
             else f"error[{err.kind}]: {cut_long_words(err.message)}"]
    span = err.span
    if span is not None:
        lines.append(f" --> {span.source}:{span.line}:{span.column}")
        if source_text is not None:
            # split like the grammar (only \n ends a line): str.splitlines would also split
            # at a form feed or U+2028 inside a comment and show the wrong line
            src_lines = source_text.split("\n")
            if 1 <= span.line <= len(src_lines):
                text = src_lines[span.line - 1].rstrip("\r").replace("\t", " ")
                num = str(span.line)
                pad = " " * len(num)
                # underline the whole span when it stays on this line
                line_start = _line_start(source_text, span.line)
                width = max(1, min(span.end, line_start + len(text)) - max(span.start, line_start))
                if span.end <= span.start:
                    width = 1
                text, col, width = _window(text, span.column - 1, width)
                lines.append(f"{pad} |")
                lines.append(f"{num} | {text}")
                lines.append(f"{pad} | {' ' * col}{'^' * width}")
    if err.hint:
        pad = " " * len(str(span.line)) if span is not None and source_text is not None else " "
        lines.append(f"{pad} = hint: {cut_long_words(err.hint)}")
    return "\n".join(lines)


_WIDTH = 100  # the most of a source line an error shows


def _window(text: str, col: int, width: int) -> tuple[str, int, int]:
    """At most _WIDTH characters of a long line around the caret, with … where it was cut."""
    if len(text) <= _WIDTH:
        return text, col, width
    start = max(0, min(col - 20, len(text) - _WIDTH))
    shown = text[start:start + _WIDTH]
    head = "…" if start > 0 else ""
    tail = "…" if start + _WIDTH < len(text) else ""
    col = col - start + len(head)
    return head + shown + tail, col, max(1, min(width, _WIDTH - (col - len(head))))


_LONG_WORD = re.compile(r"[^\s'\"`()]{241,}")  # a path to a report stays whole; a 1 MB name does not


def cut_long_words(message: str) -> str:
    """Shorten any run of more than 240 characters (a 1 MB name) to its ends and its length."""
    return _LONG_WORD.sub(lambda m: f"{m.group(0)[:24]}…{m.group(0)[-8:]} ({len(m.group(0)):,} characters)",
                          message)


def _line_start(text: str, line: int) -> int:
    pos = 0
    for _ in range(line - 1):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return pos
