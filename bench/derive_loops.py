"""Section 4 of bench/derive.py: derive keeps the loop (issue 10), on the notes' RNN at T = 3, 10, 100, 1000.

    python bench/derive_loops.py

- load: parse + the unrolled lowering (linear in T: every step is spelled out for the numbers);
- derive: the closed form on one generic step, cut out of the unrolled graph (flat in T);
- derive+text: what `gradcheck derive rnn.grad` prints, its size in bytes (the same for every T);
- file→text: `gradcheck derive rnn.grad` in-process: the file read with a loop of 6 steps (derive/from_file.py), derived, printed;
- verify: `gradcheck verify` on the unrolled graph (complex step over all T steps; linear in T): the
  same 6 checks at every T, the sequence x[1..T] one of them (every entry while T·D entries times the
  T steps stay under 3·10⁶, above that 200 entries and 4 random directions: the `dL/dx[t]` column);
- flow: `gradcheck flow` at 2 points (linear in T).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = (3, 10, 100, 1000)
VERIFY_UP_TO = 1000  # `python bench/derive_loops.py 100`: verify only up to T = 100


def rnn_text(T: int) -> str:
    return f"""dims H = 4, D = 3, C = 5, T = {T}
W_hh : H x H
W_xh : H x D
W_hy : C x H
b : H
x[t] : D, t = 1..T
y[t] : onehot(C), t = 1..T
h[0] : H
for t = 1..T:
  z[t] = W_hh h[t-1] + W_xh x[t] + b
  h[t] = tanh(z[t])
  J[t] = cross_entropy(y[t], softmax(W_hy h[t]))
