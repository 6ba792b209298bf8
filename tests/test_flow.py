"""`gradcheck flow`: gradient norms per layer and per time step, and the verdicts they lead to.

The numbers are checked against an independent numpy computation (the RNN's
Jacobian product ∏ diag(f′(W h_{t−1})) W, an MLP's hand-written backprop) at
the very points flow samples; the verdicts on the notes' ReLU RNN (exploding
with W_hh × 3, vanishing with × 0.2), a healthy MLP, a dead ReLU layer, a
saturated tanh layer and a deep sigmoid MLP; the formats (JSON stable and
strict, SVG well-formed XML), the exit codes and one real subprocess.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli.numeric.flow import FACTOR, FlowOptions, _contexts, flow
from gradcheck_cli.lang.graph import load, parse
from gradcheck_cli.numeric.evaluate import Function
from gradcheck_cli.render.flow import BAR, render_flow_json, render_flow_svg, render_flow_text

ROOT = Path(__file__).parent.parent
RELU_RNN = ROOT / "examples" / "flow_relu_rnn.grad"
SVG = "{http://www.w3.org/2000/svg}"


def rnn_text(H: int, T: int, fn: str = "relu", inputs: bool = False) -> str:
    """An RNN unrolled by hand: h_t = fn(W h_{t−1} [+ U x_t]), s = sum(h_T)."""
    lines = [f"# a {fn} RNN over {T} steps", f"dims H = {H}, D = 3", "W : H x H", "h0 : H"]
    if inputs:
        lines.append("U : H x D")
        lines += [f"x{t} : D const" for t in range(1, T + 1)]
    for t in range(1, T + 1):
        lines.append(f"h{t} = {fn}(W h{t - 1}" + (f" + U x{t})" if inputs else ")"))
    lines.append(f"s = sum(h{T})")
    return "\n".join(lines) + "\n"


MLP = """# a healthy two-layer tanh net
dims n = 16, m = 12, c = 4
W1 : n x m
W2 : c x n
x : m const
u : c
h1 = tanh(W1 x)
h2 = tanh(W2 h1)
s = u^T h2
"""

DEAD = """# relu units pushed below zero by a constant offset
dims n = 16, m = 12
W : n x m
x : m const
u : n
z = W x - 4
h = relu(z)
s = u^T h
"""


def deep_sigmoid(L: int = 12) -> str:
    lines = ["# a deep sigmoid MLP", "dims n = 10", "x : n const", "u : n"]
    lines += [f"W{i} : n x n" for i in range(1, L + 1)]
    prev = "x"
    for i in range(1, L + 1):
        lines.append(f"h{i} = sigmoid(W{i} {prev})")
        prev = f"h{i}"
    lines.append(f"s = u^T {prev}")
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def strict_json(text: str) -> Any:
    """json.loads that rejects NaN and Infinity (which are not JSON)."""
    def bad(c: str) -> None:
        raise ValueError(f"non-JSON constant {c}")
    return json.loads(text, parse_constant=bad)


# ---------------------------------------------------------------------------
# an independent numpy reference for an unrolled RNN


def _act(fn: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if fn == "relu":
        return np.maximum(0, z), (z > 0).astype(float)
    if fn == "tanh":
        return np.tanh(z), 1 - np.tanh(z) ** 2
    s = 1 / (1 + np.exp(-z))
    return s, s * (1 - s)


def rnn_reference(W: np.ndarray, h0: np.ndarray, T: int, fn: str) -> tuple[list[float], list[float]]:
    """(‖∂s/∂h_k‖ for k = 0…T, ‖∂h_T/∂h_k‖₂ for k = 0…T−1) with s = sum(h_T), by the Jacobian product."""
    h, steps = h0, []
    for _ in range(T):
        a, d = _act(fn, W @ h)
        steps.append(d.reshape(-1, 1) * W)  # ∂h_t/∂h_{t−1} = diag(f′(W h_{t−1})) W
        h = a
    J = np.eye(len(h0))
    jac, grads = [np.inf] * T, [0.0] * (T + 1)
    grads[T] = float(np.linalg.norm(np.ones(len(h0))))
    for k in range(T - 1, -1, -1):
        J = J @ steps[k]  # ∂h_T/∂h_k
        jac[k] = float(np.linalg.norm(J, 2))
        grads[k] = float(np.linalg.norm(J.T @ np.ones(len(h0))))
    return grads, jac


def _check_rnn_against_reference(text: str, T: int, fn: str, scale: float, seed: int = 0, points: int = 4) -> None:
    graph = parse(text, "rnn.grad", seed)
    opts = FlowOptions(seed=seed, points=points, scales={"W": scale})
    report = flow(graph, opts)
    assert report.kind == "time" and report.series == "h"
    assert [m.name for m in report.recurrent] == ["W"]
    assert report.chain is not None and report.chain.last == f"h{T}"
    layers = {l.name: l for l in report.layers}
    assert list(layers) == [f"h{k}" for k in range(T + 1)]
    for p, ctx in enumerate(_contexts(graph, opts, report.bind)):
        W, h0 = ctx.values["W"], ctx.values["h0"]
        grads, jac = rnn_reference(W, h0, T, fn)
        for k in range(T + 1):
            assert math.isclose(layers[f"h{k}"].norms[p], grads[k], rel_tol=1e-9, abs_tol=1e-300), (k, p)
        for name, d, ns in zip(report.chain.names, report.chain.distances, report.chain.norms):
            k = int(name[1:])
            assert d == T - k
            assert math.isclose(ns[p], jac[k], rel_tol=1e-9, abs_tol=1e-300), (k, p)
        assert math.isclose(report.recurrent[0].radii[p], max(abs(np.linalg.eigvals(W))), rel_tol=1e-12)


def test_relu_rnn_norms_match_the_jacobian_product() -> None:
    _check_rnn_against_reference(rnn_text(5, 12), 12, "relu", 1.5)


@settings(max_examples=12, deadline=None)
@given(H=st.integers(2, 6), T=st.integers(2, 9), fn=st.sampled_from(["relu", "tanh", "sigmoid"]),
       scale=st.sampled_from([0.3, 1.0, 2.5]), seed=st.integers(0, 50))
def test_random_rnns_match_the_jacobian_product(H: int, T: int, fn: str, scale: float, seed: int) -> None:
    """Random unrolled recurrences (size, length, step function, scale): every norm flow reports
    equals the numpy product of the step Jacobians, and the verdict follows the fitted slope."""
    _check_rnn_against_reference(rnn_text(H, T, fn), T, fn, scale, seed, points=2)
    report = flow(parse(rnn_text(H, T, fn), "rnn.grad", seed), FlowOptions(seed=seed, points=2, scales={"W": scale}))
    kinds = {v.kind for v in report.verdicts} & {"vanishing", "exploding"}
    c = report.chain
    assert c is not None
    expected = {"exploding"} if c.total > FACTOR else {"vanishing"} if c.total < 1 / FACTOR else set()
    if any(l.overflow for l in report.layers) or any(math.isinf(l.norm) for l in report.layers):
        expected = {"exploding"}
    assert kinds == expected


SMOOTH = ("tanh", "sigmoid", "softplus", "sin", "gelu")


@settings(max_examples=10, deadline=None)
@given(widths=st.lists(st.integers(1, 5), min_size=2, max_size=5), data=st.data(), seed=st.integers(0, 50))
def test_random_mlp_layer_norms_match_central_differences(widths: list[int], data: st.DataObject, seed: int) -> None:
    """Random MLPs (depth, widths, a smooth function from the op table per layer, a named
    pre-activation or not): the norm flow reports for every layer equals the norm of the central
    difference of the file's own forward pass with that layer's value perturbed."""
    fns = data.draw(st.lists(st.sampled_from(SMOOTH), min_size=len(widths) - 1, max_size=len(widths) - 1))
    named_z = data.draw(st.lists(st.booleans(), min_size=len(widths) - 1, max_size=len(widths) - 1))
    dims = ", ".join(f"n{i} = {w}" for i, w in enumerate(widths))
    lines = ["# a random MLP", f"dims {dims}", "x : n0 const", f"u : n{len(widths) - 1}"]
    lines += [f"W{i} : n{i} x n{i - 1}" for i in range(1, len(widths))]
    prev = "x"
    for i, (fn, z) in enumerate(zip(fns, named_z), start=1):
        if z:
            lines += [f"z{i} = W{i} {prev}", f"h{i} = {fn}(z{i})"]
        else:
            lines.append(f"h{i} = {fn}(W{i} {prev})")
        prev = f"h{i}"
    lines.append(f"s = u^T {prev}")
    graph = parse("\n".join(lines) + "\n", "mlp.grad")
    opts = FlowOptions(seed=seed, points=2)
    report = flow(graph, opts)
    assert [l.name for l in report.layers] == [n for n in graph.values if n != "s"]
    for p, ctx in enumerate(_contexts(graph, opts, {})):
        for layer in report.layers:
            fun = Function(graph.output, graph.values[layer.name], ctx)
            x0 = fun.x0
            g = np.zeros_like(x0)
            for i in np.ndindex(x0.shape):
                h = 1e-6 * max(1.0, abs(x0[i]))
                up, down = x0.copy(), x0.copy()
                up[i] += h
                down[i] -= h
                g[i] = (fun.scalar(up) - fun.scalar(down)) / (2 * h)
            assert math.isclose(layer.norms[p], float(np.linalg.norm(g)), rel_tol=1e-5, abs_tol=1e-8), layer.name


# ---------------------------------------------------------------------------
# the notes' example: exploding with W_hh × 3, vanishing with × 0.2


def _flow_json(cli: Callable[..., Any], *args: object) -> dict[str, Any]:
    r = cli("flow", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    return strict_json(r.stdout)  # type: ignore[no-any-return]


def test_relu_rnn_explodes_with_the_recurrent_matrix_scaled_by_3(cli: Callable[..., Any]) -> None:
    d = _flow_json(cli, RELU_RNN, "--scale", "W_hh=3")
    assert d["kind"] == "time" and d["series"] == "h" and d["scale"] == {"W_hh": 3.0}
    assert [m["name"] for m in d["recurrent"]] == ["W_hh"]
    assert d["recurrent"][0]["spectral_radius"] > 1
    assert d["jacobian"]["slope"] > 0 and d["jacobian"]["last"] == "h[40]" and d["jacobian"]["span"] == 40
    assert [v["kind"] for v in d["verdicts"]] == ["exploding"]
    norms = [l["norm"] for l in d["layers"]]
    assert [l["name"] for l in d["layers"]] == [f"h[{k}]" for k in range(41)]
    assert norms[0] > 1e6 * norms[-1]  # the gradient reaching h0 is huge
    r = cli("flow", RELU_RNN, "--scale", "W_hh=3", "--fail-on", "exploding")
    assert r.exit_code == 1, r.output
    assert "EXPLODING" in r.stdout
    r = cli("flow", RELU_RNN, "--scale", "W_hh=3", "--fail-on", "vanishing,dead,saturated")
    assert r.exit_code == 0, r.output


def test_relu_rnn_vanishes_with_the_recurrent_matrix_scaled_by_0_2(cli: Callable[..., Any]) -> None:
    d = _flow_json(cli, RELU_RNN, "--scale", "W_hh=0.2")
    assert d["recurrent"][0]["spectral_radius"] < 1
    assert d["jacobian"]["slope"] < 0 and d["jacobian"]["total"] < 1 / FACTOR
    assert [v["kind"] for v in d["verdicts"]] == ["vanishing"]
    assert "W_hh" in d["verdicts"][0]["message"]  # the spectral radius is named
    r = cli("flow", RELU_RNN, "--scale", "W_hh=0.2", "--fail-on", "vanishing,exploding,dead")
    assert r.exit_code == 1, r.output
    assert "VANISHING" in r.stdout


def test_scaling_multiplies_the_sampled_matrix() -> None:
    graph = load(str(RELU_RNN))
    base = _contexts(graph, FlowOptions(points=2), {})
    scaled = _contexts(graph, FlowOptions(points=2, scales={"W_hh": 3.0}), {})
    for b, s in zip(base, scaled):
        np.testing.assert_allclose(s.values["W_hh"], 3 * b.values["W_hh"])
        np.testing.assert_array_equal(s.values["h[0]"], b.values["h[0]"])


def test_recurrent_matrix_spectral_radius_scales_with_it() -> None:
    graph = load(str(RELU_RNN))
    one = flow(graph, FlowOptions(points=3)).recurrent[0].radii
    three = flow(graph, FlowOptions(points=3, scales={"W_hh": 3})).recurrent[0].radii
    np.testing.assert_allclose(three, 3 * np.array(one), rtol=1e-10)


# ---------------------------------------------------------------------------
# MLPs: healthy, dead, saturated, vanishing with depth


def test_healthy_mlp_has_no_verdict(tmp_path: Path, cli: Callable[..., Any]) -> None:
    path = write(tmp_path, "mlp.grad", MLP)
    d = _flow_json(cli, path)
    assert d["kind"] == "layers" and d["recurrent"] == [] and d["jacobian"] is None
    assert d["verdicts"] == []
    assert [l["name"] for l in d["layers"]] == ["h1", "h2"]
    assert all(a["saturated"] < 0.25 for a in d["activations"])
    r = cli("flow", path, "--fail-on", "vanishing,exploding,dead,saturated")
    assert r.exit_code == 0, r.output
    assert "healthy" in r.stdout


def test_mlp_layer_norms_match_hand_written_backprop(tmp_path: Path) -> None:
    graph = parse(MLP, "mlp.grad")
    opts = FlowOptions(points=3)
    report = flow(graph, opts)
    layers = {l.name: l for l in report.layers}
    params = {p.name: p for p in report.parameters}
    for p, ctx in enumerate(_contexts(graph, opts, {})):
        v = ctx.values
        h1 = np.tanh(v["W1"] @ v["x"])
        h2 = np.tanh(v["W2"] @ h1)
        g_h2 = v["u"]
        g_z2 = g_h2 * (1 - h2 ** 2)
        g_h1 = v["W2"].T @ g_z2
        g_W1 = (g_h1 * (1 - h1 ** 2)) @ v["x"].T
        assert math.isclose(layers["h2"].norms[p], np.linalg.norm(g_h2), rel_tol=1e-12)
        assert math.isclose(layers["h1"].norms[p], np.linalg.norm(g_h1), rel_tol=1e-12)
        assert math.isclose(params["W2"].norms[p], np.linalg.norm(g_z2 @ h1.T), rel_tol=1e-12)
        assert math.isclose(params["W1"].norms[p], np.linalg.norm(g_W1), rel_tol=1e-12)
    assert "x" not in params  # data: no gradient asked


def test_dead_relu_layer(tmp_path: Path, cli: Callable[..., Any]) -> None:
    path = write(tmp_path, "dead.grad", DEAD)
    d = _flow_json(cli, path)
    (act,) = d["activations"]
    assert act["function"] == "relu" and act["at"] == "h" and act["units"] == 16
    # independently: a unit is dead when W x − 4 ≤ 0 at every one of the 16 points
    graph = load(str(path))
    zs = np.stack([c.values["W"] @ c.values["x"] - 4 for c in _contexts(graph, FlowOptions(), {})])
    assert act["dead"] == pytest.approx(float(np.mean(np.all(zs <= 0, axis=0))))
    assert act["dead"] >= 0.25
    assert [v["kind"] for v in d["verdicts"]] == ["dead"]  # not "vanishing": z → h is one layer
    r = cli("flow", path, "--fail-on", "dead")
    assert r.exit_code == 1, r.output
    assert "DEAD" in r.stdout


def test_saturated_tanh_layer(tmp_path: Path, cli: Callable[..., Any]) -> None:
    path = write(tmp_path, "mlp.grad", MLP)
    d = _flow_json(cli, path, "--scale", "W1=10")
    sat = {a["at"]: a["saturated"] for a in d["activations"]}
    graph = load(str(path))
    zs = np.stack([10 * c.values["W1"] @ c.values["x"]
                   for c in _contexts(graph, FlowOptions(), {})])
    assert sat["h1"] == pytest.approx(float(np.mean(1 - np.tanh(zs) ** 2 < 1e-3)))
    assert sat["h1"] >= 0.25
    assert "saturated" in [v["kind"] for v in d["verdicts"]]
    assert any(v["where"] == "h1" for v in d["verdicts"] if v["kind"] == "saturated")
    assert cli("flow", path, "--scale", "W1=10", "--fail-on", "saturated").exit_code == 1
    assert cli("flow", path, "--scale", "W1=10", "--fail-on", "dead").exit_code == 0


def test_deep_sigmoid_mlp_vanishes(tmp_path: Path, cli: Callable[..., Any]) -> None:
    d = _flow_json(cli, write(tmp_path, "deep.grad", deep_sigmoid(12)))
    assert d["kind"] == "layers" and d["recurrent"] == []  # twelve different matrices: nothing recurrent
    assert [v["kind"] for v in d["verdicts"]] == ["vanishing"]
    assert d["verdicts"][0]["where"] == "h1…h12"
    assert d["layers"][0]["norm"] < d["layers"][-1]["norm"] / FACTOR


def test_overflow_is_exploding_and_json_stays_strict(tmp_path: Path, cli: Callable[..., Any]) -> None:
    path = write(tmp_path, "rnn.grad", rnn_text(4, 30, "relu"))
    d = _flow_json(cli, path, "--scale", "W=1e15", "--points", "2")
    (exploding,) = [v for v in d["verdicts"] if v["kind"] in ("exploding", "vanishing")]
    assert exploding["kind"] == "exploding" and "overflows" in exploding["message"]
    assert any(p["norm"] is None for p in d["parameters"])  # ∂s/∂W is Inf: written as null


# ---------------------------------------------------------------------------
# what counts as a layer, a series, a recurrent matrix


def test_series_includes_the_declared_initial_state_and_underscored_names() -> None:
    text = re.sub(r"\bh(\d)", r"h_\1", rnn_text(3, 4, "tanh", inputs=True))
    graph = parse(text, "u.grad")
    report = flow(graph, FlowOptions(points=2))
    assert report.series == "h" and report.kind == "time"
    assert [l.name for l in report.layers] == ["h_0", "h_1", "h_2", "h_3", "h_4"]
    assert [l.step for l in report.layers] == [0, 1, 2, 3, 4]
    assert [m.name for m in report.recurrent] == ["W"]  # U (H×D, applied to data) is not


def test_a_square_matrix_used_twice_in_parallel_is_not_recurrent() -> None:
    text = """# the same W on two inputs, not a recurrence
