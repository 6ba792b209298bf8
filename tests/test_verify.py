"""verify: correct answers pass on every seed, wrong ones fail with the right diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gradcheck_cli.cli import app
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.lang.graph import parse
from gradcheck_cli.numeric import checker
from gradcheck_cli.numeric.evaluate import Context, Function, evaluate, sample_inputs
from gradcheck_cli.shapes import using
from gradcheck_cli.numeric.verify import VerifyOptions, verify, verify_file

ROOT = Path(__file__).resolve().parents[1]
# every example whose claims are meant to be right (the homework's questions hold the student's
# TODOs and its submission a deliberate bug; its reference solution is right)
EXAMPLES = sorted((ROOT / "examples").glob("*.grad")) + sorted((ROOT / "examples" / "homework" / "reference").glob("*.grad"))

BASE = """\
dims n = 4, m = 6
W : n x m
x : m
b : n
u : n
z = W x + b
h = tanh(z)
s = u^T h
q = x^T x
L = s + q
delta = u * (1 - h^2)
output L
"""

RELU = """\
dims n = 5, m = 7
W : n x m
x : m
b : n
u : n
z = W x + b
s = u^T relu(z)
claim ds/dW = (u * relu'(z)) x^T
claim ds/db = u * relu'(z)
claim ds/dx = W^T (u * relu'(z))
"""


def run(args: list[str]) -> tuple[int, str]:
    r = CliRunner().invoke(app, args)
    return r.exit_code, r.output


def with_claim(tmp_path: Path, claim: str, base: str = BASE) -> Path:
    p = tmp_path / "t.grad"
    p.write_text(base + f"claim {claim}\n")
    return p


def claim_check(report, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in report.checks if c.kind == "claim" and c.name == name)


# ---------------------------------------------------------------- right answers pass


@pytest.mark.parametrize("claim", [
    "dL/dW = delta x^T",
    "dL/db = delta",
    "dL/dx = W^T delta + 2 * x",
    "dL/du = h",
    "dL/dz = delta",                    # an intermediate as the variable
    "dh/dz = diag(1 - h^2)",            # an intermediate as the output: a Jacobian
    "ds/dx = W^T delta",                # an intermediate output, scalar
])
def test_correct_claims_pass(tmp_path: Path, claim: str) -> None:
    rep = verify_file(str(with_claim(tmp_path, claim)))
    assert rep.ok, [c.message for c in rep.checks if not c.ok]
    assert any(c.kind == "claim" for c in rep.checks)


def test_jacobian_form_is_accepted_and_named(tmp_path: Path) -> None:
    rep = verify_file(str(with_claim(tmp_path, "dL/dx = (W^T delta + 2 * x)^T")))
    c = claim_check(rep, "claim dL/dx")
    assert c.ok and c.convention == "jacobian"
    assert "Jacobian form" in c.message


def test_convention_shape_is_strict(tmp_path: Path) -> None:
    p = with_claim(tmp_path, "dL/db = delta^T")
    rep = verify_file(str(p), VerifyOptions(convention="shape"))
    c = claim_check(rep, "claim dL/db")
    assert not c.ok and "shape convention" in c.message
    assert verify_file(str(p)).ok


# ---------------------------------------------------------------- wrong answers fail, with a diagnosis


@pytest.mark.parametrize("claim, diagnosis", [
    ("dL/dW = -delta x^T", "sign flipped"),
    ("dL/dW = 2 * delta x^T", "off by a factor of 2"),
    ("dL/dW = delta x^T / 2", "off by a factor of ½"),
    ("dL/dW = (u * h) x^T", "f used where f′ belongs"),
    ("dL/dx = W^T delta", "2 * x"),  # a term is missing: the one named
])
def test_wrong_claims_fail_with_diagnosis(tmp_path: Path, claim: str, diagnosis: str) -> None:
    rep = verify_file(str(with_claim(tmp_path, claim)))
    c = next(c for c in rep.checks if c.kind == "claim")
    assert not c.ok and c.status == "fail"
    assert c.diagnosis is not None and diagnosis in c.diagnosis, c.message
    assert c.worst_index is not None and c.line == 13


def test_transposed_claim_of_a_rectangular_matrix(tmp_path: Path) -> None:
    c = claim_check(verify_file(str(with_claim(tmp_path, "dL/dW = x delta^T"))), "claim dL/dW")
    assert not c.ok and "transpose" in c.message and c.diagnosis == "transposed"


def test_transposed_claim_of_a_square_matrix_is_caught_by_value(tmp_path: Path) -> None:
    text = "dims n = 4\nW : n x n\nx : n\nv : n\ns = v^T sigmoid(W x)\nd = v * sigmoid(W x) * (1 - sigmoid(W x))\n"
    c = claim_check(verify_file(str(with_claim(tmp_path, "ds/dW = x d^T", text))), "claim ds/dW")
    assert not c.ok and c.diagnosis == "transposed"


def test_one_wrong_entry_is_named(tmp_path: Path) -> None:
    g = parse(BASE)
    with using(g.env):
        d = derive(g, ["W"])
        pt = sample_inputs(g, np.random.default_rng(3))
        ctx = Context(g, pt)
        grad = evaluate(d.gradients[0].shape_form, ctx)
        grad[2, 5] *= 1 + 1e-4
        out = checker.check(Function(g.output, g.variables["W"].expr, ctx), grad, conv="shape", method="complex",
                            mode="full", sample=None, rng=np.random.default_rng(0),
                            rtol=None, scalar_out=True, label="W")
    assert not out.ok and out.worst_index == [2, 5]
    assert "W[2, 5]" in out.message and out.diagnosis == "one entry wrong"


def test_errors_inside_a_claim_fail_only_that_claim(tmp_path: Path) -> None:
    p = tmp_path / "t.grad"
    p.write_text(BASE + "claim dL/db = delta\nclaim dL/dW = W delta\nclaim dL/dx = nope\n")
    rep = verify_file(str(p))
    checks = {c.name: c for c in rep.checks if c.kind == "claim"}
    assert checks["claim dL/db"].ok
    assert checks["claim dL/dW"].status == "error" and "cannot multiply" in checks["claim dL/dW"].message
    assert checks["claim dL/dx"].status == "error" and "unknown name nope" in checks["claim dL/dx"].message
    code, out = run(["verify", str(p)])
    assert code == 1, out


@pytest.mark.parametrize("broken, message", [
    ("dL/dW = (delta x^T", "unclosed '('"),
    ("dL/dW = delta x^T)", "unexpected ')'"),
    ("dL/dW = delta +", "expected an expression"),
    ("dL/dW = delta $ x^T", "unexpected character '$'"),
])
def test_a_syntax_error_inside_a_claim_fails_only_that_claim(tmp_path: Path, broken: str, message: str) -> None:
    """A student's unparseable answer costs that answer, not the other claims (DSL.md, Claims)."""
    p = tmp_path / "t.grad"
    p.write_text(BASE + "claim dL/db = delta\n" + f"claim {broken}  # the student's answer\n"
                 + "claim dL/du = h\n")
    rep = verify_file(str(p))
    checks = {c.name: c for c in rep.checks if c.kind == "claim"}
    assert checks["claim dL/db"].ok and checks["claim dL/du"].ok
    bad = checks["claim dL/dW"]
    assert bad.status == "error" and message in bad.message and bad.line == BASE.count("\n") + 2
    assert sum(c.ok for c in rep.checks if c.kind == "derived") == 4  # the graph itself is intact
    code, out = run(["verify", str(p)])
    assert code == 1 and "FAIL  claim dL/dW" in out, out
    # the text report points at the place with a caret; the annotation carries the column
    caret_line = next(line for line in out.splitlines() if line.strip().startswith("| ") and line.strip().endswith("^"))
    assert caret_line.index("^") - caret_line.index("|") - 2 == bad.column - 1
    code, out = run(["verify", str(p), "--format", "github"])
    assert f"line={bad.line},col={bad.column}," in out, out


@pytest.mark.parametrize("text", [
    BASE + "claim dL/ = delta\n",          # the claim's head is the broken part: not an answer
    BASE + "z2 = (W x\nclaim dL/db = delta\n",  # a broken graph line stops the run
])
def test_syntax_errors_outside_a_claims_answer_stop_the_run(tmp_path: Path, text: str) -> None:
    p = tmp_path / "t.grad"
    p.write_text(text)
    code, out = run(["verify", str(p)])
    assert code == 2 and "error[syntax]" in out and "^" in out, out


def test_generic_f_claims_must_hold_for_every_f(tmp_path: Path) -> None:
    text = "dims n = 3, m = 4\nW : n x m\nx : m\nu : n\nf : function\nz = W x\nh = f(z)\ns = u^T h\n"
    p = with_claim(tmp_path, "ds/dW = (u * (1 - h^2)) x^T", text)
    assert not verify_file(str(p)).ok  # only true for tanh
    assert verify_file(str(p), VerifyOptions(bind={"f": "tanh"})).ok
    p2 = with_claim(tmp_path, "ds/dW = (u * f'(z)) x^T", text)
    rep = verify_file(str(p2))
    assert rep.ok and any("generic" in n for n in rep.notes)


TWO_GENERIC = ("dims n = 3, m = 4, k = 5\nW : n x m\nV : k x m\nx : m\nf : function\ng : function\n"
               "s = sum(f(W x)) + sum(g(V x))\n")
COMPOSED = "dims n = 3\nx : n\nf : function\ng : function\ns = sum(f(g(x)))\n"


@pytest.mark.parametrize("text, wrong, right, diagnosis", [
    (TWO_GENERIC, "W^T g'(W x) + V^T f'(V x)", "W^T f'(W x) + V^T g'(V x)", "two generic functions swapped (f′ and g′)"),
    (COMPOSED, "g'(f(x)) * f'(x)", "f'(g(x)) * g'(x)", "two generic functions composed the other way (g∘f for f∘g)"),
])
def test_two_generic_functions_are_told_apart(tmp_path: Path, text: str, wrong: str, right: str,
                                              diagnosis: str) -> None:
    """f and g are bound to different functions in every round: confusing them cannot pass."""
    rep = verify_file(str(with_claim(tmp_path, f"ds/dx = {wrong}", text)))
    c = claim_check(rep, "claim ds/dx")
    assert not c.ok and c.diagnosis == diagnosis, c.message
    assert any("f, g are generic: each round binds them to different functions" in n for n in rep.notes), rep.notes
    assert verify_file(str(with_claim(tmp_path, f"ds/dx = {right}", text))).ok


def test_generic_rounds_bind_apart_in_several_pairings() -> None:
    from gradcheck_cli.symbolic.elementwise import GENERIC_STANDINS, MAX_GENERIC, generic_rounds

    for k in range(1, MAX_GENERIC + 1):
        names = [f"f{j}" for j in range(k)]
        rounds = generic_rounds(names)
        assert len(rounds) == len(GENERIC_STANDINS)
        for b in rounds:
            assert sorted(b) == names and len(set(b.values())) == k  # never two alike in a round
        if k >= 2:
            assert len({(b["f0"], b["f1"]) for b in rounds}) == len(rounds)  # a new pairing every round
        assert {b["f0"] for b in rounds} == set(GENERIC_STANDINS)  # each function meets every stand-in


def test_too_many_generic_functions_is_a_usage_error(tmp_path: Path) -> None:
    fs = [f"f{j}" for j in range(8)]
    text = "dims n = 2\nx : n\n" + "".join(f"{f} : function\n" for f in fs) + \
        "s = " + " + ".join(f"sum({f}(x))" for f in fs) + "\n"
    p = tmp_path / "many.grad"
    p.write_text(text)
    code, out = run(["verify", str(p)])
    assert code == 2 and "--bind" in out, out


def test_nan_is_reported(tmp_path: Path) -> None:
    text = "dims n = 3\nx : n\ns = sum(exp(x))\n"
    rep = verify_file(str(with_claim(tmp_path, "ds/dx = exp(x) / (x - x)", text)))
    c = claim_check(rep, "claim ds/dx")
    assert not c.ok and ("NaN" in c.message or "Inf" in c.message)


# ---------------------------------------------------------------- never cry wolf


def _cases() -> list[Path]:
    conformance = ROOT.parent / "shared" / "conformance" / "cases"
    return EXAMPLES + sorted(conformance.glob("*.grad"))


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.name)
def test_no_false_failures_over_200_seeds(path: Path) -> None:
    """Correct derived gradients and reference claims pass on every one of 200 seeds."""
    graph_fails = []
    for seed in range(200):
        rep = verify_file(str(path), VerifyOptions(seed=seed, trials=1))
        if not rep.ok:
            graph_fails.append((seed, [c.message for c in rep.checks if not c.ok]))
    assert not graph_fails, graph_fails[:3]


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.name)
def test_no_false_failures_central_differences(path: Path) -> None:
    for seed in range(30):
        rep = verify_file(str(path), VerifyOptions(seed=seed, trials=1, method="central"))
        assert rep.ok, (seed, [c.message for c in rep.checks if not c.ok])


