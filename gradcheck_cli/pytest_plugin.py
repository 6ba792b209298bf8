"""pytest plugin (entry point `pytest11: gradcheck`): gradient checks as ordinary tests.

    def test_my_gradients(gradcheck):
        gradcheck.assert_file("questions/score.grad", seed=0)

    def test_my_numpy(gradcheck):
        gradcheck.assert_gradient(loss, W, x)

Installed with gradcheck, this module is imported by *every* pytest run in
the environment, including projects that never use it. So it imports only
the standard library at module level: numpy, sympy and the checker load
inside the fixture's methods, on first use, and a broken install can fail a
gradcheck test but never pytest's start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gradcheck_cli.numeric.result import Report


class GradcheckFailure(AssertionError):
    """A gradient check failed; the message lists each failed check with its line."""


class Gradcheck:
    """The `gradcheck` fixture's value: verify `.grad` files and numpy gradients from a test."""

    def __init__(self, rootdir: Path | None = None):
        self.rootdir = rootdir

    def _path(self, path: str | Path) -> str:
        """Relative paths are tried as given (cwd), then against pytest's rootdir."""
        p = Path(path)
        if (
            not p.is_absolute()
            and not p.exists()
            and self.rootdir is not None
            and (self.rootdir / p).exists()
        ):
            p = self.rootdir / p
        return str(p)

    def verify(self, path: str | Path, **options: Any) -> Report:
        """Run `gradcheck verify` on one file and return its Report (never raises on a failed check).

        `options` are those of `gradcheck_cli.VerifyOptions` (seed, trials,
        convention, bind, impl, …); an `impl` path is resolved like `path`.
        """
        from gradcheck_cli.api import VerifyOptions, verify_file

        if options.get("impl"):
            file, sep, func = str(options["impl"]).rpartition(":")
            if sep:
                options["impl"] = f"{self._path(file)}:{func}"
        try:
            opts = VerifyOptions(**options)
        except TypeError as e:
            raise TypeError(f"gradcheck.verify: {e} (the options are VerifyOptions' fields)") from None
        return verify_file(self._path(path), opts)

    def assert_file(self, path: str | Path, **options: Any) -> Report:
        """Verify a file; raise AssertionError naming every failed check (name, line, message)."""
        __tracebackhide__ = True
        report = self.verify(path, **options)
        if not report.ok:
            from gradcheck_cli.report.common import failure_summary

            raise GradcheckFailure(failure_summary(report))
        return report

    def assert_gradient(self, f: Callable[..., Any], *arrays: Any, **kw: Any) -> Any:
        """Check a numpy function's gradient numerically (see `gradcheck_cli.check_gradient`)."""
        __tracebackhide__ = True
        from gradcheck_cli.numeric.check_api import check_gradient

        result = check_gradient(f, *arrays, **kw)
        if not result:  # raised here, so pytest shows the report, not the checker's frames
            raise GradcheckFailure(result.report)
        return result


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> Gradcheck:
    """Verify `.grad` files and numpy gradients: `gradcheck.assert_file(path)`, `gradcheck.assert_gradient(f, x)`."""
    return Gradcheck(Path(str(request.config.rootpath)))
