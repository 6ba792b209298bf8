"""examples/homework end to end, through the command line: what an instructor and a student see.

The assignment (the CS224n lecture-4 window classifier) is copied to a
temporary directory and graded with `gradcheck run` in every report format:
the reference solution gets full points and exit 0; the example student (a
transposed ds/dW claim, and tanh′ written with z instead of h in hw.py) gets
exit 1, a JUnit failure naming each wrong check, a GitHub annotation on the
wrong claim's line, and a Gradescope score below the maximum. Each format is
parsed with a real parser: xml.etree + the JUnit XSD (xmlschema), json +
JSON Schemas of Gradescope's results.json and Classroom's runner result.

Then `gradcheck init --ci X` for every X, the Gradescope autograder script of
the example, and `--format gradescope` on configs that cannot run (exit 2).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gradcheck_cli.cli import app

TESTS = Path(__file__).parent
ROOT = TESTS.parent
HOMEWORK = ROOT / "examples" / "homework"
XSD = TESTS / "data" / "junit.xsd"
FORMATS = ("text", "json", "junit", "github", "gradescope", "classroom")
MAX_SCORE = 14  # q1: 5 claims x 1 point, q2: value + 8 gradients x 1 point

GRADESCOPE_VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
# Gradescope's documented results.json fields (autograder specifications), the ones gradcheck writes
GRADESCOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tests"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "integer", "minimum": 0},
        "output": {"type": "string"},
        "visibility": {"enum": GRADESCOPE_VISIBILITY},
        "stdout_visibility": {"enum": GRADESCOPE_VISIBILITY},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "output", "visibility"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "output": {"type": "string"},
                    "visibility": {"enum": GRADESCOPE_VISIBILITY},
                },
            },
        },
    },
}
# GitHub Classroom's runner result, as classroom-resources/autograding-grading-reporter reads it
CLASSROOM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "status", "max_score", "tests"],
    "properties": {
        "version": {"const": 1},
        "status": {"enum": ["pass", "fail", "error"]},
        "max_score": {"type": "number", "minimum": 0},
        "tests": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "status", "score", "message", "test_code", "filename", "line_no"],
                "properties": {
                    "name": {"type": "string"},
                    "status": {"enum": ["pass", "fail", "error"]},
                    "score": {"type": "number", "minimum": 0},
                    "max_score": {"type": "number", "minimum": 0},
                    "message": {"type": "string"},
                    "test_code": {"type": "string"},
                    "filename": {"type": "string"},
                    "line_no": {"type": "integer", "minimum": 0},
                    "duration": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
}


# ---------------------------------------------------------------- helpers


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def gradcheck(*args: object, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """The CLI in-process (typer's CliRunner) from `cwd`; a Python exception fails the test."""
    environ = {"GITHUB_STEP_SUMMARY": "", "NO_COLOR": "1", **(env or {})}
    with chdir(cwd):
        return CliRunner().invoke(app, [str(a) for a in args], env=environ, catch_exceptions=False)


def claim_line(grad: Path, claim: str) -> int:
    """The 1-based line of `claim ds/dW = …` in a .grad file: read, never hard-coded."""
    for i, text in enumerate(grad.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(rf"\s*claim\s+{re.escape(claim)}\s*=", text):
            return i
    raise AssertionError(f"no `claim {claim}` in {grad}")


def validate(instance: Any, schema: dict[str, Any]) -> None:
    import jsonschema  # a test extra: the reports are validated, never skipped

    jsonschema.validate(instance, schema)


def junit_tree(text: str) -> ET.Element:
    root = ET.fromstring(text)
    import xmlschema  # a test extra

    xmlschema.XMLSchema(str(XSD)).validate(text)
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/homework (reports are written into it; the repository stays clean)."""
    dest = tmp_path_factory.mktemp("course") / "homework"
    shutil.copytree(HOMEWORK, dest, ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.xml"))
    return dest


@pytest.fixture(scope="module")
def student(course: Path) -> dict[str, Any]:
    """`gradcheck run` on the example student, once per format: {format: (exit code, report text)}."""
    out = {}
    for fmt in FORMATS:
        r = gradcheck("run", "--format", fmt, cwd=course)
        out[fmt] = (r.exit_code, r.stdout)
    return out


@pytest.fixture(scope="module")
def reference(course: Path) -> dict[str, Any]:
    out = {}
    for fmt in FORMATS:
        r = gradcheck("run", "reference/gradcheck.toml", "--format", fmt, cwd=course)
        out[fmt] = (r.exit_code, r.stdout)
    return out


# ---------------------------------------------------------------- the example itself


def test_the_example_has_every_part() -> None:
    for rel in ("README.md", "gradcheck.toml", "questions/window.grad", "grading/window.grad",
                "reference/window.grad", "reference/hw.py", "reference/gradcheck.toml",
                "submission/window.grad", "submission/hw.py", ".github/workflows/gradcheck.yml",
                "gradescope/run_autograder", "gradescope/setup.sh"):
        assert (HOMEWORK / rel).is_file(), rel
    assert os.access(HOMEWORK / "gradescope" / "run_autograder", os.X_OK)
    readme = (HOMEWORK / "README.md").read_text(encoding="utf-8")
    for topic in ("gradcheck run", "GitHub Actions", "Classroom", "Gradescope", "run_autograder"):
        assert topic in readme


def test_the_config_has_points_visibility_a_claims_check_and_an_impl_check() -> None:
    from gradcheck_cli.homework.config import load_config

    cfg = load_config(HOMEWORK / "gradcheck.toml")
    assert cfg.max_score == MAX_SCORE
    claims, impl = cfg.checks
    assert claims.impl is None and claims.file == (HOMEWORK / "submission" / "window.grad").resolve()
    assert impl.impl is not None and impl.impl.endswith("submission/hw.py:forward_backward")
    assert {c.visibility for c in cfg.checks} == {"visible", "after_due_date"}
    ref = load_config(HOMEWORK / "reference" / "gradcheck.toml")
    assert [(c.name, c.points, c.visibility) for c in ref.checks] == [
        (c.name, c.points, c.visibility) for c in cfg.checks
    ]


def test_the_handout_leaves_every_claim_to_the_student(course: Path) -> None:
    """questions/window.grad: the graph is fine (derivations pass), each TODO claim fails by itself: exit 1, not 2."""
    q = course / "questions" / "window.grad"
    r = gradcheck("verify", "questions/window.grad", "--format", "json", cwd=course)
    assert r.exit_code == 1, r.output
    checks = json.loads(r.stdout)["checks"]
    claims = [c for c in checks if c["kind"] == "claim"]
    assert [c["name"] for c in claims] == [f"claim ds/d{v}" for v in ("u", "b", "W", "x", "x3")]
    assert all(not c["ok"] and "TODO" in c["message"] for c in claims)
    assert all(c["line"] == claim_line(q, c["name"].split()[1]) for c in claims)
    assert all(c["ok"] for c in checks if c["kind"] == "derived")


def test_the_reference_and_the_handout_share_the_graph() -> None:
    """The handout is the reference with its answers taken out: same declarations and graph."""

    def graph(path: Path) -> list[str]:
        lines = []
        for text in path.read_text(encoding="utf-8").splitlines():
            code = text.split("#", 1)[0].strip()
            if code.startswith(("claim", "delta")):
                continue
            if code:
                lines.append(code)
        return lines

    ref = graph(HOMEWORK / "reference" / "window.grad")
    assert ref == graph(HOMEWORK / "questions" / "window.grad")
    assert ref == graph(HOMEWORK / "submission" / "window.grad")
    assert [s.replace("f = tanh", "f : function") for s in graph(HOMEWORK / "grading" / "window.grad")] == ref


def test_the_reference_numpy_agrees_with_the_example_student_only_on_value_and_u() -> None:
    """The deliberate bug, at the numpy level: tanh′(z) written as 1 - z² instead of 1 - h²."""
    import importlib.util

    import numpy as np

    def load(path: Path) -> Any:
        spec = importlib.util.spec_from_file_location(f"hw_{path.parent.name}", path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.forward_backward

    rng = np.random.default_rng(0)
    arrays = {f"x{k}": rng.normal(size=4) for k in range(1, 6)}
    arrays |= {"W": rng.normal(size=(8, 20)), "b": rng.normal(size=8), "u": rng.normal(size=8)}
    s_ref, g_ref = load(HOMEWORK / "reference" / "hw.py")(**arrays)
    s_bad, g_bad = load(HOMEWORK / "submission" / "hw.py")(**arrays)
    assert s_ref == pytest.approx(s_bad)
    assert set(g_ref) == set(g_bad) == set(arrays)
    assert all(g_ref[k].shape == np.shape(arrays[k]) for k in arrays)
    assert np.allclose(g_ref["u"], g_bad["u"]) and not np.allclose(g_ref["W"], g_bad["W"])


# ---------------------------------------------------------------- the reference: full points


def test_reference_passes_with_full_points(reference: dict[str, Any]) -> None:
    for fmt, (code, _) in reference.items():
        assert code == 0, (fmt, reference["text"][1])
    assert f"score {MAX_SCORE} / {MAX_SCORE}" in reference["text"][1]
    data = json.loads(reference["json"][1])
    assert data["ok"] is True and data["score"] == data["max_score"] == MAX_SCORE
    kinds = {c["kind"] for e in data["entries"] for c in e["report"]["checks"]}
    assert kinds == {"derived", "claim", "impl"}


def test_reference_reports_in_every_format(reference: dict[str, Any]) -> None:
    gs = json.loads(reference["gradescope"][1])
    validate(gs, GRADESCOPE_SCHEMA)
    assert gs["score"] == MAX_SCORE and all(t["score"] == t["max_score"] for t in gs["tests"])
    cl = json.loads(reference["classroom"][1])
    validate(cl, CLASSROOM_SCHEMA)
    assert cl["status"] == "pass" and sum(t["score"] for t in cl["tests"]) == cl["max_score"] == MAX_SCORE
    root = junit_tree(reference["junit"][1])
    assert root.get("failures") == "0" and root.get("errors") == "0"
    assert "::error" not in reference["github"][1]


# ---------------------------------------------------------------- the example student: exit 1, located failures


def test_student_exits_1_in_every_format(student: dict[str, Any]) -> None:
    for fmt, (code, out) in student.items():
        assert code == 1, (fmt, out)
    assert f"score 6 / {MAX_SCORE}" in student["text"][1]


def test_student_junit_names_the_wrong_claim_and_the_wrong_gradients(course: Path, student: dict[str, Any]) -> None:
    root = junit_tree(student["junit"][1])
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"q1 gradients of the window score", "q2 numpy forward_backward"}
    failed = {(c.get("classname"), c.get("name")): c.find("failure") for c in root.iter("testcase")
              if c.find("failure") is not None}
    q1 = {name for (cls, name) in failed if cls.startswith("q1")}
    q2 = {name for (cls, name) in failed if cls.startswith("q2")}
    assert q1 == {"claim ds/dW"}
    assert q2 == {f"impl forward_backward: grad {v}" for v in ("W", "b", "x1", "x2", "x3", "x4", "x5")}
    line = claim_line(course / "submission" / "window.grad", "ds/dW")
    body = failed[("q1 gradients of the window score", "claim ds/dW")]
    assert f"submission/window.grad:{line}" in (body.text or "")
    assert "transpose" in (body.get("message") or "")
    assert int(root.get("failures") or 0) == len(failed) == 8 and root.get("errors") == "0"
    passed = {c.get("name") for c in root.iter("testcase") if len(list(c)) == 0}
    assert {"claim ds/db", "impl forward_backward: value", "impl forward_backward: grad u"} <= passed


def test_student_github_annotation_points_at_the_wrong_claims_line(course: Path, student: dict[str, Any]) -> None:
    line = claim_line(course / "submission" / "window.grad", "ds/dW")
    errors = [s for s in student["github"][1].splitlines() if s.startswith("::error")]
    assert len(errors) == 8  # the claim and seven gradients; GitHub shows ten per step
    claim = [e for e in errors if "claim ds/dW" in e]
    assert len(claim) == 1
    assert claim[0].startswith(f"::error file=submission/window.grad,line={line},title=")
    assert all(re.match(r"::error file=submission/hw\.py,title=q2 numpy forward_backward%3A impl ", e)
               for e in errors if e not in claim)
    assert student["github"][1].rstrip().endswith(f"score 6 / {MAX_SCORE}")


def test_student_gradescope_score_below_max(student: dict[str, Any]) -> None:
    gs = json.loads(student["gradescope"][1])
    validate(gs, GRADESCOPE_SCHEMA)
    q1, q2 = gs["tests"]
    assert (q1["score"], q1["max_score"], q1["visibility"], q1["status"]) == (4, 5, "visible", "failed")
    assert (q2["score"], q2["max_score"], q2["visibility"], q2["status"]) == (2, 9, "after_due_date", "failed")
    assert gs["score"] == q1["score"] + q2["score"] == 6 < MAX_SCORE
    assert gs["stdout_visibility"] == "hidden"  # q2's details must not leak through stdout
    assert "FAIL  claim ds/dW (line 34)" in q1["output"] and "transpose" in q1["output"]
    assert "FAIL  impl forward_backward: grad W" in q2["output"]


def test_student_classroom_result(course: Path, student: dict[str, Any]) -> None:
    cl = json.loads(student["classroom"][1])
    validate(cl, CLASSROOM_SCHEMA)
    assert cl["status"] == "fail" and cl["max_score"] == MAX_SCORE
    q1, q2 = cl["tests"]
    assert (q1["score"], q1["filename"], q1["line_no"]) == (
        4, "submission/window.grad", claim_line(course / "submission" / "window.grad", "ds/dW"))
    assert q2["score"] == 2 and q2["status"] == "fail"
    # the command that reproduces q2 carries the implementation and the convention
    assert ("reproduce: gradcheck verify grading/window.grad --seed 0 --convention shape "
            "--impl submission/hw.py:forward_backward" in q2["test_code"])
    # the workflow passes it base64-encoded through $GITHUB_OUTPUT
    assert json.loads(base64.b64decode(base64.b64encode(student["classroom"][1].encode()))) == cl


def test_student_json(student: dict[str, Any]) -> None:
    data = json.loads(student["json"][1])
    assert data["ok"] is False and data["score"] == 6 and data["max_score"] == MAX_SCORE
    q1, q2 = data["entries"]
    wrong = [c for c in q1["report"]["checks"] if not c["ok"]]
    assert [(c["name"], c["kind"], c["line"]) for c in wrong] == [("claim ds/dW", "claim", 34)]
    assert {c["kind"] for c in q2["report"]["checks"]} == {"derived", "impl"}
    for c in q1["report"]["checks"] + q2["report"]["checks"]:
        assert c["kind"] in ("derived", "claim", "impl")


def test_student_step_summary_is_a_markdown_table(course: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    r = gradcheck("run", "--format", "github", cwd=course, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.exit_code == 1
    text = summary.read_text(encoding="utf-8")
    assert f"score 6 / {MAX_SCORE}" in text
    rows = [s for s in text.splitlines() if s.startswith("| ")]
    assert rows[0].startswith("| | check | score |")
    assert any("q1 gradients of the window score" in s and "4 / 5" in s for s in rows)
    assert any("q2 numpy forward_backward" in s and "2 / 9" in s for s in rows)


def test_student_output_file_keeps_the_text_on_the_terminal(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    r = gradcheck("run", "--format", "junit", "--output", out, cwd=course)
    assert r.exit_code == 1
    junit_tree(out.read_text(encoding="utf-8"))
    assert "FAIL  claim ds/dW" in r.stdout and "<testsuites" not in r.stdout


def test_fixing_the_bugs_gives_full_points(tmp_path: Path) -> None:
    """The student corrects both files: the students' config now gives full points."""
    dest = tmp_path / "homework"
    shutil.copytree(HOMEWORK, dest)
    shutil.copy(dest / "reference" / "hw.py", dest / "submission" / "hw.py")
    sub = dest / "submission" / "window.grad"
    sub.write_text(sub.read_text(encoding="utf-8").replace("claim ds/dW = x delta^T", "claim ds/dW = delta x^T"),
                   encoding="utf-8")
    r = gradcheck("run", "--format", "gradescope", cwd=dest)
    assert r.exit_code == 0, r.stdout
    assert json.loads(r.stdout)["score"] == MAX_SCORE


def test_a_real_subprocess_writes_results_json(course: Path, tmp_path: Path) -> None:
    """The console script as CI calls it: exit 1, results.json on disk, the text report on stdout."""
    results = tmp_path / "results" / "results.json"
    env = {**os.environ, "NO_COLOR": "1", "GITHUB_STEP_SUMMARY": ""}
    exe = shutil.which("gradcheck")
    cmd = [exe] if exe else [sys.executable, "-m", "gradcheck_cli"]
    p = subprocess.run([*cmd, "run", "gradcheck.toml", "--format", "gradescope", "--output", str(results)],
                       cwd=course, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 1, p.stderr
    assert f"score 6 / {MAX_SCORE}" in p.stdout and "Traceback" not in p.stderr
    data = json.loads(results.read_text(encoding="utf-8"))
    validate(data, GRADESCOPE_SCHEMA)
    assert data["score"] == 6


# ---------------------------------------------------------------- the Gradescope autograder script


def _autograder(tmp_path: Path, upload: dict[str, Path]) -> dict[str, Any]:
    """Lay out /autograder as Gradescope does (under tmp_path) and run the example's run_autograder."""
    ag = tmp_path / "autograder"
    src = ag / "source"
    shutil.copytree(HOMEWORK, src, ignore=shutil.ignore_patterns("reference", "__pycache__"))
    (ag / "submission").mkdir(parents=True)
    for name, path in upload.items():
        (ag / "submission" / name).write_bytes(path.read_bytes())
    env = {**os.environ, "AUTOGRADER": str(ag), "NO_COLOR": "1", "GITHUB_STEP_SUMMARY": ""}
    p = subprocess.run(["bash", str(src / "gradescope" / "run_autograder")], env=env,
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr  # Gradescope reads the file, not the exit code
    assert "Traceback" not in p.stderr
    data: dict[str, Any] = json.loads((ag / "results" / "results.json").read_text(encoding="utf-8"))
    validate(data, GRADESCOPE_SCHEMA)
    return data


@pytest.mark.parametrize(
    "who, expected",
    [("reference", MAX_SCORE), ("submission", 6), ("nothing", 0)],
)
def test_gradescope_run_autograder(tmp_path: Path, who: str, expected: int) -> None:
    upload = {} if who == "nothing" else {
        "window.grad": HOMEWORK / who / "window.grad", "hw.py": HOMEWORK / who / "hw.py"}
    data = _autograder(tmp_path, upload)
    assert data["score"] == expected
    assert sum(t["max_score"] for t in data["tests"]) == MAX_SCORE  # a missing file scores 0, it does not vanish


# ---------------------------------------------------------------- `gradcheck init --ci X`


INIT_FILES = {
    "github": ["gradcheck.toml", "questions/score.grad", ".github/workflows/gradcheck.yml"],
    "classroom": ["gradcheck.toml", "questions/score.grad", ".github/workflows/classroom.yml"],
    "gradescope": ["gradcheck.toml", "questions/score.grad", "run_autograder", "setup.sh"],
    "pre-commit": [".pre-commit-config.yaml", "questions/score.grad"],
}


@pytest.mark.parametrize("ci", sorted(INIT_FILES))
def test_init_writes_files_that_run(ci: str, tmp_path: Path) -> None:
    import yaml  # pre-commit, a test extra, brings pyyaml
    r = gradcheck("init", "--ci", ci, cwd=tmp_path)
    assert r.exit_code == 0, r.output
    for rel in INIT_FILES[ci]:
        assert (tmp_path / rel).is_file(), rel
        assert f"wrote {rel}" in r.stdout
        if rel.endswith((".yml", ".yaml")):
            doc = yaml.safe_load((tmp_path / rel).read_text(encoding="utf-8"))
            assert isinstance(doc, dict)
            if "jobs" in doc:
                steps = [s for job in doc["jobs"].values() for s in job["steps"]]
                assert any("gradcheck run" in str(s.get("run", "")) for s in steps)
            else:
                assert doc["repos"][0]["hooks"][0]["id"] == "gradcheck-verify"
        if rel in ("run_autograder", "setup.sh"):
            assert os.access(tmp_path / rel, os.X_OK), f"{rel} must be executable for Gradescope"
            assert subprocess.run(["bash", "-n", str(tmp_path / rel)], check=False).returncode == 0
    run = gradcheck("run", "--format", "gradescope", cwd=tmp_path)
    if ci == "pre-commit":  # no config: the hook checks single files
        assert run.exit_code == 2
        assert json.loads(run.stdout)["score"] == 0
        assert gradcheck("verify", "questions/score.grad", cwd=tmp_path).exit_code == 0
    else:
        assert run.exit_code == 0, run.stdout
        data = json.loads(run.stdout)
        validate(data, GRADESCOPE_SCHEMA)
        assert data["score"] == sum(t["max_score"] for t in data["tests"]) > 0
    again = gradcheck("init", "--ci", ci, cwd=tmp_path)
    assert again.exit_code == 2 and "--force" in again.output
    assert gradcheck("init", "--ci", ci, "--force", cwd=tmp_path).exit_code == 0


def test_init_classroom_workflow_feeds_the_reporter(tmp_path: Path) -> None:
    import yaml  # pre-commit, a test extra, brings pyyaml
    gradcheck("init", "--ci", "classroom", cwd=tmp_path)
    doc = yaml.safe_load((tmp_path / ".github/workflows/classroom.yml").read_text(encoding="utf-8"))
    steps = doc["jobs"]["run-autograding-tests"]["steps"]
    grader = next(s for s in steps if s.get("id") == "gradients")
    assert "--format classroom" in grader["run"] and "GITHUB_OUTPUT" in grader["run"]
    reporter = next(s for s in steps if "autograding-grading-reporter" in str(s.get("uses")))
    assert reporter["with"]["runners"] == "gradients"
    assert "steps.gradients.outputs.result" in reporter["env"]["GRADIENTS_RESULTS"]


def test_example_workflow(tmp_path: Path) -> None:
    import yaml  # pre-commit, a test extra, brings pyyaml
    doc = yaml.safe_load((HOMEWORK / ".github/workflows/gradcheck.yml").read_text(encoding="utf-8"))
    steps = [s for job in doc["jobs"].values() for s in job["steps"]]
    runs = [str(s.get("run", "")) for s in steps]
    assert any("gradcheck run gradcheck.toml --format github" in r for r in runs)
    assert any("--format junit --output gradcheck-junit.xml" in r for r in runs)
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "gradcheck-junit.xml" and upload["if"] == "always()"


# ---------------------------------------------------------------- configs that cannot run: exit 2, results.json anyway


BROKEN = {
    "missing config": None,
    "toml syntax": 'seed = 0\n[[check]\nfile = "q.grad"\n',
    "unknown key": '[[check]]\nfile = "q.grad"\npoitns = 3\n',
    "missing file": '[[check]]\nfile = "nowhere.grad"\n',
    "bad impl target": '[[check]]\nfile = "q.grad"\nimpl = "hw.py"\n',
    "no checks": "seed = 1\n",
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_gradescope_results_json_even_when_the_config_is_broken(case: str, tmp_path: Path) -> None:
    (tmp_path / "q.grad").write_text("dims n = 3\nx : n\nu : n\ns = u^T x\n", encoding="utf-8")
    text = BROKEN[case]
    if text is not None:
        (tmp_path / "gradcheck.toml").write_text(text, encoding="utf-8")
    results = tmp_path / "out" / "results.json"
    r = gradcheck("run", "--format", "gradescope", "--output", results, cwd=tmp_path)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    data = json.loads(results.read_text(encoding="utf-8"))
    validate(data, GRADESCOPE_SCHEMA)
    assert data["score"] == 0 and data["tests"][0]["status"] == "failed"
    assert "could not run" in data["output"]
    if text is not None:
        assert "gradcheck.toml" in data["tests"][0]["output"]  # the message names the file (and line)


def test_broken_config_through_a_real_subprocess(tmp_path: Path) -> None:
    (tmp_path / "gradcheck.toml").write_text('[[check]]\nfile = "q.grad"\npoitns = 3\n', encoding="utf-8")
    (tmp_path / "q.grad").write_text("dims n = 3\nx : n\nu : n\ns = u^T x\n", encoding="utf-8")
    results = tmp_path / "results.json"
    exe = shutil.which("gradcheck")
    cmd = [exe] if exe else [sys.executable, "-m", "gradcheck_cli"]
    p = subprocess.run([*cmd, "run", "--format", "gradescope", "--output", str(results)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"}, check=False)
    assert p.returncode == 2
    assert "gradcheck.toml:3" in p.stderr and "poitns" in p.stderr and "Traceback" not in p.stderr
    assert json.loads(results.read_text(encoding="utf-8"))["score"] == 0
