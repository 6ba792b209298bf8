"""Shape inference and checking: one test (or table) per shape rule.

Every value is a matrix (a vector is m×1, a scalar 1×1). Shapes print in the
user's words (`n×m`, `(m + n)×1`, `2d×1`); sizes come from `dims` or are drawn
at random, all distinct, so a transposition cannot hide behind a square matrix.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli.errors import ShapeError
from gradcheck_cli.lang.graph import Graph, parse
from gradcheck_cli.shapes import shape_str

DECLS = """\
dims n = 3, m = 4, B = 5
W : n x m
A : n x n
X : m x B
Y : n x B
x : m
b : n
u : n
v : n
r : 1 x B
lam : scalar
"""


def shape_of(expr: str, decls: str = DECLS) -> str:
    graph = parse(f"{decls}h = {expr}\noutput h\n")
    return shape_str(graph.values["h"].shape)


def concrete(graph: Graph, name: str) -> tuple[int, int]:
    return graph.env.concrete(graph.values[name].shape)


def shape_error(expr: str, decls: str = DECLS) -> ShapeError:
    with pytest.raises(ShapeError) as info:
        parse(f"{decls}h = {expr}\noutput h\n")
    return info.value


# ---------------------------------------------------------------- matmul


@pytest.mark.parametrize("expr,expected", [
    ("W x", "n×1"),
    ("W @ x", "n×1"),
    ("u^T W", "1×m"),
    ("u^T W x", "scalar"),
    ("x x^T", "m×m"),
    ("W X", "n×B"),
    ("W^T A", "m×n"),
    ("A A A", "n×n"),
    ("W(x)", "n×1"),
])
def test_matmul(expr: str, expected: str) -> None:
    assert shape_of(expr) == expected


@pytest.mark.parametrize("expr,inner", [("x W", "1 and n"), ("W W", "m and n"), ("u x", "1 and m"),
                                        ("W u", "m and n")])
def test_matmul_mismatch(expr: str, inner: str) -> None:
    err = shape_error(expr)
    assert "cannot multiply" in err.message
    assert f"inner sizes {inner} differ" in err.message


def test_matmul_mismatch_suggests_the_swap() -> None:
    assert shape_error("x W").hint == "did you mean `W x`?"


# ---------------------------------------------------------------- broadcasting


@pytest.mark.parametrize("expr,expected", [
    ("X + x", "m×B"),          # a column over the columns (a batch's bias)
    ("x + X", "m×B"),
    ("Y + b", "n×B"),
    ("Y * b", "n×B"),
    ("Y / b", "n×B"),
    ("Y - b", "n×B"),
    ("max(Y, b)", "n×B"),
    ("min(b, Y)", "n×B"),
    ("Y + r", "n×B"),          # a row over the rows
    ("r * Y", "n×B"),
    ("Y + 1", "n×B"),          # a scalar everywhere
    ("2 * Y", "n×B"),
    ("lam * Y", "n×B"),
    ("Y / lam", "n×B"),
    ("lam + b", "n×1"),
    ("b + v", "n×1"),          # same shapes
    ("b + r", "n×B"),          # column + row: numpy's outer broadcast
])
def test_broadcasting(expr: str, expected: str) -> None:
    assert shape_of(expr) == expected


@pytest.mark.parametrize("expr,what", [
    ("Y + x", "rows n and m differ"),
    ("Y * x^T", "columns B and m differ"),
    ("Y + X", "rows n and m differ"),
    ("b + x", "rows n and m differ"),
    ("W * Y", "columns m and B differ"),
])
def test_broadcasting_mismatch(expr: str, what: str) -> None:
    err = shape_error(expr)
    assert what in err.message, err.message


FORMS = {"M": ("n", "B"), "col": ("n", "1"), "row": ("1", "B"), "one": ("1", "1"),
         "col_m": ("m", "1"), "row_k": ("1", "k"), "M_mk": ("m", "k")}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(FORMS)), st.sampled_from(sorted(FORMS)), st.sampled_from(["+", "-", "*", "/"]))
def test_broadcasting_agrees_with_numpy(a: str, b: str, op: str) -> None:
    """The DSL accepts exactly numpy's broadcasts (with distinct sizes), with numpy's result shape."""
    decls = "dims n, m, B, k\n" + "".join(f"{name} : {r} x {c}\n" for name, (r, c) in FORMS.items())
    try:
        graph = parse(f"{decls}h = {a} {op} {b}\noutput h\n")
        ours: tuple[int, int] | None = concrete(graph, "h")
        sizes = graph.env.sizes
    except ShapeError:
        ours = None
        sizes = parse(decls + "h = M\noutput h\n").env.sizes
    dims = lambda name: tuple(1 if d == "1" else sizes[d] for d in FORMS[name])
    try:
        theirs: tuple[int, ...] | None = np.broadcast_shapes(dims(a), dims(b))
    except ValueError:
        theirs = None
    assert ours == theirs


# ---------------------------------------------------------------- 1×1 is a scalar


@pytest.mark.parametrize("expr,expected", [
    ("(1 - sigmoid(u^T v)) * u", "n×1"),
    ("(u^T v) u", "n×1"),
    ("u (u^T v)", "n×1"),
    ("(u^T v) W", "n×m"),
    ("W (u^T v)", "n×m"),
    ("(u^T v) * Y", "n×B"),
    ("x + u^T v", "m×1"),
    ("Y / (u^T v)", "n×B"),
    ("sigmoid(u^T v)", "scalar"),
    ("(u^T v) (u^T v)", "scalar"),
    ("(u^T v)^2", "scalar"),
])
def test_one_by_one_is_a_scalar(expr: str, expected: str) -> None:
    assert shape_of(expr) == expected


# ---------------------------------------------------------------- transposes


@pytest.mark.parametrize("expr,expected", [
    ("W^T", "m×n"), ("Wᵀ", "m×n"), ("W'", "m×n"), ("W^T^T", "n×m"), ("x^T", "1×m"),
    ("(W x)^T", "1×n"), ("r^T", "B×1"), ("lam^T", "scalar"),
])
def test_transposes(expr: str, expected: str) -> None:
    assert shape_of(expr) == expected


# ---------------------------------------------------------------- concat and rows


@pytest.mark.parametrize("expr,expected", [
    ("[x; x]", "2m×1"),
    ("[x; b]", "(m + n)×1"),
    ("[b; x; lam]", "(m + n + 1)×1"),
    ("concat(b, v, u)", "3n×1"),
    ("[W; W]", "2n×m"),
    ("[Y; X]", "(m + n)×B"),
    ("[Y; r]", "(n + 1)×B"),
    ("rows([x; b], 0, m)", "m×1"),
    ("rows([x; b], m, m + n)", "n×1"),
    ("rows(X, 1, 3)", "2×B"),
])
def test_concat_and_rows(expr: str, expected: str) -> None:
    assert shape_of(expr) == expected


def test_concat_mismatch() -> None:
    err = shape_error("[x; W]")
    assert "cannot stack" in err.message and "column counts 1 and m differ" in err.message


@pytest.mark.parametrize("expr", ["rows(x, 3, 1)", "rows(x, 2, 2)", "rows(x, 0, 9)", "rows(x, 0, m + 1)"])
def test_rows_out_of_range(expr: str) -> None:
    assert "empty or out of range" in shape_error(expr).message


def test_concat_sizes() -> None:
    graph = parse(f"{DECLS}h = [x; b]\noutput h\n")
    assert concrete(graph, "h") == (7, 1)


# ---------------------------------------------------------------- reductions


@pytest.mark.parametrize("expr,expected", [
    ("sum(X)", "scalar"), ("sum(X, axis=0)", "1×B"), ("sum(X, axis=1)", "m×1"),
    ("mean(X)", "scalar"), ("mean(X, axis=0)", "1×B"), ("mean(X, axis=1)", "m×1"),
    ("sum(x)", "scalar"), ("sum(x, axis=0)", "scalar"), ("sum(x, axis=1)", "m×1"),
    ("sum(r, axis=1)", "scalar"), ("sum(lam)", "scalar"),
    ("norm(x)", "scalar"), ("norm(W)", "scalar"),
    ("logsumexp(X)", "1×B"), ("logsumexp(x)", "scalar"),
    ("cross_entropy(b, softmax(v))", "scalar"),
])
def test_reductions(expr: str, expected: str) -> None:
    assert shape_of(expr) == expected


def test_mean_divides_by_the_count() -> None:
    graph = parse(f"{DECLS}h = mean(X, axis=1)\noutput h\n")
    h = graph.values["h"]
    assert h.op == "div" and str(h.args[1].param("value")) == "B"


# ---------------------------------------------------------------- square-only ops


@pytest.mark.parametrize("expr,expected", [
    ("tr(A)", "scalar"), ("det(A)", "scalar"), ("logdet(A)", "scalar"), ("inv(A)", "n×n"),
    ("A^-1", "n×n"), ("tr(W W^T)", "scalar"), ("inv(X^T X)", "B×B"),
])
def test_square_ops(expr: str, expected: str) -> None:
    assert shape_of(expr) == expected


@pytest.mark.parametrize("fn", ["tr", "det", "logdet", "inv"])
def test_square_ops_reject_non_square(fn: str) -> None:
    err = shape_error(f"{fn}(W)")
    assert err.message == f"{fn} needs a square matrix, but W (n×m) is not square"


def test_inverse_power_of_non_square() -> None:
    assert "needs a square matrix" in shape_error("W^-1").message


def test_dims_fixed_to_equal_sizes_are_square() -> None:
    # n and m both fixed at 3: W : n x m is square for every check
    assert shape_of("tr(W)", "dims n = 3, m = 3\nW : n x m\n") == "scalar"


def test_unsized_dims_are_never_equal() -> None:
    with pytest.raises(ShapeError):
        parse("dims n, m\nW : n x m\nh = tr(W)\n")


# ---------------------------------------------------------------- diag


def test_diag_both_ways() -> None:
    assert shape_of("diag(u)") == "n×n"      # vector → diagonal matrix
    assert shape_of("diag(A)") == "n×1"      # square matrix → its diagonal
    assert shape_of("diag(diag(u))") == "n×1"
    assert shape_of("diag(lam)") == "scalar"


def test_diag_of_non_square() -> None:
    assert "needs a square matrix" in shape_error("diag(W)").message


# ---------------------------------------------------------------- vector functions, elementwise


@pytest.mark.parametrize("expr,expected", [
    ("softmax(x)", "m×1"), ("softmax(X)", "m×B"), ("log_softmax(X)", "m×B"),
    ("tanh(X)", "m×B"), ("sigmoid'(W)", "n×m"), ("relu(lam)", "scalar"), ("X^2", "m×B"),
    ("leaky_relu(Y, 0.2)", "n×B"), ("exp(x)", "m×1"),
])
def test_shape_preserving(expr: str, expected: str) -> None:
    assert shape_of(expr) == expected


def test_softmax_of_a_scalar() -> None:
    assert "needs a vector" in shape_error("softmax(u^T v)").message


# ---------------------------------------------------------------- dims: fixed vs random sizes


WINDOW = """\
dims d = 3
x1 : d
x2 : d
W : n x 6
u : n
x = [x1; x2]
s = u^T W x
"""


def test_fixed_dims_agree_with_numbers() -> None:
    # x is 2d×1 and d = 3, so W (n×6) times x is fine
    graph = parse(WINDOW)
    assert shape_str(graph.values["x"].shape) == "2d×1"
    assert concrete(graph, "x") == (6, 1)
    assert shape_str(graph.output.shape) == "scalar"


def test_fixed_dims_of_the_wrong_size_do_not() -> None:
    with pytest.raises(ShapeError, match="inner sizes 6 and 2d differ"):
        parse(WINDOW.replace("d = 3", "d = 4"))


def test_unsized_dims_do_not_agree_with_numbers() -> None:
    with pytest.raises(ShapeError):
        parse(WINDOW.replace("dims d = 3", "dims d"))


def test_unsized_dims_random_distinct_and_seeded() -> None:
    text = "dims a, b, c, d, e\nP : a x b\nQ : c x d\nv : e\ns = sum(P) + sum(Q) + sum(v)\n"
    for seed in range(5):
        graph = parse(text, seed=seed)
        sizes = graph.env.sizes
        assert len(set(sizes.values())) == 5, sizes
        assert all(2 <= k for k in sizes.values())
        assert parse(text, seed=seed).env.sizes == sizes      # same seed, same sizes
    assert len({tuple(parse(text, seed=s).env.sizes.values()) for s in range(5)}) > 1


def test_unsized_dims_avoid_fixed_sizes_and_literals() -> None:
    graph = parse("dims n = 3, m\nA : n x m\nB : m x 5\nk : p\ns = sum(A B) + sum(k)\n")
    sizes = graph.env.sizes
    assert sizes["n"] == 3
    assert len({sizes["n"], sizes["m"], sizes["p"], 5}) == 4, sizes


def test_shapes_print_symbolically_and_evaluate_concretely() -> None:
    graph = parse("dims d = 2, n = 3\nW : n x (n + 2*d)\nv : n + 2*d\nh = W v\ns = sum(h)\n")
    assert shape_str(graph.variables["W"].expr.shape) == "n×(2d + n)"
    assert graph.env.concrete(graph.variables["W"].expr.shape) == (3, 7)
    assert shape_str(graph.values["h"].shape) == "n×1"


# ---------------------------------------------------------------- every node has a shape


@pytest.mark.parametrize("decl_rows,decl_cols", list(itertools.product(["n", "1", "3"], ["m", "1", "4"])))
def test_declared_shapes(decl_rows: str, decl_cols: str) -> None:
    graph = parse(f"dims n = 2, m = 5\nP : {decl_rows} x {decl_cols}\ns = sum(P)\n")
    expected = "scalar" if decl_rows == decl_cols == "1" else f"{decl_rows}×{decl_cols}"
    assert shape_str(graph.variables["P"].expr.shape) == expected