dims n = 4
W : n x n
a : n
b : n
h1 = tanh(W a)
h2 = tanh(W b)
s = sum(h1 * h2)
"""
    report = flow(parse(text, "par.grad"), FlowOptions(points=2))
    assert report.recurrent == [] and report.kind == "layers" and report.chain is None


def test_generic_function_is_measured_with_tanh_unless_bound(cli: Callable[..., Any]) -> None:
    mlp = ROOT / "examples" / "mlp.grad"
    r = cli("flow", mlp)
    assert r.exit_code == 0, r.output
    assert "f = tanh" in r.stdout
    d = _flow_json(cli, mlp, "--bind", "f=relu")
    assert d["bind"] == {"f": "relu"}
    assert [a["function"] for a in d["activations"]] == ["relu"]


# ---------------------------------------------------------------------------
# formats


def test_text_chart_is_log_scaled(cli: Callable[..., Any]) -> None:
    r = cli("flow", RELU_RNN, "--scale", "W_hh=3")
    assert r.exit_code == 0, r.output
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if "█" in line}
    assert rows["h[0]"].count("█") == BAR and rows["h[40]"].count("█") == 1  # the largest and the smallest
    d = _flow_json(cli, RELU_RNN, "--scale", "W_hh=3")
    norms = {l["name"]: l["norm"] for l in d["layers"]}
    lo, hi = math.log10(norms["h[40]"]), math.log10(norms["h[0]"])
    for name in ("h[10]", "h[20]", "h[30]"):
        expected = 1 + (math.log10(norms[name]) - lo) / (hi - lo) * (BAR - 1)
        assert abs(rows[name].count("█") - expected) <= 0.5 + 1e-9, name
    assert "\x1b[" not in r.stdout  # not a terminal: plain
    assert "spectral radius" in r.stdout and "slope" in r.stdout


def test_json_is_stable_and_documented_fields_are_there(cli: Callable[..., Any]) -> None:
    a = cli("flow", RELU_RNN, "--format", "json").stdout
    b = cli("flow", RELU_RNN, "--format", "json").stdout
    assert a == b
    d = strict_json(a)
    assert set(d) == {"file", "output", "seed", "points", "sizes", "scale", "bind", "kind", "series", "norm",
                      "layers", "parameters", "activations", "recurrent", "jacobian", "thresholds", "verdicts"}
    assert d["points"] == 16 and d["seed"] == 0 and d["sizes"] == {"H": 8, "T": 40} and d["output"] == "s"
    assert set(d["layers"][0]) == {"name", "shape", "norm", "min", "max", "step"}
    assert d["layers"][0]["shape"] == [8, 1]
    assert set(d["jacobian"]) == {"last", "norm", "steps", "slope", "per_step", "total", "span"}
    assert len(d["jacobian"]["steps"]) == 40
    other = strict_json(cli("flow", RELU_RNN, "--format", "json", "--seed", "3", "--points", "5").stdout)
    assert other["seed"] == 3 and other["points"] == 5 and other["layers"] != d["layers"]


def test_svg_is_a_real_plot(tmp_path: Path, cli: Callable[..., Any]) -> None:
    out = tmp_path / "plots" / "flow.svg"
    r = cli("flow", RELU_RNN, "--scale", "W_hh=3", "--format", "svg", "--output", out)
    assert r.exit_code == 0, r.output
    assert "EXPLODING" in r.stdout  # the terminal keeps the text
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg" and float(root.get("width", 0)) > 0
    bars = [e for e in root.iter(f"{SVG}rect") if e.find(f"{SVG}title") is not None]
    assert [b.find(f"{SVG}title").text.split(":")[0] for b in bars] == [f"h[{k}]" for k in range(41)]
    heights = [float(b.get("height")) for b in bars]
    assert heights[0] > heights[20] > heights[40] > 0  # taller where the gradient is larger
    dots = list(root.iter(f"{SVG}circle"))
    assert len(dots) == 40  # ‖∂h40/∂h_k‖ for k = 0 … 39
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "EXPLODING" in texts and "per step" in texts


def test_svg_of_every_example_parses() -> None:
    for path in sorted((ROOT / "examples").glob("*.grad")):
        report = flow(load(str(path)), FlowOptions(points=2))
        ET.fromstring(render_flow_svg(report).encode("utf-8"))
        strict_json(render_flow_json(report))
        assert render_flow_text(report).endswith("\n")


# ---------------------------------------------------------------------------
# bad input: exit 2 with one message


@pytest.mark.parametrize("args, message", [
    (["--fail-on", "bogus"], "--fail-on bogus: not a verdict"),
    (["--scale", "Q=3"], "declares no variable Q"),
    (["--scale", "W_hh=three"], "--scale expects NAME=FACTOR"),
    (["--scale", "W_hh=inf"], "finite"),
    (["--format", "png"], "png"),
])
def test_bad_flags_exit_2(args: list[str], message: str, cli: Callable[..., Any]) -> None:
    r = cli("flow", RELU_RNN, *args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_bad_files_exit_2(tmp_path: Path, cli: Callable[..., Any]) -> None:
    r = cli("flow", tmp_path / "missing.grad")
    assert r.exit_code == 2 and "no such file" in r.output
    vec = write(tmp_path, "vec.grad", "# a vector output\nW : 3 x 3\nx : 3\nh = tanh(W x)\n")
    r = cli("flow", vec)
    assert r.exit_code == 2 and "scalar output" in r.output
    bad = write(tmp_path, "bad.grad", "# a shape error\nW : 3 x 3\nx : 4\nh = tanh(W x)\ns = sum(h)\n")
    r = cli("flow", bad)
    assert r.exit_code == 2
    assert "bad.grad:4:10" in r.output and "^^^" in r.output


def test_subprocess_exit_codes() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gradcheck_cli", "flow", str(RELU_RNN), *args],
                              capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)

    r = run("--scale", "W_hh=3", "--fail-on", "exploding")
    assert r.returncode == 1, r.stderr
    assert "EXPLODING" in r.stdout and "\x1b[" not in r.stdout and r.stderr == ""
    r = run("--scale", "W_hh=0.2", "--fail-on", "exploding")
    assert r.returncode == 0, r.stderr
    assert "VANISHING" in r.stdout


def test_a_long_chain_that_underflows_still_has_its_rate() -> None:
    """T = 600 steps of a contracting tanh RNN (W scaled by 0.2): ‖∂h_T/∂h_k‖ falls below the smallest
    double long before k = 0. The rate comes from the steps before that, and the total is a power of ten."""
    text = ("dims H = 4, D = 3, T = 600\nW : H x H\nU : H x D\nx[t] : D const, t = 1..T\nh[0] : H\nu : H\n"
            "for t = 1..T:\n  h[t] = tanh(W h[t-1] + U x[t])\ns = u^T h[T]\n")
    rep = flow(parse(text, "long.grad"), FlowOptions(seed=0, points=2, scales={"W": 0.2}))
    c = rep.chain
    assert c is not None and 0 < c.per_step < 1 and c.span == 600
    assert any(_median_zero(ns) for ns in c.norms), "the test needs a chain that underflows"
    (v,) = [v for v in rep.verdicts if v.kind == "vanishing"]
    assert re.search(r"shrinks ×0\.\d+ per step back in time, ×10\^-\d+ over 600 steps", v.message), v.message


def _median_zero(ns: list[float]) -> bool:
    return float(np.median(ns)) == 0.0


def test_the_fit_stops_where_the_norms_leave_the_doubles() -> None:
    from gradcheck_cli.numeric.flow_measure import _fit

    slope, _ = _fit([1, 2, 3, 4], [[0.5], [0.25], [0.0], [0.0]])
    assert math.isclose(slope, math.log(0.5))
    assert _fit([1, 2], [[0.0], [0.0]])[0] == -math.inf  # nothing before: a dead chain
    assert _fit([1, 2], [[math.inf], [math.inf]])[0] == math.inf
