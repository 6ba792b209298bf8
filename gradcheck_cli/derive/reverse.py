"""Reverse mode over the graph: the Autodidax loop, recorded step by step.

Walk the nodes in reverse topological order, read each node's cotangent,
apply its op's VJP rule, check every cotangent has its input's shape, and add
up contributions where a value fans out (micrograd's `+=`). The steps are
kept so `--steps` can show upstream × local = downstream at every gate.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.derive import scalars
from gradcheck_cli.deep import deep
from gradcheck_cli.errors import DeriveError
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.symbolic.ops import OPS
from gradcheck_cli.shapes import env, is_scalar, shape_str, using


@dataclass
class Contribution:
    input: Expr
    local: Expr | None  # the local Jacobian where one exists (vectors)
    downstream: Expr


@dataclass
class Step:
    node: Expr
    upstream: Expr
    gate: str
    contributions: list[Contribution] = field(default_factory=list)
    fan_in: int = 1  # how many consumers added into this node's cotangent ("copy adds")


@dataclass
class Backward:
    cotangents: dict[int, Expr]
    steps: list[Step]


def _descendants(root: Expr, targets: set[int]) -> set[int]:
    """Nodes of root's DAG that depend on some target: only they need cotangents."""
    needed: set[int] = set()
    for node in root.walk():
        if id(node) in targets or any(id(a) in needed for a in node.args):
            needed.add(id(node))
    return needed


def backward(root: Expr, targets: list[Expr], seed: Expr | None = None) -> Backward:
    """Cotangents of every node between `targets` and the scalar `root`."""
    needed = _descendants(root, {id(t) for t in targets})
    ct: dict[int, Expr] = {id(root): seed if seed is not None else alg.const(1)}
    fan: dict[int, int] = {}
    steps: list[Step] = []
    target_ids = {id(t) for t in targets}
    pending: dict[int, list[Expr]] = {}  # contributions after the first: summed once, when all are in
    for node in reversed(list(root.walk())):
        _settle(ct, pending, id(node))
        g = ct.get(id(node))
        if g is None or not node.args or id(node) not in needed:
            continue
        if id(node) in target_ids and node is not root and node.op == "var":
            continue
        rule = OPS[node.op]
        step = Step(node, g, _gate(node), fan_in=fan.get(id(node), 1))
        try:
            cts = rule.vjp(g, node, *node.args)
        except NotImplementedError as e:
            raise DeriveError(f"cannot differentiate {node.op}: {e}", node.span) from None
        for i, (a, c) in enumerate(zip(node.args, cts)):
            if c is None or id(a) not in needed:
                continue
            c = scalars.tidy(c)  # the coefficients and powers simplified by sympy (scalars.py)
            assert env().same_shape(c.shape, a.shape), (
                f"{node.op} rule gave a {shape_str(c.shape)} cotangent for a {shape_str(a.shape)} input")
            local = rule.jac(node, i, *node.args) if rule.jac else None
            step.contributions.append(Contribution(a, local, c))
            if id(a) in ct:
                pending.setdefault(id(a), []).append(c)
                fan[id(a)] = fan.get(id(a), 1) + 1
            else:
                ct[id(a)] = c
        steps.append(step)
    for key in list(pending):
        _settle(ct, pending, key)
    return Backward(ct, steps)


def _settle(ct: dict[int, Expr], pending: dict[int, list[Expr]], key: int) -> None:
    """A node's cotangent, the sum of what its consumers sent, once they all have (a weight shared by
    T unrolled steps gets T terms: a running sum re-tidied each time was quadratic in T)."""
    more = pending.pop(key, None)
    if not more:
        return
    if len(more) < _RUNNING_SUM_LIMIT:
        for c in more:
            ct[key] = scalars.tidy(alg.add(ct[key], c))
        return
    ct[key] = scalars.tidy(alg.add_all([ct[key], *more]))


_RUNNING_SUM_LIMIT = 8  # fan-outs of ordinary graphs stay below it: their sums, and the goldens, are unchanged


def _gate(node: Expr) -> str:
    if node.op == "fn" and node.param("name") == "relu" and node.param("order") == 0:
        return "max routes"
    return OPS[node.op].gate


