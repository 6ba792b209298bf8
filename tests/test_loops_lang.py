"""Loops over time, the language and its unrolled reading (issue 10, DSL.md "Sequences: loops over time").

The parser turns `x[t] : D, t = 1..T`, `h[0] : H`, `for t = 1..T:` blocks, step targets
(`z[t] = …`, `delta[T+1] = 0`), `sum(… for t = a..b)`, `Σ_t`, `prod`/`∏` and claims about one
step into the nodes of lang/ast.py; the lowering unrolls them at the sizes of `dims` into an
ordinary Graph whose steps are named `h[3]`, so verify checks a loop like any other file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.lang import ast
from gradcheck_cli.lang.graph import parse
from gradcheck_cli.lang.loops import LoopSource, split_step_name, step_name
from gradcheck_cli.lang.parser import parse_file
from gradcheck_cli.numeric.verify import VerifyOptions, verify

HEAD = """dims H = 3, D = 2, T = 4
W : H x H
U : H x D
b : H
u : H
x[t] : D const, t = 1..T
h[0] : H
"""
RNN = HEAD + """for t = 1..T:
  z[t] = W h[t-1] + U x[t] + b
  h[t] = tanh(z[t])
s = u^T h[T]
"""


def _error(text: str) -> GradcheckError:
    with pytest.raises(GradcheckError) as info:
        parse(text, "loop.grad")
    return info.value


def _verify(text: str) -> Any:
    return verify(parse(text, "loop.grad"), VerifyOptions())


# ---------------------------------------------------------------- the syntax tree


def test_sequence_declarations_and_single_elements() -> None:
    f = parse_file(HEAD + "y[t] : onehot(C), t = 1..T\n", "s.grad")
    seqs = [s for s in f.statements if isinstance(s, ast.SeqDecl)]
    x, h, y = seqs
    assert x.decl.names == ("x",) and x.var == "t" and x.index is None and "const" in x.decl.qualifiers
    assert (x.start.offset, x.start.size, x.stop.offset, x.stop.size) == (1, None, 0, "T")
    assert h.index is not None and h.index.offset == 0 and h.var is None
    assert y.decl.kind == "onehot"


def test_for_block_collects_its_indented_body_with_comments_and_blank_lines() -> None:
    text = HEAD + "for t = 1..T:\n  # the pre-activation\n  z[t] = W h[t-1] + U x[t] + b\n\n  h[t] = tanh(z[t])  # c\ns = u^T h[T]\n"
    f = parse_file(text, "b.grad")
    (loop,) = [s for s in f.statements if isinstance(s, ast.For)]
    assert loop.var == "t" and [a.name for a in loop.body] == ["z", "h"]
    assert all(a.index.var == "t" and a.index.offset == 0 for a in loop.body)
    after = f.statements[f.statements.index(loop) + 1]
    assert isinstance(after, ast.Assign) and after.name == "s"


def test_boundary_line_and_step_claims() -> None:
    f = parse_file(RNN + "d[T+1] = zeros(H)\nclaim ds/dh[0] = W^T d[1]\nclaim dh[T]/dh[T-1] = W\n", "c.grad")
    boundary = next(s for s in f.statements if isinstance(s, ast.Assign) and s.name == "d")
    assert boundary.index is not None and (boundary.index.size, boundary.index.offset, boundary.index.var) == ("T", 1, None)
    c1, c2 = [s for s in f.statements if isinstance(s, ast.Claim)]
    assert (c1.num, c1.den, c1.den_index.offset) == ("s", "h", 0)
    assert (c2.num, c2.num_index.size, c2.den_index.size, c2.den_index.offset) == ("h", "T", "T", -1)


@pytest.mark.parametrize("written,kind,bounds", [
    ("sum(h[t] for t = 1..T)", "sum", ((1, None), (0, "T"))),
    ("prod(W for t = 2..T-1)", "prod", ((2, None), (-1, "T"))),
    ("Σ_t h[t]", "sum", None),
    ("Σ_{t=1}^{T} h[t]", "sum", ((1, None), (0, "T"))),
    ("∏_{t=2}^{T} W", "prod", ((2, None), (0, "T"))),
])
def test_sums_and_products_over_steps(written: str, kind: str, bounds: Any) -> None:
    f = parse_file(RNN + f"claim ds/du = {written}\n", "o.grad")
    claim = f.statements[-1]
    assert isinstance(claim, ast.Claim) and isinstance(claim.value, ast.Over)
    over = claim.value
    assert over.kind == kind and over.var == "t"
    got = None if over.start is None else ((over.start.offset, over.start.size), (over.stop.offset, over.stop.size))
    assert got == bounds


def test_sigma_body_is_the_whole_product() -> None:
    f = parse_file(RNN + "claim ds/dW = Σ_t z[t] h[t-1]^T + u u^T\n", "o.grad")
    value = f.statements[-1].value
    assert isinstance(value, ast.BinOp) and value.op == "+" and isinstance(value.left, ast.Over)
    assert isinstance(value.left.body, ast.BinOp) and value.left.body.op == "juxt"


def test_step_names_read_back() -> None:
    assert step_name("h", 3) == "h[3]" and step_name("h", "t-1") == "h[t-1]"
    assert step_name("d", ast.Index(None, None, 1, "T")) == "d[T+1]"  # type: ignore[arg-type]
    assert step_name("h", ast.Index(None, "t", -1, None)) == "h[t-1]"  # type: ignore[arg-type]
    assert split_step_name("h[3]") == ("h", 3) and split_step_name("h[t-1]") == ("h", "t-1")
    assert split_step_name("h3") is None


def test_derive_reads_step_names_with_the_lang_helper() -> None:
    """One reader of `h[t-1]`: derive moves steps with split_step_index (lang), it has no copy of its own."""
    from gradcheck_cli.derive import loop_build, loop_step
    from gradcheck_cli.lang.loops import index_text, split_step_index
    from gradcheck_cli.render import loops as render_loops

    assert split_step_index("h[t-1]") == ("h", ("t", -1)) and split_step_index("d[T+1]") == ("d", ("T", 1))
    assert split_step_index("h[3]") == ("h", (None, 3)) and split_step_index("δ_h[t]") == ("δ_h", ("t", 0))
    for name in ("h3", "h[t*2]", "(W h)[0:n]", "x[t][0]", "h[]"):
        assert split_step_index(name) is None, name
    for name in ("h[3]", "h[t-1]", "delta[T+1]", "x[t]"):
        base, ix = split_step_index(name)  # type: ignore[misc]
        assert split_step_name(name) is not None and split_step_name(name)[0] == base  # type: ignore[index]
        assert step_name(base, index_text(ix)) == name
    for module in (loop_step, loop_build, render_loops):
        assert not hasattr(module, "split_step"), module.__name__
        assert getattr(module, "split_step_index", split_step_index) is split_step_index


# ---------------------------------------------------------------- the unrolled graph


def test_unrolled_graph_names_every_step_and_keeps_the_loop() -> None:
    g = parse(RNN, "r.grad")
    assert [n for n in g.variables if n.startswith(("x[", "h["))] == ["x[1]", "x[2]", "x[3]", "x[4]", "h[0]"]
    assert all(g.variables[f"x[{k}]"].is_data for k in range(1, 5)) and not g.variables["h[0]"].is_data
    assert [n for n in g.values if n.startswith("h[")] == ["h[1]", "h[2]", "h[3]", "h[4]"]
    assert g.output_name == "s" and g.output_note is None
    assert isinstance(g.loop, LoopSource) and g.loop.length == "T"
    assert [a.name for a in g.loop.loop.body] == ["z", "h"] and [s.name for s in g.loop.after] == ["s"]
    assert [s.decl.names for s in g.loop.seq_decls] == [("x",), ("h",)]
    assert parse("dims n = 2\nx : n\ns = sum(x)\n").loop is None


def test_a_slice_and_a_juxtaposed_block_are_not_steps() -> None:
    text = "dims d = 2\nW : 2d x 2d\nx : d\ny : d\nδ = W [x; y]\ns = sum(δ[0:d]) + sum(W[x; y])\n"
    g = parse(text, "s.grad")
    assert g.loop is None and g.output.shape[0].is_one


def test_loop_claims_verify_and_a_wrong_one_fails() -> None:
    text = RNN + "d[T+1] = zeros(H)\nd[T] = u * (1 - h[T]^2)\nfor t = 1..T-1:\n  d[t] = (W^T d[t+1]) * (1 - h[t]^2)\n" \
        "claim ds/dW = sum(d[t] h[t-1]^T for t = 1..T)\nclaim ds/dU = Σ_t d[t] x[t]^T\n" \
        "claim ds/db = Σ_{t=1}^{T} d[t]\nclaim ds/dh[0] = W^T d[1]\nclaim ds/du = h[T]\n"
    report = _verify(text)
    assert report.ok, [(c.name, c.message) for c in report.checks if not c.ok]
    assert {c.name for c in report.checks} >= {"claim ds/dW", "claim ds/dh[0]", "claim ds/dU"}
    wrong = _verify(text.replace("claim ds/dh[0] = W^T d[1]", "claim ds/dh[0] = W d[1]"))
    assert [c.name for c in wrong.checks if not c.ok] == ["claim ds/dh[0]"]


def test_boundary_after_its_loop_and_forward_or_backward_recursion_agree() -> None:
    backward = RNN + "for t = 1..T:\n  g[t] = (W^T g[t+1]) * (1 - h[t]^2)\ng[T+1] = W^(-1)^T u\n" \
        "claim ds/dh[0] = W^T g[1]\n"
    report = _verify(backward.replace("W^(-1)^T u", "inv(W)^T u"))
    assert report.ok, [(c.name, c.message) for c in report.checks if not c.ok]


def test_jacobian_chain_with_prod_keeps_later_steps_to_the_left() -> None:
    text = RNN + "claim ds/dh[0] = (prod(diag(1 - h[t]^2) W for t = 1..T))^T u\n"
    assert _verify(text).ok
    flipped = text.replace("(prod(diag(1 - h[t]^2) W for t = 1..T))^T u", "(prod(W^T diag(1 - h[t]^2) for t = 1..T)) u")
    assert not _verify(flipped).ok  # the same factors in the wrong order


def test_recursion_depth_does_not_grow_with_T() -> None:
    text = RNN.replace("T = 4", "T = 1000")
    start = time.perf_counter()
    g = parse(text, "long.grad")
    assert len([n for n in g.values if n.startswith("h[")]) == 1000
    assert time.perf_counter() - start < 30


# ---------------------------------------------------------------- errors: one positioned message each


@pytest.mark.parametrize("text,message,line,col", [
    (RNN.replace("h[t-1]", "h[t-2]"), "step h[t-2] is out of range (at t = 1: h[-1]): h has steps 0..0", 9, 12),
    (RNN.replace("s = u^T h[T]", "s = u^T h[T+1]"), "step h[T+1] is out of range: h has steps 0..4", 11, 9),
    (RNN.replace("dims H = 3, D = 2, T = 4", "dims H = 3, D = 2, T"), "the number of steps T has no size", 6, 24),
    (RNN.replace("dims H = 3, D = 2, T = 4", "dims H = 3, D = 2"), "unknown size T in a step", 6, 24),
    (RNN.replace("s = u^T h[T]", "s = u^T h[t]"), "the loop variable t is used outside its loop", 11, 9),
    (RNN.replace("s = u^T h[T]", "s = u^T h"), "h is a sequence: name one of its steps", 11, 9),
    (RNN.replace("W h[t-1] + U x[t]", "W h[t-1] + U^T x[t]"), "cannot multiply U^T (D×H) by x[1]", 9, 21),
])
def test_loop_errors_point_at_the_line_inside_the_loop(text: str, message: str, line: int, col: int) -> None:
    err = _error(text)
    assert message in err.message, err.message
    assert err.span is not None and (err.span.line, err.span.column) == (line, col), err.span


@pytest.mark.parametrize("body,message", [
    ("for t = 1..T:\n  z[t] = W h[t-1]\n\th[t] = tanh(z[t])\n", "tabs and spaces are mixed"),
    ("for t = 1..T:\n  z[t] = W h[t-1]\n    h[t] = tanh(z[t])\n", "unexpected indentation"),
    ("for t = 1..T:\ns = u^T h[0]\n", "the loop has no body"),
    ("for t = 1..T:\n  for k = 1..T:\n    h[t] = h[t-1]\n", "a loop inside a loop"),
    ("for t = 1..T:\n  claim ds/dW = W\n  h[t] = h[t-1]\n", "a claim inside the loop over t is about a step"),
    ("for t = 1..T:\n  V : H x H\n  h[t] = h[t-1]\n", "only assignments and claims go inside a loop"),
    ("for t = 1..T:\n  a = W h[t-1]\n  h[t] = tanh(a)\n", "a is assigned at every step"),
    ("q = max(h[0] for t = 1..T)\n", "only sum(… for t = a..b) and prod"),
])
def test_block_errors(body: str, message: str) -> None:
    err = _error(HEAD + body + "s = u^T h[T]\n")
    assert message in err.message and err.span is not None


def test_cli_shape_error_in_a_loop_is_one_message_with_a_caret(tmp_path: Path, cli: Callable[..., Any]) -> None:
    bad = tmp_path / "bad.grad"
    bad.write_text(RNN.replace("W h[t-1] + U x[t]", "W h[t-1] + U^T x[t]"), encoding="utf-8")
    r = cli("verify", bad)
    assert r.exit_code == 2
    out = r.output
    assert "bad.grad:9:21" in out and "z[t] = W h[t-1] + U^T x[t] + b" in out and "^" in out
    assert "Traceback" not in out


def test_derive_of_a_loop_file_keeps_the_loop(tmp_path: Path, cli: Callable[..., Any]) -> None:
    path = tmp_path / "rnn.grad"
    path.write_text(RNN, encoding="utf-8")
    r = cli("derive", path)
    assert r.exit_code == 0 and "derived on one generic step" in r.output and "Traceback" not in r.output


def test_verify_json_of_a_loop_file(tmp_path: Path, cli: Callable[..., Any]) -> None:
    path = tmp_path / "rnn.grad"
    path.write_text(RNN + "claim ds/du = h[T]\n", encoding="utf-8")
    r = cli("verify", path, "--format", "json")
    assert r.exit_code == 0, r.output
    names = [c["name"] for c in json.loads(r.stdout)["checks"]]
    assert "derived ds/dh[0]" in names and "claim ds/du" in names


def test_a_failing_step_claim_keeps_its_step_in_its_name(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """`claim ds/dx[t]` after the loop fails (t has no value there), and says so under its own name,
    `claim ds/dx[t] (line N)`, not `claim ds/dx`; a claim with a broken expression keeps its step too,
    as written (`dh[T]`: a homework config's required claim names it so)."""
    path = tmp_path / "rnn.grad"
    lines = RNN.rstrip("\n").count("\n") + 1
    path.write_text(RNN + "claim ds/dx[t] = U^T d[t]\nclaim ds/dh[0] = W^T (u\nclaim dh[T]/dh[T-1] = W +\n",
                    encoding="utf-8")
    r = cli("verify", path)
    assert r.exit_code == 1, r.output
    failed = [line.split("FAIL", 1)[1].strip() for line in r.output.splitlines() if "FAIL" in line]
    assert failed == [f"claim ds/dx[t] (line {lines + 1})", f"claim ds/dh[0] (line {lines + 2})",
                      f"claim dh[T]/dh[T-1] (line {lines + 3})"], r.output  # as written, as a passing claim is named
    assert "the loop variable t is used outside its loop" in r.output


def test_numbers_of_an_unrolled_loop_match_numpy() -> None:
    from gradcheck_cli.numeric.evaluate import Context, evaluate, sample_inputs

    g = parse(RNN, "r.grad")
    env = sample_inputs(g, np.random.default_rng(3))
    h = env["h[0]"]
    for k in range(1, 5):
        h = np.tanh(env["W"] @ h + env["U"] @ env[f"x[{k}]"] + env["b"])
    np.testing.assert_allclose(evaluate(g.output, Context(g, env)), env["u"].T @ h)


# ---------------------------------------------------------------- --impl: a student's numpy BPTT

EXAMPLE_RNN = Path(__file__).resolve().parents[1] / "examples" / "rnn.grad"
EXAMPLE_BPTT = EXAMPLE_RNN.with_name("rnn_bptt.py")  # the bundled numpy BPTT the README points to


def _impl(tmp_path: Path, last: str = "", h0: str = '"h0"') -> str:
    """The bundled BPTT, or a slip of it: `last` runs at the end of every backward step, and the
    initial state's gradient is returned under the name `h0`."""
    text = EXAMPLE_BPTT.read_text(encoding="utf-8")
    assert "        dnext = d\n" in text and '"h0": W_hh.T @ dnext' in text
    if last:
        text = text.replace("        dnext = d\n", f"        dnext = d\n        {last}\n")
    text = text.replace('"h0": W_hh.T @ dnext', f"{h0}: W_hh.T @ dnext")
    path = tmp_path / "student.py"
    path.write_text(text, encoding="utf-8")
    return f"{path}:rnn_forward_backward"


def _impl_checks(cli: Callable[..., Any], target: str) -> dict[str, Any]:
    r = cli("verify", EXAMPLE_RNN, "--impl", target, "--format", "json")
    return {c["name"]: c for c in json.loads(r.stdout)["checks"] if c["kind"] == "impl"}


def test_impl_gets_sequences_as_T_by_D_arrays(tmp_path: Path, cli: Callable[..., Any]) -> None:
    checks = _impl_checks(cli, _impl(tmp_path))
    assert set(checks) == {"impl rnn_forward_backward: value"} | {
        f"impl rnn_forward_backward: grad {n}" for n in ("W_hh", "W_xh", "W_hy", "b", "h[0]")}
    assert all(c["ok"] for c in checks.values()), checks


def test_impl_accepts_h_0_for_the_initial_state(tmp_path: Path, cli: Callable[..., Any]) -> None:
    checks = _impl_checks(cli, _impl(tmp_path, h0='"h_0"'))
    assert checks["impl rnn_forward_backward: grad h[0]"]["ok"]


def test_impl_with_a_truncated_bptt_fails(tmp_path: Path, cli: Callable[..., Any]) -> None:
    checks = _impl_checks(cli, _impl(tmp_path, last="dnext = 0 * d"))  # forgets the recursion
    bad = sorted(n.split("grad ")[-1] for n, c in checks.items() if not c["ok"])
    assert bad == ["W_hh", "W_xh", "b", "h[0]"]


def test_impl_without_the_state_gradient_names_it_as_the_function_does(tmp_path: Path,
                                                                       cli: Callable[..., Any]) -> None:
    checks = _impl_checks(cli, _impl(tmp_path, h0='"h_start"'))
    message = checks["impl rnn_forward_backward: grad h[0]"]["message"]
    assert "no gradient for h0" in message and "(W_hh, W_xh, W_hy, b, h0)" in message


@pytest.mark.parametrize("extra,message,hint", [
    ("z = W h[0]   for t = 1..T\n", "a line with `for t = …` assigns a step at every t: z has no [t]",
     "write `z[t] = …   for t = …`"),
    ("g[t] = W^T g[t+1]   for t = T, …, 1\n", "unknown step g[t+1] (at t = 4: g[5]): g has no step defined yet",
     "a recursion backwards in time needs its boundary, e.g. `g[T+1] = 0`"),
    ("claim ds/dh[t] = u   for every k = 1..T\n", "a claim inside the loop over k is about a step",
     "write `claim ds/dh[k] = …` for every step"),
])
def test_one_line_loop_mistakes_say_what_to_write(extra: str, message: str, hint: str) -> None:
    err = _error(RNN + extra)
    assert message in err.message and err.hint is not None and hint in err.hint, (err.message, err.hint)
    assert err.span is not None and err.span.line == RNN.count("\n") + 1
