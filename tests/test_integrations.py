"""The ready integrations, each run for real: the pre-commit hooks, the GitHub Action, the pytest plugin.

- `.pre-commit-hooks.yaml` through `pre-commit try-repo` on a temporary git
  repository holding a good and a bad `.grad` file. try-repo builds the
  hook's virtualenv with pip from a snapshot of this checkout (the working
  tree as it is, committed into a temporary repository: the project's own
  repository is never touched), so it needs pip to reach an index or a
  wheel cache. A second test runs the same manifest entries as
  `language: system` hooks on the installed gradcheck, which needs no network.
- `action.yml`: the YAML structure of a composite action, and the bash
  script of its `gradcheck run` step executed as the runner would (with
  GITHUB_OUTPUT, RUNNER_TEMP, …), on the homework example.
- The pytest plugin in a temporary project with `pytester`: `assert_file` on
  a good and a bad `.grad` file, and `assert_gradient` on numpy code.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent
ROOT = TESTS.parent
HOMEWORK = ROOT / "examples" / "homework"
GOOD = HOMEWORK / "reference" / "window.grad"
BAD = HOMEWORK / "submission" / "window.grad"  # claim ds/dW is transposed

import yaml  # noqa: E402 - pre-commit, a test extra, brings pyyaml

GIT = shutil.which("git")
PRE_COMMIT = shutil.which("pre-commit")
# git must work without a user's global config (name, signing, hooks)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "gradcheck tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "gradcheck tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}
# pip's words when it cannot reach an index: the only reason try-repo may be skipped
OFFLINE = re.compile(r"(Could not find a version that satisfies|No matching distribution found|"
                     r"Network is unreachable|Temporary failure in name resolution|Failed to establish a new connection)")


def claim_line(grad: Path, claim: str) -> int:
    for i, text in enumerate(grad.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(rf"\s*claim\s+{re.escape(claim)}\s*=", text):
            return i
    raise AssertionError(f"no `claim {claim}` in {grad}")


def git(*args: str, cwd: Path) -> None:
    assert GIT is not None
    subprocess.run([GIT, *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def manifest() -> list[dict[str, Any]]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    return hooks


# ---------------------------------------------------------------- .pre-commit-hooks.yaml


def test_hook_manifest_structure() -> None:
    hooks = {h["id"]: h for h in manifest()}
    assert set(hooks) == {"gradcheck-verify", "gradcheck-run"}
    for h in hooks.values():
        assert {"id", "name", "entry", "language"} <= set(h)
        assert h["entry"].split()[0] == "gradcheck"
        re.compile(h["files"])
    verify, run = hooks["gradcheck-verify"], hooks["gradcheck-run"]
    assert verify["entry"] == "gradcheck verify" and verify["pass_filenames"] is True
    assert re.search(verify["files"], "questions/score.grad") and not re.search(verify["files"], "hw.py")
    assert run["entry"] == "gradcheck run" and run["pass_filenames"] is False
    for path in ("gradcheck.toml", "sub/gradcheck.toml", "pyproject.toml", "hw.py", "q.grad"):
        assert re.search(run["files"], path), path


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's working tree (package, pyproject, manifest) committed into a temporary repository."""
    if GIT is None:
        pytest.fail("git is not installed: pre-commit cannot run")
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "gradcheck_cli", repo / "gradcheck_cli",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--no-verify", "--no-gpg-sign", "-m", "snapshot for pre-commit try-repo", cwd=repo)
    return repo


