"""The pytest plugin: light to import, a `gradcheck` fixture, readable assertion failures.

`verify` itself is stood in for by a fake `gradcheck_cli.api` module here, so
these tests pin the plugin's side of the contract: what it imports, what it
calls, and what a failure looks like to a student.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

# Installed (pip install -e .), the entry point loads the plugin in every pytest
# run; from a bare checkout it has to be named. Naming it twice is an error.
INSTALLED = any(
    ep.value == "gradcheck_cli.pytest_plugin" for ep in entry_points(group="pytest11")
)
PLUGIN_ARGS = () if INSTALLED else ("-p", "gradcheck_cli.pytest_plugin")

FAKE_API = """
import sys, types
from gradcheck_cli.numeric.result import Check, Report

CALLS = []

class VerifyOptions:
    def __init__(self, **options):
        self.options = options

def verify_file(path, opts):
    options = opts.options
    CALLS.append((path, options))
    ok = "good" in str(path)
    return Report(file=str(path), seed=options.get("seed", 0), checks=[
        Check("derived ds/dW", "derived", True),
        Check("claim ds/dW", "claim", ok, "pass" if ok else "fail",
              "" if ok else "claim ds/dW disagrees with central differences at entry [2, 0]: 1.25 vs 0.31",
              line=14, max_rel_error=None if ok else 0.75),
    ])

def install(monkeypatch):
    api = types.ModuleType("gradcheck_cli.api")
    api.verify_file = verify_file
    api.VerifyOptions = VerifyOptions
    monkeypatch.setitem(sys.modules, "gradcheck_cli.api", api)
    return CALLS
"""


def test_plugin_import_stays_light() -> None:
    """Every pytest run in the environment imports the plugin: no numpy, sympy, lark or rich."""
    code = (
        "import sys, gradcheck_cli.pytest_plugin as p; "
        "heavy = [m for m in ('numpy', 'sympy', 'lark', 'rich', 'typer') if m in sys.modules]; "
        "assert not heavy, heavy; assert hasattr(p, 'gradcheck')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fixture_is_available(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        from gradcheck_cli.pytest_plugin import Gradcheck

        def test_fixture(gradcheck):
            assert isinstance(gradcheck, Gradcheck)
            assert callable(gradcheck.verify) and callable(gradcheck.assert_file)
            assert callable(gradcheck.assert_gradient)
    """)
    result = pytester.runpytest(*PLUGIN_ARGS)
    result.assert_outcomes(passed=1)


def test_assert_file_passes_and_fails_readably(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(fakeapi=FAKE_API)
    pytester.makepyfile(
        test_hw="""
        import fakeapi

        def test_good(gradcheck, monkeypatch):
            calls = fakeapi.install(monkeypatch)
            report = gradcheck.assert_file("q/good.grad", seed=5)
            assert report.ok and calls[-1] == ("q/good.grad", {"seed": 5})

        def test_bad(gradcheck, monkeypatch):
            fakeapi.install(monkeypatch)
            gradcheck.assert_file("q/bad.grad", seed=2)
    """
    )
    result = pytester.runpytest(*PLUGIN_ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*GradcheckFailure: gradcheck: 1 of 2 checks failed in q/bad.grad (seed 2)",
            "*FAIL q/bad.grad:14: claim ds/dW",
            "*claim ds/dW disagrees with central differences at entry *: 1.25 vs 0.31",  # [..] is fnmatch syntax
        ]
    )


def test_verify_returns_the_report_without_raising(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(fakeapi=FAKE_API)
    pytester.makepyfile(
        test_hw="""
        import fakeapi

        def test_report(gradcheck, monkeypatch):
            fakeapi.install(monkeypatch)
            report = gradcheck.verify("q/bad.grad")
            assert not report.ok
            assert [c.line for c in report.checks if not c.ok] == [14]
    """
    )
    pytester.runpytest(*PLUGIN_ARGS).assert_outcomes(passed=1)


def test_relative_paths_fall_back_to_the_rootdir(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(fakeapi=FAKE_API)
    (pytester.path / "q").mkdir()
    (pytester.path / "q" / "good.grad").write_text("s = x\n")
    pytester.makepyfile(
        test_hw="""
        import os, fakeapi

        def test_from_elsewhere(gradcheck, monkeypatch, tmp_path):
            calls = fakeapi.install(monkeypatch)
            monkeypatch.chdir(tmp_path)
            gradcheck.assert_file("q/good.grad")
            assert os.path.isabs(calls[-1][0]) and calls[-1][0].endswith(os.path.join("q", "good.grad"))
    """
    )
    pytester.runpytest(*PLUGIN_ARGS).assert_outcomes(passed=1)
