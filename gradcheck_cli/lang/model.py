"""The typed graph a .grad file lowers to: variables, named values, claims."""

from __future__ import annotations

from dataclasses import dataclass, field

from gradcheck_cli.lang.loops import LoopSource
from gradcheck_cli.errors import GradcheckError, Span, Warning_
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.shapes import DimEnv

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
    # a claim inside `for t = a..b:`: one claim per step (num and den above name the step as written,
    # `x[t]`), checked together as one
    steps: list["ClaimSpec"] = field(default_factory=list)
    over: tuple[str, int, int] | None = None  # (t, a, b)

    @property
    def line(self) -> int:
        return self.span.line

    written: tuple[str, str] | None = None  # num and den as the file writes them (`h[T]`, where num/den say h[6])

    @property
    def name(self) -> str:
        """As written (`claim dL/dh[T]`): a config's required claim and a report's name match the file."""
        num, den = self.written or (self.num, self.den)
        return f"claim d{num}/d{den}"


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
    loop: LoopSource | None = None  # a file with a `for` block: its loop as written (lang/loops.py)
    short_of: int | None = None  # the loop was read with fewer steps than the file's T (this T), for derive

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
