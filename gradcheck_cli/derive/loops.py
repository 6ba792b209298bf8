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
from gradcheck_cli.derive.loop_step import State, StepGraph, aligned, localize, mover, step_vars, substitute
from gradcheck_cli.lang.loops import Index, step_name
from gradcheck_cli.derive.reverse import Backward, Derivation, backward
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.shapes import Shape, is_scalar, using
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.printing import to_dsl


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
    of_expr: Expr | None = None  # what it is the cotangent of, over step names (W_hh h[t-1] + W_xh x[t] + b)


@dataclass
class LoopGradient:
    wrt: str  # W_hh, h[0], x[t]
    shape: Shape
    terms: list[Term]
    every_step: bool = False  # x[t]: one line for every t = start..upto
    note: str = ""
    upto: Index | None = None  # the last t of an every-step line (T, or T-1 when t = T has its own line)


@dataclass
class ChainJacobian:
    """∂s[T]/∂s[k] = prod(factor for t = k+1..T), the factor ∂s[t]/∂s[t-1] over step names."""

    state: str
    factor: Expr
    held: tuple[str, ...] = ()  # the other carried states, held fixed: an LSTM's ∂c[T]/∂c[k] is the cell path alone


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


def bptt(step: StepGraph, graph: Graph | None = None) -> LoopDerivation:
    """The closed form of ∂L/∂(every parameter, h[0], x[t]) for the loop `step` (of the file `graph`)."""
    env = step.graph.env
    with using(env), scalars.context(step.graph.names(), step.graph.values):
        return _bptt(step, graph or step.graph)


