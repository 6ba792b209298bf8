"""Scalar functions applied entry by entry: written once as sympy, derived by sp.diff.

Each entry gives the sympy form of f(t) (the single source of f and every
derivative: numeric derivatives are `sp.lambdify` of `sp.diff(f(t), t, k)`),
a stable numpy forward for k = 0, where it is defined, whether it is analytic
(complex step applies) and where it has kinks.

sympy loads only when a derivative is asked for symbolically: the numeric
f′ and f″ come from `_derivatives.py`, generated from the same sp.diff by
`python -m gradcheck_cli.symbolic.elementwise` (a test checks it is up to date), so
`gradcheck verify` does not pay sympy's import for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

from gradcheck_cli.lazy import sympy as sp


@lru_cache(maxsize=None)
def _symbols() -> tuple[Any, Any]:
    return sp.Symbol("t", real=True), sp.Symbol("a", real=True)  # a: the extra parameter of leaky_relu


def __getattr__(name: str) -> Any:
    """T and A, the sympy symbols of f(t) and of leaky_relu's a, made on first use."""
    if name in ("T", "A"):
        return _symbols()[name == "A"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
register(Elementwise("tanh", lambda t: sp.tanh(t), np.tanh, doc="tanh′ = 1 − tanh²"))
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
register(Elementwise("exp", lambda t: sp.exp(t), np.exp, doc="exp′ = exp"))
register(Elementwise("log", lambda t: sp.log(t), np.log, domain=(0.0, np.inf), doc="log′ = 1/t (t > 0)"))
register(Elementwise("sqrt", lambda t: sp.sqrt(t), np.sqrt, domain=(0.0, np.inf), doc="sqrt′ = 1/(2√t) (t > 0)"))
register(Elementwise("abs", lambda t: sp.Abs(t), _abs_np, analytic=False, kinks=(0.0,), doc="|t|; abs′ = sign(t)"))
register(Elementwise("sign", lambda t: sp.sign(t), np.sign, analytic=False, kinks=(0.0,),
                     doc="sign(t) = abs′(t) (L1's gradient); sign′ = 0 away from 0"))
register(Elementwise("sin", lambda t: sp.sin(t), np.sin, doc="sin′ = cos"))
register(Elementwise("cos", lambda t: sp.cos(t), np.cos, doc="cos′ = −sin"))
register(Elementwise("tan", lambda t: sp.tan(t), np.tan, domain=(-1.2, 1.2), doc="tan′ = 1 + tan²"))

ALIASES = {alias: e.name for e in ELEMENTWISE.values() for alias in e.aliases}

# Smooth stand-ins for a generic `f : function` that is not bound: a claim
# about f must hold for every f, so verify tries several.
GENERIC_STANDINS = ("tanh", "sigmoid", "softplus", "sin")
# More smooth stand-ins, used only when a file has more generic functions than GENERIC_STANDINS
_MORE_STANDINS = ("cos", "gelu", "exp")
MAX_GENERIC = len(GENERIC_STANDINS) + len(_MORE_STANDINS)


def generic_rounds(names: Sequence[str]) -> list[dict[str, str]]:
    """The bindings verify tries for unbound generic functions, one dict per round.

    Each round binds every generic function to a *different* stand-in, and the
    assignment rotates (round r gives the j-th function stand-in r + j), so each
    function meets every stand-in and each pair of functions is bound to
    several different pairs: a claim that confuses f′ with g′, or writes
    g(f(x)) for f(g(x)), differs from the gradient in every round.
    """
    if not names:
        return [{}]
    pool = GENERIC_STANDINS + _MORE_STANDINS[:max(0, len(names) - len(GENERIC_STANDINS))]
    assert len(names) <= len(pool), f"{len(names)} generic functions, {len(pool)} stand-ins"
    return [{f: pool[(r + j) % len(pool)] for j, f in enumerate(names)} for r in range(len(GENERIC_STANDINS))]


def canonical(name: str) -> str | None:
    if name in ELEMENTWISE:
        return name
    return ALIASES.get(name)


@lru_cache(maxsize=None)
def derivative_sym(name: str, order: int) -> sp.Expr:
    """f⁽ᵏ⁾(t) as sympy, from the one sympy form (leaky_relu: in t and a)."""
    e = ELEMENTWISE[name]
    T, A = _symbols()
    expr = e.sympy(T, A) if e.nparams else e.sympy(T)
    if order:
        expr = sp.diff(expr, T, order)
        # sp.diff of a Piecewise keeps the pieces; make ties go to the right piece
        expr = sp.piecewise_fold(expr)
    return expr


def _scipy_if_needed(expr: sp.Expr) -> tuple[str, ...]:
    """("scipy",) only where numpy lacks a function (erf for gelu): importing
    scipy.special costs more than the whole check of a small file."""
    from sympy.printing.numpy import NumPyPrinter

    return ("scipy",) if "math." in NumPyPrinter({"strict": False}).doprint(expr) else ()


@lru_cache(maxsize=None)
def numpy_fn(name: str, order: int) -> Callable[..., np.ndarray]:
    """Numeric f⁽ᵏ⁾: the stable forward for k = 0, else sp.diff as numpy (generated, or lambdify)."""
    e = ELEMENTWISE[name]
    if order == 0 and e.numpy is not None:
        return e.numpy
    from gradcheck_cli.symbolic._derivatives import DERIVATIVES

    f = DERIVATIVES.get((name, order)) or _lambdify(name, order)

    def call(t: np.ndarray, *params: Any) -> np.ndarray:
        out = f(t, *params)
        return np.broadcast_to(out, np.shape(t)).astype(np.result_type(t, float)) if np.ndim(out) < np.ndim(t) else out

    return call


def _lambdify(name: str, order: int) -> Callable[..., Any]:
    expr = derivative_sym(name, order)
    T, A = _symbols()
    args = (T, A) if ELEMENTWISE[name].nparams else (T,)
    from gradcheck_cli.symbolic._derivatives import DiracDelta, Heaviside

    return sp.lambdify(args, expr, modules=[{"Heaviside": Heaviside, "DiracDelta": DiracDelta}, np,  # type: ignore[no-any-return]
                                            *_scipy_if_needed(expr)])


GENERATED_ORDERS = (1, 2)


def generated_source() -> str:
    """The text of `_derivatives.py`: f′ and f″ of every function numpy can express, printed
    by sympy's NumPyPrinter from `derivative_sym` (gelu's erf needs scipy: lambdified on use)."""
    from sympy.printing.numpy import NumPyPrinter

    head = _derivatives_head()
    defs, table = [], []
    for name, e in ELEMENTWISE.items():
        for order in GENERATED_ORDERS:
            expr = derivative_sym(name, order)
            code = NumPyPrinter({"strict": False, "fully_qualified_modules": True}).doprint(expr)
            if _scipy_if_needed(expr) or "\n" in code or "Not supported" in code:
                continue
            params = "t: Any, a: Any" if e.nparams else "t: Any"
            fname = f"{name}_{order}"
            defs.append(f"def {fname}({params}) -> Any:\n    return {code}\n")
            table.append(f"    ({name!r}, {order}): {fname},")
    return head + "\n\n".join(defs) + "\n\nDERIVATIVES: dict[tuple[str, int], Callable[..., Any]] = {\n" + \
        "\n".join(table) + "\n}\n"


def _derivatives_head() -> str:
    return '''"""f′ and f″ of the elementwise functions as numpy, generated: do not edit.

Written by `python -m gradcheck_cli.symbolic.elementwise` from sp.diff of the one sympy
form of each function in elementwise.py (tests/test_ops.py checks this file
is what the generator writes now, and equals lambdify at random points), so
numeric checks read derivatives without importing sympy.
"""
# fmt: off
# ruff: noqa

from __future__ import annotations

from typing import Any, Callable

import numpy


def Heaviside(x: Any, h: float = 0.0) -> Any:
    return numpy.heaviside(numpy.real(x), h)


def DiracDelta(x: Any, *k: Any) -> Any:
    return 0.0 * x


'''


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).with_name("_derivatives.py").write_text(generated_source(), encoding="utf-8")
