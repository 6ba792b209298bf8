"""A student's `.grad` file against the handout it started from (`question = …` in the config).

Grading a student's claims against the student's own graph rewards changing
the graph: `s = sum(x)` with `claim ds/dx = ones(n)` is a true claim about the
wrong question. So the submission must keep the handout's graph: the same
`dims`, the same declarations, the same assignments and `output` lines,
compared as syntax trees (spacing, comments and the order of independent lines
do not matter, `W x` and `W @ x` do). It may add helper assignments of new
names (`delta = u * f'(z)`) and claims.

The required claims are the handout's claims whose answer mentions `TODO`
(every claim of the handout when none does): each must be in the submission,
else it is a failed "missing claim ds/dW".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcheck_cli.lang import ast
from gradcheck_cli.lang.loops import step_name
from gradcheck_cli.lang.parser import parse_file

_SPAN_FIELDS = {"span", "name_spans", "func_span", "head_span", "text", "error"}
MAX_SHOWN = 60  # characters of a line quoted in a message


@dataclass(frozen=True)
class Required:
    """A claim the handout asks for: its derivative and the handout line that asks."""

    num: str
    den: str
    line: int

    @property
    def name(self) -> str:
        return f"claim d{self.num}/d{self.den}"


@dataclass(frozen=True)
class Comparison:
    """`difference`: the first way the submission's graph departs from the handout's, or None."""

    difference: str | None
    required: tuple[Required, ...]
    present: frozenset[tuple[str, str]]  # (num, den) of every claim in the submission

    @property
    def missing(self) -> list[Required]:
        return [r for r in self.required if (r.num, r.den) not in self.present]


def _key(node: Any) -> Any:
    """A node as nested tuples without positions: equal keys, equal syntax."""
    if isinstance(node, ast.Num):
        return ("Num", node.value)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(
            _key(getattr(node, f.name)) for f in dataclasses.fields(node) if f.name not in _SPAN_FIELDS)
    if isinstance(node, (tuple, list)):
        return tuple(_key(x) for x in node)
    return node


def _mentions_todo(node: Any) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "TODO"
    if dataclasses.is_dataclass(node):
        return any(_mentions_todo(getattr(node, f.name)) for f in dataclasses.fields(node)
                   if f.name not in _SPAN_FIELDS)
    if isinstance(node, (tuple, list)):
        return any(_mentions_todo(x) for x in node)
    return False


class _Lines:
    """One file's graph as named items: ("dim", d), ("decl", W), ("assign", z), ("output", s)."""

    def __init__(self, file: ast.File):
        self.text = file.text
        self.items: dict[tuple[str, str], tuple[Any, int, str]] = {}  # item → (key, line, shown text)
        self.order: list[tuple[str, str]] = []
        self.repeated: list[tuple[tuple[str, str], int]] = []
        self.claims: list[ast.Claim] = []
        for st in file.statements:
            if isinstance(st, ast.Claim):
                self.claims.append(st)
            elif isinstance(st, ast.Dims):
                for item in st.items:
                    self._add(("dim", item.name), ("dim", item.size), item.span, st.span)
            elif isinstance(st, ast.Decl):
                for name in st.names:
                    self._add(("decl", name), ("decl", st.kind, _key(st.dims), tuple(st.qualifiers)), st.span)
            elif isinstance(st, ast.SeqDecl):  # `x[t] : D, t = 1..T`, `h[0] : H`
                d = st.decl
                self._add(("decl", step_name(d.names[0], st.index or st.var)),
                          ("seq", d.kind, _key(d.dims), tuple(d.qualifiers), _key((st.start, st.stop))), st.span)
            elif isinstance(st, ast.Assign):
                self._add(("assign", step_name(st.name, st.index)), _key(st.value), st.span)
            elif isinstance(st, ast.For):  # the loop's steps: each line as an assignment of its range
                self._loop(st)
            elif isinstance(st, ast.Output):
                self._add(("output", st.name), ("output",), st.span)

    def _loop(self, st: ast.For) -> None:
        span = (st.var, _key(st.start), _key(st.stop))
        for b in st.body:
            if isinstance(b, ast.Claim):
                self.claims.append(b)
            elif isinstance(b, ast.Assign):
                self._add(("assign", step_name(b.name, b.index)), ("loop", span, _key(b.value)), b.span)

    def _add(self, item: tuple[str, str], key: Any, span: Any, line_span: Any = None) -> None:
        shown = _shown(self.text, line_span or span)
        if item in self.items:
            self.repeated.append((item, span.line))
            return
        self.items[item] = (key, span.line, shown)
        self.order.append(item)

    def names(self) -> set[str]:
        """The names the file defines; a step `h[t]` defines `h`."""
        return {name.split("[")[0] for kind, name in self.items if kind in ("decl", "assign")}


def _claim_names(c: ast.Claim) -> tuple[str, str]:
    """(numerator, denominator) as written: `dL/dh[0]` is about h[0], `dL/dx[t]` in a loop about every x[t]."""
    return step_name(c.num, c.num_index), step_name(c.den, c.den_index)


def _shown(text: str, span: Any) -> str:
    """The source of one statement, on one line, cut to MAX_SHOWN characters."""
    src = " ".join(text[span.start:span.end].split())
    return src if len(src) <= MAX_SHOWN else src[: MAX_SHOWN - 1] + "…"


def _what(item: tuple[str, str]) -> str:
    kind, name = item
    return {"dim": f"the size {name}", "decl": f"the declaration of {name}",
            "assign": f"the assignment to {name}", "output": f"`output {name}`"}[kind]


def _difference(hand: _Lines, sub: _Lines) -> str | None:
    for item in hand.order:
        key, line, shown = hand.items[item]
        if item not in sub.items:
            return f"{_what(item)} is missing (the handout's line {line}: `{shown}`)"
        skey, sline, sshown = sub.items[item]
        if skey != key:
            return f"line {sline} `{sshown}` changes {_what(item)} (the handout's line {line}: `{shown}`)"
    taken = hand.names()
    for item, line in sub.repeated:
        if item in hand.items:
            return f"line {line} defines {item[1]} a second time; the handout defines it once"
    for item in sub.order:
        if item in hand.items:
            continue
        kind, name = item
        _k, line, shown = sub.items[item]
        if kind == "assign" and name.split("[")[0] not in taken:
            continue  # a helper: `delta = u * f'(z)`
        if kind == "output":
            continue  # which node is the output matters to `derive`, not to the claims
        return f"line {line} `{shown}` is not in the handout: only claims and helpers with new names may be added"
    return None


def compare(question: Path, submission: Path) -> Comparison:
    """Parse both files (ParseError/UsageError propagate) and compare their graphs."""
    hand = _Lines(parse_file(_read(question), str(question)))
    sub = _Lines(parse_file(_read(submission), str(submission)))
    todo = [c for c in hand.claims if c.value is not None and _mentions_todo(c.value)]
    asked = todo or hand.claims
    required: list[Required] = []
    for c in asked:
        num, den = _claim_names(c)
        if all((r.num, r.den) != (num, den) for r in required):
            required.append(Required(num, den, c.span.line))
    return Comparison(difference=_difference(hand, sub), required=tuple(required),
                      present=frozenset(_claim_names(c) for c in sub.claims))


def _read(path: Path) -> str:
    from gradcheck_cli.errors import UsageError

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    return text
