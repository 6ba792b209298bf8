"""Every report format, parsed back with a real parser, on hand-built Reports.

The cases: a passing derived check, a wrong claim at line 14, a kink, an
implementation that crashed, a skipped matrix Jacobian, and an entry whose
input could not be used at all.
"""

from __future__ import annotations

import base64
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from gradcheck_cli.numeric.result import KINDS, Check, Report
from gradcheck_cli.report import FORMATS, gradescope_error, markdown_summary
from gradcheck_cli.report.github import escape_data, escape_property
from gradcheck_cli.report.model import Entry, RunResult

XSD = Path(__file__).parent / "data" / "junit.xsd"
GRAD = "questions/score.grad"


def passing(
    name: str = "derived ds/dW", kind: str = "derived", line: int | None = None
) -> Check:
    return Check(
        name,
        kind,
        True,
        "pass",
        convention="shape",
        max_abs_error=1e-9,
        max_rel_error=2e-8,
        evaluations=96,
        line=line,
        seconds=0.01,
    )


def wrong_claim() -> Check:
    return Check(
        "claim ds/dW",
        "claim",
        False,
        "fail",
        "claim ds/dW disagrees with central differences at entry [2, 0]: 1.25 vs 0.31",
        convention="shape",
        max_abs_error=0.94,
        max_rel_error=0.75,
        worst_index=[2, 0],
        evaluations=1280,
        line=14,
        diagnosis="looks transposed: try x δᵀ → δ xᵀ",
        seconds=0.02,
    )


def kink() -> Check:
    return Check(
        "claim ds/db",
        "claim",
        True,
        "kink",
        "relu is not differentiable at z[1] = 0; excluded there",
        line=15,
        seconds=0.01,
    )


def impl_error() -> Check:
    return Check(
        "impl ds/dW",
        "impl",
        False,
        "error",
        "forward_backward raised ValueError: shapes (3,) and (4,) not aligned\n  File hw.py, line 9",
        seconds=0.03,
    )


def skipped() -> Check:
    return Check(
        "dh/dW",
        "derived",
        True,
        "skipped",
        "matrix variable: its Jacobian is a 3-tensor (vec form shown)",
    )


def report(*checks: Check, file: str = GRAD) -> Report:
    return Report(file=file, checks=list(checks), seed=3, notes=["2 random points"])


INPUT_ERROR = "error[syntax]: expected an expression\n --> questions/broken.grad:3:7\n  |\n3 | s = u^T\n  |       ^"


def failing_run() -> RunResult:
    return RunResult(
        [
            Entry(
                "score gradients",
                5.0,
                "visible",
                report(passing(), wrong_claim(), kink(), skipped()),
            ),
            Entry(
                "implementation",
                3.0,
                "after_due_date",
                report(passing("claim ds/db", "claim", 15), impl_error()),
            ),
            Entry("broken question", 2.0, "visible", None, INPUT_ERROR),
            Entry("bias", 1.0, "visible", report(passing("claim ds/db", "claim", 5))),
        ],
        seconds=1.25,
    )


def passing_run() -> RunResult:
    return RunResult(
        [
            Entry(
                "score gradients",
                5.0,
                "visible",
                report(passing(), passing("claim ds/dW", "claim", 14), kink()),
            ),
            Entry("bias", 1.5, "visible", report(passing("claim ds/db", "claim", 5))),
        ],
        seconds=0.5,
    )


def verify_result(*checks: Check) -> RunResult:
    return RunResult([Entry(GRAD, None, report=report(*checks))])


# ---------------------------------------------------------------- scoring


