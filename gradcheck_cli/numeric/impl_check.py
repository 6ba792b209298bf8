"""`verify --impl hw.py:func`: a student's numpy forward/backward against the file.

The student's code runs in a subprocess (it is untrusted: a crash, a hang or
a wrong return type fails that check, never gradcheck). Its value is checked
against the file's own forward pass, and each returned gradient against
numerical derivatives of that forward pass, each reported separately.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from gradcheck_cli.errors import GradcheckError, UsageError
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.numeric import checker
from gradcheck_cli.numeric.evaluate import Function, evaluate
from gradcheck_cli.numeric.impl_steps import argument_name, pack, pack_spec, unpack_grads
from gradcheck_cli.numeric.result import Check
from gradcheck_cli.shapes import is_scalar, shape_str


def _spec(graph: Graph) -> dict[str, tuple[str, tuple[int, int]]]:
    out = {}
    for name, v in graph.variables.items():
        shape = graph.env.concrete(v.expr.shape)
        kind = "scalar" if is_scalar(v.expr.shape) else "vector" if v.expr.shape[1].is_one else "matrix"
        out[name] = (kind, shape)
    return out


def parse_target(target: str) -> tuple[Path, str]:
    path, sep, func = target.rpartition(":")
    if not sep or not path or not func.isidentifier():
        raise UsageError(f"--impl expects PATH.py:FUNCTION, got {target!r}",
                         hint="for example --impl hw.py:forward_backward")
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--impl: no such file {path}")
    return p, func


#: Low-precision results are checked at their own precision: (value rtol, gradient rtol).
#: float32 has ε = 1.2e-7; a gradient summed over many terms keeps ~4 digits of it.
_PRECISION = {"float32": (1e-5, 1e-3), "float16": (1e-2, 3e-2)}


def _low_precision(calls: list[Any], key: str) -> str | None:
    """The low-precision dtype (float32, float16) the implementation returned for `key`, if any."""
    for call in calls:
        dt = getattr(call, "dtypes", {}).get(key)
        if dt in _PRECISION:
            return str(dt)
    return None


def impl_checks(graph: Graph, points: list[Any], opts: Any) -> list[Check]:
    """The impl checks; an error of gradcheck's own while checking is that check's failure, never a crash."""
    try:
        return _impl_checks(graph, points, opts)
    except GradcheckError:
        raise  # a bad --impl argument, or a file --impl cannot use (a vector output): exit 2, positioned
    except Exception as e:  # noqa: BLE001 - reported as the failed check, with the message
        return [Check(name="impl", kind="impl", ok=False, status="error",  # type: ignore[arg-type]
                      message=f"gradcheck could not check the implementation ({type(e).__name__}: {e}); "
                              f"please report it with the file")]


def _impl_checks(graph: Graph, points: list[Any], opts: Any) -> list[Check]:
    from gradcheck_cli.numeric.impl_runner import ImplFailure, call_impl

    path, func = parse_target(opts.impl)
    if not is_scalar(graph.output.shape):
        from gradcheck_cli.errors import ShapeError

        why = f" ({graph.output_note})" if graph.output_note else ""
        raise ShapeError(f"--impl checks a scalar loss and its gradients, but the output {graph.output_name} is "
                         f"{shape_str(graph.output.shape)}{why}", graph.value_spans.get(graph.output_name),
                         "name the loss with a line `output NAME`")
    spec = pack_spec(graph, _spec(graph))  # a loop file: sequences as (T, D) arrays (impl_steps.py)
    t0 = time.perf_counter()
    arrays = [pack(graph, {n: pt.ctx.values[n] for n in graph.variables}) for pt in points]
    result = call_impl(str(path), func, arrays, timeout=opts.timeout, vectors=opts.vectors, spec=spec,
                       memory=opts.memory)
    base = {"kind": "impl", "file": str(path)}
    if isinstance(result, ImplFailure):
        return [Check(name=f"impl {func}", ok=False, status="error", message=result.message, **base)]  # type: ignore[arg-type]
    result = [replace(call, grads=unpack_grads(graph, call.grads)) for call in result]
    checks: list[Check] = [_value_check(graph, func, points, result, base)]
    # each gradient
    for name in graph.params():
        try:
            checks.append(_grad_check(graph, name, func, points, result, opts, base))
        except Exception as e:  # noqa: BLE001 - gradcheck's own error on one gradient fails that check only
            checks.append(Check(name=f"impl {func}: grad {name}", ok=False, status="error", wrt=name,
                                message=f"gradcheck could not check this gradient ({type(e).__name__}: {e})",
                                **base))  # type: ignore[arg-type]
    checks[-1].seconds = time.perf_counter() - t0
    return checks


def _value_check(graph: Graph, func: str, points: list[Any], result: Any, base: dict[str, str]) -> Check:
    """The implementation's value against the file's forward pass: the worst point, or the first failing one."""
    worst_val: Check | None = None
    low = _low_precision(result, "value")
    vtol = _PRECISION[low][0] if low else 1e-8
    for pt, call in zip(points, result):
        expected = evaluate(graph.output, pt.ctx)
        got = np.asarray(call.value, dtype=float)
        if got.size != expected.size:
            worst_val = Check(name=f"impl {func}: value", ok=False, status="fail",
                              message=f"the value has shape {got.shape}, expected {expected.shape}", **base)  # type: ignore[arg-type]
            break
        err = float(np.max(np.abs(got.reshape(expected.shape) - expected)))
        rel = err / max(float(np.max(np.abs(expected))), 1e-300)
        ok = bool(np.isfinite(got).all()) and (rel <= vtol or err <= 1e-12)
        c = Check(name=f"impl {func}: value", ok=ok, status="pass" if ok else "fail", max_abs_error=err,
                  max_rel_error=rel, message=("agrees with the file's forward pass" if ok else
                                              f"value {got.ravel()[:1][0]:.6g} but the file's forward pass gives "
                                              f"{expected.ravel()[0]:.6g} [{pt.label}]"), **base)  # type: ignore[arg-type]
        if worst_val is None or not ok or (rel > (worst_val.max_rel_error or 0) and worst_val.ok):
            worst_val = c
        if not ok:
            break
    assert worst_val is not None
    return worst_val


def _grad_check(graph: Graph, name: str, func: str, points: list[Any], calls: list[Any], opts: Any,
                base: dict[str, Any]) -> Check:
    var = graph.variables[name].expr
    shape = graph.env.concrete(var.shape)
    label = f"impl {func}: grad {name}"
    worst: Check | None = None
    low = _low_precision(calls, name)
    rtol, atol_scale = opts.tolerance, 0.0
    if low:  # a float32 gradient cannot agree to float64's digits: compare at its own precision
        rtol, atol_scale = max(opts.tolerance or 0.0, _PRECISION[low][1]), _PRECISION[low][1] * 1e-2
    note = f"the implementation returned {low}: checked to {rtol:.0e}".replace("e-0", "e-") if low else ""
    for pt, call in zip(points, calls):
        if name not in call.grads:
            arg, params = argument_name(graph, name), dict.fromkeys(argument_name(graph, p) for p in graph.params())
            missing = f"no gradient for {arg}: grads must have an entry for every parameter ({', '.join(params)})"
            return Check(name=label, ok=False, status="fail", message=missing, wrt=name, **base)
        g = np.asarray(call.grads[name], dtype=float)
        ok_shapes = {shape}
        if shape[1] == 1:
            ok_shapes |= {(shape[0],)}
        if is_scalar(var.shape):
            ok_shapes |= {(), (1,)}
        if g.shape not in ok_shapes:
            want = f"{shape}" + (f" or ({shape[0]},)" if shape[1] == 1 and shape[0] != 1 else "")
            return Check(name=label, ok=False, status="fail", wrt=name, diagnosis="transposed" if g.shape == shape[::-1] else None,
                         message=f"gradient of {name} has shape {g.shape}, expected {want} (the shape of {name})", **base)
        fun = Function(graph.output, var, pt.ctx)
        method = opts.method if opts.method != "auto" else ("complex" if checker.analytic_path(graph.output, var, pt.ctx) else "central")
        out = checker.check(fun, g.reshape(shape), conv="shape", method=method, mode=opts.mode, sample=opts.sample,
                            rng=np.random.default_rng(opts.seed + 29), rtol=rtol, scalar_out=True, label=name,
                            atol_scale=atol_scale)
        c = Check(name=label, ok=out.ok, status=out.status, message=out.message, max_abs_error=out.max_abs_error,
                  max_rel_error=out.max_rel_error, worst_index=out.worst_index, evaluations=out.evaluations,
                  method=out.method, mode=out.mode, diagnosis=out.diagnosis, wrt=name, **base)
        if note:
            c.message = f"{note}; {c.message}"
        if not out.ok:
            c.message += f" [{pt.label}]"
            return c
        if worst is None or (c.max_rel_error or 0) > (worst.max_rel_error or 0):
            worst = c
    assert worst is not None
    return worst
