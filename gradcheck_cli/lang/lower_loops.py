"""Lowering of loop statements, unrolled: sequences, `for` blocks, indexed helpers (a mixin of `Lowering`).

`x[t] : D, t = 1..T` declares the variables `x[1]` … `x[T]`; `for t = 1..T:` lowers
its body once per step, naming each value with its step (`z[3]`, `h[3]`). A loop
whose body reads a later step of its own values (`delta[t] = W^T delta[t+1] …`)
runs from the end backwards; a statement that needs a step defined further down
(a boundary line `delta[T+1] = 0` written after its loop) waits until it is there,
so the file's order does not matter and no Python recursion grows with T.
"""

from __future__ import annotations

from dataclasses import replace

from gradcheck_cli.errors import NameError_
from gradcheck_cli.lang import ast
from gradcheck_cli.lang.loops import split_step_name, step_name
from gradcheck_cli.lang.lower_expr import ExprLowering


class MissingStep(NameError_):
    """A step not (yet) defined: the statement may wait for a later one that defines it."""


class LoopStatements(ExprLowering):
    """Sequences and loops, expanded at the sizes of `dims`."""

    def _unknown_step(self, node: ast.At, k: int) -> Exception:
        e = super()._unknown_step(node, k)
        if node.name in self.seq_names and isinstance(e, NameError_):
            return MissingStep(e.message, e.span, e.hint)
        return e

    def _declare_steps(self, s: ast.SeqDecl) -> None:
        """`x[t] : D, t = 1..T` → x[1] … x[T]; `h[0] : H` → h[0]."""
        if s.index is not None:
            steps = [self.index_value(s.index, s.index.span)]
        else:
            assert s.start is not None and s.stop is not None
            steps = list(range(self.index_value(s.start, s.start.span), self.index_value(s.stop, s.stop.span) + 1))
        for k in steps:
            self._declare(replace(s.decl, names=(step_name(s.decl.names[0], k),)))

    def _lower_statement(self, s: ast.Node, assigns: list[ast.Assign]) -> None:
        """Lower an assignment or a loop; one that needs a step not yet defined waits for it."""
        self._pending.append(s)
        progress = True
        while progress and self._pending:
            progress = False
            for p in list(self._pending):
                before = set(self.values)
                try:
                    done = self._loop(p) if isinstance(p, ast.For) else self._one_assign(p)
                except MissingStep as e:
                    self._waiting[id(p)] = e
                    for n in set(self.values) - before:
                        del self.values[n]
                        self.value_spans.pop(n, None)
                    continue
                self._pending.remove(p)
                self._waiting.pop(id(p), None)
                assigns.extend(done)
                progress = True

    def _finish_pending(self) -> None:
        """A statement still waiting at the end of the file: its step is never defined."""
        if self._pending:
            raise self._waiting[id(self._pending[0])]

    def _one_assign(self, s: ast.Assign) -> list[ast.Assign]:
        self._assign(s)
        if s.index is None:
            return [s]
        return [replace(s, name=step_name(s.name, self.index_value(s.index, s.name_span)), index=None)]

    def _loop(self, s: ast.For) -> list[ast.Assign]:
        lo, hi = self.index_value(s.start, s.start.span), self.index_value(s.stop, s.stop.span)
        steps = range(hi, lo - 1, -1) if self._runs_backward(s) else range(lo, hi + 1)
        saved = (self.loop_var, self.step)
        out: list[ast.Assign] = []
        try:
            for k in steps:
                self.loop_var, self.step = s.var, k
                for a in s.body:
                    if isinstance(a, ast.Claim):  # claims about every step: lowered with the other claims
                        continue
                    assert isinstance(a, ast.Assign)
                    if a.index is None:
                        raise self._err(NameError_, f"{a.name} is assigned at every step: name it with its step",
                                        a.name_span, f"write `{a.name}[{s.var}] = …`")
                    out.extend(self._one_assign(a))
        finally:
            self.loop_var, self.step = saved
        return out

    def _runs_backward(self, s: ast.For) -> bool:
        """True when the body reads a later step of a value it defines (`delta[t+1]` in `delta[t] = …`,
        `dh[t]` in `dh[t-1] = …`)."""
        targets = {a.name: a.index.offset for a in s.body if isinstance(a, ast.Assign) and a.index is not None
                   and a.index.var == s.var}
        stack: list[object] = [a.value for a in s.body if isinstance(a, ast.Assign)]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.BinOp):
                at = self.as_step(n)
                if at is not None and self._later(at, targets, s.var):
                    return True
            if isinstance(n, ast.At) and self._later(n, targets, s.var):
                return True
            if isinstance(n, ast.Node):
                stack.extend(v for v in vars(n).values() if isinstance(v, (ast.Node, tuple)))
            elif isinstance(n, tuple):
                stack.extend(n)
        return False

    @staticmethod
    def _later(at: ast.At, targets: dict[str, int], var: str) -> bool:
        return at.name in targets and at.index.var == var and at.index.offset > targets[at.name]

    def _step_of(self, name: str, index: ast.Index | None, span: object) -> str:
        """A claim's `dh[0]`: the name of that step (`h[0]`); the name itself without an index."""
        return name if index is None else step_name(name, self.index_value(index, span))

    def _used(self, name: str, used: set[str]) -> bool:
        """A value is used when its name is, or (a step `J[3]`) when its sequence's name is."""
        if name in used:
            return True
        split = split_step_name(name)
        return split is not None and split[0] in used
