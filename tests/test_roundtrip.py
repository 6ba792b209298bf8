"""The `dsl` strings of `derive --format json` are claims that hold.

For every golden case and every example: each derived `dsl` string (shape
convention and Jacobian form), pasted back into the file as
`claim dOUT/dWRT = <dsl>`, parses with the file's own names and evaluates,
with numpy at a random point, to the derived gradient (spec/CLI.md: "pasted
back as claims, they must pass verify").
"""

from __future__ import annotations

import re

import json
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.lang.graph import Graph, parse
from gradcheck_cli.numeric.evaluate import Context, evaluate, sample_inputs

TESTS = Path(__file__).parent
ROOT = TESTS.parent
FILES = sorted(str(p.relative_to(ROOT)) for p in (TESTS / "golden").glob("*.grad")) + \
    sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.grad")
           if not re.search(r"^for \w+ = ", p.read_text(encoding="utf-8"), re.M))  # loops: closed form (loops-derive)


def _context(graph: Graph, seed: int) -> Context:
    """A random point where the output is finite (log det needs det > 0); generic f = tanh."""
    bind = {f: "tanh" for f in graph.generic_functions()}
    for k in range(50):
        ctx = Context(graph, sample_inputs(graph, np.random.default_rng(seed + k)), bind)
        if np.all(np.isfinite(evaluate(graph.output, ctx))):
            return ctx
    raise AssertionError("no random point with a finite output")


def _with_claim(text: str, graph: Graph, num: str, den: str, dsl: str) -> str:
    out = text if text.endswith("\n") else text + "\n"
    out += f"claim d{num}/d{den} = {dsl}\n"
    if "\noutput " not in "\n" + text:  # a claim may use the output's name: keep the output fixed
        out += f"output {graph.output_name}\n"
    return out


@pytest.mark.parametrize("path", FILES)
def test_dsl_strings_are_claims_that_hold(path: str, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    r = cli("derive", path, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    text = (ROOT / path).read_text(encoding="utf-8")
    graph = parse(text, path)
    derivation = derive(graph)
    by_wrt = {g.wrt: g for g in derivation.gradients}
    ctx = _context(graph, seed=1)
    checked = 0
    for entry in data["gradients"]:
        g = by_wrt[entry["wrt"]]
        for form, expr in (("shape_convention", g.shape_form), ("jacobian", g.jacobian)):
            if entry[form] is None:
                assert expr is None or entry.get("skipped"), f"{entry['wrt']}: {form} missing from the JSON"
                continue
            dsl = entry[form]["dsl"]
            claimed = parse(_with_claim(text, graph, data["output"], entry["wrt"], dsl), path)
            assert claimed.output_name == graph.output_name
            claim = claimed.claims[-1]
            assert claim.error is None, f"∂/∂{entry['wrt']} {form}: `{dsl}` does not parse back: {claim.error}"
            assert claim.expr is not None
            want = evaluate(expr, Context(claimed, ctx.values, ctx.bind))
            got = evaluate(claim.expr, Context(claimed, ctx.values, ctx.bind))
            assert got.shape == want.shape, f"∂/∂{entry['wrt']} {form}: `{dsl}` is {got.shape}, not {want.shape}"
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12,
                                       err_msg=f"∂/∂{entry['wrt']} {form}: `{dsl}`")
            checked += 1
    assert checked or not data["gradients"], "no dsl string was checked"


@pytest.mark.parametrize("path", FILES)
def test_dsl_strings_use_only_file_names(path: str) -> None:
    """A dsl string never shows a display-only name (δ, δ₁): they are written out."""
    graph = parse((ROOT / path).read_text(encoding="utf-8"), path)
    from gradcheck_cli.render.json import derivation_dict

    data = derivation_dict(derive(graph))
    for entry in data["gradients"]:
        for form in ("shape_convention", "jacobian"):
            if entry[form] is not None:
                assert "δ" not in entry[form]["dsl"], entry[form]["dsl"]


# Files with a `for` loop (the sequence examples): sympy's entry-by-entry derivative of T unrolled steps
# takes minutes (flow_relu_rnn has 40), and derive reads them back in closed form (branch loops-derive
# compares that form with the unrolled one numerically); tests/test_loops_lang.py checks the unrolled numbers.
LONG_UNROLLED = tuple(sorted(p.stem for p in (ROOT / "examples").glob("*.grad")
                             if re.search(r"^for \w+ = ", p.read_text(encoding="utf-8"), re.M)))
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.grad") if p.stem not in LONG_UNROLLED)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_gradients_are_exact(name: str) -> None:
    """Every derived gradient of every example equals the entry-by-entry derivative (small sizes)."""
    from gradcheck_cli.derive.exact import Exact, difference
    from gradcheck_cli.lang.graph import load
    from gradcheck_cli.shapes import is_scalar

    graph = load(str(ROOT / "examples" / f"{name}.grad"))
    ex = Exact(graph)
    for g in derive(graph).gradients:
        if not is_scalar(graph.output.shape):
            if g.jacobian is not None:
                assert difference(g.jacobian, ex.jacobian(g.wrt), graph) is None
            continue
        assert g.shape_form is not None
        why = difference(g.shape_form, ex.gradient(g.wrt), graph)
        assert why is None, f"{name}: ∂/∂{g.wrt} = {g.shape_form}: {why}"
