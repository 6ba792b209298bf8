"""`--format classroom`: GitHub Classroom's runner result, as its grading reporter reads it.

The graders of `classroom-resources` (command, io, python) each set a step
output `result` to base64(JSON) of

    {"version": 1, "status": "pass"|"fail"|"error", "max_score": N,
     "tests": [{"name", "status", "score", "message", "test_code",
                "filename", "line_no", "duration"}]}

and `autograding-grading-reporter` decodes `<RUNNER>_RESULTS` for each id in
`runners`. What it reads: the top-level `status` (any "fail" or "error"
fails the job) and `max_score`; per test `name`, `status` ("pass" counts as
passed; "error" prints `message`), `line_no` (printed as "- line N" unless it
is 0, so it must always be a number), `test_code` (printed under "Test
code:" when non-empty) and `score`. The points sent to Classroom are the sum
of the tests' `score` over the sum of the runners' `max_score`; a runner
with max_score 0 sends nothing.

The reporter does not print `message` for a plain failure, so a failing
test's explanation also goes into `test_code`, which it does print, followed
by the command that reproduces it.

For `run`, one test per configured check (its points, all-or-nothing or
partial); for a plain `verify` (no points), one test per check with score 0.
"""

from __future__ import annotations

import json
from typing import Any

from gradcheck_cli.numeric.result import Check
from gradcheck_cli.report.common import (
    check_detail,
    check_title,
    entry_text,
    error_location,
    number,
    plain,
    relpath,
    reproduce,
)
from gradcheck_cli.report.model import Entry, RunResult


def _status(ok: bool, error: bool = False) -> str:
    return "error" if error else ("pass" if ok else "fail")


def _entry_test(e: Entry) -> dict[str, Any]:
    first_bad = next((c for c in e.failed if c.line), None)
    if e.error is not None:
        file, line, _col = error_location(e)
        message = e.error.rstrip()
        code = message
    else:
        file, line = e.source, first_bad.line if first_bad else None
        message = entry_text(e, include_passing=False) if not e.ok else ""
        rerun = reproduce(e)
        code = f"{message}\nreproduce: {rerun}" if message and rerun else message
    return {
        "name": e.name,
        "status": _status(e.ok, e.error is not None),
        "score": number(e.score),
        "max_score": number(e.max_score),
        "message": message,
        "test_code": code,
        "filename": relpath(file) if file else "",
        "line_no": int(line or 0),
        "duration": int(
            round(e.seconds * 1000)
        ),  # milliseconds, as the command grader measures
    }


def _check_test(e: Entry, c: Check) -> dict[str, Any]:
    detail = check_detail(c) if (not c.ok or c.status in ("kink", "skipped")) else ""
    return {
        "name": check_title(c),
        "status": _status(c.ok),
        "score": 0,
        "max_score": 0,
        "message": detail,
        "test_code": detail,
        "filename": relpath(c.file or e.source or ""),
        "line_no": int(c.line or 0),
        "duration": int(round(c.seconds * 1000)),
    }


def result_dict(result: RunResult) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    for e in result.entries:
        if result.graded or e.error is not None:
            tests.append(_entry_test(e))
        else:
            tests.extend(_check_test(e, c) for c in e.checks)
    if any(not e.ok and e.error is None for e in result.entries):
        status = "fail"
    elif any(e.error is not None for e in result.entries):
        status = "error"
    else:
        status = "pass"
    return {
        "version": 1,
        "status": status,
        "max_score": number(result.max_score),
        "tests": tests,
    }


def render_classroom(result: RunResult) -> str:
    """One line of JSON, as the graders write it; the workflow base64-encodes it into `result`."""
    return json.dumps(
        plain(result_dict(result)),
        sort_keys=True,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )
