"""Scalar functions applied entry by entry: written once as sympy, derived by sp.diff.

Each entry gives the sympy form of f(t) (the single source of f and every
derivative: numeric derivatives are `sp.lambdify` of `sp.diff(f(t), t, k)`),
a stable numpy forward for k = 0, where it is defined, whether it is analytic
(complex step applies) and where it has kinks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import sympy as sp

T = sp.Symbol("t", real=True)
A = sp.Symbol("a", real=True)  # the extra parameter of leaky_relu


@dataclass(frozen=True)
class Elementwise:
    name: str
    sympy: Callable[..., sp.Expr]  # t (, a) -> f(t)
    numpy: Callable[..., np.ndarray] | None = None  # stable forward; None: lambdify
    analytic: bool = True  # complex step is exact through it
    kinks: tuple[float, ...] = ()  # points where f' jumps
    domain: tuple[float, float] = (-np.inf, np.inf)  # open interval for sampling
    nparams: int = 0
    doc: str = ""
    aliases: tuple[str, ...] = field(default=())


def _sigmoid_np(t: np.ndarray) -> np.ndarray:
    # e = exp(−|t|) (by the real part) never overflows and is complex-safe; eᵗ/(1 + eᵗ) for t < 0
    # keeps σ's relative precision where it saturates at 0 (0.5 (1 + tanh(t/2)) loses it to
    # cancellation: at t = −24 its relative error is 1e-6, enough to fail a correct gradient)
    neg = np.real(t) < 0
    e = np.exp(np.where(neg, t, -t))
    return np.where(neg, e / (1.0 + e), 1.0 / (1.0 + e))


def _softplus_np(t: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(t):
        return np.where(t.real > 0, t + np.log1p(np.exp(-t)), np.log1p(np.exp(t)))
    return np.logaddexp(0.0, t)


def _relu_np(t: np.ndarray) -> np.ndarray:
    return np.where(np.real(t) > 0, t, 0.0 * t)


def _abs_np(t: np.ndarray) -> np.ndarray:
    return np.where(np.real(t) >= 0, t, -t) if np.iscomplexobj(t) else np.abs(t)


def _hardtanh_np(t: np.ndarray) -> np.ndarray:
    return np.where(np.real(t) > 1, 1.0 + 0 * t, np.where(np.real(t) < -1, -1.0 + 0 * t, t))


def _leaky_np(t: np.ndarray, a: Any = 0.01) -> np.ndarray:
    return np.where(np.real(t) > 0, t, a * t)


def _elu_np(t: np.ndarray) -> np.ndarray:
    return np.where(np.real(t) > 0, t, np.expm1(np.minimum(np.real(t), 0) if not np.iscomplexobj(t) else t))


def _gelu_sym(t: sp.Expr) -> sp.Expr:
    return t * (1 + sp.erf(t / sp.sqrt(2))) / 2


def _heaviside(t: sp.Expr) -> sp.Expr:
    return sp.Piecewise((1, t > 0), (0, True))


ELEMENTWISE: dict[str, Elementwise] = {}


def register(e: Elementwise) -> Elementwise:
    assert e.name not in ELEMENTWISE, f"duplicate elementwise function {e.name!r}"
    ELEMENTWISE[e.name] = e
    return e


register(Elementwise("sigmoid", lambda t: 1 / (1 + sp.exp(-t)), _sigmoid_np, aliases=("σ",),
                     doc="σ(t) = 1/(1+e⁻ᵗ); σ′ = σ(1 − σ)"))
register(Elementwise("tanh", sp.tanh, np.tanh, doc="tanh′ = 1 − tanh²"))
register(Elementwise("relu", lambda t: sp.Piecewise((t, t > 0), (0, True)), _relu_np, analytic=False,
                     kinks=(0.0,), doc="max(t, 0); relu′ = 1[t > 0] (0 at the kink)"))
register(Elementwise("step", lambda t: sp.Heaviside(t, sp.Rational(1, 2)),
                     lambda t: np.heaviside(np.real(t), 0.5), analytic=False, kinks=(0.0,),
                     doc="1 if t > 0, ½ at t = 0, else 0: how max and min route a gradient (a tie splits it)"))
register(Elementwise("leaky_relu", lambda t, a: sp.Piecewise((t, t > 0), (a * t, True)), _leaky_np,
                     analytic=False, kinks=(0.0,), nparams=1, doc="t if t > 0 else a·t"))
register(Elementwise("elu", lambda t: sp.Piecewise((t, t > 0), (sp.exp(t) - 1, True)), _elu_np,
                     analytic=False, kinks=(0.0,), doc="t if t > 0 else eᵗ − 1"))
register(Elementwise("gelu", _gelu_sym, None, doc="t Φ(t) (exact, erf form)"))
register(Elementwise("softplus", lambda t: sp.log(1 + sp.exp(t)), _softplus_np, doc="log(1 + eᵗ); softplus′ = σ"))
register(Elementwise("hardtanh", lambda t: sp.Piecewise((-1, t < -1), (1, t > 1), (t, True)), _hardtanh_np,
                     analytic=False, kinks=(-1.0, 1.0), doc="clip(t, −1, 1)"))
register(Elementwise("exp", sp.exp, np.exp, doc="exp′ = exp"))
register(Elementwise("log", sp.log, np.log, domain=(0.0, np.inf), doc="log′ = 1/t (t > 0)"))
register(Elementwise("sqrt", sp.sqrt, np.sqrt, domain=(0.0, np.inf), doc="sqrt′ = 1/(2√t) (t > 0)"))
register(Elementwise("abs", sp.Abs, _abs_np, analytic=False, kinks=(0.0,), doc="|t|; abs′ = sign(t)"))
register(Elementwise("sin", sp.sin, np.sin, doc="sin′ = cos"))
register(Elementwise("cos", sp.cos, np.cos, doc="cos′ = −sin"))
register(Elementwise("tan", sp.tan, np.tan, domain=(-1.2, 1.2), doc="tan′ = 1 + tan²"))

ALIASES = {alias: e.name for e in ELEMENTWISE.values() for alias in e.aliases}

# Smooth stand-ins for a generic `f : function` that is not bound: a claim
# about f must hold for every f, so verify tries several.
GENERIC_STANDINS = ("tanh", "sigmoid", "softplus", "sin")


def canonical(name: str) -> str | None:
    if name in ELEMENTWISE:
        return name
    return ALIASES.get(name)


@lru_cache(maxsize=None)
def derivative_sym(name: str, order: int) -> sp.Expr:
    """f⁽ᵏ⁾(t) as sympy, from the one sympy form (leaky_relu: in t and a)."""
    e = ELEMENTWISE[name]
    expr = e.sympy(T, A) if e.nparams else e.sympy(T)
    if order:
        expr = sp.diff(expr, T, order)
        # sp.diff of a Piecewise keeps the pieces; make ties go to the right piece
        expr = sp.piecewise_fold(expr)
    return expr


@lru_cache(maxsize=None)
def numpy_fn(name: str, order: int) -> Callable[..., np.ndarray]:
    """Numeric f⁽ᵏ⁾: the stable forward for k = 0, else lambdify of sp.diff."""
    e = ELEMENTWISE[name]
    if order == 0 and e.numpy is not None:
        return e.numpy
    expr = derivative_sym(name, order)
    args = (T, A) if e.nparams else (T,)
    f = sp.lambdify(args, expr, modules=[{"Heaviside": lambda x, h=0.0: np.heaviside(np.real(x), h),
                                            "DiracDelta": lambda x, *k: 0.0 * x}, "numpy", "scipy"])

    def call(t: np.ndarray, *params: Any) -> np.ndarray:
        out = f(t, *params)
        return np.broadcast_to(out, np.shape(t)).astype(np.result_type(t, float)) if np.ndim(out) < np.ndim(t) else out

    return call
