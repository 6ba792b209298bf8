"""The op table: each op owns its shape rule, numpy forward, sympy forward and VJP.

Conventions (the README states them too):

- Every value is a matrix; a column vector is m×1, a scalar 1×1.
- The gradient of a scalar s with respect to X has **X's shape**
  (∂s/∂W = δ xᵀ, ∂s/∂x = Wᵀ δ). A VJP rule maps the output cotangent g (the
  output's shape) to one cotangent per input, each of that input's shape.
- Jacobians are **numerator layout** (∂y/∂x is dim(y) × dim(x)); `jac` gives
  an op's local Jacobian when input and output are vectors, so the Jacobian
  form of y = f(Wx + b) reads diag(f′(z)) W.

Rules build their results with the smart constructors of `algebra`, which
simplify as they build (no ᵀᵀ, no 1·x, diag(a) b → a ∘ b), so a derivation is
finite and readable by construction.

`numpy(ctx, *values, **params)` works on stacks (…, r, c) as well as single
matrices, so the checker can evaluate many perturbed inputs at once, and on
complex arrays for the complex-step method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic.elementwise import ELEMENTWISE, numpy_fn
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.shapes import SCALAR, Dim, Shape, broadcast, env, is_scalar, shape_str
from gradcheck_cli.symbolic.printing import Printer, latex_symbol, to_dsl
from gradcheck_cli.symbolic.table import ATOM, OPS, POSTFIX, PROD, SUM, UNARY, OpRule, ShapeMismatch, register

# --------------------------------------------------------------------------
# shape helpers


def describe(e: Expr) -> str:
    """An operand in the user's words: `W (n×m)` or `W x + b (n×1)`."""
    text = to_dsl(e, env().names)
    if len(text) > 30:
        text = text[:27] + "…"
    return f"{text} ({shape_str(e.shape)})"


def _operand(e: Expr) -> str:
    """e as a factor of a product, parenthesised when it is not a single term."""
    return Printer("dsl", env().names).wrap(e, POSTFIX)


def broadcast_shape(a: Shape, b: Shape, what: str, ea: Expr, eb: Expr) -> Shape:
    """`shapes.broadcast`, or a ShapeMismatch in the user's words."""
    out = broadcast(a, b)
    if isinstance(out, int):
        raise ShapeMismatch(f"cannot {what} {describe(ea)} and {describe(eb)}: "
                            f"{'rows' if out == 0 else 'columns'} {a[out]} and {b[out]} differ")
    return out


def _bshape(what: str) -> Callable[..., Shape]:
    return lambda args, **p: broadcast_shape(args[0].shape, args[1].shape, what, args[0], args[1])


def _same_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    return args[0].shape


def _square(what: str) -> Callable[[Expr], None]:
    def check(a: Expr) -> None:
        r, c = a.shape
        if not env().same(r, c):
            raise ShapeMismatch(f"{what} needs a square matrix, but {describe(a)} is not square")
    return check


def _matrix_only(args: tuple[Expr, ...], what: str) -> Expr:
    a = args[0]
    _square(what)(a)
    return a


def _vector_jac(fn: Callable[..., "Expr | None"]) -> Callable[..., "Expr | None"]:
    """Only vectors (and scalars) have matrix Jacobians; matrices give 3-tensors."""
    def jac(out: Expr, i: int, *args: Expr) -> Expr | None:
        shapes = [out.shape, args[i].shape]
        if any(not (s[0].is_one or s[1].is_one) for s in shapes):
            return None
        return fn(out, i, *args)
    return jac


def _diag_col(v: Expr) -> Expr:
    """diag(v) of a vector held as a column or as a row: an elementwise op's Jacobian."""
    return alg.diag(v if v.shape[1].is_one else alg.T(v))


def _columns_only(fn: Callable[..., Expr | None]) -> Callable[..., Expr | None]:
    """Column-wise ops (softmax) on a row vector act on 1-entry columns: no Jacobian rule here."""
    def jac(out: Expr, i: int, *args: Expr) -> Expr | None:
        return fn(out, i, *args) if args[i].shape[1].is_one else None
    return jac


