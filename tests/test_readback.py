"""Everything derive prints reads back (DSL.md: "Everything gradcheck prints reads back").

For every golden case, every example (the homework's too) and random graphs: each
gradient's unicode `text` form (shape convention, Jacobian form and the bracketed
chain `[uᵀ] · [diag(1 − h²)] · [I]`), pasted as a claim below derive's own
`with δ₂ = …` lines, parses and evaluates to the derived gradient; the same for
the `dsl` form. For the bundled examples the pasted file also passes `verify`.
"""

from __future__ import annotations

import re

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.lang.graph import Graph, parse
from gradcheck_cli.numeric.evaluate import Context, evaluate, sample_inputs
from gradcheck_cli.render.json import derivation_dict
from gradcheck_cli.numeric.verify import VerifyOptions, verify

from test_properties import PROPS, graphs, pinned

TESTS = Path(__file__).parent
ROOT = TESTS.parent
# files with a `for` loop: derive prints them in closed form (branch loops-derive); their unrolled
# derivation (T copies) is not what is read back or typeset
FILES = sorted(str(p.relative_to(ROOT)) for p in (TESTS / "golden").glob("*.grad")) + \
    sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").rglob("*.grad") if not re.search(r"^for \w+ = ", p.read_text(encoding="utf-8"), re.M))


def pasted_claims(text: str) -> list[tuple[str, str, str]]:
    """(wrt, which form, the file with derive's δ lines and that form pasted as the last claim)."""
    graph = parse(text)
    data = derivation_dict(derive(graph))
    deltas = "".join(f"{s['name']} = {s['text']}\n" for s in data["signals"])
    base = text if text.endswith("\n") else text + "\n"
    out = []
    for entry in data["gradients"]:
        for form in ("shape_convention", "jacobian"):
            shown = entry.get(form)
            if shown is None:
                continue
            forms = {"text": shown["text"], "dsl": shown["dsl"]}
            if shown.get("chain"):
                forms["chain"] = " · ".join(f"[{link['text']}]" for link in shown["chain"])
            for kind, rhs in forms.items():
                claim = f"claim d{data['output']}/d{entry['wrt']} = {rhs}\n"
                helpers = deltas if kind != "dsl" else ""
                out.append((entry["wrt"], f"{form} {kind}: {rhs}",
                            base + helpers + claim + f"output {graph.output_name}\n"))
    return out


def _context(graph: Graph, seed: int) -> Context:
    bind = {f: "tanh" for f in graph.generic_functions()}
    for k in range(50):
        ctx = Context(graph, sample_inputs(graph, np.random.default_rng(seed + k)), bind)
        with np.errstate(all="ignore"):
            if np.all(np.isfinite(evaluate(graph.output, ctx))):
                return ctx
    raise AssertionError("no random point with a finite output")


def check_reads_back(text: str, source: str = "<test>", kinds: tuple[str, ...] = ("text", "chain", "dsl")) -> int:
    graph = parse(text, source)
    by_wrt = {g.wrt: g for g in derive(graph).gradients}
    ctx = _context(graph, seed=3)
    checked = 0
    for wrt, what, pasted in pasted_claims(text):
        if what.split(":")[0].split()[-1] not in kinds:
            continue
        claimed = parse(pasted, source)
        assert claimed.output_name == graph.output_name, what
        claim = claimed.claims[-1]
        assert claim.error is None, f"∂/∂{wrt} {what} does not read back: {claim.error}\n{pasted}"
        assert claim.expr is not None
        g = by_wrt[wrt]
        want_expr = g.shape_form if what.startswith("shape_convention") else g.jacobian
        assert want_expr is not None
        c2 = Context(claimed, ctx.values, ctx.bind)
        with np.errstate(all="ignore"):
            want, got = evaluate(want_expr, c2), evaluate(claim.expr, c2)
        if claim.expr.op == "const" and claim.expr.param("value") == 0:  # `0`, a zero gradient
            got = np.zeros_like(want)
        assert got.shape == want.shape, f"∂/∂{wrt} {what}: {got.shape}, not {want.shape}"
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"∂/∂{wrt} {what}")
        checked += 1
    return checked


