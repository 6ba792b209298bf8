"""The homework config: defaults, lookup, and a positioned error for every kind of mistake."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from gradcheck_cli.homework.config import CheckConfig, HomeworkConfig, load_config
from gradcheck_cli.errors import UsageError, format_error

GRAD = "dims n = 2\nx : n\nu : n\ns = u^T x\n"


def write(
    root: Path,
    text: str,
    name: str = "gradcheck.toml",
    files: tuple[str, ...] = ("q/score.grad",),
) -> Path:
    for f in files:
        p = root / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(
            GRAD if f.endswith(".grad") else "def f(**kw):\n    return 0.0, {}\n"
        )
    cfg = root / name
    cfg.write_text(text)
    return cfg


def error_of(path: Path | None) -> UsageError:
    with pytest.raises(UsageError) as info:
        load_config(path)
    return info.value


FULL = """\
# course defaults
seed = 7
trials = 3
tolerance = 1e-5
convention = "shape"
method = "central"
timeout = 20
visibility = "after_due_date"

[[check]]
name = "score gradients"
file = "q/score.grad"
points = 5

[[check]]
name = "implementation"
file = "q/score.grad"
impl = "sub/hw.py:forward_backward"
points = 2.5
seed = 1
convention = "either"
visibility = "hidden"
bind = { f = "tanh" }
vectors = "column"
partial = true
timeout = 5
"""


def test_full_config_inherits_defaults_and_resolves_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg_path = write(tmp_path / "course", FULL, files=("q/score.grad", "sub/hw.py"))
    monkeypatch.chdir(tmp_path)  # paths are relative to the config file, not the cwd
    cfg = load_config(cfg_path)
    assert isinstance(cfg, HomeworkConfig)
    assert cfg.root == (tmp_path / "course").resolve()
    first, second = cfg.checks
    assert first == CheckConfig(
        name="score gradients",
        file=(tmp_path / "course/q/score.grad").resolve(),
        points=5.0,
        seed=7,
        trials=3,
        tolerance=1e-5,
        convention="shape",
        method="central",
        timeout=20.0,
        visibility="after_due_date",
        line=10,
    )
    assert (
        second.impl == f"{(tmp_path / 'course/sub/hw.py').resolve()}:forward_backward"
    )
    assert (second.seed, second.trials, second.convention, second.visibility) == (
        1,
        3,
        "either",
        "hidden",
    )
    assert (
        dict(second.bind) == {"f": "tanh"}
        and second.vectors == "column"
        and second.partial
    )
    assert second.timeout == 5.0 and isinstance(second.points, float)
    assert cfg.max_score == 7.5


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[[check]]\nfile = "q/score.grad"\n'))
    (c,) = cfg.checks
    assert (
        c.name,
        c.points,
        c.seed,
        c.trials,
        c.convention,
        c.method,
        c.visibility,
    ) == ("q/score.grad", 1.0, 0, 2, "either", "auto", "visible")
    assert (
        c.tolerance is None and c.impl is None and c.vectors == "flat" and not c.partial
    )


def test_configs_are_frozen_and_picklable(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, FULL, files=("q/score.grad", "sub/hw.py")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.checks[0].points = 10  # type: ignore[misc]
    # checks travel to worker processes
    assert pickle.loads(pickle.dumps(cfg.checks)) == cfg.checks


def test_default_lookup_prefers_gradcheck_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, '[[check]]\nname = "own"\nfile = "q/score.grad"\n')
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gradcheck]\n[[tool.gradcheck.check]]\nname = "py"\nfile = "q/score.grad"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert load_config(None).checks[0].name == "own"
    assert (
        load_config(tmp_path).checks[0].name == "own"
    )  # a directory works like the cwd


def test_pyproject_tool_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = """\
[project]
name = "hw3"

[tool.gradcheck]
seed = 4

