"""The READMEs run: every code block of README.md and examples/homework/README.md is executed.

- a block without a language is a .grad file: it parses and `verify` passes;
- ```text / ```console blocks: each `$ gradcheck …` line is run (`$ cd DIR` moves,
  `$ pip …` is skipped) and the lines shown under it must appear, in order, in
  its real output (`...`/`…` lines elide; a line ending in `…` is a prefix);
  other commands (`zip`) are not run;
- ```python blocks run in order in one namespace (W, x, text and np given), the
  pytest one's test functions with the plugin's fixture object;
- ```toml: a homework config that loads next to the bundled homework's files;
- ```bash: a `gradcheck …` command whose files exist runs without a crash (exit 0
  or 1); a synopsis (`[--flag]`, FILE) may only name flags its `--help` lists.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent.parent
READMES = [ROOT / "README.md", ROOT / "examples/homework/README.md"]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)


def blocks(path: Path) -> list[tuple[str, str, int]]:
    text = path.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def _cases(lang: str) -> list[object]:
    return [pytest.param(p, body, id=f"{p.relative_to(ROOT)}:{line}")
            for p in READMES for kind, body, line in blocks(p) if kind == lang]


def _gradcheck(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "gradcheck_cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _shown_in(shown: list[str], actual: list[str]) -> str | None:
    """None when every shown line appears in actual in order; else the first one that does not."""
    it = iter(actual)
    for want in shown:
        if want.strip() in ("...", "…"):
            continue
        prefix = want.endswith("…")
        target = want[:-1].rstrip() if prefix else want
        for got in it:
            if (got.startswith(target) if prefix else got == target):
                break
        else:
            return want
    return None


def test_the_readmes_have_every_kind_of_block() -> None:
    kinds = {k for p in READMES for k, _, _ in blocks(p)}
    assert {"", "text", "console", "python", "toml", "bash"} <= kinds


@pytest.mark.parametrize("path, body", _cases(""))
def test_grad_blocks_parse_and_verify(path: Path, body: str) -> None:
    from gradcheck_cli import parse, verify

    report = verify(parse(body, f"{path.name} block"))
    assert report.ok, [(c.name, c.message) for c in report.checks if not c.ok]


def _sessions(body: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line.rstrip())
    return out


SESSIONS = [c for c in _cases("text") + _cases("console") if _sessions(c.values[1])]  # type: ignore[attr-defined]


def test_output_excerpts_without_a_command_are_few() -> None:
    """A text block with no `$` line cannot be run: only the README's error example is one."""
    excerpts = [c for c in _cases("text") + _cases("console") if not _sessions(c.values[1])]  # type: ignore[attr-defined]
    assert len(excerpts) == 1 and "error[shape]" in excerpts[0].values[1]  # type: ignore[attr-defined]


@pytest.mark.parametrize("path, body", SESSIONS)
def test_shown_sessions_are_what_runs(path: Path, body: str, tmp_path: Path) -> None:
    sessions = _sessions(body)
    cwd = ROOT
    for command, shown in sessions:
        cmd = command.split("  #")[0].split(" # ")[0].strip()
        words = shlex.split(cmd)
        if words[0] == "cd":
            cwd = (cwd / words[1]).resolve()
            continue
        if words[0] != "gradcheck":
            continue  # pip install, zip: not ours to run
        r = _gradcheck(words[1:], cwd)
        assert r.returncode in (0, 1), f"`{cmd}` exited {r.returncode}:\n{r.stderr}"
        actual = [line.rstrip() for line in (r.stdout + r.stderr).splitlines()]
        missing = _shown_in(shown, actual)
        assert missing is None, f"`{cmd}`: the README shows\n{missing}\nwhich is not in its output:\n" + \
            "\n".join(actual)


def test_python_blocks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcheck_cli.pytest_plugin import Gradcheck, GradcheckFailure

    rng = np.random.default_rng(0)
    ns: dict[str, object] = {"np": np, "W": rng.standard_normal((3, 4)), "x": rng.standard_normal(4),
                             "text": (ROOT / "examples/mlp.grad").read_text(encoding="utf-8")}
    monkeypatch.chdir(ROOT)
    ran = 0
    for path in READMES:
        for kind, body, line in blocks(path):
            if kind != "python":
                continue
            exec(compile(body, f"{path.name}:{line}", "exec"), ns)  # noqa: S102 - our own README's code
            ran += 1
    tests = {k: v for k, v in ns.items() if k.startswith("test_") and callable(v)}
    assert tests, "the pytest block defines no test"
    monkeypatch.chdir(ROOT / "examples/homework")
    for name, fn in tests.items():
        try:
            fn(Gradcheck(ROOT / "examples/homework"))  # type: ignore[operator]
        except GradcheckFailure as e:  # the bundled submission has deliberate bugs: a report, with lines
            assert name == "test_question_1" and re.search(r"\.grad:\d+: claim", str(e)), f"{name}: {e}"
    assert ran >= 3


@pytest.mark.parametrize("path, body", _cases("toml"))
def test_toml_blocks_are_configs_that_load(path: Path, body: str, tmp_path: Path) -> None:
    from gradcheck_cli.homework.config import load_config

    home = tmp_path / "homework"
    shutil.copytree(ROOT / "examples/homework", home)
    (home / "gradcheck.toml").write_text(body, encoding="utf-8")
    cfg = load_config(home / "gradcheck.toml")
    assert cfg.checks


@lru_cache(maxsize=None)
def _help(command: str) -> str:
    return _gradcheck([command, "--help"], ROOT).stdout


def _commands(body: str) -> list[str]:
    out = []
    joined = body.replace("\\\n", " ")
    for line in joined.splitlines():
        for part in line.split("&&"):
            part = part.split(" #")[0].strip()
            if part.startswith("gradcheck "):
                out.append(part)
    return out


@pytest.mark.parametrize("path, body", _cases("bash"))
def test_bash_commands_exist_and_run(path: Path, body: str) -> None:
    for cmd in _commands(body):
        words = cmd.replace("[", " ").replace("]", " ").replace("|", " ").split()
        sub = words[1]
        flags = [w.split("=")[0] for w in words if w.startswith("--")]
        helptext = _help(sub)
        assert helptext, f"`gradcheck {sub}` is not a command"
        for flag in flags:
            assert re.search(rf"{re.escape(flag)}\b", helptext), f"`{cmd}`: {flag} is not an option of {sub}"
        files = [w for w in words[2:] if not w.startswith("-") and ("/" in w or w.endswith((".grad", ".toml")))]
        if "[" in cmd or not files or not all((ROOT / f).exists() for f in files):
            continue  # a synopsis, or the autograder's own paths
        r = _gradcheck(shlex.split(cmd)[1:], ROOT)
        assert r.returncode in (0, 1), f"`{cmd}` exited {r.returncode}:\n{r.stderr}"
