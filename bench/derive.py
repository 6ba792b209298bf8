"""`gradcheck derive` against sympy, on the seed and on L-layer tanh MLPs.

    python bench/derive.py            # the whole table, ~1–2 minutes
    python bench/derive.py --quick    # L ≤ 4 only
    python bench/derive.py --render-only    # derive + render and JSON size only (issue 11), ~5 s
    python bench/derive_loops.py            # section 4 alone: loops over time at T = 3 … 1000 (issue 10)

Issue 3 asks, in one run, for the seed s = uᵀ tanh(Wx + b) and an L-layer
tanh MLP (L = 1, 2, 4, 16, 64; x : m, W1 : n×m, Wₗ : n×n, s = uᵀ h_L):

1. gradcheck: derive time in-process after a warm-up (parse + derive; the
   JSON rendering separately), and the result length in tokens of the `dsl`
   strings (δ written out) and of the text (δ named). Targets: the seed
   < 0.1 s, L = 64 < 3 s, growth about linear in L.
2. sympy's own matrix calculus on the same expression: MatrixSymbols, tanh
   through `.applyfunc` (an ElementwiseApplyFunction), `s.diff(V)` for the
   first layer's W and b, for x, u and the last W. Its time, whether its
   answer is numerically right (made explicit at a random point and compared
   with central differences of gradcheck's forward pass), its length, or the
   exception it raises. Each case runs in a subprocess with a 20 s limit.
3. The entry-by-entry derivative (gradcheck_cli.derive.exact: explicit 3×3 symbol
   matrices, every entry differentiated) at n = 3, with sympy and with
   symengine, also in 20 s subprocesses; and the seed at n = 10, where the
   issue measured symengine at ~200× sympy.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LAYERS = (1, 2, 4, 16, 64)
TIMEOUT = 20.0  # per sympy diff, and per entry-by-entry case
SYMPY_LIMIT = 6 * (TIMEOUT + 5)  # a whole sympy case: at most 5 diffs and 5 checks
CHECK_LIMIT = 5  # seconds for sympy to make one of its answers explicit (the numeric check)
N, M = 3, 4  # layer width, input size (distinct: a transposed answer cannot hide)
TOKEN = re.compile(r"[^\W\d][\w']*|\d+(?:\.\d+)?|\^T|\S")


def tokens(s: str) -> int:
    return len(TOKEN.findall(s))


# --------------------------------------------------------------------------
# the graphs


def seed_text(n: int = N, m: int = M) -> str:
    return f"dims n = {n}, m = {m}\nW : n x m\nx : m\nb : n\nu : n\ns = u^T tanh(W x + b)\n"


def mlp_text(L: int, n: int = N, m: int = M) -> str:
    lines = [f"dims n = {n}, m = {m}", "x : m", "u : n"]
    for k in range(1, L + 1):
        lines += [f"W{k} : n x {'m' if k == 1 else 'n'}", f"b{k} : n"]
    prev = "x"
    for k in range(1, L + 1):
        lines.append(f"h{k} = tanh(W{k} {prev} + b{k})")
        prev = f"h{k}"
    lines.append(f"s = u^T {prev}")
    return "\n".join(lines) + "\n"


def case_text(case: str) -> str:
    return seed_text() if case == "seed" else mlp_text(int(case))


def sympy_targets(case: str) -> list[str]:
    if case == "seed":
        return ["W", "b", "x", "u"]
    L = int(case)
    return list(dict.fromkeys(["W1", "b1", "x", "u", f"W{L}"]))


# --------------------------------------------------------------------------
# 1. gradcheck, in-process


def gradcheck_row(case: str) -> dict[str, Any]:
    from gradcheck_cli.derive.reverse import derive
    from gradcheck_cli.lang.graph import parse
    from gradcheck_cli.render import RENDERERS
    from gradcheck_cli.render.json import derivation_dict

    text = case_text(case) if not case.startswith("L") else mlp_text(int(case[1:]))
    t0 = time.perf_counter()
    d = derive(parse(text))
    t1 = time.perf_counter()
    data = derivation_dict(d)
    t2 = time.perf_counter()
    plain = RENDERERS["text"](d)  # what `gradcheck derive FILE` prints
    t3 = time.perf_counter()
    js = RENDERERS["json"](d)  # `--format json`, serialised
    t4 = time.perf_counter()
    dsl = sum(tokens(g["shape_convention"]["dsl"]) for g in data["gradients"])
    txt = sum(tokens(g["shape_convention"]["text"]) for g in data["gradients"]) + \
        sum(tokens(s["text"]) + 2 for s in data["signals"])
    return {"derive": t1 - t0, "render": t2 - t1, "text": t3 - t2, "json": t4 - t3, "json_bytes": len(js.encode()),
            "text_bytes": len(plain.encode()), "dsl_tokens": dsl, "text_tokens": txt,
            "gradients": len(data["gradients"])}


def warm_up() -> None:
    """Import everything and derive once, on a graph that shares no nodes with the cases."""
    from gradcheck_cli.derive.reverse import derive
    from gradcheck_cli.lang.graph import parse
    from gradcheck_cli.render.json import derivation_dict

    derivation_dict(derive(parse("dims p = 2, q = 5\nA : p x q\ny : q\nc : p\nv : p\nt = v^T tanh(A y + c)\n")))


# --------------------------------------------------------------------------
# 2. sympy's MatrixSymbol diff (run in a subprocess)


def sympy_case(case: str) -> dict[str, Any]:
    import numpy as np
    import sympy as sp

    from gradcheck_cli.lang.graph import parse
    from gradcheck_cli.numeric.evaluate import Context, evaluate, sample_inputs

    trace = case == "seed-tr"
    case = "seed" if trace else case
    graph = parse(case_text(case))
    values = sample_inputs(graph, np.random.default_rng(0))
    syms = {name: sp.MatrixSymbol(name, *values[name].shape) for name in graph.variables}
    if case == "seed":
        h = (syms["W"] * syms["x"] + syms["b"]).applyfunc(sp.tanh)
    else:
        h = syms["x"]
        for k in range(1, int(case) + 1):
            h = (syms[f"W{k}"] * h + syms[f"b{k}"]).applyfunc(sp.tanh)
    s = sp.Trace(syms["u"].T * h) if trace else syms["u"].T * h  # tr(·) of a 1×1: the same s
    out: dict[str, Any] = {"vars": {}}
    for name in sympy_targets(case):
        row: dict[str, Any] = {}
        t0 = time.perf_counter()
        signal.alarm(int(TIMEOUT))
        try:
            d = s.diff(syms[name])
        except _Alarm:
            row.update(time=time.perf_counter() - t0, error=f"Timeout: over {TIMEOUT:.0f} s")
            out["vars"][name] = row
            continue
        except Exception as e:  # noqa: BLE001 - the exception is the measurement
            row.update(time=time.perf_counter() - t0, error=f"{type(e).__name__}: {e}"[:80])
            out["vars"][name] = row
            continue
        finally:
            signal.alarm(0)
        row.update(time=time.perf_counter() - t0, tokens=tokens(str(d)), form=type(d).__name__)
        signal.alarm(CHECK_LIMIT)  # making sympy's answer explicit can take minutes: not part of its time
        try:
            got = np.squeeze(np_value(d, {syms[k]: v for k, v in values.items()}))
            want = np.squeeze(_central_differences(graph, values, name, Context, evaluate))
            if got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-7):
                row["verdict"] = "right"
            elif got.shape == want.T.shape and np.allclose(got, want.T, rtol=1e-5, atol=1e-7) and got.ndim == 2:
                row["verdict"] = "transposed"
            else:
                row["verdict"] = "WRONG"
        except _Alarm:
            row["verdict"] = f"not evaluable in {CHECK_LIMIT} s"
        except Exception as e:  # noqa: BLE001
            row["verdict"] = f"not evaluable ({type(e).__name__})"
        finally:
            signal.alarm(0)
        out["vars"][name] = row
    return out


def np_value(e: Any, env: dict[Any, Any]) -> Any:
    """A sympy matrix or array expression at a point, with numpy; the array operations use
    sympy's own explicit functions (tensorproduct, tensorcontraction, …) so their index
    conventions are sympy's. Much faster than `.subs(…).as_explicit()`."""
    import numpy as np
    import sympy as sp
    from sympy.tensor.array import expressions as ax

    def arr(a: Any) -> Any:
        return sp.Array(np.asarray(a, dtype=float).tolist()) if np.ndim(a) else sp.Float(float(a))

    def back(a: Any) -> Any:
        return np.array(a.tolist(), dtype=float) if hasattr(a, "tolist") else np.array(float(a))

    def go(x: Any) -> Any:
        if x in env:
            return env[x]
        if isinstance(x, sp.MatrixSymbol):
            raise KeyError(x)
        if x.is_Number:
            return np.array(float(x))
        if isinstance(x, sp.Identity):
            return np.eye(int(x.shape[0]))
        if isinstance(x, sp.ZeroMatrix):
            return np.zeros(tuple(int(d) for d in x.shape))
        if isinstance(x, sp.Transpose):
            return go(x.arg).T
        if isinstance(x, sp.MatAdd):
            return sum(go(a) for a in x.args)
        if isinstance(x, (sp.MatMul, sp.Mul)):
            out: Any = np.array(1.0)
            for a in x.args:
                v = go(a)
                out = out @ v if np.ndim(out) == 2 and np.ndim(v) == 2 else out * v
            return out
        if isinstance(x, sp.HadamardProduct):
            out = go(x.args[0])
            for a in x.args[1:]:
                out = out * go(a)
            return out
        if isinstance(x, sp.Trace):
            return np.array(np.trace(go(x.arg)))
        if isinstance(x, sp.matrices.expressions.applyfunc.ElementwiseApplyFunction):
            f = sp.lambdify(x.function.variables, x.function.expr, "numpy")
            return np.asarray(f(go(x.expr)), dtype=float)
        if isinstance(x, ax.ArrayTensorProduct):
            out = arr(go(x.args[0]))
            for a in x.args[1:]:
                out = sp.tensorproduct(out, arr(go(a)))
            return back(out)
        if isinstance(x, ax.ArrayContraction):
            return back(sp.tensorcontraction(arr(go(x.expr)), *x.contraction_indices))
        if isinstance(x, ax.ArrayDiagonal):
            return back(sp.tensordiagonal(arr(go(x.expr)), *x.diagonal_indices))
        if isinstance(x, ax.PermuteDims):
            return back(sp.permutedims(arr(go(x.expr)), x.permutation))
        return back(x.subs({k: sp.ImmutableMatrix(v) for k, v in env.items()}).as_explicit())

    return go(e)


