"""Deep graphs without RecursionError: a retry on a thread with a large stack.

The walks over expressions (lowering, derive, simplification, the printers) are
recursive, and a 1,000-layer chain `a1 = tanh(a0)`, …, `a1000 = tanh(a999)` is
deeper than Python's default limit of 1,000 frames. Expressions inside one
statement are capped by the parser (`dsl.parser.MAX_DEPTH`), but a chain of
statements has no such bound. `@deep` runs the call as usual (no cost on normal
inputs) and only when it hits the limit reruns it on a thread whose stack and
recursion limit fit ~100,000 levels. The wrapped calls are pure (they build new
values and mutate nothing they were given), so a rerun is safe.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_STACK_BYTES = 512 * 1024 * 1024  # virtual: pages are only touched as deep as the walk goes
_LIMIT = 100_000
_local = threading.local()
_lock = threading.Lock()


def deep(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(_local, "deep", False):
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            return _on_big_stack(fn, args, kwargs)
    return wrapper  # type: ignore[return-value]


def _on_big_stack(fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    result: dict[str, Any] = {}

    def body() -> None:
        _local.deep = True
        try:
            result["value"] = fn(*args, **kwargs)
        except BaseException as e:  # re-raised on the caller's thread
            result["error"] = e

    with _lock:  # the stack size and the recursion limit are process-wide settings
        old_stack, old_limit = threading.stack_size(), sys.getrecursionlimit()
        threading.stack_size(_STACK_BYTES)
        sys.setrecursionlimit(max(old_limit, _LIMIT))
        try:
            t = threading.Thread(target=body, name="gradcheck-deep")
            t.start()
            t.join()
        finally:
            threading.stack_size(old_stack)
            sys.setrecursionlimit(old_limit)
    if "error" in result:
        raise result["error"]
    return result["value"]
