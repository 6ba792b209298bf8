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

tomllib gives no positions, so `_Locator` finds a key's line by scanning the
text inside the table it belongs to: good enough for hand-written configs.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradcheck_cli.errors import Span, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

CONFIG_NAME = "gradcheck.toml"
PYPROJECT_NAME = "pyproject.toml"

# Gradescope's words, used as they are in results.json
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
CONVENTIONS = ("shape", "either")
METHODS = ("auto", "central", "complex", "richardson")
VECTORS = ("flat", "column")
MISSING = ("error", "fail")


@dataclass(frozen=True)
class Defaults:
    """Top-level settings: every `[[check]]` inherits them unless it sets its own."""

    seed: int = 0
    trials: int = 2
    tolerance: float | None = None  # relative tolerance; None: verify's own default
    convention: str = "either"
    method: str = "auto"
    timeout: float = 60.0  # seconds per --impl call
    visibility: str = "visible"
    vectors: str = "flat"
    partial: bool = False
    bind: Mapping[str, str] = field(default_factory=dict, hash=False)
    # "error": a missing file stops the run (exit 2), which catches an
    # instructor's typo; "fail": the check fails with score 0 instead, for an
    # autograder where a student may not have submitted every file.
    missing_files: str = "error"
    memory: float | None = 2048.0  # MB of address space for the student's process; false in TOML: no limit
    # the directory a student's files live in (absolute), and the largest file
    # accepted from it: `file`/`impl` paths inside it must be regular files
    # that stay inside it once symlinks are resolved
    submission: Path | None = None
    max_file_kb: float = 1024.0


@dataclass(frozen=True)
class CheckConfig:
    """One graded check: a `.grad` file (its derivations and claims), optionally an implementation."""

    name: str
    file: Path  # absolute, resolved against the config file's directory
    impl: str | None = None  # "ABSOLUTE/PATH.py:func", what VerifyOptions.impl takes
    points: float = 1.0
    tolerance: float | None = None
    convention: str = "either"
    seed: int = 0
    trials: int = 2
    method: str = "auto"
    visibility: str = "visible"
    timeout: float = 60.0
    bind: Mapping[str, str] = field(default_factory=dict, hash=False)
    vectors: str = "flat"
    partial: bool = False  # score ∝ passing claim/impl checks instead of all-or-nothing
    line: int | None = None  # where the [[check]] table starts in the config
    memory: float | None = 2048.0
    question: Path | None = None  # the handout this file must keep the graph of (absolute)
    submission: Path | None = None  # from the top level: where the student's files must stay
    max_file_kb: float = 1024.0


@dataclass(frozen=True)
class HomeworkConfig:
    """A loaded, validated config: its own path, the defaults, and the checks in file order."""

    path: Path
    defaults: Defaults
    checks: tuple[CheckConfig, ...]

    @property
    def root(self) -> Path:
        """The directory `file` and `impl` paths are relative to."""
        return self.path.parent

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)


# ---------------------------------------------------------------- loading


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
    if pyproject.is_file() and _has_tool_table(pyproject):
        return pyproject
    shown = "the current directory" if path is None else str(where)
    raise UsageError(
        f"no {CONFIG_NAME} in {shown}, and no [tool.gradcheck] in a {PYPROJECT_NAME} there",
        hint="write one with `gradcheck init`, or pass the config path: `gradcheck run CONFIG`",
    )


def load_config(path: Path | None = None) -> HomeworkConfig:
    """Read and validate a homework config; every problem is a positioned UsageError (exit 2)."""
    cfg_path = find_config(path)
    text = _read(cfg_path)
    source = str(cfg_path)
    data = _parse_toml(text, source)
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
    loc = _Locator(text, source, "tool.gradcheck" if in_pyproject else "")
    return _build(data, cfg_path.resolve(), loc)


