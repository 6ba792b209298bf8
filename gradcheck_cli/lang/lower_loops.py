"""Lowering of loop statements, unrolled: sequences, `for` blocks, indexed helpers (a mixin of `Lowering`).

`x[t] : D, t = 1..T` declares the variables `x[1]` … `x[T]`; `for t = 1..T:` lowers
its body once per step, naming each value with its step (`z[3]`, `h[3]`). A loop
whose body reads a later step of its own values (`delta[t] = W^T delta[t+1] …`)
runs from the end backwards; a statement that needs a step defined further down
(a boundary line `delta[T+1] = 0` written after its loop) waits until it is there,
so the file's order does not matter and no Python recursion grows with T.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from gradcheck_cli.errors import GradcheckError, NameError_
from gradcheck_cli.lang import ast
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.lang.loops import split_step_name, step_name
from gradcheck_cli.lang.lower_expr import ExprLowering


class MissingStep(NameError_):
    """A step not (yet) defined: the statement may wait for a later one that defines it. The message
    (which lists the steps there are) is only written if the step never comes: a loop waiting step by
    step meets this at every step."""

    def __init__(self, make: Callable[[], GradcheckError]):
        super().__init__("a step not yet defined")
        self.make = make


@dataclass(frozen=True)
class _Rest:
    """The steps of a loop still to lower, waiting for the step `error` names."""
    loop: ast.For
    steps: list[int]
    error: MissingStep
    free: bool = False  # its steps do not read each other: either end may come first


class LoopStatements(ExprLowering):
    """Sequences and loops, expanded at the sizes of `dims`."""

    def _unknown_step(self, node: ast.At, k: int) -> Exception:
        if node.name in self.seq_names:
            at = (self.loop_var, self.step)

            def make() -> GradcheckError:
                saved = (self.loop_var, self.step)
                self.loop_var, self.step = at
                try:
                    e = super(LoopStatements, self)._unknown_step(node, k)
                finally:
                    self.loop_var, self.step = saved
                return e if isinstance(e, GradcheckError) else NameError_(str(e), node.span)
            return MissingStep(make)
        return super()._unknown_step(node, k)

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
        """Lower an assignment or a loop; one that needs a step not yet defined waits for it. A loop
        waits step by step (`_Rest`), so two one-line loops that read each other's next step
        (`dh[t] = δ_h[t+1] for t = T−1, …, 1` and `δ_h[t] = … dh[t] … for t = T, …, 1`) interleave."""
        self._pending.append(s)
        progress = True
        while progress and self._pending:
            progress = False
            for p in list(self._pending):
                try:
                    done, rest = self._run_steps(p) if isinstance(p, (ast.For, _Rest)) else (self._one_assign(p), None)
                except MissingStep as e:  # a plain assignment: it leaves no value behind
                    self._waiting[id(p)] = e
                    continue
                i = self._pending.index(p)
                self._waiting.pop(id(p), None)
                if rest is None:
                    del self._pending[i]
                else:
                    self._pending[i] = rest
                    self._waiting[id(rest)] = rest.error
                assigns.extend(done)
                progress = progress or rest is None or bool(done)

    def _finish_pending(self) -> None:
        """A statement still waiting at the end of the file: its step is never defined."""
        if self._pending:
            e = self._waiting[id(self._pending[0])]
            raise e.make() if isinstance(e, MissingStep) else e

    def _one_assign(self, s: ast.Assign) -> list[ast.Assign]:
        if s.index is None:
            self._assign(s)
            return [s]
        zeros = self._zero_steps
        if zeros.get(s.name) and self._shape_zero_steps(s, zeros[s.name]):
            del zeros[s.name]
        self._assign(s)
        name = step_name(s.name, self.index_value(s.index, s.name_span))
        e = self.values.get(name)
        if e is not None and e.op == "const" and e.param("value") == 0:
            zeros.setdefault(s.name, []).append(name)
        return [replace(s, name=name, index=None)]

    def _shape_zero_steps(self, s: ast.Assign, names: list[str]) -> bool:
        """`delta[T+1] = 0`, as derive prints a boundary: a 0 step of a sequence of vectors is the zero of
        the sequence's shape, the one that makes the step reading it consistent (`delta[T] = … W^T delta[T+1]`
        has delta[T]'s shape only when delta[T+1] has it too). Tried with a stand-in of each shape in the file."""
        names[:] = [n for n in names if n in self.values]  # a step taken back while its loop waits is gone
        saved, warnings = {n: self.values[n] for n in names}, len(self.warnings)
        shapes = {(str(e.shape[0]), str(e.shape[1])): e.shape for e in (*self.values.values(),
                                                                         *(v.expr for v in self.vars.values()))}
        found = None
        for shape in sorted(shapes.values(), key=lambda sh: (not sh[1].is_one, sh[0].is_one)):
            for n in names:
                self.values[n] = alg.var(n, shape)
            try:
                if self.env.same_shape(self.expr(s.value).shape, shape):
                    found = shape
                    break
            except GradcheckError:
                continue
        del self.warnings[warnings:]
        for n in names:
            self.values[n] = alg.zeros(*found) if found is not None else saved[n]
        return found is not None

    def _run_steps(self, p: "ast.For | _Rest") -> tuple[list[ast.Assign], "_Rest | None"]:
        """The loop's steps in order until one needs a step not yet defined: (what was lowered, the rest).
        A loop whose steps do not read each other is tried from either end."""
        if isinstance(p, ast.For):
            lo, hi = self.index_value(p.start, p.start.span), self.index_value(p.stop, p.stop.span)
            backward = self._runs_backward(p)
            loop, steps, free = p, list(range(hi, lo - 1, -1) if backward else range(lo, hi + 1)), backward is None
        else:
            loop, steps, free = p.loop, p.steps, p.free
        out, rest = self._steps_in_order(loop, steps, free)
        if free and not out and rest is not None and len(steps) > 1:
            out, rest = self._steps_in_order(loop, steps[::-1], free)
        return out, rest

    def _steps_in_order(self, loop: ast.For, steps: list[int], free: bool) -> tuple[list[ast.Assign], "_Rest | None"]:
        saved = (self.loop_var, self.step)
        out: list[ast.Assign] = []
        try:
            for i, k in enumerate(steps):
                self.loop_var, self.step = loop.var, k
                mark = len(out)
                try:
                    for a in loop.body:
                        if isinstance(a, ast.Claim):  # claims about every step: lowered with the other claims
                            continue
                        assert isinstance(a, ast.Assign)
                        if a.index is None:
                            raise self._err(NameError_, f"{a.name} is assigned at every step: name it with its step",
                                            a.name_span, f"write `{a.name}[{loop.var}] = …`")
                        out.extend(self._one_assign(a))
                except MissingStep as e:  # this step waits: what it assigned so far is taken back
                    for d in out[mark:]:
                        self.values.pop(d.name, None)
                        self.value_spans.pop(d.name, None)
                    del out[mark:]
                    return out, _Rest(loop, steps[i:], e, free)
        finally:
            self.loop_var, self.step = saved
        return out, None

    def _runs_backward(self, s: ast.For) -> bool | None:
        """True when the body reads a later step of a value it defines (`delta[t+1]` in `delta[t] = …`,
        `dh[t]` in `dh[t-1] = …`), False when an earlier one, None when none of its own (its steps
        may come in either order: `dh[t] = δ_h[t+1]`, one of two one-line loops that read each other)."""
        targets = {a.name: a.index.offset for a in s.body if isinstance(a, ast.Assign) and a.index is not None
                   and a.index.var == s.var}
        own_later = own_earlier = False
        stack: list[object] = [a.value for a in s.body if isinstance(a, ast.Assign)]
        while stack:
            n = stack.pop()
            at = self.as_step(n) if isinstance(n, ast.BinOp) else n if isinstance(n, ast.At) else None
            if at is not None and at.index.var == s.var:
                if at.name in targets:
                    own_later |= at.index.offset > targets[at.name]
                    own_earlier |= at.index.offset < targets[at.name]
            if isinstance(n, ast.Node):
                stack.extend(v for v in vars(n).values() if isinstance(v, (ast.Node, tuple)))
            elif isinstance(n, tuple):
                stack.extend(n)
        return True if own_later else False if own_earlier else None

    def _step_of(self, name: str, index: ast.Index | None, span: object) -> str:
        """A claim's `dh[0]`: the name of that step (`h[0]`); the name itself without an index."""
        return name if index is None else step_name(name, self.index_value(index, span))

    def _used(self, name: str, used: set[str]) -> bool:
        """A value is used when its name is, or (a step `J[3]`) when its sequence's name is."""
        if name in used:
            return True
        split = split_step_name(name)
        return split is not None and split[0] in used
