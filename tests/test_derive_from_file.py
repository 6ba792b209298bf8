"""derive of a file reads a loop with a few steps (derive/from_file.py): the closed form is the
same at every T, so a T = 1000 file costs what a T = 6 one does, and prints the same."""

from __future__ import annotations

from pathlib import Path

import gradcheck_cli.render  # noqa: F401
from gradcheck_cli.derive.from_file import LOOP_STEPS, derive_path
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.lang.graph import load
from gradcheck_cli.render import RENDERERS

RNN = (Path(__file__).resolve().parent / "data" / "loops" / "rnn_sum.grad").read_text(encoding="utf-8")


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rnn.grad"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_long_loop_is_derived_from_a_few_steps(tmp_path: Path) -> None:
    path = _file(tmp_path, RNN.replace("T = 4", "T = 300"))
    graph, d = derive_path(path)
    assert graph.short_of == 300 and graph.env.sizes["T"] == LOOP_STEPS
    assert len([n for n in graph.values if n.startswith("h[")]) == LOOP_STEPS
    full = derive(load(path))  # the same file read at its own T
    for fmt in ("text", "latex", "json"):
        assert RENDERERS[fmt](d) == RENDERERS[fmt](full), fmt


def test_a_short_loop_is_read_as_it_is(tmp_path: Path) -> None:
    graph, _ = derive_path(_file(tmp_path, RNN))
    assert graph.short_of is None and graph.env.sizes["T"] == 4


def test_a_file_that_names_a_late_step_is_read_at_its_own_T(tmp_path: Path) -> None:
    text = RNN.replace("T = 4", "T = 12").replace("L = sum(J[t] for t = 1..T)", "L = sum(J[t] for t = 1..T) + J[9]")
    graph, d = derive_path(_file(tmp_path, text))
    assert graph.short_of is None and graph.env.sizes["T"] == 12
    assert d.output == "L"
