"""Run a student's `hw.py:func` in a subprocess and bring back its value and gradients.

The code is untrusted in the homework sense: it may crash, hang, return the
wrong thing, print gigabytes, allocate all memory, start processes that hide,
or write to gradcheck's channel, and none of that may break gradcheck or its
report. So it runs in `python -m gradcheck_cli.numeric._impl_child`:

- the request (file, function, every point at once: start-up is paid once)
  goes in a temporary JSON file, arrays as base64 float64 bytes + shape;
- replies come back on a private pipe, framed with a per-run token the child
  learns on stdin (see `_impl_child`); a bad frame, a reply out of order or a
  "done" before every point is that implementation's failure ("protocol");
  no pickle in either direction;
- the child's prints are captured (the last 1 MB kept, the rest counted), its
  stderr too, on the grader's side;
- its environment is built from scratch (`sandbox.child_env`), its memory is
  limited (`memory` MB, RLIMIT_AS), and it dies with the grader;
- each call gets `timeout` seconds (the import `timeout` plus a start-up
  grace); at the end, whatever happened, the child and every process it
  started are killed (`sandbox.reap`, with the grader as child subreaper);
- the child runs in the file's directory with that directory first on
  sys.path, so `import helpers` next to hw.py works.

Vectors declared m×1 are passed as 1-D arrays of length m (`vectors="flat"`,
the numpy habit) or as m×1 (`vectors="column"`); scalars as Python floats.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradcheck_cli.numeric._impl_child import decode, encode
from gradcheck_cli.numeric.sandbox import CappedBuffer, become_subreaper, child_env, children_now, reap

STARTUP_GRACE = 10.0  # seconds for the interpreter and numpy to start, on top of `timeout` for the import
TAIL_LINES = 12
DEFAULT_MEMORY = 2048.0  # MB of address space for the student's process (numpy alone maps ~300 MB)
MAX_MESSAGE = 64 << 20  # bytes: one reply (every gradient at one point; a 1000x1000 W is 11 MB)

#: name → (kind, declared shape): kind "scalar" | "vector" | "matrix"
Spec = Mapping[str, tuple[str, tuple[int, ...]]]


@dataclass(frozen=True)
class ImplCall:
    """What the function returned at one point: value, grads (as returned, shapes unchanged), prints."""

    value: float | np.ndarray
    grads: dict[str, np.ndarray]
    stdout: str = ""
    seconds: float = 0.0
    dtypes: dict[str, str] = field(default_factory=dict)  # as returned: "value" and each gradient's name


@dataclass(frozen=True)
class ImplFailure:
    """The implementation could not be checked: import error, crash, hang, wrong return type.

    stage: "import" | "call" | "return" | "timeout" | "crash" | "protocol".
    point: the 0-based point being evaluated, when there was one.
    """

    message: str
    stage: str = "call"
    point: int | None = None
    stdout: str = ""
    stderr: str = ""
    calls: list[ImplCall] = field(default_factory=list)  # the points that did return before the failure


def infer_spec(point: Mapping[str, np.ndarray | float]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """A spec from one point's values: Python numbers and size-1 arrays are scalars, (m, 1) vectors."""
    spec: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, v in point.items():
        arr = np.asarray(v)
        if arr.size == 1 and (isinstance(v, (int, float)) or arr.ndim == 0 or arr.shape == (1, 1)):
            spec[name] = ("scalar", (1, 1))
        elif arr.ndim == 1 or (arr.ndim == 2 and 1 in arr.shape):
            spec[name] = ("vector", arr.shape if arr.ndim == 2 else (arr.shape[0], 1))
        else:
            spec[name] = ("matrix", arr.shape)
    return spec


def _argument(name: str, v: np.ndarray | float, kind: str, shape: tuple[int, ...], vectors: str) -> dict[str, Any]:
    """One argument as the student receives it, encoded."""
    arr = np.asarray(v, dtype=np.float64)
    if kind == "scalar":
        if arr.size != 1:
            raise ValueError(f"{name} is declared scalar but has shape {arr.shape}")
        return {**encode(arr.reshape(())), "scalar": True}
    if kind == "vector":
        arr = arr.reshape(-1) if vectors == "flat" else arr.reshape(shape if len(shape) == 2 else (-1, 1))
        return encode(arr)
    return encode(arr.reshape(shape) if arr.size == int(np.prod(shape)) else arr)


