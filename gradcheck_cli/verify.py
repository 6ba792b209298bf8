"""`gradcheck verify`: derived gradients, claims and implementations, checked numerically.

For every random point (and, for an unbound generic f, every stand-in
function) each check compares a value (a derived formula evaluated with
numpy, a student's claim, an implementation's output) with a numerical
derivative of the file's own forward pass. A check passes only if it passes
everywhere; the report names the worst entry, both values and a diagnosis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from .derive import Derivation, derive
from .elementwise import ELEMENTWISE, GENERIC_STANDINS
from .errors import GradcheckError, UsageError
from .expr import Expr
from .ir import ClaimSpec, Graph, load
from .numeric import checker
from .numeric.evaluate import Context, Function, evaluate, sample_inputs
from .numeric.result import Check, Report
from .printing import to_dsl
from .shapes import env, is_scalar, shape_str, using


@dataclass
class VerifyOptions:
    seed: int = 0
    trials: int = 2
    method: str = "auto"  # auto | central | complex | richardson
    convention: str = "either"  # either | shape
    bind: dict[str, str] = field(default_factory=dict)
    mode: str = "auto"  # auto | full | fast | sample
    sample: int | None = None
    impl: str | None = None
    vectors: str = "flat"
    timeout: float = 60.0
    tolerance: float | None = None  # relative tolerance override (config)
    points: list[dict[str, Any]] | None = None  # check at these inputs instead of random ones
    progress: Any = None  # callable(done, total, name): the CLI's progress bar


def verify_file(path: str, opts: VerifyOptions | None = None) -> Report:
    opts = opts or VerifyOptions()
    graph = load(path, seed=opts.seed)
    return verify(graph, opts)


def _bindings(graph: Graph, opts: VerifyOptions) -> list[dict[str, str]]:
    """One binding per stand-in when a generic f is unbound: a claim about f holds for every f."""
    for name, fn in opts.bind.items():
        if name not in graph.functions:
            raise UsageError(f"--bind {name}={fn}: {graph.source} declares no function {name}")
        if fn not in ELEMENTWISE:
            raise UsageError(f"--bind {name}={fn}: unknown function {fn}",
                             hint=f"choose one of {', '.join(sorted(ELEMENTWISE))}")
    free = [f for f in graph.generic_functions() if f not in opts.bind]
    if not free:
        return [dict(opts.bind)]
    return [{**opts.bind, **{f: s for f in free}} for s in GENERIC_STANDINS]


@dataclass
class _Point:
    ctx: Context
    label: str  # "trial 2, f = sigmoid"


def _points(graph: Graph, opts: VerifyOptions) -> Iterator[_Point]:
    rng = np.random.default_rng(opts.seed)
    for binding in _bindings(graph, opts):
        if opts.points is not None:
            for t, given in enumerate(opts.points):
                values = {k: np.atleast_2d(np.asarray(v, dtype=float)).reshape(
                    graph.env.concrete(graph.variables[k].expr.shape)) for k, v in given.items()}
                yield _Point(Context(graph, values, binding), f"given point {t + 1}")
            continue
        for t in range(opts.trials):
            values = _finite_point(graph, rng, binding)
            label = f"point {t + 1}" + "".join(f", {k} = {v}" for k, v in binding.items() if k in graph.generic_functions())
            yield _Point(Context(graph, values, binding), label)


def _finite_point(graph: Graph, rng: np.random.Generator, binding: dict[str, str]) -> dict[str, np.ndarray]:
    """A random point where the forward pass is finite (positive inputs if log/sqrt need them)."""
    values = sample_inputs(graph, rng)
    for attempt in range(6):
        ctx = Context(graph, values, binding)
        with np.errstate(all="ignore"):
            out = evaluate(graph.output, ctx)
        if np.all(np.isfinite(out)):
            return values
        values = sample_inputs(graph, rng, positive=attempt >= 1)
    return values


def verify(graph: Graph, opts: VerifyOptions | None = None) -> Report:
    opts = opts or VerifyOptions()
    report = Report(file=graph.source, seed=opts.seed)
    t0 = time.perf_counter()
    with using(graph.env):
        sizes = ", ".join(f"{k} = {v}" for k, v in graph.env.sizes.items())
        report.notes.append(f"seed {opts.seed}; sizes {sizes or '(none)'}; {opts.trials} point(s)")
        free = [f for f in graph.generic_functions() if f not in opts.bind]
        if free:
            report.notes.append(f"{', '.join(free)} is generic: checked with {', '.join(GENERIC_STANDINS)}")
        points = list(_points(graph, opts))
        derivation = derive(graph)
        total = len(derivation.gradients) + len(graph.claims) + (1 if opts.impl else 0)
        tick = opts.progress or (lambda done, total, name: None)
        for check in _derived_checks(graph, derivation, points, opts):
            report.checks.append(check)
            tick(len(report.checks), total, check.name)
        for c in graph.claims:
            report.checks.append(_claim_check(graph, c, points, opts))
            tick(len(report.checks), total, c.name)
        if opts.impl:
            from .impl_check import impl_checks

            report.checks.extend(impl_checks(graph, points, opts))
    report.notes.append(f"{time.perf_counter() - t0:.2f} s")
    return report


# ---------------------------------------------------------------------------
# derived gradients


def _derived_checks(graph: Graph, d: Derivation, points: list[_Point], opts: VerifyOptions) -> Iterator[Check]:
    root = graph.values[d.output]
    for g in d.gradients:  # a generator: the caller reports progress per check
        name = f"derived d{d.output}/d{g.wrt}"
        if g.skipped:
            yield Check(name=name, kind="derived", ok=True, status="skipped", message=g.skipped,
                        file=graph.source, wrt=g.wrt)
            continue
        expr = g.shape_form if g.shape_form is not None else g.jacobian
        assert expr is not None
        conv = "shape" if g.shape_form is not None else "jacobian"
        yield _check_value(name, "derived", graph, root, g.wrt_expr, lambda ctx, e=expr: evaluate(e, ctx),
                           conv, points, opts, line=None, wrt=g.wrt)


# ---------------------------------------------------------------------------
# claims


def _one_line(err: GradcheckError) -> str:
    where = f"{err.span.line}:{err.span.column}: " if err.span else ""
    hint = f" ({err.hint})" if err.hint else ""
    return f"{where}{err.message}{hint}"


def _claim_check(graph: Graph, claim: ClaimSpec, points: list[_Point], opts: VerifyOptions) -> Check:
    base = dict(name=claim.name, kind="claim", file=graph.source, line=claim.line, wrt=claim.den)
    if claim.error is not None or claim.expr is None:
        msg = _one_line(claim.error) if claim.error else "the claim could not be read"
        return Check(ok=False, status="error", message=msg, **base)  # type: ignore[arg-type]
    num = graph.values.get(claim.num) or graph.variables[claim.num].expr
    den = graph.variables[claim.den].expr if claim.den in graph.variables else graph.values[claim.den]
    conv, problem = _convention(num, den, claim.expr, opts.convention)
    if problem:
        return Check(ok=False, status="fail", message=problem, convention=conv,
                     diagnosis="transposed" if "transpose" in problem else None, **base)  # type: ignore[arg-type]
    expr = claim.expr
    return _check_value(claim.name, "claim", graph, num, den, lambda ctx: evaluate(expr, ctx), conv, points, opts,
                        line=claim.line, wrt=claim.den, suspects=_suspects(graph, claim))


def _suspects(graph: Graph, claim: ClaimSpec) -> Any:
    """The usual wrong answers, derived, so a failure can be named: f for f′, a term dropped."""
    from . import algebra as alg
    from .ops import MUTATION

    if claim.num not in graph.values or not is_scalar(graph.values[claim.num].shape):
        return None
    try:
        right = derive(graph, [claim.den], output=claim.num).gradients[0].shape_form
        MUTATION.append("f_for_fprime")
        try:
            slip = derive(graph, [claim.den], output=claim.num).gradients[0].shape_form
        finally:
            MUTATION.pop()
    except GradcheckError:
        return None
    if right is None:
        return None
    with using(graph.env):
        terms = [alg.scale(c, t) for c, t in alg._terms(right)] if right.op == "add" else []

    def values(ctx: Context) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        alts = {}
        if slip is not None and slip is not right:
            alts["f used where f′ belongs"] = evaluate(slip, ctx)
        missing = {to_dsl(t, graph.names()): evaluate(t, ctx) for t in terms}
        return alts, missing
    return values


def _convention(num: Expr, den: Expr, claim: Expr, strict: str) -> tuple[str | None, str | None]:
    """Which layout the claim uses, or why it fits none."""
    E = env()
    ds, cs = den.shape, claim.shape
    if is_scalar(num.shape):
        if E.same_shape(cs, ds):
            return "shape", None
        if ds[1].is_one and E.same_shape(cs, (ds[1], ds[0])):
            if strict == "shape":
                return "jacobian", (f"the claim is a row vector ({shape_str(cs)}), the Jacobian form; "
                                    f"in shape convention it must be {shape_str(ds)} like the variable")
            return "jacobian", None
        if E.same_shape(cs, (ds[1], ds[0])):
            return None, (f"the claim is {shape_str(cs)}, the transpose of the variable's shape {shape_str(ds)}: "
                          f"in shape convention the gradient has the variable's shape")
        return None, (f"the claim is {shape_str(cs)}, which fits no convention: the gradient should be "
                      f"{shape_str(ds)} (shape convention)" + ("" if not ds[1].is_one else f" or {shape_str((ds[1], ds[0]))} (Jacobian form)"))
    if not (ds[0].is_one or ds[1].is_one):
        return None, "a vector's derivative by a matrix is a 3-tensor; claims of it are not checked"
    n_out = num.shape[0] if not num.shape[0].is_one else num.shape[1]
    n_in = ds[0] if not ds[0].is_one else ds[1]
    want = (n_out, n_in)
    if E.same_shape(cs, want):
        return "jacobian", None
    if E.same_shape(cs, (n_in, n_out)):
        return None, (f"the claim is {shape_str(cs)}, the transposed Jacobian (denominator layout); "
                      f"the Jacobian is {shape_str(want)} (numerator layout: rows follow the output)")
    return None, f"the claim is {shape_str(cs)}, but the Jacobian is {shape_str(want)}"


# ---------------------------------------------------------------------------
# the shared numeric comparison


def _analytic_path(out: Expr, wrt: Expr, ctx: Context) -> bool:
    """Complex step is exact when every op between wrt and out is (piecewise) analytic."""
    from .numeric.evaluate import depends_on
    from .ops import OPS

    dep = depends_on(out, {id(wrt)})
    for node in out.walk():
        if id(node) not in dep or node is wrt:
            continue
        if node.op == "fn":
            name = node.param("name")
            real = name if name in ELEMENTWISE else ctx.bind.get(name) or ctx.graph.functions.get(name)
            if real is None or not checker.complex_safe_fn(real, node.param("order")):
                return False
        elif not checker.complex_safe_op(OPS[node.op]):
            return False
    return True


def _check_value(name: str, kind: str, graph: Graph, num: Expr, den: Expr, value_of: Any, conv: str | None,
                 points: list[_Point], opts: VerifyOptions, line: int | None, wrt: str | None,
                 suspects: Any = None) -> Check:
    t0 = time.perf_counter()
    worst: Check | None = None
    evaluations = 0
    for pt in points:
        with np.errstate(all="ignore"):
            try:
                claimed = np.asarray(value_of(pt.ctx), dtype=float)
            except (KeyError, ValueError, np.linalg.LinAlgError) as e:
                return Check(name=name, kind=kind, ok=False, status="error", file=graph.source, line=line, wrt=wrt,
                             message=f"could not evaluate: {e}", convention=conv)
            fun = Function(num, den, pt.ctx)
            method = opts.method
            if method == "auto":
                method = "complex" if _analytic_path(num, den, pt.ctx) else "central"
            result = checker.check(fun, claimed, conv=conv, method=method, mode=opts.mode, sample=opts.sample,
                                   rng=np.random.default_rng(opts.seed + 17), rtol=opts.tolerance,
                                   scalar_out=is_scalar(num.shape), label=_entry_label(den, graph),
                                   suspects=(lambda ctx=pt.ctx: suspects(ctx)) if suspects else None)
        evaluations += result.evaluations
        check = Check(name=name, kind=kind, ok=result.ok, status=result.status, message=result.message,
                      convention=conv, max_abs_error=result.max_abs_error, max_rel_error=result.max_rel_error,
                      worst_index=result.worst_index, method=result.method, mode=result.mode, line=line,
                      file=graph.source, diagnosis=result.diagnosis, wrt=wrt)
        if not result.ok:
            check.message = f"{check.message} [{pt.label}]"
            worst = check
            break
        if worst is None or (check.max_rel_error or 0) > (worst.max_rel_error or 0) or check.status == "kink":
            worst = check
    assert worst is not None
    worst.evaluations = evaluations
    worst.seconds = time.perf_counter() - t0
    if worst.ok and conv == "jacobian" and kind == "claim" and is_scalar(num.shape):
        worst.message = (worst.message + "; " if worst.message else "") + "given in Jacobian form (a row vector)"
    return worst


def _entry_label(den: Expr, graph: Graph) -> str:
    if den.op == "var":
        return den.param("name")
    return graph.value_name(den) or to_dsl(den)
