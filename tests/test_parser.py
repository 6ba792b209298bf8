"""Every grammar rule of the .grad language (spec/DSL.md), checked on the typed graph.

Each test parses a small file with `gradcheck_cli.lang.graph.parse` and asserts on the
structure it built: `sx(expr)` prints a graph value as an s-expression over the
declared names (`(add (matmul W x) b)`), so the tests read like the maths.
"""

from __future__ import annotations

import pytest

from gradcheck_cli.lang import ast
from gradcheck_cli.lang.parser import parse_file
from gradcheck_cli.errors import GradcheckError, ParseError
from gradcheck_cli.symbolic.expr import Expr
from gradcheck_cli.lang.graph import Graph, parse, pp_graph
from gradcheck_cli.shapes import shape_str

HEADER = """\
dims n = 3, m = 4
W : n x m
x : m
b : n
u : n
"""


def sx(e: Expr) -> str:
    """An expression as an s-expression over the file's names: `(add (matmul W x) b)`."""
    if e.op == "var":
        return str(e.param("name"))
    if e.op == "const":
        return str(e.param("value"))
    if e.op in ("ones", "zeros", "eye"):
        return f"{e.op}({e.param('rows')},{e.param('cols')})"
    head = e.op
    if e.op == "fn":
        head = str(e.param("name")) + "'" * int(e.param("order"))
        if e.param("alpha") is not None:
            head += f"[{e.param('alpha')}]"
    elif e.op == "pow":
        head = f"pow{e.param('k')}"
    elif e.op == "sum" and e.param("axis") is not None:
        head = f"sum{e.param('axis')}"
    elif e.op == "rows":
        head = f"rows[{e.param('start')}:{e.param('stop')}]"
    return "(" + " ".join([head, *(sx(a) for a in e.args)]) + ")"


def tree(src: str) -> str:
    """The parse tree of one expression, before any lowering: `(juxt (T u) W)`."""
    stmt = parse_file(f"s = {src}\n").statements[0]
    assert isinstance(stmt, ast.Assign)
    return _tree(stmt.value)


def _tree(n: ast.Node) -> str:
    if isinstance(n, ast.Name):
        return n.id
    if isinstance(n, ast.Num):
        return n.text
    if isinstance(n, ast.BinOp):
        return f"({n.op} {_tree(n.left)} {_tree(n.right)})"
    if isinstance(n, ast.Neg):
        return f"(neg {_tree(n.operand)})"
    if isinstance(n, ast.Transpose):
        return f"(T {_tree(n.operand)})"
    if isinstance(n, ast.Power):
        return f"(pow{n.exponent:g} {_tree(n.operand)})"
    if isinstance(n, ast.Call):
        args = [_tree(a) for a in n.args] + [f"{k}={_tree(v)}" for k, v in n.kwargs]
        return "(" + " ".join([n.func + "'" * n.primes, *args]) + ")"
    if isinstance(n, ast.Concat):
        return "(concat " + " ".join(_tree(i) for i in n.items) + ")"
    raise AssertionError(n)


def g(body: str, header: str = HEADER) -> Graph:
    return parse(header + body)


def value(body: str, name: str = "s", header: str = HEADER) -> str:
    return sx(g(body, header).values[name])


def shape(graph: Graph, name: str) -> str:
    e = graph.values[name] if name in graph.values else graph.variables[name].expr
    return shape_str(e.shape)


# ---------------------------------------------------------------- declarations


@pytest.mark.parametrize("decl", [
    "A : n x m", "A : n X m", "A : n × m", "A : (n, m)", "A ∈ ℝ^(n×m)", "A ∈ ℝ^(n x m)",
    "A ∈ ℝ^{n×m}", "A ∈ ℝ^(n, m)", "A ∈ R^(n×m)",
])
def test_matrix_declaration_forms(decl: str) -> None:
    graph = g(f"{decl}\ns = sum(A)")
    info = graph.variables["A"]
    assert info.kind == "matrix"
    assert shape(graph, "A") == "n×m"
    assert info.qualifiers == ()