class ProtocolError(Exception):
    """The channel carried something the child's own code would not send."""


def _frames(fd: int, token: bytes, q: queue.Queue[Any]) -> None:
    """Framed replies on the private pipe → queue of dicts; a ProtocolError on a bad frame; None at the end."""
    import hmac

    with os.fdopen(fd, "rb") as stream:
        try:
            while header := stream.readline(200):
                tok, _, size = header.rstrip(b"\n").partition(b" ")
                if not header.endswith(b"\n") or not hmac.compare_digest(tok, token) or not size.isdigit():
                    raise ProtocolError("a message without gradcheck's token")
                n = int(size)
                if n > MAX_MESSAGE:
                    raise ProtocolError(f"a message of {n} bytes")
                data = stream.read(n)
                if len(data) != n:
                    raise ProtocolError("a message cut short")
                msg = json.loads(data)
                if not isinstance(msg, dict):
                    raise ProtocolError("a message that is not an object")
                q.put(msg)
        except (ProtocolError, ValueError, OSError) as e:
            q.put(e if isinstance(e, ProtocolError) else ProtocolError(f"a malformed message ({type(e).__name__})"))
            return
    q.put(None)


def _kill(proc: subprocess.Popen[bytes], before: set[int]) -> None:
    """The child, its process group, and (Linux, as subreaper) every descendant that left the group."""
    if proc.poll() is None:
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except (ProcessLookupError, PermissionError):
            proc.kill()
    proc.wait()
    if os.name == "posix":
        reap(before)


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def call_impl(
    path: str,
    func: str,
    points: Sequence[Mapping[str, np.ndarray | float]],
    timeout: float,
    vectors: str = "flat",
    spec: Spec | None = None,
    memory: float | None = DEFAULT_MEMORY,
) -> list[ImplCall] | ImplFailure:
    """Call `func(**point)` from the file `path` at every point, in one subprocess.

    spec: name → (kind, declared shape), kind "scalar" | "vector" | "matrix";
    inferred from the first point when omitted. timeout: seconds per call.
    memory: the child's address-space limit in MB (None: no limit).
    Returns one ImplCall per point, or an ImplFailure saying what went wrong
    (with the captured prints and the end of the traceback).
    """
    if vectors not in ("flat", "column"):
        raise ValueError(f"vectors must be 'flat' or 'column', not {vectors!r}")
    file = Path(path).resolve()
    if not file.is_file():
        return ImplFailure(f"no such file: {path}", stage="import")
    sp = dict(spec) if spec is not None else infer_spec(points[0]) if points else {}
    encoded = [{n: _argument(n, v, *sp.get(n, infer_spec({n: v})[n]), vectors) for n, v in pt.items()}
               for pt in points]
    with tempfile.TemporaryDirectory(prefix="gradcheck-impl-") as tmp:
        req = Path(tmp) / "request.json"
        req.write_text(json.dumps({"path": str(file), "func": func, "points": encoded}), encoding="utf-8")
        return _run(file, func, req, len(points), timeout, memory)


def _run(file: Path, func: str, req: Path, n: int, timeout: float, memory: float | None) -> list[ImplCall] | ImplFailure:
    token = secrets.token_hex(16)
    read_end, write_end = os.pipe()
    err = CappedBuffer()
    posix = os.name == "posix"
    if posix:
        become_subreaper()
    before = children_now() if posix else set()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gradcheck_cli.numeric._impl_child", str(req)],
            cwd=str(file.parent), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=child_env(_package_root(), str(req.parent)), pass_fds=(write_end,), start_new_session=posix,
        )
    finally:
        os.close(write_end)
    q: queue.Queue[Any] = queue.Queue()
    assert proc.stdin is not None and proc.stderr is not None, "stdin and stderr are pipes"
    threading.Thread(target=_frames, args=(read_end, token.encode("ascii"), q), daemon=True).start()
    err_fd = os.dup(proc.stderr.fileno())
    proc.stderr.close()
    drain = threading.Thread(target=err.drain, args=(err_fd,), daemon=True)
    drain.start()
    try:
        setup = {"channel": write_end, "token": token, "memory": memory, "parent": os.getpid()}
        try:
            proc.stdin.write((json.dumps(setup) + "\n").encode("ascii"))
            proc.stdin.close()
        except OSError:
            pass  # it died at start-up: the reader sees the end of the pipe, stderr says why
        return _replies(proc, q, file, func, n, timeout, err, drain)
    finally:
        _kill(proc, before)