def _central_differences(graph: Any, values: dict[str, Any], name: str, Context: Any, evaluate: Any) -> Any:
    import numpy as np

    x0 = values[name]
    g = np.zeros_like(x0)
    for idx in np.ndindex(*x0.shape):
        sides = []
        for sign in (1, -1):
            x = x0.copy()
            x[idx] += sign * 1e-6
            sides.append(evaluate(graph.output, Context(graph, {**values, name: x})).item())
        g[idx] = (sides[0] - sides[1]) / 2e-6
    return g


# --------------------------------------------------------------------------
# 3. entry by entry (run in a subprocess)


def entry_case(case: str, engine: str, n: int) -> dict[str, Any]:
    from gradcheck_cli.derive.exact import Exact
    from gradcheck_cli.lang.graph import parse

    text = seed_text(n, n) if case == "seed" else mlp_text(int(case), n, n)
    graph = parse(text)
    t0 = time.perf_counter()
    ex = Exact(graph, {"n": n, "m": n}, engine)
    for name in graph.params():
        ex.gradient(name)
    total = time.perf_counter() - t0
    # the differentiation alone: no forward pass, no conversions between sympy and symengine
    s = ex.value(graph.output)[0, 0]
    variables = [v for name in graph.params() for v in ex.symbols[name]]
    if engine == "symengine":
        import symengine as se

        e, xs = se.sympify(s), [se.Symbol(v.name) for v in variables]
        t0 = time.perf_counter()
        for v in xs:
            e.diff(v)
    else:
        import sympy as sp
        from sympy.core.cache import clear_cache

        clear_cache()  # exact_gradient above made the same calls: no cached answers
        t0 = time.perf_counter()
        for v in variables:
            sp.diff(s, v)
    return {"time": total, "diff": time.perf_counter() - t0}