@pytest.mark.parametrize("method", ["central", "complex", "richardson"])
def test_relu_kinks_3e_7_away_are_never_failures(method: str) -> None:
    g = parse(RELU)
    rng = np.random.default_rng(11)
    points = []
    for _ in range(20):
        pt = sample_inputs(g, rng)
        wx = pt["W"] @ pt["x"]
        # plant every pre-activation 3e-7 from the kink, on either side
        pt["b"] = -wx + 3e-7 * rng.choice([-1.0, 1.0], size=wx.shape)
        points.append(pt)
    rep = verify(g, VerifyOptions(points=points, method=method))
    assert rep.ok, [c.message for c in rep.checks if not c.ok]


def test_relu_wrong_claim_still_fails_near_kinks() -> None:
    g = parse(RELU.replace("claim ds/dx = W^T (u * relu'(z))", "claim ds/dx = W^T u"))
    rng = np.random.default_rng(5)
    pt = sample_inputs(g, rng)
    pt["b"] = -(pt["W"] @ pt["x"]) + 3e-7 * rng.choice([-1.0, 1.0], size=(5, 1))
    rep = verify(g, VerifyOptions(points=[pt], method="central"))
    assert not claim_check(rep, "claim ds/dx").ok


# ---------------------------------------------------------------- one-entry mutants at every size


