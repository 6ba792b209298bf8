"""`--format github`: workflow commands that put each failure on the claim's line in a PR.

    ::error file=questions/score.grad,line=14,title=score gradients: claim ds/dW::claim ds/dW disagrees …

One `::error` per failed check (GitHub shows only the first ten error
annotations of a step, so nothing else is an error), `::notice` for kinks and
skipped checks, and a plain closing line. Values are escaped as the Actions
toolkit does: `%`, CR and LF in the message; also `:` and `,` in properties.

`markdown_summary` is the table the CLI appends to `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

from gradcheck_cli.numeric.result import Check
from gradcheck_cli.report.common import check_detail, check_title, error_location, first_line, number, relpath
from gradcheck_cli.report.model import Entry, RunResult


def escape_data(s: str) -> str:
    """Escaping of a workflow command's message (after the second `::`)."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    """Escaping of a workflow command's property value (file=…, title=…)."""
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **props: object) -> str:
    """`::kind k=v,k=v::message`, dropping empty properties."""
    given = [(k, str(v)) for k, v in props.items() if v is not None and str(v) != ""]
    head = f"::{kind}"
    if given:
        head += " " + ",".join(f"{k}={escape_property(v)}" for k, v in given)
    return f"{head}::{escape_data(message)}"


def _title(e: Entry, c: Check, result: RunResult) -> str:
    return f"{e.name}: {c.name}" if result.graded else c.name


def _check_lines(e: Entry, result: RunResult) -> list[str]:
    out = []
    for c in e.checks:
        file = relpath(c.file or e.source or "") or None
        if not c.ok:
            out.append(
                command(
                    "error",
                    check_detail(c) or f"{c.name} failed",
                    file=file,
                    line=c.line,
                    col=c.column,
                    title=_title(e, c, result),
                )
            )
        elif c.status in ("kink", "skipped"):
            out.append(
                command(
                    "notice",
                    c.message or c.status,
                    file=file,
                    line=c.line,
                    title=f"{c.status}: {_title(e, c, result)}",
                )
            )
    return out


def render_github(result: RunResult) -> str:
    lines: list[str] = []
    for e in result.entries:
        if e.error is not None:
            file, line, col = error_location(e)
            lines.append(
                command(
                    "error",
                    e.error.rstrip(),
                    file=relpath(file) if file else None,
                    line=line,
                    col=col,
                    title=f"{e.name}: input could not be used",
                )
            )
        else:
            lines.extend(_check_lines(e, result))
    lines.append(_closing(result))
    return "\n".join(lines) + "\n"


def _closing(result: RunResult) -> str:
    n, failed = result.n_checks, result.n_failed
    text = f"gradcheck: {n - failed} passed, {failed} failed"
    if result.graded:
        text += f"; score {number(result.score)} / {number(result.max_score)}"
    return text


# ---------------------------------------------------------------- step summary


def _cell(text: str) -> str:
    """Markdown table cell: no pipes, no raw HTML from messages, line breaks as <br>."""
    text = (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
    )
    return "<br>".join(s.strip() for s in text.strip().splitlines() if s.strip())


def _icon(ok: bool, status: str = "") -> str:
    if status == "kink":
        return "⚠️"
    if status == "skipped":
        return "⏭️"
    return "✅" if ok else "❌"


def markdown_summary(result: RunResult) -> str:
    """A heading and one Markdown table: per configured check for `run`, per check for `verify`."""
    n, failed = result.n_checks, result.n_failed
    verdict = (
        f"all {n} checks passed" if not failed else f"{failed} of {n} checks failed"
    )
    head = f"### gradcheck {_icon(result.ok)} {verdict}"
    if result.graded:
        head += f" · score {number(result.score)} / {number(result.max_score)}"
    rows = _run_rows(result) if result.graded else _verify_rows(result)
    return "\n".join([head, "", *rows]) + "\n"


def _run_rows(result: RunResult) -> list[str]:
    rows = ["| | check | score | details |", "|---|---|---:|---|"]
    for e in result.entries:
        if e.error is not None:
            detail = "input could not be used: " + first_line(e.error)
        elif e.failed:
            detail = "\n".join(
                f"{check_title(c)}: {first_line(check_detail(c))}" for c in e.failed
            )
        else:
            detail = f"{len(e.checks)} checks passed"
        score = f"{number(e.score)} / {number(e.max_score)}"
        rows.append(f"| {_icon(e.ok)} | {_cell(e.name)} | {score} | {_cell(detail)} |")
    return rows


def _verify_rows(result: RunResult) -> list[str]:
    rows = ["| | check | where | details |", "|---|---|---|---|"]
    for e in result.entries:
        if e.error is not None:
            file, line, _col = error_location(e)
            where = (
                f"{relpath(file)}:{line}" if file and line else relpath(file or e.name)
            )
            rows.append(
                f"| ❌ | {_cell(e.name)} | {_cell(where)} | {_cell(first_line(e.error))} |"
            )
            continue
        for c in e.checks:
            src = relpath(c.file or e.source or "")
            where = f"{src}:{c.line}" if c.line else src
            detail = (
                first_line(check_detail(c))
                if (not c.ok or c.status in ("kink", "skipped"))
                else ""
            )
            rows.append(
                f"| {_icon(c.ok, c.status)} | {_cell(c.name)} | {_cell(where)} | {_cell(detail)} |"
            )
    return rows
