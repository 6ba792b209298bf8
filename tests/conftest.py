"""Shared fixtures: the `--update-goldens` option and a `cli` runner.

`pytest --update-goldens` rewrites every golden file from the current output
(derivations, error messages); review the diff before committing it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import os

import pytest
from hypothesis import settings
from typer.testing import CliRunner

# CI runs the property tests on a fixed set of examples, so a red build always means a change
# broke something; local runs explore new random graphs every time (GRADCHECK_EXAMPLES=1000
# for a longer hunt) and keep what they find in REGRESSIONS (tests/test_properties.py).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

TESTS = Path(__file__).parent
ROOT = TESTS.parent
GOLDEN = TESTS / "golden"
EXAMPLES = ROOT / "examples"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite the expected files under tests/golden/ from the current output")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture
def golden(update_goldens: bool) -> Callable[[Path, str], None]:
    """golden(path, actual): compare with the file, or rewrite it under --update-goldens."""

    def check(path: Path, actual: str) -> None:
        if update_goldens or not path.exists():
            path.write_text(actual, encoding="utf-8")
            if not update_goldens:
                pytest.fail(f"{path.name} did not exist and was written; review it and rerun")
            return
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"{path.name} differs (rerun with --update-goldens to accept):\n{actual}"

    return check


@pytest.fixture
def cli() -> Callable[..., Any]:
    """cli("graph", path, "--format", "dot") → click Result; exceptions propagate (a crash fails the test)."""
    from gradcheck_cli.cli import app

    runner = CliRunner()

    def invoke(*args: object) -> Any:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
