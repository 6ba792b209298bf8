"""Lark's parse tree → the AST of lang/ast.py (the Transformer), and the token helpers it shares."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lark import Token, Transformer, v_args

from gradcheck_cli.errors import ParseError, Span
from gradcheck_cli.lang import ast

def token_span(tok: Token, source: str) -> Span:
    return Span(tok.start_pos or 0, tok.end_pos or 0, tok.line or 1, tok.column or 1, source)


SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def ident(tok: Any) -> str:
    """A name as the graph knows it: δ₂ (as derive prints it) is δ2, W₁ is W1; ′ is '."""
    return str(tok).translate(SUBSCRIPTS).replace("′", "'").replace("″", "''")


def number_value(text: str) -> float:
    return float(text)

# Sizes are Python ints used by numpy; 18 digits is past any array a machine holds,
# and keeps int() of the token linear (Python refuses > 4300 digits anyway).
MAX_SIZE_DIGITS = 18


def size_value(tok: Token, span: Span) -> int:
    text = str(tok)
    if len(text.lstrip("0")) > MAX_SIZE_DIGITS:
        raise ParseError(f"the size {cut(text)} ({len(text):,} digits) is too large", span,
                         f"sizes have at most {MAX_SIZE_DIGITS} digits")
    return int(text)


def literal_value(tok: Token, span: Span) -> float:
    """A number literal's float64 value; one that float64 cannot hold is an error at the token."""
    value = float(str(tok))  # linear in the token's length (a 100,000-digit decimal is fine)
    if not math.isfinite(value):
        raise ParseError(f"the number {cut(str(tok))} is too large for float64 (at most about 1.8e308)",
                         span)
    return value


def cut(text: str, keep: int = 24) -> str:
    """A long token shortened for a message: `99999…999 (5,000 characters)`."""
    return text if len(text) <= keep else f"{text[:keep // 2]}…{text[-keep // 2:]}"


@v_args(meta=True)
class ToAst(Transformer):  # type: ignore[type-arg]
    def __init__(self, source: str, offset: int = 0, line0: int = 0):
        super().__init__()
        self.src = source
        self.offset, self.line0 = offset, line0  # where the parsed text starts in the file (a claim line)

    def sp(self, meta: Any) -> Span:
        return Span(meta.start_pos + self.offset, meta.end_pos + self.offset, meta.line + self.line0, meta.column,
                    self.src)

    def tsp(self, tok: Token) -> Span:
        return Span((tok.start_pos or 0) + self.offset, (tok.end_pos or 0) + self.offset,
                    (tok.line or 1) + self.line0, tok.column or 1, self.src)

    # statements --------------------------------------------------------------
    def dims(self, meta: Any, items: list[Any]) -> ast.Dims:
        return ast.Dims(self.sp(meta), tuple(items))

    def dim_item(self, meta: Any, ch: list[Any]) -> ast.DimItem:
        return ast.DimItem(self.sp(meta), str(ch[0]), size_value(ch[1], self.tsp(ch[1])) if ch[1] is not None else None)

    def decl(self, meta: Any, ch: list[Any]) -> ast.Decl:
        names = [c for c in ch if isinstance(c, Token) and c.type == "NAME"]
        kind, dims = next(c for c in ch if isinstance(c, tuple))
        quals = tuple(str(c) for c in ch if isinstance(c, str) and not isinstance(c, Token))
        return ast.Decl(self.sp(meta), tuple(str(n) for n in names), tuple(self.tsp(n) for n in names),
                        kind, dims, quals)

    def qualifier(self, meta: Any, ch: list[Any]) -> str:
        return str(ch[0])

    def t_scalar(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return ("scalar", ())

    def t_function(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return ("function", ())

    def t_onehot(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return ("onehot", (ch[0],))

    def t_onehot_cols(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[Any, ...]]:
        """`Y : onehot(C) x N`: C x N, each column one-hot."""
        return ("onehot", (ch[0], ch[2]))

    def t_onehot_rows(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[Any, ...]]:
        """`Y : N x onehot(C)`: N x C, each row one-hot (CS231n's labels of a batch of rows)."""
        return ("onehot_rows", (ch[0], ch[2]))

    def t_shape(self, meta: Any, ch: list[Any]) -> tuple[str, tuple[Any, ...]]:
        dims = tuple(c for c in ch if isinstance(c, ast.Node))
        return ("shape", dims)

    def dim_add(self, meta: Any, ch: list[Any]) -> ast.DimAdd:
        return ast.DimAdd(self.sp(meta), ch[0], ch[1])

    def dim_scaled(self, meta: Any, ch: list[Any]) -> ast.DimScaled:
        return ast.DimScaled(self.sp(meta), size_value(ch[0], self.tsp(ch[0])), ch[1])

    def dim_juxt(self, meta: Any, ch: list[Any]) -> ast.DimScaled:
        """`5d` in a shape is 5*d, as in an expression."""
        tok = str(ch[0])
        k = len(tok) - len(tok.lstrip("0123456789"))
        name = ast.DimName(self.sp(meta), tok[k:])
        return ast.DimScaled(self.sp(meta), int(tok[:k]), name)

    def dim_int(self, meta: Any, ch: list[Any]) -> ast.DimNum:
        return ast.DimNum(self.sp(meta), size_value(ch[0], self.tsp(ch[0])))

    def dim_name(self, meta: Any, ch: list[Any]) -> ast.DimName:
        return ast.DimName(self.sp(meta), str(ch[0]))

    def assign(self, meta: Any, ch: list[Any]) -> ast.Assign:
        name, value, suffix = ch[-3], ch[-2], ch[-1]  # ch[0] is the optional `with`
        if suffix is not None:
            raise ParseError(f"a line with `for {suffix.var} = …` assigns a step at every {suffix.var}: "
                             f"{ident(name)} has no [{suffix.var}]", self.tsp(name),
                             f"write `{ident(name)}[{suffix.var}] = …   for {suffix.var} = …`")
        return ast.Assign(self.sp(meta), ident(name), self.tsp(name), value)

    def claim(self, meta: Any, ch: list[Any]) -> "ast.Claim | Suffixed":
        (num, num_index), (den, den_index) = claim_head(str(ch[0]), self.tsp(ch[0]))
        c = ast.Claim(self.sp(meta), num, den, ch[1], self.tsp(ch[0]), num_index=num_index, den_index=den_index)
        return c if ch[2] is None else Suffixed(c.span, c, ch[2])

    def loop_suffix(self, meta: Any, ch: list[Any]) -> "ForHead":
        """`for t = 1..T` as written; `for t = T, …, 1` (derive's order, from the end) is the same range."""
        var, first, last = (str(ch[1]), ch[2], ch[4]) if len(ch) == 5 else (str(ch[1]), ch[2], ch[3])
        if len(ch) == 5 and _later_than(first, last):
            first, last = last, first
        return ForHead(self.sp(meta), var, first, last)

    def output(self, meta: Any, ch: list[Any]) -> ast.Output:
        return ast.Output(self.sp(meta), ident(ch[0]))

    # expressions -------------------------------------------------------------
    def _bin(self, op: str, meta: Any, ch: list[Any]) -> ast.BinOp:
        operands = [c for c in ch if isinstance(c, ast.Node)]
        return ast.BinOp(self.sp(meta), op, operands[0], operands[1])

    def add(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        return self._bin("+", meta, ch)

    def sub(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        return self._bin("-", meta, ch)

    def matmul(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        return self._bin("@", meta, ch)

    def mul(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        return self._bin("*", meta, ch)

    def div(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        return self._bin("/", meta, ch)

    def juxt(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        return self._bin("juxt", meta, ch)

    def neg(self, meta: Any, ch: list[Any]) -> ast.Neg:
        return ast.Neg(self.sp(meta), ch[-1])

    def transpose(self, meta: Any, ch: list[Any]) -> ast.Transpose:
        return ast.Transpose(self.sp(meta), ch[0])

    def inverse_transpose(self, meta: Any, ch: list[Any]) -> ast.Transpose:
        """A^-T = (A^-1)^T, as the lecture writes ∂ log det X / ∂X = X^-T."""
        return ast.Transpose(self.sp(meta), ast.Power(self.sp(meta), ch[0], -1.0, False))

    def power(self, meta: Any, ch: list[Any]) -> ast.Power:
        tok = str(ch[1])
        if tok == "⁻¹":
            k = -1.0
        elif tok == "²":
            k = 2.0
        elif tok == "³":
            k = 3.0
        else:
            k = number_value(tok.lstrip("^*").strip("{} ").replace(" ", ""))
            if not math.isfinite(k):
                raise ParseError(f"the power {cut(tok)} is too large for float64", self.tsp(ch[1]))
        return ast.Power(self.sp(meta), ch[0], k, False)

    def power_paren(self, meta: Any, ch: list[Any]) -> ast.Power:
        sign = -1.0 if ch[1] is not None else 1.0
        return ast.Power(self.sp(meta), ch[0], sign * literal_value(ch[2], self.tsp(ch[2])), True)

    def number(self, meta: Any, ch: list[Any]) -> ast.Num:
        return ast.Num(self.sp(meta), literal_value(ch[0], self.tsp(ch[0])), str(ch[0]))

    def name(self, meta: Any, ch: list[Any]) -> ast.Name:
        return ast.Name(self.sp(meta), ident(ch[0]))

    def _call(self, meta: Any, ch: list[Any], primes: int) -> ast.Call:
        fname = ident(ch[0]).rstrip("'")
        args = ch[1] or []
        pos = tuple(a for a in args if not isinstance(a, tuple))
        kws = tuple(a for a in args if isinstance(a, tuple))
        return ast.Call(self.sp(meta), fname, pos, kws, primes, self.tsp(ch[0]))

    def call(self, meta: Any, ch: list[Any]) -> ast.Call:
        return self._call(meta, ch, 0)

    def dcall(self, meta: Any, ch: list[Any]) -> ast.Call:
        return self._call(meta, ch, ident(ch[0]).count("'"))

    def call_power(self, meta: Any, ch: list[Any]) -> ast.Power:
        """tanh²(c) = tanh(c)²; the lowering makes `x²(y)` of a value x the product x² y."""
        tok = ch[0]
        k = max(str(tok).find("²"), str(tok).find("³"), str(tok).find("^"))
        name = Token("NAME", str(tok)[:k], start_pos=tok.start_pos, line=tok.line, column=tok.column,
                     end_pos=(tok.start_pos or 0) + k)
        call = self._call(meta, [name, ch[1]], 0)
        return self.power(meta, [call, str(tok)[k:]])

    def ones_sized(self, meta: Any, ch: list[Any]) -> ast.Call:
        return ast.Call(self.sp(meta), "ones", (ch[1], ch[3]), (), 0, token_span(ch[0], self.src))

    def args(self, meta: Any, ch: list[Any]) -> list[Any]:
        return ch

    def kwarg(self, meta: Any, ch: list[Any]) -> tuple[str, Any]:
        return (str(ch[0]), ch[1])

    def block_row(self, meta: Any, ch: list[Any]) -> ast.Node:
        return ch[0] if len(ch) == 1 else ast.HConcat(self.sp(meta), tuple(ch))

    def concat(self, meta: Any, ch: list[Any]) -> ast.Node:
        if len(ch) == 1 and isinstance(ch[0], ast.HConcat):
            return ch[0]  # [A, B]: one row of blocks
        return ast.Concat(self.sp(meta), tuple(ch))

    def slice(self, meta: Any, ch: list[Any]) -> ast.Slice:
        return ast.Slice(self.sp(meta), ch[0], ch[2], ch[3])

    def juxt_block(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        """W[x1; x2] written without a space: still the product of W and the stack."""
        rows = ch[2:]
        block = self.concat(meta, rows)
        return ast.BinOp(self.sp(meta), "juxt", ch[0], block)

    def norm_bars(self, meta: Any, ch: list[Any]) -> ast.Call:
        """‖x‖, ||x||, ‖W‖_F: norm(x), as derive prints it."""
        return ast.Call(self.sp(meta), "norm", (ch[1],), (), 0, token_span(ch[0], self.src))

    def abs_bars(self, meta: Any, ch: list[Any]) -> ast.Call:
        return ast.Call(self.sp(meta), "abs", (ch[1],), (), 0, token_span(ch[0], self.src))

    # loops over time ---------------------------------------------------------
    def index(self, meta: Any, ch: list[Any]) -> ast.Index:
        """`t-1`, `T+1`, `0`: a name here is a size until its context binds it as the loop variable."""
        head, sign, k = ch
        offset = int(str(k)) * (-1 if str(sign) in "-−" else 1) if k is not None else 0
        if head.type == "INT":
            return ast.Index(self.sp(meta), None, int(str(head)) + offset, None)
        return ast.Index(self.sp(meta), None, offset, ident(head))

    def seq_decl(self, meta: Any, ch: list[Any]) -> ast.SeqDecl:
        name, index = ch[0], ch[2]
        var, start, stop = ch[-3:]
        rest = [c for c in ch[3:-3]]
        kind, dims = next(c for c in rest if isinstance(c, tuple))
        quals = tuple(str(c) for c in rest if isinstance(c, str) and not isinstance(c, Token))
        decl = ast.Decl(self.sp(meta), (ident(name),), (self.tsp(name),), kind, dims, quals)
        if var is None:
            return ast.SeqDecl(self.sp(meta), decl, index=index)
        if index.var is None and index.size == str(var) and index.offset == 0:
            return ast.SeqDecl(self.sp(meta), decl, var=str(var), start=start, stop=stop)
        raise ParseError(f"a sequence is declared with its loop variable: `{name}[{var}] : …, {var} = a..b`",
                         index.span, f"write `{name}[{var}]`")

    def step_assign(self, meta: Any, ch: list[Any]) -> "ast.Assign | Suffixed":
        name, index, value, suffix = ch[1], ch[3], ch[4], ch[5]  # ch[0] is the optional `with`
        a = ast.Assign(self.sp(meta), ident(name), self.tsp(name), value, index=index)
        return a if suffix is None else Suffixed(a.span, a, suffix)

    def for_head(self, meta: Any, ch: list[Any]) -> "ForHead":
        return ForHead(self.sp(meta), str(ch[0]), ch[1], ch[2])

    def over(self, meta: Any, ch: list[Any]) -> ast.Over:
        func, body, var, start, stop = ch
        if str(func) not in ("sum", "prod"):
            raise ParseError(f"only sum(… for t = a..b) and prod(… for t = a..b) take a `for`, not {func}",
                             self.tsp(func), "write `sum(J[t] for t = 1..T)`")
        return ast.Over(self.sp(meta), str(func), body, str(var), start, stop)

    def over_sym(self, meta: Any, ch: list[Any]) -> ast.Over:
        """Σ_t EXPR, Σ_{t=1}^{T} EXPR, ∏_{t=k+1}^{T} EXPR."""
        tok, body = ch
        text = str(tok)
        kind = "prod" if text[0] == "∏" else "sum"
        low, _, high = text[2:].partition("^")
        low, high = low.strip("{}"), high.strip("{}")
        var, _, start = low.partition("=")
        span = self.tsp(tok)
        if not var.strip().isidentifier() or bool(start) != bool(high):
            raise ParseError(f"{text} is not a range: write Σ_t or Σ_{{t=1}}^{{T}}", span)
        bounds = (index_from_text(start, span), index_from_text(high, span)) if start else (None, None)
        return ast.Over(self.sp(meta), kind, body, var.strip(), *bounds)


def claim_head(head: str, span: Span) -> list[tuple[str, ast.Index | None]]:
    """`dL/dh[0]` → [("L", None), ("h", Index 0)]."""
    out: list[tuple[str, ast.Index | None]] = []
    for part in head.split("/", 1):
        name = ident(part.strip()[1:].strip())
        base, bracket, rest = name.partition("[")
        out.append((base.strip(), index_from_text(rest.rstrip("]"), span) if bracket else None))
    return out


_INDEX = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*|\d+)\s*(?:([-+−])\s*(\d+))?\s*")


def index_from_text(text: str, span: Span) -> ast.Index:
    """`k+1`, `T`, `0` written inside a token (Σ_{t=k+1}^{T}, a claim's dh[0])."""
    m = _INDEX.fullmatch(text)
    if m is None:
        raise ParseError(f"{text!r} is not a step: expected t, t-1, T, T+1 or a number", span)
    offset = int(m.group(3)) * (-1 if m.group(2) in "-−" else 1) if m.group(3) else 0
    if m.group(1).isdigit():
        return ast.Index(span, None, int(m.group(1)) + offset, None)
    return ast.Index(span, None, offset, m.group(1))


def _later_than(a: ast.Index, b: ast.Index) -> bool:
    """T before 1, T−1 before 1, T before T−1, 5 before 2: which end of a range `a, …, b` is its top."""
    if (a.size is None) != (b.size is None):
        return a.size is not None
    return a.offset > b.offset


@dataclass(frozen=True)
class Suffixed(ast.Node):
    """`δ[t] = … for t = T, …, 1`: a statement and the one-line loop it runs in (blocks.py makes it a For)."""
    statement: ast.Node
    head: "ForHead"


@dataclass(frozen=True)
class ForHead(ast.Node):
    """`for t = 1..T:` before the parser attaches the indented lines after it."""
    var: str
    start: ast.Index
    stop: ast.Index
