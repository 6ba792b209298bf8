"""Dimensions and shapes.

Every value is a 2-D matrix: a column vector is m×1, a scalar 1×1. A `Dim` is
a symbolic linear expression in the file's dimension names (`n`, `2d`,
`d + 3`), so shapes print in the user's words; the sizes `verify` uses live in
a `DimEnv`. Two dims agree when they are the same expression, or when both
only involve sizes the user fixed and those sizes are equal (`W : n x 6` with
`x = [x1; x2]`, `dims d = 3`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Dim:
    terms: tuple[tuple[str, int], ...] = ()
    const: int = 0

    @staticmethod
    def of(value: int | str) -> "Dim":
        if isinstance(value, int):
            return Dim((), value)
        return Dim(((value, 1),), 0)

    def __add__(self, other: "Dim") -> "Dim":
        acc: dict[str, int] = dict(self.terms)
        for s, c in other.terms:
            acc[s] = acc.get(s, 0) + c
        return Dim(tuple(sorted((s, c) for s, c in acc.items() if c)), self.const + other.const)

    def __sub__(self, other: "Dim") -> "Dim":
        return self + Dim(tuple((s, -c) for s, c in other.terms), -other.const)

    def scale(self, k: int) -> "Dim":
        return Dim(tuple((s, c * k) for s, c in self.terms if c * k), self.const * k)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(s for s, _ in self.terms)

    @property
    def is_one(self) -> bool:
        return not self.terms and self.const == 1

    def size(self, sizes: Mapping[str, int]) -> int:
        return self.const + sum(c * sizes[s] for s, c in self.terms)

    def __str__(self) -> str:
        parts: list[str] = []
        for s, c in self.terms:
            term = s if c == 1 else f"{c}{s}" if c > 1 else f"-{s}" if c == -1 else f"{c}{s}"
            parts.append(term)
        if self.const or not parts:
            parts.append(str(self.const))
        out = parts[0]
        for p in parts[1:]:
            out += f" - {p[1:]}" if p.startswith("-") else f" + {p}"
        return out

    def dsl(self) -> str:
        """The dim as a DSL number expression (`2*d + 3`)."""
        parts = []
        for s, c in self.terms:
            parts.append(s if c == 1 else f"{c}*{s}")
        if self.const or not parts:
            parts.append(str(self.const))
        return " + ".join(parts)


ONE = Dim((), 1)
Shape = tuple[Dim, Dim]
SCALAR: Shape = (ONE, ONE)


def shape_str(shape: Shape) -> str:
    r, c = shape
    if r.is_one and c.is_one:
        return "scalar"
    return f"{_paren(r)}×{_paren(c)}"


def _paren(d: Dim) -> str:
    s = str(d)
    return f"({s})" if " " in s else s


def is_scalar(shape: Shape) -> bool:
    return shape[0].is_one and shape[1].is_one


def is_column(shape: Shape) -> bool:
    return shape[1].is_one and not shape[0].is_one


def is_row(shape: Shape) -> bool:
    return shape[0].is_one and not shape[1].is_one


@dataclass
class DimEnv:
    """Sizes for every dimension name, and which of them the user fixed."""

    sizes: dict[str, int] = field(default_factory=dict)
    given: set[str] = field(default_factory=set)
    names: dict[int, str] = field(default_factory=dict)  # node id -> the file's name, for messages

    def same(self, a: Dim, b: Dim) -> bool:
        if a == b:
            return True
        syms = set(a.symbols) | set(b.symbols)
        if syms <= self.given:
            return a.size(self.sizes) == b.size(self.sizes)
        return False

    def same_shape(self, a: Shape, b: Shape) -> bool:
        return self.same(a[0], b[0]) and self.same(a[1], b[1])

    def size(self, d: Dim) -> int:
        return d.size(self.sizes)

    def concrete(self, shape: Shape) -> tuple[int, int]:
        return (shape[0].size(self.sizes), shape[1].size(self.sizes))


_CURRENT: list[DimEnv] = [DimEnv()]


class using:
    """Make `env` the dim environment shape rules consult (derivation builds
    new expressions long after parsing, and must compare dims the same way)."""

    def __init__(self, env: DimEnv):
        self.env = env

    def __enter__(self) -> DimEnv:
        _CURRENT.append(self.env)
        return self.env

    def __exit__(self, *exc: object) -> None:
        _CURRENT.pop()


def env() -> DimEnv:
    return _CURRENT[-1]


def broadcast(a: Shape, b: Shape) -> "Shape | int":
    """numpy broadcasting restricted to what the lecture uses: scalars
    everywhere, a column over columns, a row over rows. The shape of the result,
    or the axis (0: rows, 1: columns) on which a and b disagree."""
    E = env()
    if is_scalar(a):
        return b
    if is_scalar(b):
        return a
    out = []
    for i in (0, 1):
        da, db = a[i], b[i]
        if da == db:
            out.append(da)
        elif da.is_one:  # before E.same: with `dims B = 1`, (n×1) + (n×B) is n×B, not n×1
            out.append(db)
        elif db.is_one:
            out.append(da)
        elif E.same(da, db):
            out.append(da)
        else:
            return i
    return (out[0], out[1])
