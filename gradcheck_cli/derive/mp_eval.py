"""Sympy expressions evaluated at random rational points with 40+ digits (mpmath).

The numeric half of the exact reference's comparison (`derive.exact.difference`):
entries that are not cheaply shown equal symbolically are compared here, with a
generic function replaced by a smooth stand-in that changes from point to point.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

import mpmath
import sympy as sp

from gradcheck_cli.symbolic.elementwise import GENERIC_STANDINS


_T = sp.Symbol("t", real=True)
_STANDINS = {"tanh": sp.tanh(_T), "sigmoid": 1 / (1 + sp.exp(-_T)), "softplus": sp.log(1 + sp.exp(_T)),
             "sin": sp.sin(_T)}


def numeric_values(exprs: list[sp.Expr], syms: list[sp.Symbol], generic: list[Any], rng: random.Random,
             k: int) -> list[Any]:
    """Every expression at one random rational point, 40+ digits (mpmath).

    A generic f becomes a smooth stand-in (a different one at each point,
    distinct per function); f′, f″ are the stand-in's derivatives.
    """
    base = _STANDINS[GENERIC_STANDINS[k % len(GENERIC_STANDINS)]]
    standins = {f: base + sp.Rational(1, 5 + j) * _T ** 3 for j, f in enumerate(generic)}
    env: dict[Any, Any] = {}
    for s in syms:  # p/q in [-2, 2], q up to 10⁴: two symbols tie (max, relu′ kinks) with odds ~10⁻⁸
        q = rng.randint(1000, 9999)
        num = rng.randint(-2 * q, 2 * q)
        env[s] = mpmath.mpf(num if num else 1) / q
    with mpmath.workdps(50):
        ev = _MpEval(env, standins)
        out = []
        for e in exprs:
            try:
                out.append(ev(e))
            except (ZeroDivisionError, ValueError, OverflowError, _Kink):
                out.append(mpmath.nan)
        return out


class _Kink(Exception):
    """The point sits on a kink (a step's argument is exactly 0): no derivative to compare."""


class _MpEval:
    """A sympy expression → an mpmath number, each distinct subexpression once.

    Hand-rolled rather than `lambdify`: printing the large, tree-shaped
    entry-wise derivatives to Python source costs far more than evaluating them.
    """

    FUNCS: ClassVar[dict[Any, Any]] = {sp.exp: mpmath.exp, sp.log: mpmath.log, sp.tanh: mpmath.tanh, sp.sin: mpmath.sin,
                             sp.cos: mpmath.cos, sp.tan: mpmath.tan, sp.erf: mpmath.erf, sp.Abs: abs,
                             sp.sign: mpmath.sign, sp.cosh: mpmath.cosh, sp.sinh: mpmath.sinh}

    def __init__(self, env: dict[Any, Any], standins: dict[Any, sp.Expr]):
        self.env = env
        self.standins = standins
        self.memo: dict[Any, Any] = {}
        self.derivs: dict[tuple[Any, int], Any] = {}

    def __call__(self, e: sp.Basic) -> Any:
        hit = self.memo.get(e)
        if hit is None:
            hit = self.memo[e] = self._eval(e)
        return hit

    def _standin(self, f: Any, order: int, x: Any) -> Any:
        key = (f, order)
        if key not in self.derivs:
            self.derivs[key] = sp.lambdify(_T, sp.diff(self.standins[f], _T, order), modules="mpmath")
        return self.derivs[key](x)

    def _eval(self, e: sp.Basic) -> Any:
        if e.is_Symbol:
            return self.env[e]
        if e.is_Rational:
            return mpmath.mpf(e.p) / e.q
        if e.is_Number or isinstance(e, sp.NumberSymbol):
            return mpmath.mpmathify(sp.N(e, 60))
        if e.is_Add:
            return mpmath.fsum(self(a) for a in e.args)
        if e.is_Mul:
            out = mpmath.mpf(1)
            for a in e.args:
                out *= self(a)
            return out
        if e.is_Pow:
            base, k = e.args
            if k.is_Integer:
                return self(base) ** int(k)
            return mpmath.power(self(base), self(k))
        if isinstance(e, sp.Piecewise):
            for value, cond in e.args:
                if self._truth(cond):
                    return self(value)
            return mpmath.nan
        if isinstance(e, sp.Heaviside):
            x = self(e.args[0])
            if x == 0:
                raise _Kink(e)
            return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)
        if isinstance(e, (sp.Max, sp.Min)):
            vals = [self(a) for a in e.args]
            return max(vals) if isinstance(e, sp.Max) else min(vals)
        if isinstance(e, sp.core.function.AppliedUndef):
            return self._standin(e.func, 0, self(e.args[0]))
        if isinstance(e, sp.Subs):  # f′(arg) of a generic f: Subs(Derivative(f(ξ), (ξ, k)), ξ, arg)
            d, (xi,), (arg,) = e.args
            if isinstance(d, sp.Derivative) and isinstance(d.expr, sp.core.function.AppliedUndef) \
                    and d.expr.args == (xi,):
                return self._standin(d.expr.func, d.derivative_count, self(arg))
        if isinstance(e, sp.Derivative) and isinstance(e.expr, sp.core.function.AppliedUndef) \
                and len(e.expr.args) == 1 and e.expr.args[0].is_Symbol and len(e.variables) == e.derivative_count \
                and set(e.variables) == {e.expr.args[0]}:
            return self._standin(e.expr.func, e.derivative_count, self(e.expr.args[0]))
        f = self.FUNCS.get(e.func)
        if f is not None:
            return f(*(self(a) for a in e.args))
        raise NotImplementedError(f"no numeric rule for {e.func} in the exact comparison")

    def _truth(self, c: sp.Basic) -> bool:
        if c is sp.true:
            return True
        if c is sp.false:
            return False
        if isinstance(c, sp.core.relational.Relational):
            a, b = self(c.lhs), self(c.rhs)
            if a == b:  # a Piecewise step exactly at its switch
                raise _Kink(c)
            return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[c.rel_op])
        if isinstance(c, sp.And):
            return all(self._truth(a) for a in c.args)
        if isinstance(c, sp.Or):
            return any(self._truth(a) for a in c.args)
        if isinstance(c, sp.Not):
            return not self._truth(c.args[0])
        if isinstance(c, sp.ITE):  # piecewise_fold writes nested conditions as if-then-else
            return self._truth(c.args[1]) if self._truth(c.args[0]) else self._truth(c.args[2])
        raise NotImplementedError(f"no numeric rule for the condition {c}")


def is_finite(v: Any) -> bool:
    try:
        return bool(mpmath.isfinite(v))
    except TypeError:
        return False
