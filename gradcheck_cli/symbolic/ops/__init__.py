"""The op rules, one module per family; each op owns its shape rule, numpy
forward, sympy forward and VJP, in one place.

Conventions (the README states them too):

- Every value is a matrix; a column vector is m×1, a scalar 1×1.
- The gradient of a scalar s with respect to X has **X's shape**
  (∂s/∂W = δ xᵀ, ∂s/∂x = Wᵀ δ). A VJP rule maps the output cotangent g (the
  output's shape) to one cotangent per input, each of that input's shape.
- Jacobians are **numerator layout** (∂y/∂x is dim(y) × dim(x)); `jac` gives
  an op's local Jacobian when input and output are vectors, so the Jacobian
  form of y = f(Wx + b) reads diag(f′(z)) W.

Rules build their results with the smart constructors of `algebra`, which
simplify as they build (no ᵀᵀ, no 1·x, diag(a) b → a ∘ b), so a derivation is
finite and readable by construction.

`numpy(ctx, *values, **params)` works on stacks (…, r, c) as well as single
matrices, so the checker can evaluate many perturbed inputs at once, and on
complex arrays for the complex-step method.
"""

# Importing a family files its rules in `table.OPS`; the order is the table's order.
from gradcheck_cli.symbolic.ops import leaves, arithmetic, pointwise, structure, vector, matrix  # noqa: F401,E501
from gradcheck_cli.symbolic.ops.common import broadcast_shape, describe, unbroadcast
from gradcheck_cli.symbolic.ops.pointwise import MUTATION
from gradcheck_cli.symbolic.table import OPS, OpRule, ShapeMismatch, register

__all__ = ["MUTATION", "OPS", "OpRule", "ShapeMismatch", "broadcast_shape", "describe", "register", "unbroadcast"]