@pytest.mark.parametrize("decl", ["v : n", "v ∈ ℝ^n", "v ∈ R^n", "v : n x 1"])
def test_vector_declaration_is_a_column(decl: str) -> None:
    graph = g(f"{decl}\ns = sum(v)")
    assert graph.variables["v"].kind == "vector"
    assert shape(graph, "v") == "n×1"


def test_vector_transpose_is_a_row() -> None:
    graph = g("t = x^T\ns = t x")
    assert shape(graph, "t") == "1×m"
    assert shape(graph, "s") == "scalar"


@pytest.mark.parametrize("decl", ["lam : scalar", "lam ∈ ℝ", "lam : 1", "lam : 1 x 1"])
def test_scalar_declarations(decl: str) -> None:
    graph = g(f"{decl}\ns = lam * sum(x)")
    assert graph.variables["lam"].kind == "scalar"
    assert shape(graph, "lam") == "scalar"


def test_numbers_as_sizes() -> None:
    graph = parse("W : 3 x 12\nv : 12\nV : (2, 3)\ns = sum(V W v)")
    assert shape(graph, "W") == "3×12"
    assert shape(graph, "v") == "12×1"
    assert value("", "s", "W : 3 x 12\nv : 12\nV : (2, 3)\ns = sum(V W v)\n") == "(sum (matmul (matmul V W) v))"


def test_size_arithmetic_in_declarations() -> None:
    graph = parse("dims d = 2, n = 3\nW : n x 5*d\nU : n x (n + d)\ns = sum(W) + sum(U)")
    assert shape(graph, "W") == "n×5d"
    assert shape(graph, "U") == "n×(d + n)"
    assert graph.env.size(graph.variables["W"].expr.shape[1]) == 10
    assert graph.env.size(graph.variables["U"].expr.shape[1]) == 5


def test_several_names_in_one_declaration() -> None:
    graph = parse("dims n = 3\nx, y, z : n\ns = x^T y + sum(z)")
    assert [graph.variables[k].kind for k in "xyz"] == ["vector"] * 3


def test_onehot_is_data() -> None:
    graph = g("y : onehot(n)\ns = -y^T log(softmax(W x))")
    y = graph.variables["y"]
    assert y.kind == "onehot"
    assert y.is_data
    assert shape(graph, "y") == "n×1"
    assert "y" not in graph.params()


@pytest.mark.parametrize("qualifier", ["symmetric", "spd"])
def test_square_qualifiers(qualifier: str) -> None:
    graph = g(f"A : n x n {qualifier}\ns = u^T A u")
    assert graph.variables["A"].qualifiers == (qualifier,)
    assert not graph.variables["A"].is_data
    assert graph.variables["A"].expr.param("qualifiers") == (qualifier,)


def test_const_qualifier_makes_data() -> None:
    graph = g("t : n const\nT : n x m const\ns = t^T W x + sum(T)")
    assert graph.variables["t"].is_data and graph.variables["T"].is_data
    assert graph.params() == ["W", "x", "b", "u"]


def test_several_qualifiers() -> None:
    graph = g("A : n x n symmetric const\ns = u^T A u")
    assert set(graph.variables["A"].qualifiers) == {"symmetric", "const"}


def test_function_declaration_is_generic() -> None:
    graph = g("f : function\ns = u^T f(W x + b)")
    assert graph.functions == {"f": None}
    assert graph.generic_functions() == ["f"]
    assert "f" not in graph.variables
    assert value("f : function\ns = u^T f(W x + b)") == "(matmul (T u) (f (add (matmul W x) b)))"


# ---------------------------------------------------------------- dims


def test_dims_with_sizes() -> None:
    graph = parse("dims n = 8, m = 20\nW : n x m\ns = sum(W)")
    assert graph.env.sizes == {"n": 8, "m": 20}
    assert graph.env.given == {"n", "m"}


def test_dims_without_sizes_get_distinct_small_sizes() -> None:
    graph = parse("dims n, m, k\nA : n x m\nB : m x k\ns = sum(A B)")
    sizes = graph.env.sizes
    assert set(sizes) == {"n", "m", "k"}
    assert graph.env.given == set()
    assert len(set(sizes.values())) == 3, sizes
    assert all(2 <= v for v in sizes.values())


