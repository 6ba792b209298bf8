"""Fit a line of derive or verify text to the terminal's width, the way a careful person would.

Rich wraps at any space and starts the rest at column 0; a formula then reads
`… + (W2ᵀ δ) ∘` / `relu′(W1 x)) xᵀ`. Here a line breaks only at a space (so no
number or word is ever cut: `1.6e-15` stays whole), preferring the space at the
lowest bracket depth, before a `+`/`−`, latest in the line; the continuation
hangs under the start of the formula (after the first ` = `) or under the text
of the line. A piece that cannot fit (one token longer than the width) stays
whole and overflows: cutting it would be worse. Plain output to a pipe never
comes here, so it keeps one line per formula.
"""

from __future__ import annotations

_OPEN, _CLOSE = "([{‖", ")]}"
_BINARY = ("+", "−", "-", "∘", "·", "/")


def hanging_indent(line: str, width: int) -> int:
    """Where continuation lines start: under the formula's right-hand side, else under the text."""
    lead = len(line) - len(line.lstrip(" "))
    if line.startswith("where ", lead) and "  " in line[lead + 6:]:  # several definitions: under the names
        return lead + 6
    eq = line.find(" = ")
    if 0 <= eq and eq + 3 <= width // 2:
        return eq + 3
    for mark in ("PASS  ", "FAIL  ", "KINK  ", "SKIP  ", "where ", "with  "):  # after a verdict or a keyword
        if line.startswith(mark, lead) and lead + len(mark) <= width // 2:
            return lead + len(mark)
    return lead if lead >= 4 else min(lead + 4, max(0, width // 3))  # prose hangs under its own text


def _breaks(line: str, start: int) -> list[tuple[int, int]]:
    """(position of a space, bracket depth there) for every space after `start`."""
    out: list[tuple[int, int]] = []
    depth, norm_open = 0, False
    for i, ch in enumerate(line):
        if ch == "‖":  # ‖ opens and closes
            norm_open = not norm_open
            depth += 1 if norm_open else -1
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch == " " and i > start and line[i - 1] != " ":
            out.append((i, depth))
    return out


def wrap_line(line: str, width: int) -> list[str]:
    """`line` as lines of at most `width` columns (one token longer than that overflows alone)."""
    if len(line) <= width or width < 20:
        return [line]
    indent = hanging_indent(line, width)
    formula = 0 <= line.find(" = ") < indent
    binary = _BINARY + ("=",) if formula else _BINARY  # a chain breaks between its stages, a header not at `d = 4`
    lead = len(line) - len(line.lstrip(" "))
    first_text = line.find(" = ") + 3 if formula else lead
    out: list[str] = []
    rest, pad = line, ""
    while len(pad) + len(rest) > width:
        room = width - len(pad)
        floor = first_text if not out else 0
        cands = [(i, d) for i, d in _breaks(rest, floor if not out else 0) if i <= room]
        if not cands:  # no space fits: break at the first space after the limit (a long token overflows)
            later = [i for i, _ in _breaks(rest, 0)]
            if not later:
                break
            cands = [(later[0], 0)]
        start = max(len(rest) - len(rest.lstrip(" ")), floor)
        long_enough = [(i, d) for i, d in cands if i - start >= (room - start) // 2]
        cands = long_enough or cands  # the outermost space, but not at the cost of a stub of a line
        best_depth = min(d for _, d in cands)
        shallow = [i for i, d in cands if d == best_depth]
        # prefer breaking before a binary operator (the next line starts `+ …`), when that is not much earlier
        ops = [i for i in shallow if rest[i + 1:i + 2] in binary or rest[i - 1] in ",;"]
        cut = max(ops) if ops else max(shallow)
        if cut <= len(rest) - len(rest.lstrip(" ")):
            break
        out.append(pad + rest[:cut].rstrip() if out else rest[:cut].rstrip())
        rest = rest[cut:].lstrip(" ")
        pad = " " * indent
    out.append(pad + rest if out else rest)
    return out