@pytest.mark.parametrize("path", FILES)
def test_every_printed_form_reads_back(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert check_reads_back(text, path) > 0


def test_the_chain_and_the_text_are_both_checked() -> None:
    kinds = {what.split(":")[0] for _, what, _ in pasted_claims((ROOT / "examples/mlp.grad").read_text())}
    assert {"shape_convention text", "shape_convention dsl", "jacobian text", "jacobian chain", "jacobian dsl"} <= kinds


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.grad") if not re.search(r"^for \w+ = ", p.read_text(encoding="utf-8"), re.M)))
def test_pasted_text_forms_pass_verify(path: str) -> None:
    """The whole pasted file, every text form a claim at once, through verify itself."""
    text = (ROOT / path).read_text(encoding="utf-8")
    graph = parse(text, path)
    data = derivation_dict(derive(graph))
    lines = [text.rstrip("\n")] + [f"{s['name']} = {s['text']}" for s in data["signals"]]
    n = 0
    for entry in data["gradients"]:
        for form in ("shape_convention", "jacobian"):
            if entry.get(form):
                lines.append(f"claim d{data['output']}/d{entry['wrt']} = {entry[form]['text']}")
                n += 1
    lines.append(f"output {graph.output_name}")
    pasted = parse("\n".join(lines) + "\n", path)
    report = verify(pasted, VerifyOptions(trials=1))
    claims = [c for c in report.checks if c.kind == "claim"]
    assert len(claims) >= n
    assert all(c.ok for c in claims), [(c.name, c.message) for c in claims if not c.ok]


@PROPS
@given(text=graphs())
@pinned()
def test_random_graphs_read_back(text: str) -> None:
    """The unicode forms; the dsl strings of random graphs are issue 13's (brackets where precedence is unsure)."""
    check_reads_back(text, kinds=("text", "chain"))


@pytest.mark.parametrize("src, ok", [
    ("claim dJ/dU = v (yhat - y)^T", True),          # CS224n word2vec: postfix binds tightest
    ("claim dJ/dU = v @ (yhat - y)^T", True),
    ("claim dJ/dU = v · (yhat - y)ᵀ", True),
    ("claim dJ/dU = (v (yhat - y))^T", False),        # the bracket closes the product first: 1×1 is wrong
])
def test_postfix_after_a_product_binds_to_its_argument(src: str, ok: bool) -> None:
    text = ("dims d = 3, V = 5\nU : d x V\nv : d\ny : onehot(V)\nyhat = softmax(U^T v)\n"
            "J = cross_entropy(y, yhat)\n" + src + "\n")
    report = verify(parse(text))
    claim = [c for c in report.checks if c.kind == "claim"][0]
    assert claim.ok is ok, claim.message


@pytest.mark.parametrize("path", ["tests/golden/two_layer_deltas.grad", "examples/window_ner.grad",
                                  "examples/softmax_xent.grad", "examples/batchnorm.grad"])
def test_derive_text_output_pasted_verbatim_passes(path: str) -> None:
    """The `with δ₂ = …` block copied as printed (keyword, indentation and all), then each
    `shape convention   ∂s/∂W = …` line as `claim ∂s/∂W = …`: verify passes."""
    from gradcheck_cli.render.text import render_plain

    text = (ROOT / path).read_text(encoding="utf-8")
    graph = parse(text, path)
    printed = render_plain(derive(graph)).splitlines()
    block, claims, inside = [], [], False
    for line in printed:
        if line.startswith("  with "):
            inside = True
        elif not line.startswith("        "):
            inside = False
        if inside:
            block.append(line)
        if "shape convention" in line:
            claims.append("claim " + line.split("shape convention", 1)[1].strip())
    assert claims
    pasted = parse(text.rstrip("\n") + "\n" + "\n".join(block + claims) + f"\noutput {graph.output_name}\n", path)
    checks = [c for c in verify(pasted, VerifyOptions(trials=1)).checks if c.kind == "claim"]
    assert len(checks) >= len(claims)
    assert all(c.ok for c in checks), [(c.name, c.message) for c in checks if not c.ok]