def test_scores_all_or_nothing_and_partial() -> None:
    r = failing_run()
    assert [e.score for e in r.entries] == [0.0, 0.0, 0.0, 1.0]
    assert (r.score, r.max_score, r.ok) == (1.0, 11.0, False)
    ok = passing_run()
    assert (ok.score, ok.max_score, ok.ok) == (6.5, 6.5, True)
    # partial: the share of passing claims/impl checks; derived checks do not dilute it
    e = Entry(
        "p",
        3.0,
        report=report(passing(), wrong_claim(), kink(), passing("c3", "claim")),
        partial=True,
    )
    assert e.score == pytest.approx(2.0)
    assert (
        Entry("p", 1.0, report=report(passing()), partial=True).score == 1.0
    )  # derived only: they count
    assert Entry("p", 1.0, error="x", partial=True).score == 0.0
    # 0.1 + 0.2 is 0.3 in a grade book
    tenths = RunResult(
        [
            Entry("a", 0.1, report=report(passing())),
            Entry("b", 0.2, report=report(passing())),
        ]
    )
    assert tenths.score == 0.3


def test_run_result_is_frozen_with_tuple_entries() -> None:
    r = RunResult([Entry("a", 1.0, report=report(passing()))])
    assert isinstance(r.entries, tuple)


# ---------------------------------------------------------------- json


def strict_json(text: str) -> Any:
    def no_constants(name: str) -> None:
        raise AssertionError(f"JSON has {name}")

    return json.loads(text, parse_constant=no_constants)


CLI_MD_CHECK_KEYS = {
    "name",
    "kind",
    "ok",
    "convention",
    "max_abs_error",
    "max_rel_error",
    "worst_index",
    "evaluations",
    "method",
    "line",
    "message",
}


def test_json_verify_has_the_spec_shape() -> None:
    data = strict_json(
        FORMATS["json"](verify_result(passing(), wrong_claim(), kink(), impl_error()))
    )
    assert data["ok"] is False
    assert {"ok", "checks"} <= set(data) and data["file"] == GRAD and data["seed"] == 3
    for c in data["checks"]:
        assert CLI_MD_CHECK_KEYS <= set(c)
        assert c["kind"] in KINDS
    claim = data["checks"][1]
    assert (claim["name"], claim["ok"], claim["line"], claim["worst_index"]) == (
        "claim ds/dW",
        False,
        14,
        [2, 0],
    )
    assert claim["max_rel_error"] == 0.75 and claim["convention"] == "shape"


def test_json_is_stable_and_sorted() -> None:
    text = FORMATS["json"](failing_run())
    assert text == FORMATS["json"](failing_run())
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert list(data["entries"][0]) == sorted(data["entries"][0])


def test_json_verify_of_several_files_keeps_one_checks_list() -> None:
    r = RunResult(
        [
            Entry("a.grad", None, report=report(passing(), file="a.grad")),
            Entry("b.grad", None, report=report(wrong_claim(), file="b.grad")),
        ]
    )
    data = strict_json(FORMATS["json"](r))
    assert data["ok"] is False
    assert [(c["name"], c["file"]) for c in data["checks"]] == [
        ("derived ds/dW", "a.grad"),
        ("claim ds/dW", "b.grad"),
    ]
    assert [f["file"] for f in data["files"]] == ["a.grad", "b.grad"]


def test_json_run_has_scores_and_entries() -> None:
    data = strict_json(FORMATS["json"](failing_run()))
    assert (data["ok"], data["score"], data["max_score"]) == (False, 1.0, 11.0)
    names = [(e["name"], e["points"], e["score"]) for e in data["entries"]]
    assert names == [
        ("score gradients", 5.0, 0.0),
        ("implementation", 3.0, 0.0),
        ("broken question", 2.0, 0.0),
        ("bias", 1.0, 1.0),
    ]
    assert data["entries"][0]["report"]["checks"][1]["line"] == 14
    assert (
        data["entries"][2]["report"] is None
        and "expected an expression" in data["entries"][2]["error"]
    )


def test_json_has_no_nan_or_numpy_leaks() -> None:
    nan = Check(
        "claim ds/dx",
        "claim",
        False,
        "fail",
        "value is NaN",
        max_abs_error=math.nan,
        max_rel_error=math.inf,
        line=3,
    )
    data = strict_json(FORMATS["json"](verify_result(nan)))
    assert (
        data["checks"][0]["max_abs_error"] is None
        and data["checks"][0]["max_rel_error"] is None
    )


