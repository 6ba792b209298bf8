"""The expression DAG that both the forward graph and every gradient live in.

Nodes are hash-consed: building the same op on the same arguments returns the
same object, so structural equality is identity. That is what lets a derived
gradient print `p` for the `softmax(W x)` the file named `p`, share the error
signal δ between ∂s/∂W, ∂s/∂b and ∂s/∂x, and evaluate shared pieces once.
"""

from __future__ import annotations

from typing import Any, Iterator

from gradcheck_cli.errors import Span
from gradcheck_cli.shapes import Shape

Params = tuple[tuple[str, Any], ...]


class Expr:
    __slots__ = ("op", "args", "params", "shape", "span", "_key", "__weakref__")

    op: str
    args: tuple["Expr", ...]
    params: Params
    shape: Shape
    span: Span | None

    def param(self, key: str, default: Any = None) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        return default

    @property
    def name(self) -> str | None:
        """A variable's declared name (only leaves have one)."""
        return self.param("name") if self.op == "var" else None

    def __repr__(self) -> str:
        show = SHOW[0]
        return f"Expr({show(self) if show else self.op})"

    def walk(self, below: "Expr | None" = None) -> Iterator["Expr"]:
        """Every node once, children before parents (a topological order).

        With `below`, that node's own subtree is not entered: nothing under a
        variable depends on it, and forward accumulation from it has no use for it.
        """
        seen: set[int] = set() if below is None else {id(below)}
        if below is not None and below is not self:
            yield below
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                yield node
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for a in reversed(node.args):
                if id(a) not in seen:
                    stack.append((a, False))

    def size(self) -> int:
        """Number of distinct nodes: the measure derive keeps finite."""
        return sum(1 for _ in self.walk())


_TABLE: dict[tuple[Any, ...], Expr] = {}

# How `repr` shows an expression: the printer files itself here when it is
# imported, so the expression type itself knows nothing of printing.
SHOW: list[Any] = [None]


def existing(op: str, args: tuple[Expr, ...], params: Params, shape: Shape) -> Expr | None:
    """The node `make` would return, if it has been built already (without building it)."""
    return _TABLE.get((op, tuple(id(a) for a in args), params, shape))


def make(op: str, args: tuple[Expr, ...], params: Params, shape: Shape, span: Span | None = None) -> Expr:
    """The one raw constructor: interned, no simplification, no shape check."""
    key = (op, tuple(id(a) for a in args), params, shape)
    hit = _TABLE.get(key)
    if hit is not None:
        return hit
    e = Expr.__new__(Expr)
    e.op, e.args, e.params, e.shape, e.span = op, args, params, shape, span
    e._key = key
    _TABLE[key] = e
    return e
