"""`--format json`: the shape of spec/CLI.md for `verify`, with scores for `run`.

Stable (sorted keys, two-space indent) so that it can serve as a golden and an
API. `verify` of one file prints exactly the Report's own dict, which is the
spec's `{"ok": …, "checks": [...]}` plus `file`, `seed` and `notes`. Several
files keep that shape: the checks of all files in one list (each check names
its file), plus `files`. A `run` prints `{"ok", "score", "max_score",
"entries": [...]}`, each entry carrying its report in the same shape.
"""

from __future__ import annotations

import json
from typing import Any

from gradcheck_cli.report.common import plain
from gradcheck_cli.report.model import Entry, RunResult


def entry_dict(e: Entry) -> dict[str, Any]:
    return {
        "name": e.name,
        "ok": e.ok,
        "points": e.points,
        "score": e.score,
        "max_score": e.max_score,
        "partial": e.partial,
        "visibility": e.visibility,
        "error": e.error,
        "file": e.source,
        "report": e.report.to_json() if e.report is not None else None,
    }


def run_dict(result: RunResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "score": result.score,
        "max_score": result.max_score,
        "seconds": round(result.seconds, 3),
        "entries": [entry_dict(e) for e in result.entries],
    }


def verify_dict(result: RunResult) -> dict[str, Any]:
    """One file: the Report's dict as it is. Several: their checks together, each with its file."""
    entries = list(result.entries)
    if len(entries) == 1 and entries[0].report is not None and entries[0].error is None:
        return entries[0].report.to_json()
    checks: list[dict[str, Any]] = []
    files = []
    for e in entries:
        for c in e.checks:
            d = c.to_json()
            d["file"] = d.get("file") or e.source
            checks.append(d)
        files.append(
            {
                "file": e.source,
                "ok": e.ok,
                "error": e.error,
                "seed": e.report.seed if e.report is not None else None,
                "notes": list(e.report.notes) if e.report is not None else [],
            }
        )
    out: dict[str, Any] = {"ok": result.ok, "checks": checks, "files": files}
    if len(entries) == 1:
        out["file"] = entries[0].source
        out["error"] = entries[0].error
    return out


def render_json(result: RunResult) -> str:
    data = run_dict(result) if result.graded else verify_dict(result)
    return json.dumps(
        plain(data), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False
    )
