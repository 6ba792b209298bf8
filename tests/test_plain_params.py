"""Plain option types are converted without pydantic, to the same values typer's adapters give."""

from __future__ import annotations

import enum
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest
import typer.main
from typer.core import _TyperParameter

from gradcheck_cli.cli import app
from gradcheck_cli.cli import plain_params as pp

ROOT = Path(__file__).resolve().parents[1]


class Colour(str, enum.Enum):
    red = "red"
    blue = "blue"


@pytest.mark.parametrize("annotation, value, expected", [
    (int, "3", 3), (float, "0.5", 0.5), (str, "abc", "abc"), (Path, "a/b.grad", Path("a/b.grad")),
    (Optional[int], "7", 7), (Colour, "blue", Colour.blue), (List[str], None, None),
])
def test_converter_of_plain_types(annotation, value, expected):
    convert, is_list = pp.converter(annotation)
    assert is_list == (annotation == List[str])
    if value is not None:
        assert convert(value) == expected


def test_other_types_are_left_to_typer():
    assert pp.converter(dict) is None
    assert pp.converter(Optional[List[List[int]]]) is None


def _sample_values(param) -> list:
    many = param.multiple or param.nargs == -1
    convert, _ = pp.converter(param.type_descriptor.annotation)
    choices = param.type_descriptor.choices
    if choices:
        texts = [c.value if isinstance(c, enum.Enum) else c for c in choices]
    elif convert is pp._flag:
        return [True, False]
    else:
        texts = [{int: "4", float: "0.25", str: "W"}.get(convert, "x.grad")]
    return [[t, t] if many else t for t in texts]


def _commands_params():
    root = typer.main.get_command(app)
    for name, command in root.commands.items():
        for param in command.params:
            if isinstance(param, _TyperParameter) and pp.converter(param.type_descriptor.annotation):
                yield f"{name} {param.name}", param


@pytest.mark.parametrize("label, param", list(_commands_params()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_plain_option_converts_as_typer_does(label, param):
    from typer._coercion import build_runtime_param

    typers = build_runtime_param(param.type_descriptor)
    found = pp.converter(param.type_descriptor.annotation)
    plain = pp.PlainParam(*found, typers_own=lambda: typers)
    for value in [None, *_sample_values(param)]:
        assert plain.coerce(value, param, None) == typers.coerce(value, param=param, ctx=None), label


def test_a_wrong_value_gets_typers_own_message(cli):
    r = cli("verify", ROOT / "examples" / "mlp.grad", "--trials", "abc")
    assert r.exit_code == 2
    assert "Invalid value for '--trials'" in r.output and "integer" in r.output


def test_verify_does_not_import_pydantic():
    code = ("import sys\nfrom gradcheck_cli.cli import main\nsys.argv = ['gradcheck', 'verify', 'examples/mlp.grad']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print('pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr
