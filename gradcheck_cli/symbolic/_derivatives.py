"""f′ and f″ of the elementwise functions as numpy, generated: do not edit.

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


def sigmoid_1(t: Any) -> Any:
    return numpy.exp(-t)/(1 + numpy.exp(-t))**2


def sigmoid_2(t: Any) -> Any:
    return (-1 + 2*numpy.exp(-t)/(1 + numpy.exp(-t)))*numpy.exp(-t)/(1 + numpy.exp(-t))**2


def tanh_1(t: Any) -> Any:
    return 1 - numpy.tanh(t)**2


def tanh_2(t: Any) -> Any:
    return 2*(numpy.tanh(t)**2 - 1)*numpy.tanh(t)


def relu_1(t: Any) -> Any:
    return numpy.select([numpy.greater(t, 0),True], [1,0], default=numpy.nan)


def relu_2(t: Any) -> Any:
    return 0


def leaky_relu_1(t: Any, a: Any) -> Any:
    return numpy.select([numpy.greater(t, 0),True], [1,a], default=numpy.nan)


def leaky_relu_2(t: Any, a: Any) -> Any:
    return 0


def elu_1(t: Any) -> Any:
    return numpy.select([numpy.greater(t, 0),True], [1,numpy.exp(t)], default=numpy.nan)


def elu_2(t: Any) -> Any:
    return numpy.select([numpy.greater(t, 0),True], [0,numpy.exp(t)], default=numpy.nan)


def gelu_2(t: Any) -> Any:
    return numpy.sqrt(2)*(1 - 1/2*t**2)*numpy.exp(-1/2*t**2)/numpy.sqrt(numpy.pi)


def softplus_1(t: Any) -> Any:
    return numpy.exp(t)/(numpy.exp(t) + 1)


def softplus_2(t: Any) -> Any:
    return (1 - numpy.exp(t)/(numpy.exp(t) + 1))*numpy.exp(t)/(numpy.exp(t) + 1)


def hardtanh_1(t: Any) -> Any:
    return numpy.select([numpy.logical_or.reduce((numpy.greater(t, 1),numpy.less(t, -1))),True], [0,1], default=numpy.nan)


def hardtanh_2(t: Any) -> Any:
    return 0


def exp_1(t: Any) -> Any:
    return numpy.exp(t)


def exp_2(t: Any) -> Any:
    return numpy.exp(t)


def log_1(t: Any) -> Any:
    return t**(-1.0)


def log_2(t: Any) -> Any:
    return -1/t**2


def sqrt_1(t: Any) -> Any:
    return (1/2)/numpy.sqrt(t)


def sqrt_2(t: Any) -> Any:
    return -(1/4)/t**(3/2)


def abs_1(t: Any) -> Any:
    return numpy.sign(t)


def sin_1(t: Any) -> Any:
    return numpy.cos(t)


def sin_2(t: Any) -> Any:
    return -numpy.sin(t)


def cos_1(t: Any) -> Any:
    return -numpy.sin(t)


def cos_2(t: Any) -> Any:
    return -numpy.cos(t)


def tan_1(t: Any) -> Any:
    return numpy.tan(t)**2 + 1


def tan_2(t: Any) -> Any:
    return 2*(numpy.tan(t)**2 + 1)*numpy.tan(t)


DERIVATIVES: dict[tuple[str, int], Callable[..., Any]] = {
    ('sigmoid', 1): sigmoid_1,
    ('sigmoid', 2): sigmoid_2,
    ('tanh', 1): tanh_1,
    ('tanh', 2): tanh_2,
    ('relu', 1): relu_1,
    ('relu', 2): relu_2,
    ('leaky_relu', 1): leaky_relu_1,
    ('leaky_relu', 2): leaky_relu_2,
    ('elu', 1): elu_1,
    ('elu', 2): elu_2,
    ('gelu', 2): gelu_2,
    ('softplus', 1): softplus_1,
    ('softplus', 2): softplus_2,
    ('hardtanh', 1): hardtanh_1,
    ('hardtanh', 2): hardtanh_2,
    ('exp', 1): exp_1,
    ('exp', 2): exp_2,
    ('log', 1): log_1,
    ('log', 2): log_2,
    ('sqrt', 1): sqrt_1,
    ('sqrt', 2): sqrt_2,
    ('abs', 1): abs_1,
    ('sin', 1): sin_1,
    ('sin', 2): sin_2,
    ('cos', 1): cos_1,
    ('cos', 2): cos_2,
    ('tan', 1): tan_1,
    ('tan', 2): tan_2,
}
