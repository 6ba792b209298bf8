"""The syntax tree of a .grad file: frozen dataclasses, each with its span."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gradcheck_cli.errors import Span


@dataclass(frozen=True)
class Node:
    span: Span


# ------------------------------------------------------------------ expressions


@dataclass(frozen=True)
class Num(Node):
    value: float
    text: str


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...]
    primes: int  # f'(z) has 1
    func_span: Span


@dataclass(frozen=True)
class BinOp(Node):
    op: str  # + - * / @ juxt
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Transpose(Node):
    operand: Node


@dataclass(frozen=True)
class Power(Node):
    operand: Node
    exponent: float
    paren: bool  # x^(-1) is always elementwise; A^-1 of a square A is the inverse


@dataclass(frozen=True)
class Concat(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class HConcat(Node):
    """[A, B]: blocks side by side (the same rows)."""
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Slice(Node):
    """x[i:j]: rows i..j-1, 0-based as numpy; the bounds are sizes (`2d`)."""
    operand: Node
    start: Node
    stop: Node


# ------------------------------------------------------------------ dimensions


@dataclass(frozen=True)
class DimNum(Node):
    value: int


@dataclass(frozen=True)
class DimName(Node):
    id: str


@dataclass(frozen=True)
class DimAdd(Node):
    left: Node
    right: Node


@dataclass(frozen=True)
class DimScaled(Node):
    factor: int
    dim: Node


# ------------------------------------------------------------------ statements


@dataclass(frozen=True)
class DimItem(Node):
    name: str
    size: int | None


@dataclass(frozen=True)
class Dims(Node):
    items: tuple[DimItem, ...]


@dataclass(frozen=True)
class Decl(Node):
    names: tuple[str, ...]
    name_spans: tuple[Span, ...]
    kind: str  # shape | scalar | function | onehot (one-hot columns) | onehot_rows
    dims: tuple[Node, ...]  # rows[, cols] for shape; (c,) or (c, n) for onehot; (n, c) for onehot_rows
    qualifiers: tuple[str, ...]


@dataclass(frozen=True)
class Assign(Node):
    name: str
    name_span: Span
    value: Node


@dataclass(frozen=True)
class Claim(Node):
    num: str
    den: str
    value: Node | None  # None when the claim's expression does not parse: `error` says why
    head_span: Span
    error: Any = None  # a ParseError: a student's answer that fails alone, not the file


@dataclass(frozen=True)
class Output(Node):
    name: str


@dataclass(frozen=True)
class File:
    statements: tuple[Node, ...]
    source: str
    text: str
