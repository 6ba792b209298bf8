"""impl_runner: a student's hw.py:func in a subprocess; crashes, hangs, bad returns and prints are verdicts."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.numeric.impl_runner import ImplCall, ImplFailure, call_impl, infer_spec
from gradcheck_cli.numeric.sandbox import KEEP_BYTES, CappedBuffer

SPEC = {"W": ("matrix", (2, 3)), "x": ("vector", (3, 1)), "b": ("vector", (2, 1)), "c": ("scalar", (1, 1))}

HW = '''
import numpy as np
import helper  # next to hw.py: the file's directory is on sys.path

CALLS = 0
print("hello from import")  # must not disturb the protocol


def forward_backward(W, x, b, c):
    global CALLS
    CALLS += 1
    assert x.ndim == 1 and b.ndim == 1, (x.shape, b.shape)  # vectors arrive 1-D by default
    assert isinstance(c, float)
    print("call", CALLS, W.shape, x.shape)
    z = W @ x + b
    d = c * (1 - np.tanh(z) ** 2)
    return c * float(np.sum(np.tanh(z))), {"W": np.outer(d, x), "x": W.T @ d, "b": d, "calls": CALLS}


def columns(W, x, b, c):
    assert x.shape == (3, 1) and b.shape == (2, 1), (x.shape, b.shape)
    return 0.0, {"x": x}


def crash(W, x, b, c):
    return helper.divide(1.0, 0.0)


def hang(W, x, b, c):
    while True:
        pass


def exits(W, x, b, c):
    raise SystemExit(3)


def not_a_pair(W, x, b, c):
    return 1.0


def grads_list(W, x, b, c):
    return 1.0, [W, x]


def grads_text(W, x, b, c):
    return 1.0, {"W": "dW"}


def value_none(W, x, b, c):
    return None, {}


def fd_print(W, x, b, c):
    import os
    os.write(1, b"written straight to fd 1\\n")
    return 2.0, {}


def steal_token(W, x, b, c):
    # in-process code can find gradcheck's `send` and its token; a reply out of turn is still refused
    import gc
    send = next(o for o in gc.get_objects() if getattr(o, "__name__", "") == "send" and getattr(o, "__closure__", None))
    send({"type": "done"})
    return 1.0, {}


def environment(W, x, b, c):
    import os
    raise RuntimeError("env: " + " ".join(sorted(os.environ)))


def hog(W, x, b, c):
    return float(np.ones(1 << 28).sum()), {}  # 2 GB


def hide_a_process(W, x, b, c):
    import os, subprocess
    p = subprocess.Popen(["sleep", "60"], start_new_session=True)  # out of the process group
    with open("pid", "w") as fh:  # the working directory is hw.py's
        fh.write(str(p.pid))
    return 1.0, {}


def shout(W, x, b, c):
    import os
    for _ in range(5):
        os.write(2, b"e" * (1 << 20))
        os.write(1, b"o" * (1 << 20))
    raise ValueError("after 5 MB on each stream")
'''


@pytest.fixture(scope="module")
def hw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("student")
    (d / "helper.py").write_text("def divide(a, b):\n    return a / b\n")
    (d / "hw.py").write_text(HW)
    return d / "hw.py"


def points(k: int = 3) -> list[dict[str, np.ndarray]]:
    r = np.random.default_rng(0)
    return [{"W": r.standard_normal((2, 3)), "x": r.standard_normal((3, 1)), "b": r.standard_normal((2, 1)),
             "c": np.array([[1.5]])} for _ in range(k)]


def test_correct_implementation_returns_value_grads_and_prints(hw):
    pts = points()
    out = call_impl(str(hw), "forward_backward", pts, timeout=5, spec=SPEC)
    assert isinstance(out, list) and len(out) == 3 and all(isinstance(c, ImplCall) for c in out)
    for k, (pt, call) in enumerate(zip(pts, out)):
        z = pt["W"] @ pt["x"].ravel() + pt["b"].ravel()
        assert call.value == pytest.approx(1.5 * np.sum(np.tanh(z)))
        d = 1.5 * (1 - np.tanh(z) ** 2)
        np.testing.assert_allclose(call.grads["W"], np.outer(d, pt["x"].ravel()))
        assert call.grads["x"].shape == (3,) and call.grads["b"].shape == (2,)  # returned as returned
        assert float(call.grads["calls"]) == k + 1  # one process, one import, every point
        assert f"call {k + 1} (2, 3) (3,)" in call.stdout
    assert "hello from import" not in "".join(c.stdout for c in out[1:])


def test_column_vectors_on_request(hw):
    out = call_impl(str(hw), "columns", points(1), timeout=5, spec=SPEC, vectors="column")
    assert isinstance(out, list) and out[0].grads["x"].shape == (3, 1)
    out = call_impl(str(hw), "columns", points(1), timeout=5, spec=SPEC)  # flat by default: its assert fails
    assert isinstance(out, ImplFailure) and "AssertionError" in out.message


def test_spec_can_be_inferred():
    spec = infer_spec(points(1)[0])
    assert spec == {"W": ("matrix", (2, 3)), "x": ("vector", (3, 1)), "b": ("vector", (2, 1)), "c": ("scalar", (1, 1))}


def test_crash_reports_exception_and_last_traceback_lines(hw):
    out = call_impl(str(hw), "crash", points(), timeout=5, spec=SPEC)
    assert isinstance(out, ImplFailure) and out.stage == "call" and out.point == 0
    assert "ZeroDivisionError" in out.message and "helper.py" in out.message and "return a / b" in out.message
    assert "_impl_child" not in out.message  # gradcheck's own frames are not the student's business


def test_hang_is_killed_after_the_timeout(hw):
    t0 = time.monotonic()
    out = call_impl(str(hw), "hang", points(), timeout=2, spec=SPEC)
    elapsed = time.monotonic() - t0
    assert isinstance(out, ImplFailure) and out.stage == "timeout"
    assert "timed out after 2 s" in out.message and "point 1 of 3" in out.message
    assert elapsed < 2 + 5


@pytest.mark.parametrize("func,words", [
    ("not_a_pair", "must return (value, grads), a 2-tuple; it returned a float"),
    ("grads_list", "grads must be a dict"),
    ("grads_text", "grads['W'] is not numeric"),
    ("value_none", "the value is not numeric"),
    ("exits", "called exit(3)"),
])
def test_wrong_returns_and_exits_are_failures_with_a_message(hw, func, words):
    out = call_impl(str(hw), func, points(2), timeout=5, spec=SPEC)
    assert isinstance(out, ImplFailure) and words in out.message, out


def test_printing_to_fd_1_does_not_break_the_protocol(hw):
    out = call_impl(str(hw), "fd_print", points(2), timeout=5, spec=SPEC)
    assert isinstance(out, list) and [c.value for c in out] == [2.0, 2.0]
    assert "written straight to fd 1" in out[0].stdout


def test_import_errors_and_missing_functions(tmp_path, hw):
    bad = tmp_path / "broken.py"
    bad.write_text("import numpy as np\ndef f(:\n    pass\n")
    out = call_impl(str(bad), "f", points(1), timeout=5)
    assert isinstance(out, ImplFailure) and out.stage == "import" and "SyntaxError" in out.message
    out = call_impl(str(hw), "forward_backwards", points(1), timeout=5)
    assert isinstance(out, ImplFailure) and "has no function forward_backwards" in out.message
    assert "forward_backward" in out.message  # says what the file does define
    out = call_impl(str(tmp_path / "nope.py"), "f", points(1), timeout=5)
    assert isinstance(out, ImplFailure) and "no such file" in out.message
    raising = tmp_path / "raising.py"
    raising.write_text("print('about to fail')\nraise RuntimeError('no data file')\n")
    out = call_impl(str(raising), "f", points(1), timeout=5)
    assert isinstance(out, ImplFailure) and "RuntimeError: no data file" in out.message
    assert "about to fail" in out.stdout


def test_a_reply_out_of_turn_is_the_implementations_failure_not_a_crash(hw):
    out = call_impl(str(hw), "steal_token", points(2), timeout=5, spec=SPEC)
    assert isinstance(out, ImplFailure) and out.stage == "protocol"
    assert "'done' message out of turn" in out.message and "private channel" in out.message


def test_the_child_environment_is_built_from_scratch(hw, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    out = call_impl(str(hw), "environment", points(1), timeout=5, spec=SPEC)
    assert isinstance(out, ImplFailure) and "env: " in out.message
    names = set(out.message.split("env: ", 1)[1].split("\n", 1)[0].split())
    assert "GRADER_SECRET" not in names and "s3cret" not in out.message
    assert {"PATH", "HOME", "PYTHONPATH", "OPENBLAS_NUM_THREADS"} <= names


def test_the_memory_limit_is_a_memory_error(hw):
    out = call_impl(str(hw), "hog", points(1), timeout=10, spec=SPEC, memory=512)
    assert isinstance(out, ImplFailure) and "MemoryError" in out.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the subreaper is Linux's")
def test_a_process_that_left_the_group_is_killed(hw):
    out = call_impl(str(hw), "hide_a_process", points(1), timeout=5, spec=SPEC)
    assert isinstance(out, list)
    pid_file = hw.parent / "pid"
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    assert state in ("gone", "Z"), f"sleep {pid} survived in state {state}"


def test_floods_are_capped_and_counted(hw):
    out = call_impl(str(hw), "shout", points(1), timeout=20, spec=SPEC)
    assert isinstance(out, ImplFailure) and "after 5 MB on each stream" in out.message
    assert len(out.stderr) < KEEP_BYTES + 100 and "earlier bytes of output not kept" in out.stderr
    assert len(out.stdout) <= 8001  # the per-call tail of the prints


def test_capped_buffer_keeps_the_end_and_counts_everything():
    buf = CappedBuffer(keep=10)
    for chunk in (b"abc", b"defgh", b"ijklmnop", b"q"):
        buf.add(chunk)
    assert buf.total == 17 and buf.text() == "[7 earlier bytes of output not kept]\nhijklmnopq"
    small = CappedBuffer(keep=100)
    small.add(b"hello")
    assert small.text() == "hello"