L = sum(J[t] for t = 1..T)
"""


def _load(T: int) -> Any:
    """The loop file, parsed and unrolled; before the loop syntax is in, the same RNN unrolled by
    the algebra (the graph the lowering builds: values z[k], h[k], p[k], J[k], variables h[0], x[k])."""
    from gradcheck_cli.errors import GradcheckError
    from gradcheck_cli.lang.graph import parse

    try:
        return parse(rnn_text(T), "rnn.grad")
    except GradcheckError:
        return _unrolled_by_hand(T)


def _unrolled_by_hand(T: int) -> Any:
    from types import SimpleNamespace

    from gradcheck_cli.lang.graph import Graph, VarInfo, parse
    from gradcheck_cli.shapes import Dim, using
    from gradcheck_cli.symbolic import algebra as alg

    base = parse(rnn_text(T).split("x[t]")[0] + "_s = 0\n", "rnn.grad")
    with using(base.env):
        P = {n: v.expr for n, v in base.variables.items()}
        col = {d: (Dim.of(d), Dim.of(1)) for d in ("H", "D", "C")}
        variables = dict(base.variables)
        values: dict[str, Any] = {}
        h = alg.var("h[0]", col["H"])
        variables["h[0]"] = VarInfo("h[0]", "vector", (), None, h)  # type: ignore[arg-type]
        L = None
        for k in range(1, T + 1):
            x, y = alg.var(f"x[{k}]", col["D"]), alg.var(f"y[{k}]", col["C"], ("onehot",))
            variables[x.name] = VarInfo(x.name, "vector", (), None, x)  # type: ignore[arg-type]
            variables[y.name] = VarInfo(y.name, "onehot", ("onehot",), None, y)  # type: ignore[arg-type]
            z = alg.add(alg.add(alg.matmul(P["W_hh"], h), alg.matmul(P["W_xh"], x)), P["b"])
            h = alg.fn("tanh", z)
            p = alg.softmax(alg.matmul(P["W_hy"], h))
            J = alg.neg(alg.matmul(alg.T(y), alg.fn("log", p)))
            values.update({f"z[{k}]": z, f"h[{k}]": h, f"p[{k}]": p, f"J[{k}]": J})
            L = J if L is None else alg.add(L, J)
        values["L"] = L
        g = Graph("rnn.grad", "", base.env, variables, {}, values, {}, "L")
        g.loop = SimpleNamespace(length="T")  # type: ignore[attr-defined]
        return g


def loop_row(T: int, verify_up_to: int = VERIFY_UP_TO) -> dict[str, Any]:
    from gradcheck_cli.derive.loops import LoopDerivation
    from gradcheck_cli.derive.reverse import derive
    from gradcheck_cli.render import RENDERERS

    t0 = time.perf_counter()
    g = _load(T)
    load = time.perf_counter() - t0
    runs = []
    for _ in range(5):  # the median of 5: the first derive of a big graph also pays a garbage collection
        t1 = time.perf_counter()
        d = derive(g)
        t2 = time.perf_counter()
        text = RENDERERS["text"](d)
        runs.append((t2 - t1, time.perf_counter() - t2))
    (dt, tt) = sorted(runs)[2]
    import tempfile

    from gradcheck_cli.derive.from_file import derive_path

    with tempfile.TemporaryDirectory() as tmp:  # what `gradcheck derive rnn.grad` does: read the file, a loop
        path = Path(tmp) / "rnn.grad"           # with LOOP_STEPS steps, derive, print
        path.write_text(rnn_text(T), encoding="utf-8")
        whole = []
        for _ in range(5):
            t5 = time.perf_counter()
            RENDERERS["text"](derive_path(str(path))[1])
            whole.append(time.perf_counter() - t5)
    file_text = sorted(whole)[2]
    row: dict[str, Any] = {"load": load, "derive": dt, "text": tt, "file": file_text, "bytes": len(text.encode()),
                           "closed": isinstance(d, LoopDerivation), "verify": None}
    if T <= verify_up_to:
        from gradcheck_cli.numeric.verify import VerifyOptions, verify

        t4 = time.perf_counter()
        rep = verify(g, VerifyOptions(trials=1))
        row["verify"] = time.perf_counter() - t4
        row["ok"] = rep.ok
        row["checks"] = len(rep.checks)
        from gradcheck_cli.numeric.flow import FlowOptions, flow

        t6 = time.perf_counter()
        flow(g, FlowOptions(points=2))  # `gradcheck flow`: norms at every step, the chain ∂h_T/∂h_k, verdicts
        row["flow"] = time.perf_counter() - t6
        row["x_mode"] = next((c.mode for c in rep.checks if c.wrt == "x[t]"), "—")
    return row


def fmt(t: float | None) -> str:
    if t is None:
        return "—"
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def print_loop_table(verify_up_to: int = VERIFY_UP_TO) -> None:
    loop_row(2)  # warm-up
    rows = {T: loop_row(T, verify_up_to) for T in STEPS}
    print("\n4. loops over time (issue 10): the notes' RNN, loss at every step, H = 4, D = 3, C = 5")
    print("   targets: derive flat in T (one generic step), verify linear in T (the unrolled graph)")
    print(f"   {'T':>5} {'load':>10} {'derive':>10} {'derive+text':>12} {'file→text':>10} {'text bytes':>11} "
          f"{'verify':>10} {'per step':>10} {'checks':>7} {'dL/dx[t]':>9} {'flow':>9}")
    for T, r in rows.items():
        per = fmt(r["verify"] / T) if r["verify"] is not None else "—"
        closed = "" if r["closed"] else "  (not in closed form!)"
        ok = "" if r.get("ok", True) else "  (verify FAILED)"
        print(f"   {T:>5} {fmt(r['load']):>10} {fmt(r['derive']):>10} {fmt(r['derive'] + r['text']):>12} {fmt(r['file']):>10} "
              f"{r['bytes']:>11} {fmt(r['verify']):>10} {per:>10} {r.get('checks', '—'):>7} {r.get('x_mode', '—'):>9}"
              f" {fmt(r.get('flow')):>9}"
              f"{closed}{ok}")
    a, b = rows[STEPS[1]], rows[STEPS[-1]]
    print(f"   T = {STEPS[1]} → {STEPS[-1]}: derive × {b['derive'] / a['derive']:.1f}, file→text × "
          f"{b['file'] / a['file']:.1f} for T × {STEPS[-1] // STEPS[1]}")
    if b["verify"] is None:
        return
    print(f"   "
          f"verify × {b['verify'] / a['verify']:.0f} for T × {STEPS[-1] // STEPS[1]}")


if __name__ == "__main__":
    print_loop_table(int(sys.argv[1]) if len(sys.argv) > 1 else VERIFY_UP_TO)
