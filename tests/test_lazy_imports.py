"""The numeric path runs without sympy: constants are Fractions, f′ comes from a generated table.

Issue 11: importing sympy cost 0.2 s of a 0.6 s `gradcheck verify`. These tests pin
what makes that possible without giving up the one-source rule: the generated
`_derivatives.py` is exactly what sympy's diff prints today and agrees with
lambdify everywhere; constants keep one kind per value (hash-consing); and the
commands a pre-commit hook runs on the seed file import neither sympy nor scipy.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.symbolic import elementwise as ew
from gradcheck_cli.symbolic._derivatives import DERIVATIVES

ROOT = Path(__file__).resolve().parents[1]


def test_generated_derivatives_are_what_the_generator_writes_now() -> None:
    text = (ROOT / "gradcheck_cli" / "symbolic" / "_derivatives.py").read_text(encoding="utf-8")
    assert text == ew.generated_source(), "regenerate: python -m gradcheck_cli.symbolic.elementwise"


def test_every_function_numpy_can_express_is_in_the_table() -> None:
    missing = {(n, k) for n in ew.ELEMENTWISE for k in ew.GENERATED_ORDERS} - set(DERIVATIVES)
    # erf needs scipy; abs″ and the derivatives of sign and step are DiracDeltas (zero away from the kink;
    # lambdify serves them)
    assert missing == {("gelu", 1), ("abs", 2), ("sign", 1), ("sign", 2), ("step", 1), ("step", 2)}


@pytest.mark.parametrize("key", sorted(DERIVATIVES), ids=lambda k: f"{k[0]}-{k[1]}")
@pytest.mark.parametrize("kind", ["real", "complex"])
def test_generated_derivative_equals_lambdify(key: tuple[str, int], kind: str) -> None:
    name, order = key
    e = ew.ELEMENTWISE[name]
    rng = np.random.default_rng(0)
    lo, hi = max(e.domain[0], -3.0), min(e.domain[1], 3.0)
    t = rng.uniform(lo, hi, 50)
    t = t[np.all(np.abs(t[:, None] - np.array(e.kinks or (np.inf,))) > 1e-3, axis=1)]
    if kind == "complex":
        t = t + 1e-20j
    params = (0.01,) if e.nparams else ()
    want = np.broadcast_to(ew._lambdify(name, order)(t, *params), t.shape)
    got = np.broadcast_to(DERIVATIVES[key](t, *params), t.shape)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    if kind == "complex" and np.ndim(DERIVATIVES[key](t, *params)) and e.analytic:
        assert np.iscomplexobj(got), "the complex step needs the imaginary part carried through"


def test_constants_are_one_kind_per_value() -> None:
    assert alg.const(sp.Rational(1, 2)) is alg.const(Fraction(1, 2)) is alg.const(0.5)
    assert alg.const(2) is alg.const(sp.Integer(2))
    assert isinstance(alg.const(sp.Rational(-3, 4)).param("value"), Fraction)
    n = sp.Symbol("n", positive=True, integer=True)
    assert alg.const(1 / n).param("value") == 1 / n  # a size-dependent constant stays sympy
    assert alg.is_negative(Fraction(-1, 3)) and not alg.is_negative(-1 / n)


def test_hook_commands_import_neither_sympy_nor_scipy() -> None:
    code = (
        "import sys\n"
        "from gradcheck_cli.numeric.verify import verify_file\n"
        "from gradcheck_cli.derive.from_file import derive_file\n"
        "from gradcheck_cli.render import RENDERERS\n"
        "assert verify_file('examples/mlp.grad').ok\n"
        "d = derive_file('examples/mlp.grad')\n"
        "assert 'delta xᵀ' in RENDERERS['text'](d) and RENDERERS['json'](d)\n"
        "print(sorted(m for m in ('sympy', 'scipy') if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_symbolic_work_still_loads_sympy_on_demand() -> None:
    code = (
        "import sys\n"
        "from gradcheck_cli.derive.from_file import derive_file\n"
        "from gradcheck_cli.render import RENDERERS\n"
        "tex = RENDERERS['latex'](derive_file('examples/batchnorm.grad'))\n"
        "print('sympy' in sys.modules, '\\\\frac' in tex or '/' in tex)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "True"
