"""Smart constructors: build an expression and simplify it on the way.

Every node of a derivation is built here, so the simplifications the lecture
does by hand happen once, in one place, for every op's rule: no Aᵀᵀ, no 1·x,
no x + 0, (AB)ᵀ = BᵀAᵀ, diag(a) b = a ∘ b, A x + B x = (A + B) x, x + x = 2x,
p ∘ (y / p) = y, Σ of a one-hot = 1, log(softmax(z)) = log_softmax(z).
Each rule shrinks or keeps the size of the expression, so simplification
terminates and a derivation stays finite.
"""

from gradcheck_cli.symbolic.algebra.base import (  # noqa: F401  (alg.X for every X)
    FORWARD, NAMED, build, const, const_value, copied, copied_column, copied_row, dim_symbol, eye,
    has_qualifier, is_const, is_decay, is_literal, is_negative, is_zero, literal, named_value, number,
    ones, remember, same_shape, split_coef, symmetric_form, transposes_away, var, zeros, zeros_like,
)
from gradcheck_cli.symbolic.algebra.arithmetic import (  # noqa: F401
    T, add, add_all, diag, div, matmul, mul, neg, scale, sub, sum_,
)
from gradcheck_cli.symbolic.algebra.functions import (  # noqa: F401
    concat, det, diagvec, fn, fn_derivative, inv, log_softmax, logdet, logsumexp, max_, min_, norm,
    pow_, rows, softmax, tr,
)
