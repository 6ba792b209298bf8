"""Lowering of steps: `h[t-1]`, `x[t]`, `h[0]`, and `sum`/`prod` over t (a mixin of `Lowering`).

The unrolled reading: the loop variable is bound to an int (`self.step`), so
`h[t-1]` at t = 3 is the value or variable named `h[2]`. The closed-form reading
(derive/loops.py) subclasses the Lowering and overrides `at` (and `over`), with
`step = "t"`, without copying the expression walk.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Mapping

from gradcheck_cli.errors import NameError_, ShapeError
from gradcheck_cli.lang import ast
from gradcheck_cli.lang.loops import index_text, split_step_name, step_name
from gradcheck_cli.lang.lower_calls import CallLowering
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.expr import Expr


class StepLowering(CallLowering):
    """Steps of sequences (the base of `ExprLowering`)."""

    step: int | str | None = None  # the loop variable's value: an int when unrolled ("t" in the closed form)
    loop_var: str | None = None  # the name of the loop variable bound now (t)
    seq_names: frozenset[str] = frozenset()  # every name that has steps (set by the Lowering)
    loop_range: tuple[ast.Index, ast.Index] | None = None  # the first loop's range: Σ_t's default bounds
    outer_steps: Mapping[str, int] = MappingProxyType({})  # the loops around a sum's body: k in ∏_{t=k+1}^{T}

    # ------------------------------------------------------------ the hook
    def at(self, node: ast.At) -> Expr:
        """The step `node` names: at t = 3, `h[t-1]` is the value (or variable) `h[2]`."""
        k = self.index_value(node.index, node.span)
        name = step_name(node.name, k)
        if name in self.values:
            return self.values[name]
        if name in self.vars:
            return self.vars[name].expr
        raise self._unknown_step(node, k)

    def index_value(self, index: ast.Index, span: object) -> int:
        """The int a step index stands for now: `t-1` at t = 3 is 2; `T+1` with T = 6 is 7."""
        value = index.offset
        bound = dict(self.outer_steps)
        if isinstance(self.step, int) and self.loop_var is not None:
            bound[self.loop_var] = self.step
        if index.var is not None:
            if index.var not in bound:
                where = f"inside `for {index.var} = …:` or `sum(… for {index.var} = …)`"
                raise self._err(NameError_, f"the loop variable {index.var} is used outside its loop", span,
                                f"{index.var} only has a value {where}; name a step with a number or T")
            value += bound[index.var]
        if index.size is not None:  # `k+1` in a sum's bounds inside `for k`: read as a size, it is the loop's k
            value += bound[index.size] if index.size in bound and index.size not in self.env.sizes \
                else self._step_count(index.size, span)
        return value

    def _step_count(self, size: str, span: object) -> int:
        """The number a size in a step stands for: T must be given in dims to unroll the loop."""
        if size in getattr(self, "loop_vars", ()) and size not in self.env.sizes:
            raise self._err(NameError_, f"the loop variable {size} is used outside its loop", span,
                            f"{size} only has a value inside `for {size} = …:`; name a step with a number or T")
        if size not in self.env.sizes:
            raise self._err(NameError_, f"unknown size {size} in a step", span,
                            f"give it in dims: `dims … {size} = 6`")
        if size not in self.env.given:
            raise self._err(NameError_, f"the number of steps {size} has no size: the loop cannot be unrolled",
                            span, f"give it in dims: `dims … {size} = 6`")
        return self.env.sizes[size]

    def _unknown_step(self, node: ast.At, k: int) -> Exception:
        steps = sorted(s[1] for n in list(self.values) + list(self.vars)
                       if (s := split_step_name(n)) is not None and s[0] == node.name and isinstance(s[1], int))
        written = step_name(node.name, node.index)
        now = f" (at {self.loop_var} = {self.step}: {node.name}[{k}])" if node.index.var is not None else ""
        if node.name not in self.seq_names:
            return self._err(NameError_, f"unknown name {node.name} in {written}", node.span,
                             f"declare a sequence, e.g. `{node.name}[t] : n, t = 1..T`, or a step `{node.name}[0] : n`")
        if not steps:
            later = node.index.var is not None and node.index.offset > 0  # delta[t+1]: a recursion from the end
            hint = (f"a recursion backwards in time needs its boundary, e.g. `{node.name}[{self._boundary(node)}] = 0`"
                    if later else f"declare `{node.name}[0] : n` or assign it in the loop before this line")
            return self._err(NameError_, f"unknown step {written}{now}: {node.name} has no step defined yet",
                             node.span, hint)
        lo, hi = steps[0], steps[-1]
        if k < lo or k > hi:
            return self._err(NameError_, f"step {written} is out of range{now}: {node.name} has steps "
                             f"{lo}..{hi} here", node.span, self._step_hint(node.name, lo, k))
        return self._err(NameError_, f"unknown step {written}{now}: {node.name}[{k}] is not defined", node.span,
                         f"{node.name} has steps {', '.join(map(str, steps[:8]))}{'…' if len(steps) > 8 else ''}")

    def _boundary(self, node: ast.At) -> str:
        """The boundary a backward recursion reads first, as the loop writes it: `T+1` for `delta[t+1]`."""
        stop = self.loop_range[1] if self.loop_range is not None else None
        if stop is None or stop.var is not None:
            return str(self.step + node.index.offset) if isinstance(self.step, int) else "T+1"
        return index_text(replace(stop, offset=stop.offset + node.index.offset))

    @staticmethod
    def _step_hint(name: str, lo: int, k: int) -> str:
        if k < lo:
            return f"declare the start, e.g. `{name}[{k}] : n`, or start the loop later"
        return f"a recursion backwards in time needs its boundary first, e.g. `{name}[{k}] = 0`"

    # ------------------------------------------------------------ `[` after a name: a step or a product
    def as_step(self, node: ast.BinOp) -> ast.At | None:
        """`h[t-1]` as the grammar reads it (h times the block [t-1]) when h has steps; None otherwise.

        `[` right after a term is the slice/juxt_block syntax (`δ[0:d]`, `W[x1; x2]`); it is a
        step only when the name is a sequence (declared, or assigned with an index) and the
        bracket holds one index: t, t-1, t+1, 0, T, T+1.
        """
        left, right = node.left, node.right
        if node.op != "juxt" or not isinstance(left, ast.Name) or left.id not in self.seq_names:
            return None
        if not isinstance(right, ast.Concat) or len(right.items) != 1:
            return None
        text = self.file.text
        if left.span.end >= len(text) or text[left.span.end] != "[":
            return None  # `h [t]` with a space: a product
        index = self.index_of(right.items[0])
        return None if index is None else ast.At(node.span, left.id, index)

    def index_of(self, node: ast.Node) -> ast.Index | None:
        """An index expression (t, t-1, T+1, 3, T) as an `ast.Index`; None when it is not one."""
        if isinstance(node, ast.Num) and float(node.value).is_integer():
            return ast.Index(node.span, None, int(node.value), None)
        if isinstance(node, ast.Name):
            if node.id in self.env.sizes:
                return ast.Index(node.span, None, 0, node.id)
            return ast.Index(node.span, node.id, 0, None) if node.id.isidentifier() else None
        if isinstance(node, ast.BinOp) and node.op in ("+", "-") and isinstance(node.right, ast.Num) \
                and float(node.right.value).is_integer():
            base = self.index_of(node.left)
            if base is None:
                return None
            k = int(node.right.value) * (1 if node.op == "+" else -1)
            return ast.Index(node.span, base.var, base.offset + k, base.size)
        return None

    # ------------------------------------------------------------ sums and products over steps
    def over(self, node: ast.Over) -> Expr:
        """`sum(EXPR for t = a..b)` as the explicit sum; `prod` as the product, later steps to the left."""
        bounds = (node.start, node.stop) if node.start is not None and node.stop is not None else self.loop_range
        if bounds is None:
            raise self._err(NameError_, f"Σ_{node.var} has no range: the file has no loop", node.span,
                            f"write the bounds: `sum(… for {node.var} = 1..T)`")
        lo, hi = (self.index_value(b, node.span) for b in bounds)
        if hi < lo:
            raise self._err(ShapeError, f"the range {index_text(bounds[0])}..{index_text(bounds[1])} is empty "
                            f"({lo}..{hi})", node.span)
        saved, outer = (self.loop_var, self.step), self.outer_steps
        if isinstance(self.step, int) and self.loop_var is not None:
            self.outer_steps = {**outer, self.loop_var: self.step}
        terms = []
        try:
            for k in range(lo, hi + 1):
                self.loop_var, self.step = node.var, k
                terms.append(self.expr(node.body))
        finally:
            self.loop_var, self.step = saved
            self.outer_steps = outer
        if node.kind == "prod":
            terms.reverse()  # ∏_{t=k+1}^{T} A_t = A_T ⋯ A_{k+1}: later steps to the left
            return self._shape_op(node, lambda: _balanced(terms, lambda a, b: alg.matmul(a, b, simplify_diag=False)))
        return self._shape_op(node, lambda: _balanced(terms, alg.add))


def _balanced(terms: list[Expr], op: object) -> Expr:
    """op over the terms as a balanced tree (depth log T, so T = 1000 stays shallow); order kept."""
    while len(terms) > 1:
        nxt = [op(terms[i], terms[i + 1]) for i in range(0, len(terms) - 1, 2)]  # type: ignore[operator]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]
