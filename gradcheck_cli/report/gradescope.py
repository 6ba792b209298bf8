"""`--format gradescope`: the autograder's `/autograder/results/results.json`.

One Gradescope test per configured check, with the check's points as
`max_score`, its score by the rules of `model.py`, the failures as `output`
and the config's `visibility`. Per-test visibility hides a check's details
(and, by Gradescope's rules, the total) until the due date or publication.

`stdout_visibility` is "visible" only when every test is: the autograder's
stdout repeats the text report, which would otherwise leak hidden checks.

`gradescope_error(message)` is the results.json for a run that could not
happen at all (bad config, crash): Gradescope shows the student an error
instead of "the autograder failed to produce output", and the score is 0.
"""

from __future__ import annotations

import json
from typing import Any

from gradcheck_cli.report.common import entry_text, number, plain
from gradcheck_cli.report.model import Entry, RunResult


def _test(e: Entry) -> dict[str, Any]:
    test: dict[str, Any] = {
        "name": e.name,
        "output": entry_text(e),
        "visibility": e.visibility,
        "status": "passed" if e.ok else "failed",
    }
    if e.points is not None:  # a plain verify has no points: no score fields at all
        test["score"] = number(e.score)
        test["max_score"] = number(e.max_score)
    return test


def results_dict(result: RunResult) -> dict[str, Any]:
    tests = [_test(e) for e in result.entries]
    all_visible = all(e.visibility == "visible" for e in result.entries)
    n, failed = result.n_checks, result.n_failed
    output = f"gradcheck: {n - failed} of {n} checks passed"
    if result.graded:
        output += f"; score {number(result.score)} / {number(result.max_score)}"
    return {
        "score": number(result.score),
        "execution_time": int(
            round(result.seconds or sum(e.seconds for e in result.entries))
        ),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "visible" if all_visible else "hidden",
        "tests": tests,
    }


def render_gradescope(result: RunResult) -> str:
    return json.dumps(
        plain(results_dict(result)),
        indent=2,
        sort_keys=True,
        ensure_ascii=False,
        allow_nan=False,
    )


def gradescope_error(message: str, max_score: float | None = None) -> str:
    """A valid results.json with score 0 that tells the student what went wrong."""
    test: dict[str, Any] = {
        "name": "gradcheck could not run",
        "score": 0,
        "output": message.rstrip()
        + "\n\nThis is a problem with the submission's files or the "
        "autograder setup, not a wrong gradient; ask your instructor if it persists.",
        "visibility": "visible",
        "status": "failed",
    }
    if max_score is not None:
        test["max_score"] = number(max_score)
    data = {
        "score": 0,
        "execution_time": 0,
        "output": f"gradcheck could not run: {message.strip().splitlines()[0] if message.strip() else 'unknown error'}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [test],
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
