"""The subprocess side of `impl_runner`: import a student's file and call its function.

Run as `python -m gradcheck_cli.numeric._impl_child REQUEST.json`. The request
names the file, the function and the points (arrays as base64 float64 bytes
and a shape). Replies are JSON lines on the process's *original* stdout; fd 1
itself is redirected to a temporary file before any student code runs, so a
print (even from C) cannot corrupt the protocol: it is captured and sent back
as text. No pickle in either direction: the parent never unpickles anything a
student's code produced.

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
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import numpy as np

MAX_OUTPUT = 8000  # characters of captured prints kept per call (the end)


def encode(a: Any) -> dict[str, Any]:
    arr = np.asarray(a, dtype="<f8")  # not ascontiguousarray: that turns a 0-d array into 1-d
    return {"shape": list(arr.shape), "data": base64.b64encode(arr.tobytes(order="C")).decode("ascii")}


def decode(d: Mapping[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["data"]), dtype="<f8").reshape(tuple(d["shape"])).copy()


class _Capture:
    """fd 1 → a temporary file; `take()` returns what was printed since the last call."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - stays open: it is fd 1 until exit
        os.dup2(self.file.fileno(), 1)
        self.pos = 0

    def take(self) -> str:
        sys.stdout.flush()
        fd = self.file.fileno()
        os.lseek(fd, self.pos, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        self.pos = os.lseek(fd, 0, os.SEEK_CUR)
        text = b"".join(chunks).decode("utf-8", errors="replace")
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


def main(argv: list[str]) -> int:
    proto: TextIO = os.fdopen(os.dup(1), "w", encoding="utf-8")

    def send(msg: dict[str, Any]) -> None:
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    with open(argv[0], encoding="utf-8") as fh:
        req = json.load(fh)
    capture = _Capture()
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