def _replies(proc: subprocess.Popen[bytes], q: queue.Queue[Any], file: Path, func: str, n: int, timeout: float,
             err: CappedBuffer, drain: threading.Thread) -> list[ImplCall] | ImplFailure:
    """Read the child's replies until "done", an error, its end, or a timeout."""
    calls: list[ImplCall] = []
    deadline = time.monotonic() + timeout + STARTUP_GRACE
    stage_point: int | None = None
    ready = False

    def stderr_text() -> str:
        drain.join(timeout=1.0)
        return err.text()

    def broken(why: str) -> ImplFailure:
        _kill_now(proc)
        return ImplFailure(f"the Python process running {file.name} wrote {why} on gradcheck's private channel; "
                           "only gradcheck's own messages are accepted there, so this implementation is not graded",
                           "protocol", stage_point, stderr=stderr_text(), calls=calls)
    while True:
        try:
            msg = q.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            _kill_now(proc)
            where = (f"calling {func} (point {stage_point + 1} of {n})" if stage_point is not None
                     else f"importing {file.name}")
            return ImplFailure(f"timed out after {timeout:g} s while {where}; the process was stopped",
                               "timeout", stage_point, stderr=stderr_text(), calls=calls)
        if msg is None:
            proc.wait()
            return _crashed(file, proc.returncode, stderr_text(), stage_point, calls)
        if isinstance(msg, ProtocolError):
            return broken(str(msg))
        kind = msg.get("type")
        try:
            if kind == "ready" and not ready:
                ready = True
                stage_point = 0 if n else None
            elif kind == "result" and ready and msg.get("i") == len(calls) < n:
                calls.append(_call(msg))
                stage_point = len(calls) if len(calls) < n else None
            elif kind == "error" and isinstance(msg.get("message"), str):
                _kill_now(proc)
                return _child_error(msg, stderr_text(), calls)
            elif kind == "done" and ready and len(calls) == n:
                return calls
            else:
                return broken(f"a {kind!r} message out of turn" if isinstance(kind, str) else "an unknown message")
        except (KeyError, TypeError, ValueError) as e:
            return broken(f"a malformed {kind!r} message ({type(e).__name__})")
        deadline = time.monotonic() + timeout


def _crashed(file: Path, returncode: int, text: str, stage_point: int | None,
             calls: list[ImplCall]) -> ImplFailure:
    """The child ended before it returned every result."""
    return ImplFailure(f"the Python process running {file.name} exited ({_exit_status(returncode)}) "
                       f"before returning every result" + _with(_tail(text), "stderr"),
                       "crash", stage_point, stderr=text, calls=calls)


def _child_error(msg: dict[str, Any], stderr: str, calls: list[ImplCall]) -> ImplFailure:
    """The child's report of an exception in the student's code (importing it or calling it)."""
    out = str(msg.get("stdout", ""))
    text = msg["message"] + _with(str(msg.get("traceback", "")), "traceback (last lines)")
    text += _with(_tail(out), "it printed")
    point = msg.get("i") if isinstance(msg.get("i"), int) else None
    return ImplFailure(text, str(msg.get("stage", "call")), point, out, stderr, calls)


def _kill_now(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child at once (the tree is reaped in `_run`'s finally)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL) if os.name == "posix" else proc.kill()
        except (ProcessLookupError, PermissionError):
            proc.kill()


def _exit_status(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (": it may have run out of memory" if -code == signal.SIGKILL else "")
    return f"code {code}"


def _call(msg: Mapping[str, Any]) -> ImplCall:
    v = decode(msg["value"])
    value: float | np.ndarray = float(v) if v.ndim == 0 else v
    dtypes = {k: str(g.get("dtype", "float64")) for k, g in msg["grads"].items()}
    dtypes["value"] = str(msg["value"].get("dtype", "float64"))
    return ImplCall(value, {k: decode(g) for k, g in msg["grads"].items()}, msg.get("stdout", ""),
                    float(msg.get("seconds", 0.0)), dtypes)


def _with(text: str, label: str) -> str:
    text = text.rstrip()
    return f"\n  {label}:\n" + "\n".join("    " + ln for ln in text.splitlines()) if text else ""


__all__ = ["ImplCall", "ImplFailure", "Spec", "call_impl", "infer_spec"]
