"""Option values of plain types converted directly, not through pydantic.

typer (0.2x) validates every option's value through a pydantic TypeAdapter that
it builds the first time the option is parsed, even for a default of None:
importing pydantic and building the adapters for `verify`'s options cost ~0.14 s
of a 0.47 s `gradcheck verify` run (`python -X importtime`, bench/startup.py), a
price a pre-commit hook pays on every file. The options here are str, int,
float, bool, Path, an Enum of choices, and Optional/List of those, whose
conversion is one call. `install()` gives such options a converter that makes
that call; any value it cannot convert goes to typer's own adapter, so a wrong
value gets exactly typer's message. Options of other types are left to typer.
Nothing changes if typer's internals move (the hook is skipped).
"""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path
from typing import Any, Callable


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(value)  # anything else: typer's parsing and message


_PLAIN: dict[Any, Callable[[Any], Any]] = {str: str, int: int, float: float, Path: Path, bool: _flag}


def converter(annotation: Any) -> tuple[Callable[[Any], Any], bool] | None:
    """(convert one item, whether the option is a list), or None for a type left to typer."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        return converter(next(a for a in args if a is not type(None)))
    if origin is list and len(args) == 1:
        inner = converter(args[0])
        return (inner[0], True) if inner and not inner[1] else None
    if annotation in _PLAIN:
        return _PLAIN[annotation], False
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return (lambda v, choices=annotation: v if isinstance(v, choices) else choices(v)), False
    return None


class PlainParam:
    """typer's RuntimeParam protocol (`coerce(value, param, ctx)`) for one plain option."""

    def __init__(self, convert: Callable[[Any], Any], is_list: bool, typers_own: Callable[[], Any]):
        self.convert, self.is_list, self.typers_own = convert, is_list, typers_own

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = param.multiple or param.nargs == -1
        if value is None:
            return () if many else None
        try:
            if many or self.is_list:
                return [self._one(v) for v in value]
            return self._one(value)
        except (ValueError, TypeError, KeyError):
            return self.typers_own().coerce(value, param=param, ctx=ctx)

    def _one(self, value: Any) -> Any:
        if isinstance(value, bool) and self.convert in (int, float):
            raise TypeError(value)  # True is not a number here, as pydantic's strict int says
        return self.convert(value)


def install() -> bool:
    """Hook typer's parameter class; False when this typer has no such hook."""
    try:
        from typer.core import _TyperParameter
    except ImportError:
        return False
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if original is None or getattr(original, "plain", False):
        return original is not None

    def get_runtime_param(self: Any) -> Any:
        if getattr(self, "_runtime_param", None) is None:
            found = converter(self.type_descriptor.annotation)
            if found is None:
                return original(self)
            self._runtime_param = PlainParam(*found, typers_own=lambda: original(_reset(self)))
        return self._runtime_param

    get_runtime_param.plain = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param
    return True


def _reset(param: Any) -> Any:
    """The parameter with its plain converter dropped, so typer builds its own for this value."""
    param._runtime_param = None
    return param