def _has_tool_table(pyproject: Path) -> bool:
    """Whether a pyproject.toml names [tool.gradcheck]; a syntax error there counts as yes (so it is reported)."""
    text = _read(pyproject)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "gradcheck" in text
    tool = data.get("tool")
    return isinstance(tool, dict) and "gradcheck" in tool


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(
            f"{path} is not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    """tomllib, with its "(at line L, column C)" turned into a Span the CLI can underline."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = _TOML_POS.search(msg)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            msg = msg[: m.start()].rstrip()
        else:  # "(at end of document)"
            line = text.count("\n") + 1
            col = len(text.rsplit("\n", 1)[-1]) + 1
            msg = (
                _TOML_POS.sub("", msg)
                .replace("(at end of document)", "at the end of the file")
                .strip()
            )
        start = _offset(text, line, col)
        raise UsageError(
            f"TOML syntax: {msg[:1].lower()}{msg[1:]}",
            Span(start, start + 1, line, col, source),
        ) from None


def _offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    return sum(len(s) + 1 for s in lines[: line - 1]) + col - 1


# ---------------------------------------------------------------- positions


class _Locator:
    """Finds the line of a key in the config text: a scan, since tomllib keeps no positions.

    Tables are addressed as TOML paths relative to the config's root
    ("" for the top level, "check" for the array of checks); `index` picks the
    n-th `[[check]]`. Keys are searched from the table's header to the next
    header. When the key is not found (an inline table, a dotted key) the
    table's header is the answer, and failing that line 1.
    """

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str, source: str, prefix: str):
        self.text = text
        self.source = source
        self.prefix = prefix
        self.lines = text.split("\n")
        # (line index, normalised table path) of every header
        self.headers: list[tuple[int, str]] = []
        for i, raw in enumerate(self.lines):
            m = self._HEADER.match(raw)
            if m:
                self.headers.append(
                    (i, re.sub(r"\s*\.\s*", ".", m.group(1)).replace('"', ""))
                )

    def _full(self, table: str) -> str:
        return ".".join(p for p in (self.prefix, table) if p)

    def table_range(
        self, table: str, index: int | None = None
    ) -> tuple[int, int] | None:
        """Line indices [start, end) of a table's body; the header is start - 1 (or 0 for the root)."""
        full = self._full(table)
        if not full:
            end = self.headers[0][0] if self.headers else len(self.lines)
            return 0, end
        matches = [n for n, (_line, name) in enumerate(self.headers) if name == full]
        if not matches:
            return None
        if (index or 0) >= len(matches):
            return None
        n = matches[index or 0]
        start = self.headers[n][0] + 1
        end = self.headers[n + 1][0] if n + 1 < len(self.headers) else len(self.lines)
        return start, end

    def span(
        self, table: str, key: str | None = None, index: int | None = None
    ) -> Span:
        rng = self.table_range(table, index)
        if rng is None:
            return self._at(0, 0, 1)
        start, end = rng
        if key is not None:
            pat = re.compile(
                r"^(\s*)(" + re.escape(key) + r'|"' + re.escape(key) + r'")\s*[=.]'
            )
            for i in range(start, end):
                m = pat.match(self.lines[i])
                if m:
                    return self._at(i, len(m.group(1)), len(m.group(2)))
        header = max(start - 1, 0) if self._full(table) else 0
        text = self.lines[header] if header < len(self.lines) else ""
        indent = len(text) - len(text.lstrip())
        return self._at(header, indent, max(1, len(text.strip())))

    def _at(self, line_index: int, col0: int, width: int) -> Span:
        start = sum(len(s) + 1 for s in self.lines[:line_index]) + col0
        return Span(start, start + width, line_index + 1, col0 + 1, self.source)


# ---------------------------------------------------------------- validation