def student_repo(root: Path, files: dict[str, Path | str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git("init", "-q", cwd=root)
    for name, src in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        text = src.read_text(encoding="utf-8") if isinstance(src, Path) else src
        (root / name).write_text(text, encoding="utf-8")
    git("add", "-A", cwd=root)
    return root


def pre_commit(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    assert PRE_COMMIT is not None
    env = {**os.environ, **GIT_ENV, "NO_COLOR": "1", "PRE_COMMIT_COLOR": "never", "GITHUB_STEP_SUMMARY": ""}
    env.pop("PRE_COMMIT_HOME", None)
    return subprocess.run([PRE_COMMIT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def _need_pre_commit() -> None:
    if PRE_COMMIT is None:
        pytest.fail("pre-commit is not installed (pip install pre-commit): the hooks cannot be tested")


GRADED = """\
[[check]]
name = "window"
file = "bad.grad"
points = 5
"""


def test_pre_commit_try_repo_good_and_bad(hook_repo: Path, tmp_path: Path) -> None:
    """Every hook of the manifest, installed by pre-commit from the repository as a user's config would."""
    _need_pre_commit()
    target = student_repo(tmp_path / "course", {"good.grad": GOOD, "bad.grad": BAD, "gradcheck.toml": GRADED})
    p = pre_commit("try-repo", str(hook_repo), "--all-files", "--color", "never", cwd=target)
    out = p.stdout + p.stderr
    if p.returncode != 0 and OFFLINE.search(out) and "gradcheck verify..." not in out:
        pytest.skip("pre-commit could not build the hook's virtualenv: pip cannot reach a package index "
                    "(offline); test_pre_commit_hooks_as_system_hooks covers the manifest without network. "
                    + OFFLINE.search(out).group(0))  # type: ignore[union-attr]
    assert p.returncode == 1, out
    assert "internal error" not in out and "Traceback" not in out, out
    # gradcheck-verify: both files in one call; the bad one fails at the transposed claim's line
    assert re.search(r"gradcheck verify\.+Failed", out), out
    assert f"FAIL  claim ds/dW (line {claim_line(BAD, 'ds/dW')})" in out
    good = out.split("good.grad: seed 0", 1)[1].split("\n\n", 1)[0]
    assert "FAIL" not in good and "13 checks: 13 passed, 0 failed" in good, out
    bad = out.split("bad.grad: seed 0", 1)[1].split("\n\n", 1)[0]
    assert "13 checks: 12 passed, 1 failed" in bad, out
    # gradcheck-run: the config, once
    assert re.search(r"gradcheck run\.+Failed", out), out
    assert "score 0 / 5" in out

    # a run on good.grad alone passes: test_pre_commit_hooks_as_system_hooks (one try-repo here,
    # since each builds a fresh virtualenv: about a minute)


def test_pre_commit_hooks_as_system_hooks(tmp_path: Path) -> None:
    """The manifest's entries as `repo: local`, `language: system` hooks on the installed gradcheck (no network)."""
    _need_pre_commit()
    if shutil.which("gradcheck") is None:
        pytest.fail("the gradcheck console script is not on PATH (pip install -e .)")
    hooks = []
    for h in manifest():
        local = {k: v for k, v in h.items() if k not in ("description",)}
        local["language"] = "system"
        hooks.append(local)
    config = {"repos": [{"repo": "local", "hooks": hooks}]}
    target = student_repo(tmp_path / "course", {
        "good.grad": GOOD, "bad.grad": BAD, "gradcheck.toml": GRADED,
        ".pre-commit-config.yaml": yaml.safe_dump(config, sort_keys=False),
    })
    p = pre_commit("run", "--all-files", "--color", "never", cwd=target, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"gradcheck verify\.+Failed", p.stdout)
    assert f"FAIL  claim ds/dW (line {claim_line(BAD, 'ds/dW')})" in p.stdout
    assert re.search(r"gradcheck run\.+Failed", p.stdout) and "score 0 / 5" in p.stdout
    ok = pre_commit("run", "gradcheck-verify", "--files", "good.grad", "--color", "never", cwd=target, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert re.search(r"gradcheck verify\.+Passed", ok.stdout)
    # a file that is not .grad is not the hook's business
    skipped = pre_commit("run", "gradcheck-verify", "--files", "gradcheck.toml", "--color", "never", cwd=target)
    assert skipped.returncode == 0 and "no files to check" in skipped.stdout.lower()


# ---------------------------------------------------------------- action.yml


def action() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_action_is_a_composite_action() -> None:
    doc = action()
    assert doc["name"] and doc["description"]
    assert doc["runs"]["using"] == "composite"
    steps = doc["runs"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    for s in steps:
        assert ("uses" in s) != ("run" in s), s  # each step does one thing
        if "run" in s:
            assert s.get("shell") == "bash", f"composite run steps need a shell: {s.get('name')}"
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert "$GITHUB_ACTION_PATH" in install["run"]
    run = next(s for s in steps if s.get("id") == "run")
    assert "gradcheck run" in run["run"]
    # inputs reach the script through env, never pasted into it (no script injection)
    assert "${{" not in run["run"]
    for name, spec in doc["inputs"].items():
        assert spec.get("description"), name
        assert "required" in spec
    assert {"config", "format", "junit"} <= set(doc["inputs"])
    for name, spec in doc["outputs"].items():
        assert spec["value"].startswith("${{ steps.run.outputs."), name
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert "always()" in upload["if"]


def _run_action_step(tmp_path: Path, fmt: str, junit: str = "gradcheck-junit.xml") -> tuple[int, dict[str, str], Path]:
    """The `gradcheck run` step's bash, as the runner executes it, in a copy of the homework example."""
    if shutil.which("bash") is None or shutil.which("gradcheck") is None:
        pytest.fail("bash and the gradcheck console script are needed to run the action's script")
    step = next(s for s in action()["runs"]["steps"] if s.get("id") == "run")
    work = tmp_path / "repo"
    shutil.copytree(HOMEWORK, work, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "runner").mkdir()
    outputs = tmp_path / "github_output"
    summary = tmp_path / "step_summary.md"
    outputs.touch()
    env = {**os.environ, "GC_CONFIG": "gradcheck.toml", "GC_FORMAT": fmt, "GC_ARGS": "--jobs 2", "GC_JUNIT": junit,
           "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary),
           "RUNNER_TEMP": str(tmp_path / "runner"), "NO_COLOR": "1"}
    # GitHub runs `bash --noprofile --norc -eo pipefail {0}`
    script = tmp_path / "step.sh"
    script.write_text(step["run"], encoding="utf-8")
    p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=work, env=env,
                       capture_output=True, text=True, timeout=600, check=False)
    values = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines() if "=" in line)
    assert summary.read_text(encoding="utf-8").count("### gradcheck") == 1  # the junit rerun adds none
    return p.returncode, values, work


def test_action_script_annotates_and_writes_junit(tmp_path: Path) -> None:
    code, outputs, work = _run_action_step(tmp_path, "github")
    assert code == 1 and outputs["exit-code"] == "1"
    junit = work / "gradcheck-junit.xml"
    root = ET.fromstring(junit.read_text(encoding="utf-8"))
    assert any(c.get("name") == "claim ds/dW" and c.find("failure") is not None for c in root.iter("testcase"))


def test_action_script_classroom_result_output(tmp_path: Path) -> None:
    code, outputs, _work = _run_action_step(tmp_path, "classroom", junit="")
    assert code == 0  # Classroom's reporter fails the job itself
    assert outputs["exit-code"] == "1"
    result = json.loads(base64.b64decode(outputs["result"]))
    assert result["status"] == "fail" and result["max_score"] == 14
    assert sum(t["score"] for t in result["tests"]) == 6


# ---------------------------------------------------------------- the pytest plugin in a temporary project

INSTALLED = any(ep.value == "gradcheck_cli.pytest_plugin" for ep in entry_points(group="pytest11"))
PLUGIN_ARGS = () if INSTALLED else ("-p", "gradcheck_cli.pytest_plugin")


def test_plugin_assert_file_on_good_and_bad_grad_files(pytester: pytest.Pytester) -> None:
    (pytester.path / "questions").mkdir()
    (pytester.path / "questions" / "good.grad").write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    (pytester.path / "questions" / "bad.grad").write_text(BAD.read_text(encoding="utf-8"), encoding="utf-8")
    line = claim_line(BAD, "ds/dW")
    pytester.makepyfile(test_gradients=f"""
        def test_good(gradcheck):
            report = gradcheck.assert_file("questions/good.grad", convention="shape")
            assert report.ok and any(c.kind == "claim" for c in report.checks)

        def test_bad(gradcheck):
            gradcheck.assert_file("questions/bad.grad", convention="shape", seed=3)

        def test_bad_report_without_raising(gradcheck):
            report = gradcheck.verify("questions/bad.grad")
            assert [(c.name, c.line) for c in report.checks if not c.ok] == [("claim ds/dW", {line})]
    """)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*GradcheckFailure: gradcheck: 1 of 13 checks failed in questions/bad.grad (seed 3)",
        f"*FAIL questions/bad.grad:{line}: claim ds/dW",
        "*the claim is 5d×n, the transpose of the variable's shape n×5d*",
    ])
    assert "Traceback" not in result.stdout.str().split("short test summary")[0].split("test_bad")[-1]


def test_plugin_assert_file_with_an_implementation(pytester: pytest.Pytester) -> None:
    for rel in ("grading/window.grad", "reference/hw.py", "submission/hw.py"):
        dest = pytester.path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HOMEWORK / rel, dest)
    pytester.makepyfile(test_impl="""
        def test_reference(gradcheck):
            gradcheck.assert_file("grading/window.grad", impl="reference/hw.py:forward_backward")

        def test_submission(gradcheck):
            gradcheck.assert_file("grading/window.grad", impl="submission/hw.py:forward_backward")
    """)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*GradcheckFailure: gradcheck: 7 of 17 checks failed in grading/window.grad*",
        "*FAIL impl forward_backward: grad W*",
    ])