def test_dims_mixed_and_undeclared_dims() -> None:
    graph = parse("dims n = 3, m\nA : n x m\nB : m x k\ns = sum(A B)")
    assert graph.env.given == {"n"}
    assert graph.env.sizes["n"] == 3
    assert len({graph.env.sizes[d] for d in "nmk"}) == 3


def test_several_dims_lines() -> None:
    graph = parse("dims n = 2\ndims m = 5\nA : n x m\ns = sum(A)")
    assert graph.env.sizes == {"n": 2, "m": 5}


def test_dimension_name_is_a_number_in_expressions() -> None:
    assert value("s = sum(x) / m") == "(div (sum x) m)"


# ---------------------------------------------------------------- bindings vs assignments


@pytest.mark.parametrize("builtin,canonical", [("tanh", "tanh"), ("sigmoid", "sigmoid"), ("σ", "sigmoid"),
                                               ("relu", "relu")])
def test_function_binding(builtin: str, canonical: str) -> None:
    graph = g(f"f = {builtin}\ns = u^T f(W x)")
    assert graph.functions == {"f": canonical}
    assert "f" not in graph.values
    assert sx(graph.values["s"]) == f"(matmul (T u) ({canonical} (matmul W x)))"


def test_binding_a_declared_function() -> None:
    graph = g("f : function\nf = tanh\ns = u^T f(W x)")
    assert graph.functions == {"f": "tanh"}
    assert graph.generic_functions() == []


def test_assignment_from_a_call_is_a_value_not_a_binding() -> None:
    # the LSTM forget gate: f is a value, not a function
    graph = g("Wf : n x m\nf = sigmoid(Wf x)\ns = u^T f")
    assert graph.functions == {}
    assert sx(graph.values["f"]) == "(sigmoid (matmul Wf x))"
    assert shape(graph, "f") == "n×1"
    assert sx(graph.values["s"]) == "(matmul (T u) (sigmoid (matmul Wf x)))"


def test_alias_of_a_value_is_an_assignment() -> None:
    graph = g("h = tanh(W x)\nk = h\ns = u^T k")
    assert graph.values["k"] is graph.values["h"]


# ---------------------------------------------------------------- products and precedence


def test_juxtaposition_is_a_matrix_product() -> None:
    assert value("s = u^T W x") == "(matmul (matmul (T u) W) x)"


def test_at_is_a_matrix_product() -> None:
    assert value("s = u^T @ W @ x") == "(matmul (matmul (T u) W) x)"


def test_the_slide_one_liner() -> None:
    graph = g("f : function\ns = uᵀf(Wx+b)")
    assert sx(graph.values["s"]) == "(matmul (T u) (f (add (matmul W x) b)))"
    assert shape(graph, "s") == "scalar"
    assert graph.output_name == "s"


def test_the_slide_one_liner_with_a_bound_f() -> None:
    graph = g("f = tanh\ns = uᵀf(Wx+b)")
    assert sx(graph.values["s"]) == "(matmul (T u) (tanh (add (matmul W x) b)))"


def test_juxtaposed_letters_follow_declared_names() -> None:
    # `Wx` is W x only because W and x are declared single letters; `Wx` declared is itself
    graph = g("Wx : n\ns = u^T Wx")
    assert sx(graph.values["s"]) == "(matmul (T u) Wx)"


def test_longer_names_need_a_space() -> None:
    # `Wf v` is the product; `Wfx` is not split, because f is not a declared single letter
    assert value("Wf : n x m\ns = u^T Wf x") == "(matmul (matmul (T u) Wf) x)"
    with pytest.raises(GradcheckError, match="unknown name Wfx"):
        g("Wf : n x m\ns = u^T Wfx")


def test_call_of_a_value_is_a_product() -> None:
    # a call binds like a postfix: u^T W(x + x) is u^T (W (x + x))
    assert value("s = u^T W(x + x)") == "(matmul (T u) (matmul W (add x x)))"


@pytest.mark.parametrize("op", ["*", "∘", "⊙"])
def test_elementwise_product(op: str) -> None:
    assert value(f"s = u^T (b {op} u)") == "(matmul (T u) (mul b u))"