_NUMBER = (int, float)
_DEFAULT_KEYS = {
    "seed",
    "trials",
    "tolerance",
    "convention",
    "method",
    "timeout",
    "visibility",
    "vectors",
    "partial",
    "bind",
    "missing_files",
    "memory",
    "submission",
    "max_file_kb",
}
_TOP_ONLY = {"missing_files", "submission", "max_file_kb"}
_CHECK_ONLY = {"name", "file", "impl", "points", "question"}
_CHECK_KEYS = (_DEFAULT_KEYS - _TOP_ONLY) | _CHECK_ONLY
_TOP_KEYS = _DEFAULT_KEYS | {"check"}


def _build(data: dict[str, Any], cfg_path: Path, loc: _Locator) -> HomeworkConfig:
    _reject_unknown(data, _TOP_KEYS, loc, "", None, "top level")
    values = {k: _value(k, data[k], loc, "", None) for k in _DEFAULT_KEYS if k in data}
    if "submission" in values:
        values["submission"] = _resolve(values["submission"], cfg_path.parent)
    defaults = Defaults(**values)
    raw_checks = data.get("check")
    if raw_checks is None or raw_checks == []:
        raise UsageError(
            "the config lists no checks",
            loc.span(""),
            hint='add a [[check]] table with at least `file = "….grad"`',
        )
    if not isinstance(raw_checks, list) or not all(
        isinstance(c, dict) for c in raw_checks
    ):
        raise UsageError(
            "`check` must be an array of tables: write each as [[check]]",
            loc.span("", "check"),
        )
    checks = tuple(
        _check(i, raw, defaults, cfg_path.parent, loc)
        for i, raw in enumerate(raw_checks)
    )
    seen: dict[str, int] = {}
    for i, c in enumerate(checks):
        if c.name in seen:
            raise UsageError(
                f"two checks are named {c.name!r} (check {seen[c.name] + 1} and check {i + 1})",
                loc.span("check", "name", i),
                hint="names key the reports (JUnit, Gradescope): give each check its own",
            )
        seen[c.name] = i
    return HomeworkConfig(path=cfg_path, defaults=defaults, checks=checks)


def _check(
    i: int, raw: dict[str, Any], defaults: Defaults, root: Path, loc: _Locator
) -> CheckConfig:
    _reject_unknown(raw, _CHECK_KEYS, loc, "check", i, f"check {i + 1}")
    if "file" not in raw:
        raise UsageError(
            f"check {i + 1} has no `file`",
            loc.span("check", None, i),
            hint='every [[check]] needs file = "path/to/question.grad"',
        )
    values = {k: _value(k, v, loc, "check", i) for k, v in raw.items()}
    file_path = _resolve(values["file"], root)
    if defaults.missing_files == "error" and not file_path.is_file():
        raise UsageError(
            f"check {i + 1}: {values['file']} does not exist (looked in {root})",
            loc.span("check", "file", i),
            hint="paths are relative to the config file's directory",
        )
    question = None
    if "question" in values:
        question = _resolve(values["question"], root)
        if not question.is_file():  # the teacher's file: missing is a typo whatever missing_files says
            raise UsageError(
                f"check {i + 1}: question {values['question']} does not exist (looked in {root})",
                loc.span("check", "question", i),
                hint="`question` names the handout .grad file the student's `file` started from",
            )
    impl = values.get("impl")
    if impl is not None:
        impl = _resolve_impl(
            impl,
            root,
            defaults.missing_files == "error",
            loc.span("check", "impl", i),
            i,
        )
    inherited = {k: getattr(defaults, k) for k in _DEFAULT_KEYS - _TOP_ONLY}
    inherited.update({k: values[k] for k in values if k in inherited})
    body = loc.table_range("check", i)
    header_line = (
        body[0] if body else None
    )  # 0-based index of the body = 1-based header line
    return CheckConfig(
        name=values.get("name") or _default_name(values["file"], impl),
        file=file_path,
        impl=impl,
        points=float(values.get("points", 1.0)),
        line=header_line,
        question=question,
        submission=defaults.submission,
        max_file_kb=defaults.max_file_kb,
        **inherited,
    )