def unbroadcast(g: Expr, shape: Shape) -> Expr:
    """Sum the cotangent back over the axes the forward pass broadcast."""
    if g.shape == shape:  # symbolic: with `dims B = 1`, b (n×1) under W X (n×B) still sums over B
        return g
    if is_scalar(shape):
        return alg.sum_(g, None)
    if shape[1].is_one and not g.shape[1].is_one:
        g = alg.sum_(g, 1)
    if shape[0].is_one and not g.shape[0].is_one:
        g = alg.sum_(g, 0)
    return g


# --------------------------------------------------------------------------
# numpy helpers (stacks of matrices: the last two axes are rows, columns)


def _T(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def _softmax_np(z: np.ndarray) -> np.ndarray:
    shift = np.max(np.real(z), axis=-2, keepdims=True)
    e = np.exp(z - shift)
    return e / np.sum(e, axis=-2, keepdims=True)


def _logsumexp_np(z: np.ndarray) -> np.ndarray:
    shift = np.max(np.real(z), axis=-2, keepdims=True)
    return shift + np.log(np.sum(np.exp(z - shift), axis=-2, keepdims=True))


def _logdet_np(a: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(a):
        return np.log(np.linalg.det(a))[..., None, None]
    sign, logabs = np.linalg.slogdet(a)
    return np.where(sign > 0, logabs, np.nan)[..., None, None]


def _concat_np(ctx: Any, *xs: np.ndarray) -> np.ndarray:
    lead = np.broadcast_shapes(*(x.shape[:-2] for x in xs))
    return np.concatenate([np.broadcast_to(x, lead + x.shape[-2:]) for x in xs], axis=-2)


def _diag_np(ctx: Any, v: np.ndarray) -> np.ndarray:
    n = v.shape[-2]
    return v * np.eye(n)  # (…, n, 1) * (n, n) puts v_i on row i; mask to the diagonal


def _diagvec_np(ctx: Any, a: np.ndarray) -> np.ndarray:
    return np.diagonal(a, axis1=-2, axis2=-1)[..., None]


def _sum_np(ctx: Any, x: np.ndarray, axis: int | None = None) -> np.ndarray:
    if axis is None:
        return np.sum(x, axis=(-2, -1), keepdims=True)
    return np.sum(x, axis=-2 if axis == 0 else -1, keepdims=True)


def _fn_np(ctx: Any, x: np.ndarray, name: str, order: int = 0, alpha: Any = None) -> np.ndarray:
    real = name if name in ELEMENTWISE else ctx.resolve_function(name)
    if ELEMENTWISE[real].nparams:
        return numpy_fn(real, order)(x, float(alpha if alpha is not None else 0.01))
    return numpy_fn(real, order)(x)


def _fn_sym(x: Any, name: str, order: int = 0, alpha: Any = None, bind: Any = None) -> Any:
    from gradcheck_cli.symbolic.elementwise import A, T, derivative_sym

    real = name if name in ELEMENTWISE else (bind or {}).get(name, name)
    if real not in ELEMENTWISE:  # a generic f stays a sympy Function
        f = sp.Function(name)
        return x.applyfunc(lambda t: sp.diff(f(T), T, order).subs(T, t) if order else f(t))
    expr = derivative_sym(real, order)
    subs = {A: sp.sympify(alpha) if alpha is not None else sp.Rational(1, 100)}
    return x.applyfunc(lambda t: expr.subs({T: t, **subs}))


def _sympy_matmul(a: Any, b: Any) -> Any:
    return a * b


def _sym_bcast(a: Any, b: Any) -> tuple[Any, Any]:
    """Explicit broadcasting for the exact (entry by entry) sympy evaluator."""
    ra, ca = a.shape
    rb, cb = b.shape
    r, c = max(ra, rb), max(ca, cb)
    A_ = sp.Matrix(r, c, lambda i, j: a[i if ra > 1 else 0, j if ca > 1 else 0])
    B_ = sp.Matrix(r, c, lambda i, j: b[i if rb > 1 else 0, j if cb > 1 else 0])
    return A_, B_


def _sym_elementwise(f: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def run(a: Any, b: Any) -> Any:
        A_, B_ = _sym_bcast(a, b)
        return sp.Matrix(A_.shape[0], A_.shape[1], lambda i, j: f(A_[i, j], B_[i, j]))
    return run


def _sym_softmax(z: Any) -> Any:
    out = sp.zeros(*z.shape)
    for j in range(z.shape[1]):
        col = [sp.exp(z[i, j]) for i in range(z.shape[0])]
        s = sum(col)
        for i in range(z.shape[0]):
            out[i, j] = col[i] / s
    return out


def _sym_logsumexp(z: Any) -> Any:
    return sp.Matrix(1, z.shape[1], lambda i, j: sp.log(sum(sp.exp(z[k, j]) for k in range(z.shape[0]))))


def _sym_sum(x: Any, axis: int | None = None) -> Any:
    if axis is None:
        return sp.Matrix([[sum(x)]])
    if axis == 0:
        return sp.Matrix(1, x.shape[1], lambda i, j: sum(x[k, j] for k in range(x.shape[0])))
    return sp.Matrix(x.shape[0], 1, lambda i, j: sum(x[i, k] for k in range(x.shape[1])))


# --------------------------------------------------------------------------
# leaves


def _leaf_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    return (p["rows"], p["cols"]) if "rows" in p else SCALAR


def _no_vjp(g: Expr, out: Expr) -> tuple[()]:
    return ()


register(OpRule(
    "var", 0, shape=lambda args, **p: p["shape"],
    numpy=lambda ctx, **p: ctx.value_of(p["name"]),
    sympy=lambda **p: None, vjp=_no_vjp,
    show={"dsl": lambda e: e.param("name"), "text": lambda e: e.param("name"),
          "latex": lambda e: _latex_name(e.param("name"), e.shape)},
    doc="a declared variable: a parameter, or data (const, one-hot)",
))

register(OpRule(
    "const", 0, shape=lambda args, **p: SCALAR,
    numpy=lambda ctx, value: np.array([[ctx.number(value)]]),
    sympy=lambda value: sp.Matrix([[value]]), vjp=_no_vjp,
    doc="a scalar constant; may involve dimension names (`sum(x) / n`)",
))

register(OpRule(
    "ones", 0, shape=_leaf_shape,
    numpy=lambda ctx, rows, cols: np.ones((ctx.size(rows), ctx.size(cols))),
    sympy=lambda rows, cols: None, vjp=_no_vjp,
    doc="ones(n) is n×1, ones(n, m) is n×m",
))

register(OpRule(
    "zeros", 0, shape=_leaf_shape,
    numpy=lambda ctx, rows, cols: np.zeros((ctx.size(rows), ctx.size(cols))),
    sympy=lambda rows, cols: None, vjp=_no_vjp,
    doc="zeros(n) is n×1, zeros(n, m) is n×m",
))

register(OpRule(
    "eye", 0, shape=_leaf_shape,
    numpy=lambda ctx, rows, cols: np.eye(ctx.size(rows)),
    sympy=lambda rows, cols: None, vjp=_no_vjp,
    doc="eye(n): the n×n identity",
))


def _latex_name(name: str, shape: Shape) -> str:
    return latex_symbol(name, shape)


# --------------------------------------------------------------------------
# arithmetic

register(OpRule(
    "add", 2, shape=_bshape("add"),
    numpy=lambda ctx, a, b: a + b,
    sympy=_sym_elementwise(lambda x, y: x + y),
    vjp=lambda g, out, a, b: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)),
    jac=_vector_jac(lambda out, i, a, b: _bcast_identity(out, (a, b)[i])),
    prec=SUM, arg_prec=(SUM, PROD), gate="add distributes",
    show={"dsl": "{0} + {1}", "text": "{0} + {1}", "latex": "{0} + {1}"},
    doc="a + b, broadcasting; the gradient flows unchanged to both (summed over broadcast axes)",
))

register(OpRule(
    "neg", 1, shape=_same_shape,
    numpy=lambda ctx, a: -a, sympy=lambda a: -a,
    vjp=lambda g, out, a: (alg.neg(g),),
    jac=_vector_jac(lambda out, i, a: alg.neg(alg.eye(a.shape[0] if not a.shape[0].is_one else a.shape[1]))),
    prec=UNARY, arg_prec=(UNARY,),
    show={"dsl": "-{0}", "text": "−{0}", "latex": "-{0}"},
    doc="-a; the gradient is negated",
))

register(OpRule(
    "mul", 2, shape=_bshape("multiply elementwise"),
    numpy=lambda ctx, a, b: a * b,
    sympy=_sym_elementwise(lambda x, y: x * y),
    vjp=lambda g, out, a, b: (unbroadcast(alg.mul(g, b), a.shape), unbroadcast(alg.mul(g, a), b.shape)),
    jac=_vector_jac(lambda out, i, a, b: _mul_jac(out, (a, b)[i], (b, a)[i])),
    prec=PROD, arg_prec=(PROD, UNARY), gate="multiply swaps",
    show={"dsl": "{0} * {1}", "text": "{0} ∘ {1}", "latex": r"{0} \odot {1}"},
    doc="a ∘ b (Hadamard, broadcasting; a scalar scales); each input's gradient is g ∘ the other input",
))

register(OpRule(
    "div", 2, shape=_bshape("divide"),
    numpy=lambda ctx, a, b: a / b,
    sympy=_sym_elementwise(lambda x, y: x / y),
    vjp=lambda g, out, a, b: (unbroadcast(alg.div(g, b), a.shape),
                              unbroadcast(alg.neg(alg.div(alg.mul(g, out), b)), b.shape)),
    jac=_vector_jac(lambda out, i, a, b: _mul_jac(out, (a, b)[i], alg.div(alg.const(1), b)) if i == 0
                    else _mul_jac(out, b, alg.neg(alg.div(out, b)))),
    prec=PROD, arg_prec=(PROD, UNARY),
    show={"dsl": "{0} / {1}", "text": "{0} / {1}", "latex": r"{0} \oslash {1}"},
    doc="a / b elementwise; da = g / b, db = −g ∘ (a/b) / b",
))


def _matmul_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    a, b = args
    if not env().same(a.shape[1], b.shape[0]):
        hint = None
        if env().same(b.shape[1], a.shape[0]):
            hint = f"did you mean `{_operand(b)} {_operand(a)}`?"
        elif env().same(a.shape[0], b.shape[0]):
            hint = f"did you mean `{_operand(a)}^T {_operand(b)}`?"
        raise ShapeMismatch(f"cannot multiply {describe(a)} by {describe(b)}: "
                            f"inner sizes {a.shape[1]} and {b.shape[0]} differ", hint)
    return (a.shape[0], b.shape[1])


def _matmul_jac(out: Expr, i: int, a: Expr, b: Expr) -> Expr | None:
    if i == 1 and b.shape[1].is_one:  # A x: ∂/∂x = A
        return a
    if i == 0 and a.shape[0].is_one and b.shape[1].is_one:  # aᵀ-row · x: ∂/∂a = xᵀ
        return alg.T(b)
    if i == 0 and a.shape[0].is_one:  # row · B: out_j = Σ a_k B_kj → ∂/∂a = Bᵀ
        return alg.T(b)
    return None


register(OpRule(
    "matmul", 2, shape=_matmul_shape,
    numpy=lambda ctx, a, b: a @ b, sympy=_sympy_matmul,
    vjp=lambda g, out, a, b: (alg.matmul(g, alg.T(b)), alg.matmul(alg.T(a), g)),
    jac=_vector_jac(_matmul_jac),
    prec=PROD, arg_prec=(PROD, POSTFIX), gate="multiply swaps",
    show={"dsl": "{0} {1}", "text": "{0} {1}", "latex": "{0} {1}"},
    doc="A B (m×k · k×n); dA = G Bᵀ (m×k), dB = Aᵀ G (k×n)",
))

register(OpRule(
    "T", 1, shape=lambda args, **p: (args[0].shape[1], args[0].shape[0]),
    numpy=lambda ctx, a: _T(a), sympy=lambda a: a.T,
    vjp=lambda g, out, a: (alg.T(g),),
    jac=_vector_jac(lambda out, i, a: alg.eye(a.shape[0] if not a.shape[0].is_one else a.shape[1])),
    prec=POSTFIX, arg_prec=(POSTFIX,),
    show={"dsl": "{0}^T", "text": "{0}ᵀ", "latex": r"{0}^\top"},
    doc="Aᵀ; the gradient is transposed back",
))


def _pow_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    k = out.param("k")
    return (alg.mul(g, alg.mul(alg.const(k), alg.pow_(a, k - 1))),)


register(OpRule(
    "pow", 1, shape=_same_shape,
    numpy=lambda ctx, a, k: a ** float(k) if not float(k).is_integer() else a ** int(k),
    sympy=lambda a, k: a.applyfunc(lambda t: t ** k),
    vjp=_pow_vjp,
    jac=_vector_jac(lambda out, i, a: _diag_col(alg.mul(alg.const(out.param("k")), alg.pow_(a, out.param("k") - 1)))),
    prec=POSTFIX, arg_prec=(ATOM,),
    show={"dsl": "{0}^{k}", "text": "{0}{k_sup}", "latex": "{0}^{{{k}}}"},
    doc="a^k elementwise; da = g ∘ k a^(k−1)",
))


def _fn_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    return args[0].shape


MUTATION: list[str | None] = [None]  # "f_for_fprime": the classic slip, derived to diagnose it


def _fn_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    if MUTATION[-1] == "f_for_fprime":
        return (alg.mul(g, out),)
    return (alg.mul(g, alg.fn_derivative(out)),)


register(OpRule(
    "fn", 1, shape=_fn_shape, numpy=_fn_np, sympy=_fn_sym, vjp=_fn_vjp,
    jac=_vector_jac(lambda out, i, a: _diag_col(alg.fn_derivative(out))),
    prec=ATOM, doc="f(z) elementwise (tanh, σ, relu, a generic f, …); dz = g ∘ f′(z)",
))


def _max_vjp(g: Expr, out: Expr, a: Expr, b: Expr) -> tuple[Expr, Expr]:
    # max routes: the gradient goes to whichever input was larger. At a tie it is split,
    # ½ to each (torch.maximum and jax.numpy.maximum do the same): step(0) = ½, so
    # max(x, x) = x gets 1 and max(x, |x|) gets the right slope where x > 0. A tie is a
    # kink for the numeric check unless both sides have the same slope.
    return (unbroadcast(alg.mul(g, alg.fn("step", alg.sub(a, b))), a.shape),
            unbroadcast(alg.mul(g, alg.fn("step", alg.sub(b, a))), b.shape))


def _min_vjp(g: Expr, out: Expr, a: Expr, b: Expr) -> tuple[Expr, Expr]:
    return (unbroadcast(alg.mul(g, alg.fn("step", alg.sub(b, a))), a.shape),
            unbroadcast(alg.mul(g, alg.fn("step", alg.sub(a, b))), b.shape))


def _where_np(pick_a: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    def run(ctx: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a2, b2 = np.broadcast_arrays(a, b)
        return np.where(pick_a(np.real(a2), np.real(b2)), a2, b2)
    return run


register(OpRule(
    "max", 2, shape=_bshape("take the max of"),
    numpy=_where_np(lambda a, b: a > b), sympy=_sym_elementwise(lambda x, y: sp.Max(x, y)), vjp=_max_vjp,
    gate="max routes", analytic=False,
    show={"dsl": "max({0}, {1})", "text": "max({0}, {1})", "latex": r"\max({0}, {1})"},
    doc="elementwise max(a, b); the gradient is routed to the larger input, split ½ each at a tie",
))

register(OpRule(
    "min", 2, shape=_bshape("take the min of"),
    numpy=_where_np(lambda a, b: a < b), sympy=_sym_elementwise(lambda x, y: sp.Min(x, y)), vjp=_min_vjp,
    gate="min routes", analytic=False,
    show={"dsl": "min({0}, {1})", "text": "min({0}, {1})", "latex": r"\min({0}, {1})"},
    doc="elementwise min(a, b); the gradient is routed to the smaller input, split ½ each at a tie",
))


# --------------------------------------------------------------------------
# structure: stacking, slicing, sums


def _concat_shape(args: tuple[Expr, ...], **p: Any) -> Shape:
    cols = args[0].shape[1]
    rows = args[0].shape[0]
    for a in args[1:]:
        if not env().same(a.shape[1], cols):
            raise ShapeMismatch(f"cannot stack {describe(args[0])} on {describe(a)}: "
                                f"column counts {cols} and {a.shape[1]} differ")
        rows = rows + a.shape[0]
    return (rows, cols)


def _concat_vjp(g: Expr, out: Expr, *args: Expr) -> tuple[Expr, ...]:
    parts = []
    start = Dim()
    for a in args:
        stop = start + a.shape[0]
        parts.append(alg.rows(g, start, stop))
        start = stop
    return tuple(parts)


register(OpRule(
    "concat", None, shape=_concat_shape, numpy=_concat_np,
    sympy=lambda *ms: sp.Matrix.vstack(*ms), vjp=_concat_vjp,
    show={"dsl": lambda e, parts: "[" + "; ".join(parts) + "]",
          "text": lambda e, parts: "[" + "; ".join(parts) + "]",
          "latex": lambda e, parts: r"\begin{bmatrix} " + r" \\ ".join(parts) + r" \end{bmatrix}"},
    doc="[a; b] stacks vertically; the gradient is split back into the blocks",
))


def _rows_shape(args: tuple[Expr, ...], start: Dim, stop: Dim) -> Shape:
    return (stop - start, args[0].shape[1])


def _rows_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    start, stop = out.param("start"), out.param("stop")
    total = a.shape[0]
    blocks = []
    if start != Dim():
        blocks.append(alg.zeros(start, a.shape[1]))
    blocks.append(g)
    if stop != total:
        blocks.append(alg.zeros(total - stop, a.shape[1]))
    return (alg.concat(*blocks) if len(blocks) > 1 else g,)


register(OpRule(
    "rows", 1, shape=_rows_shape,
    numpy=lambda ctx, a, start, stop: a[..., ctx.size(start):ctx.size(stop), :],
    sympy=lambda a, start, stop: None, vjp=_rows_vjp,
    show={"dsl": lambda e, parts: f"rows({parts[0]}, {e.param('start').dsl()}, {e.param('stop').dsl()})",
          "text": lambda e, parts: f"{parts[0]}[{e.param('start')}:{e.param('stop')}]",
          "latex": lambda e, parts: f"{parts[0]}_{{{e.param('start')}:{e.param('stop')}}}"},
    doc="rows(X, i, j): rows i … j−1 (0-based, numpy's X[i:j]); the gradient is padded with zeros",
))


def _sum_shape(args: tuple[Expr, ...], axis: int | None = None) -> Shape:
    r, c = args[0].shape
    from gradcheck_cli.shapes import ONE
    return SCALAR if axis is None else (ONE, c) if axis == 0 else (r, ONE)


def _sum_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    axis = out.param("axis")
    r, c = a.shape
    if axis is None:
        return (alg.mul(g, alg.ones(r, c)),)
    if axis == 0:  # g is 1×c: copy it down the rows
        return (alg.matmul(alg.ones(r, Dim.of(1)), g),)
    return (alg.matmul(g, alg.T(alg.ones(c, Dim.of(1)))),)


def _sum_show(style: str) -> Callable[..., str]:
    def show(e: Expr, parts: list[str]) -> str:
        axis = e.param("axis")
        if style == "latex":
            inner = parts[0] if axis is None else parts[0] + r", \text{axis}=" + str(axis)
            return r"\operatorname{sum}(" + inner + ")"
        inner = parts[0] if axis is None else f"{parts[0]}, axis={axis}"
        return f"sum({inner})"
    return show


register(OpRule(
    "sum", 1, shape=_sum_shape,
    numpy=_sum_np, sympy=_sym_sum, vjp=_sum_vjp,
    jac=_vector_jac(lambda out, i, a: alg.T(alg.ones(a.shape[0], Dim.of(1))) if a.shape[1].is_one else None),
    gate="sum copies",
    show={s: _sum_show(s) for s in ("dsl", "text", "latex")},
    doc="sum(X), sum(X, axis=0) (1×c), sum(X, axis=1) (r×1); the gradient is copied back over the summed axis",
))


# --------------------------------------------------------------------------
# vector functions (column-wise on matrices, as softmax over a batch of columns)


def _softmax_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    # p ∘ (g − pᵀg): the Jacobian diag(p) − p pᵀ applied to g
    return (alg.mul(out, alg.sub(g, alg.sum_(alg.mul(out, g), 0))),)


def _log_softmax_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    return (alg.sub(g, alg.mul(alg.softmax(a), alg.sum_(g, 0))),)


register(OpRule(
    "softmax", 1, shape=_same_shape,
    numpy=lambda ctx, z: _softmax_np(z), sympy=_sym_softmax, vjp=_softmax_vjp,
    jac=_vector_jac(_columns_only(lambda out, i, a: alg.sub(alg.diag(out), alg.matmul(out, alg.T(out))))),
    doc="softmax over each column; dz = p ∘ (g − pᵀ g)",
))

register(OpRule(
    "log_softmax", 1, shape=_same_shape,
    numpy=lambda ctx, z: z - _logsumexp_np(z),
    sympy=lambda z: z - sp.Matrix.vstack(*([_sym_logsumexp(z)] * z.shape[0])),
    vjp=_log_softmax_vjp,
    jac=_vector_jac(_columns_only(lambda out, i, a: alg.sub(alg.eye(a.shape[0]), alg.matmul(
        alg.ones(a.shape[0], Dim.of(1)), alg.T(alg.softmax(a)))))),
    doc="log softmax over each column, computed stably; dz = g − softmax(z) sum(g)",
))

register(OpRule(
    "logsumexp", 1, shape=lambda args, **p: (Dim.of(1), args[0].shape[1]),
    numpy=lambda ctx, z: _logsumexp_np(z), sympy=_sym_logsumexp,
    vjp=lambda g, out, a: (alg.mul(alg.softmax(a), g),),
    jac=_vector_jac(_columns_only(lambda out, i, a: alg.T(alg.softmax(a)))),
    doc="log Σ exp over each column (1×c); dz = softmax(z) ∘ g",
))


def _norm_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    return (alg.mul(alg.div(g, out), a),)


register(OpRule(
    "norm", 1, shape=lambda args, **p: SCALAR,
    numpy=lambda ctx, a: np.sqrt(np.sum(a * a, axis=(-2, -1), keepdims=True)),
    sympy=lambda a: sp.Matrix([[sp.sqrt(sum(t ** 2 for t in a))]]),
    vjp=_norm_vjp,
    jac=_vector_jac(lambda out, i, a: alg.T(alg.div(a, out)) if a.shape[1].is_one else alg.div(a, out)),
    doc="‖x‖₂ (Frobenius for matrices); dx = g x / ‖x‖",
))


def _square_shape(what: str, out_scalar: bool) -> Callable[..., Shape]:
    def rule(args: tuple[Expr, ...], **p: Any) -> Shape:
        _square(what)(args[0])
        return SCALAR if out_scalar else args[0].shape
    return rule


register(OpRule(
    "tr", 1, shape=_square_shape("tr", True),
    numpy=lambda ctx, a: np.trace(a, axis1=-2, axis2=-1)[..., None, None],
    sympy=lambda a: sp.Matrix([[a.trace()]]),
    vjp=lambda g, out, a: (alg.mul(g, alg.eye(a.shape[0])),),
    doc="tr(A) (square); dA = g I",
))

register(OpRule(
    "det", 1, shape=_square_shape("det", True),
    numpy=lambda ctx, a: np.linalg.det(a)[..., None, None],
    sympy=lambda a: sp.Matrix([[a.det()]]),
    vjp=lambda g, out, a: (alg.mul(alg.mul(g, out), alg.T(alg.inv(a))),),
    doc="det(A) (square); dA = g det(A) A⁻ᵀ",
))

register(OpRule(
    "logdet", 1, shape=_square_shape("logdet", True),
    numpy=lambda ctx, a: _logdet_np(a),
    sympy=lambda a: sp.Matrix([[sp.log(a.det())]]),
    vjp=lambda g, out, a: (alg.mul(g, alg.T(alg.inv(a))),),
    doc="log det(A) (square, det > 0); dA = g A⁻ᵀ",
))


def _inv_vjp(g: Expr, out: Expr, a: Expr) -> tuple[Expr]:
    t = alg.T(out)
    return (alg.neg(alg.matmul(alg.matmul(t, g), t)),)


register(OpRule(
    "inv", 1, shape=_square_shape("inv", False),
    numpy=lambda ctx, a: np.linalg.inv(a), sympy=lambda a: a.inv(), vjp=_inv_vjp,
    prec=POSTFIX, arg_prec=(POSTFIX,),
    show={"dsl": "inv({0})", "text": "{0}⁻¹", "latex": "{0}^{{-1}}"},
    doc="A⁻¹ (square); dA = −A⁻ᵀ G A⁻ᵀ",
))

register(OpRule(
    "diag", 1, shape=lambda args, **p: (args[0].shape[0], args[0].shape[0]),
    numpy=_diag_np, sympy=lambda v: sp.diag(*list(v)),
    vjp=lambda g, out, v: (alg.diagvec(g),),
    doc="diag(v): the diagonal matrix with v on its diagonal; dv = diag(G) (the diagonal of G)",
))

register(OpRule(
    "diagvec", 1, shape=lambda args, **p: (_matrix_only(args, "diag").shape[0], Dim.of(1)),
    numpy=_diagvec_np, sympy=lambda a: sp.Matrix([a[i, i] for i in range(a.shape[0])]),
    vjp=lambda g, out, a: (alg.diag(g),),
    prec=ATOM, arg_prec=(SUM,),  # a call: its argument needs no brackets of its own
    # (str.format: the braces of \operatorname{diag} are doubled, or `{diag}` is a field)
    show={"dsl": "diag({0})", "text": "diag({0})", "latex": r"\operatorname{{diag}}\left({0}\right)"},
    doc="diag(A) of a square matrix: its diagonal as a vector; dA = diag(g)",
))


# --------------------------------------------------------------------------
# Jacobian helpers


def _bcast_identity(out: Expr, a: Expr) -> Expr:
    """∂(a + b)/∂a: the identity, or a column of ones when a scalar was broadcast."""
    n = out.shape[0] if not out.shape[0].is_one else out.shape[1]
    if is_scalar(a.shape) and not is_scalar(out.shape):
        return alg.ones(n, Dim.of(1))
    return alg.eye(n)


def _mul_jac(out: Expr, a: Expr, other: Expr) -> Expr:
    """∂(a ∘ b)/∂a = diag(b); a scalar a gives the column b; a scalar b gives b I."""
    if is_scalar(out.shape):
        return other
    if is_scalar(a.shape):
        return other if other.shape[1].is_one else alg.T(other)
    if is_scalar(other.shape):
        return alg.mul(other, alg.eye(a.shape[0] if not a.shape[0].is_one else a.shape[1]))
    return alg.diag(other if other.shape[1].is_one else alg.T(other))