def test_division() -> None:
    assert value("s = sum(b / u)") == "(sum (div b u))"
    assert value("h = b / 2\ns = sum(h)", "h") == "(div b 2)"  # the graph keeps what the file wrote


def test_scalar_times_anything() -> None:
    assert value("s = 2 * sum(x)") == "(mul 2 (sum x))"
    assert value("h = 2 x\ns = sum(h)", "h") == "(mul 2 x)"
    assert value("h = x 2\ns = sum(h)", "h") == "(mul 2 x)"


def test_product_level_is_left_to_right() -> None:
    # `W^T g * h` is `(W^T g) * h`, as in numpy
    graph = g("g : n\nh : m\nt = W^T g * h\ns = sum(t)")
    assert sx(graph.values["t"]) == "(mul (matmul (T W) g) h)"


def test_sum_level_is_left_to_right_and_looser_than_products() -> None:
    assert value("z = W x + b - u\ns = sum(z)", "z") == "(add (add (matmul W x) b) (neg u))"


@pytest.mark.parametrize("minus", ["-", "−"])
def test_unary_minus(minus: str) -> None:
    assert value(f"s = {minus}sum(x)") == "(neg (sum x))"
    assert value(f"h = {minus}x\ns = sum(h)", "h") == "(neg x)"
    assert tree(f"{minus}W x") == "(juxt (neg W) x)"


def test_precedence_tightest_first() -> None:
    # postfix and calls, then unary minus, then the product level, then + and -
    assert tree("-x^T x") == "(juxt (neg (T x)) x)"
    assert tree("-x^2") == "(neg (pow2 x))"
    assert tree("a + b c") == "(+ a (juxt b c))"
    assert tree("a b + c") == "(+ (juxt a b) c)"
    assert tree("a - b - c") == "(- (- a b) c)"
    assert tree("W^T g * h") == "(* (juxt (T W) g) h)"
    assert tree("a / b * c") == "(* (/ a b) c)"
    assert tree("a @ b ∘ c d") == "(juxt (* (@ a b) c) d)"
    assert tree("u^T f(W x + b)") == "(juxt (T u) (f (+ (juxt W x) b)))"
    assert tree("x^T^T") == "(T (T x))"
    assert tree("f'(z)^2") == "(pow2 (f' z))"
    assert tree("-(a + b)") == "(neg (+ a b))"
    assert tree("(a + b)'") == "(T (+ a b))"


def test_parentheses_group() -> None:
    assert value("s = u^T (W x + b)") == "(matmul (T u) (add (matmul W x) b))"


# ---------------------------------------------------------------- postfix


@pytest.mark.parametrize("t", ["^T", "ᵀ", "'", "^⊤", "^{T}", "^\\top"])
def test_transpose_spellings(t: str) -> None:
    graph = g(f"v = W{t} u\ns = sum(v)")
    assert sx(graph.values["v"]) == "(matmul (T W) u)"
    assert shape(graph, "v") == "m×1"


def test_transpose_of_a_parenthesised_product() -> None:
    assert value("s = (W x)^T u") == "(matmul (T (matmul W x)) u)"
    assert value("s = (W x)' u") == "(matmul (T (matmul W x)) u)"


def test_prime_transpose_before_a_product() -> None:
    assert value("s = x' W' u") == "(matmul (matmul (T x) (T W)) u)"


@pytest.mark.parametrize("spelling", ["A^-1", "A^(-1) ", "inv(A)"])
def test_inverse(spelling: str) -> None:
    graph = g(f"A : n x n\nB = {spelling}\ns = u^T B u")
    expected = "(inv A)" if "(-1)" not in spelling else "(pow-1 A)"
    assert sx(graph.values["B"]) == expected
    assert shape(graph, "B") == "n×n"


@pytest.mark.parametrize("spelling", ["A^-T", "A^ - T", "A^{-T}", "A^{-\\top}", "A⁻ᵀ", "(A⁻¹)ᵀ", "(A^-1)^T"])
def test_inverse_transpose(spelling: str) -> None:
    """X^-T, as ∂ log det X/∂X is written on the board."""
    graph = g(f"A : n x n\nB = {spelling}\ns = u^T B u")
    assert sx(graph.values["B"]) == "(T (inv A))"
    assert shape(graph, "B") == "n×n"