@pytest.mark.parametrize("n, m", [(10, 10), (25, 40), (100, 100), (200, 500)])
def test_one_entry_off_by_1e_4_is_caught_at_every_size(n: int, m: int) -> None:
    g = parse(f"dims n = {n}, m = {m}\nW : n x m\nx : m\nu : n\ns = u^T tanh(W x)\n")
    with using(g.env):
        d = derive(g, ["W"])
        ctx = Context(g, sample_inputs(g, np.random.default_rng(1)))
        grad = evaluate(d.gradients[0].shape_form, ctx)
        fun = Function(g.output, g.variables["W"].expr, ctx)
        ok = checker.check(fun, grad, conv="shape", method="complex", mode="auto", sample=None,
                           rng=np.random.default_rng(0), rtol=None, scalar_out=True, label="W")
        assert ok.ok, ok.message
        bad = grad.copy()
        i, j = n // 2, m // 3
        bad[i, j] *= 1 + 1e-4
        out = checker.check(Function(g.output, g.variables["W"].expr, ctx), bad, conv="shape", method="complex",
                            mode="auto", sample=None, rng=np.random.default_rng(0), rtol=None, scalar_out=True,
                            label="W")
    assert not out.ok
    assert out.worst_index == [i, j], out.message
    assert out.mode == ("full" if n * m <= checker.FULL_LIMIT else "fast")


