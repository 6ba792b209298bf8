"""Start-up and parsing speed: the two budgets of issue 2.

    python bench/parse.py              # the table
    python bench/parse.py --profile    # plus where the parse time goes (cProfile)
    python bench/parse.py --strict     # exit 1 when a budget is missed

1. Parsing plus shape checking of a generated 2,000-line .grad file (an MLP of
   500 layers: declarations, then z_i = W_i h_{i-1} + b_i and h_i = tanh(z_i))
   in-process: budget 1 s. Reported cold (the first parse in a fresh process,
   which also builds the LALR tables) and warm (best of 5).
2. `gradcheck --help` as a subprocess, best of 5: budget 0.5 s (sympy and
   numpy must stay out of the start-up path).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path

PARSE_BUDGET_S = 1.0
HELP_BUDGET_S = 0.5
LAYERS = 500


def mlp_source(layers: int = LAYERS) -> str:
    """A deep MLP written the way the lecture writes one layer, `layers` times."""
    lines = [f"# generated: an MLP of {layers} tanh layers, s = uᵀ h_{layers}",
             "dims n = 4, m = 3",
             "x : m const",
             "u : n"]
    for i in range(1, layers + 1):
        lines.append(f"W{i} : n x {'m' if i == 1 else 'n'}")
        lines.append(f"b{i} : n")
    lines.append("h0 = x")
    for i in range(1, layers + 1):
        lines.append(f"z{i} = W{i} h{i - 1} + b{i}")
        lines.append(f"h{i} = tanh(z{i})")
    lines.append(f"s = u^T h{layers}")
    return "\n".join(lines) + "\n"


def time_parse(text: str, repeats: int = 5) -> tuple[float, float, float, int]:
    """(import s, cold parse s, best warm parse s, graph nodes), in this process."""
    t0 = time.perf_counter()
    from gradcheck_cli.lang.graph import parse

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    graph = parse(text, "mlp500.grad")
    t_cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        parse(text, "mlp500.grad")
        warm.append(time.perf_counter() - t0)
    return t_import, t_cold, min(warm), graph.output.size()


def time_help(argv: list[str], repeats: int = 5) -> float:
    env = {**os.environ, "NO_COLOR": "1"}
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = subprocess.run(argv + ["--help"], capture_output=True, env=env, check=False)
        best = min(best, time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} --help failed:\n{r.stderr.decode()}")
    return best


def profile_parse(text: str, top: int = 20) -> str:
    from gradcheck_cli.lang.graph import parse

    parse(text)  # warm: grammar built, imports done
    prof = cProfile.Profile()
    prof.enable()
    parse(text)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def row(what: str, seconds: float, budget: float | None) -> str:
    verdict = "" if budget is None else ("ok" if seconds < budget else "OVER BUDGET")
    target = "" if budget is None else f"< {budget:.2f} s"
    return f"| {what:<44} | {seconds:8.3f} s | {target:>8} | {verdict:<11} |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one warm parse")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    ap.add_argument("--layers", type=int, default=LAYERS)
    ap.add_argument("--write", type=Path, help="also write the generated file here")
    args = ap.parse_args()

    text = mlp_source(args.layers)
    n_lines = text.count("\n")
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    t_import, t_cold, t_warm, n_nodes = time_parse(text)

    exe = shutil.which("gradcheck")
    t_help_m = time_help([sys.executable, "-m", "gradcheck_cli"])
    t_help = time_help([exe]) if exe else None

    print(f"gradcheck bench: {args.layers}-layer MLP, {n_lines} lines, {n_nodes} graph nodes; "
          f"Python {sys.version.split()[0]}")
    print(f"| {'measurement':<44} | {'time':>10} | {'target':>8} | {'verdict':<11} |")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 10}|{'-' * 13}|")
    print(row("import gradcheck_cli.lang.graph (sympy, numpy, lark)", t_import, None))
    print(row("parse + shape check, cold (first in process)", t_cold, PARSE_BUDGET_S))
    print(row("parse + shape check, warm (best of 5)", t_warm, PARSE_BUDGET_S))
    if t_help is not None:
        print(row("`gradcheck --help` subprocess (best of 5)", t_help, HELP_BUDGET_S))
    print(row("`python -m gradcheck_cli --help` (best of 5)", t_help_m, HELP_BUDGET_S))

    if exe:
        print(f"(`gradcheck` is {exe})")
    if args.profile:
        print()
        print(profile_parse(text))

    missed = t_cold >= PARSE_BUDGET_S or t_warm >= PARSE_BUDGET_S or t_help_m >= HELP_BUDGET_S or (
        t_help is not None and t_help >= HELP_BUDGET_S)
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