def test_minus_t_needs_the_whole_letter() -> None:
    """`A^-Tx` is not A^-T times x: T must stand alone (as in `x^Tx`, an error, not a guess)."""
    with pytest.raises(GradcheckError):
        g("A : n x n\nTx : n\ns = u^T A^-Tx")


def test_minus_one_power_of_a_vector_is_elementwise() -> None:
    assert value("s = sum(x^-1)") == "(sum (pow-1 x))"


@pytest.mark.parametrize("spelling,k", [("x^2", "2"), ("x**2", "2"), ("x ** 2", "2"), ("x^{2}", "2"),
                                        ("x²", "2"), ("x³", "3"), ("x**0.5", "1/2"), ("x^(0.5)", "1/2"),
                                        ("x^(-2)", "-2")])
def test_elementwise_power(spelling: str, k: str) -> None:
    graph = g(f"p = {spelling}\ns = sum(p)")
    assert sx(graph.values["p"]) == f"(pow{k} x)"
    assert shape(graph, "p") == "m×1"


def test_power_binds_tighter_than_unary_minus_and_products() -> None:
    assert value("s = u^T b^2") == "(matmul (T u) (pow2 b))"


# ---------------------------------------------------------------- stacking


def test_bracket_stacking() -> None:
    graph = parse("dims d = 2\nx1 : d\nx2 : d\nx3 : d\nx = [x1; x2; x3]\ns = sum(x)")
    assert sx(graph.values["x"]) == "(concat x1 x2 x3)"
    assert shape(graph, "x") == "3d×1"


def test_concat_call_is_the_same_as_brackets() -> None:
    graph = g("c = concat(x, b)\nd = [x; b]\ns = sum(c) + sum(d)")
    assert graph.values["c"] is graph.values["d"]
    assert shape(graph, "c") == "(m + n)×1"


def test_stacking_expressions() -> None:
    assert value("s = sum([W x; -b])") == "(sum (concat (matmul W x) (neg b)))"


def test_rows_slices() -> None:
    graph = parse("dims d = 2\nx : 3*d\nv = rows(x, d, 2*d)\ns = sum(v)")
    assert shape(graph, "v") == "d×1"
    assert sx(graph.values["v"]) == "(rows[d:2d] x)"


# ---------------------------------------------------------------- functions


def test_generic_derivative_call() -> None:
    assert value("f : function\ns = u^T f'(W x)") == "(matmul (T u) (f' (matmul W x)))"


@pytest.mark.parametrize("call,expected", [
    ("sigmoid'(z)", "(sigmoid' z)"), ("σ'(z)", "(sigmoid' z)"), ("σ(z)", "(sigmoid z)"),
    ("tanh'(z)", "(tanh' z)"), ("tanh''(z)", "(tanh'' z)"), ("relu'(z)", "(relu' z)"),
    ("sigmoid' (z)", "(sigmoid' z)"), ("leaky_relu(z, 0.1)", "(leaky_relu[1/10] z)"),
])
def test_elementwise_calls(call: str, expected: str) -> None:
    graph = g(f"z = W x\nh = {call}\ns = u^T h")
    assert value(f"z = W x\nh = {call}\ns = u^T h", "h") == expected.replace(" z)", " (matmul W x))")
    assert graph.values["h"].args[0] is graph.values["z"]


@pytest.mark.parametrize("fn", ["sigmoid", "tanh", "relu", "elu", "gelu", "softplus", "hardtanh", "exp", "log",
                                "sqrt", "abs", "sin", "cos", "tan"])
def test_every_elementwise_function(fn: str) -> None:
    graph = g(f"h = {fn}(x)\ns = sum(h)")
    assert sx(graph.values["h"]) == f"({fn} x)"
    assert shape(graph, "h") == "m×1"


