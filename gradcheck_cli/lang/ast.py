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


# ------------------------------------------------------------------ steps (loops over time)


@dataclass(frozen=True)
class Index(Node):
    """A step, `var + offset + size` with each part optional: t, t-1, t+1, 0, 1, T, T+1."""
    var: str | None
    offset: int
    size: str | None


@dataclass(frozen=True)
class At(Node):
    """name[step]: one element of a sequence (`h[t-1]`, `x[t]`, `h[0]`, `delta[T+1]`)."""
    name: str
    index: Index


@dataclass(frozen=True)
class Over(Node):
    """`sum(EXPR for t = a..b)` and `Σ_t EXPR` (kind "sum"); `prod(...)` and `∏` (kind "prod",
    an ordered matrix product, later steps to the left as in a Jacobian chain). Bounds None:
    the loop's own range."""
    kind: str
    body: Node
    var: str
    start: Index | None
    stop: Index | None


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
    index: Index | None = None  # `delta[t] = …` inside a loop, `delta[T+1] = 0` as a boundary line


@dataclass(frozen=True)
class SeqDecl(Node):
    """`x[t] : D, t = 1..T` (a sequence: var, start and stop set) or `h[0] : H` (one element: index set)."""
    decl: Decl  # the declaration of one element: names, kind, dims, qualifiers
    index: Index | None = None
    var: str | None = None
    start: Index | None = None
    stop: Index | None = None


@dataclass(frozen=True)
class For(Node):
    """`for t = a..b:` and its indented body (assignments whose targets may be `name[t]`)."""
    var: str
    start: Index
    stop: Index
    body: tuple[Node, ...]


@dataclass(frozen=True)
class Claim(Node):
    num: str
    den: str
    value: Node | None  # None when the claim's expression does not parse: `error` says why
    head_span: Span
    error: Any = None  # a ParseError: a student's answer that fails alone, not the file
    num_index: Index | None = None  # claim dJ[T]/dh[0]: the numerator's step
    den_index: Index | None = None  # claim dL/dh[0]: the variable's step


@dataclass(frozen=True)
class Output(Node):
    name: str


@dataclass(frozen=True)
class File:
    statements: tuple[Node, ...]
    source: str
    text: str
