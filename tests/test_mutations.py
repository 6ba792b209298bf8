"""Mutation test: every typical wrong gradient is caught, and a diagnosis, when given, is the right one.

The mutants are the usual slips of a hand derivation, made at the expression
level on each derived gradient of every example and golden graph:

    transpose   the gradient transposed (δ xᵀ → x δᵀ), or one square product inside it (A B → Bᵀ Aᵀ)
    sign        −g
    drop        one argument of a sum dropped, anywhere in the gradient
    double      2 g
    halve       g / 2
    f_for_f′    f(z) where the derivative f′(z) belongs (1 − tanh² → tanh, σ(1 − σ) → σ, f′ → f, relu′ → relu)
    axis        a sum over the other axis (batch bias gradients), on graphs as given and with a square batch
    swap        two generic functions confused: f′ and g′ swapped (Wᵀ g′(Wx) for Wᵀ f′(Wx))
    compose     a composition read the other way: every f and g swapped (g′(f(x)) ∘ f′(x) for f′(g(x)) ∘ g′(x))

Each mutant is printed with the DSL printer (the `dsl` strings of
`derive --format json`, δ written out), pasted into the file as a claim and
verified over three seeds: the claim must fail (a claim that no longer type
checks is an error, also a failure) and a diagnosis, when verify gives one,
must name this mutant's kind, or state a value pattern that holds for it (p
for p − y with a one-hot y is "one entry wrong" as much as a missing term).
Mutants numerically equal to the gradient (dropping a zero term, transposing
a symmetric matrix) are left out; so is, at one seed, a mutant equal to the
gradient at that seed's points (relu′ of four entries can be all zero).

The last kind is numeric: one entry of the gradient off by 1e-4 relative, at
P = 1e2 … 1e5, must fail with that entry named.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import sympy as sp

from gradcheck_cli.symbolic import algebra as alg
from gradcheck_cli.derive.reverse import derive
from gradcheck_cli.symbolic.elementwise import generic_rounds
from gradcheck_cli.symbolic.expr import Expr, make
from gradcheck_cli.lang.graph import Graph, parse
from gradcheck_cli.numeric import checker
from gradcheck_cli.numeric.evaluate import Context, Function, evaluate, sample_inputs
from gradcheck_cli.symbolic.printing import to_dsl
from gradcheck_cli.symbolic.rewrite import rebuilt, substitute_as_written
from gradcheck_cli.shapes import env, using
from gradcheck_cli.numeric.verify import VerifyOptions, verify
from gradcheck_cli.numeric.verify import sample_points as verify_points

TESTS = Path(__file__).parent
ROOT = TESTS.parent
# Files with a `for` loop (rnn, rnn_last, lstm_seq, gru_seq, flow_relu_rnn): their derived gradients
# are T unrolled copies, whose mutants (every site of a T-step BPTT sum) take minutes and are not what
# a student writes; the BPTT mistakes are grown on their claims in tests/test_bptt_mistakes.py.
LONG_UNROLLED = tuple(sorted(p.stem for p in (ROOT / "examples").glob("*.grad")
                             if re.search(r"^for \w+ = ", p.read_text(encoding="utf-8"), re.M)))
PATHS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.grad") if p.stem not in LONG_UNROLLED) + \
    sorted(str(p.relative_to(ROOT)) for p in (TESTS / "golden").glob("*.grad"))
SEEDS = (0, 1, 2)
SQUARE = 4  # the size every dim gets in a source's square variant

#: kind → the diagnoses that name it (a diagnosis may add the missing term: "a term is missing (2 * x)")
EXPECTED: dict[str, tuple[str, ...]] = {
    "transpose": ("transposed", "transposed shape"),
    "sign": ("sign flipped",),
    "drop": ("a term is missing",),
    "double": ("off by a factor of 2",),
    "halve": ("off by a factor of ½",),
    "f_for_fprime": ("f used where f′ belongs",),
    "axis": ("summed over the wrong axis",),
    "swap": ("two generic functions swapped",),
    "compose": ("two generic functions composed the other way",),
}
KINDS = tuple(EXPECTED)


def names_kind(diagnosis: str, kind: str) -> bool:
    return any(diagnosis == d or diagnosis.startswith(d + " (") for d in EXPECTED[kind])


# ---------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    id: str
    path: str
    text: str


def _square(text: str, graph: Graph) -> str:
    """The file with every given dim the same size: a wrong-axis sum then still type-checks."""
    dims = ", ".join(f"{n} = {SQUARE}" for n in graph.env.given)
    return re.sub(r"(?m)^dims .*$", f"dims {dims}", text, count=1)


def _has_axis_sum(graph: Graph) -> bool:
    for g in derive(graph).gradients:
        e = g.shape_form if g.shape_form is not None else g.jacobian
        if e is not None and any(n.op == "sum" and n.param("axis") is not None for n in e.walk()):
            return True
    return False


def _sources() -> list[Source]:
    out = []
    for path in PATHS:
        text = (ROOT / path).read_text(encoding="utf-8")
        out.append(Source(path, path, text))
        graph = parse(text, path)
        if _has_axis_sum(graph) and len(set(graph.env.sizes.values())) > 1:
            out.append(Source(f"{path}[square]", path, _square(text, graph)))
    return out


SOURCES = _sources()


# ---------------------------------------------------------------------------- building mutants


@dataclass
class Mutant:
    kind: str
    num: str
    wrt: str
    what: str  # which change, for messages
    expr: Expr
    right: Expr  # the derived gradient it is a mutant of
    dsl: str
    typechecks: bool


def _substituted(root: Expr, old: Expr, new: Expr) -> tuple[Expr, bool]:
    """root with old replaced by new, as written, and whether it still type-checks."""
    return substitute_as_written(root, {id(old): new})


def _raw(op: str, *args: Expr, **params: Any) -> tuple[Expr, bool]:
    """op on args as written (keeping args[0]'s shape where the rule fails), and whether it type-checks."""
    p = tuple(sorted(params.items()))
    node = rebuilt(make(op, args, p, args[0].shape), args)
    return (node, True) if node is not None else (make(op, args, p, args[0].shape), False)


def _mutations(graph: Graph, g: Expr) -> list[tuple[str, str, Expr, bool]]:
    """(kind, what, mutant, type-checks) for one gradient expression g."""
    out: list[tuple[str, str, Expr, bool]] = []
    nodes = list(g.walk())
    E = env()
    r, c = g.shape
    # 1. transpose a product: the whole gradient, and each square product inside it
    if not r.is_one and not c.is_one:
        out.append(("transpose", "gradient transposed", alg.T(g), True))
    for n in nodes:
        if n.op == "matmul" and n is not g and E.same(n.shape[0], n.shape[1]) and not n.shape[0].is_one:
            a, b = n.args
            new = make("matmul", (alg.T(b), alg.T(a)), (), n.shape)
            out.append(("transpose", f"{to_dsl(n)} → (…)ᵀ", *_substituted(g, n, new)))
    # 2. flip a sign; 4. halve or double
    out.append(("sign", "−g", alg.neg(g), True))
    out.append(("double", "2 g", alg.scale(2, g), True))
    out.append(("halve", "g / 2", alg.scale(sp.Rational(1, 2), g), True))
    # 3. drop a term: either argument of every sum, where the other keeps the sum's shape
    for n in nodes:
        if n.op != "add":
            continue
        for keep, dropped in ((n.args[0], n.args[1]), (n.args[1], n.args[0])):
            if keep.shape == n.shape or E.same_shape(keep.shape, n.shape):
                out.append(("drop", f"dropped {to_dsl(dropped)} from {to_dsl(n)}", *_substituted(g, n, keep)))
    # 5. swap f and f′: f′(z) in the lecture's form (1 − tanh², σ(1 − σ)) or as f′, relu′
    fprimes: dict[int, tuple[Expr, Expr]] = {}
    for o in graph.output.walk():
        if o.op == "fn" and o.param("order") == 0:
            d = alg.fn_derivative(o)
            if d is not o:
                fprimes[id(d)] = (d, o)
    for n in nodes:
        if n.op == "fn" and n.param("order", 0) >= 1:
            params = dict(n.params)
            params["order"] -= 1
            fprimes.setdefault(id(n), (n, make("fn", n.args, tuple(sorted(params.items())), n.shape)))
    ids = {id(n) for n in nodes}
    for d, f in fprimes.values():
        if id(d) in ids:
            out.append(("f_for_fprime", f"{to_dsl(d)} → {to_dsl(f)}", *_substituted(g, d, f)))
    # 7. two generic functions confused: f′ ↔ g′ only, and every f ↔ g where the graph composes them
    generic = graph.generic_functions()
    forward = list(graph.output.walk())
    for i, a in enumerate(generic):
        for b in generic[i + 1:]:
            swap = {a: b, b: a}
            out.append(("swap", f"{a}′ ↔ {b}′", _renamed(g, swap, derivatives_only=True), True))
            if any(_composes(forward, f, h) for f, h in ((a, b), (b, a))):
                out.append(("compose", f"{a} ↔ {b}", _renamed(g, swap, derivatives_only=False), True))
    # 6. sum over the wrong axis
    for n in nodes:
        if n.op == "sum" and n.param("axis") in (0, 1):
            new, ok = _raw("sum", n.args[0], axis=1 - n.param("axis"))
            mutant, ok2 = _substituted(g, n, new)
            out.append(("axis", f"{to_dsl(n)} over axis {1 - n.param('axis')}", mutant, ok and ok2))
    return out


def _renamed(root: Expr, names: dict[str, str], derivatives_only: bool) -> Expr:
    """root with its elementwise functions renamed (only f′, f″, … with derivatives_only)."""
    memo: dict[int, Expr] = {}
    for node in root.walk():
        params = node.params
        if node.op == "fn" and node.param("name") in names and (node.param("order") >= 1 or not derivatives_only):
            params = tuple((k, names[v] if k == "name" else v) for k, v in params)
        memo[id(node)] = make(node.op, tuple(memo[id(a)] for a in node.args), params, node.shape)
    return memo[id(root)]


def _composes(nodes: list[Expr], outer: str, inner: str) -> bool:
    return any(n.op == "fn" and n.param("name") == outer and
               any(m.op == "fn" and m.param("name") == inner for m in n.args[0].walk()) for n in nodes)


def sample_points(graph: Graph, seed: int = 12345) -> list[Context]:
    """Random points with a finite output, one per round of bindings of the unbound generic functions."""
    binds = generic_rounds(graph.generic_functions())
    out = []
    for bind in binds:
        for k in range(50):
            ctx = Context(graph, sample_inputs(graph, np.random.default_rng(seed + k), positive=k >= 10), bind)
            with np.errstate(all="ignore"):
                if np.all(np.isfinite(evaluate(graph.output, ctx))):
                    out.append(ctx)
                    break
    assert out, f"{graph.source}: no random point with a finite output"
    return out


def _value(e: Expr, ctx: Context) -> np.ndarray | None:
    try:
        with np.errstate(all="ignore"):
            return np.asarray(evaluate(e, ctx), dtype=float)
    except (ValueError, KeyError, IndexError, np.linalg.LinAlgError):
        return None


def _same_value(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """a ≈ b; a vector given as a row is the same answer (the Jacobian form of a gradient)."""
    if a is None or b is None:
        return False
    if a.shape != b.shape:
        if a.size != b.size or min(a.shape) != 1 or min(b.shape) != 1:
            return False
        a, b = a.ravel(), b.ravel()
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12 * max(1.0, float(np.max(np.abs(b), initial=0.0)))))