# ---------------------------------------------------------------- the CLI contract


def test_exit_codes_and_json_shape(tmp_path: Path) -> None:
    good = with_claim(tmp_path, "dL/dW = delta x^T")
    code, out = run(["verify", str(good), "--format", "json"])
    assert code == 0, out
    data = json.loads(out)
    assert data["ok"] is True and data["seed"] == 0
    keys = {"name", "kind", "ok", "convention", "max_abs_error", "max_rel_error", "worst_index", "evaluations",
            "method", "line", "message"}
    for c in data["checks"]:
        assert keys <= set(c), set(c)
        assert c["kind"] in ("derived", "claim", "impl")
    bad = tmp_path / "bad.grad"
    bad.write_text(BASE + "claim dL/dW = -delta x^T\n")
    code, out = run(["verify", str(bad), "--format", "json"])
    assert code == 1
    failed = [c for c in json.loads(out)["checks"] if not c["ok"]]
    assert failed[0]["name"] == "claim dL/dW" and failed[0]["line"] == 13
    broken = tmp_path / "broken.grad"
    broken.write_text("W : n x m\nx : n\ns = sum(W x)\n")
    code, out = run(["verify", str(broken)])
    assert code == 2 and "Traceback" not in out


def test_seed_is_printed_and_changes_points(tmp_path: Path) -> None:
    p = with_claim(tmp_path, "dL/dW = delta x^T")
    code, out = run(["verify", str(p), "--seed", "7"])
    assert code == 0 and "seed 7" in out
    # the points themselves differ (the errors at them may both round to the same ε-sized value)
    from gradcheck_cli.lang.graph import load
    from gradcheck_cli.numeric.verify import sample_points

    g = load(str(p))
    a = [pt.ctx.values for pt in sample_points(g, VerifyOptions(seed=1))]
    b = [pt.ctx.values for pt in sample_points(g, VerifyOptions(seed=2))]
    assert not np.array_equal(a[0]["W"], b[0]["W"])
    assert verify_file(str(p), VerifyOptions(seed=1)).ok and verify_file(str(p), VerifyOptions(seed=2)).ok