@pytest.mark.parametrize("call,expected,shape_", [
    ("sum(W)", "(sum W)", "scalar"),
    ("sum(W, axis=0)", "(sum0 W)", "1×m"),
    ("sum(W, axis=1)", "(sum1 W)", "n×1"),
    ("mean(W, axis=0)", "(div (sum0 W) n)", "1×m"),
    ("mean(W, axis=1)", "(div (sum1 W) m)", "n×1"),
    ("mean(W)", "(div (sum W) m*n)", "scalar"),
    ("softmax(W)", "(softmax W)", "n×m"),
    ("log_softmax(x)", "(log_softmax x)", "m×1"),
    ("logsumexp(W)", "(logsumexp W)", "1×m"),
    ("norm(x)", "(norm x)", "scalar"),
    ("max(x, 0)", "(relu x)", "m×1"),
    ("max(b, u)", "(max b u)", "n×1"),
    ("min(b, u)", "(min b u)", "n×1"),
    ("diag(u)", "(diag u)", "n×n"),
    ("cross_entropy(u, b)", "(neg (matmul (T u) (log b)))", "scalar"),
])
def test_vector_function_calls(call: str, expected: str, shape_: str) -> None:
    graph = g(f"h = {call}\ns = sum(h)")
    assert sx(graph.values["h"]) == expected
    assert shape(graph, "h") == shape_


def test_keyword_argument_with_spaces() -> None:
    assert value("s = sum(sum(W, axis = 1))") == "(sum (sum1 W))"


def test_constants() -> None:
    graph = g("h = ones(n) + eye(n) u + zeros(n)\ns = sum(h)")
    assert shape(graph, "h") == "n×1"
    graph = g("E = ones(n, m)\ns = sum(E * W)")
    assert shape(graph, "E") == "n×m"


@pytest.mark.parametrize("text,number", [("2", "2"), ("0.5", "1/2"), (".5", "1/2"), ("1e-3", "0.001")])
def test_numbers(text: str, number: str) -> None:
    e = g(f"s = {text} * sum(x)").values["s"]
    assert e.op == "mul"
    assert float(e.args[0].param("value")) == float(number.split("/")[0]) / (
        float(number.split("/")[1]) if "/" in number else 1)


# ---------------------------------------------------------------- claims


def test_claims() -> None:
    graph = g("z = W x + b\ns = u^T tanh(z)\ndelta = u * tanh'(z)\n"
              "claim ds/dW = delta x^T\nclaim ∂s/∂b = delta\nclaim d s / d x = W^T delta\n"
              "claim ds/dz = delta\nclaim dz/dx = W\n")
    assert [(c.num, c.den) for c in graph.claims] == [("s", "W"), ("s", "b"), ("s", "x"), ("s", "z"), ("z", "x")]
    assert all(c.error is None for c in graph.claims)
    assert sx(graph.claims[0].expr) == "(matmul (mul u (tanh' (add (matmul W x) b))) (T x))"
    assert graph.claims[0].line == 9
    assert graph.claims[0].name == "claim ds/dW"
    assert graph.claims[1].text == "claim ∂s/∂b = delta"


def test_helper_definitions_are_not_the_output() -> None:
    graph = g("z = W x + b\ns = u^T tanh(z)\ndelta = u * tanh'(z)\nclaim ds/db = delta\n")
    assert graph.output_name == "s"
    assert "delta" in graph.values


def test_a_claim_error_fails_only_that_claim() -> None:
    graph = g("s = u^T W x\nclaim ds/dx = W u\nclaim ds/dQ = u\nclaim ds/dW = u x^T + nope\n")
    errors = [c.error for c in graph.claims]
    assert errors[0] is not None and "cannot multiply" in errors[0].message
    assert errors[1] is not None and "unknown name Q" in errors[1].message
    assert errors[2] is not None and "unknown name nope" in errors[2].message
    assert graph.output_name == "s"


def test_a_typo_in_a_claim_does_not_change_the_output() -> None:
    # regression: an unknown name in a claim used to mark each of its letters as used
    graph = g("s = u^T tanh(W x)\nclaim ds/dW = (u * slope) x^T\n")
    assert graph.output_name == "s"
    assert graph.claims[0].error is not None


# ---------------------------------------------------------------- output


def test_output_statement() -> None:
    graph = g("z = W x + b\ns = u^T tanh(z)\noutput z")
    assert graph.output_name == "z"
    assert shape(graph, "z") == "n×1"


