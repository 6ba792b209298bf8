"""Run a student's `hw.py:func` in a subprocess and bring back its value and gradients.

The code is untrusted in the homework sense, not the security sense: it may
crash, hang, return the wrong thing or print, and none of that may break
gradcheck. So it runs in `python -m gradcheck_cli.numeric._impl_child`:

- the request (file, function, every point at once: start-up is paid once)
  goes in a temporary JSON file, arrays as base64 float64 bytes + shape;
- replies come back as JSON lines on the child's original stdout, while the
  child's fd 1 is redirected so the student's prints are captured and
  returned as text; no pickle in either direction;
- each call gets `timeout` seconds (the import `timeout` plus a start-up
  grace), after which the process group is killed;
- the child runs in the file's directory with that directory first on
  sys.path, so `import helpers` next to hw.py works.

Vectors declared m×1 are passed as 1-D arrays of length m (`vectors="flat"`,
the numpy habit) or as m×1 (`vectors="column"`); scalars as Python floats.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._impl_child import decode, encode

STARTUP_GRACE = 10.0  # seconds for the interpreter and numpy to start, on top of `timeout` for the import
TAIL_LINES = 12

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


def _reader(stream: IO[str], q: queue.Queue[Any]) -> None:
    """Reply lines → queue; None at end of stream (the child exited)."""
    for line in stream:
        q.put(line)
    q.put(None)


def _kill(proc: subprocess.Popen[str]) -> None:
    """The child and anything it started (its own session on POSIX)."""
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


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
) -> list[ImplCall] | ImplFailure:
    """Call `func(**point)` from the file `path` at every point, in one subprocess.

    spec: name → (kind, declared shape), kind "scalar" | "vector" | "matrix";
    inferred from the first point when omitted. timeout: seconds per call.
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
        with open(Path(tmp) / "stderr.txt", "w+", encoding="utf-8", errors="replace") as err:
            return _run(file, func, req, len(points), timeout, err)


def _run(file: Path, func: str, req: Path, n: int, timeout: float, err: IO[str]) -> list[ImplCall] | ImplFailure:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8", MPLBACKEND="Agg")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradcheck_cli.numeric._impl_child", str(req)],
        cwd=str(file.parent), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
        env=env, text=True, encoding="utf-8", errors="replace", start_new_session=(os.name == "posix"),
    )
    q: queue.Queue[Any] = queue.Queue()
    assert proc.stdout is not None, "stdout is a pipe"
    threading.Thread(target=_reader, args=(proc.stdout, q), daemon=True).start()
    calls: list[ImplCall] = []
    deadline = time.monotonic() + timeout + STARTUP_GRACE
    stage_point: int | None = None
    try:
        while True:
            try:
                line = q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                _kill(proc)
                where = (f"calling {func} (point {stage_point + 1} of {n})" if stage_point is not None
                         else f"importing {file.name}")
                return ImplFailure(f"timed out after {timeout:g} s while {where}; the process was stopped",
                                   "timeout", stage_point, stderr=_read(err), calls=calls)
            if line is None:
                proc.wait()
                return ImplFailure(f"the Python process running {file.name} exited (code {proc.returncode}) "
                                   f"before returning every result" + _with(_tail(_read(err)), "stderr"),
                                   "crash", stage_point, stderr=_read(err), calls=calls)
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue  # not ours: nothing else writes here, but a stray line must not stop us
            kind = msg.get("type")
            if kind == "ready":
                stage_point = 0 if n else None
            elif kind == "result":
                calls.append(_call(msg))
                stage_point = len(calls) if len(calls) < n else None
            elif kind == "error":
                _kill(proc)
                text = msg["message"] + _with(msg.get("traceback", ""), "traceback (last lines)")
                text += _with(_tail(msg.get("stdout", "")), "it printed")
                return ImplFailure(text, msg.get("stage", "call"), msg.get("i"), msg.get("stdout", ""),
                                   _read(err), calls)
            elif kind == "done":
                return calls
            deadline = time.monotonic() + timeout
    finally:
        _kill(proc)


def _call(msg: Mapping[str, Any]) -> ImplCall:
    v = decode(msg["value"])
    value: float | np.ndarray = float(v) if v.ndim == 0 else v
    dtypes = {k: str(g.get("dtype", "float64")) for k, g in msg["grads"].items()}
    dtypes["value"] = str(msg["value"].get("dtype", "float64"))
    return ImplCall(value, {k: decode(g) for k, g in msg["grads"].items()}, msg.get("stdout", ""),
                    float(msg.get("seconds", 0.0)), dtypes)


def _read(err: IO[str]) -> str:
    err.flush()
    err.seek(0)
    return err.read()


def _with(text: str, label: str) -> str:
    text = text.rstrip()
    return f"\n  {label}:\n" + "\n".join("    " + ln for ln in text.splitlines()) if text else ""


__all__ = ["ImplCall", "ImplFailure", "Spec", "call_impl", "infer_spec"]
