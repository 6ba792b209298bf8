"""Machine-readable reports of `verify` and `run`: one module per format, one registry.

Every format is a function `(RunResult) -> str` (see `model.py` for
RunResult and the scoring rules). Formats only present results; they never
run checks. The human `text` view is the CLI's, not here.

The registry imports each format on first use, so that the pytest plugin and
`gradcheck --help` do not pay for formats they never print.
"""

from __future__ import annotations

from collections.abc import Callable

from gradcheck_cli.report.model import Entry, RunResult

__all__ = ["FORMATS", "Entry", "RunResult", "markdown_summary", "gradescope_error"]


def _json(result: RunResult) -> str:
    from gradcheck_cli.report.json import render_json

    return render_json(result)


def _junit(result: RunResult) -> str:
    from gradcheck_cli.report.junit import render_junit

    return render_junit(result)


def _github(result: RunResult) -> str:
    from gradcheck_cli.report.github import render_github

    return render_github(result)


def _gradescope(result: RunResult) -> str:
    from gradcheck_cli.report.gradescope import render_gradescope

    return render_gradescope(result)


def _classroom(result: RunResult) -> str:
    from gradcheck_cli.report.classroom import render_classroom

    return render_classroom(result)


FORMATS: dict[str, Callable[[RunResult], str]] = {
    "json": _json,
    "junit": _junit,
    "github": _github,
    "gradescope": _gradescope,
    "classroom": _classroom,
}


def markdown_summary(result: RunResult) -> str:
    """The Markdown table for `$GITHUB_STEP_SUMMARY` (see github.py)."""
    from gradcheck_cli.report.github import markdown_summary as summary

    return summary(result)


def gradescope_error(message: str, max_score: float | None = None) -> str:
    """A valid Gradescope results.json for a run that could not happen (see gradescope.py)."""
    from gradcheck_cli.report.gradescope import gradescope_error as error

    return error(message, max_score)
