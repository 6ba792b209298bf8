"""derive keeps the loop: back-propagation through time in closed form, on one generic step.

Reverse mode runs once, on the step graph (derive/loop_step.py), from a seed
that stands for everything after the step: the loss's own term J[t] (for
`L = Σ_t J[t]`; for `L = J[T]` only at t = T) plus ⟨F_h, h[t]⟩ for every
carried state, F_h being the cotangent that step t+1 sends back to h[t]. Then,
as the notes write BPTT:

- the error signal δ[t] (the cotangent of the recurrent matmul's pre-activation
  `z[t] = W_hh h[t-1] + …`, or of the state itself where there is no single one)
  gets its recursion by putting the next step's cotangent of h[t-1] in for F_h:
  `δ[t] = (W_hhᵀ δ[t+1] + W_hyᵀ (p[t] − y[t])) ∘ (1 − h[t]²)`, `δ[T+1] = 0`;
- a shared parameter's gradient is the sum over steps of its step cotangent
  (`Σ_t δ[t] h[t-1]ᵀ`), plus the loss's terms outside the loop;
- ∂L/∂h[0] is the cotangent of h[t-1] at t = 1, ∂L/∂x[t] one line for every t;
- the Jacobian form of the chain: ∂h[T]/∂h[k] = ∏_{t=k+1}^{T} ∂h[t]/∂h[t-1].

The work is that of one step: it does not grow with T.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gradcheck_cli.derive import scalars
from gradcheck_cli.derive.jacobian import forward_jacobian
from gradcheck_cli.derive.loop_step import Index, State, StepGraph, localize, mover, step_name, substitute
from gradcheck_cli.derive.reverse import Backward, Derivation, backward
from gradcheck_cli.shapes import Shape, is_scalar, using
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr


@dataclass
class Term:
    """One term of a result: `expr` summed over t = start..stop, or at one step (`at`), or plain."""

    expr: Expr
    start: Index | None = None
    stop: Index | None = None
    at: Index | None = None


@dataclass
class Recursion:
    """An error signal: `name[t] = body` for t = start..stop, and its boundary lines."""

    name: str  # the DSL name: delta, delta_c
    state: str
    node_name: str  # what it is the cotangent of (`z[t]`, `h[t]`)
    shape: Shape
    body: Expr
    start: Index
    stop: Index
    boundary: list[tuple[Index, Expr]]  # (T+1, 0) or (T, the last step's signal)


@dataclass
class LoopGradient:
    wrt: str  # W_hh, h[0], x[t]
    shape: Shape
    terms: list[Term]
    every_step: bool = False  # x[t]: one line for every t (stated for `every` steps)
    note: str = ""


@dataclass
class ChainJacobian:
    """∂s[T]/∂s[k] = prod(factor for t = k+1..T), the factor ∂s[t]/∂s[t-1] over step names."""

    state: str
    factor: Expr


@dataclass
class LoopDerivation(Derivation):
    step: StepGraph | None = None
    recursions: list[Recursion] = field(default_factory=list)
    loop_gradients: list[LoopGradient] = field(default_factory=list)
    chains: list[ChainJacobian] = field(default_factory=list)
    step_display: dict[int, str] = field(default_factory=dict)  # the step's names, the signals, F_h

    def names(self) -> dict[int, str]:
        """Display names of the one step's backward pass (`--steps`)."""
        return self.step_display

    def file_names(self) -> dict[int, str]:
        return self.step_display


T_SYM = "T"


def bptt(step: StepGraph, base: Derivation) -> LoopDerivation:
    """The closed form of ∂L/∂(every parameter, h[0], x[t]) for the loop `step`."""
    env = step.graph.env
    with using(env), scalars.context(step.graph.names(), step.graph.values):
        return _bptt(step, base)


