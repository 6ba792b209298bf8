"""Lowering of calls: elementwise functions, vector functions, slices, products written as calls."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.lang import ast
from gradcheck_cli.symbolic.elementwise import ELEMENTWISE
from gradcheck_cli.errors import GradcheckError, NameError_, ShapeError, Span, Warning_
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.shapes import Dim, is_scalar
from gradcheck_cli.lang.names import VECTOR_FUNCS, suggest

class CallLowering:
    """The calls of the expression walk (a mixin of `Lowering`; its state lives there)."""

    def _err(self, cls: type[GradcheckError], msg: str, span: Span, hint: str | None = None) -> GradcheckError:
        return cls(msg, span, hint)

    # ------------------------------------------------------------ dims and declarations
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
                        suggest(f, options) or "declare it with `f : function`")

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
