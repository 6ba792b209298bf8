"""Smart constructors of functions: powers, f(z) and f′, max and min, stacking and
slicing, the vector and square-matrix functions."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import Dim, is_scalar
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.algebra.base import build, const, const_value, is_const, number, ones, zeros
from gradcheck_cli.symbolic.algebra.arithmetic import T, add, div, mul, neg, sub


def pow_(a: Expr, k: Any) -> Expr:
    k = number(k)
    if k == 1:
        return a
    if k == 0:
        return ones(*a.shape) if not is_scalar(a.shape) else const(1)
    if is_const(a):
        v = const_value(a)
        if isinstance(v, Fraction) and isinstance(k, Fraction) and k.denominator == 1 and (v or k > 0):
            return const(v ** int(k))
        return const(sp.sympify(v) ** sp.sympify(k))  # in sympy: 2^(1/2) stays √2
    if a.op == "pow":
        return pow_(a.args[0], a.param("k") * k)
    return build("pow", (a,), k=k)


def fn(name: str, a: Expr, order: int = 0, alpha: Any = None) -> Expr:
    if name == "log" and order == 0 and a.op == "softmax":
        return log_softmax(a.args[0])
    if name == "log" and order == 0 and a.op == "T" and a.args[0].op == "softmax":  # rows: softmax(S, axis=1)
        return T(log_softmax(a.args[0].args[0]))
    if name == "log" and order == 0 and a.op == "fn" and a.param("name") == "exp" and a.param("order") == 0:
        return a.args[0]
    if name == "step" and order == 0 and a.op in ("zeros", "const"):  # a structural tie: max(x, x) routes ½ each
        half = const(sp.Heaviside(a.param("value"), sp.Rational(1, 2)) if a.op == "const" else sp.Rational(1, 2))
        return half if a.op == "const" else mul(half, ones(a.shape[0], a.shape[1]))
    params: dict[str, Any] = {"name": name, "order": order}
    if alpha is not None:
        params["alpha"] = number(alpha)
    return build("fn", (a,), **params)


def fn_derivative(out: Expr) -> Expr:
    """f′ at the node's input, as the lecture writes it (σ(z)(1 − σ(z)), 1 − tanh²)."""
    name, order, z = out.param("name"), out.param("order"), out.args[0]
    alpha = out.param("alpha")
    if order == 0:
        one = const(1)
        if name == "tanh":
            return sub(one, pow_(out, 2))
        if name == "sigmoid":
            return mul(out, sub(one, out))
        if name == "exp":
            return out
        if name == "log":
            return div(one, z)
        if name == "sqrt":
            return div(const(Fraction(1, 2)), out)
        if name == "sin":
            return fn("cos", z)
        if name == "cos":
            return neg(fn("sin", z))
        if name == "tan":
            return add(one, pow_(out, 2))
        if name == "softplus":
            return fn("sigmoid", z)
        if name == "abs":
            return fn("sign", z)  # L1's gradient reads λ sign(W)
        if name == "sign":
            return zeros(*z.shape) if not is_scalar(z.shape) else const(0)
    return fn(name, z, order + 1, alpha)


def max_(a: Expr, b: Expr) -> Expr:
    if is_const(b, 0) and not is_scalar(a.shape):
        return fn("relu", a)
    return build("max", (a, b))


def min_(a: Expr, b: Expr) -> Expr:
    return build("min", (a, b))


# --------------------------------------------------------------------------
# structure


def concat(*parts: Expr) -> Expr:
    if len(parts) == 1:
        return parts[0]
    return build("concat", tuple(parts))


def rows(a: Expr, start: Dim, stop: Dim) -> Expr:
    if start == Dim() and stop == a.shape[0]:
        return a
    if a.op == "zeros":  # rows of zero are zero (prints as 0, not 0[0:m])
        return zeros(stop - start, a.shape[1])
    if a.op == "concat":  # a block of a stack is that block
        off = Dim()
        for p in a.args:
            end = off + p.shape[0]
            if off == start and end == stop:
                return p
            off = end
    return build("rows", (a,), start=start, stop=stop)


def softmax(a: Expr) -> Expr:
    return build("softmax", (a,))


def log_softmax(a: Expr) -> Expr:
    return build("log_softmax", (a,))


def logsumexp(a: Expr) -> Expr:
    return build("logsumexp", (a,))


def norm(a: Expr) -> Expr:
    return build("norm", (a,))


def tr(a: Expr) -> Expr:
    return build("tr", (a,))


def det(a: Expr) -> Expr:
    return build("det", (a,))


def logdet(a: Expr) -> Expr:
    return build("logdet", (a,))


def inv(a: Expr) -> Expr:
    if a.op == "inv":
        return a.args[0]
    if a.op == "eye":
        return a
    return build("inv", (a,))


def diagvec(a: Expr) -> Expr:
    if a.op == "diag":
        return a.args[0]
    return build("diagvec", (a,))
