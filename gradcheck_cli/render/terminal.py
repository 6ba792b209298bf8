"""Rich output for a real terminal: the same text, with headings and math coloured."""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

from gradcheck_cli.render.wrap import wrap_line

_HEAD = re.compile(r"^(∂\S+|[\w./-]+\.grad:.*|backward pass.*|gradcheck .*|\S+ checks?.*)$")
_OK = re.compile(r"^\s+PASS\b|\b[1-9]\d* passed\b")
_BAD = re.compile(r"^\s+FAIL\b|\b[1-9]\d* failed\b|^\s+ERROR\b")
_WARN = re.compile(r"^\s+(KINK|SKIP)\b")


def print_rich(text: str, console: Console | None = None) -> None:
    """Each line fitted to the console's width (wrap.py: at expression boundaries, hanging)."""
    console = console or Console(highlight=False, soft_wrap=True)
    for whole in text.rstrip("\n").split("\n"):
        for k, line in enumerate(wrap_line(whole, console.width)):
            _print_styled(console, line, head=k == 0)


def _print_styled(console: Console, line: str, head: bool) -> None:
    t = Text(line)
    if head and _HEAD.match(line.split("   (")[0]):
        t.stylize("bold")
    for m in _OK.finditer(line):
        t.stylize("bold green", m.start(), m.end())
    for m in _BAD.finditer(line):
        t.stylize("bold red", m.start(), m.end())
    for m in _WARN.finditer(line):
        t.stylize("bold yellow", m.start(), m.end())
    for m in re.finditer(r"δ\S*", line):
        t.stylize("cyan", m.start(), m.end())
    console.print(t)
