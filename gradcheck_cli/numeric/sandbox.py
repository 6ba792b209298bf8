"""What keeps a student's process from reaching the grader: limits, a scrubbed environment, a tree kill.

`impl_runner` starts the student's code in a child process; this module holds
the parts of that isolation that are not about the protocol:

- `child_env()`: the child's whole environment, built from scratch, so a
  `GRADER_SECRET` (or a CI token) in the grader's environment never reaches it;
- `CappedBuffer`: what a stream printed, the last `keep` bytes kept and the
  rest only counted, so 2 GB on stderr costs the grader 1 MB;
- `limit_self()`: called by the child on itself before any student code runs:
  an address-space limit (`memory` MB), no core files, a file-size limit, and
  death when the grader dies (`PR_SET_PDEATHSIG`);
- `reap()`: on Linux the grader makes itself a child subreaper
  (`PR_SET_CHILD_SUBREAPER`), so a grandchild that called `setsid()` and was
  orphaned is re-parented to the grader instead of init; `reap()` then kills
  every process below the grader that was not there before the child started,
  and waits until none is left. Elsewhere only the child's process group is
  killed (documented as a limit in the homework README). It assumes no other
  thread of the grader starts processes while a student's code runs: `run`
  calls it from single-threaded pool workers.

This is isolation for homework, not a security boundary: code in the child can
still read any file the grader's user can read and use the network. A
container (Gradescope's, a CI runner's) is the place for untrusted code at scale.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

KEEP_BYTES = 1 << 20  # 1 MB of each stream kept; the rest is counted
FILE_LIMIT = 64 << 20  # largest file the child may write (RLIMIT_FSIZE)
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_SAFE_VARS = ("LANG", "LC_ALL", "LC_CTYPE", "SYSTEMROOT", "TZ")


def child_env(package_root: str, tmp: str) -> dict[str, str]:
    """The child's environment, from nothing: locale, a PATH, gradcheck on PYTHONPATH, one thread for BLAS."""
    env = {k: os.environ[k] for k in _SAFE_VARS if k in os.environ}
    env.update(
        PATH=os.defpath if os.name == "posix" else os.environ.get("PATH", ""),
        HOME=tmp, TMPDIR=tmp, TEMP=tmp, TMP=tmp,
        PYTHONPATH=package_root, PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8",
        PYTHONNOUSERSITE="1", MPLBACKEND="Agg",
        OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
    )
    return env


class CappedBuffer:
    """Bytes from a stream: the last `keep` kept, everything counted. Thread-safe."""

    def __init__(self, keep: int = KEEP_BYTES):
        self.keep = keep
        self.total = 0
        self._chunks: list[bytes] = []
        self._size = 0
        self._lock = threading.Lock()

    def add(self, data: bytes) -> None:
        with self._lock:
            self.total += len(data)
            self._chunks.append(data)
            self._size += len(data)
            while self._size - len(self._chunks[0]) >= self.keep:
                self._size -= len(self._chunks.pop(0))

    def text(self) -> str:
        """What was kept, decoded; a first line says how much was dropped."""
        with self._lock:
            data = b"".join(self._chunks)[-self.keep:]
            dropped = self.total - len(data)
        out = data.decode("utf-8", errors="replace")
        return f"[{dropped} earlier bytes of output not kept]\n{out}" if dropped else out

    def drain(self, fd: int) -> None:
        """Read `fd` to its end into the buffer (a thread's body); closes fd."""
        try:
            while chunk := os.read(fd, 1 << 16):
                self.add(chunk)
        except OSError:
            pass
        finally:
            try:
                os.close(fd)
            except OSError:
                pass


# ---------------------------------------------------------------- the child's side


def _prctl(option: int, arg: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, arg, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent() -> bool:
    """Linux: this process is killed when its parent dies (PR_SET_PDEATHSIG), so no worker outlives the grader."""
    return _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def limit_self(memory_mb: float | None, parent: int) -> None:
    """Limits the child sets on itself before importing student code (no preexec_fn: threads are unsafe there)."""
    die_with_parent()
    if os.getppid() != parent:  # the grader died before the line above: nothing to report to
        os._exit(1)
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, FILE_LIMIT)]
    if memory_mb:
        limits.append((resource.RLIMIT_AS, int(memory_mb * (1 << 20))))
    for which, value in limits:
        try:
            _soft, hard = resource.getrlimit(which)
            resource.setrlimit(which, (value if hard == resource.RLIM_INFINITY else min(value, hard), hard))
        except (ValueError, OSError):
            pass


# ---------------------------------------------------------------- the grader's side


_subreaper = {"on": False}


def become_subreaper() -> bool:
    """Orphaned descendants of our children come back to us (Linux); once per process."""
    if not _subreaper["on"]:
        _subreaper["on"] = _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    return _subreaper["on"]


def _parents() -> dict[int, int]:
    """pid → ppid of every process, from /proc ({} where there is no /proc)."""
    out: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        # "pid (comm) state ppid …": comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            out[int(name)] = int(fields[1])
    return out


def children_now() -> set[int]:
    """Our own children at this moment: the ones `reap` must leave alone (pool workers, other tools)."""
    me = os.getpid()
    return {pid for pid, ppid in _parents().items() if ppid == me}


def reap(before: set[int], rounds: int = 100) -> int:
    """Kill every process below us that is not (below) one of `before`; wait until none is left.

    Returns how many processes were killed. Each round kills the whole subtree at
    once, then waits for our direct children; a grandchild orphaned meanwhile is
    re-parented to us (subreaper) and caught by the next round.
    """
    me = os.getpid()
    killed = 0
    for _ in range(rounds):
        parents = _parents()
        tree: dict[int, list[int]] = {}
        for pid, ppid in parents.items():
            tree.setdefault(ppid, []).append(pid)
        victims: list[int] = []
        todo = [p for p in tree.get(me, []) if p not in before]
        while todo:
            pid = todo.pop()
            victims.append(pid)
            todo.extend(tree.get(pid, []))
        if not victims:
            return killed
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        for pid in victims:
            if parents.get(pid) == me:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
        time.sleep(0.005)
    return killed
