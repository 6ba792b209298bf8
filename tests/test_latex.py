"""`derive --format latex` pastes into a write-up: a structural check that needs no TeX install.

test_derive_golden.py compiles the goldens with pdflatex where one is installed;
this test runs everywhere, on every example (with --steps) and every golden:
braces, \\left/\\right and \\begin/\\end balance, every macro is one that LaTeX
with amsmath and amssymb defines, each row of an `aligned` has at most two
alignment points (`&=` and `&& \\text{...}`), and math stays inside \\[ … \\].
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# files with a `for` loop: derive prints them in closed form (branch loops-derive); their unrolled
# derivation (T copies) is not what is read back or typeset
FILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.grad") if not re.search(r"^for \w+ = ", p.read_text(encoding="utf-8"), re.M)) + \
    sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "golden").glob("*.grad"))

# LaTeX 2ε + amsmath + amssymb: the macros a fragment may use
KNOWN = {
    "mathbf", "boldsymbol", "mathrm", "operatorname", "text", "frac", "partial", "top", "left", "right",
    "begin", "end", "odot", "oslash", "cdot", "times", "lVert", "rVert", "hat", "max", "min", "log", "exp",
    "tanh", "sin", "cos", "tan", "det", "tr", "sqrt", "sum", "prod", "dots", "mathbb", "item", "usepackage", "quad", "qquad",
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega", "ldots", "cdots", "dots", "prod",
    "mathcal", "operatorname", "textbf", "emph", "section", "subsection", "noindent", "par", "label",
}
ENVIRONMENTS = {"aligned", "align", "align*", "enumerate", "itemize", "array", "pmatrix", "bmatrix", "cases"}


def _strip_comments(tex: str) -> str:
    return "\n".join(re.sub(r"(?<!\\)%.*", "", line) for line in tex.splitlines())


def check_fragment(tex: str) -> list[str]:
    """What would stop pdflatex, found without running it (empty when the fragment is sound)."""
    problems: list[str] = []
    body = _strip_comments(tex)
    depth = 0
    for i, ch in enumerate(body):
        if ch in "{}" and i > 0 and body[i - 1] == "\\":
            continue  # \{ and \} are literal braces
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            problems.append(f"a '}}' closes nothing at offset {i}")
            depth = 0
    if depth:
        problems.append(f"{depth} '{{' never closed")
    lefts = len(re.findall(r"\\left(?![A-Za-z])", body))
    rights = len(re.findall(r"\\right(?![A-Za-z])", body))
    if lefts != rights:
        problems.append(f"{lefts} \\left but {rights} \\right")
    stack: list[str] = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]*)\}", body):
        if env not in ENVIRONMENTS:
            problems.append(f"unknown environment {env}")
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            problems.append(f"\\end{{{env}}} does not close the open environment")
    if stack:
        problems.append(f"environments left open: {stack}")
    for macro in sorted(set(re.findall(r"\\([A-Za-z]+)", body))):
        if macro not in KNOWN:
            problems.append(f"\\{macro} is not defined by LaTeX, amsmath or amssymb")
    if body.count(r"\[") != body.count(r"\]"):
        problems.append("unbalanced \\[ … \\]")
    for block in re.findall(r"\\begin\{aligned\}(.*?)\\end\{aligned\}", body, flags=re.S):
        for row in block.split("\\\\"):
            if row.count("&") - row.count(r"\&") > 3:
                problems.append(f"too many alignment points in: {row.strip()[:80]}")
    return problems


@pytest.mark.parametrize("path", FILES)
def test_derive_latex_is_a_sound_fragment(path: str, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    r = cli("derive", path, "--format", "latex", "--steps")
    assert r.exit_code == 0, r.output
    tex = r.stdout
    assert r"\begin{aligned}" in tex and r"\frac{\partial" in tex
    assert check_fragment(tex) == [], tex


@pytest.mark.parametrize("broken, complaint", [
    (r"\[ \mathbf{x \]", "never closed"),
    (r"\[ \left( x \]", r"\left"),
    (r"\[ \begin{aligned} x \]", "left open"),
    (r"\[ \foo{x} \]", r"\foo"),
    (r"\[ x } \]", "closes nothing"),
])
def test_the_structural_check_catches_what_pdflatex_rejects(broken: str, complaint: str) -> None:
    """The validator is only worth something if it fails on broken LaTeX."""
    assert any(complaint in p for p in check_fragment(broken)), check_fragment(broken)


# ---------------------------------------------------------------- diag(…) in every format (issue: KeyError 'diag')


@pytest.mark.parametrize("fmt", ["text", "latex", "json"])
@pytest.mark.parametrize("body", ["sum(diag(x) A)", "sum(diag(A) * x)", "sum(x^T diag(A x))"])
def test_diag_derives_in_every_format(body: str, fmt: str, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "d.grad"
    p.write_text(f"dims n = 3\nx : n\nA : n x n\ns = {body}\n")
    r = cli("derive", p, "--format", fmt)
    assert r.exit_code == 0, r.output
    if fmt == "latex":
        assert r"\operatorname{diag}\left(" in r.stdout
    if fmt == "json":
        import json

        data = json.loads(r.stdout)
        assert all(g["shape_convention"]["latex"] for g in data["gradients"])


def test_every_op_template_formats() -> None:
    """A literal brace in a show template (\\operatorname{diag}) is a str.format field: every template
    must format with placeholder arguments, in every style."""
    from gradcheck_cli.symbolic.ops import OPS

    for name, rule in OPS.items():
        for style, tmpl in rule.show.items():
            if isinstance(tmpl, str):
                tmpl.format(*["a"] * max(rule.arity, 3), k="2", k_sup="²")  # raises on a stray {name}
