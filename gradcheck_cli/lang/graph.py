"""AST → typed graph: names resolved, shapes inferred and checked, output found.

The graph is the expression DAG of the output (see `expr.py`), plus what the
file declared: variables with their kinds, dimension sizes, function
bindings, every named value (intermediates and helper definitions) and the
claims, each lowered on its own so a mistake inside a claim fails that claim
rather than the run.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.deep import deep
from gradcheck_cli.lang import ast
from gradcheck_cli.lang.parser import parse_file
from gradcheck_cli.symbolic.elementwise import ELEMENTWISE, canonical
from gradcheck_cli.errors import GradcheckError, NameError_, ShapeError, Span, Warning_
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.symbolic.ops import ShapeMismatch
from gradcheck_cli.shapes import SCALAR, Dim, DimEnv, Shape, is_scalar, shape_str, using

VECTOR_FUNCS = ("softmax", "log_softmax", "logsumexp", "sum", "mean", "norm", "tr", "det", "logdet",
                "diag", "inv", "cross_entropy", "max", "min", "ones", "zeros", "eye", "rows", "concat")
DATA_KINDS = ("onehot",)


@dataclass(frozen=True)
class VarInfo:
    name: str
    kind: str  # matrix | vector | scalar | onehot
    qualifiers: tuple[str, ...]
    span: Span
    expr: Expr

    @property
    def is_data(self) -> bool:
        return self.kind == "onehot" or "const" in self.qualifiers


@dataclass
class ClaimSpec:
    num: str
    den: str
    span: Span
    expr: Expr | None = None
    error: GradcheckError | None = None
    text: str = ""

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def name(self) -> str:
        return f"claim d{self.num}/d{self.den}"


@dataclass
class Graph:
    source: str
    text: str
    env: DimEnv
    variables: dict[str, VarInfo]
    functions: dict[str, str | None]  # generic f -> bound builtin (or None)
    values: dict[str, Expr]
    value_spans: dict[str, Span]
    output_name: str
    claims: list[ClaimSpec] = field(default_factory=list)
    seed: int = 0
    warnings: list[Warning_] = field(default_factory=list)  # read, but maybe not as meant: tr(X^2)
    output_note: str | None = None  # set when the output was inferred and another assignment is unused too

    @property
    def output(self) -> Expr:
        return self.values[self.output_name]

    def params(self) -> list[str]:
        """Declared variables that get gradients (not const, not one-hot)."""
        return [n for n, v in self.variables.items() if not v.is_data]

    def names(self, exclude: Expr | None = None) -> dict[int, str]:
        """Node → name to print: the file's intermediates (graph names win over helpers)."""
        out: dict[int, str] = {}
        in_graph = {id(e) for e in self.output.walk()}
        for n, e in self.values.items():
            if e.op in ("var", "const") or e is exclude:
                continue
            if id(e) in out and id(e) in in_graph and out[id(e)] in self.values and id(self.values[out[id(e)]]) in in_graph:
                continue  # the first graph name stays
            if id(e) not in out or id(e) in in_graph:
                out[id(e)] = n
        return out

    def nodes(self, root: Expr | None = None) -> list[Expr]:
        return list((root or self.output).walk())

    def generic_functions(self) -> list[str]:
        return [f for f, b in self.functions.items() if b is None]

    def value_name(self, e: Expr) -> str | None:
        for n, v in self.values.items():
            if v is e:
                return n
        return None


def parse(text: str, source: str = "<stdin>", seed: int = 0) -> Graph:
    """Parse and type-check a .grad file; raises GradcheckError with a position."""
    file = parse_file(text, source)
    try:
        return _lower(file, seed)
    except RecursionError:  # printing a very deep expression (thousands of nested ops) in a message
        raise ShapeError("the graph is nested too deeply for gradcheck to describe", None) from None


@deep
def _lower(file: ast.File, seed: int) -> Graph:
    return Lowering(file, seed).run()  # a fresh Lowering, so a rerun on a deeper stack starts clean


