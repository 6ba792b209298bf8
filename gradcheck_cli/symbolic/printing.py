"""Print expressions three ways: DSL (parses back), unicode text, LaTeX.

Named intermediates (`z`, `h`, `p`, δ) print by name: `names` maps a node
(by identity; nodes are hash-consed) to the name to show. Parentheses come
from each op's precedence in the op table, so every style agrees on
structure and the DSL form re-parses to the same expression.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Mapping

from gradcheck_cli.deep import deep
from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic import expr as _expr_module
from gradcheck_cli.symbolic.expr import Expr, existing
from gradcheck_cli.lazy import sympy as sp
from gradcheck_cli.symbolic.table import ATOM, OPS, POSTFIX, PROD, SUM, UNARY
from gradcheck_cli.shapes import Dim, is_scalar

STYLES = ("dsl", "text", "latex")
ROW_WISE = ("softmax", "log_softmax", "logsumexp")  # f(S, axis=1) is f(Sᵀ)ᵀ

_SUP = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")
TEXT_FN = {"sigmoid": "σ"}
LATEX_FN = {"sigmoid": r"\sigma", "tanh": r"\tanh", "exp": r"\exp", "log": r"\log", "sin": r"\sin",
            "cos": r"\cos", "tan": r"\tan", "sqrt": r"\operatorname{sqrt}", "det": r"\det"}
GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "sigma",
         "tau", "phi", "psi", "omega", "rho", "kappa", "nu", "xi", "zeta", "chi", "pi"}
_GREEK_UNICODE = {chr(c): n for c, n in zip(range(0x3B1, 0x3CA), [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
    "nu", "xi", "omicron", "pi", "rho", "varsigma", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"])}


def to_dsl(e: Expr, names: Mapping[int, str] | None = None) -> str:
    return Printer("dsl", names).top(e)


def to_text(e: Expr, names: Mapping[int, str] | None = None) -> str:
    return Printer("text", names).top(e)


def to_latex(e: Expr, names: Mapping[int, str] | None = None) -> str:
    return Printer("latex", names).top(e)


def render(e: Expr, style: str, names: Mapping[int, str] | None = None) -> str:
    return Printer(style, names).top(e)


def latex_symbol(name: str, shape: Any = None) -> str:
    """W → \\mathbf{W}, x1 → \\mathbf{x}_{1}, W_hh → \\mathbf{W}_{hh}, delta → \\boldsymbol{\\delta}, lam (scalar) → lam."""
    name = name.translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789"))
    m = re.fullmatch(r"([^\W\d_]+?)_?(\d+|hat)?", name) or re.fullmatch(r"([^\W\d_]+)_([^\W_]+)", name)
    base, sub = (m.group(1), m.group(2)) if m else (name, None)  # W_hh → W with subscript hh
    base = _GREEK_UNICODE.get(base, base)
    vector = shape is None or not is_scalar(shape)
    if base in GREEK or base in _GREEK_UNICODE.values():
        core = f"\\{base}"
        core = f"\\boldsymbol{{{core}}}" if vector else core
    elif len(base) > 1:
        core = f"\\mathbf{{{base}}}" if vector else f"\\mathrm{{{base}}}"
    else:
        core = f"\\mathbf{{{base}}}" if vector else base
    if sub == "hat":
        return f"\\hat{{{core}}}"
    return f"{core}_{{{sub}}}" if sub else core


def dim_text(d: Dim, style: str) -> str:
    return dim_dsl(d) if style == "dsl" else str(d)


def dim_dsl(d: Dim) -> str:
    """A dim as a size the DSL reads back: `n - 2`, `2*d + 3` (never `n + -2`)."""
    items = [(c, s if abs(c) == 1 else f"{abs(c)}*{s}") for s, c in d.terms]
    if d.const or not items:
        items.append((d.const, str(abs(d.const))))
    items.sort(key=lambda it: it[0] < 0)  # positive terms first: `n - 2`, not `-2 + n`
    out = ""
    for c, text in items:
        out = (text if c >= 0 else f"-{text}") if not out else f"{out} {'+' if c >= 0 else '-'} {text}"
    return out


class Printer:
    def __init__(self, style: str, names: Mapping[int, str] | None = None):
        assert style in STYLES, f"unknown style {style!r}"
        self.style = style
        self.names = names or {}
        # id(node) → (text, precedence): the DAG is hash-consed, so a subexpression shared by
        # many terms (a deep net's δ chain) is printed once, not once per path to it
        self._memo: dict[int, tuple[str, int]] = {}

    @deep
    def top(self, e: Expr) -> str:
        return self.go(e)[0]

    def name(self, n: str, e: Expr) -> str:
        if n.endswith("ᵀ") and len(n) > 1:  # the transpose of a file's value, by its name (derive.names)
            base = self.name(n[:-1], e)
            return {"dsl": f"{base}^T", "text": n, "latex": f"{{{base}}}^\\top"}[self.style]
        return latex_symbol(n, e.shape) if self.style == "latex" else n

    def wrap(self, e: Expr, need: int) -> str:
        s, p = self.go(e)
        if p < need:
            return r"\left(" + s + r"\right)" if self.style == "latex" else f"({s})"
        return s

    def go(self, e: Expr) -> tuple[str, int]:
        hit = self._memo.get(id(e))
        if hit is None:
            hit = self._memo[id(e)] = self._go(e)
        return hit

    def _go(self, e: Expr) -> tuple[str, int]:
        named = self.names.get(id(e))
        if named is not None:
            return self.name(named, e), ATOM
        if e.op in ROW_WISE:  # softmax(Sᵀ) inside a gradient is Pᵀ when the file named P = softmax(S, axis=1)
            t = existing("T", (e,), (), (e.shape[1], e.shape[0]))
            if t is not None and id(t) in self.names:
                return self._transposed(self.go(t)[0]), POSTFIX
        method = getattr(self, "p_" + e.op, None)
        if method is not None:
            return method(e)
        rule = OPS[e.op]
        tmpl = rule.show.get(self.style)
        if tmpl is None:  # plain call syntax: name(args)
            fname = e.op if self.style != "latex" else LATEX_FN.get(e.op, rf"\operatorname{{{e.op}}}")
            inner = ", ".join(self.go(a)[0] for a in e.args)
            return f"{fname}({inner})" if self.style != "latex" else fr"{fname}\left({inner}\right)", ATOM
        if callable(tmpl):
            if e.op == "var":
                return self.name(e.param("name"), e), ATOM
            return tmpl(e, [self.go(a)[0] for a in e.args]), ATOM
        parts = []
        for i, a in enumerate(e.args):
            need = rule.arg_prec[i] if i < len(rule.arg_prec) else ATOM
            if a.op == e.op and e.op in ("matmul", "mul") and i == 1 and not self._loose_left(a):
                need = rule.prec  # associative: a (b c) prints as a b c
            elif rule.prec == PROD and i == 0 and a.op != e.op and id(a) not in self.names \
                    and not (a.op == "mul" and is_scalar(a.args[0].shape)):
                need = UNARY  # (u ∘ f′(z)) xᵀ: mixed products get parentheses
            parts.append(self.wrap(a, need))
        if self.style == "dsl" and e.op == "matmul" and _reads_as_call(parts[0], parts[1]):
            return f"{parts[0]} @ {parts[1]}", rule.prec
        return tmpl.format(*parts), rule.prec

    def _loose_left(self, e: Expr) -> bool:
        """Whether the product e starts with a factor printed without brackets below the postfix level
        (`s * M B`, `-A B`): written after another factor (`Aᵀ s * M B`), it would bind to that factor,
        as the product level reads left to right; such a right operand keeps its brackets."""
        node = e
        while node.op == e.op and id(node) not in self.names:
            node = node.args[0]
        return node is not e and id(node) not in self.names and self.go(node)[1] < POSTFIX

    # -- ops with style-specific layouts -------------------------------------

    def p_const(self, e: Expr) -> tuple[str, int]:
        v = e.param("value")
        written = e.param("written")
        if written is not None and self.style != "latex":  # as the file wrote it: 1e-5, 0.00001
            return written, ATOM
        if isinstance(v, Fraction) and (v.denominator == 1 or self.style != "latex"):
            s, prec = _fraction_text(v)
            return (s.replace("-", "−") if self.style == "text" else s), prec  # one minus sign in text
        v = sp.sympify(v)
        if v.is_Rational and not v.is_Integer and (abs(v.q) > 1000 or abs(v.p) > 1000):
            # a decimal from the file (an ε of 0.00001) reads as the file wrote it, not as 1/100000
            v = sp.Float(float(v), 15)
            s = repr(float(v))
            return (s, ATOM) if v >= 0 else (s, UNARY)
        if self.style == "latex":
            s = sp.latex(v)
        elif v.is_Float:  # 1e-5 as written (sstr gives 1.00000000000000e-5)
            s = repr(float(v))
        else:
            s = sp.sstr(v)
            if self.style == "text":  # one minus sign in text: −1/N like the − of a difference
                s = s.replace("**", "^").replace("*", "·").replace("-", "−")
        if v.is_Integer or v.is_Symbol or (v.is_Float and v >= 0):
            return s, (UNARY if v < 0 else ATOM) if v.is_number else ATOM
        if v.is_Float:
            return s, UNARY
        if v.is_Add:
            return s, SUM
        return s, PROD if not (v.is_number and v < 0) else UNARY

    def p_ones(self, e: Expr) -> tuple[str, int]:
        r, c = e.shape
        if self.style == "dsl":
            return (f"ones({dim_dsl(r)})" if c.is_one else f"ones({dim_dsl(r)}, {dim_dsl(c)})"), ATOM
        if self.style == "latex":
            return (r"\mathbf{1}" + (f"_{{{r}}}" if c.is_one else f"_{{{r} \\times {c}}}")), ATOM
        return f"𝟏({r}×{c})", ATOM  # sized: `𝟏 vᵀ` or `a 𝟏` would not say how long 𝟏 is

    def p_zeros(self, e: Expr) -> tuple[str, int]:
        r, c = e.shape
        if self.style == "dsl":
            return (f"zeros({dim_dsl(r)})" if c.is_one else f"zeros({dim_dsl(r)}, {dim_dsl(c)})"), ATOM
        return ("0" if self.style == "text" else r"\mathbf{0}"), ATOM

    def p_eye(self, e: Expr) -> tuple[str, int]:
        n = e.shape[0]
        return {"dsl": f"eye({dim_dsl(n)})", "text": "I", "latex": "I"}[self.style], ATOM

    def p_fn(self, e: Expr) -> tuple[str, int]:
        name, order = e.param("name"), e.param("order")
        arg = self.go(e.args[0])[0]
        alpha = e.param("alpha")
        extra = f", {_sstr(alpha)}" if alpha is not None else ""
        if self.style == "dsl":
            return f"{name}{chr(39) * order}({arg}{extra})", ATOM
        if self.style == "text":
            primes = {0: "", 1: "′", 2: "″"}.get(order, "′" * order)
            return f"{TEXT_FN.get(name, name)}{primes}({arg}{extra})", ATOM
        fname = LATEX_FN.get(name, name if len(name) == 1 else rf"\operatorname{{{name}}}")
        return fr"{fname}{chr(39) * order}\left({arg}{extra}\right)", ATOM

    def p_pow(self, e: Expr) -> tuple[str, int]:
        k = e.param("k")
        if not isinstance(k, Fraction) or self.style == "latex":
            k = sp.sympify(k)
        base = e.args[0]
        if self.style == "dsl":
            ks = _sstr(k)
            ks = ks if (_is_integer(k) and k >= 0) else f"({ks})"
            return f"{self.wrap(base, ATOM)}^{ks}", POSTFIX
        if self.style == "text":
            sup = _sstr(k).translate(_SUP) if re.fullmatch(r"-?[\d.]+", _sstr(k)) else f"^({_sstr(k)})"
            if base.op == "fn" and id(base) not in self.names and base.param("order") == 0 and base.param("alpha") is None:
                name = TEXT_FN.get(base.param("name"), base.param("name"))
                return f"{name}{sup}({self.go(base.args[0])[0]})", ATOM
            return f"{self.wrap(base, ATOM)}{sup}", POSTFIX
        return f"{{{self.wrap(base, ATOM)}}}^{{{sp.latex(k)}}}", POSTFIX

    def p_mul(self, e: Expr) -> tuple[str, int]:
        a, b = e.args
        if a.op == "const":
            v = a.param("value")
            num, den = (v.numerator, v.denominator) if isinstance(v, Fraction) else sp.fraction(sp.sympify(v))
            if num == 1 and den != 1:  # x / n reads better than (1/n) x
                den_s = self.go(_const_like(den))
                d = den_s[0] if den_s[1] >= POSTFIX else (fr"\left({den_s[0]}\right)" if self.style == "latex" else f"({den_s[0]})")
                if self.style == "latex":
                    return fr"\frac{{{self.go(b)[0]}}}{{{sp.latex(den)}}}", PROD
                return f"{self.wrap(b, PROD)} / {d}", PROD
        if is_scalar(a.shape) or is_scalar(b.shape):
            op = {"dsl": " * ", "text": " ", "latex": " "}[self.style]
            if self.style != "dsl" and a.op != "const" and not is_scalar(a.shape):
                a, b = b, a  # scalars first in print: (uᵀv) x
            left = self.wrap(a, PROD if a.op in ("const", "mul") or self.style == "dsl" else POSTFIX)
            right = POSTFIX if self.style != 'dsl' else UNARY
            if a.op == "const" and (b.op == "matmul" or (b.op == "mul" and is_scalar(b.args[0].shape))):
                right = PROD  # 2 rᵀ W, 2 t x: a number commutes with the product, no brackets needed
            return f"{left}{op}{self.wrap(b, right)}", PROD
        op = {"dsl": " * ", "text": " ∘ ", "latex": r" \odot "}[self.style]
        right_need = PROD if b.op == "mul" else UNARY
        if self.style != "dsl" and b.op == "mul" and (is_scalar(b.args[0].shape) or is_scalar(b.args[1].shape)):
            right_need = UNARY  # t ∘ ((1 / s) t): a scalar's product prints as juxtaposition, read left to right
        left_need = PROD if a.op == "mul" else UNARY
        return f"{self.wrap(a, left_need)}{op}{self.wrap(b, right_need)}", PROD

    def p_add(self, e: Expr) -> tuple[str, int]:
        a, b = e.args
        if b.op == "const" and id(b) not in self.names and sp.sympify(b.param("value")).is_number \
                and sp.sympify(b.param("value")) < 0:  # a − 1, never a + −1
            minus = {"dsl": " - ", "text": " − ", "latex": " - "}[self.style]
            return f"{self.wrap(a, SUM)}{minus}{self.wrap(alg.const(-sp.sympify(b.param('value'))), PROD)}", SUM
        if b.op == "neg" and id(b) not in self.names:
            minus = {"dsl": " - ", "text": " − ", "latex": " - "}[self.style]
            return f"{self.wrap(a, SUM)}{minus}{self.wrap(b.args[0], PROD)}", SUM
        if b.op == "mul" and b.args[0].op == "const" and _below_zero(b.args[0].param("value")) \
                and id(b) not in self.names:
            pos = -b.args[0].param("value")
            minus = {"dsl": " - ", "text": " − ", "latex": " - "}[self.style]
            return f"{self.wrap(a, SUM)}{minus}{self.wrap(alg.scale(pos, b.args[1]), PROD)}", SUM
        return f"{self.wrap(a, SUM)} + {self.wrap(b, PROD)}", SUM

    def p_T(self, e: Expr) -> tuple[str, int]:
        a = e.args[0]
        if a.op in ROW_WISE and id(a) not in self.names and a.args[0].op == "T" and id(a.args[0]) not in self.names:
            return self._row_wise(a), ATOM
        if a.op == "concat" and id(a) not in self.names \
                and all(p.op == "T" and id(p) not in self.names for p in a.args):
            blocks = [self.go(p.args[0])[0] for p in a.args]  # [W1, W2], as written
            if self.style == "latex":
                return r"\begin{bmatrix} " + " & ".join(blocks) + r" \end{bmatrix}", ATOM
            return "[" + ", ".join(blocks) + "]", ATOM
        if a.op == "inv" and id(a) not in self.names and self.style != "dsl":
            base = self.wrap(a.args[0], POSTFIX)
            return (f"{base}⁻ᵀ" if self.style == "text" else f"{{{base}}}^{{-\\top}}"), POSTFIX
        return self._transposed(self.wrap(a, POSTFIX)), POSTFIX

    def _transposed(self, inner: str) -> str:
        return {"dsl": f"{inner}^T", "text": f"{inner}ᵀ", "latex": f"{{{inner}}}^\\top"}[self.style]

    def _row_wise(self, a: Expr) -> str:
        """softmax(Sᵀ)ᵀ, as the file wrote it: softmax(S, axis=1) (ir lowers axis=1 to the transposes)."""
        if a.op == "log_softmax":  # log(P) for the P = softmax(S, axis=1) the file named
            sm = existing("softmax", (a.args[0],), (), a.shape)
            p = existing("T", (sm,), (), (a.shape[1], a.shape[0])) if sm is not None else None
            if p is not None and id(p) in self.names:
                return self.go(p)[0].join(
                    {"dsl": ("log(", ")"), "text": ("log(", ")"), "latex": (r"\log\left(", r"\right)")}[self.style])
        inner = self.go(a.args[0].args[0])[0]
        if self.style == "latex":
            fname = {"softmax": r"\operatorname{softmax}", "log_softmax": r"\operatorname{log\_softmax}",
                     "logsumexp": r"\operatorname{logsumexp}"}[a.op]
            return fr"{fname}\left({inner}, \text{{axis}}=1\right)"
        return f"{a.op}({inner}, axis=1)"

    def p_inv(self, e: Expr) -> tuple[str, int]:
        if self.style == "dsl":
            return f"inv({self.go(e.args[0])[0]})", ATOM
        base = self.wrap(e.args[0], POSTFIX)
        return (f"{base}⁻¹" if self.style == "text" else f"{{{base}}}^{{-1}}"), POSTFIX

    def p_norm(self, e: Expr) -> tuple[str, int]:
        inner = self.go(e.args[0])[0]
        return {"dsl": f"norm({inner})", "text": f"‖{inner}‖",
                "latex": fr"\left\lVert {inner} \right\rVert"}[self.style], ATOM

    def p_log_softmax(self, e: Expr) -> tuple[str, int]:
        # log(p) for the log_softmax(z) that log(softmax(z)) became, when the file named p

        p = alg.softmax(e.args[0])
        if id(p) in self.names:
            return self.go(p)[0].join(
                {"dsl": ("log(", ")"), "text": ("log(", ")"), "latex": (r"\log\left(", r"\right)")}[self.style]), ATOM
        inner = self.go(e.args[0])[0]
        return (fr"\operatorname{{log\_softmax}}\left({inner}\right)" if self.style == "latex"
                else f"log_softmax({inner})"), ATOM

    def p_rows(self, e: Expr) -> tuple[str, int]:
        # the slice binds like a postfix: (Wᵀ u + q)[0:d], not Wᵀ u + q[0:d]
        start, stop = e.param("start"), e.param("stop")
        if self.style == "dsl":
            return f"rows({self.go(e.args[0])[0]}, {dim_dsl(start)}, {dim_dsl(stop)})", ATOM
        inner = self.wrap(e.args[0], POSTFIX)
        if self.style == "text":
            return f"{inner}[{start}:{stop}]", POSTFIX
        return f"{{{inner}}}_{{{start}:{stop}}}", POSTFIX

    def p_diagvec(self, e: Expr) -> tuple[str, int]:
        inner = self.go(e.args[0])[0]  # diag(u xᵀ Aᵀ): the call's parentheses are enough
        return (fr"\operatorname{{diag}}\left({inner}\right)" if self.style == "latex" else f"diag({inner})"), ATOM

    def p_diag(self, e: Expr) -> tuple[str, int]:
        inner = self.go(e.args[0])[0]
        return (fr"\operatorname{{diag}}\left({inner}\right)" if self.style == "latex" else f"diag({inner})"), ATOM


def _fraction_text(v: Fraction) -> tuple[str, int]:
    """A rational constant as sympy's printer writes it (2, -1/2), without sympy;
    a decimal from the file (an ε of 0.00001) reads as the file wrote it, not as 1/100000."""
    if v.denominator != 1 and (v.denominator > 1000 or abs(v.numerator) > 1000):
        return repr(float(v)), (ATOM if v >= 0 else UNARY)
    if v.denominator == 1:
        return str(v.numerator), (UNARY if v < 0 else ATOM)
    return f"{v.numerator}/{v.denominator}", (PROD if v > 0 else UNARY)


def _below_zero(v: Any) -> bool:
    """v < 0, also for a size-dependent constant (−1/B with B > 0)."""
    return v < 0 if isinstance(v, Fraction) else bool(sp.sympify(v) < 0)


def _sstr(v: Any) -> str:
    return str(v) if isinstance(v, Fraction) else str(sp.sstr(v))


def _is_integer(k: Any) -> bool:
    return k.denominator == 1 if isinstance(k, Fraction) else bool(k.is_Integer)


def _reads_as_call(left: str, right: str) -> bool:
    """`u (x + y)^T` parses as the call u(x + y), then ᵀ: such a product needs `@`."""
    if not right.startswith("(") or not re.search(r"(^|[^\w^])[^\W\d]\w*$", left):  # ends in a NAME (not ^T)
        return False
    depth = 0
    for i, ch in enumerate(right):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i != len(right) - 1  # something (a postfix) follows the parenthesis
    return False


def _const_like(v: Any) -> Expr:

    return alg.const(v)


_expr_module.SHOW[0] = to_dsl