def _bptt(step: StepGraph, base: Derivation) -> LoopDerivation:
    t, T = (step.var, 0), (step.length, 0)
    names = step.step_names()
    futures = {s.name: alg.var(f"F_{s.name}", s.prev.shape) for s in step.states}
    last = step.kind == "last"
    inner = _pass(step, futures, with_loss=not last)
    final = _pass(step, {}, with_loss=True) if last else None
    nodes = _signal_nodes(step, inner)
    sig = _signal_names(step, nodes)
    sig_vars = {s.name: alg.var(step_name(sig[s.name], t), nodes[s.name].shape) for s in step.states}

    nxt: dict[int, Expr] = {}  # F_h -> the next step's cotangent of h[t-1] (W_hhᵀ δ[t+1])

    def express(bw: Backward, e: Expr, at: Index, skip: str | None = None) -> Expr:
        m = {id(bw.cotangents[id(nodes[n])]): sig_vars[n] for n in nodes
             if n != skip and id(nodes[n]) in bw.cotangents}
        return localize(substitute(e, {**m, **nxt}), names, mover(step.var, at))

    def ct(bw: Backward, e: Expr) -> Expr:
        return bw.cotangents.get(id(e)) or (alg.const(0) if is_scalar(e.shape) else alg.zeros(*e.shape))

    for s in step.states:
        nxt[id(futures[s.name])] = localize(express(inner, ct(inner, s.prev), t), {}, mover(step.var, (step.var, 1)))
    recs = []
    for s in step.states:
        body = express(inner, ct(inner, nodes[s.name]), t, skip=s.name)
        if final is None:
            boundary = [((step.length, 1), alg.zeros(*nodes[s.name].shape))]
            stop = T
        else:
            boundary = [(T, express(final, ct(final, nodes[s.name]), T, skip=s.name))]
            stop = (step.length, -1)
        recs.append(Recursion(sig[s.name], s.name, names.get(id(nodes[s.name]), s.name), nodes[s.name].shape,
                              scalars.tidy(body), (None, step.start), stop, boundary))
    grads = [_param_gradient(step, p, inner, final, express, ct) for p in step.params]
    grads += _initial_and_inputs(step, inner, final, express, ct)
    chains = [ChainJacobian(s.name, f) for s in step.states
              if (f := _chain_factor(s, names, step)) is not None]
    display = dict(names)
    for s in step.states:
        display[id(futures[s.name])] = f"F_{s.name}"
        if id(nodes[s.name]) in inner.cotangents:
            display[id(inner.cotangents[id(nodes[s.name])])] = step_name(sig[s.name], t)
    return LoopDerivation(base.graph, step.output, base.gradients, inner.steps, {}, [],
                          step=step, recursions=recs, loop_gradients=grads, chains=chains, step_display=display)


def _pass(step: StepGraph, futures: dict[str, Expr], with_loss: bool) -> Backward:
    """Reverse mode over one step from the seed J[t] (if the loss has a term here) + Σ_h ⟨F_h, h[t]⟩."""
    root: Expr | None = step.loss if with_loss else None
    for s in step.states:
        if s.name in futures:
            inner = alg.matmul(alg.T(futures[s.name]), s.cur)
            root = inner if root is None else alg.add(root, inner)
    if root is None:
        root = alg.const(0)
    targets = [step.graph.variables[p].expr for p in step.params] + [s.prev for s in step.states] + step.inputs
    return backward(root, targets)


def _signal_nodes(step: StepGraph, bw: Backward) -> dict[str, Expr]:
    """Per state, the node whose cotangent is its error signal: the pre-activation of the one
    recurrent matmul (`z[t] = W_hh h[t-1] + W_xh x[t] + b`) where there is one, else h[t] itself."""
    parents: dict[int, list[Expr]] = {}
    for node in _all_nodes(step):
        for a in node.args:
            parents.setdefault(id(a), []).append(node)
    out: dict[str, Expr] = {}
    for s in step.states:
        users = [n for n in parents.get(id(s.prev), []) if n.op == "matmul" and n.args[1] is s.prev]
        node = s.cur
        if len(users) == 1 and len(parents.get(id(s.prev), [])) == 1:
            node = users[0]
            while len(parents.get(id(node), [])) == 1 and parents[id(node)][0].op in ("add", "sub"):
                node = parents[id(node)][0]
        out[s.name] = node if id(node) in bw.cotangents else s.cur
    return out


def _all_nodes(step: StepGraph) -> list[Expr]:
    seen: dict[int, Expr] = {}
    for root in [step.loss] + [s.cur for s in step.states]:
        for n in root.walk():
            seen.setdefault(id(n), n)
    return list(seen.values())


def _signal_names(step: StepGraph, nodes: dict[str, Expr]) -> dict[str, str]:
    taken = {n.split("[")[0] for n in (*step.graph.values, *step.graph.variables)}
    out: dict[str, str] = {}
    for s in step.states:
        pre = nodes[s.name] is not s.cur
        name = "delta" if pre and len(step.states) == 1 else f"delta_{s.name}"
        while name in taken or name in out.values():
            name += "_"
        out[s.name] = name
    return out


def _param_gradient(step, p, inner, final, express, ct) -> LoopGradient:  # type: ignore[no-untyped-def]
    """Σ_t (step cotangent of p): over every step when the steps agree, else t < T and t = T apart."""
    v = step.graph.variables[p].expr
    t, T = (step.var, 0), (step.length, 0)
    zero = alg.is_zero
    g_in = scalars.tidy(express(inner, ct(inner, v), t))
    terms: list[Term] = []
    if final is None:
        if not zero(g_in):
            terms.append(Term(g_in, (None, step.start), T))
    else:
        g_last = scalars.tidy(express(final, ct(final, v), t))
        if g_last is g_in:
            terms.append(Term(g_in, (None, step.start), T))
        else:
            if not zero(g_in):
                terms.append(Term(g_in, (None, step.start), (step.length, -1)))
            if not zero(g_last):
                terms.append(Term(express(final, ct(final, v), T), at=T))
    if step.extra is not None:
        bw = backward(step.extra, [v])
        if id(v) in bw.cotangents and not zero(bw.cotangents[id(v)]):
            terms.append(Term(bw.cotangents[id(v)]))
    return LoopGradient(p, v.shape, terms)


def _initial_and_inputs(step, inner, final, express, ct) -> list[LoopGradient]:  # type: ignore[no-untyped-def]
    """∂L/∂h[0] (the cotangent of h[t-1] at t = 1) and ∂L/∂x[t] for every t."""
    out: list[LoopGradient] = []
    first = (None, step.start)
    for s in step.states:
        if s.initial is None:
            continue
        e = express(inner, ct(inner, s.prev), first)
        note = ""
        if final is not None and express(final, ct(final, s.prev), first) is not e:
            note = f"for {step.length} > 1"
        out.append(LoopGradient(s.initial, s.prev.shape, [Term(e)], note=note))
    for x in step.inputs:
        if "const" in (x.param("qualifiers") or ()) or "onehot" in (x.param("qualifiers") or ()):
            continue
        t = (step.var, 0)
        g = express(inner, ct(inner, x), t)
        lg = LoopGradient(x.name or "", x.shape, [Term(g)], every_step=True)
        if final is not None:
            g_last = express(final, ct(final, x), (step.length, 0))
            if localize(g, {}, mover(step.var, (step.length, 0))) is not g_last:
                lg.note = f"for t < {step.length}"
                out.append(lg)
                lg = LoopGradient(step_name(x.name.split("[")[0], (step.length, 0)), x.shape, [Term(g_last)])
        out.append(lg)
    return out


def _chain_factor(s: State, names: dict[int, str], step: StepGraph) -> Expr | None:
    """∂h[t]/∂h[t-1] of one step in Jacobian form (diag(1 − h[t]²) W_hh), over step names."""
    if not (s.cur.shape[1].is_one and s.prev.shape[1].is_one):
        return None
    j = forward_jacobian(s.cur, s.prev)
    return None if j is None else localize(j, names, mover(step.var, (step.var, 0)))