def load(path: str, seed: int = 0) -> Graph:
    from pathlib import Path

    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        from gradcheck_cli.errors import UsageError
        raise UsageError(f"no such file: {path}") from None
    except (IsADirectoryError, PermissionError) as e:
        from gradcheck_cli.errors import UsageError
        raise UsageError(f"cannot read {path}: {e}") from None
    try:
        text = data.decode("utf-8-sig")  # a BOM (Windows editors) is not part of the text
    except UnicodeDecodeError as e:
        raise _not_utf8(data, e, str(path)) from None
    return parse(text, str(path), seed)


# what the notes and other libraries call our functions: a hint, never a silent rename
_ALIASES = {"trace": "tr", "ln": "log", "logistic": "sigmoid", "sigma": "sigmoid", "determinant": "det",
            "log_det": "logdet", "logsoftmax": "log_softmax", "lse": "logsumexp", "transpose": "T",
            "inverse": "inv", "frobenius": "norm", "l2": "norm", "xent": "cross_entropy",
            "crossentropy": "cross_entropy", "identity": "eye", "one_hot": "onehot", "leakyrelu": "leaky_relu"}


def _not_utf8(data: bytes, e: UnicodeDecodeError, source: str) -> GradcheckError:
    """A byte that is not UTF-8, placed at line:col of the text as an editor shows it (U+FFFD for bad bytes)."""
    from gradcheck_cli.errors import UsageError

    before = data[:e.start].decode("utf-8-sig", errors="replace")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    span = Span(len(before), len(before) + 1, line, col, source)
    return UsageError(f"the file is not UTF-8: byte 0x{data[e.start]:02x} cannot be decoded", span,
                      "save the file as UTF-8")


_DECIMAL = re.compile(r"(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?")


def exact_number(text: str, value: float) -> Any:
    """A number token as a sympy number, built from its digits (never sympified: the text is data).

    `0.1` → 1/10 and `2` → 2 exactly; a literal with more digits than float64 keeps
    (a 100,000-digit decimal) or written with an exponent becomes the float64 it
    evaluates to, so the cost stays linear in the token and numbers stay small.
    """
    m = _DECIMAL.fullmatch(text)
    if m is None:
        return sp.Float(value)
    whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3) or 0)
    digits = (whole + frac).lstrip("0")
    if len(digits) > 17 or abs(exp) > 30:
        return sp.Float(value)
    shift = exp - len(frac)  # 1e-5 is exactly 1/100000, as the file wrote it
    return Fraction(int(digits or "0") * 10 ** max(shift, 0), 10 ** max(-shift, 0))


def _suggest(name: str, options: list[str]) -> str | None:
    """A did-you-mean hint: the same name in other case (ReLU), a known alias (trace), a near spelling."""
    folded = {o.lower(): o for o in options}
    key = name.lower()
    if key in folded and folded[key] != name:
        return f"did you mean `{folded[key]}`?"
    alias = _ALIASES.get(key) or _ALIASES.get(key.replace("_", ""))
    if alias == "T":
        return "a transpose is written `x^T` or `xᵀ`"
    if alias is not None and alias in options:
        return f"did you mean `{alias}`?"
    close = difflib.get_close_matches(name, options, n=3)
    close.sort(key=lambda c: sorted(c) != sorted(name))  # a swap of letters first: tahn → tanh, not tan
    return f"did you mean `{close[0]}`?" if close else None


