"""The homework config's schema: the keys, their choices, and the dataclasses a loaded config fills.

`config.py` finds and loads the file, `config_text.py` reads the TOML and
finds a key's position, `config_check.py` validates the tables into these
dataclasses, `config_values.py` checks each setting's type and range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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


# the keys: settings a [[check]] inherits from the top level, and those of one side only
DEFAULT_KEYS = {
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
TOP_ONLY = {"missing_files", "submission", "max_file_kb"}
CHECK_ONLY = {"name", "file", "impl", "points", "question"}
CHECK_KEYS = (DEFAULT_KEYS - TOP_ONLY) | CHECK_ONLY
TOP_KEYS = DEFAULT_KEYS | {"check"}