@dataclass
class Mutated:
    source: Source
    text: str  # the file with one claim per mutant
    first_line: int  # the line of the first mutant's claim
    mutants: list[Mutant]
    skipped: Counter  # kind → mutants numerically equal to the gradient


@lru_cache(maxsize=None)
def mutated(source_id: str) -> Mutated:
    source = next(s for s in SOURCES if s.id == source_id)
    graph = parse(source.text, source.path)
    mutants: list[Mutant] = []
    skipped: Counter = Counter()
    with using(graph.env):
        d = derive(graph)
        points = sample_points(graph)
        seen: set[tuple[str, int]] = set()
        for g in d.gradients:
            e = g.shape_form if g.shape_form is not None else g.jacobian
            if e is None or g.skipped:
                continue
            right = [_value(e, ctx) for ctx in points]
            for kind, what, m, typechecks in _mutations(graph, e):
                if (g.wrt, id(m)) in seen:  # two changes that give the same expression
                    continue
                seen.add((g.wrt, id(m)))
                if all(_same_value(_value(m, ctx), want) for ctx, want in zip(points, right)):
                    skipped[kind] += 1
                    continue
                mutants.append(Mutant(kind, d.output, g.wrt, what, m, e, to_dsl(m, graph.names()), typechecks))
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    if not re.search(r"(?m)^output ", text):  # a claim may use the output's name: keep the output fixed
        text += f"output {graph.output_name}\n"
    first = text.count("\n") + 1
    text += "".join(f"claim d{m.num}/d{m.wrt} = {m.dsl}\n" for m in mutants)
    return Mutated(source, text, first, mutants, skipped)