class Lowering:
    def __init__(self, file: ast.File, seed: int):
        self.file = file
        self.seed = seed
        self.env = DimEnv()
        self.vars: dict[str, VarInfo] = {}
        self.functions: dict[str, str | None] = {}
        self.values: dict[str, Expr] = {}
        self.value_spans: dict[str, Span] = {}
        self.used: set[str] = set()  # names used by assignments
        self.claim_used: set[str] = set()  # names used by claims' expressions
        self.literal_sizes: set[int] = set()
        self.warnings: list[Warning_] = []

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
            for s in stmts:
                if isinstance(s, ast.Assign):
                    self._assign(s)
                    assigns.append(s)
                elif isinstance(s, ast.Claim):
                    claims.append(s)
                    if s.value is not None:
                        self._note_uses(s.value, self.claim_used)
                elif isinstance(s, ast.Output):
                    output_stmt = s
            output, note = self._find_output(output_stmt, assigns, claims)
            graph = Graph(self.file.source, self.file.text, self.env, self.vars, self.functions,
                          self.values, self.value_spans, output, seed=self.seed, output_note=note)
            for c in claims:
                graph.claims.append(self._claim(c))
        graph.warnings = self.warnings
        return graph

    def _err(self, cls: type[GradcheckError], msg: str, span: Span, hint: str | None = None) -> GradcheckError:
        return cls(msg, span, hint)

    # ------------------------------------------------------------ dims and declarations
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
            elif isinstance(s, ast.Decl):
                for d in s.dims:
                    self._dim_names(d, names)
        self.env.given = set(given)
        self.env.sizes = dict(given)
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
        name = s.name
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

    def _function_target(self, name: str) -> str | None:
        c = canonical(name)
        if c:
            return c
        if name in self.functions:
            return self.functions[name] or name
        return None

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
                                _suggest(stmt.name, known))
            return stmt.name, None
        names = [a.name for a in assigns if a.name in self.values and a.name not in self.used]
        candidates = [n for n in names if n not in self.claim_used]
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
        spec = ClaimSpec(c.num, c.den, c.span, text=self.file.text[c.span.start:c.span.end])
        if c.error is not None:
            spec.error = c.error
            return spec
        try:
            if c.num not in self.values and c.num not in self.vars:
                raise self._err(NameError_, f"unknown name {c.num} in d{c.num}/d{c.den}", c.head_span,
                                _suggest(c.num, list(self.values)))
            if c.den not in self.vars and c.den not in self.values:
                raise self._err(NameError_, f"unknown name {c.den} in d{c.num}/d{c.den}", c.head_span,
                                _suggest(c.den, list(self.vars) + list(self.values)))
            spec.expr = self.expr(c.value)
        except GradcheckError as e:
            spec.error = e
        return spec

    # ------------------------------------------------------------ expressions
    def expr(self, node: ast.Node) -> Expr:
        with alg.literal():
            e = self._expr(node)
        if e.span is None:
            e.span = node.span
        return e

    def _shape_op(self, node: ast.Node, build: Callable[[], Expr]) -> Expr:
        try:
            return build()
        except ShapeMismatch as m:
            raise ShapeError(m.message, node.span, m.hint) from None

    def _expr(self, node: ast.Node) -> Expr:
        if isinstance(node, ast.Num):
            return alg.const(exact_number(node.text, node.value), written=node.text)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            fl, fr = self._sized_by_context(node.left), self._sized_by_context(node.right)
            if fl and fr:
                raise self._err(ShapeError, f"the size of {self._text(node.left)} is not known here", node.span,
                                "write eye(n) or ones(n)")
            if fl or fr:
                a = b = None
                if fr:
                    a = self.expr(node.left)
                    b = self._context_const(node.right, fr, a.shape, node.op, left=False)
                else:
                    b = self.expr(node.right)
                    a = self._context_const(node.left, fl, b.shape, node.op, left=True)
            else:
                a, b = self.expr(node.left), self.expr(node.right)
            build: dict[str, Callable[[], Expr]] = {
                "+": lambda: alg.add(a, b), "-": lambda: alg.sub(a, b),
                "*": lambda: alg.mul(a, b), "/": lambda: alg.div(a, b),
                "@": lambda: alg.matmul(a, b, simplify_diag=False),
                "juxt": lambda: alg.matmul(a, b, simplify_diag=False),
            }
            return self._shape_op(node, build[node.op])
        if isinstance(node, ast.Neg):
            return alg.neg(self.expr(node.operand))
        if isinstance(node, (ast.Transpose, ast.Power, ast.Slice)):
            pushed = self._postfix_of_product(node)
            if pushed is not None:
                try:
                    return self.expr(pushed)
                except ShapeError as e:
                    if e.hint is None and e.span == pushed.span:
                        e.hint = "a postfix binds tighter than the product: `W (x)ᵀ` is W (xᵀ); write `(W x)ᵀ`"
                    raise
        if isinstance(node, ast.Transpose):
            return alg.T(self.expr(node.operand))
        if isinstance(node, ast.Slice):
            return self._slice(node, self.expr(node.operand), node.start, node.stop)
        if isinstance(node, ast.HConcat):
            parts = [alg.T(self.expr(i)) for i in node.items]  # [A, B] = [Aᵀ; Bᵀ]ᵀ
            return alg.T(self._shape_op(node, lambda: alg.concat(*parts)))
        if isinstance(node, ast.Power):
            a = self.expr(node.operand)
            k = node.exponent
            if k == -1 and not node.paren and not is_scalar(a.shape) and a.shape[0] != Dim.of(1) \
                    and a.shape[1] != Dim.of(1):
                return self._shape_op(node, lambda: alg.inv(a))
            kk = Fraction(int(k)) if float(k).is_integer() else exact_number(repr(float(k)), k)
            return alg.pow_(a, kk)
        if isinstance(node, ast.Concat):
            parts = [self.expr(i) for i in node.items]
            return self._shape_op(node, lambda: alg.concat(*parts))
        if isinstance(node, ast.Call):
            return self._call(node)
        raise AssertionError(f"unknown AST node {node!r}")

    def _text(self, node: ast.Node) -> str:
        return self.file.text[node.span.start:node.span.end]

    def _sized_by_context(self, node: ast.Node) -> str | None:
        """I and 𝟏 as derive prints them (`[uᵀ] · [I]`, `𝟏ᵀ x`): their size comes from the other operand."""
        t, neg = False, False
        while isinstance(node, (ast.Concat, ast.Neg)) and not (isinstance(node, ast.Concat) and len(node.items) != 1):
            if isinstance(node, ast.Neg):  # −𝟏
                node, neg = node.operand, not neg
            else:  # [I], a chain's bracketed link
                node = node.items[0]  # type: ignore[union-attr]
        if isinstance(node, ast.Transpose):
            node, t = node.operand, True
        if isinstance(node, ast.Name) and node.id in ("I", "𝟏") and node.id not in self.values \
                and node.id not in self.vars and node.id not in self.env.sizes:
            return ("-" if neg else "") + node.id + ("T" if t else "")
        return None

    def _context_const(self, node: ast.Node, kind: str, other: Shape, op: str, left: bool) -> Expr:
        if kind.startswith("-"):
            return alg.neg(self._context_const(node, kind[1:], other, op, left))
        rows, cols = other
        if op in ("@", "juxt"):
            n = rows if left else cols  # the inner size
        elif is_scalar(other):
            raise self._err(ShapeError, f"the size of {self._text(node)} is not known here", node.span,
                            "write eye(n) or ones(n)")
        elif kind.startswith("I") and not self.env.same(rows, cols):
            raise self._err(ShapeError, f"I cannot be added to a {shape_str(other)} value: it is square", node.span,
                            "write eye(n)")
        else:
            n = rows
        if kind.startswith("I"):
            return alg.eye(n)
        if op in ("@", "juxt") and kind == "𝟏" and left:  # 𝟏 pᵀ: a column of ones of unknown length
            raise self._err(ShapeError, "the length of 𝟏 is not known here", node.span, "write ones(n)")
        if op in ("@", "juxt") and kind == "𝟏T" and not left:
            raise self._err(ShapeError, "the length of 𝟏ᵀ is not known here", node.span, "write ones(n)^T")
        e = alg.ones(n, Dim.of(1))
        return alg.T(e) if kind.endswith("T") else e

    def _name(self, node: ast.Node) -> Expr:
        assert isinstance(node, ast.Name)
        n = node.id
        if n in self.values:
            return self.values[n]
        if n in self.vars:
            return self.vars[n].expr
        if n in self.env.sizes:
            return alg.const(alg.dim_symbol(Dim.of(n)))
        if n in ("I", "𝟏"):
            raise self._err(ShapeError, f"the size of {n} is not known here", node.span,
                            "write eye(n)" if n == "I" else "write ones(n)")
        if n in self.functions or canonical(n) or n in VECTOR_FUNCS:
            raise self._err(NameError_, f"{n} is a function, not a value", node.span, f"call it: `{n}(z)`")
        # the slide's juxtaposition: `Wx` is W x when W and x are declared single letters
        if len(n) > 1 and len(set(n)) == len(n) and all(ch in self.values or ch in self.vars for ch in n):
            out = self._name(ast.Name(node.span, n[0]))
            for ch in n[1:]:
                nxt = self._name(ast.Name(node.span, ch))
                out = self._shape_op(node, lambda o=out, x=nxt: alg.matmul(o, x, simplify_diag=False))
            return out
        known = list(self.values) + list(self.vars) + list(self.env.sizes)
        raise self._err(NameError_, f"unknown name {n}", node.span, _suggest(n, known) or
                        f"declare it first, e.g. `{n} : n x m` or `{n} : m`")

    def _call(self, node: ast.Call) -> Expr:
        f = node.func
        if f in self.env.sizes and f not in self.functions and f not in self.values and f not in self.vars \
                and len(node.args) == 1 and not node.kwargs and not node.primes:
            # N (a − b), as derive prints a size times a bracket: a product, not a call
            return self.expr(ast.BinOp(node.span, "juxt", ast.Name(node.func_span, f), node.args[0]))
        # a call of a value is a product: W(x + b)
        if self._is_value_call(node) and f in ("I", "𝟏") and f not in self.values and f not in self.vars:
            return self.expr(ast.BinOp(node.span, "juxt", ast.Name(node.func_span, f), node.args[0]))
        if self._is_value_call(node):
            left = self._name(ast.Name(node.func_span, f))
            if node.primes:
                left = alg.T(left)
            right = self.expr(node.args[0])
            return self._shape_op(node, lambda: alg.matmul(left, right, simplify_diag=False))
        target = self._function_target(f)
        if target is not None:
            return self._elementwise(node, target)
        if f in VECTOR_FUNCS:
            if node.primes:
                raise self._err(NameError_, f"{f}' is not defined: only elementwise functions have f'",
                                node.func_span)
            return self._vector_call(node)
        options = list(ELEMENTWISE) + list(VECTOR_FUNCS) + list(self.functions)
        raise self._err(NameError_, f"unknown function {f}", node.func_span,
                        _suggest(f, options) or "declare it with `f : function`")

    def _arity(self, node: ast.Node, args: tuple[ast.Node, ...], lo: int, hi: int, what: str) -> None:
        if not lo <= len(args) <= hi:
            n = f"{lo}" if lo == hi else f"{lo} or {hi}"
            raise self._err(ShapeError, f"{what} takes {n} argument{'s' if hi > 1 else ''}, got {len(args)}",
                            node.span)

    def _elementwise(self, node: ast.Call, name: str) -> Expr:
        nparams = ELEMENTWISE[name].nparams if name in ELEMENTWISE else 0
        self._arity(node, node.args, 1, 1 + nparams, node.func)
        if node.kwargs:
            raise self._err(ShapeError, f"{node.func} takes no keyword arguments", node.span)
        a = self.expr(node.args[0])
        alpha = None
        if len(node.args) > 1:
            p = self.expr(node.args[1])
            if p.op != "const":
                raise self._err(ShapeError, f"the slope of {node.func} must be a number", node.args[1].span)
            alpha = p.param("value")
        return alg.fn(name, a, node.primes, alpha) if node.primes else alg.fn(name, a, 0, alpha)

    def _kw(self, node: ast.Call, allowed: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in node.kwargs:
            if k not in allowed:
                raise self._err(ShapeError, f"{node.func} has no argument {k}=", v.span,
                                f"it takes {', '.join(a + '=' for a in allowed)}" if allowed else None)
            if k == "axis":
                if not (isinstance(v, ast.Num) and v.value in (0, 1)):
                    raise self._err(ShapeError, "axis must be 0 (down the rows) or 1 (across the columns)", v.span)
                out[k] = int(v.value)
        return out

    def _warn_elementwise_power(self, node: ast.Node, a: Expr) -> None:
        """`tr(X^2)`: ^2 is the elementwise square (DSL.md), but the Cookbook's tr(X²) is the
        matrix square X X; say which one was read and how to write the other."""
        if not (isinstance(node, ast.Power) and not node.paren and float(node.exponent).is_integer()
                and node.exponent >= 2):
            return
        base = self.expr(node.operand)
        r, c = base.shape
        if r.is_one or c.is_one or not self.env.same(r, c):
            return  # a vector or a non-square matrix has no matrix power: nothing to confuse
        k = int(node.exponent)
        text = self.file.text[node.operand.span.start:node.operand.span.end]
        square = " @ ".join([text if len(text) == 1 or text.isidentifier() else f"({text})"] * k)
        self.warnings.append(Warning_(
            f"tr({text}^{k}) is read as the trace of the elementwise power {text}^{k} ({text} ∘ … ∘ {text})",
            node.span, f"for the matrix power (as in the Matrix Cookbook) write tr({square})"))

    def _dim_arg(self, node: ast.Node) -> Dim:
        if isinstance(node, ast.Num) and float(node.value).is_integer() and node.value >= 1:
            return Dim.of(int(node.value))
        if isinstance(node, ast.Num) and node.value == 0:
            return Dim()
        if isinstance(node, ast.Name) and node.id in self.env.sizes:
            return Dim.of(node.id)
        if isinstance(node, ast.BinOp) and node.op in ("+", "-"):
            a, b = self._dim_arg(node.left), self._dim_arg(node.right)
            return a + b if node.op == "+" else a - b
        if isinstance(node, ast.BinOp) and node.op in ("*", "juxt") and isinstance(node.left, ast.Num):
            return self._dim_arg(node.right).scale(int(node.left.value))
        raise self._err(ShapeError, "expected a size: a dimension name or a whole number", node.span)

    def _slice(self, node: ast.Node, a: Expr, lo: ast.Node, hi: ast.Node) -> Expr:
        """rows(X, i, j) and X[i:j]: numpy's rows i..j-1."""
        start, stop = self._dim_arg(lo), self._dim_arg(hi)
        if self._below(start, 0) or self._below(stop - start, 1) or self._below(a.shape[0] - stop, 0):
            text = self.file.text[node.span.start:node.span.end]
            raise self._err(ShapeError, f"{text} is empty or out of range: its argument has {a.shape[0]} rows",
                            node.span, "rows(X, i, j) is numpy's X[i:j]: 0 ≤ i < j ≤ the number of rows")
        return self._shape_op(node, lambda: alg.rows(a, start, stop))

    def _postfix_of_product(self, node: ast.Node) -> ast.Node | None:
        """`v (y - p)^T` is v ((y - p)^T): the postfix binds tighter than the product.

        The grammar reads `v (…)` as a call; when v is a value that call is a product, and a
        postfix written after it belongs to its argument. None when nothing is to move.
        """
        chain: list[ast.Node] = []
        inner = node
        while isinstance(inner, (ast.Transpose, ast.Power, ast.Slice)):
            chain.append(inner)
            inner = inner.operand
        if not (isinstance(inner, ast.Call) and self._is_value_call(inner)):
            return None
        if any(post.span.start != inner.span.start for post in chain):
            return None  # `(x (g))ᵀ`: the bracket closes the product first; the inner postfix moves alone
        if isinstance(node, ast.Power) and node.operand is inner and inner.func_span.end < inner.span.end \
                and self.file.text[inner.func_span.end:inner.func_span.end + 1] in "²³⁻^*":
            # x²(y) of a value x (the grammar's tanh²(c)): the product x² y
            left_p = replace(node, operand=ast.Name(inner.func_span, inner.func))
            return ast.BinOp(node.span, "juxt", left_p, inner.args[0])
        arg = inner.args[0]
        for post in reversed(chain):
            arg = replace(post, operand=arg)
        left: ast.Node = ast.Name(inner.func_span, inner.func)
        if inner.primes:
            left = ast.Transpose(inner.func_span, left)
        return ast.BinOp(node.span, "juxt", left, arg)

    def _is_value_call(self, node: ast.Call) -> bool:
        f = node.func
        free = f in ("I", "𝟏") and f not in self.functions  # I (x + y): the identity, sized by x + y
        return (f in self.values or f in self.vars or free) and node.primes <= 1 and len(node.args) == 1 \
            and not node.kwargs

    def _below(self, d: Dim, k: int) -> bool:
        """d < k for every size the free dims may take (each ≥ 1; fixed ones as given)."""
        if any(c > 0 and s not in self.env.given for s, c in d.terms):
            return False  # grows with a free dim: not certain
        return d.const + sum(c * (self.env.sizes[s] if s in self.env.given else 1) for s, c in d.terms) < k

    def _vector_call(self, node: ast.Call) -> Expr:
        f, args = node.func, node.args
        if f in ("ones", "zeros", "eye"):
            self._arity(node, args, 1, 2, f)
            dims = [self._dim_arg(a) for a in args]
            if f == "eye":
                return alg.eye(dims[0])
            cols = dims[1] if len(dims) > 1 else Dim.of(1)
            return alg.ones(dims[0], cols) if f == "ones" else alg.zeros(dims[0], cols)
        if f == "rows":
            self._arity(node, args, 3, 3, f)
            return self._slice(node, self.expr(args[0]), args[1], args[2])
        if f == "concat":
            parts = [self.expr(a) for a in args]
            return self._shape_op(node, lambda: alg.concat(*parts))
        if f in ("max", "min"):
            self._arity(node, args, 2, 2, f)
            a, b = self.expr(args[0]), self.expr(args[1])
            return self._shape_op(node, lambda: (alg.max_ if f == "max" else alg.min_)(a, b))
        if f == "cross_entropy":
            self._arity(node, args, 2, 2, f)
            y, p = self.expr(args[0]), self.expr(args[1])
            return self._shape_op(node, lambda: alg.neg(alg.matmul(alg.T(y), alg.fn("log", p))))
        kws = self._kw(node, ("axis",) if f in ("sum", "mean", "softmax", "log_softmax", "logsumexp") else ())
        self._arity(node, args, 1, 1, f)
        a = self.expr(args[0])
        axis = kws.get("axis")
        if f == "tr":
            self._warn_elementwise_power(args[0], a)
        if f == "sum":
            return alg.sum_(a, axis)
        if f == "mean":
            r, c = a.shape
            count = alg.dim_symbol(r) * alg.dim_symbol(c) if axis is None else alg.dim_symbol(r if axis == 0 else c)
            return alg.div(alg.sum_(a, axis), alg.const(count))
        if f == "diag":
            if a.shape[1].is_one:
                return alg.diag(a)
            return self._shape_op(node, lambda: alg.diagvec(a))
        if f in ("softmax", "log_softmax", "logsumexp") and is_scalar(a.shape):
            raise self._err(ShapeError, f"{f} needs a vector (or a matrix of columns), got a scalar", node.span)
        build = {"softmax": alg.softmax, "log_softmax": alg.log_softmax, "logsumexp": alg.logsumexp,
                 "norm": alg.norm, "tr": alg.tr, "det": alg.det, "logdet": alg.logdet, "inv": alg.inv}[f]
        if axis == 1:  # over each row (CS231n's batch of rows): the column rule on Sᵀ, transposed back
            return self._shape_op(node, lambda: alg.T(build(alg.T(a))))
        return self._shape_op(node, lambda: build(a))


def pp_graph(g: Graph) -> str:
    """One equation per node, in topological order: `z: n×1 = add(Wx, b)`."""
    from gradcheck_cli.symbolic.printing import to_dsl

    names = g.names()
    label: dict[int, str] = {}
    lines = []
    counter = 0
    for v in g.variables.values():
        q = f" {' '.join(v.qualifiers)}" if v.qualifiers else ""
        lines.append(f"input {v.name}: {shape_str(v.expr.shape)}{q}")
        label[id(v.expr)] = v.name
    for e in g.output.walk():
        if id(e) in label:
            continue
        if e.op == "const":
            label[id(e)] = to_dsl(e)
            continue
        if e.op in ("ones", "zeros", "eye"):
            label[id(e)] = to_dsl(e)
            continue
        if id(e) in names:
            nm = names[id(e)]
        else:
            counter += 1
            nm = f"t{counter}"
        label[id(e)] = nm
        params = [f"{k}={_param_str(v)}" for k, v in e.params]
        args = ", ".join([label[id(a)] for a in e.args] + params)
        lines.append(f"{nm}: {shape_str(e.shape)} = {e.op}({args})")
    lines.append(f"output {label[id(g.output)]}")
    return "\n".join(lines)


def _param_str(v: Any) -> str:
    return str(v) if not isinstance(v, str) else v
