"""The usual mistakes of back-propagation through time, for verify's diagnoses (issue 10).

Each is what a wrong BPTT derivation gives, built on the unrolled graph of a loop
file, so a failing claim that equals one is named:

- only the last step's term (`δ_T h_{T−1}ᵀ`): the shared weight's other uses frozen;
- `h_t` for `h_{t−1}`: every outer product `δ_t h_{t−1}ᵀ` of the gradient shifted one step;
- a missing `W_hhᵀ` in the recursion: the recurrent matrix's transpose taken out of the chain;
- the recursion run forward: a helper of the file's claims that computes its signal from the
  step before (`delta[t] = … delta[t-1] …`), where BPTT runs from T backwards.
"""

from __future__ import annotations

from typing import Any

from gradcheck_cli.deep import deep
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.lang import ast
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.lang.loops import split_step_name, step_name
from gradcheck_cli.lang.lower import Lowering
from gradcheck_cli.shapes import using
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.rewrite import substitute

LAST_STEP = "only the last step's term (δ_T h_{T−1}ᵀ): a shared weight's gradient sums over every step"
SHIFTED = "h_t used for h_{t−1}: the outer product of step t takes the state the step read, h_{t−1}"
NO_TRANSPOSE = "the recursion is missing {m}ᵀ: δ_t gets {m}ᵀ δ_(t+1), not δ_(t+1)"
FORWARD = "the recursion runs forward in time ({name}[t] from {name}[t-1]): BPTT runs from T backwards"


def bptt_mistakes(graph: Graph, num: str, den: str, right: Expr | None) -> list[tuple[str, Expr]]:
    """(label, wrong gradient) of ∂num/∂den for a loop file; [] for a file without a loop."""
    if graph.loop is None or right is None:
        return []
    out = _forward_recursions(graph, num, den)  # first: the file's own slip names the root cause
    with using(graph.env):
        last = _last_step_only(graph, num, den)
        if last is not None:
            out.append((LAST_STEP, last))
        shifted = _shifted(graph, right)
        if shifted is not None:
            out.append((SHIFTED, shifted))
        out.extend(_without_transpose(graph, right))
    return out


# ---------------------------------------------------------------- only the last step


class _LastStep(Lowering):
    """The file lowered with `frozen` a constant at every step but the loop's last one."""

    def __init__(self, file: ast.File, seed: int, frozen: str):
        super().__init__(file, seed)
        self.frozen = frozen

    def _name(self, node: ast.Node) -> Expr:
        e = super()._name(node)
        if not (isinstance(node, ast.Name) and node.id == self.frozen and isinstance(self.step, int)
                and e.op == "var" and self.loop_source is not None):
            return e
        stop = self.loop_source.loop.stop
        if self.step != self.index_value(stop, stop.span):
            return alg.var(self.frozen, e.shape, tuple(e.param("qualifiers")) + ("const",))
        return e


@deep
def _last_step_only(graph: Graph, num: str, den: str) -> Expr | None:
    if den not in graph.variables or split_step_name(den) is not None or graph.loop is None:
        return None
    try:
        frozen = _LastStep(graph.loop.file, graph.seed, den).run()
        return _result(derive(frozen, [den], output=num, unrolled=True))
    except GradcheckError:
        return None


def _result(d: Any) -> Expr | None:
    g = d.gradients[0]
    return g.shape_form if g.shape_form is not None else g.jacobian


# ---------------------------------------------------------------- h_t for h_{t−1}


def _steps(graph: Graph) -> dict[int, tuple[str, int]]:
    """Node → (sequence, step) of every named step of the graph (values and variables)."""
    out: dict[int, tuple[str, int]] = {}
    named = [(n, v.expr) for n, v in graph.variables.items()] + list(graph.values.items())
    for n, e in named:
        split = split_step_name(n)
        if split is not None and isinstance(split[1], int):
            out.setdefault(id(e), (split[0], split[1]))
    return out


def _node_of(graph: Graph, name: str) -> Expr | None:
    if name in graph.values:
        return graph.values[name]
    return graph.variables[name].expr if name in graph.variables else None


def _shifted(graph: Graph, right: Expr) -> Expr | None:
    """Every `a · vᵀ` with v a step h[k] of the gradient written with h[k+1] instead."""
    steps = _steps(graph)
    mapping: dict[int, Expr] = {}
    for n in right.walk():
        if n.op != "T" or id(n.args[0]) not in steps:
            continue
        base, k = steps[id(n.args[0])]
        later = _node_of(graph, step_name(base, k + 1))
        if later is not None and later.shape == n.args[0].shape:
            mapping[id(n)] = alg.T(later)
    return substitute(right, mapping) if mapping else None


# ---------------------------------------------------------------- a missing W_hhᵀ


def _recurrent(graph: Graph) -> list[Expr]:
    """Square shared variables that multiply a previous step inside the loop (W_hh in W_hh h[t-1])."""
    steps = _steps(graph)
    found: list[Expr] = []
    for e in graph.output.walk():
        if e.op == "matmul" and e.args[0].op == "var" and id(e.args[1]) in steps:
            m = e.args[0]
            if m.shape[0] == m.shape[1] and split_step_name(m.param("name")) is None and m not in found:
                found.append(m)
    return found


def _without_transpose(graph: Graph, right: Expr) -> list[tuple[str, Expr]]:
    out = []
    for m in _recurrent(graph):
        t = alg.T(m)
        if not any(n is t for n in right.walk()):
            continue
        wrong = substitute(right, {id(t): alg.eye(m.shape[0])})
        if wrong is not None:
            out.append((NO_TRANSPOSE.format(m=m.param("name")), wrong))
    return out


# ---------------------------------------------------------------- the recursion run forward


def _forward_recursions(graph: Graph, num: str, den: str) -> list[tuple[str, Expr]]:
    """A wrong claim of ∂num/∂den built on a helper loop that runs forward: named by its own value."""
    assert graph.loop is not None
    forward = {id(e) for e in graph.output.walk()}
    helpers: list[str] = []
    for s in graph.loop.file.statements:
        if not isinstance(s, ast.For):
            continue
        for a in s.body:
            if isinstance(a, ast.Assign) and _reads_earlier(a, s.var) and \
                    all(id(e) not in forward for n, e in graph.values.items() if _base(n) == a.name):
                helpers.append(a.name)
    out = []
    for c in graph.claims:
        if c.expr is None or (c.num, c.den) != (num, den):
            continue
        used = {_base(graph.value_name(e) or "") for e in c.expr.walk()}
        for h in helpers:
            if h in used:
                out.append((FORWARD.format(name=h), c.expr))
    return out


def _base(name: str) -> str:
    split = split_step_name(name)
    return split[0] if split is not None else name


def _reads_earlier(a: ast.Assign, var: str) -> bool:
    """`delta[t] = … delta[t-1] …`: the assignment reads its own earlier step."""
    if a.index is None or a.index.var != var:
        return False
    text = a.value
    stack: list[Any] = [text]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.BinOp) and n.op == "juxt" and isinstance(n.left, ast.Name) and n.left.id == a.name \
                and isinstance(n.right, ast.Concat) and len(n.right.items) == 1:
            inner = n.right.items[0]
            if isinstance(inner, ast.BinOp) and inner.op == "-" and isinstance(inner.left, ast.Name) \
                    and inner.left.id == var:
                return True
        if isinstance(n, ast.Node):
            stack.extend(v for v in vars(n).values() if isinstance(v, (ast.Node, tuple)))
        elif isinstance(n, tuple):
            stack.extend(n)
    return False