# ---------------------------------------------------------------- junit


def parse_junit(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode("utf-8"))


def test_junit_structure() -> None:
    root = parse_junit(FORMATS["junit"](failing_run()))
    assert root.tag == "testsuites"
    assert (
        root.get("tests"),
        root.get("failures"),
        root.get("errors"),
        root.get("time"),
    ) == ("8", "2", "1", "1.250")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "score gradients",
        "implementation",
        "broken question",
        "bias",
    ]
    first = suites[0]
    assert (
        first.get("tests"),
        first.get("failures"),
        first.get("errors"),
        first.get("skipped"),
    ) == ("4", "1", "0", "1")
    props = {p.get("name"): p.get("value") for p in first.iter("property")}
    assert (
        props["seed"] == "3"
        and props["file"] == GRAD
        and props["points"] == "5"
        and props["score"] == "0"
    )
    cases = {c.get("name"): c for c in first.findall("testcase")}
    failure = cases["claim ds/dW"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("claim ds/dW disagrees")
    assert f"{GRAD}:14:" in (failure.text or "") and "looks transposed" in (
        failure.text or ""
    )
    assert cases["dh/dW"].find("skipped") is not None
    assert "kink" in (cases["claim ds/db"].findtext("system-out") or "")
    assert (
        cases["derived ds/dW"].find("failure") is None
        and cases["derived ds/dW"].get("time") == "0.010"
    )
    # the crashed implementation is the student's failure (exit 1), not an input error
    impl = suites[1].find("testcase[@name='impl ds/dW']/failure")
    assert impl is not None and impl.get("type") == "error"
    # the unusable input is a JUnit error, located at the file:line of the parse error
    broken = suites[2]
    assert (broken.get("tests"), broken.get("errors"), broken.get("failures")) == (
        "1",
        "1",
        "0",
    )
    error = broken.find("testcase/error")
    assert (
        error is not None
        and error.get("message") == "error[syntax]: expected an expression"
    )
    assert (error.text or "").startswith("questions/broken.grad:3: ")
    for case in root.iter("testcase"):
        assert set(case.attrib) <= {
            "name",
            "classname",
            "time",
        }  # the schema has no file/line here


def test_junit_strips_characters_xml_cannot_hold() -> None:
    bad = Check(
        "claim \x1b[31mds/dW",
        "claim",
        False,
        "fail",
        "colour \x1b[0m and \x00 nul",
        line=2,
    )
    root = parse_junit(FORMATS["junit"](verify_result(bad)))
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("name") == "claim [31mds/dW"


@pytest.mark.parametrize(
    "make",
    [
        failing_run,
        passing_run,
        lambda: verify_result(passing(), wrong_claim()),
        lambda: RunResult([]),
    ],
    ids=["failing", "passing", "verify", "empty"],
)
def test_junit_validates_against_the_schema(make: Any) -> None:
    import xmlschema  # a test extra: validated, never skipped

    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(FORMATS["junit"](make()))


def test_the_schema_rejects_what_consumers_reject() -> None:
    """The XSD is not vacuous: a testcase without a name, or a negative time, fails it."""
    import xmlschema  # a test extra: validated, never skipped

    schema = xmlschema.XMLSchema(str(XSD))
    assert not schema.is_valid(
        '<testsuites><testsuite name="a" tests="1" failures="0" errors="0">'
        '<testcase classname="x"/></testsuite></testsuites>'
    )
    assert not schema.is_valid('<testsuites time="-1"/>')
    assert not schema.is_valid(
        '<testsuites><testsuite name="a" tests="1" failures="0" errors="0">'
        '<testcase name="x" line="3"/></testsuite></testsuites>'
    )


# ---------------------------------------------------------------- github


COMMAND = re.compile(
    r"^::(?P<kind>error|warning|notice)(?: (?P<props>[^:]*))?::(?P<msg>.*)$"
)


def commands(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        m = COMMAND.match(line)
        if m:
            props = dict(
                p.split("=", 1) for p in (m.group("props") or "").split(",") if p
            )
            out.append({"kind": m.group("kind"), "props": props, "msg": m.group("msg")})
    return out


def test_github_one_error_per_failed_check_at_its_line() -> None:
    text = FORMATS["github"](failing_run())
    cmds = commands(text)
    errors = [c for c in cmds if c["kind"] == "error"]
    assert len(errors) == 3  # wrong claim, crashed implementation, unusable input
    claim = errors[0]
    assert claim["props"] == {
        "file": GRAD,
        "line": "14",
        "title": "score gradients%3A claim ds/dW",
    }
    assert claim["msg"].startswith("claim ds/dW disagrees") and "%0A" in claim["msg"]
    assert "\n" not in claim["msg"]
    assert (
        errors[2]["props"]["file"] == "questions/broken.grad"
        and errors[2]["props"]["line"] == "3"
    )
    notices = [c for c in cmds if c["kind"] == "notice"]
    assert [n["props"]["title"].split("%3A")[0] for n in notices] == ["kink", "skipped"]
    assert (
        text.rstrip().splitlines()[-1] == "gradcheck: 5 passed, 3 failed; score 1 / 11"
    )


def test_github_passing_run_has_no_errors() -> None:
    cmds = commands(FORMATS["github"](passing_run()))
    assert [c["kind"] for c in cmds] == ["notice"]  # the kink only


def test_github_escaping() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a: b, c%") == "a%3A b%2C c%25"
    odd = Check("claim d,s/d:W", "claim", False, "fail", "50% off\nsecond line", line=2)
    (cmd,) = commands(FORMATS["github"](verify_result(odd)))
    assert (
        cmd["props"]["title"] == "claim d%2Cs/d%3AW"
        and cmd["msg"] == "50%25 off%0Asecond line"
    )


def test_markdown_summary_table() -> None:
    md = markdown_summary(failing_run())
    lines = md.strip().splitlines()
    assert lines[0] == "### gradcheck ❌ 3 of 8 checks failed · score 1 / 11"
    rows = [row for row in lines if row.startswith("| ") and not row.startswith("| |")]
    assert len(rows) == 4 and all(
        row.count(" | ") == 3 for row in rows
    )  # no stray pipes
    assert "claim ds/dW (line 14)" in rows[0] and "0 / 5" in rows[0]
    assert "1 / 1" in rows[3]
    piped = Check("claim |x|", "claim", False, "fail", "a | b <c>", line=1)
    assert "a \\| b &lt;c&gt;" in markdown_summary(verify_result(piped))


# ---------------------------------------------------------------- gradescope


def test_gradescope_failing_scores_below_maximum() -> None:
    data = strict_json(FORMATS["gradescope"](failing_run()))
    assert set(data) >= {
        "score",
        "execution_time",
        "output",
        "visibility",
        "stdout_visibility",
        "tests",
    }
    assert (
        data["score"] == 1
        and data["score"] < sum(t["max_score"] for t in data["tests"]) == 11
    )
    for t in data["tests"]:
        assert set(t) >= {
            "name",
            "score",
            "max_score",
            "output",
            "visibility",
            "status",
        }
        assert t["status"] in ("passed", "failed") and t["visibility"] in (
            "visible",
            "hidden",
            "after_due_date",
            "after_published",
        )
    first, impl, broken, bias = data["tests"]
    assert (first["status"], first["score"], first["max_score"]) == ("failed", 0, 5)
    assert (
        "claim ds/dW (line 14)" in first["output"]
        and "looks transposed" in first["output"]
    )
    assert impl["visibility"] == "after_due_date"
    assert broken["status"] == "failed" and "expected an expression" in broken["output"]
    assert (bias["status"], bias["score"]) == ("passed", 1)
    assert (
        data["stdout_visibility"] == "hidden"
    )  # a test is not always visible: neither is stdout
    assert isinstance(data["execution_time"], int)


def test_gradescope_passing_scores_the_maximum() -> None:
    data = strict_json(FORMATS["gradescope"](passing_run()))
    assert data["score"] == sum(t["max_score"] for t in data["tests"]) == 6.5
    assert all(
        t["status"] == "passed" and t["score"] == t["max_score"] for t in data["tests"]
    )
    assert data["stdout_visibility"] == "visible"


def test_gradescope_partial_credit() -> None:
    r = RunResult(
        [
            Entry(
                "q",
                4.0,
                report=report(passing("c1", "claim"), wrong_claim()),
                partial=True,
            )
        ]
    )
    (test,) = strict_json(FORMATS["gradescope"](r))["tests"]
    assert (test["score"], test["max_score"], test["status"]) == (2, 4, "failed")


def test_gradescope_error_is_valid_results_json() -> None:
    data = strict_json(
        gradescope_error(
            "error[usage]: gradcheck.toml:3:1: unknown key `pionts`", max_score=10
        )
    )
    assert data["score"] == 0
    assert (
        "unknown key" in data["output"] and "unknown key" in data["tests"][0]["output"]
    )
    assert (
        data["tests"][0]["max_score"] == 10 and data["tests"][0]["status"] == "failed"
    )


# ---------------------------------------------------------------- classroom


def test_classroom_runner_result() -> None:
    text = FORMATS["classroom"](failing_run())
    assert "\n" not in text  # one line, as the graders write it
    data = strict_json(text)
    assert (data["version"], data["status"], data["max_score"]) == (1, "fail", 11)
    for t in data["tests"]:
        assert set(t) >= {
            "name",
            "status",
            "message",
            "line_no",
            "score",
            "test_code",
            "filename",
            "duration",
        }
        assert isinstance(
            t["line_no"], int
        )  # the reporter prints "- line N" unless it is 0
        assert t["status"] in ("pass", "fail", "error")
    first, impl, broken, bias = data["tests"]
    assert (first["status"], first["line_no"], first["filename"], first["score"]) == (
        "fail",
        14,
        GRAD,
        0,
    )
    assert (
        "claim ds/dW" in first["test_code"]
        and "gradcheck verify questions/score.grad --seed 3" in first["test_code"]
    )
    assert impl["line_no"] == 0
    assert (broken["status"], broken["line_no"], broken["filename"]) == (
        "error",
        3,
        "questions/broken.grad",
    )
    assert bias["status"] == "pass" and bias["score"] == 1
    # what NotifyClassroom sends: Σ score over Σ max_score
    assert sum(t["score"] for t in data["tests"]) == failing_run().score


def test_classroom_pass_and_error_statuses() -> None:
    ok = strict_json(FORMATS["classroom"](passing_run()))
    assert (
        ok["status"] == "pass"
        and sum(t["score"] for t in ok["tests"]) == ok["max_score"] == 6.5
    )
    only_error = RunResult([Entry("broken", 2.0, error=INPUT_ERROR)])
    assert strict_json(FORMATS["classroom"](only_error))["status"] == "error"


def test_classroom_survives_base64_as_the_workflow_passes_it() -> None:
    text = FORMATS["classroom"](failing_run())
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    assert json.loads(base64.b64decode(encoded).decode("utf-8")) == json.loads(text)


def test_classroom_verify_lists_each_check_without_points() -> None:
    data = strict_json(FORMATS["classroom"](verify_result(passing(), wrong_claim())))
    assert data["max_score"] == 0 and [t["line_no"] for t in data["tests"]] == [0, 14]
    assert [t["status"] for t in data["tests"]] == ["pass", "fail"]


# ---------------------------------------------------------------- registry


def test_every_format_renders_every_case() -> None:
    cases = [failing_run(), passing_run(), verify_result(skipped()), RunResult([])]
    for name, fmt in FORMATS.items():
        for case in cases:
            assert isinstance(fmt(case), str), name
    assert set(FORMATS) == {"json", "junit", "github", "gradescope", "classroom"}