@dataclass
class Gradient:
    """One result: ∂out/∂wrt in shape convention and in Jacobian form."""

    wrt: str
    wrt_expr: Expr
    shape_form: Expr | None  # None for a vector output (only Jacobians exist)
    jacobian: Expr | None
    chain: list[tuple[str, str, Expr]] = field(default_factory=list)  # (num, den, factor)
    jacobian_note: str = ""  # how the Jacobian form was obtained, or why it is skipped
    skipped: str = ""


@dataclass
class Derivation:
    graph: Graph
    output: str
    gradients: list[Gradient]
    steps: list[Step]
    signals: dict[int, str]  # error signals δ introduced for display (node id -> name)
    signal_exprs: list[tuple[str, Expr]]

    @property
    def scalar_output(self) -> bool:
        return is_scalar(self.graph.values[self.output].shape)

    def names(self) -> dict[int, str]:
        """Display names: the file's intermediates plus the δs."""
        out = self.file_names()
        out.update(self.signals)
        return out

    def file_names(self) -> dict[int, str]:
        """The file's names, and `Aᵀ` for the inside of a file's A = softmax(Sᵀ)ᵀ (no δ)."""
        out = self.graph.names()
        for name, e in self.graph.values.items():
            if e.op == "T" and out.get(id(e)) == name and id(e.args[0]) not in out:
                out[id(e.args[0])] = name + "ᵀ"
        return out

    def _repr_latex_(self) -> str | None:
        show = DISPLAY.get("latex")
        return show(self) if show else None

    def __str__(self) -> str:
        show = DISPLAY.get("text")
        if show is None:
            return f"Derivation of {self.output}: " + ", ".join(f"d{self.output}/d{g.wrt}" for g in self.gradients)
        return show(self)


# How a Derivation shows itself in a notebook and in print(): the renderers file
# themselves here (gradcheck_cli.render), since derive sits below them and
# must not import them.
DISPLAY: dict[str, Any] = {}

# The closed form of a loop file (derive/loop_build.py files it here from gradcheck_cli.derive's
# __init__: it builds on this module, which must not import it).
CLOSED_FORM: list[Any] = []


@deep
def derive(graph: Graph, wrt: list[str] | None = None, output: str | None = None, unrolled: bool = False) -> Derivation:
    """Derive ∂output/∂v for each requested (default: every non-data) variable. A loop file is derived
    in closed form on one generic step (derive/loops.py), unless `unrolled` (verify's numbers)."""
    if not unrolled and getattr(graph, "loop", None) is not None and output in (None, graph.output_name):
        for closed_form in CLOSED_FORM:
            d = closed_form(graph, wrt)
            if d is not None:
                return d
    out_name = output or graph.output_name
    root = graph.values[out_name]
    names = wrt or graph.params()
    targets: list[Expr] = []
    for n in names:
        if n in graph.variables:
            targets.append(graph.variables[n].expr)
        elif n in graph.values:
            targets.append(graph.values[n])
        else:
            from gradcheck_cli.errors import UsageError
            raise UsageError(f"--wrt {n}: no variable or value named {n} in {graph.source}",
                             hint=f"the variables are {', '.join(graph.params()) or '(none)'}")
    # an unrolled loop, for verify's numbers: no sympy pass, Jacobian chains or δ names over T copies
    numbers_only = unrolled and getattr(graph, "loop", None) is not None
    tidy = nullcontext() if numbers_only else scalars.context(graph.names(), graph.values)
    with using(graph.env), tidy:
        steps: list[Step] = []
        if is_scalar(root.shape):
            bw = backward(root, targets)
            steps = bw.steps
            grads = _numbers(bw, names, targets)
            if numbers_only:
                return Derivation(graph, out_name, grads, steps, {}, [])
            from gradcheck_cli.derive.jacobian import row_jacobians

            rows = row_jacobians(root)
            factors: dict[tuple[int, int], Any] = {}
            file_names = graph.names()
            grads = [_with_jacobian(graph, g, root, rows, factors, file_names) for g in grads]
        else:
            grads = [_with_jacobian(graph, Gradient(n, t, None, None), root) for n, t in zip(names, targets)]
        signals, signal_exprs = name_signals(graph, grads, steps)
    return Derivation(graph, out_name, grads, steps, signals, signal_exprs)


