"""The generic step of a loop file, cut out of its unrolled graph, and `derive` on it.

The unrolled graph (lang: every step spelled out, values `z[k]`, `h[k]`, `J[k]`, variables
`h[0]`, `x[k]`) holds every step; step k = 2 (k = 1 for a loop of one step) is cut out:
the values it reads from step k-1 (`h[k-1]`, the carried states) become the variables
`h[t-1]`, its variables `x[k]` become `x[t]`, its values `z[k]` are named `z[t]`. The loss
`L` is read off the unrolled graph too: a sum of every J[k] (`Σ_t J[t]`), or J[T] alone,
plus terms without a step (`lam/2 ‖W_hh‖²`). The cut is one step's size whatever T is.
"""

from __future__ import annotations

from gradcheck_cli.derive.loop_step import State, StepGraph, substitute
from gradcheck_cli.derive.loops import LoopDerivation, bptt
from gradcheck_cli.errors import DeriveError
from gradcheck_cli.lang.graph import Graph, VarInfo
from gradcheck_cli.lang.loops import split_step_index, step_name
from gradcheck_cli.shapes import using
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr


def _by_step(names: list[str]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for n in names:
        parts = split_step_index(n)
        if parts is not None and parts[1][0] is None:
            out.setdefault(parts[1][1], {})[parts[0]] = n
    return out


def _step_values(graph: Graph) -> list[str]:
    """The values the loop body assigns (z[3], h[3], p[3]), not the file's helper lines (delta[3])."""
    body = getattr(getattr(graph, "loop", None), "loop", None)
    if body is not None:
        own = {s.name for s in body.body if getattr(s, "name", None)}
        return [n for n in graph.values if (p := split_step_index(n)) is not None and p[0] in own]
    return [n for n, e in graph.values.items() if split_step_index(n) is not None and e.op != "var"]


def _terms(e: Expr) -> list[Expr]:
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        if x.op == "add":
            stack.extend(x.args)
        else:
            out.append(x)
    return out


def _reads(roots: list[Expr], stops: set[int]) -> set[int]:
    """The `stops` that the roots read directly: a path to them passes through no other stop."""
    found: set[int] = set()
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if id(e) in stops:
            found.add(id(e))
            continue
        stack.extend(e.args)
    return found


def _loss(graph: Graph, values: dict[int, dict[str, str]], last: int) -> tuple[str | None, str, Expr | None] | None:
    """(J, sum | last | none, the other terms) of the output, or None when it is not made that way."""
    by_id = {id(graph.values[n]): n for ks in values.values() for n in ks.values()}
    steps: dict[str, set[int]] = {}
    extra: Expr | None = None
    for term in _terms(graph.output):
        name = by_id.get(id(term))
        if name is not None and split_step_index(name) is not None:
            base, (_, k) = split_step_index(name)  # type: ignore[misc]
            steps.setdefault(base, set()).add(k)
        else:
            extra = term if extra is None else alg.add(extra, term)
    if not steps:
        return None, "none", extra
    if len(steps) != 1:
        return None
    (j, ks), = steps.items()
    if ks == set(range(1, last + 1)):
        return j, "sum", extra
    if ks == {last}:
        return j, "last", extra
    return None


def _post(graph: Graph, extra: Expr, values: dict[int, dict[str, str]], last: int, length: str
          ) -> tuple[Expr, dict[str, Expr], dict[int, str], dict[str, Expr]] | None:
    """The loss's terms after the loop with the last step's states cut out as variables h[T];
    None if they read any other step."""
    stops = {id(graph.values[n]): (b, k) for k, ks in values.items() for b, n in ks.items()}
    read = _reads([extra], set(stops))
    if any(stops[i][1] != last for i in read):
        return None
    mapping: dict[int, Expr] = {}
    cut: dict[str, Expr] = {}
    for i in read:
        b = stops[i][0]
        node = graph.values[values[last][b]]
        cut[b] = mapping[i] = alg.var(step_name(b, (length, 0)), node.shape)
    names: dict[int, str] = {}
    cut_values: dict[str, Expr] = {}
    for n, e in graph.values.items():  # the file's values after the loop (p = softmax(W_hy h[T])), cut alike
        if split_step_index(n) is None and n != graph.output_name and e.op != "var":
            names.setdefault(id(cut_e := substitute(e, mapping)), n)
            if cut_e is not e:
                cut_values[n] = cut_e
    return substitute(extra, mapping), cut, names, cut_values


def step_from_unrolled(graph: Graph, length: str = "T", var: str = "t") -> StepGraph | None:
    """The generic step of an unrolled loop, or None if the graph is not one (in the form above)."""
    values = _by_step(_step_values(graph))
    variables = _by_step(list(graph.variables))
    if not values:
        return None
    last = max(values)
    loss = _loss(graph, values, last)
    if loss is None:
        return None
    k = 2 if last >= 2 else 1
    with using(graph.env):
        post = _post(graph, loss[2], values, last, length) if loss[2] is not None else None
        if loss[2] is not None and post is None:
            return None
        step = _cut(graph, values, variables, k, loss, length, var)
        step.taken = {n.split("[")[0] for n in (*graph.values, *graph.variables)}
        if post is not None:
            step.extra, step.post_vars, step.post_names, step.post_values = post
            if set(step.post_vars) - {s.name for s in step.states}:
                return None  # the loss reads a value of the last step that is not carried
        return step


def _cut(graph: Graph, values: dict[int, dict[str, str]], variables: dict[int, dict[str, str]], k: int,
         loss: tuple[str, str, Expr | None], length: str, var: str) -> StepGraph:
    here = {b: graph.values[n] for b, n in values[k].items()}
    before = {**{b: graph.variables[n].expr for b, n in variables.get(k - 1, {}).items()},
              **{b: graph.values[n] for b, n in values.get(k - 1, {}).items()}}
    inside = _reads(list(here.values()), {id(n) for n in before.values()})
    mapping: dict[int, Expr] = {}
    states = []
    for b, node in before.items():
        if id(node) in inside and b in here:
            prev = alg.var(step_name(b, (var, -1)), node.shape)
            mapping[id(node)] = prev
            init = step_name(b, (None, 0))
            states.append((b, prev, init if init in graph.params() else None))
    inputs = []
    for b, n in variables.get(k, {}).items():
        old = graph.variables[n].expr
        new = alg.var(step_name(b, (var, 0)), old.shape, old.param("qualifiers") or ())
        mapping[id(old)] = new
        inputs.append((b, new, graph.variables[n].kind))
    step_values = {step_name(b, (var, 0)): substitute(e, mapping) for b, e in here.items()}
    leftover = {n.name for e in step_values.values() for n in e.walk()
                if n.op == "var" and n.name and (p := split_step_index(n.name)) and p[1][0] is None}
    if leftover:
        raise DeriveError(f"a step of the loop reads {', '.join(sorted(leftover))}, "
                          "which is neither the step before nor a shared variable", None)
    step_vars = {n: VarInfo(n, "vector", v.param("qualifiers") or (), None, v)  # type: ignore[arg-type]
                 for n, v in [(e.name, e) for _, e, _ in inputs] + [(p.name, p) for _, p, _ in states]}
    g = Graph(graph.source, graph.text, graph.env,
              {**{n: v for n, v in graph.variables.items() if split_step_index(n) is None}, **step_vars},
              graph.functions, step_values, {},
              step_name(loss[0] if loss[0] else (states[0][0] if states else next(iter(here))), (var, 0)))
    cur = {b: step_values[step_name(b, (var, 0))] for b, _, _ in states}
    J = step_values[step_name(loss[0], (var, 0))] if loss[0] is not None else None
    return StepGraph(g, [State(b, p, cur[b], init) for b, p, init in states],
                     [e for _, e, kind in inputs], [p for p in graph.params() if split_step_index(p) is None],
                     J, loss[1], graph.output_name, length=length)


def derive_loop(graph: Graph, wrt: list[str] | None = None) -> LoopDerivation | None:
    """derive's closed form of a loop file (None: not a loop this can keep; derive unrolls)."""
    loop = getattr(graph, "loop", None)
    length = getattr(loop, "length", None) or "T"
    step = step_from_unrolled(graph, length)
    if step is None:
        return None
    d = bptt(step, graph)
    if wrt:
        keep = set(wrt)
        d.loop_gradients = [g for g in d.loop_gradients if g.wrt in keep or g.wrt.split("[")[0] in keep]
    return d
