"""Validating a homework config's tables into a HomeworkConfig.

Unknown keys, wrong types, bad values and missing files are all UsageErrors
pointing at the offending key (exit 2): a typo must never become a silently
skipped question or a zero for the student.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from gradcheck_cli.errors import Span, UsageError
from gradcheck_cli.homework.config_schema import (
    CHECK_KEYS,
    CHECK_ONLY,
    DEFAULT_KEYS,
    TOP_KEYS,
    TOP_ONLY,
    CheckConfig,
    Defaults,
    HomeworkConfig,
)
from gradcheck_cli.homework.config_text import Locator
from gradcheck_cli.homework.config_values import check_value


def _value(key: str, v: Any, loc: Locator, where: str, index: int | None) -> Any:
    return check_value(key, v, loc.span(where, key, index))


def build(data: dict[str, Any], cfg_path: Path, loc: Locator) -> HomeworkConfig:
    """The parsed TOML tables (the root, or [tool.gradcheck]) → a validated config."""
    reject_unknown(data, TOP_KEYS, loc, "", None, "top level")
    values = {k: _value(k, data[k], loc, "", None) for k in DEFAULT_KEYS if k in data}
    if "submission" in values:
        values["submission"] = resolve(values["submission"], cfg_path.parent)
    defaults = Defaults(**values)
    raw_checks = data.get("check")
    if raw_checks is None or raw_checks == []:
        raise UsageError(
            "the config lists no checks",
            loc.span(""),
            hint='add a [[check]] table with at least `file = "….grad"`',
        )
    if not isinstance(raw_checks, list) or not all(isinstance(c, dict) for c in raw_checks):
        raise UsageError(
            "`check` must be an array of tables: write each as [[check]]",
            loc.span("", "check"),
        )
    checks = tuple(_check(i, raw, defaults, cfg_path.parent, loc) for i, raw in enumerate(raw_checks))
    _reject_twins(checks, loc)
    return HomeworkConfig(path=cfg_path, defaults=defaults, checks=checks)


def _reject_twins(checks: tuple[CheckConfig, ...], loc: Locator) -> None:
    seen: dict[str, int] = {}
    for i, c in enumerate(checks):
        if c.name in seen:
            raise UsageError(
                f"two checks are named {c.name!r} (check {seen[c.name] + 1} and check {i + 1})",
                loc.span("check", "name", i),
                hint="names key the reports (JUnit, Gradescope): give each check its own",
            )
        seen[c.name] = i


def _check(i: int, raw: dict[str, Any], defaults: Defaults, root: Path, loc: Locator) -> CheckConfig:
    reject_unknown(raw, CHECK_KEYS, loc, "check", i, f"check {i + 1}")
    if "file" not in raw:
        raise UsageError(
            f"check {i + 1} has no `file`",
            loc.span("check", None, i),
            hint='every [[check]] needs file = "path/to/question.grad"',
        )
    values = {k: _value(k, v, loc, "check", i) for k, v in raw.items()}
    file_path = resolve(values["file"], root)
    if defaults.missing_files == "error" and not file_path.is_file():
        raise UsageError(
            f"check {i + 1}: {values['file']} does not exist (looked in {root})",
            loc.span("check", "file", i),
            hint="paths are relative to the config file's directory",
        )
    question = _question(i, values, root, loc)
    impl = values.get("impl")
    if impl is not None:
        impl = resolve_impl(impl, root, defaults.missing_files == "error", loc.span("check", "impl", i), i)
    inherited = {k: getattr(defaults, k) for k in DEFAULT_KEYS - TOP_ONLY}
    inherited.update({k: values[k] for k in values if k in inherited})
    body = loc.table_range("check", i)
    return CheckConfig(
        name=values.get("name") or default_name(values["file"], impl),
        file=file_path,
        impl=impl,
        points=float(values.get("points", 1.0)),
        line=body[0] if body else None,  # 0-based index of the body = 1-based header line
        question=question,
        submission=defaults.submission,
        max_file_kb=defaults.max_file_kb,
        **inherited,
    )


def _question(i: int, values: dict[str, Any], root: Path, loc: Locator) -> Path | None:
    """The handout a check's file started from; missing is a typo whatever missing_files says."""
    if "question" not in values:
        return None
    question = resolve(values["question"], root)
    if not question.is_file():
        raise UsageError(
            f"check {i + 1}: question {values['question']} does not exist (looked in {root})",
            loc.span("check", "question", i),
            hint="`question` names the handout .grad file the student's `file` started from",
        )
    return question


def default_name(file: str, impl: str | None) -> str:
    """A check's name when it gives none: its file, and the implementation it checks."""
    if impl is None:
        return file
    return f"{file} ({Path(impl.rpartition(':')[0]).name}:{impl.rpartition(':')[2]})"


def resolve(rel: str, root: Path) -> Path:
    """Absolute, with `..` folded but symlinks kept: whether a student's file is a link is checked at run time."""
    p = Path(rel).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else root / p))


def resolve_impl(target: str, root: Path, must_exist: bool, span: Span, i: int) -> str:
    """Make an impl target absolute: hw.py:f → /abs/hw.py:f.

    Split at the last colon, since a Windows path has one after the drive letter.
    """
    path, sep, func = target.rpartition(":")
    if not sep or not path or not func.isidentifier():
        raise UsageError(
            f"check {i + 1}: impl must be PATH.py:FUNCTION, got {target!r}",
            span,
            hint='for example impl = "submission/hw.py:forward_backward"',
        )
    resolved = resolve(path, root)
    if must_exist and not resolved.is_file():
        raise UsageError(
            f"check {i + 1}: {path} does not exist (looked in {root})",
            span,
            hint='paths are relative to the config file\'s directory; missing_files = "fail" '
            "makes a missing submission that check's failure instead",
        )
    return f"{resolved}:{func}"


def reject_unknown(table: dict[str, Any], allowed: set[str], loc: Locator, where: str, index: int | None,
                   label: str) -> None:
    """An unknown key is an error at the key, with the closest known key as the hint."""
    for key in table:
        if key not in allowed:
            close = closest(key, allowed)
            hint = f"did you mean `{close}`?" if close else f"known keys: {', '.join(sorted(allowed))}"
            if where == "" and key in CHECK_ONLY:
                hint = f"`{key}` belongs in a [[check]] table"
            raise UsageError(
                f"unknown key `{key}` at the {label}" if where == "" else f"unknown key `{key}` in {label}",
                loc.span(where, key, index),
                hint=hint,
            )


def closest(key: str, allowed: set[str]) -> str | None:
    found = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.7)
    return found[0] if found else None
