"""`gradcheck graph` in its three formats, and the command line's own surface
(`--version`, `--help` on every command, `python -m gradcheck_cli`, start-up).

The DOT output is parsed with a small grammar for the DOT language (digraph,
node and edge statements, attributes) so the test checks real structure, not
substrings: every node of the graph is declared once with its shape, every
edge joins declared nodes, and the edges form a DAG whose order is the text
format's topological order.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lark import Lark

import gradcheck_cli
from gradcheck_cli.lang.graph import Graph, load
from gradcheck_cli.shapes import shape_str

EXAMPLES = Path(__file__).parent.parent / "examples"
MLP = EXAMPLES / "mlp.grad"
COMMANDS = ["derive", "verify", "graph", "run", "init", "ops"]

# The part of the DOT language `graph --format dot` may use (graphviz.org/doc/info/lang.html).
DOT = Lark(r"""
    start: "digraph" ID? "{" stmt* "}"
    ?stmt: (node_stmt | edge_stmt | attr_stmt | assign) ";"?
    node_stmt: ID attrs?
    edge_stmt: ID ("->" ID)+ attrs?
    attr_stmt: ("graph" | "node" | "edge") attrs
    assign: ID "=" ID
    attrs: "[" (attr ("," | ";")?)* "]"
    attr: ID "=" ID
    ID: /[A-Za-z_][A-Za-z_0-9]*/ | /-?(\.[0-9]+|[0-9]+(\.[0-9]*)?)/ | ESCAPED_STRING
    ESCAPED_STRING: /"(\\.|[^"\\])*"/
    %ignore /\s+/
    %ignore /\/\/[^\n]*/