def in_subprocess(args: list[str], limit: float) -> dict[str, Any]:
    """Run one case in a fresh interpreter; `limit` is the backstop if the child's alarm cannot fire
    (symengine's C code does not return to Python until it is done)."""
    cmd = [sys.executable, __file__, *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        return {"timeout": True}
    if r.returncode != 0:
        lines = (r.stderr.strip() or r.stdout.strip()).splitlines()
        return {"crash": lines[-1] if lines else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


class _Alarm(BaseException):  # not an Exception: sympy's own `except Exception` must not swallow it
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Alarm()


def child(argv: list[str]) -> None:
    signal.signal(signal.SIGALRM, _on_alarm)
    if argv[0] == "--sympy":
        print(json.dumps(sympy_case(argv[1])))
        return
    signal.alarm(int(TIMEOUT))
    try:
        print(json.dumps(entry_case(argv[1], argv[2], int(argv[3]))))
    except _Alarm:
        print(json.dumps({"timeout": True}))


# --------------------------------------------------------------------------
# the table


def fmt_time(t: float | None) -> str:
    if t is None:
        return "—"
    if t < 0.01:
        return f"{t * 1000:.1f} ms"
    return f"{t * 1000:.0f} ms" if t < 1 else f"{t:.2f} s"


def sympy_summary(res: dict[str, Any]) -> tuple[str, str, str, str]:
    if res.get("timeout"):
        return (f"> {SYMPY_LIMIT:.0f} s", "timeout", "—", "")
    if "crash" in res:
        return ("—", "crash", "—", res["crash"][:60])
    rows = res["vars"]
    total = sum(r["time"] for r in rows.values())
    verdicts = []
    errors: dict[str, list[str]] = {}
    for name, r in rows.items():
        if "error" in r:
            errors.setdefault(r["error"].split(":")[0], []).append(name)
            verdicts.append(f"{name}: raises")
        else:
            verdicts.append(f"{name}: {r['verdict']}")
    length = sum(r.get("tokens", 0) for r in rows.values())
    err = "; ".join(f"{k} ({', '.join(v)})" for k, v in errors.items())
    right = sum(1 for r in rows.values() if r.get("verdict") == "right")
    others = ", ".join(v for v in verdicts if not v.endswith(("right", "raises")))
    return (fmt_time(total), f"{right}/{len(rows)} right", str(length) if length else "—",
            "; ".join(p for p in (others, f"raises {err}" if err else "") if p))


RENDER_LAYERS = (16, 32, 64, 128)


def print_render_table(cases: list[str], ours: dict[str, Any]) -> None:
    """Issue 11, item 3: derive + render of L = 64 < 0.5 s, about linear in L; JSON < 1 MB."""
    rows = {c: ours[c] if c in ours else gradcheck_row(c) for c in
            [c for c in cases if c != "seed"] + [f"L{L}" for L in RENDER_LAYERS if str(L) not in cases]}
    rows = dict(sorted(rows.items(), key=lambda kv: int(kv[0].lstrip("L"))))
    print("\n1b. derive + render, in-process (text: what `gradcheck derive` prints; json: `--format json`)")
    print("    targets: L = 64 derive + text < 0.5 s, derive + json < 0.5 s, json < 1 MB")
    print(f"   {'case':<6} {'derive':>9} {'text':>9} {'json':>9} {'derive+text':>12} {'derive+json':>12} "
          f"{'text size':>10} {'json size':>10} {'time / json kB':>15}")
    for c, r in rows.items():
        L = c.lstrip("L")
        total_j = r["derive"] + r["json"]
        print(f"   {'L=' + L:<6} {fmt_time(r['derive']):>9} {fmt_time(r['text']):>9} {fmt_time(r['json']):>9} "
              f"{fmt_time(r['derive'] + r['text']):>12} {fmt_time(total_j):>12} {r['text_bytes'] / 1e3:>8.0f}kB "
              f"{r['json_bytes'] / 1e3:>8.0f}kB {total_j / (r['json_bytes'] / 1e3) * 1e6:>12.0f} µs")
    r64 = rows.get("64") or rows.get("L64")
    if r64:
        ok = r64["derive"] + r64["text"] < 0.5 and r64["derive"] + r64["json"] < 0.5 and r64["json_bytes"] < 1e6
        print(f"   L = 64: derive + text {fmt_time(r64['derive'] + r64['text'])}, derive + json "
              f"{fmt_time(r64['derive'] + r64['json'])}, json {r64['json_bytes'] / 1e6:.2f} MB: "
              f"{'ok' if ok else 'MISSED'}")
    keys = list(rows)
    if len(keys) >= 2:
        a, b = rows[keys[-2]], rows[keys[-1]]
        la, lb = int(keys[-2].lstrip("L")), int(keys[-1].lstrip("L"))
        for what in ("derive", "text", "json", "json_bytes"):
            growth = b[what] / a[what] if a[what] else float("nan")
            print(f"   growth L={la} → L={lb} (× {lb // la}): {what:<10} × {growth:.1f}")
        print("   (the Jacobian form writes each layer's chain out, L − k links for layer k, so the output")
        print("    itself grows as L²: time per output byte is the measure of linear work)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="L ≤ 4 only")
    ap.add_argument("--render-only", action="store_true", help="sections 1 and 1b only (no sympy subprocesses)")
    args = ap.parse_args()
    cases = ["seed"] + [str(L) for L in LAYERS if not args.quick or L <= 4]
    started = time.perf_counter()

    warm_up()
    ours = {c: gradcheck_row(c) for c in cases}

    print(f"gradcheck derive vs sympy (width n = {N}, input m = {M}; Python {sys.version.split()[0]})\n")
    print("1. gradcheck derive, in-process after a warm-up            targets: seed < 0.1 s, L = 64 < 3 s, ~linear")
    print(f"   {'case':<6} {'grads':>5} {'derive':>9} {'per layer':>10} {'render':>9} {'dsl tokens':>11} {'text tokens':>12}")
    for c in cases:
        r = ours[c]
        L = 1 if c == "seed" else int(c)
        target = ""
        if c == "seed":
            target = "  ok (< 0.1 s)" if r["derive"] < 0.1 else "  MISSED (< 0.1 s)"
        elif c == "64":
            target = "  ok (< 3 s)" if r["derive"] < 3 else "  MISSED (< 3 s)"
        print(f"   {('L=' + c) if c != 'seed' else c:<6} {r['gradients']:>5} {fmt_time(r['derive']):>9} "
              f"{fmt_time(r['derive'] / L):>10} {fmt_time(r['render']):>9} {r['dsl_tokens']:>11} "
              f"{r['text_tokens']:>12}{target}")
    mlp = [c for c in cases if c != "seed"]
    if len(mlp) >= 2:
        a, b = mlp[0], mlp[-1]
        ratio = (ours[b]["derive"] / ours[a]["derive"]) / (int(b) / int(a))
        print(f"   growth L={a} → L={b}: time × {ours[b]['derive'] / ours[a]['derive']:.0f} for L × {int(b) // int(a)}"
              f" ({'about linear' if ratio < 3 else 'super-linear'}: {ratio:.1f} × linear)")

    print_render_table(cases, ours)
    from derive_loops import print_loop_table  # bench/: section 4, loops over time

    print_loop_table()
    if args.render_only:
        return

    print(f"\n2. sympy MatrixSymbol(...).diff(V) on the same expression (tanh via .applyfunc; {TIMEOUT:.0f} s limit)")
    print(f"   {'case':<7} {'time':>9} {'numerically':>13} {'tokens':>7}  notes")
    for c in ["seed", "seed-tr"] + cases[1:]:
        t, verdict, length, note = sympy_summary(in_subprocess(["--sympy", c], SYMPY_LIMIT))
        print(f"   {('L=' + c) if c[0].isdigit() else c:<7} {t:>9} {verdict:>13} {length:>7}  {note}")
    print("   (V: W, b, x, u for the seed; W1, b1, x, u, W_L for the MLP; seed-tr is s = tr(uᵀ tanh(Wx + b)).")
    print("    ‘right’: equal to central differences of gradcheck's forward pass at a random point, once")
    print(f"    sympy has made its answer explicit, which is given {CHECK_LIMIT} s and not counted in ‘time’)")

    print("\n3. entry by entry (gradcheck_cli.derive.exact: every entry of every gradient), time for all gradients")
    print(f"   {'':<10} {'all of exact_gradient':^32}   {'the diff calls alone':^32}")
    print(f"   {'case':<10} {'sympy':>10} {'symengine':>10} {'speed-up':>9}   {'sympy':>10} {'symengine':>10} {'speed-up':>9}")
    given_up: dict[str, str] = {}
    for c, n in [(c, 3) for c in cases] + [("seed", 10)]:
        times: dict[str, Any] = {}
        diffs: dict[str, Any] = {}
        for engine in ("sympy", "symengine"):
            if engine in given_up and n == 3:
                times[engine] = diffs[engine] = "skipped"
                continue
            r = in_subprocess(["--entry", c, engine, str(n)], TIMEOUT + 10)
            if "time" in r:
                times[engine], diffs[engine] = r["time"], r["diff"]
            else:
                diffs[engine] = "—"
                times[engine] = f"> {TIMEOUT:.0f} s" if r.get("timeout") else r.get("crash", "?")[:30]
                if n == 3:
                    given_up[engine] = f"L={c}" if c != "seed" else "seed"
        label = (("L=" + c) if c != "seed" else "seed") + f", n={n}"
        cells = []
        for pair in (times, diffs):
            a, b = pair["sympy"], pair["symengine"]
            speed = f"{a / b:.0f}×" if isinstance(a, float) and isinstance(b, float) and b > 0 else "—"
            show = [fmt_time(x) if isinstance(x, float) else x for x in (a, b)]
            cells.append(f"{show[0]:>10} {show[1]:>10} {speed:>9}")
        print(f"   {label:<10} {cells[0]}   {cells[1]}")
    if given_up:
        print(f"   (skipped: a smaller L already took over {TIMEOUT:.0f} s; the entry-wise derivative of a deep net")
        print("    has exponentially many terms when written out, which is why derive works on matrices)")
    print(f"\n(whole bench: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("--sympy", "--entry"):
        child(sys.argv[1:])
    else:
        main()
