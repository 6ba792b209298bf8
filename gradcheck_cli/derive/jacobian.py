"""The Jacobian form: the chain of local Jacobians, in numerator layout.

Forward accumulation over the same graph and the same op table (each op's
`jac`): J(node) = Σᵢ ∂node/∂argᵢ · J(argᵢ), starting from the identity at the
variable. Kept unsimplified where the lecture keeps it (diag(f′(z)) stays a
diag), so ∂s/∂x reads uᵀ diag(f′(z)) W. Only vectors have matrix Jacobians:
a matrix-valued node on the way makes the Jacobian a higher tensor, and the
caller falls back to the shape-convention result.
"""

from __future__ import annotations

from functools import lru_cache

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lang.graph import Graph
from gradcheck_cli.symbolic.ops import OPS
from gradcheck_cli.shapes import Dim, Shape, is_scalar


def _vectorish(shape: Shape) -> bool:
    return shape[0].is_one or shape[1].is_one


def _length(shape: Shape) -> Dim:
    return shape[1] if shape[0].is_one else shape[0]


def _accumulate(root: Expr, var: Expr) -> Expr | None:
    """∂root/∂var by forward accumulation, or None when it is not a matrix."""
    if not _vectorish(var.shape):
        return None
    J: dict[int, Expr] = {id(var): alg.const(1) if is_scalar(var.shape) else alg.eye(_length(var.shape))}
    for node in root.walk(below=var):
        if node is var or not any(id(a) in J for a in node.args):
            continue
        if not _vectorish(node.shape):
            return None
        rule = OPS[node.op]
        total: Expr | None = None
        for i, a in enumerate(node.args):
            if id(a) not in J:
                continue
            local = rule.jac(node, i, *node.args) if rule.jac else None
            if local is None:
                return None
            term = alg.matmul(local, J[id(a)], simplify_diag=False)
            total = term if total is None else alg.add(total, term)
        assert total is not None
        J[id(node)] = total
    return J.get(id(root))


def forward_jacobian(root: Expr, var: Expr) -> Expr | None:
    """∂root/∂var (both vectors) in Jacobian form, by forward accumulation; None if it is no matrix."""
    return _accumulate(root, var)


_POISON = object()  # a matrix-valued node or an op without a Jacobian rule: no matrix Jacobian below it


def row_jacobians(root: Expr) -> dict[int, object]:
    """∂root/∂node as a row vector for every node of a scalar root, in one reverse pass.

    The same local Jacobians as `_accumulate`, multiplied from the root down, so
    the chains of all variables share their common prefix (uᵀ diag(f′(z₃)) W₃ …):
    one pass for every variable keeps a deep net's Jacobian forms linear in depth,
    where accumulating forward from each variable was quadratic.
    """
    order = list(root.walk())
    R: dict[int, object] = {id(root): alg.const(1)}
    for node in reversed(order):  # parents before children
        up = R.get(id(node))
        if up is None or not node.args:
            continue
        rule = OPS[node.op]
        for i, a in enumerate(node.args):
            if up is _POISON or not _vectorish(node.shape) or not _vectorish(a.shape):
                contribution: object = _POISON
            else:
                local = rule.jac(node, i, *node.args) if rule.jac else None
                contribution = _POISON if local is None else alg.matmul(up, local, simplify_diag=False)  # type: ignore[arg-type]
            prev = R.get(id(a))
            if prev is None:
                R[id(a)] = contribution
            elif prev is _POISON or contribution is _POISON:
                R[id(a)] = _POISON
            else:
                R[id(a)] = alg.add(prev, contribution)  # type: ignore[arg-type]
    return R


def _link(upper: Expr, lower: Expr, rows: dict[int, object] | None) -> Expr | None:
    """∂upper/∂lower for one link of the chain. From a scalar, multiplied from the scalar
    down (as the whole Jacobian is), so the link reads like the product it belongs to:
    [pᵀ − yᵀ] rather than [−(yᵀ (I − 𝟏 pᵀ))]."""
    if is_scalar(upper.shape) and _vectorish(lower.shape):
        got = (rows if rows is not None else row_jacobians(upper)).get(id(lower))
        return None if got is _POISON else got  # type: ignore[return-value]  (None: no path to lower)
    return _accumulate(upper, lower)


def _unique_path(root: Expr, var: Expr) -> list[Expr] | None:
    """The nodes from root down to var when exactly one path joins them."""
    paths, parents = _paths_from(root)
    if paths.get(id(var)) != 1:
        return None
    path = [var]  # up from var: exactly one parent edge carries root's one path to it
    while path[-1] is not root:
        (up,) = [p for p in parents[id(path[-1])] if paths.get(id(p))]
        path.append(up)
    return path[::-1]


@lru_cache(maxsize=8)
def _paths_from(root: Expr) -> tuple[dict[int, int], dict[int, list[Expr]]]:
    """For every node under root, the number of paths from root to it and its parents (an
    edge per argument slot), in one walk: every variable of a derivation asks about the same
    root, and walking it once per variable made a deep net's Jacobian forms quadratic."""
    order = list(root.walk())
    parents: dict[int, list[Expr]] = {}
    for node in order:
        for a in node.args:
            parents.setdefault(id(a), []).append(node)
    paths = {id(root): 1}
    for node in reversed(order):  # parents before children
        c = paths.get(id(node), 0)
        if c:
            for a in node.args:
                paths[id(a)] = paths.get(id(a), 0) + c
    return paths, parents


def jacobian_form(graph: Graph, root: Expr, var: Expr, rows: dict[int, object] | None = None,
                  factors: dict[tuple[int, int], Expr | None] | None = None,
                  names: dict[int, str] | None = None,
                  ) -> tuple[Expr | None, list[tuple[str, str, Expr]], str]:
    """(J, chain, note): J = ∂root/∂var, chain = [(num, den, factor)] between named nodes.

    `rows`, from `row_jacobians(root)` for a scalar root, and `factors`, a cache of
    the chain's links, share work between the variables of a derivation: the
    variables of a deep net walk the same links; so does `names`, `graph.names()`.
    """
    factors = {} if factors is None else factors
    total = _link(root, var, rows) if rows is not None else _accumulate(root, var)
    if total is None:
        what = f"{var.name or 'it'} is a matrix" if not _vectorish(var.shape) else "matrix-valued nodes lie on the way"
        if not is_scalar(root.shape):
            return None, [], f"∂{graph.value_name(root) or 'out'}/∂{var.name or '·'} is a 3-tensor ({what}), not shown"
        return None, [], ""
    names = graph.names() if names is None else names
    label = {id(v.expr): n for n, v in graph.variables.items()}
    label.update(names)
    path = _unique_path(root, var)
    chain: list[tuple[str, str, Expr]] = []
    if path is not None:
        checkpoints = [p for p in path if p is root or p is var or id(p) in names]
        if len(checkpoints) > 2:
            for upper, lower in zip(checkpoints, checkpoints[1:]):
                key = (id(upper), id(lower))
                if key not in factors:
                    factors[key] = _link(upper, lower, rows if upper is root else None)
                factor = factors[key]
                if factor is None:
                    chain = []
                    break
                chain.append((label.get(id(upper), "out"), label.get(id(lower), "·"), factor))
    return total, chain, "chain rule, numerator layout"
