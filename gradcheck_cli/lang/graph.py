"""AST → typed graph: names resolved, shapes inferred and checked, output found.

The graph is the expression DAG of the output (see `expr.py`), plus what the
file declared: variables with their kinds, dimension sizes, function
bindings, every named value (intermediates and helper definitions) and the
claims, each lowered on its own so a mistake inside a claim fails that claim
rather than the run.
"""

from __future__ import annotations

from typing import Any

from gradcheck_cli.deep import deep
from gradcheck_cli.lang import ast
from gradcheck_cli.lang.parser import parse_file
from gradcheck_cli.errors import GradcheckError, ShapeError, Span
from gradcheck_cli.shapes import shape_str
from gradcheck_cli.lang.names import exact_number
from gradcheck_cli.lang.model import ClaimSpec, Graph, VarInfo  # noqa: F401 (the public names)
from gradcheck_cli.lang.lower import Lowering

__all__ = ["ClaimSpec", "Graph", "Lowering", "VarInfo", "exact_number", "load", "parse", "pp_graph"]


def parse(text: str, source: str = "<stdin>", seed: int = 0, steps: int | None = None) -> Graph:
    """Parse and type-check a .grad file; raises GradcheckError with a position. `steps`: unroll a loop
    to at most that many steps (derive's closed form is the same at every T; `graph.short_of` says so)."""
    file = parse_file(text, source)
    try:
        return _lower(file, seed, steps)
    except RecursionError:  # printing a very deep expression (thousands of nested ops) in a message
        raise ShapeError("the graph is nested too deeply for gradcheck to describe", None) from None


@deep
def _lower(file: ast.File, seed: int, steps: int | None = None) -> Graph:
    return Lowering(file, seed, steps).run()  # a fresh Lowering, so a rerun on a deeper stack starts clean


def load(path: str, seed: int = 0, steps: int | None = None) -> Graph:
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
    return parse(text, str(path), seed, steps)


def _not_utf8(data: bytes, e: UnicodeDecodeError, source: str) -> GradcheckError:
    """A byte that is not UTF-8, placed at line:col of the text as an editor shows it (U+FFFD for bad bytes)."""
    from gradcheck_cli.errors import UsageError

    before = data[:e.start].decode("utf-8-sig", errors="replace")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    span = Span(len(before), len(before) + 1, line, col, source)
    return UsageError(f"the file is not UTF-8: byte 0x{data[e.start]:02x} cannot be decoded", span,
                      "save the file as UTF-8")


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