def _numbers(bw: Any, names: list[str], targets: list[Expr]) -> list[Gradient]:
    """The shape-convention gradients alone: what verify evaluates."""
    zero = {id(t): alg.zeros(*t.shape) if not is_scalar(t.shape) else alg.const(0) for t in targets}
    return [Gradient(n, t, bw.cotangents.get(id(t), zero[id(t)]), None) for n, t in zip(names, targets)]


def _with_jacobian(graph: Graph, grad: Gradient, root: Expr, rows: dict[int, object] | None = None,
                   factors: dict[tuple[int, int], Any] | None = None,
                   file_names: dict[int, str] | None = None) -> Gradient:
    from gradcheck_cli.derive.jacobian import jacobian_form

    jac, chain, note = jacobian_form(graph, root, grad.wrt_expr, rows, factors, file_names)
    if jac is not None:
        grad.jacobian, grad.chain, grad.jacobian_note = jac, chain, note
        return grad
    t = grad.wrt_expr
    if grad.shape_form is not None:
        if t.shape[1].is_one and not is_scalar(t.shape):
            grad.jacobian = alg.T(grad.shape_form)  # the row vector: the transposed gradient
            grad.jacobian_note = "the gradient transposed (the path has matrix-valued nodes)"
        else:
            grad.jacobian = grad.shape_form
            grad.jacobian_note = "a scalar's derivative by a matrix is given in the matrix's shape"
        return grad
    grad.skipped = note or f"∂{graph.output_name}/∂vec({grad.wrt}) is a 3-tensor"
    return grad


def name_signals(graph: Graph, grads: list[Gradient], steps: list[Step]) -> tuple[dict[int, str], list[tuple[str, Expr]]]:
    """Introduce the lecture's error signal δ where a cotangent is shared.

    A node's upstream gradient that is not just a name, and that appears in
    two or more results, is worth a name: ∂s/∂W = δ xᵀ, ∂s/∂b = δ, ∂s/∂x = Wᵀ δ.
    """
    file_names = graph.names()
    results = [g.shape_form for g in grads if g.shape_form is not None]
    if not results:
        return {}, []
    forward = {id(n) for n in graph.output.walk()}
    about_var: dict[int, bool] = {}
    candidates: list[Expr] = []
    for step in reversed(steps):  # input side first: its signals contain the later ones
        for c in step.contributions:
            e = c.downstream
            core = e.args[1] if e.op == "mul" and e.args[0].op == "const" else None
            for x in (e, core):  # a constant factor may have moved out of the products: δ Xᵀ / N
                if x is not None and _worth_naming(x, file_names, forward, about_var) and all(x is not y for y in candidates):
                    candidates.append(x)
    chosen: list[Expr] = []
    stops: set[int] = set(file_names)  # the file's names print as names: what is inside them does not show
    visible = [_reachable(r, stops) for r in results]
    for e in candidates:
        shared = sum(1 for v in visible if id(e) in v) >= 2
        repeated = any(v.get(id(e), 0) >= 2 for v in visible) and not _smaller_than(e, 6)
        if shared or repeated:  # in two results, or twice in one (batch norm's ∂L/∂Xc)
            chosen.append(e)
            stops.add(id(e))
            # a named signal hides what is inside it: recount only the results it occurs in
            visible = [_reachable(r, stops) if id(e) in v else v for r, v in zip(results, visible)]
    out: dict[int, str] = {}
    listing: list[tuple[str, Expr]] = []
    for e, name in zip(chosen, _signal_names(graph, len(chosen))):
        out[id(e)] = name
        listing.append((name, e))
    # listed in the order backprop computes them, each after the signals it is built from:
    # δ₂ = u ∘ h2 ∘ (1 − h2), then δ₁ = (W2ᵀ δ₂) ∘ h1 ∘ (1 − h1)
    return out, _after_their_parts(listing[::-1])