# ---------------------------------------------------------------------------- the tests


def test_enough_mutants_of_every_kind() -> None:
    """The mutation test cannot pass vacuously."""
    counts: Counter = Counter()
    for s in SOURCES:
        counts.update(m.kind for m in mutated(s.id).mutants)
    assert sum(counts.values()) >= 300, counts
    for kind in KINDS:
        assert counts[kind] >= 3, (kind, counts)
    # the wrong-axis sum is caught both as a shape error and, with a square batch, by value
    square = [m for s in SOURCES if s.id.endswith("[square]") for m in mutated(s.id).mutants if m.kind == "axis"]
    assert any(m.typechecks for m in square)


@pytest.mark.parametrize("source_id", [s.id for s in SOURCES])
def test_mutants_print_as_claims_of_the_same_value(source_id: str) -> None:
    """Each mutant's dsl string reads back as the mutant (so the claims below test what they say)."""
    mt = mutated(source_id)
    if not mt.mutants:
        pytest.skip("no mutation applies")
    graph = parse(mt.text, mt.source.path)
    claims = {c.line: c for c in graph.claims}
    for ctx in sample_points(graph):
        for k, m in enumerate(mt.mutants):
            c = claims[mt.first_line + k]
            assert (c.num, c.den) == (m.num, m.wrt)
            if not m.typechecks:
                assert c.error is not None or c.expr is None, f"{m.what}: `{m.dsl}` type-checks"
                continue
            assert c.error is None, f"{m.kind} {m.what}: `{m.dsl}` does not read back: {c.error}"
            assert c.expr is not None
            got, want = _value(c.expr, Context(graph, ctx.values, ctx.bind)), _value(m.expr, ctx)
            assert got is not None and want is not None and got.shape == want.shape, (m.what, m.dsl)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"{m.kind} {m.what}: `{m.dsl}`")