""", parser="lalr")


def parse_dot(text: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str]]]:
    """DOT text → ({node: attributes}, [edges]); raises if it is not a digraph."""
    tree = DOT.parse(text)
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str]] = []

    def attrs(t: Any) -> dict[str, str]:
        out = {}
        for a in t.children:
            key, val = (str(c) for c in a.children)
            out[key] = val[1:-1].replace('\\"', '"') if val.startswith('"') else val
        return out

    for st in tree.children:
        if getattr(st, "data", None) == "node_stmt":
            name = str(st.children[0])
            assert name not in nodes, f"node {name} declared twice"
            nodes[name] = attrs(st.children[1]) if len(st.children) > 1 else {}
        elif getattr(st, "data", None) == "edge_stmt":
            ids = [str(c) for c in st.children if not hasattr(c, "data")]
            edges.extend(itertools.pairwise(ids))
    return nodes, edges


def shown(path: Path) -> Graph:
    """The graph `gradcheck graph` shows: a loop's one generic step, else the file's graph."""
    from gradcheck_cli.render.graph import loop_step

    g = load(str(path))
    step = loop_step(g)
    return step.graph if step is not None else g


def graph_nodes(g: Graph) -> list[Any]:
    return list(g.output.walk())


# ---------------------------------------------------------------- text


def test_text_format(cli: Callable[..., Any]) -> None:
    r = cli("graph", MLP)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[:4] == ["input W: n×m", "input x: m×1", "input b: n×1", "input u: n×1"]
    assert lines[-1] == "output s"
    assert "z: n×1 = add(t2, b)" in lines
    assert "h: n×1 = fn(z, name=f, order=0)" in lines
    assert lines[-2] == "s: scalar = matmul(t1, h)"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.grad")), ids=lambda p: p.stem)
def test_text_format_is_topological(path: Path, cli: Callable[..., Any]) -> None:
    r = cli("graph", path)
    assert r.exit_code == 0, r.output
    defined: set[str] = set(load(str(path)).env.sizes)  # sizes are numbers: `div(t7, B)` is a mean
    pattern = re.compile(r"^(\w+(?:\[[\w+-]+\])?): (.+?) = (\w+)\((.*)\)$")  # a loop's steps: h[t], h[3]
    for line in r.stdout.splitlines():
        if line.startswith("a loop over t = "):  # a loop is shown as its one generic step; the header says
            defined.add(line.split("the output ", 1)[1].split(" = ")[0])  # how the steps make the output
            continue
        if line.startswith("input "):
            defined.add(line.split()[1].rstrip(":"))
        elif line.startswith("output "):
            assert line.split()[1] in defined
        else:
            m = pattern.match(line)
            assert m, line
            name, _shape, _op, args = m.groups()
            for arg in (a.strip() for a in args.split(", ")):
                if re.fullmatch(r"[A-Za-z_]\w*(\[[\w+-]+\])?", arg):   # a name (not a number, a param or ones(n))
                    assert arg in defined, f"{arg} used before it is defined in {line!r}"
            assert name not in defined, f"{name} defined twice"
            defined.add(name)


# ---------------------------------------------------------------- dot


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.grad")), ids=lambda p: p.stem)
def test_dot_is_a_digraph_with_every_node(path: Path, cli: Callable[..., Any]) -> None:
    r = cli("graph", path, "--format", "dot")
    assert r.exit_code == 0, r.output
    nodes, edges = parse_dot(r.stdout)
    g = shown(path)
    walk = graph_nodes(g)
    assert len(nodes) == len(walk)
    # every node's label ends with its shape; declared variables are labelled by name
    for (node_id, node_attrs), e in zip(nodes.items(), walk):
        label = node_attrs["label"]
        assert label.endswith("\\n" + shape_str(e.shape)), (node_id, label)
        if e.op == "var":
            assert label.split("\\n")[0] == e.param("name")
    assert {a for a, _ in edges} | {b for _, b in edges} <= set(nodes)
    # one edge per argument, and the edges form a DAG in declaration order
    assert len(edges) == sum(len(e.args) for e in walk)
    # every edge points forward in declaration order: a topological order, so no cycle
    order = list(nodes)
    assert all(order.index(a) < order.index(b) for a, b in edges)
    # the output is the one sink, drawn bold
    sinks = [n for n in nodes if not any(a == n for a, _ in edges)]
    assert len(sinks) == 1
    assert nodes[sinks[0]].get("style") == "bold"


def test_dot_names_the_intermediates(cli: Callable[..., Any]) -> None:
    nodes, _ = parse_dot(cli("graph", MLP, "--format", "dot").stdout)
    labels = [a["label"].split("\\n")[0] for a in nodes.values()]
    assert "z = add" in labels and "h = f" in labels and "s = matmul" in labels


def test_dot_labels_derivative_calls() -> None:
    from gradcheck_cli.lang.graph import parse
    from gradcheck_cli.render.graph import render_graph

    g = parse("dims n = 2\nx : n\nf : function\ns = sum(f'(x))\n")
    nodes, _ = parse_dot(render_graph(g, "dot"))
    assert [a["label"] for a in nodes.values()] == ["x\\nn×1", "f'\\nn×1", "s = sum\\nscalar"]


# ---------------------------------------------------------------- mermaid


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.grad")), ids=lambda p: p.stem)
def test_mermaid_flowchart(path: Path, cli: Callable[..., Any]) -> None:
    r = cli("graph", path, "--format", "mermaid")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("flowchart ")
    node = re.compile(r'^  (n\d+)\["([^"]*)"\]$')
    edge = re.compile(r"^  (n\d+) --> (n\d+)$")
    declared: list[str] = []
    n_edges = 0
    for line in lines[1:]:
        if line.startswith("  %% "):  # a comment: a loop's header
            continue
        if m := node.match(line):
            declared.append(m.group(1))
            assert "<br/>" in m.group(2)
        else:
            m = edge.match(line)
            assert m, f"not a mermaid node or edge: {line!r}"
            a, b = m.groups()
            assert a in declared and b in declared, line   # declared before use: topological
            n_edges += 1
    walk = graph_nodes(shown(path))
    assert len(declared) == len(set(declared)) == len(walk)
    assert n_edges == sum(len(e.args) for e in walk)


# ---------------------------------------------------------------- loops


def test_a_loop_is_shown_as_one_step_at_any_T(tmp_path: Path, cli: Callable[..., Any]) -> None:
    rnn = (Path(__file__).parent / "data" / "loops" / "rnn_sum.grad").read_text(encoding="utf-8")
    outs = []
    for T in (4, 1000):
        f = tmp_path / f"rnn{T}.grad"
        f.write_text(rnn.replace("T = 4", f"T = {T}"), encoding="utf-8")
        r = cli("graph", f)
        assert r.exit_code == 0, r.output
        outs.append(r.stdout)
    assert outs[0] == outs[1]  # the same step, whatever T is
    lines = outs[0].splitlines()
    assert lines[0].startswith("a loop over t = 1..T: one generic step shown") and lines[0].endswith("L = Σ_t J[t]")
    assert "input h[t-1]: H×1" in lines and "h[t]: H×1 = fn(z[t], name=tanh, order=0)" in lines
    assert not any("[2]" in line for line in lines)


def test_a_loop_the_closed_form_cannot_take_is_shown_unrolled(tmp_path: Path, cli: Callable[..., Any]) -> None:
    f = tmp_path / "two.grad"
    f.write_text("dims H = 3, T = 8\nW : H x H\nu : H\nh[0] : H\nh[1] : H\nfor t = 2..T:\n"
                 "  h[t] = tanh(W h[t-1] + W h[t-2])\ns = u^T h[T]\n", encoding="utf-8")
    out = cli("graph", f).stdout
    assert "h[8]: H×1" in out and not out.startswith("a loop over")  # at the file's own T = 8


# ---------------------------------------------------------------- --output, colour


def test_graph_output_file(cli: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "sub" / "g.dot"
    r = cli("graph", MLP, "--format", "dot", "--output", out)
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    parse_dot(out.read_text(encoding="utf-8"))


def test_no_ansi_codes_when_not_a_terminal(cli: Callable[..., Any]) -> None:
    for fmt in ("text", "dot", "mermaid"):
        assert "\x1b[" not in cli("graph", MLP, "--format", fmt).stdout


# ---------------------------------------------------------------- --version, --help


def test_version(cli: Callable[..., Any]) -> None:
    r = cli("--version")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"gradcheck {gradcheck_cli.__version__}"


def test_help_lists_every_command(cli: Callable[..., Any]) -> None:
    r = cli("--help")
    assert r.exit_code == 0, r.output
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", r.stdout, re.MULTILINE), command
    assert "--version" in r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_each_command(command: str, cli: Callable[..., Any]) -> None:
    r = cli(command, "--help")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"Usage: gradcheck {command}")
    assert "--help" in r.stdout


def test_graph_help_names_the_formats(cli: Callable[..., Any]) -> None:
    assert "text|dot|mermaid" in cli("graph", "--help").stdout


def test_unknown_command_exits_2(cli: Callable[..., Any]) -> None:
    r = cli("grpah", MLP)
    assert r.exit_code == 2, r.output


# ---------------------------------------------------------------- python -m, start-up


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "NO_COLOR": "1"})


def test_python_m_help() -> None:
    r = _run("-m", "gradcheck_cli", "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: ")
    assert "graph" in r.stdout


def test_python_m_graph() -> None:
    r = _run("-m", "gradcheck_cli", "graph", str(MLP), "--format", "mermaid")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("flowchart")


def test_cli_start_up_imports_no_maths() -> None:
    """`gradcheck --help` stays fast: sympy, numpy and lark load only when a command needs them."""
    code = "import sys, gradcheck_cli.cli; print(sorted(m for m in ('sympy', 'numpy', 'lark') if m in sys.modules))"
    r = _run("-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