def _after_their_parts(listing: list[tuple[str, Expr]]) -> list[tuple[str, Expr]]:
    """The same signals, each after every signal it is built from (stable otherwise), so the
    `with` lines pasted above a claim define δ₁ before δ₂ = sum(δ₁, axis=0) uses it."""
    ids = {id(e) for _, e in listing}
    needs = {id(e): _signals_inside(e, ids) for _, e in listing}
    done: set[int] = set()
    out: list[tuple[str, Expr]] = []
    while len(out) < len(listing):
        nxt = next((p for p in listing if id(p[1]) not in done and needs[id(p[1])] <= done), None)
        if nxt is None:  # a cycle cannot happen (each is a subtree of the other's value); keep the rest
            out += [p for p in listing if id(p[1]) not in done]
            break
        out.append(nxt)
        done.add(id(nxt[1]))
    return out


def _signals_inside(e: Expr, ids: set[int]) -> set[int]:
    """The signals e is built from, not entering them: δ₁ holds δ₂ holds δ₃ along a deep chain,
    and each walk stops at the next signal, so all of them together cost one pass over the graph."""
    found: set[int] = set()
    seen: set[int] = set()
    stack = list(e.args)
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if id(x) in ids:
            found.add(id(x))
        else:
            stack.extend(x.args)
    return found


def _signal_names(graph: Graph, count: int) -> list[str]:
    """δ (or δ₁, δ₂, …) unless the file has a name that prints the same: its `delta` is δ in
    LaTeX and its `delta2` is δ₂, so the signals skip those and the page never defines δ twice."""
    from gradcheck_cli.symbolic.printing import latex_symbol

    taken = {latex_symbol(n) for n in (*graph.values, *graph.variables, *graph.env.sizes)}
    pool = (["δ"] if count == 1 else []) + \
        [f"δ{str(k).translate(str.maketrans('0123456789', '₀₁₂₃₄₅₆₇₈₉'))}" for k in range(1, count + len(taken) + 2)]
    return [n for n in pool if latex_symbol(n) not in taken][:count]


def _worth_naming(e: Expr, file_names: dict[int, str], forward: set[int], about_var: dict[int, bool]) -> bool:
    """Not already a name, not a forward value, not a leaf or a mere transpose, and about a variable."""
    if id(e) in file_names or id(e) in forward or e.op in ("var", "const", "ones", "zeros", "eye", "T", "neg"):
        return False
    return not _smaller_than(e, 3) and _mentions_var(e, about_var)


def _mentions_var(e: Expr, memo: dict[int, bool]) -> bool:
    """Some variable occurs in e. `memo` is shared by the candidates, which share their insides
    (a deep net's δs nest), so each node is looked at once, not once per candidate above it."""
    stack = [e]
    while stack:
        n = stack[-1]
        if id(n) in memo:
            stack.pop()
            continue
        todo = [a for a in n.args if id(a) not in memo]
        if todo and n.op != "var":
            stack.extend(todo)
            continue
        memo[id(n)] = n.op == "var" or any(memo[id(a)] for a in n.args)
        stack.pop()
    return memo[id(e)]


def _smaller_than(e: Expr, k: int) -> bool:
    """e.size() < k without walking all of a deep e."""
    return sum(1 for _, _ in zip(range(k), e.walk())) < k


def _reachable(root: Expr, stops: set[int]) -> dict[int, int]:
    """The nodes of root outside the already-named signals (whose insides are hidden by their
    name), each with the number of places it is used there.

    One walk per result, repeated only for the results a newly named signal occurs in: asking
    "does e occur in r?" per candidate and result was cubic, 3 s of a 64-layer derivation.
    """
    uses: dict[int, int] = {id(root): 0}
    stack = [root]
    expanded: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in expanded or (id(n) in stops and n is not root):
            continue
        expanded.add(id(n))
        for a in n.args:
            uses[id(a)] = uses.get(id(a), 0) + 1
            stack.append(a)
    return uses


def result_expr(d: Derivation, g: Gradient) -> Any:
    return g.shape_form if g.shape_form is not None else g.jacobian
