"""`--format junit`: JUnit XML that Jenkins, GitLab and GitHub's test reporters read.

Valid against the common JUnit schema (Jenkins xunit's junit-10.xsd; a
schema of that shape is tests/data/junit.xsd). That schema allows no
`file`/`line` attributes on a testcase, so the location goes into the
failure body as `file:line: message`, the form reporters pick locations from.

    <testsuites name="gradcheck" tests="3" failures="1" errors="0" time="0.412">
      <testsuite name="score gradients" tests="3" failures="1" errors="0" skipped="0" time="0.412">
        <properties><property name="seed" value="0"/>…</properties>
        <testcase name="claim ds/dW" classname="score gradients" time="0.120">
          <failure type="fail" message="…">questions/score.grad:14: …</failure>

Exit codes map onto JUnit's two kinds of bad outcome: a wrong claim or
implementation (exit 1) is a `failure`, including a claim that could not be
evaluated; an input that could not be used at all (exit 2) is an `error`.
A kink is a pass with a note in `system-out`; a skipped check is `skipped`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from gradcheck_cli.numeric.result import Check
from gradcheck_cli.report.common import check_detail, check_title, error_location, first_line, number, relpath
from gradcheck_cli.report.model import Entry, RunResult

# XML 1.0 forbids most control characters (an ANSI colour escape would make the file unreadable)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _time(seconds: float) -> str:
    """Plain decimal seconds: the schema's time pattern allows no sign and no exponent."""
    return f"{max(0.0, float(seconds)):.3f}"


def _sub(
    parent: ET.Element, tag: str, text: str | None = None, **attrs: str
) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _testcase(suite: ET.Element, e: Entry, c: Check) -> tuple[int, int]:
    """One check → one testcase; returns (failures, skipped) added."""
    case = _sub(suite, "testcase", name=c.name, classname=e.name, time=_time(c.seconds))
    if c.status == "skipped":
        _sub(case, "skipped", message=first_line(c.message or "skipped"))
        return 0, 1
    if not c.ok:
        where = f"{relpath(c.file or e.source or '')}:{c.line}: " if c.line else ""
        detail = check_detail(c)
        _sub(
            case,
            "failure",
            f"{where}{check_title(c)}\n{detail}\n",
            type=c.status if c.status in ("fail", "error") else "fail",
            message=first_line(detail) or f"{c.name} failed",
        )
        return 1, 0
    if c.status == "kink" and c.message:
        _sub(case, "system-out", f"kink: {c.message}\n")
    return 0, 0


def _suite(root: ET.Element, e: Entry) -> tuple[int, int, int, float]:
    """One entry → one testsuite; returns (tests, failures, errors, seconds)."""
    suite = _sub(root, "testsuite", name=e.name)
    props = _sub(suite, "properties")
    if e.source:
        _sub(props, "property", name="file", value=relpath(e.source))
    if e.report is not None:
        _sub(props, "property", name="seed", value=str(e.report.seed))
    if e.points is not None:
        _sub(props, "property", name="points", value=str(number(e.points)))
        _sub(props, "property", name="score", value=str(number(e.score)))
    if e.error is not None:
        file, line, _col = error_location(e)
        case = _sub(suite, "testcase", name=e.name, classname=e.name, time=_time(0))
        where = f"{relpath(file)}:{line}: " if file and line else ""
        _sub(
            case,
            "error",
            f"{where}{e.error.rstrip()}\n",
            type="input",
            message=first_line(e.error),
        )
        tests, failures, errors, skipped = 1, 0, 1, 0
    else:
        tests = failures = errors = skipped = 0
        for c in e.checks:
            f, s = _testcase(suite, e, c)
            tests, failures, skipped = tests + 1, failures + f, skipped + s
        if e.report is not None and e.report.notes:
            _sub(suite, "system-out", "\n".join(e.report.notes) + "\n")
    seconds = e.seconds
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suite.set("time", _time(seconds))
    if not len(props):
        suite.remove(props)
    return tests, failures, errors, seconds


def render_junit(result: RunResult) -> str:
    root = ET.Element("testsuites", {"name": result.name})
    totals = [0, 0, 0]
    seconds = 0.0
    for e in result.entries:
        t, f, err, s = _suite(root, e)
        totals = [totals[0] + t, totals[1] + f, totals[2] + err]
        seconds += s
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", str(totals[2]))
    root.set("time", _time(result.seconds or seconds))
    ET.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ET.tostring(root, encoding="unicode")
        + "\n"
    )
