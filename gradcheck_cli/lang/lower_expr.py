"""Lowering of expressions: AST expression → Expr, shapes checked at each node."""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.lang import ast
from gradcheck_cli.symbolic.elementwise import canonical
from gradcheck_cli.errors import NameError_, ShapeError
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.symbolic.ops import ShapeMismatch
from gradcheck_cli.shapes import Dim, Shape, is_scalar, shape_str
from gradcheck_cli.lang.names import VECTOR_FUNCS, exact_number, suggest
from gradcheck_cli.lang.lower_steps import StepLowering

class ExprLowering(StepLowering):
    """The expression walk (a mixin of `Lowering`)."""

    def _function_target(self, name: str) -> str | None:
        c = canonical(name)
        if c:
            return c
        if name in self.functions:
            return self.functions[name] or name
        return None

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
        if isinstance(node, ast.At):
            return self.at(node)
        if isinstance(node, ast.Over):
            return self.over(node)
        if isinstance(node, ast.BinOp):
            step = self.as_step(node)
            return self.at(step) if step is not None else self._binop(node)
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

    def _binop(self, node: ast.BinOp) -> Expr:
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
        if n in self.seq_names:
            raise self._err(NameError_, f"{n} is a sequence: name one of its steps", node.span,
                            f"write {n}[t], {n}[t-1] or {n}[0]")
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
        raise self._err(NameError_, f"unknown name {n}", node.span, suggest(n, known) or
                        f"declare it first, e.g. `{n} : n x m` or `{n} : m`")
