"""Many roots from one memo: the T gradients ∂L/∂x[t] of an unrolled loop, a flow chart's norms at
every step, share most of their graph, and each shared node is evaluated once.

`evaluate.evaluate` walks a root's whole DAG (it takes a cache, but the walk itself visits every
node under the root), so evaluating T roots that share a loop was T walks of T steps. This walk
stops at what the memo already holds.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from gradcheck_cli.numeric.evaluate import Context, apply_op, stable_value
from gradcheck_cli.symbolic.expr import Expr


def evaluate_many(roots: Iterable[Expr], ctx: Context, memo: dict[int, np.ndarray] | None = None) -> dict[int, np.ndarray]:
    """The memo with every node under `roots` in it (a given memo is filled in place)."""
    memo = {} if memo is None else memo
    for root in roots:
        stack: list[tuple[Expr, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if id(node) in memo:
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if id(a) not in memo)
                continue
            stable = stable_value(node, memo)
            memo[id(node)] = stable if stable is not None else apply_op(node, ctx, [memo[id(a)] for a in node.args])
    return memo
