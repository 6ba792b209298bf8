"""End-to-end wall time of the commands a pre-commit hook runs, against `import numpy`.

    python bench/startup.py                 # the table, 7 rounds
    python bench/startup.py --ref HEAD~3    # plus the same commands at an older commit
    python bench/startup.py --strict        # exit 1 when a target is missed

Issue 11, item 1: a hook or a Classroom run pays start-up on every file, and
the floor any numpy tool pays is `python -c "import numpy"`. Each command runs
as a fresh subprocess, the commands interleaved round by round so the noise of
a shared machine falls on all of them alike; the table gives the median and
the best round, and the ratio of the medians to the numpy baseline. Runs keep
their compiled bytecode, as an installed tool does (PYTHONDONTWRITEBYTECODE is
dropped from the environment; the warm-up round writes the caches):

  python -c "import numpy"               the baseline
  gradcheck --help                       target ≤ 1.5×
  gradcheck derive examples/mlp.grad     target ≤ 4×
  gradcheck verify examples/mlp.grad     target ≤ 3×

With `--ref REV` the three gradcheck commands also run from `git archive REV`
(unpacked into a temporary directory and run from there), in the same
rounds: before and after in one table. `python -X importtime` says where a
command's import time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples/mlp.grad"
COMMANDS = (  # (label, gradcheck arguments or None for the baseline, target ratio)
    ('python -c "import numpy"', None, None),
    ("gradcheck --help", ["--help"], 1.5),
    (f"gradcheck derive {EXAMPLE}", ["derive", EXAMPLE], 4.0),
    (f"gradcheck verify {EXAMPLE}", ["verify", EXAMPLE], 3.0),
)


def _run(argv: list[str], env: dict[str, str]) -> float:
    # `python -m` puts the working directory first on sys.path: run in the tree being timed
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=env.get("PYTHONPATH", ROOT), env=env, capture_output=True, check=False)
    dt = time.perf_counter() - t0
    if r.returncode not in (0, 1):  # verify's exit 1 would be a failed check, still timed
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}:\n{r.stderr.decode()}")
    return dt


def _export(ref: str, into: Path) -> Path:
    """`git archive ref` unpacked under `into`: that commit's gradcheck_cli, importable."""
    tar = into / "ref.tar"
    with tar.open("wb") as f:
        subprocess.run(["git", "archive", ref], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(tar) as t:
        t.extractall(into / "src", filter="data")
    return into / "src"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ref", help="also time the gradcheck commands at this git revision")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()

    env = {**os.environ, "NO_COLOR": "1"}
    # as installed: Python keeps compiled bytecode (__pycache__) and reuses it. With
    # PYTHONDONTWRITEBYTECODE set (some containers set it) every run would compile
    # gradcheck's ~60 modules from source again, ~0.15 s that no user pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    here = {**env, "PYTHONPATH": str(ROOT)}
    variants: list[tuple[str, dict[str, str]]] = [("", here)]
    with tempfile.TemporaryDirectory() as tmp:
        if args.ref:
            variants.append((f" @{args.ref}", {**env, "PYTHONPATH": str(_export(args.ref, Path(tmp)))}))
        rows: list[tuple[str, list[str], dict[str, str], float | None]] = []
        for label, gc_args, target in COMMANDS:
            if gc_args is None:
                rows.append((label, [sys.executable, "-c", "import numpy"], env, None))
                continue
            for suffix, venv in variants:
                rows.append((label + suffix, [sys.executable, "-m", "gradcheck_cli", *gc_args], venv,
                             None if suffix else target))
        times: dict[str, list[float]] = {r[0]: [] for r in rows}
        for label, argv, venv, _ in rows:  # warm the file cache and lark's grammar cache
            _run(argv, venv)
        for _ in range(args.rounds):
            for label, argv, venv, _ in rows:
                times[label].append(_run(argv, venv))

    base = statistics.median(times[COMMANDS[0][0]])
    print(f"gradcheck start-up, {args.rounds} interleaved rounds, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs; gradcheck runs as `python -m gradcheck_cli`")
    print(f"| {'command':<44} | {'median':>8} | {'best':>8} | {'× numpy':>7} | {'target':>7} | verdict |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 9}|---------|")
    missed = False
    for label, _, _, target in rows:
        med, best = statistics.median(times[label]), min(times[label])
        ratio = med / base
        verdict = "" if target is None else ("ok" if ratio <= target else "missed")
        missed |= verdict == "missed"
        tgt = "" if target is None else f"≤ {target:g}×"
        print(f"| {label:<44} | {med:6.3f} s | {best:6.3f} s | {ratio:6.2f}× | {tgt:>7} | {verdict:<7} |")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
