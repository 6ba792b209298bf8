"""Calling the function `check_gradient` checks: f's inputs, its output (value, grads), its claims.

f(*arrays) (or f(**arrays)) returns (value, grads); anything that cannot be read
that way raises `Misuse`, which the API reports as a failed check, never a crash.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Input:
    name: str
    key: int | str
    x: np.ndarray
    scalar: bool  # a Python number: f gets a Python number back


class Misuse(Exception):
    """f's output cannot be read as (value, grads): reported, never a crash."""


def _param_names(f: Callable[..., Any], count: int) -> list[str] | None:
    """f's own names for its first `count` positional parameters (loss(W, x) → W, x), if it has them."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in params[:count] if p.kind in kinds]
    return names if len(names) == count and len(set(names)) == count else None


def inputs_of(arrays: Sequence[Any], named: Mapping[str, Any],
            f: Callable[..., Any] | None = None) -> list[Input]:
    if arrays and named:
        raise TypeError("check_gradient: pass the inputs either all positionally or all by name, not both")
    if not arrays and not named:
        raise TypeError("check_gradient: no inputs to differentiate with respect to")
    items: list[tuple[str, int | str, Any]]
    if named:
        items = [(k, k, v) for k, v in named.items()]
    else:
        # positional inputs take f's parameter names, so grads may be keyed {"W": …, "x": …}
        own = _param_names(f, len(arrays)) if f is not None else None
        items = [(own[i] if own else "x" if len(arrays) == 1 else f"x{i}", i, a) for i, a in enumerate(arrays)]
    out = []
    for name, key, a in items:
        scalar = isinstance(a, (int, float, np.number)) and not isinstance(a, (bool, complex))
        x = np.array(a, dtype=np.float64)
        out.append(Input(name, key, x, scalar))
    return out


def call_f(f: Callable[..., Any], inputs: list[Input], values: list[Any]) -> Any:
    if isinstance(inputs[0].key, str):
        return f(**{inp.name: v for inp, v in zip(inputs, values)})
    return f(*values)


def as_arg(inp: Input, x: np.ndarray) -> Any:
    """What f receives: a copy (f may not modify the caller's arrays), or a Python number."""
    if inp.scalar:
        return complex(x.reshape(())) if np.iscomplexobj(x) else float(x.reshape(()))
    return x.copy()


def split_output(out: Any) -> tuple[Any, Any]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
        raise Misuse(f"f must return (value, grads); it returned {got}")
    return out[0], out[1]


def scalar_value(v: Any, complex_ok: bool) -> Any:
    arr = np.asarray(v)
    if arr.dtype == object or arr.size != 1:
        got = f"shape {arr.shape}" if arr.dtype != object else type(v).__name__
        raise Misuse(f"f's value must be a scalar; got {got}")
    if np.iscomplexobj(arr) and not complex_ok:
        raise Misuse("f's value is complex for real inputs")
    return arr.reshape(()).item()


def grads_by_name(grads: Any, inputs: list[Input]) -> dict[str, Any]:
    """grads as {input name: claimed gradient or None}: one array, a sequence, or a dict."""
    names = [i.name for i in inputs]
    if isinstance(grads, Mapping):
        out: dict[str, Any] = {}
        for inp in inputs:
            for k in (inp.key, inp.name) if isinstance(inp.key, int) else (inp.key,):
                if k in grads:
                    out[inp.name] = grads[k]
                    break
            else:
                out[inp.name] = None
        return out
    if isinstance(grads, (tuple, list)) and len(inputs) > 1:
        if len(grads) != len(inputs):
            raise Misuse(f"f returned {len(grads)} gradients for {len(inputs)} inputs ({', '.join(names)})")
        return dict(zip(names, grads))
    if len(inputs) == 1:
        return {names[0]: grads}
    raise Misuse(f"f must return one gradient per input ({', '.join(names)}) as a tuple, list or dict; "
                  f"got a {type(grads).__name__}")


def _allowed_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """A gradient has its input's shape; a vector's may be (m,) or (m, 1), a scalar's any size-1 shape."""
    if len(shape) == 0 or (len(shape) >= 1 and int(np.prod(shape)) == 1):
        return [shape, (), (1,), (1, 1)]
    if len(shape) == 1:
        return [shape, (shape[0], 1)]
    if len(shape) == 2 and 1 in shape:
        return [shape, (max(shape),)]
    return [shape]


def claimed_gradient(name: str, g: Any, x: np.ndarray) -> np.ndarray | str:
    """The claimed gradient in x's shape, or a message saying what is wrong with it."""
    want = " or ".join(str(s) for s in dict.fromkeys(_allowed_shapes(x.shape)))
    if g is None:
        return f"no gradient for {name} (expected shape {want})"
    try:
        arr = np.asarray(g)
        if arr.dtype == object or np.iscomplexobj(arr):
            raise TypeError(arr.dtype)
        arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        return f"the gradient of {name} is not a real numeric array (got {type(g).__name__}); expected shape {want}"
    if arr.shape not in _allowed_shapes(x.shape):
        hint = "; looks like: transposed" if arr.ndim == 2 and arr.shape == x.shape[::-1] else ""
        return f"the gradient of {name} has shape {arr.shape}, expected {want} (the shape of {name}){hint}"
    return arr.reshape(x.shape)


def value_of(f: Callable[..., Any], inputs: list[Input], k: int) -> Callable[[np.ndarray], Any]:
    """x ↦ f's value with input k set to x and the others fixed: what finite differences perturb."""
    fixed = [as_arg(i, i.x) for i in inputs]

    def fun(x: np.ndarray) -> Any:
        vals = list(fixed)
        vals[k] = as_arg(inputs[k], x)
        value, _ = split_output(call_f(f, inputs, vals))
        return scalar_value(value, complex_ok=np.iscomplexobj(x))

    return fun
