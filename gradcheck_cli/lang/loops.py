"""Loops over time: what a file with a `for t = a..b:` block says, and how steps are named.

A step's value is named `name[step]` everywhere: `h[0]`, `x[3]`, `z[t]`, `h[t-1]`
(`step_name`); `split_step_name` reads such a name back (`split_step_index` with the
step as `var + offset`, what derive moves from step to step). A Graph lowered from a
file with a loop carries a `LoopSource` (`graph.loop`), so the closed-form derive
can lower the loop body once with `t` symbolic.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass

from gradcheck_cli.lang import ast


@dataclass(frozen=True)
class LoopSource:
    """The loop of a file, as written: the syntax tree, the sequences, the (first) loop and what follows it."""
    file: ast.File  # the whole syntax tree
    seq_decls: tuple[ast.SeqDecl, ...]
    loop: ast.For  # the (first) for-block
    after: tuple[ast.Node, ...]  # the statements after the loop (the loss: `L = sum(J[t] for t = 1..T)`)
    length: str  # the size name of the range's end (T); the number itself when the end is a number


def index_text(index: "ast.Index | Index | int | str") -> str:
    """`t-1`, `t+1`, `T+1`, `0`, `3`, `t`: a step as the DSL writes it (no spaces), from the syntax
    tree's index or from a step read back as `var + offset` (("t", -1): t-1)."""
    if isinstance(index, tuple):
        var, k = index
        return str(k) if var is None else var if k == 0 else f"{var}{'+' if k > 0 else '-'}{abs(k)}"
    if isinstance(index, (int, str)):
        return str(index)
    parts = [p for p in (index.var, index.size) if p]
    if index.offset or not parts:
        if parts and index.offset > 0:
            return "+".join(parts) + f"+{index.offset}"
        if parts:
            return "+".join(parts) + f"-{-index.offset}"
        return str(index.offset)
    return "+".join(parts)


def step_name(name: str, index: "ast.Index | Index | int | str | None") -> str:
    """`h[t-1]`, `h[3]`: the name of one step of `name`; `name` itself without an index (a claim's `dL/dW`)."""
    return name if index is None else f"{name}[{index_text(index)}]"


_STEP = re.compile(r"(.+)\[([^\[\]]+)\]")


@lru_cache(maxsize=1 << 16)  # an unrolled T = 1000 loop has 10⁴ step names, read by every pass over it
def split_step_name(name: str) -> tuple[str, int | str] | None:
    """`h[3]` → ("h", 3), `h[t-1]` → ("h", "t-1"); None for a name that is not a step."""
    m = _STEP.fullmatch(name)
    if m is None:
        return None
    base, index = m.group(1), m.group(2)
    return (base, int(index)) if re.fullmatch(r"-?\d+", index) else (base, index)


# A step index read back as `var + offset`: ("t", -1) is t-1, ("T", 1) is T+1, (None, 0) is 0.
Index = tuple[str | None, int]

_NAME = re.compile(r"[^\W\d]\w*")
_INDEX = re.compile(r"\s*(?:([^\W\d]\w*)\s*)?(?:([+-])?\s*(\d+))?\s*")


def parse_index(text: str) -> Index | None:
    """`t-1` → ("t", -1), `T` → ("T", 0), `0` → (None, 0); None if it is no index."""
    m = _INDEX.fullmatch(text)
    if m is None or (m.group(1) is None and m.group(3) is None):
        return None
    var, sign, num = m.groups()
    k = int(num) if num is not None else 0
    if var is not None and num is not None and sign is None:
        return None  # `t1` is a name, not an index
    return var, -k if sign == "-" else k


@lru_cache(maxsize=1 << 16)
def split_step_index(name: str) -> tuple[str, Index] | None:
    """`h[t-1]` → ("h", ("t", -1)), `h[3]` → ("h", (None, 3)): split_step_name with the step read as
    `var + offset`; None for a name that is not a step of a plain name (`(W h)[0:n]`, `h[t*2]`)."""
    parts = split_step_name(name)
    if parts is None or _NAME.fullmatch(parts[0]) is None:
        return None
    ix = parse_index(str(parts[1]))
    return (parts[0], ix) if ix is not None else None


def loop_source(file: ast.File) -> LoopSource | None:
    """The LoopSource of a file, None when it has no `for` block."""
    stmts = file.statements
    loops = [i for i, s in enumerate(stmts) if isinstance(s, ast.For)]
    if not loops:
        return None
    first = stmts[loops[0]]
    assert isinstance(first, ast.For)
    stop = first.stop
    length = stop.size if stop.size else index_text(stop)
    seqs = tuple(s for s in stmts if isinstance(s, ast.SeqDecl))
    return LoopSource(file, seqs, first, tuple(stmts[loops[0] + 1:]), length)


def sequence_names(file: ast.File) -> set[str]:
    """Every name that has steps: declared sequences and elements, loop-defined and indexed assignments."""
    names: set[str] = set()
    stack: list[ast.Node] = list(file.statements)
    while stack:
        s = stack.pop()
        if isinstance(s, ast.SeqDecl):
            names.update(s.decl.names)
        elif isinstance(s, ast.For):
            stack.extend(s.body)
        elif isinstance(s, ast.Assign) and s.index is not None:
            names.add(s.name)
    return names
