"""An expression with some of its nodes replaced, rebuilt as written (no simplification).

The usual-mistake diagnoses build each wrong answer this way: the right gradient
with one piece swapped (f for f′, a term dropped, the recursion's W_hhᵀ missing).
"""

from __future__ import annotations

from typing import Any

from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.symbolic.expr import Expr, make
from gradcheck_cli.symbolic.table import OPS, ShapeMismatch


def rebuilt(node: Expr, args: tuple[Expr, ...], **params: Any) -> Expr | None:
    """node's op on new arguments (and params), as written: None where the shapes no longer fit."""
    p = dict(node.params)
    p.update(params)
    try:
        shape = OPS[node.op].shape(args, **p)
    except (ShapeMismatch, GradcheckError):
        return None
    return make(node.op, args, tuple(sorted(p.items())), shape)


def substitute(root: Expr, mapping: dict[int, Expr]) -> Expr | None:
    """root with the nodes in `mapping` (by id) replaced; None if it no longer type-checks."""
    out, fits = substitute_as_written(root, mapping)
    return out if fits else None


def substitute_as_written(root: Expr, mapping: dict[int, Expr]) -> tuple[Expr, bool]:
    """root with the nodes in `mapping` replaced, and whether every shape rule still holds. A node whose
    rule no longer does keeps its old shape, so the expression still prints (a mutant in the tests)."""
    memo: dict[int, Expr] = dict(mapping)
    fits = True
    for node in root.walk():
        if id(node) in memo:
            continue
        args = tuple(memo[id(a)] for a in node.args)
        if all(a is b for a, b in zip(args, node.args)):
            memo[id(node)] = node
            continue
        new = rebuilt(node, args)
        if new is None:
            fits = False
            new = make(node.op, args, node.params, node.shape)
        memo[id(node)] = new
    return memo[id(root)], fits
