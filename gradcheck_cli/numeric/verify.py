"""`gradcheck verify`: derived gradients, claims and implementations, checked numerically.

For every random point (and, for an unbound generic f, every stand-in
function) each check compares a value (a derived formula evaluated with
numpy, a student's claim, an implementation's output) with a numerical
derivative of the file's own forward pass. A check passes only if it passes
everywhere; the report names the worst entry, both values and a diagnosis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import numpy as np

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.deep import deep
from gradcheck_cli.derive.reverse import Derivation, derive
from gradcheck_cli.symbolic.elementwise import ELEMENTWISE, GENERIC_STANDINS, MAX_GENERIC, generic_rounds
from gradcheck_cli.errors import GradcheckError, UsageError
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lang.graph import ClaimSpec, Graph, load
from gradcheck_cli.lang.loops import split_step_name
from gradcheck_cli.numeric import checker
from gradcheck_cli.numeric.evaluate import Context, Function, evaluate, sample_inputs
from gradcheck_cli.numeric.claim_shape import convention, misshaped
from gradcheck_cli.numeric.mistakes import suspects_of
from gradcheck_cli.numeric.result import Check, Report
from gradcheck_cli.numeric.sequence_check import (SequenceFunction, Steps, at_any_step, evaluate_all, one_step_off,
                                                  sequences, stacked)
from gradcheck_cli.symbolic.printing import to_dsl
from gradcheck_cli.shapes import is_scalar, shape_str, using


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
    memory: float | None = 2048.0  # MB of address space for --impl's process (None: unlimited)
    tolerance: float | None = None  # relative tolerance override (config)
    points: list[dict[str, Any]] | None = None  # check at these inputs instead of random ones
    progress: Any = None  # callable(done, total, name): the CLI's progress bar


def verify_file(path: str, opts: VerifyOptions | None = None) -> Report:
    opts = opts or VerifyOptions()
    graph = load(path, seed=opts.seed)
    return verify(graph, opts)


def _bindings(graph: Graph, opts: VerifyOptions) -> list[dict[str, str]]:
    """One binding per round when a generic f is unbound: a claim about f holds for every f.

    Two generic functions are never bound to the same stand-in in a round
    (`generic_rounds`), so a claim cannot pass by confusing f and g.
    """
    for name, fn in opts.bind.items():
        if name not in graph.functions:
            raise UsageError(f"--bind {name}={fn}: {graph.source} declares no function {name}")
        if fn not in ELEMENTWISE:
            raise UsageError(f"--bind {name}={fn}: unknown function {fn}",
                             hint=f"choose one of {', '.join(sorted(ELEMENTWISE))}")
    free = [f for f in graph.generic_functions() if f not in opts.bind]
    if len(free) > MAX_GENERIC:
        raise UsageError(f"{graph.source} has {len(free)} unbound generic functions; verify can tell at most "
                         f"{MAX_GENERIC} apart", hint="bind some of them, e.g. --bind " + free[0] + "=tanh")
    return [{**opts.bind, **b} for b in generic_rounds(free)]


def _generic_note(free: list[str]) -> str:
    if len(free) == 1:
        return f"{free[0]} is generic: checked with {', '.join(GENERIC_STANDINS)}"
    rounds = "; ".join(", ".join(b[f] for f in free) for b in generic_rounds(free))
    return f"{', '.join(free)} are generic: each round binds them to different functions ({', '.join(free)} = {rounds})"


@dataclass
class _Point:
    ctx: Context
    label: str  # "trial 2, f = sigmoid"


def sample_points(graph: Graph, opts: VerifyOptions) -> Iterator[_Point]:
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


#: The largest array a numeric check builds: 10⁷ float64 entries is 80 MB, and the
#: checks hold a few perturbed copies at once. derive has no such limit (sizes stay symbolic).
MAX_ENTRIES = 10_000_000


def _check_sizes(graph: Graph) -> None:
    """A clear error, at the declaration, for a size too large to evaluate (never a MemoryError)."""
    sizes = graph.env.sizes
    declared = {id(v.expr): v for v in graph.variables.values()}
    for e in graph.output.walk():
        r, c = e.shape[0].size(sizes), e.shape[1].size(sizes)
        if r * c <= MAX_ENTRIES:
            continue
        v = declared.get(id(e))
        what = f"{v.name} ({shape_str(e.shape)})" if v is not None else f"a {shape_str(e.shape)} intermediate"
        given = ", ".join(dict.fromkeys(f"{k} = {sizes[k]:,}" for s in e.shape for k, _ in s.terms if k in sizes))
        given = given or "the sizes"
        raise UsageError(f"{given}: {what} would have {r * c:,} entries ({_bytes(8 * r * c)} as float64); numeric "
                         f"checks take arrays of up to {MAX_ENTRIES:,} entries ({_bytes(8 * MAX_ENTRIES)})",
                         v.span if v is not None else _first_use(graph, e),
                         "give the dims smaller sizes for verify; derive keeps them symbolic at any size")


def _first_use(graph: Graph, node: Expr) -> Any:
    """The span of the first statement that computes `node`. Not node.span: nodes are shared
    between graphs (hash-consed), so their own span may point into another file."""
    seen: set[int] = set()
    for name, value in graph.values.items():
        stack = [value]
        while stack:
            e = stack.pop()
            if id(e) in seen:
                continue
            seen.add(id(e))
            if e is node:
                return graph.value_spans.get(name)
            stack.extend(e.args)
    return None


def _bytes(n: int) -> str:
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


@deep
def verify(graph: Graph, opts: VerifyOptions | None = None) -> Report:
    opts = opts or VerifyOptions()
    report = Report(file=graph.source, seed=opts.seed)
    t0 = time.perf_counter()
    with using(graph.env):
        _check_sizes(graph)
        sizes = ", ".join(f"{k} = {v}" for k, v in graph.env.sizes.items())
        report.notes.append(f"seed {opts.seed}; sizes {sizes or '(none)'}; {opts.trials} point(s)")
        if graph.output_note:
            report.notes.append(graph.output_note)
        free = [f for f in graph.generic_functions() if f not in opts.bind]
        _bindings(graph, opts)  # a bad --bind or too many generic functions: a usage error before any note
        for w in graph.warnings:
            report.notes.append(f"warning: line {w.span.line if w.span else '?'}: {w.message}; {w.hint}")
        if free:
            report.notes.append(_generic_note(free))
        points = list(sample_points(graph, opts))
        derivation = derive(graph, unrolled=True)
        total = len(derivation.gradients) + len(graph.claims) + (1 if opts.impl else 0)
        tick = opts.progress or (lambda done, total, name: None)
        for check in _derived_checks(graph, derivation, points, opts):
            report.checks.append(check)
            tick(len(report.checks), total, check.name)
        mistakes: dict[tuple[str, str], Any] = {}  # the usual wrong answers per gradient, derived once
        for c in graph.claims:
            report.checks.append(_claim_check(graph, c, points, opts, mistakes))
            tick(len(report.checks), total, c.name)
        if opts.impl:
            from gradcheck_cli.numeric.impl_check import impl_checks

            report.checks.extend(impl_checks(graph, points, opts))
    report.notes.append(f"{time.perf_counter() - t0:.2f} s")
    return report


# ---------------------------------------------------------------------------
# derived gradients


def _derived_checks(graph: Graph, d: Derivation, points: list[_Point], opts: VerifyOptions) -> Iterator[Check]:
    root = graph.values[d.output]
    groups = _sequence_groups(graph, d)
    step_of = {e.name: s for s in groups.values() for e in s.elems}
    for g in d.gradients:  # a generator: the caller reports progress per check
        if g.wrt in step_of:  # x[1], …, x[T]: one check of ∂L/∂x[t], at its first step
            steps = step_of[g.wrt]
            if g.wrt == steps.elems[0].name:
                yield _steps_check(graph, d, root, steps, points, opts)
            continue
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


def _sequence_groups(graph: Graph, d: Derivation) -> dict[str, Steps]:
    if graph.loop is None:
        return {}
    declared = {n for s in graph.loop.seq_decls for n in s.decl.names}
    exprs = {g.wrt: g.wrt_expr for g in d.gradients if not g.skipped and g.shape_form is not None}
    return sequences(exprs, declared)


def _steps_check(graph: Graph, d: Derivation, root: Expr, steps: Steps, points: list[_Point],
                 opts: VerifyOptions) -> Check:
    """∂L/∂x[t] for every t, as derive prints it: the T derived gradients against the (T, n) stack."""
    by_name = {g.wrt: g.shape_form for g in d.gradients}
    exprs = [by_name[e.name] for e in steps.elems]
    return _check_value(f"derived d{d.output}/d{steps.name}", "derived", graph, root, steps,
                        lambda ctx: stacked(evaluate_all(exprs, ctx)), "shape", points, opts, line=None,
                        wrt=steps.name)


# ---------------------------------------------------------------------------
# claims


def _one_line(err: GradcheckError) -> str:
    where = f"{err.span.line}:{err.span.column}: " if err.span else ""
    hint = f" ({err.hint})" if err.hint else ""
    return f"{where}{err.message}{hint}"


def _claim_check(graph: Graph, claim: ClaimSpec, points: list[_Point], opts: VerifyOptions,
                 suspects_cache: dict[tuple[str, str], Any] | None = None) -> Check:
    base = dict(name=claim.name, kind="claim", file=graph.source, line=claim.line, wrt=claim.den)
    if claim.steps and claim.error is None:
        return _steps_claim(graph, claim, points, opts, suspects_cache)
    if claim.error is not None or claim.expr is None:
        msg = _one_line(claim.error) if claim.error else "the claim could not be read"
        span = claim.error.span if claim.error else None
        column = span.column if span is not None and span.line == claim.line else None
        return Check(ok=False, status="error", message=msg, column=column, **base)  # type: ignore[arg-type]
    num = graph.values.get(claim.num) or graph.variables[claim.num].expr
    den = graph.variables[claim.den].expr if claim.den in graph.variables else graph.values[claim.den]
    expr = claim.expr
    if expr.op == "const" and expr.param("value") == 0 and is_scalar(num.shape) and not is_scalar(den.shape):
        expr = alg.zeros(*den.shape)  # `0`, as derive prints a zero gradient: zero of every entry
    conv, problem = convention(num, den, expr, opts.convention)
    suspects = suspects_of(graph, claim, {} if suspects_cache is None else suspects_cache)
    if problem:
        # a usual mistake by value first: a row bias summed over the wrong axis is a column, the transposed shape
        diagnosis = misshaped(claim.expr, points, suspects)
        if diagnosis:
            problem += f"; looks like: {diagnosis}"
        elif "transpose" in problem:
            diagnosis = "transposed"
        return Check(ok=False, status="fail", message=problem, convention=conv,
                     diagnosis=diagnosis, **base)  # type: ignore[arg-type]
    return _check_value(claim.name, "claim", graph, num, den, lambda ctx: evaluate(expr, ctx), conv, points, opts,
                        line=claim.line, wrt=claim.den, suspects=suspects)


def _steps_claim(graph: Graph, claim: ClaimSpec, points: list[_Point], opts: VerifyOptions,
                 cache: dict[tuple[str, str], Any] | None) -> Check:
    """A claim inside `for t = a..b:`, about every step of a sequence (`claim dL/dx[t] = W_xhᵀ δ[t]`):
    one check of the (steps, n) stack. Another kind (a numerator that moves with t) is checked step
    by step, and the first failing step (else the worst) speaks for the claim."""
    var = claim.over[0] if claim.over else "t"
    nums, dens = {c.num for c in claim.steps}, [c.den for c in claim.steps]
    first = graph.values.get(claim.steps[0].num) or graph.variables[claim.steps[0].num].expr
    if len(nums) > 1 or len(set(dens)) < len(dens) or split_step_name(dens[0]) is None or not is_scalar(first.shape):
        each = [(c, _claim_check(graph, c, points, opts, cache)) for c in claim.steps]
        one, check = next(((c, k) for c, k in each if not k.ok), None) or max(
            each, key=lambda p: p[1].max_rel_error or 0.0)
        at = f" (at {var} = {split_step_name(one.den)[1] if split_step_name(one.den) else '?'})"  # type: ignore[index]
        return replace(check, name=claim.name, wrt=claim.den, message=check.message + at if not check.ok else check.message)
    num = first
    elems = [graph.variables[d].expr if d in graph.variables else graph.values[d] for d in dens]
    exprs = [alg.zeros(*den.shape) if e is not None and e.op == "const" and e.param("value") == 0
             and not is_scalar(den.shape) else e for e, den in zip((c.expr for c in claim.steps), elems)]
    conv = None
    for c, den, e in zip(claim.steps, elems, exprs):
        assert e is not None
        conv, problem = convention(num, den, e, opts.convention)
        if problem:
            return Check(name=claim.name, kind="claim", file=graph.source, line=claim.line, wrt=claim.den, ok=False,
                         status="fail", message=f"{problem} (at {c.den})", convention=conv)
    steps = Steps(split_step_name(dens[0])[0], tuple(int(split_step_name(d)[1]) for d in dens),  # type: ignore[index,arg-type]
                  tuple(elems))
    value_of = lambda ctx: stacked(evaluate_all(exprs, ctx))  # noqa: E731
    check = _check_value(claim.name, "claim", graph, num, steps, value_of, "shape", points, opts, line=claim.line,
                         wrt=claim.den)
    if check.ok or check.status == "error" or not points:
        return replace(check, convention=conv)
    # the usual wrong answers: one step off, else what the failing step alone looks like (a missing term)
    row = check.worst_index[0] if check.worst_index else 0
    diagnosis = one_step_off(graph, claim.steps[0].num, steps, value_of(points[0].ctx), points[0].ctx) or \
        at_any_step(_claim_check(graph, claim.steps[row], points, opts, cache).diagnosis, steps.steps[row], var)
    message = f"{check.message}; looks like: {diagnosis}" if diagnosis and "looks like" not in check.message else check.message
    return replace(check, convention=conv, diagnosis=diagnosis or check.diagnosis, message=message)


# ---------------------------------------------------------------------------
# the shared numeric comparison


def _check_value(name: str, kind: str, graph: Graph, num: Expr, den: Expr | Steps, value_of: Any, conv: str | None,
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
            fun = SequenceFunction(num, den, pt.ctx) if isinstance(den, Steps) else Function(num, den, pt.ctx)
            method, mode = opts.method, opts.mode
            if mode == "auto" and isinstance(fun, SequenceFunction):
                mode = fun.auto_mode()
            if method == "auto":
                path_from = den.elems if isinstance(den, Steps) else den
                method = "complex" if checker.analytic_path(num, path_from, pt.ctx) else "central"
            result = checker.check(fun, claimed, conv=conv, method=method, mode=mode, sample=opts.sample,
                                   rng=np.random.default_rng(opts.seed + 17), rtol=opts.tolerance,
                                   scalar_out=is_scalar(num.shape),
                                   label=fun.label if isinstance(fun, SequenceFunction) else _entry_label(den, graph),
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