def _default_name(file: str, impl: str | None) -> str:
    if impl is None:
        return file
    return f"{file} ({Path(impl.rpartition(':')[0]).name}:{impl.rpartition(':')[2]})"


def _resolve(rel: str, root: Path) -> Path:
    """Absolute, with `..` folded but symlinks kept: whether a student's file is a link is checked at run time."""
    import os

    p = Path(rel).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else root / p))


def _resolve_impl(target: str, root: Path, must_exist: bool, span: Span, i: int) -> str:
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
    resolved = _resolve(path, root)
    if must_exist and not resolved.is_file():
        raise UsageError(
            f"check {i + 1}: {path} does not exist (looked in {root})",
            span,
            hint='paths are relative to the config file\'s directory; missing_files = "fail" '
            "makes a missing submission that check's failure instead",
        )
    return f"{resolved}:{func}"


def _reject_unknown(
    table: dict[str, Any],
    allowed: set[str],
    loc: _Locator,
    where: str,
    index: int | None,
    label: str,
) -> None:
    for key in table:
        if key not in allowed:
            close = _closest(key, allowed)
            hint = (
                f"did you mean `{close}`?"
                if close
                else f"known keys: {', '.join(sorted(allowed))}"
            )
            if where == "" and key in _CHECK_ONLY:
                hint = f"`{key}` belongs in a [[check]] table"
            raise UsageError(
                f"unknown key `{key}` at the {label}"
                if where == ""
                else f"unknown key `{key}` in {label}",
                loc.span(where, key, index),
                hint=hint,
            )


def _closest(key: str, allowed: set[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.7)
    return found[0] if found else None


def _value(key: str, v: Any, loc: _Locator, where: str, index: int | None) -> Any:
    """Type- and range-check one setting; the error points at the key."""
    span = loc.span(where, key, index)

    def bad(expected: str, hint: str | None = None) -> UsageError:
        return UsageError(
            f"`{key}` must be {expected}, got {_show(v)}", span, hint=hint
        )

    if key in ("name", "file", "impl", "question", "submission"):
        if not isinstance(v, str) or not v.strip():
            raise bad("a non-empty string")
        return v.strip()
    if key in ("seed", "trials"):
        if isinstance(v, bool) or not isinstance(v, int):
            raise bad("an integer")
        if v < (1 if key == "trials" else 0):
            raise bad("at least 1" if key == "trials" else "a non-negative integer")
        return v
    if key == "memory" and v is False:
        return None  # memory = false: no limit
    if key in ("points", "tolerance", "timeout", "memory", "max_file_kb"):
        if isinstance(v, bool) or not isinstance(v, _NUMBER) or not math.isfinite(v):
            raise bad("a number")
        if key == "points" and v < 0:
            raise bad("a number ≥ 0")
        if key != "points" and v <= 0:
            raise bad("a number > 0")
        return float(v)
    if key == "partial":
        if not isinstance(v, bool):
            raise bad("true or false")
        return v
    choices = {
        "convention": CONVENTIONS,
        "method": METHODS,
        "visibility": VISIBILITIES,
        "vectors": VECTORS,
        "missing_files": MISSING,
    }
    if key in choices:
        if not isinstance(v, str) or v not in choices[key]:
            raise bad("one of " + ", ".join(f'"{c}"' for c in choices[key]))
        return v
    if key == "bind":
        if not isinstance(v, dict):
            raise bad("a table of function bindings", hint='bind = { f = "tanh" }')
        for name, fn in v.items():
            if (
                not name.isidentifier()
                or not isinstance(fn, str)
                or not fn.isidentifier()
            ):
                raise UsageError(
                    f"`bind` maps a function name to an elementwise function, got {name} = {_show(fn)}",
                    span,
                    hint='bind = { f = "tanh" }',
                )
        return dict(v)
    raise AssertionError(f"no validation rule for config key {key!r}")


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    return repr(v)
