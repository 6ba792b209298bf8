"""One setting of a homework config, type- and range-checked: a validator per kind of key.

Each validator takes the key, its TOML value and `bad(expected, hint)`, which
builds the UsageError pointing at the key, and returns the value to store.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from gradcheck_cli.errors import Span, UsageError
from gradcheck_cli.homework.config_schema import CONVENTIONS, METHODS, MISSING, VECTORS, VISIBILITIES

Bad = Callable[..., UsageError]

CHOICES = {
    "convention": CONVENTIONS,
    "method": METHODS,
    "visibility": VISIBILITIES,
    "vectors": VECTORS,
    "missing_files": MISSING,
}


def _string(key: str, v: Any, bad: Bad, span: Span) -> Any:
    if not isinstance(v, str) or not v.strip():
        raise bad("a non-empty string")
    return v.strip()


def _count(key: str, v: Any, bad: Bad, span: Span) -> Any:
    if isinstance(v, bool) or not isinstance(v, int):
        raise bad("an integer")
    if v < (1 if key == "trials" else 0):
        raise bad("at least 1" if key == "trials" else "a non-negative integer")
    return v


def _number(key: str, v: Any, bad: Bad, span: Span) -> Any:
    if key == "memory" and v is False:
        return None  # memory = false: no limit
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise bad("a number")
    if key == "points" and v < 0:
        raise bad("a number ≥ 0")
    if key != "points" and v <= 0:
        raise bad("a number > 0")
    return float(v)


def _flag(key: str, v: Any, bad: Bad, span: Span) -> Any:
    if not isinstance(v, bool):
        raise bad("true or false")
    return v


def _choice(key: str, v: Any, bad: Bad, span: Span) -> Any:
    if not isinstance(v, str) or v not in CHOICES[key]:
        raise bad("one of " + ", ".join(f'"{c}"' for c in CHOICES[key]))
    return v


def _bind(key: str, v: Any, bad: Bad, span: Span) -> Any:
    if not isinstance(v, dict):
        raise bad("a table of function bindings", hint='bind = { f = "tanh" }')
    for name, fn in v.items():
        if not name.isidentifier() or not isinstance(fn, str) or not fn.isidentifier():
            raise UsageError(
                f"`bind` maps a function name to an elementwise function, got {name} = {show(fn)}",
                span,
                hint='bind = { f = "tanh" }',
            )
    return dict(v)


VALIDATORS: dict[str, Callable[[str, Any, Bad, Span], Any]] = {
    **{k: _string for k in ("name", "file", "impl", "question", "submission")},
    **{k: _count for k in ("seed", "trials")},
    **{k: _number for k in ("points", "tolerance", "timeout", "memory", "max_file_kb")},
    "partial": _flag,
    **{k: _choice for k in CHOICES},
    "bind": _bind,
}


def check_value(key: str, v: Any, span: Span) -> Any:
    """Type- and range-check one setting; the error points at the key."""

    def bad(expected: str, hint: str | None = None) -> UsageError:
        return UsageError(f"`{key}` must be {expected}, got {show(v)}", span, hint=hint)

    if key not in VALIDATORS:
        raise AssertionError(f"no validation rule for config key {key!r}")
    return VALIDATORS[key](key, v, bad, span)


def show(v: Any) -> str:
    """A TOML value as the config wrote it, for a message."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    return repr(v)
