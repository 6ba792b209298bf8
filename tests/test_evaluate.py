"""Incremental evaluation (`Function.entries`) equals evaluating the whole graph again.

`verify --full` checks each entry of a variable by changing that one entry; `entries`
follows the changed row through the graph instead of recomputing every node (bench/verify:
5–8× faster than a per-entry loop on a 2-layer net). Any slip there would turn into a false
verdict, so every variable of every example and golden graph is checked here, with real and
complex (complex-step) changes, against `Function.__call__` on the changed input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.lang.graph import load
from gradcheck_cli.numeric.evaluate import Context, Function, evaluate, sample_inputs
from gradcheck_cli.shapes import is_scalar, using

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.grad")) + \
    sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "golden").glob("*.grad"))


def _context(path: str, seed: int) -> Context:
    graph = load(str(ROOT / path))
    bind = {f: "tanh" for f in graph.generic_functions()}
    for k in range(50):
        ctx = Context(graph, sample_inputs(graph, np.random.default_rng(seed + k)), bind)
        with using(graph.env):
            if np.all(np.isfinite(evaluate(graph.output, ctx))):
                return ctx
    raise AssertionError("no point with a finite output")


@pytest.mark.parametrize("path", FILES)
@pytest.mark.parametrize("kind", ["real", "complex"])
def test_changing_entries_one_at_a_time_equals_full_evaluation(path: str, kind: str) -> None:
    ctx = _context(path, seed=7)
    graph = ctx.graph
    rng = np.random.default_rng(3)
    checked = 0
    with using(graph.env):
        for name in graph.params():
            var = graph.variables[name].expr
            fun = Function(graph.output, var, ctx)
            x0 = np.asarray(fun.x0)
            idx = rng.choice(x0.size, size=min(x0.size, 6), replace=False)
            step = 1e-3 * (1 + np.abs(x0.flat[idx]))
            new = x0.flat[idx] + (1j * step if kind == "complex" else step)
            got = fun.entries(idx, new)
            for j, (i, v) in enumerate(zip(idx, new)):
                x = x0.astype(new.dtype, copy=True)
                x.flat[i] = v
                want = np.asarray(fun(x))
                np.testing.assert_allclose(np.asarray(got[j]).reshape(want.shape), want, rtol=1e-12, atol=1e-12,
                                           err_msg=f"{path}: {name}.flat[{i}] changed ({kind})")
                checked += 1
    assert checked > 0


@pytest.mark.parametrize("path", FILES)
@pytest.mark.parametrize("method", ["central", "complex"])
def test_batched_gradient_equals_the_per_entry_loop(path: str, method: str) -> None:
    """What `verify --full` computes (every entry through `entries`, in chunks) equals the
    CS231n loop over the same function (one entry changed in place, a whole forward pass
    each), for every variable: the batching changes the cost, never the numbers."""
    from gradcheck_cli.numeric.checker import _Scalar
    from gradcheck_cli.numeric.compare import EPS, default_step
    from gradcheck_cli.numeric.finite_diff import FiniteDiffError, numeric_gradient

    ctx = _context(path, seed=11)
    graph = ctx.graph
    checked = 0
    with using(graph.env):
        out = graph.output
        if not is_scalar(out.shape):  # a vector output: its sum runs the same batched path
            from gradcheck_cli.symbolic import algebra as alg

            out = alg.sum_(out, None)
        for name in graph.params():
            fun = Function(out, graph.variables[name].expr, ctx)
            view = _Scalar(fun)
            chunk = 3 * max(1, int(fun.bytes_per_point))  # three points a chunk: every chunk boundary is crossed
            try:
                loop, n_l = numeric_gradient(view, fun.x0, method=method, batched=False)
            except FiniteDiffError:  # an op that drops the imaginary part: verify uses central there
                continue
            batched, n_b = numeric_gradient(view, fun.x0, method=method, batched=True, chunk_bytes=chunk)
            assert n_b == n_l
            # the two paths sum in different orders: f agrees to a few ulps, which central
            # differences divide by the step (the method's own noise floor, ε|f|/h); the
            # complex step has no cancellation, so there it agrees to rounding
            f0 = abs(complex(fun.scalar(fun.x0)))
            floor = 0.0 if method == "complex" else 16 * EPS * max(1.0, f0) / default_step("central")
            np.testing.assert_allclose(batched, loop, rtol=1e-12, atol=floor + 1e-15,
                                       err_msg=f"{path}: ∂/∂{name} ({method})")
            checked += 1
    assert checked > 0 or method == "complex"