def test_output_is_the_last_unused_assignment() -> None:
    graph = g("z = W x + b\nh = tanh(z)\ns = u^T h\nr = sum(x)\n")
    assert graph.output_name == "r"
    graph = g("r = sum(x)\nz = W x + b\nh = tanh(z)\ns = u^T h\n")
    assert graph.output_name == "s"


# ---------------------------------------------------------------- layout: comments, lines


def test_comments_blank_lines_and_trailing_comments() -> None:
    graph = parse("# a header comment\n\ndims n = 2   # sizes\n\nx : n  # a vector\n# between\ns = sum(x) # the output\n\n")
    assert graph.output_name == "s"
    assert shape(graph, "s") == "scalar"


def test_line_continuation() -> None:
    graph = g("s = u^T \\\n    tanh(W x \\\n         + b)\n")
    assert sx(graph.values["s"]) == "(matmul (T u) (tanh (add (matmul W x) b)))"


def test_crlf_tabs_and_no_final_newline() -> None:
    graph = parse("dims n = 2\r\nx :\tn\r\ns = sum(x)")
    assert graph.output_name == "s"


def test_empty_file_has_no_output() -> None:
    with pytest.raises(GradcheckError, match="no output"):
        parse("")


def test_unicode_names() -> None:
    graph = parse("dims n = 2\nλ : scalar\nx : n\ns = λ * sum(x)")
    assert "λ" in graph.variables


# ---------------------------------------------------------------- the AST keeps positions


def test_ast_spans() -> None:
    text = "dims n = 2\nx : n\ns = sum(x^T x)\n"
    f = parse_file(text, "t.grad")
    assign = f.statements[2]
    assert isinstance(assign, ast.Assign)
    assert (assign.span.line, assign.span.column, assign.span.source) == (3, 1, "t.grad")
    call = assign.value
    assert isinstance(call, ast.Call)
    assert text[call.span.start:call.span.end] == "sum(x^T x)"
    assert text[call.args[0].span.start:call.args[0].span.end] == "x^T x"


def test_ast_statement_kinds() -> None:
    f = parse_file("dims n\nx : n const\nf = tanh\ns = sum(f(x))\nclaim ds/dx = tanh'(x)\noutput s\n")
    kinds = [type(st).__name__ for st in f.statements]
    assert kinds == ["Dims", "Decl", "Assign", "Assign", "Claim", "Output"]
    dims = f.statements[0]
    assert isinstance(dims, ast.Dims) and dims.items[0].size is None


def test_syntax_errors_are_parse_errors() -> None:
    with pytest.raises(ParseError):
        parse_file("s = W x +\n")


# ---------------------------------------------------------------- pp_graph


def test_pp_graph_topological_with_shapes() -> None:
    text = pp_graph(g("z = W x + b\nh = tanh(z)\ns = u^T h"))
    lines = text.splitlines()
    assert lines[:4] == ["input W: n×m", "input x: m×1", "input b: n×1", "input u: n×1"]
    assert "z: n×1 = add(t2, b)" in lines or any(line.startswith("z: n×1 = add(") for line in lines)
    assert lines[-2].startswith("s: scalar = matmul(")
    assert lines[-1] == "output s"
    # every name is defined before it is used
    defined = {"W", "x", "b", "u"}
    for line in lines[4:-1]:
        name, rhs = line.split(": ", 1)[0], line.split(" = ", 1)[1]
        args = rhs[rhs.index("(") + 1:-1].split(", ")
        assert all(a in defined or "=" in a or not a.isidentifier() for a in args), line
        defined.add(name)


def test_ascii_R_is_the_reals_only_before_a_caret() -> None:
    # `x ∈ R^m` is a vector; `v : R` is a vector of a dimension named R
    graph = parse("dims R = 2, m = 3\nx ∈ R^m\nv : R\nRv : R x R\ns = sum(x) + sum(Rv v) + sum(R^2 * v)")
    assert shape(graph, "x") == "m×1"
    assert shape(graph, "v") == "R×1"
    assert shape(graph, "Rv") == "R×R"