@pytest.mark.parametrize("source_id", [s.id for s in SOURCES])
def test_every_mutant_is_caught_and_rightly_diagnosed(source_id: str) -> None:
    mt = mutated(source_id)
    if not mt.mutants:
        pytest.skip("no mutation applies")
    graph = parse(mt.text, mt.source.path)
    assert set(graph.env.given) == set(graph.env.sizes)  # every size is given: one graph serves every seed
    problems = []
    checked: Counter = Counter()
    for seed in SEEDS:
        opts = VerifyOptions(seed=seed, trials=1)
        points = [p.ctx for p in verify_points(graph, opts)]  # the points verify checks at
        rep = verify(graph, opts)
        claims = {c.line: c for c in rep.checks if c.kind == "claim"}
        for k, m in enumerate(mt.mutants):
            c = claims[mt.first_line + k]
            where = f"seed {seed}: {m.kind} of d{m.num}/d{m.wrt} ({m.what}): claim `{m.dsl}`"
            # the first point where the mutant differs from the gradient is where verify must fail
            differing = []
            for ctx in points:
                got, want = _value(m.expr, ctx), _value(m.right, ctx)
                if not _same_value(got, want):
                    differing.append((got, want))
            if not differing:
                continue  # equal at every point of this seed (relu′ of a few entries): nothing to catch
            checked[m.kind] += 1
            if c.ok:
                problems.append(f"{where} PASSED ({c.status}: {c.message})")
            elif c.status == "error" and m.typechecks:
                problems.append(f"{where} could not be checked: {c.message}")
            elif c.status not in ("fail", "error"):
                problems.append(f"{where} has status {c.status}: {c.message}")
            elif c.diagnosis is not None and not names_kind(c.diagnosis, m.kind) \
                    and not true_of(c.diagnosis, *differing[0]):
                problems.append(f"{where} diagnosed as {c.diagnosis!r}: {c.message}")
    assert not problems, "\n".join(problems)
    # most mutants differ from the gradient at most points: a seed may not skip them all
    assert sum(checked.values()) >= len(SEEDS) * len(mt.mutants) // 2, checked