def test_plugin_assert_gradient_on_numpy_code(pytester: pytest.Pytester) -> None:
    for who in ("reference", "submission"):
        shutil.copy(HOMEWORK / who / "hw.py", pytester.path / f"hw_{who}.py")
    pytester.makepyfile(test_numpy="""
        import numpy as np
        import pytest

        from hw_reference import forward_backward as good
        from hw_submission import forward_backward as bad

        rng = np.random.default_rng(0)
        ARRAYS = {f"x{k}": rng.normal(size=4) for k in range(1, 6)}
        ARRAYS.update(W=rng.normal(size=(8, 20)), b=rng.normal(size=8), u=rng.normal(size=8))

        def test_good(gradcheck):
            assert gradcheck.assert_gradient(good, **ARRAYS)

        def test_bad(gradcheck):
            gradcheck.assert_gradient(bad, **ARRAYS)

        def test_softmax_cross_entropy(gradcheck):
            y = np.eye(5)[2]
            def f(theta):
                p = np.exp(theta - theta.max()); p /= p.sum()
                return -np.log(p[2]), p - y
            gradcheck.assert_gradient(f, rng.normal(size=5))
    """)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*GradcheckFailure: gradient check FAILED*",
        "*W[[]*]: claimed *, numeric *; * of 160 entries of W disagree",
        "*b[[]*]: claimed *, numeric *",
        "*u: ok (all 8 entries agree*",
    ])
    out = result.stdout.str()
    assert "check_api.py" not in out  # the failure shows the report, not the checker's own frames
