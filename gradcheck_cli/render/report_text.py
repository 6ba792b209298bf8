"""The human view of a verify report: one line per check, failures explained."""

from __future__ import annotations

from gradcheck_cli.numeric.result import Report

_MARK = {"pass": "PASS", "kink": "KINK", "skipped": "SKIP", "fail": "FAIL", "error": "FAIL"}


def render_report_text(report: Report) -> str:
    notes = "; ".join(report.notes[:-1])
    lines = [f"{report.file}: {notes}" if notes else report.file]
    width = max((len(_title(c)) for c in report.checks), default=10)
    files: dict[str, list[str]] = {}
    for c in report.checks:
        mark = _MARK.get(c.status, "PASS" if c.ok else "FAIL")
        detail = []
        if c.convention:
            detail.append(c.convention)
        if c.max_rel_error is not None and c.ok:
            detail.append(f"max rel. error {c.max_rel_error:.1e}")
        if c.method and c.evaluations:
            detail.append(f"{c.method}, {c.mode}")
        extra = f"  ({'; '.join(detail)})" if detail else ""
        lines.append(f"  {mark}  {_title(c).ljust(width)}{extra}")
        if c.message and (not c.ok or c.status in ("kink", "skipped") or c.mode == "sample"
                          or c.message.startswith("the implementation returned")):
            lines.append(f"        {c.message}")
        if c.column and c.line:
            lines.extend(_caret(c.file or report.file, c.line, c.column, files))
    n = len(report.checks)
    failed = sum(1 for c in report.checks if not c.ok)
    kinks = sum(1 for c in report.checks if c.status == "kink")
    summary = f"{n} checks: {n - failed} passed, {failed} failed"
    if kinks:
        summary += f" ({kinks} with kinks)"
    lines.append(summary + (f"  [{report.notes[-1]}]" if report.notes else ""))
    return "\n".join(lines) + "\n"


def _caret(path: str, line: int, column: int, cache: dict[str, list[str]]) -> list[str]:
    """The claim's line with a caret under the column: where a student's answer stops making sense."""
    try:
        text = _lines(path, cache)[line - 1].rstrip("\r")
    except (OSError, IndexError, UnicodeDecodeError):
        return []
    if len(text) > 100:  # a long line: the part around the caret
        start = max(0, column - 40)
        text, column = ("…" if start else "") + text[start:start + 100] + "…", column - start + (1 if start else 0)
    return [f"        | {text}", "        | " + " " * (column - 1) + "^"]


def _lines(path: str, cache: dict[str, list[str]]) -> list[str]:
    """A file's lines, read once per report (10⁴ broken claims must not read the file 10⁴ times); split like the grammar."""
    if path not in cache:
        with open(path, encoding="utf-8-sig") as f:
            cache[path] = f.read().split("\n")
    return cache[path]


def _title(c) -> str:  # type: ignore[no-untyped-def]
    where = f" (line {c.line})" if c.line else ""
    return f"{c.name}{where}"