def true_of(diagnosis: str, claimed: np.ndarray | None, right: np.ndarray | None) -> bool:
    """A value pattern the diagnosis states, checked on the values: it may name a mutant by
    its effect (dropping relu′(c) from relu′(a − c) of 4 entries can change just one entry)."""
    if claimed is None or right is None:
        return False
    if claimed.shape != right.shape and claimed.size == right.size and min(claimed.shape) == 1:
        claimed = claimed.reshape(right.shape)
    scale = max(float(np.max(np.abs(right), initial=0.0)), 1e-300)

    def close(a: np.ndarray, b: np.ndarray) -> bool:
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9 * scale))

    if diagnosis == "one entry wrong":
        return claimed.shape == right.shape and int(np.count_nonzero(
            ~np.isclose(claimed, right, rtol=1e-6, atol=1e-9 * scale))) == 1
    if diagnosis == "all zeros where the derivative is not":
        return not np.any(claimed) and bool(np.any(right))
    if diagnosis == "sign flipped":
        return close(claimed, -right)
    if diagnosis in ("transposed", "transposed shape"):
        return claimed.shape == right.T.shape and (diagnosis == "transposed shape" or close(claimed, right.T))
    factor = re.fullmatch(r"(sign flipped and )?off by a factor of (.+)", diagnosis)
    if factor:
        text = factor.group(2)
        c = {"½": 0.5, "⅓": 1 / 3, "¼": 0.25}.get(text) or float(text)
        c = -c if factor.group(1) else c
        return claimed.shape == right.shape and bool(np.allclose(claimed, c * right, rtol=1e-2, atol=1e-9 * scale))
    return False


# ---------------------------------------------------------------------------- one entry off by 1e-4


NETS: dict[str, Callable[[int, int], str]] = {
    # s = uᵀ tanh(W x + b), P = n·m entries of W
    "tanh": lambda n, m: f"dims n = {n}, m = {m}\nW : n x m\nx : m\nb : n\nu : n\ns = u^T tanh(W x + b)\n",
    # a two-layer MLP, P = n·m entries of W (the first layer)
    "mlp2": lambda n, m: (f"dims n = {n}, m = {m}, k = 5\nW : n x m\nx : m\nb : n\nV : k x n\nc : k\nu : k\n"
                          "s = u^T sigmoid(V tanh(W x + b) + c)\n"),
}


@pytest.mark.parametrize("net", sorted(NETS))
@pytest.mark.parametrize("n, m", [(10, 10), (25, 40), (100, 100), (200, 500)], ids=["1e2", "1e3", "1e4", "1e5"])
def test_one_entry_off_by_1e_4_is_caught_and_named(net: str, n: int, m: int) -> None:
    g = parse(NETS[net](n, m))
    W = g.variables["W"].expr
    for seed in SEEDS:
        with using(g.env):
            grad_expr = derive(g, ["W"]).gradients[0].shape_form
            ctx = Context(g, sample_inputs(g, np.random.default_rng(seed)))
            grad = evaluate(grad_expr, ctx)
            rng = np.random.default_rng(100 + seed)
            i, j = int(rng.integers(n)), int(rng.integers(m))
            bad = grad.copy()
            bad[i, j] *= 1 + 1e-4
            outs = {}
            for label, value in (("right", grad), ("mutant", bad)):
                outs[label] = checker.check(Function(g.output, W, ctx), value, conv="shape", method="complex",
                                            mode="auto", sample=None, rng=np.random.default_rng(seed), rtol=None,
                                            scalar_out=True, label="W")
        assert outs["right"].ok, outs["right"].message
        out = outs["mutant"]
        assert not out.ok and out.status == "fail", out.message
        assert out.worst_index == [i, j], out.message
        assert f"W[{i}, {j}]" in out.message, out.message
        assert out.diagnosis in (None, "one entry wrong"), out.message
        if n * m <= checker.FULL_LIMIT:
            assert out.diagnosis == "one entry wrong", out.message
