"""The homework config: which `.grad` files `gradcheck run` checks, for how many points.

A course writes it once (`gradcheck.toml`, or `[tool.gradcheck]` in
`pyproject.toml`) and every student push is graded with it, so a typo must
stop the run with a positioned message (exit 2), never turn into a silently
skipped question or a zero for the student. Hence: unknown keys, wrong
types, bad values and missing files are all `UsageError`s pointing at the
offending key.

    seed = 0                    # defaults for every [[check]]
    trials = 2
    convention = "either"

    submission = "submission"   # the student's files: each must be a regular file in here
    memory = 2048               # MB for the process running the student's code

    [[check]]
    name = "score gradients"
    file = "submission/score.grad"       # relative to this file's directory
    question = "questions/score.grad"    # the handout: its graph must be kept, its TODO claims answered
    impl = "submission/hw.py:forward_backward"
    points = 5

The file is read in `config_text.py`, its keys and dataclasses are in
`config_schema.py`, the validation in `config_check.py` and
`config_values.py`; this module finds the file and loads it.
"""

from __future__ import annotations

from pathlib import Path

from gradcheck_cli.errors import Span, UsageError
from gradcheck_cli.homework.config_check import build
from gradcheck_cli.homework.config_schema import (
    CONFIG_NAME,
    CONVENTIONS,
    METHODS,
    MISSING,
    PYPROJECT_NAME,
    VECTORS,
    VISIBILITIES,
    CheckConfig,
    Defaults,
    HomeworkConfig,
)
from gradcheck_cli.homework.config_text import Locator, has_tool_table, parse_toml, read_text

__all__ = [
    "CONFIG_NAME", "CONVENTIONS", "METHODS", "MISSING", "PYPROJECT_NAME", "VECTORS", "VISIBILITIES",
    "CheckConfig", "Defaults", "HomeworkConfig", "find_config", "load_config",
]


def find_config(path: Path | None = None) -> Path:
    """The config file to use: PATH itself, or gradcheck.toml / pyproject.toml in PATH (default: cwd)."""
    if path is not None and not path.is_dir():
        if not path.exists():
            raise UsageError(
                f"config file {path} does not exist",
                hint=f"create {CONFIG_NAME}, or run `gradcheck init`",
            )
        return path
    where = path if path is not None else Path(".")
    own = where / CONFIG_NAME
    if own.is_file():
        return own
    pyproject = where / PYPROJECT_NAME
    if pyproject.is_file() and has_tool_table(pyproject):
        return pyproject
    shown = "the current directory" if path is None else str(where)
    raise UsageError(
        f"no {CONFIG_NAME} in {shown}, and no [tool.gradcheck] in a {PYPROJECT_NAME} there",
        hint="write one with `gradcheck init`, or pass the config path: `gradcheck run CONFIG`",
    )


def load_config(path: Path | None = None) -> HomeworkConfig:
    """Read and validate a homework config; every problem is a positioned UsageError (exit 2)."""
    cfg_path = find_config(path)
    text = read_text(cfg_path)
    source = str(cfg_path)
    data = parse_toml(text, source)
    in_pyproject = cfg_path.name == PYPROJECT_NAME
    if in_pyproject:
        tool = data.get("tool", {})
        table = tool.get("gradcheck") if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            raise UsageError(
                f"{source} has no [tool.gradcheck] table",
                Span(0, 0, 1, 1, source),
                hint="add [tool.gradcheck] and [[tool.gradcheck.check]] tables",
            )
        data = table
    loc = Locator(text, source, "tool.gradcheck" if in_pyproject else "")
    return build(data, cfg_path.resolve(), loc)
