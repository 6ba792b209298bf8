"""Pieces every report format shares: check titles, failure text, locations, JSON-safe values.

Kept in one place so the JUnit body, the Gradescope output, the Classroom
message and the pytest assertion all describe a failed check in the same
words: its name, its line, what disagreed and by how much.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from gradcheck_cli.numeric.result import Check, Report
from gradcheck_cli.report.model import Entry

MARKS = {
    "pass": "PASS",
    "kink": "KINK",
    "skipped": "SKIP",
    "fail": "FAIL",
    "error": "ERROR",
}


def mark(c: Check) -> str:
    return MARKS.get(c.status, "PASS" if c.ok else "FAIL")


def check_title(c: Check) -> str:
    """ "claim ds/dW (line 14)": the name a student recognises, and where to look."""
    return f"{c.name} (line {c.line})" if c.line else c.name


def check_detail(c: Check) -> str:
    """What a failed (or noteworthy) check has to say: message, diagnosis, the numbers."""
    parts = [c.message.strip()] if c.message and c.message.strip() else []
    diag = (c.diagnosis or "").strip()
    if diag and not _already_said(diag, parts[0] if parts else ""):
        # a bare tag ("transposed") reads as a stray word on its own line
        parts.append(diag if " " in diag else f"diagnosis: {diag}")
    numbers = []
    if c.max_abs_error is not None and _finite(c.max_abs_error):
        numbers.append(f"max abs. error {c.max_abs_error:.3g}")
    if c.max_rel_error is not None and _finite(c.max_rel_error):
        numbers.append(f"max rel. error {c.max_rel_error:.3g}")
    if c.worst_index is not None:
        numbers.append(f"worst entry {list(c.worst_index)}")
    if numbers and not c.ok:
        parts.append("; ".join(numbers))
    if not parts:
        parts.append("check failed" if not c.ok else "")
    return "\n".join(p for p in parts if p)


def _already_said(diagnosis: str, message: str) -> bool:
    """Whether the message already says what the diagnosis does ("…the transpose of…" / "transposed")."""
    d, m = diagnosis.lower(), message.lower()
    if d in m:
        return True
    return " " not in d and len(d) > 4 and d.rstrip("d") in m


def check_line(c: Check) -> str:
    """One line per check, then its detail indented when it failed or has a note."""
    head = f"{mark(c):<5} {check_title(c)}"
    if c.ok and c.status not in ("kink", "skipped"):
        return head
    detail = check_detail(c)
    return head + ("\n" + _indent(detail, 6) if detail else "")


def entry_text(e: Entry, include_passing: bool = True) -> str:
    """The plain-text account of one entry: every check (or only the failures), or the input error."""
    if e.error is not None:
        return "ERROR the input could not be used:\n" + _indent(e.error.rstrip(), 6)
    if e.report is None:
        return "ERROR no report"
    checks = (
        e.checks
        if include_passing
        else [c for c in e.checks if not c.ok or c.status == "kink"]
    )
    lines = [check_line(c) for c in checks]
    n, failed = len(e.checks), len(e.failed)
    lines.append(f"{n - failed} of {n} checks passed (seed {e.report.seed})")
    return "\n".join(lines)


def failure_summary(report: Report) -> str:
    """A readable account of a Report's failures: what `assert_file` raises with."""
    failed = [c for c in report.checks if not c.ok]
    head = f"gradcheck: {len(failed)} of {len(report.checks)} checks failed in {report.file} (seed {report.seed})"
    body = []
    for c in failed:
        where = f"{c.file or report.file}:{c.line}: " if c.line else ""
        body.append(f"  {mark(c)} {where}{c.name}")
        detail = check_detail(c)
        if detail:
            body.append(_indent(detail, 6))
    return "\n".join([head, *body])


def reproduce(e: Entry) -> str | None:
    """The command that reruns an entry's checks with the same random points."""
    if e.rerun:
        return e.rerun
    src = e.source
    if src is None:
        return None
    seed = f" --seed {e.report.seed}" if e.report is not None else ""
    return f"gradcheck verify {relpath(src)}{seed}"


_ARROW = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)\s*$", re.M)


def error_location(e: Entry) -> tuple[str | None, int | None, int | None]:
    """(file, line, column) of an entry's input error: given, or read from format_error's ` --> f:l:c`."""
    if e.error is not None and (e.line is None or e.file is None):
        m = _ARROW.search(e.error)
        if m:
            return (
                e.file or m.group("file"),
                e.line or int(m.group("line")),
                int(m.group("col")),
            )
    return e.file, e.line, None


def relpath(path: str) -> str:
    """A path relative to the working directory when it is inside it: what GitHub and graders show."""
    try:
        p = Path(path)
        if not p.is_absolute():
            return path
        # lexically first: a student's symlink is shown as the name it has, not its target
        rel = os.path.relpath(os.path.normpath(p), os.getcwd())
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
        return str(p.resolve().relative_to(Path(os.getcwd()).resolve())).replace(
            os.sep, "/"
        )
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return path


def first_line(text: str, limit: int = 200) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def plain(obj: Any) -> Any:
    """JSON-safe: numpy scalars become Python numbers, NaN and ±inf become null (JSON has neither)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    item = getattr(obj, "item", None)  # numpy scalar / 0-d array
    if callable(item):
        return plain(item())
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return plain(tolist())
    return str(obj)


def number(x: float) -> float | int:
    """Whole scores print as integers (5, not 5.0) where a format shows them to people."""
    return int(x) if float(x).is_integer() else x


def _finite(x: float) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + s if s else s for s in text.splitlines())


def write_atomic(path: Path, text: str) -> None:
    """Write a report so that it is whole or absent: a temporary file beside it, fsync, rename.

    A write that fails (a directory, a missing parent that cannot be made, a
    full disk, `ulimit -f`) raises UsageError naming the path and the reason,
    and whatever report was there before stays as it was.
    """
    import tempfile

    from gradcheck_cli.errors import UsageError

    tmp: str | None = None
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is not what a report file has
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise UsageError(f"cannot write the report to {path}: {e.strerror or e}",
                         hint="the previous report, if any, was left as it was") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