class _Closed:
    """The two reverse passes over the step (t < T and, for `L = J[T]`, t = T) and the signals."""

    def __init__(self, step: StepGraph):
        self.step, self.t = step, (step.var, 0)
        self.names = step.step_names()
        self.futures = {s.name: alg.var(f"F_{s.name}", s.prev.shape) for s in step.states}
        self.post = backward(step.extra, list(step.post_vars.values())) if step.extra is not None else None
        seeds = {n: self.post.cotangents[id(v)] for n, v in step.post_vars.items()
                 if self.post is not None and id(v) in self.post.cotangents}
        self.gvars = {n: alg.var(f"G_{n}", step.post_vars[n].shape) for n in seeds}
        self.gmap = {id(self.gvars[n]): g for n, g in seeds.items()}  # ∂L/∂h[T] from after the loop
        self.inner = _pass(step, self.futures, with_loss=step.kind == "sum")
        needs_final = step.kind != "sum" or bool(seeds)
        self.final = _pass(step, self.gvars, with_loss=step.kind != "none") if needs_final else None
        self.nodes = _signal_nodes(step, self.inner)
        self.sig = _signal_names(step, self.nodes)
        self.nxt: dict[int, Expr] = {}  # F_h -> the next step's cotangent of h[t-1] (W_hhᵀ δ[t+1])
        for _ in range(len(step.states) + 1):
            if not self._settle():
                break
        self.totals = _total_signals(step, self.nodes, self.inner, set(self.sig.values()))

    def _settle(self) -> bool:
        """Put the next step's cotangent of h[t-1] in for F_h. Where it reads the next step's values
        (an LSTM's f[t+1]), which do not exist at t = T, the state's signal becomes ∂L/∂h[t-1]
        itself, which the recursion then carries. True if a signal changed."""
        self.sig_vars = {s.name: alg.var(step_name(self.sig[s.name], self.t), self.nodes[s.name].shape)
                         for s in self.step.states}
        self.nxt = {}
        prev_mode = {s.name for s in self.step.states if self.nodes[s.name] is s.prev}
        for s in self.step.states:
            if s.name in prev_mode:
                e = self.sig_vars[s.name]
            else:
                e = self.express(self.inner, self.ct(self.inner, s.prev), self.t)
            self.nxt[id(self.futures[s.name])] = localize(e, {}, mover(self.step.var, (self.step.var, 1)))
        signals = {v.name for v in self.sig_vars.values()}
        changed = False
        for s in self.step.states:
            later = {n for n in step_vars(self.nxt[id(self.futures[s.name])])
                     if n.split("[")[0] not in self.sig.values()}
            if later and s.name not in prev_mode and id(s.prev) in self.inner.cotangents:
                self.nodes[s.name], changed = s.prev, True
        return changed and bool(signals)

    def express(self, bw: Backward, e: Expr, at: Index, skip: str | None = None) -> Expr:
        m = {id(bw.cotangents[id(node)]): self.sig_vars[n] for n, node in self.nodes.items()
             if n != skip and id(node) in bw.cotangents}
        for n, (_, v) in getattr(self, "totals", {}).items():
            cur = next(st.cur for st in self.step.states if st.name == n)
            if "d:" + n != skip and id(cur) in bw.cotangents:
                m[id(bw.cotangents[id(cur)])] = v
        return localize(substitute(e, {**self.nxt, **self.gmap, **m}), self.names, mover(self.step.var, at))

    def ct(self, bw: Backward, e: Expr) -> Expr:
        return bw.cotangents.get(id(e)) or (alg.const(0) if is_scalar(e.shape) else alg.zeros(*e.shape))

    def last(self, e: Expr, like: Expr, skip: str | None = None) -> Expr:
        """The last step's `e` (from the pass at t = T) over step t's names, tidied like the generic
        step's `like` and with its sums in like's order: `like` itself when the two agree."""
        return aligned(scalars.tidy(self.express(self.final, e, self.t, skip)), like)

    def at_end(self, e: Expr) -> Expr:
        """e, over step t's names, at t = T."""
        return localize(e, {}, mover(self.step.var, (self.step.length, 0)))

    def recursion(self, s: State) -> Recursion:
        step, node = self.step, self.nodes[s.name]
        body = self.express(self.inner, self.ct(self.inner, node), self.t, skip=s.name)
        body = scalars.tidy(body)
        stop: Index = (step.length, 0)
        last = None if self.final is None else self.last(self.ct(self.final, node), body, s.name)
        if last is None:
            boundary = [((step.length, 1), alg.zeros(*node.shape))]
        elif s.name in self.totals and last is body:
            boundary = []  # the last step's loss is in its ∂L/∂h[T]: the recursion holds at t = T too
        else:
            boundary, stop = [((step.length, 0), self.at_end(last))], (step.length, -1)
        of_expr = localize(node, self.names, mover(step.var, self.t))
        of = s.prev.name if node is s.prev else self.names.get(id(node)) or to_dsl(of_expr)
        return Recursion(self.sig[s.name], s.name, of or s.name, node.shape, body,
                         (None, step.start), stop, boundary, of_expr)

    def total(self, s: State) -> Recursion:
        """∂L/∂h[t] of a state that carries ∂L/∂h[t-1]: `dh[t] = u + δ_h[t+1]` (at T the loss's term)."""
        step, (name, _) = self.step, self.totals[s.name]
        body = scalars.tidy(self.express(self.inner, self.ct(self.inner, s.cur), self.t, skip="d:" + s.name))
        boundary: list[tuple[Index, Expr]] = []
        stop: Index = (step.length, 0)
        if self.final is not None:
            stop = (step.length, -1)
            boundary = [((step.length, 0), self.at_end(self.last(self.ct(self.final, s.cur), body, "d:" + s.name)))]
        return Recursion(name, s.name, self.names.get(id(s.cur), s.name), s.cur.shape, body,
                         (None, step.start), stop, boundary)

    def display(self) -> dict[int, str]:
        out = dict(self.names)
        for s in self.step.states:
            out[id(self.futures[s.name])] = f"F_{s.name}"
            node = self.nodes[s.name]
            if id(node) in self.inner.cotangents and node is not s.prev:
                out[id(self.inner.cotangents[id(node)])] = step_name(self.sig[s.name], self.t)
        return out


