"""Reading a homework config's TOML: bytes to text, tomllib's errors to Spans, and where a key is.

tomllib gives no positions, so `Locator` finds a key's line by scanning the
text inside the table it belongs to: good enough for hand-written configs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from gradcheck_cli.errors import Span, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def has_tool_table(pyproject: Path) -> bool:
    """Whether a pyproject.toml names [tool.gradcheck]; a syntax error there counts as yes (so it is reported)."""
    text = read_text(pyproject)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "gradcheck" in text
    tool = data.get("tool")
    return isinstance(tool, dict) and "gradcheck" in tool


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(
            f"{path} is not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse_toml(text: str, source: str) -> dict[str, Any]:
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


class Locator:
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