[[tool.gradcheck.check]]
name = "score"
file = "q/score.grad"
points = 2
"""
    write(tmp_path, text, name="pyproject.toml")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    assert cfg.path.name == "pyproject.toml"
    assert [(c.name, c.seed, c.points) for c in cfg.checks] == [("score", 4, 2.0)]
    assert load_config(Path("pyproject.toml")).checks == cfg.checks


def test_pyproject_errors_point_into_the_tool_table(tmp_path: Path) -> None:
    text = '[project]\nname = "x"\n\n[tool.gradcheck]\n\n[[tool.gradcheck.check]]\nfile = "q/score.grad"\npoints = "two"\n'
    err = error_of(write(tmp_path, text, name="pyproject.toml"))
    assert "`points` must be a number" in err.message
    assert err.span is not None and (err.span.line, err.span.column) == (8, 1)


def test_pyproject_without_tool_table(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, '[project]\nname = "x"\n', name="pyproject.toml"))
    assert "[tool.gradcheck]" in err.message


def test_no_config_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "no gradcheck.toml" in error_of(None).message
    assert "does not exist" in error_of(tmp_path / "nope.toml").message


@pytest.mark.parametrize(
    ("text", "needle", "line", "col"),
    [
        # unknown keys, with a suggestion
        (
            '[[check]]\nfile = "q/score.grad"\n  pionts = 3\n',
            "unknown key `pionts` in check 1",
            3,
            3,
        ),
        (
            'seeds = 1\n[[check]]\nfile = "q/score.grad"\n',
            "unknown key `seeds` at the top level",
            1,
            1,
        ),
        # wrong types and values
        (
            '[[check]]\nfile = "q/score.grad"\npoints = "five"\n',
            '`points` must be a number, got "five"',
            3,
            1,
        ),
        (
            '[[check]]\nfile = "q/score.grad"\npoints = -1\n',
            "`points` must be a number ≥ 0",
            3,
            1,
        ),
        (
            'trials = 0\n[[check]]\nfile = "q/score.grad"\n',
            "`trials` must be at least 1",
            1,
            1,
        ),
        (
            'seed = true\n[[check]]\nfile = "q/score.grad"\n',
            "`seed` must be an integer, got true",
            1,
            1,
        ),
        (
            '[[check]]\nfile = "q/score.grad"\nvisibility = "secret"\n',
            '`visibility` must be one of "visible", "hidden"',
            3,
            1,
        ),
        (
            '[[check]]\nfile = "q/score.grad"\nconvention = "jacobian"\n',
            "`convention` must be one of",
            3,
            1,
        ),
        (
            '[[check]]\nfile = "q/score.grad"\ntimeout = 0\n',
            "`timeout` must be a number > 0",
            3,
            1,
        ),
        (
            '[[check]]\nfile = "q/score.grad"\nbind = "tanh"\n',
            "`bind` must be a table",
            3,
            1,
        ),
        (
            '[[check]]\nfile = "q/score.grad"\npartial = "yes"\n',
            "`partial` must be true or false",
            3,
            1,
        ),
        # files
        ('[[check]]\nfile = "q/missing.grad"\n', "q/missing.grad does not exist", 2, 1),
        (
            '[[check]]\nfile = "q/score.grad"\nimpl = "hw.py"\n',
            "impl must be PATH.py:FUNCTION",
            3,
            1,
        ),
        (
            '[[check]]\nfile = "q/score.grad"\nimpl = "nope.py:f"\n',
            "nope.py does not exist",
            3,
            1,
        ),
        # structure
        ("seed = 1\n", "the config lists no checks", 1, 1),
        (
            '[[check]]\nname = "a"\nfile = "q/score.grad"\n\n[[check]]\nname = "a"\nfile = "q/score.grad"\n',
            "two checks are named 'a'",
            6,
            1,
        ),
        ('[[check]]\nname = "no file"\n', "check 1 has no `file`", 1, 1),
        (
            '[check]\nfile = "q/score.grad"\n',
            "`check` must be an array of tables",
            1,
            1,
        ),
        (
            'name = "x"\n[[check]]\nfile = "q/score.grad"\n',
            "unknown key `name` at the top level",
            1,
            1,
        ),
    ],
)
def test_mistakes_are_positioned_usage_errors(
    tmp_path: Path, text: str, needle: str, line: int, col: int
) -> None:
    err = error_of(write(tmp_path, text))
    assert needle in err.message
    assert err.span is not None
    assert (
        err.span.source.endswith("gradcheck.toml"),
        err.span.line,
        err.span.column,
    ) == (True, line, col)


def test_hints_suggest_the_key_meant(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, '[[check]]\nfile = "q/score.grad"\npionts = 3\n'))
    assert err.hint == "did you mean `points`?"
    err = error_of(write(tmp_path, 'name = "x"\n[[check]]\nfile = "q/score.grad"\n'))
    assert err.hint == "`name` belongs in a [[check]] table"


def test_second_check_error_points_into_the_second_table(tmp_path: Path) -> None:
    text = '[[check]]\nfile = "q/score.grad"\npoints = 1\n\n[[check]]\nfile = "q/score.grad"\nname = "b"\npoints = "x"\n'
    err = error_of(write(tmp_path, text))
    assert err.span is not None and err.span.line == 8


def test_missing_files_fail_mode_defers_to_the_run(tmp_path: Path) -> None:
    text = 'missing_files = "fail"\n[[check]]\nfile = "q/absent.grad"\nimpl = "sub/absent.py:f"\n'
    (c,) = load_config(write(tmp_path, text)).checks
    assert (
        c.file == (tmp_path / "q/absent.grad").resolve()
        and c.impl is not None
        and c.impl.endswith("absent.py:f")
    )


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, '[[check]]\nfile = "q/score.grad"\npoints = = 3\n'))
    assert err.message.startswith("TOML syntax: ")
    assert err.span is not None and err.span.line == 3 and err.span.column >= 9
    err = error_of(
        write(tmp_path, '[[check]]\nfile = "q/score.grad')
    )  # unterminated string
    assert err.span is not None and err.span.line == 2


def test_error_renders_with_a_caret_under_the_key(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[[check]]\nfile = "q/score.grad"\nvisibility = "secret"\n')
    err = error_of(cfg)
    text = format_error(err, cfg.read_text())
    assert f"--> {cfg}:3:1" in text
    assert '3 | visibility = "secret"' in text
    assert "  | ^^^^^^^^^^" in text


def test_handout_submission_and_limits(tmp_path: Path) -> None:
    cfg = write(tmp_path, 'submission = "sub"\nmax_file_kb = 64\nmemory = 512\n\n[[check]]\n'
                'file = "sub/score.grad"\nquestion = "q/score.grad"\nmemory = false\n\n[[check]]\n'
                'file = "q/score.grad"\n', files=("q/score.grad", "sub/score.grad"))
    c1, c2 = load_config(cfg).checks
    assert c1.question == tmp_path / "q" / "score.grad" and c2.question is None
    assert c1.submission == c2.submission == tmp_path / "sub"
    assert c1.max_file_kb == 64 and c1.memory is None and c2.memory == 512
    plain = load_config(write(tmp_path, '[[check]]\nfile = "q/score.grad"\n')).checks[0]
    assert plain.submission is None and plain.memory == 2048 and plain.max_file_kb == 1024


def test_a_missing_question_is_an_error_even_when_missing_files_fail(tmp_path: Path) -> None:
    cfg = write(tmp_path, 'missing_files = "fail"\n\n[[check]]\nfile = "q/score.grad"\nquestion = "q/nope.grad"\n')
    e = error_of(cfg)
    assert "question q/nope.grad does not exist" in e.message and e.span is not None and e.span.line == 5


@pytest.mark.parametrize("text,words", [
    ('memory = "lots"\n[[check]]\nfile = "q/score.grad"\n', "`memory` must be a number"),
    ('[[check]]\nfile = "q/score.grad"\nsubmission = "s"\n', "unknown key `submission` in check 1"),
    ('max_file_kb = 0\n[[check]]\nfile = "q/score.grad"\n', "`max_file_kb` must be a number > 0"),
])
def test_bad_new_keys_are_positioned_errors(tmp_path: Path, text: str, words: str) -> None:
    assert words in error_of(write(tmp_path, text)).message