def _bptt(step: StepGraph, graph: Graph) -> LoopDerivation:
    c = _Closed(step)
    recs = [c.total(s) for s in step.states if s.name in c.totals] + [c.recursion(s) for s in step.states]
    grads = [_param_gradient(step, p, c.inner, c.final, c.express, c.ct) for p in step.params]
    grads += _initial_and_inputs(step, c.inner, c.final, c.express, c.ct)
    chains = [ChainJacobian(s.name, f, tuple(o.name for o in step.states if o is not s)) for s in step.states
              if (f := _chain_factor(s, c.names, step)) is not None]
    return LoopDerivation(graph, step.output, [], c.inner.steps, {}, [], step=step, recursions=recs,
                          loop_gradients=grads, chains=chains, step_display=c.display())


def _pass(step: StepGraph, futures: dict[str, Expr], with_loss: bool) -> Backward:
    """Reverse mode over one step from the seed J[t] (if the loss has a term here) + Σ_h ⟨F_h, h[t]⟩."""
    root: Expr | None = step.loss if with_loss and step.loss is not None else None
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
    for root in ([step.loss] if step.loss is not None else []) + [s.cur for s in step.states]:
        for n in root.walk():
            seen.setdefault(id(n), n)
    return list(seen.values())


def _total_signals(step: StepGraph, nodes: dict[str, Expr], bw: Backward, taken: set[str]) -> dict[str, tuple[str, Expr]]:
    """A name `dh` for ∂L/∂h[t] of every state whose signal is ∂L/∂h[t-1] (CS231n's dnext_h)."""
    used = taken | step.taken | {n.split("[")[0] for n in (*step.graph.values, *step.graph.variables)}
    out: dict[str, tuple[str, Expr]] = {}
    for s in step.states:
        if nodes[s.name] is s.prev and id(s.cur) in bw.cotangents:
            name = "d" + s.name
            while name in used:
                name += "_"
            used.add(name)
            out[s.name] = (name, alg.var(step_name(name, (step.var, 0)), s.cur.shape))
    return out


def _signal_names(step: StepGraph, nodes: dict[str, Expr]) -> dict[str, str]:
    taken = step.taken | {n.split("[")[0] for n in (*step.graph.values, *step.graph.variables)}
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
        g_last = aligned(scalars.tidy(express(final, ct(final, v), t)), g_in)
        if zero(g_in) and zero(g_last):
            pass
        elif g_last is g_in:
            terms.append(Term(g_in, (None, step.start), T))
        else:
            if not zero(g_in):
                terms.append(Term(g_in, (None, step.start), (step.length, -1)))
            if not zero(g_last):
                terms.append(Term(localize(g_last, {}, mover(step.var, T)), at=T))
    if step.extra is not None:
        bw = backward(step.extra, [v])
        if id(v) in bw.cotangents and not zero(bw.cotangents[id(v)]):
            terms.append(Term(scalars.tidy(bw.cotangents[id(v)])))
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
        if final is not None and aligned(express(final, ct(final, s.prev), first), e) is not e:
            note = f"for {step.length} > 1"
        out.append(LoopGradient(s.initial, s.prev.shape, [Term(e)], note=note))
    for x in step.inputs:
        if "const" in (x.param("qualifiers") or ()) or "onehot" in (x.param("qualifiers") or ()):
            continue
        t = (step.var, 0)
        g = express(inner, ct(inner, x), t)
        lg = LoopGradient(x.name or "", x.shape, [Term(g)], every_step=True, upto=(step.length, 0))
        if final is not None:
            g_last = aligned(express(final, ct(final, x), t), g)
            if g_last is not g:
                lg.upto = (step.length, -1)
                out.append(lg)
                lg = LoopGradient(step_name(x.name.split("[")[0], (step.length, 0)), x.shape,
                                  [Term(localize(g_last, {}, mover(step.var, (step.length, 0))))])
        out.append(lg)
    return out


def _chain_factor(s: State, names: dict[int, str], step: StepGraph) -> Expr | None:
    """∂h[t]/∂h[t-1] of one step in Jacobian form (diag(1 − h[t]²) W_hh), over step names."""
    if not (s.cur.shape[1].is_one and s.prev.shape[1].is_one):
        return None
    j = forward_jacobian(s.cur, s.prev)
    return None if j is None else localize(j, names, mover(step.var, (step.var, 0)))