def test_modes_are_reported(tmp_path: Path) -> None:
    p = with_claim(tmp_path, "dL/dW = delta x^T")
    for flag, mode in (("--full", "full"), ("--fast", "fast")):
        code, out = run(["verify", str(p), flag, "--format", "json"])
        assert code == 0, out
        assert {c["mode"] for c in json.loads(out)["checks"]} == {mode}
    code, out = run(["verify", str(p), "--sample", "5", "--format", "json"])
    assert code == 0 and "sampled" in out
    code, out = run(["verify", str(p), "--full", "--fast"])
    assert code == 2


def test_bind_flag_validation(tmp_path: Path) -> None:
    text = "dims n = 3, m = 4\nW : n x m\nx : m\nu : n\nf : function\ns = u^T f(W x)\n"
    p = tmp_path / "f.grad"
    p.write_text(text)
    assert run(["verify", str(p), "--bind", "f=tanh"])[0] == 0
    assert run(["verify", str(p), "--bind", "f=nonsense"])[0] == 2
    assert run(["verify", str(p), "--bind", "g=tanh"])[0] == 2


def test_vector_output_jacobian_claims_are_diagnosed(tmp_path: Path) -> None:
    """dh/dz = diag(h) for h = tanh(z): the f-for-f′ slip is named for Jacobians too."""
    p = tmp_path / "j.grad"
    p.write_text("dims n = 3, m = 4\nW : n x m\nx : m\nb : n\nz = W x + b\nh = tanh(z)\n"
                 "claim dh/dz = diag(h)\nclaim dh/dx = diag(1 - h^2) W\noutput h\n")
    rep = verify_file(str(p))
    wrong, right = claim_check(rep, "claim dh/dz"), claim_check(rep, "claim dh/dx")
    assert right.ok and right.convention == "jacobian"
    assert not wrong.ok and wrong.diagnosis is not None and "f used where f′ belongs" in wrong.diagnosis


# ---------------------------------------------------------------- every op, through the whole pipeline

SWEEP_HEAD = "dims n = 3, m = 4\nW : n x m\nx : m\nu : n\nA : n x n\nS : n x n spd\ny : onehot(n)\n"
SWEEP = [
    "sum(sigmoid(W x))", "sum(σ(W x))", "sum(leaky_relu(W x, 0.1))", "sum(elu(W x))", "sum(gelu(W x))",
    "sum(softplus(W x))", "sum(hardtanh(W x))", "sum(exp(W x))", "sum(log(softplus(W x)))",
    "sum(sqrt(softplus(W x)))", "sum(abs(W x))", "sum(sin(W x) * cos(W x))", "sum(tan(0.1 * W x))",
    "sum(max(W x, u))", "sum(min(W x, u))", "logsumexp(W x)", "u^T log_softmax(W x)",
    "cross_entropy(y, softmax(W x))", "mean(W x)", "norm(W x)", "tr(A)", "logdet(S)", "det(A)",
    "sum(A^-1 u)", "sum(inv(S) u)", "u^T diag(W x) u", "sum(diag(A))", "u' A u", "sum([W x; u])",
    "sum(mean(A, axis=0))", "sum(sum(A, axis=1))", "(u^T A u)^2", "sum((W x)^3)", "sum(W x / (1 + u * u))",
    "sum(-W x)", "sum(u ∘ (A u))", "uᵀ(Au)", "sum(W @ x)", "sum(2 * W x - u / 3)", "sum(relu(W x + u))",
    "sum(tanh(A) @ u)", "sum(exp(-(u^T u)) * u)",
]


@pytest.mark.parametrize("method", ["auto", "central"])
@pytest.mark.parametrize("body", SWEEP)
def test_every_function_verifies_with_unused_variables_declared(tmp_path: Path, body: str, method: str) -> None:
    """Each op's derivation agrees with the numerics, in a file that also declares variables the
    output does not use (their gradient is 0, and a complex step through them stays complex)."""
    p = tmp_path / "op.grad"
    p.write_text(SWEEP_HEAD + f"s = {body}\noutput s\n")
    rep = verify_file(str(p), VerifyOptions(method=method))
    assert rep.ok, [c.message for c in rep.checks if not c.ok]
    assert {c.wrt for c in rep.checks} >= {"W", "u", "A", "S"}
