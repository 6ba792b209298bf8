"""The registry every op rule is filed in, and the vocabulary the rules share.

The table is defined here, empty, below everything that uses it: the smart
constructors of `algebra` look an op's shape rule up in it, the printer its
templates and precedence, the evaluators its numpy and sympy forms, derive its
VJP. The rules themselves live in `ops/` (one module per family) and fill the
table when `gradcheck_cli.symbolic` is imported, so no module here needs to
import the rules to use them, as JAX's primitives are looked up in tables that
the rule modules register into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from gradcheck_cli.shapes import Shape

if TYPE_CHECKING:
    import numpy as np

    from gradcheck_cli.symbolic.expr import Expr

# Precedence levels for printing (higher binds tighter)
SUM, PROD, UNARY, POSTFIX, ATOM = 10, 20, 30, 40, 50


class ShapeMismatch(Exception):
    """Raised by shape rules; lowering adds the operator's span."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


Vjp = Callable[..., tuple["Expr | None", ...]]


@dataclass(frozen=True)
class OpRule:
    name: str
    arity: int | None  # None: variadic
    shape: Callable[..., Shape]  # (args, **params) -> out shape; raises ShapeMismatch
    numpy: Callable[..., "np.ndarray"]  # (ctx, *values, **params) -> value
    sympy: Callable[..., Any]  # (*explicit sympy matrices, **params) -> sympy Matrix
    vjp: Vjp  # (g, out, *args) -> one cotangent (or None for zero) per arg
    prec: int = ATOM
    show: dict[str, Any] = field(default_factory=dict)  # style -> template "{0} + {1}"
    arg_prec: tuple[int, ...] = ()
    jac: Callable[..., "Expr | None"] | None = None  # (out, i, *args) -> local Jacobian
    gate: str = ""  # the lecture's name for its backward behaviour
    analytic: bool = True  # complex step is exact through it
    doc: str = ""


OPS: dict[str, OpRule] = {}


def register(rule: OpRule) -> OpRule:
    assert rule.name not in OPS, f"duplicate op rule {rule.name!r}"
    OPS[rule.name] = rule
    return rule
