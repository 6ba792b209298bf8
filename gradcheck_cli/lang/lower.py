"""The lowering: a file's statements → Graph (declarations, assignments, output, claims)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.lang import ast
from gradcheck_cli.symbolic.elementwise import canonical
from gradcheck_cli.errors import GradcheckError, NameError_, ShapeError, Span, Warning_
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.shapes import SCALAR, Dim, DimEnv, Shape, is_scalar, shape_str, using
from gradcheck_cli.lang.names import VECTOR_FUNCS, suggest
from gradcheck_cli.lang.model import ClaimSpec, Graph, VarInfo
from gradcheck_cli.lang.loops import loop_source, sequence_names, step_name
from gradcheck_cli.lang.lower_loops import LoopStatements

class Lowering(LoopStatements):
    """AST → Graph at the sizes of `dims` (free sizes drawn from the seed)."""

    def __init__(self, file: ast.File, seed: int, steps: int | None = None):
        self.file = file
        self.seed = seed
        self.steps = steps  # read a loop with at most this many steps (derive: its closed form needs few)
        self.short_of: int | None = None
        self.env = DimEnv()
        self.vars: dict[str, VarInfo] = {}
        self.functions: dict[str, str | None] = {}
        self.values: dict[str, Expr] = {}
        self.value_spans: dict[str, Span] = {}
        self.used: set[str] = set()  # names used by assignments
        self.claim_used: set[str] = set()  # names used by claims' expressions
        self.literal_sizes: set[int] = set()
        self.warnings: list[Warning_] = []
        self.loop_source = loop_source(file)
        self.seq_names = frozenset(sequence_names(file))
        if self.loop_source is not None:
            self.loop_range = (self.loop_source.loop.start, self.loop_source.loop.stop)
        self.loop_vars = frozenset(s.var for s in file.statements if isinstance(s, (ast.For, ast.SeqDecl)) and s.var)
        self._pending: list[ast.Node] = []  # statements waiting for a step defined further down
        self._waiting: dict[int, GradcheckError] = {}
        self._zero_steps: dict[str, list[str]] = {}  # `delta[T+1] = 0` steps whose shape the next step gives

    # ------------------------------------------------------------ driver
    def run(self) -> Graph:
        stmts = self.file.statements
        self._collect_dims(stmts)
        output_stmt: ast.Output | None = None
        claims: list[ast.Claim] = []
        assigns: list[ast.Assign] = []
        with using(self.env):
            for s in stmts:
                if isinstance(s, ast.Decl):
                    self._declare(s)
                elif isinstance(s, ast.SeqDecl):
                    self._declare_steps(s)
            loop_of: dict[int, ast.For] = {}  # a claim inside a loop: the loop
            for s in stmts:
                if isinstance(s, (ast.Assign, ast.For)):
                    self._lower_statement(s, assigns)
                elif isinstance(s, ast.Output):
                    output_stmt = s
                for c in (s.body if isinstance(s, ast.For) else (s,)):
                    if isinstance(c, ast.Claim):
                        claims.append(c)
                        if s is not c:
                            loop_of[id(c)] = s
                        if c.value is not None:
                            self._note_uses(c.value, self.claim_used)
            self._finish_pending()
            output, note = self._find_output(output_stmt, assigns, claims)
            graph = Graph(self.file.source, self.file.text, self.env, self.vars, self.functions,
                          self.values, self.value_spans, output, seed=self.seed, output_note=note,
                          loop=self.loop_source, short_of=self.short_of)
            for c in claims:
                graph.claims.append(self._claim(c) if id(c) not in loop_of else self._loop_claim(loop_of[id(c)], c))
        graph.warnings = self.warnings
        return graph

    def _collect_dims(self, stmts: tuple[ast.Node, ...]) -> None:
        given: dict[str, int] = {}
        names: list[str] = []
        for s in stmts:
            if isinstance(s, ast.Dims):
                for it in s.items:
                    if it.name in names:
                        raise self._err(NameError_, f"dimension {it.name} is listed twice", it.span)
                    names.append(it.name)
                    if it.size is not None:
                        if it.size < 1:
                            raise self._err(ShapeError, f"dimension {it.name} must be at least 1", it.span)
                        given[it.name] = it.size
            elif isinstance(s, (ast.Decl, ast.SeqDecl)):
                for d in (s.decl if isinstance(s, ast.SeqDecl) else s).dims:
                    self._dim_names(d, names)
        self.env.given = set(given)
        self.env.sizes = dict(given)
        length = self.loop_source.length if self.loop_source is not None else None
        if self.steps is not None and length in given and given[length] > self.steps:
            self.short_of, self.env.sizes[length] = given[length], self.steps
        rng = np.random.default_rng(self.seed + 7919)
        taken = set(given.values()) | self.literal_sizes | {1}
        pool = [k for k in range(2, 40) if k not in taken]
        free = [n for n in names if n not in given]
        picks = list(rng.permutation([k for k in pool if k <= 9])) + [k for k in pool if k > 9]
        for n, k in zip(free, picks):
            self.env.sizes[n] = int(k)

    def _dim_names(self, d: ast.Node, names: list[str]) -> None:
        if isinstance(d, ast.DimName) and d.id not in names:
            names.append(d.id)
        elif isinstance(d, ast.DimNum):
            self.literal_sizes.add(d.value)
        elif isinstance(d, ast.DimAdd):
            self._dim_names(d.left, names)
            self._dim_names(d.right, names)
        elif isinstance(d, ast.DimScaled):
            self._dim_names(d.dim, names)

    def _dim(self, d: ast.Node) -> Dim:
        if isinstance(d, ast.DimNum):
            if d.value < 1:
                raise self._err(ShapeError, "a size must be at least 1", d.span)
            return Dim.of(d.value)
        if isinstance(d, ast.DimName):
            return Dim.of(d.id)
        if isinstance(d, ast.DimAdd):
            return self._dim(d.left) + self._dim(d.right)
        if isinstance(d, ast.DimScaled):
            return self._dim(d.dim).scale(d.factor)
        raise AssertionError(f"unknown dim node {d!r}")

    def _declare(self, s: ast.Decl) -> None:
        for name, span in zip(s.names, s.name_spans):
            if name in self.vars or name in self.functions:
                first = self.vars[name].span.line if name in self.vars else None
                raise self._err(NameError_, f"{name} is declared twice", span,
                                f"{name} was first declared at line {first}" if first else None)
            if canonical(name) or name in VECTOR_FUNCS:
                raise self._err(NameError_, f"{name} is a built-in function and cannot be declared", span)
            if s.kind == "function":
                self.functions[name] = None
                continue
            quals = tuple(s.qualifiers)
            if s.kind == "scalar":
                shape: Shape = SCALAR
                kind = "scalar"
            elif s.kind in ("onehot", "onehot_rows"):
                # qualifier onehot: every column is one-hot (a vector: the one column); onehot_rows: every row
                shape = (self._dim(s.dims[0]), self._dim(s.dims[1]) if len(s.dims) > 1 else Dim.of(1))
                kind = "onehot"
                quals = tuple(sorted(set(quals) | {s.kind}))
            else:
                rows = self._dim(s.dims[0])
                cols = self._dim(s.dims[1]) if len(s.dims) > 1 else Dim.of(1)
                shape = (rows, cols)
                kind = "scalar" if is_scalar(shape) else "vector" if cols.is_one else "matrix"
            if ("symmetric" in quals or "spd" in quals) and not self.env.same(shape[0], shape[1]):
                raise self._err(ShapeError, f"{name} is declared {'/'.join(q for q in quals if q in ('symmetric', 'spd'))}"
                                f" but is {shape_str(shape)}, not square", s.span)
            e = alg.var(name, shape, quals)
            e.span = span
            self.vars[name] = VarInfo(name, kind, quals, span, e)

    # ------------------------------------------------------------ statements
    def _assign(self, s: ast.Assign) -> None:
        name = self._step_of(s.name, s.index, s.name_span)
        if name in self.vars:
            raise self._err(NameError_, f"{name} is a declared variable and cannot be assigned", s.name_span,
                            "pick a new name for the computed value")
        if name in self.values:
            raise self._err(NameError_, f"{name} is assigned twice", s.name_span,
                            f"{name} was first assigned at line {self.value_spans[name].line}")
        # `f = tanh` binds a function; `f = sigmoid(Wf v)` is an ordinary assignment
        if isinstance(s.value, ast.Name) and self._function_target(s.value.id) is not None:
            target = self._function_target(s.value.id)
            if name in self.functions and self.functions[name] is not None:
                raise self._err(NameError_, f"function {name} is bound twice", s.name_span)
            self.functions[name] = target
            return
        if name in self.functions:
            raise self._err(NameError_, f"{name} is declared as a function; bind it with `{name} = tanh`",
                            s.name_span)
        self._note_uses(s.value)
        e = self.expr(s.value)
        self.values[name] = e
        self.value_spans[name] = s.span
        self.env.names.setdefault(id(e), name)

    def _note_uses(self, node: ast.Node, used: set[str] | None = None) -> None:
        used = self.used if used is None else used
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Name):
                if n.id in self.values or n.id in self.vars:
                    used.add(n.id)
                elif len(set(n.id)) == len(n.id) and all(ch in self.values or ch in self.vars for ch in n.id):
                    used.update(n.id)  # juxtaposed letters: Wx uses W and x
            elif isinstance(n, ast.Call):
                used.add(n.func)
                stack.extend(n.args)
                stack.extend(v for _, v in n.kwargs)
            elif isinstance(n, ast.BinOp) and (at := self.as_step(n)) is not None:
                used.add(at.name)  # h[t-1]: a step of h
            elif isinstance(n, ast.At):
                used.add(n.name)
            elif isinstance(n, ast.Over):
                stack.append(n.body)
            elif isinstance(n, ast.BinOp):
                stack.extend((n.left, n.right))
            elif isinstance(n, (ast.Neg, ast.Transpose, ast.Power)):
                stack.append(n.operand)
            elif isinstance(n, (ast.Concat, ast.HConcat)):
                stack.extend(n.items)
            elif isinstance(n, ast.Slice):
                stack.extend((n.operand, n.start, n.stop))

    def _find_output(self, stmt: ast.Output | None, assigns: list[ast.Assign],
                     claims: list[ast.Claim]) -> tuple[str, str | None]:
        """The output and, when it was inferred while another assignment is unused too, a note saying so.

        DSL.md: the last assignment no other statement or claim uses. A value that claims use
        but no assignment does is still the output when a claim differentiates it
        (`p = softmax(z)` with `claim dp/dz = …`).
        """
        if stmt is not None:
            if stmt.name not in self.values:
                known = list(self.values)
                raise self._err(NameError_, f"the output {stmt.name} is not assigned in this file", stmt.span,
                                suggest(stmt.name, known))
            return stmt.name, None
        names = [a.name for a in assigns if a.name in self.values and not self._used(a.name, self.used)]
        candidates = [n for n in names if not self._used(n, self.claim_used)]
        if not candidates:
            numerators = {c.num for c in claims}
            candidates = [n for n in names if n in numerators]
        if not candidates and assigns:  # point at the last assignment, not at line 1
            raise self._err(NameError_, "the file has no output: every assignment is used by another line or a claim",
                            assigns[-1].name_span, "name the output with a line `output NAME`")
        if not candidates:
            stmts = self.file.statements
            span = stmts[-1].span if stmts else Span(0, 0, 1, 1, self.file.source)
            raise self._err(NameError_, "the file has no output: it assigns nothing", span,
                            "add an assignment like `s = u^T h`")
        out, others = candidates[-1], candidates[:-1]
        note = None
        if others:
            lines = ", ".join(f"{n} (line {self.value_spans[n].line})" for n in others)
            note = (f"the output is {out} (line {self.value_spans[out].line}), the last assignment nothing uses; "
                    f"{lines} {'is' if len(others) == 1 else 'are'} unused too: name the output with `output NAME`")
        return out, note

    def _claim(self, c: ast.Claim) -> ClaimSpec:
        # named as written (`dL/dx[t]`) until the steps resolve: a claim that fails says which step it was about
        spec = ClaimSpec(step_name(c.num, c.num_index), step_name(c.den, c.den_index), c.span,
                         text=self.file.text[c.span.start:c.span.end])
        spec.written = (spec.num, spec.den) if self.loop_var is None else None  # a loop's steps: by number
        if c.error is not None:  # a broken expression: its steps still resolve where they can (dL/dh[T] → h[6])
            try:
                spec.num, spec.den = (self._step_of(c.num, c.num_index, c.head_span),
                                      self._step_of(c.den, c.den_index, c.head_span))
            except GradcheckError:
                pass
            spec.error = c.error
            return spec
        try:
            spec.num = self._step_of(c.num, c.num_index, c.head_span)
            spec.den = self._step_of(c.den, c.den_index, c.head_span)
            c = replace(c, num=spec.num, den=spec.den)
            if c.num not in self.values and c.num not in self.vars:
                raise self._err(NameError_, f"unknown name {c.num} in d{c.num}/d{c.den}", c.head_span,
                                suggest(c.num, list(self.values)))
            if c.den not in self.vars and c.den not in self.values:
                raise self._err(NameError_, f"unknown name {c.den} in d{c.num}/d{c.den}", c.head_span,
                                suggest(c.den, list(self.vars) + list(self.values)))
            spec.expr = self.expr(c.value)
        except GradcheckError as e:
            spec.error = e
        return spec

    def _loop_claim(self, loop: ast.For, c: ast.Claim) -> ClaimSpec:
        """`for t = a..b:  claim dL/dx[t] = …`: the claim at every step, under one name (`dL/dx[t]`)."""
        spec = ClaimSpec(step_name(c.num, c.num_index), step_name(c.den, c.den_index), c.span,
                         text=self.file.text[c.span.start:c.span.end])
        if c.error is not None:
            spec.error = c.error
            return spec
        try:
            lo, hi = self.index_value(loop.start, loop.start.span), self.index_value(loop.stop, loop.stop.span)
        except GradcheckError as e:
            spec.error = e
            return spec
        spec.over = (loop.var, lo, hi)
        if hi < lo:
            spec.error = self._err(NameError_, f"the claim's loop {loop.var} = {lo}..{hi} has no steps", c.head_span)
            return spec
        saved = (self.loop_var, self.step)
        try:
            for k in range(lo, hi + 1):
                self.loop_var, self.step = loop.var, k
                spec.steps.append(self._claim(c))
        finally:
            self.loop_var, self.step = saved
        spec.error = next((one.error for one in spec.steps if one.error is not None), None)
        return spec

    # ------------------------------------------------------------ expressions
