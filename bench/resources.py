"""Resource attacks (issue 14): time and peak memory of gradcheck on hostile-sized files.

    python bench/resources.py            # the table
    python bench/resources.py --quick    # 10× smaller inputs (a smoke run)
    python bench/resources.py --strict   # exit 1 when a case exits 3 or exceeds its budget

Each case writes one generated file and runs `gradcheck COMMAND FILE` as a fresh
subprocess; the time is wall-clock and the peak memory is the child's maximum
resident set (os.wait4), so the numbers include Python's start-up (~0.6 s,
~90 MB with numpy and sympy). The baseline for every case is the contract:
an exit code in {0, 1, 2} (never 3), no hang, and cost linear in the file.

| case | file |
|---|---|
| 50 MB file | a 4-line graph plus 50 MB of comment lines |
| 10⁵ statements | `a_i = a_{i-1} + x`, i = 1 … 100,000 |
| 10⁴ claims | 10,000 correct claims, then 10,000 with a syntax error |
| 1 MB name | a declared variable with a 1,000,000-character name; then the same name undeclared |
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 300.0  # per case: far above linear cost, far below a hang


def cases(scale: float) -> list[tuple[str, str, list[str], str]]:
    """(case, file name, command, text)."""
    head = "dims n = 3\nx : n\ns = sum(tanh(x))\n"
    mb50 = int(50_000_000 * scale)
    comment = "# " + "c" * 97 + "\n"
    n_stmt, n_claims, name_len = int(100_000 * scale), int(10_000 * scale), int(1_000_000 * scale)
    chain = ("dims n = 3\nx : n\na0 = x\n" + "".join(f"a{i} = a{i - 1} + x\n" for i in range(1, n_stmt + 1))
             + f"s = sum(a{n_stmt})\n")
    big = "q" * name_len
    out = [
        ("50 MB file", "comments.grad", ["derive"], head + comment * (mb50 // len(comment))),
        ("50 MB file", "comments.grad", ["verify"], None),
        ("10⁵ statements", "chain.grad", ["graph"], chain),
        ("10⁵ statements", "chain.grad", ["derive", "--format", "json"], None),
        ("10⁵ statements", "chain.grad", ["verify"], None),
        ("10⁴ claims", "claims.grad", ["verify"], head + "claim ds/dx = 1 - tanh(x)^2\n" * n_claims),
        ("10⁴ broken claims", "broken.grad", ["verify"], head + "claim ds/dx = 1 - tanh(x)^^2\n" * n_claims),
        ("1 MB name", "name.grad", ["derive"], f"dims n = 3\n{big} : n\ns = sum(tanh({big}))\n"),
        ("1 MB name", "name.grad", ["verify"], None),
        ("1 MB unknown name", "unknown.grad", ["derive"], f"dims n = 3\nx : n\ns = sum({big})\n"),
    ]
    return [(c, f, cmd, t) for c, f, cmd, t in out]  # type: ignore[misc]


def run(cmd: list[str]) -> tuple[int, float, float, int]:
    """(exit code, seconds, peak RSS in MB, bytes of output) of one fresh process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except KeyboardInterrupt:
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - t0
        size = out.seek(0, 2)
    return proc.returncode, seconds, usage.ru_maxrss / 1024, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="inputs 10× smaller")
    ap.add_argument("--strict", action="store_true", help="exit 1 on exit code 3 or a missed budget")
    args = ap.parse_args()
    exe = shutil.which("gradcheck")
    base = [exe] if exe else [sys.executable, "-m", "gradcheck_cli"]
    rows, bad = [], False
    with tempfile.TemporaryDirectory() as tmp:
        for case, name, cmd, text in cases(0.1 if args.quick else 1.0):
            path = Path(tmp) / name
            if text is not None:
                path.write_text(text, encoding="utf-8")
            code, seconds, peak, size = run([*base, *cmd, str(path)])
            ok = code in (0, 1, 2) and seconds < BUDGET_S
            bad |= not ok
            rows.append((case, f"{path.stat().st_size / 1e6:.1f} MB", " ".join(cmd), str(code), f"{seconds:.1f}",
                         f"{peak:.0f}", f"{size / 1e3:.0f} kB" if size >= 1000 else f"{size} B", "ok" if ok else "FAIL"))
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    header = ("case", "file", "command", "exit", "seconds", "peak MB", "output", "contract")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    return 1 if bad and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
