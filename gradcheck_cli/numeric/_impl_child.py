"""The subprocess side of `impl_runner`: import a student's file and call its function.

Run as `python -m gradcheck_cli.numeric._impl_child REQUEST.json`. The request
names the file, the function and the points (arrays as base64 float64 bytes
and a shape). No pickle in either direction: the parent never unpickles
anything a student's code produced.

The channel back to the grader is a private pipe: its number, a per-run token
and the limits arrive on stdin (one JSON line, read before any student code
runs; stdin is then /dev/null), and every message is framed as
`TOKEN LENGTH\n` + LENGTH bytes of JSON. A stray write to the pipe (student
code that finds the descriptor) cannot make a well-framed message without the
token, and the parent treats any bad frame as that implementation's failure.
fd 1 is a pipe drained by a thread of this process, so a print (even from C)
never reaches the channel: the last 1 MB is kept and returned as text with
each reply, the rest counted.

Messages: {"type": "ready"}, {"type": "result", "i", "value", "grads",
"stdout", "seconds"}, {"type": "error", "stage", "i", "message", "stdout"},
{"type": "done"}.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

MAX_OUTPUT = 8000  # characters of captured prints kept per call (the end)


def encode(a: Any) -> dict[str, Any]:
    arr = np.asarray(a, dtype="<f8")  # not ascontiguousarray: that turns a 0-d array into 1-d
    return {"shape": list(arr.shape), "data": base64.b64encode(arr.tobytes(order="C")).decode("ascii")}


def decode(d: Mapping[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["data"]), dtype="<f8").reshape(tuple(d["shape"])).copy()


class _Capture:
    """fd 1 → a pipe that a thread drains into a CappedBuffer; `take()` returns what was printed since the last call."""

    def __init__(self) -> None:
        from gradcheck_cli.numeric.sandbox import CappedBuffer

        sys.stdout.flush()
        self.buffer = CappedBuffer()
        self.lock = threading.Lock()
        r, w = os.pipe()
        os.dup2(w, 1)
        os.close(w)
        os.set_blocking(r, False)
        self.fd = r
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        import select

        while True:
            select.select([self.fd], [], [])
            if not self._read_available():
                return

    def _read_available(self) -> bool:
        """Move what the pipe holds into the buffer; False at end of stream."""
        with self.lock:
            while True:
                try:
                    chunk = os.read(self.fd, 1 << 16)
                except BlockingIOError:
                    return True
                except OSError:
                    return False
                if not chunk:
                    return False
                self.buffer.add(chunk)

    def take(self) -> str:
        sys.stdout.flush()
        self._read_available()  # a write that returned is in the pipe: nothing printed so far is missed
        with self.lock:
            buf = self.buffer
            from gradcheck_cli.numeric.sandbox import CappedBuffer

            self.buffer = CappedBuffer()
        text = buf.text()
        return text if len(text) <= MAX_OUTPUT else "…" + text[-MAX_OUTPUT:]


def _tb_tail(exc: BaseException, lines: int = 8) -> str:
    """The last lines of the traceback, without this module's own frames."""
    frames = [fr for fr in traceback.extract_tb(exc.__traceback__) if fr.filename != __file__]
    text = "".join(traceback.format_list(frames)).rstrip().splitlines()
    return "\n".join(text[-lines:])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called exit({exc.code!r})"
    return f"raised {type(exc).__name__}: {exc}"


def _numeric(v: Any, what: str) -> dict[str, Any]:
    arr = np.asarray(v)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{what} is not numeric (got {type(v).__name__})")
    if np.iscomplexobj(arr):
        raise TypeError(f"{what} is complex")
    return {**encode(arr.astype(np.float64)), "dtype": arr.dtype.name}  # float32 is checked at its precision


def _returned(out: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(value, grads) checked and encoded; TypeError with a student-facing message otherwise."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        n = f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""
        raise TypeError(f"must return (value, grads), a 2-tuple; it returned a {type(out).__name__}{n}")
    value, grads = out
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict from variable name to array; got a {type(grads).__name__}")
    enc_grads = {}
    for k, g in grads.items():
        if not isinstance(k, str):
            raise TypeError(f"grads keys must be variable names (str); got {k!r}")
        enc_grads[k] = _numeric(g, f"grads[{k!r}]")
    return _numeric(value, "the value"), enc_grads


def _load(path: str, func: str) -> Callable[..., Any]:
    directory = os.path.dirname(os.path.abspath(path))
    sys.path[0:1] = [directory]
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() and stem not in sys.modules else "_gradcheck_impl"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    fn = getattr(module, func, None)
    if fn is None:
        have = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                      and getattr(v, "__module__", None) == name)
        raise AttributeError(f"{os.path.basename(path)} has no function {func}"
                             + (f" (it defines {', '.join(have)})" if have else ""))
    if not callable(fn):
        raise TypeError(f"{func} in {os.path.basename(path)} is not a function")
    return fn  # type: ignore[no-any-return]


def _args(point: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (float(decode(v).reshape(())) if v.get("scalar") else decode(v)) for k, v in point.items()}


_LIMITS: dict[str, Any] = {}


def _channel() -> Callable[[dict[str, Any]], None]:
    """Read the grader's stdin line (channel fd, token, limits), return `send`."""
    setup = json.loads(sys.stdin.readline())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    fd, token = int(setup["channel"]), str(setup["token"]).encode("ascii")
    os.set_inheritable(fd, False)  # a subprocess the student starts does not get it
    _LIMITS.update(memory=setup.get("memory"), parent=int(setup["parent"]))

    def send(msg: dict[str, Any]) -> None:
        data = json.dumps(msg).encode("utf-8")
        frame = token + b" " + str(len(data)).encode("ascii") + b"\n" + data
        view = memoryview(frame)
        while view:
            view = view[os.write(fd, view):]
    return send


def main(argv: list[str]) -> int:
    send = _channel()
    with open(argv[0], encoding="utf-8") as fh:
        req = json.load(fh)
    capture = _Capture()  # its thread's stack is mapped before the memory limit, not against it
    from gradcheck_cli.numeric.sandbox import limit_self

    limit_self(_LIMITS["memory"], _LIMITS["parent"])
    try:
        fn = _load(req["path"], req["func"])
    except BaseException as e:  # noqa: BLE001 - anything the student's module does at import
        send({"type": "error", "stage": "import", "i": None, "stdout": capture.take(),
              "message": f"importing {os.path.basename(req['path'])} {_describe(e)}", "traceback": _tb_tail(e)})
        return 0
    send({"type": "ready"})
    for i, point in enumerate(req["points"]):
        args = _args(point)
        t0 = time.perf_counter()
        try:
            out = fn(**args)
        except BaseException as e:  # noqa: BLE001 - a crash is a verdict, not our failure
            send({"type": "error", "stage": "call", "i": i, "stdout": capture.take(),
                  "message": f"{req['func']} {_describe(e)}", "traceback": _tb_tail(e)})
            return 0
        seconds = time.perf_counter() - t0
        try:
            value, grads = _returned(out)
        except TypeError as e:
            send({"type": "error", "stage": "return", "i": i, "stdout": capture.take(),
                  "message": f"{req['func']} {e}", "traceback": ""})
            return 0
        send({"type": "result", "i": i, "value": value, "grads": grads, "stdout": capture.take(),
              "seconds": seconds})
    send({"type": "done"})
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # no atexit handlers or lingering threads of the student's code
