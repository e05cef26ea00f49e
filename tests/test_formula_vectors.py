"""Vectors in formulas: sum(), mean(), dot() and a softmax over several nodes.

Each function is held to a form written here by hand, each gradient to ``sympy.diff`` of the composed loss
(tests/oracle.py, which spells the softmax out in exponentials of its own) and to the finite-difference
check; each malformed vector to one line on stderr naming the file, the node and the column.
"""
from __future__ import annotations

from pathlib import Path

import mpmath
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.frontends.formula import FormulaError, parse_formula
from symbackprop.frontends.loader import load_model

from .oracle import graph_diff_gradients

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "graphs" / "attention_3x4.toml"
a, b, c, d, e, f = sp.symbols("a b c d e f")
NAMES = {str(s): s for s in (a, b, c, d, e, f)}


def _agree(ours, reference, digits: int = 45) -> bool:
    ours, reference = mpmath.mpf(str(ours)), mpmath.mpf(str(reference))
    return abs(ours - reference) <= mpmath.mpf(10) ** -digits * max(1, abs(reference))


@pytest.mark.parametrize("text, by_hand", [
    ("sum(a, b, c)", a + b + c),
    ("sum(a)", a),
    ("mean(a, b, c, d)", (a + b + c + d) / 4),
    ("dot([a, b], [c, d])", a * c + b * d),
    ("dot([a, b, c], [1, 2, 3]) / sqrt(2)", (a + 2 * b + 3 * c) / sp.sqrt(2)),
    ("sum(dot([a], [b]), 2*c)", a * b + 2 * c),
])
def test_sums_means_and_dot_products_are_the_sums_written_out(text, by_hand):
    assert sp.expand(parse_formula(text, NAMES) - by_hand) == 0


@pytest.mark.parametrize("component", [1, 2, 3])
def test_a_softmax_component_is_its_exponential_over_the_sum_of_exponentials(component):
    expression = parse_formula(f"softmax([a, b, c], {component})", NAMES)
    point = {a: sp.Rational(3, 10), b: sp.Rational(-1, 2), c: sp.Integer(2)}
    nets = [point[a], point[b], point[c]]
    by_hand = sp.exp(nets[component - 1]) / sum(sp.exp(net) for net in nets)
    assert abs(sp.N(expression.subs(point) - by_hand, 60)) < sp.Float("1e-55")
    # printed as it is written: the component counted from 1, as LaTeX prints softmax_k
    assert str(expression) == f"softmax([a, b, c], {component})"
    assert sp.latex(expression) == rf"\operatorname{{softmax}}_{{{component}}}\left(a, b, c\right)"


@pytest.mark.parametrize("text, problem", [
    ("dot([a, b], [c])", "column 1: dot() takes two vectors of one length, not of 2 and 1 components"),
    ("dot(a, b)", "column 1: dot() takes two vectors, written [a, b, ...]"),
    ("dot([a, b])", "column 1: dot() takes 2 argument(s), not 1"),
    ("softmax([a, b], 3)", "column 1: softmax()'s component is a whole number from 1 to 2 (its vector's length), "
                           "not 3"),
    ("softmax([a, b], 0)", "from 1 to 2 (its vector's length), not 0"),
    ("softmax([a, b], 1.5)", "not 3/2"),
    ("softmax([a, b], c)", "not c"),
    ("softmax([a, b], [1])", "not a vector"),
    ("softmax([a], 2)", "from 1 to 1 (its vector's length), not 2"),
    ("softmax(a, 1)", "softmax() takes a vector, written [a, b, ...], and a component"),
    ("1 + [a, b]", "column 5: a vector ([...]) outside dot() and softmax() is not allowed in a formula"),
    ("exp([a, b])", "a vector ([...]) outside dot() and softmax()"),
    ("dot([[a], b], [c, d])", "column 6: a component of a vector is a number or an expression, not a vector"),
    ("dot([], [])", "a vector has at least one component"),
    ("sum()", "sum() takes 1 to 1024 argument(s), not 0"),
])
def test_a_malformed_vector_is_refused_with_its_column(text, problem):
    with pytest.raises(FormulaError) as refused:
        parse_formula(text, NAMES)
    assert problem in str(refused.value)


def test_a_malformed_vector_in_a_file_is_one_line_naming_the_node(tmp_path, capsys):
    text = EXAMPLE.read_text().replace('formula = "softmax([s1, s2, s3], 2)"', 'formula = "softmax([s1, s2, s3], 4)"')
    path = tmp_path / "att.toml"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err == (f"symbackprop: {path}: graph.nodes.a2.formula: column 1: softmax()'s component is a whole "
                   "number from 1 to 3 (its vector's length), not 4\n")


def test_the_attention_head_is_at_most_25_nodes_and_its_gradients_are_the_oracles():
    """One head over 3 tokens of width 4 (the issue's 69 hand-written nodes) in 22 formula nodes."""
    graph = load_model(EXAMPLE)
    formulas = [q for q in graph.order if q in graph.definitions and q.kind != "loss"]
    assert len(formulas) <= 25
    engine = sbp.Engine(graph)
    reference = graph_diff_gradients(engine.graph)
    assert len(reference) == 24
    for name, expected in reference.items():
        assert _agree(engine.gradient(name).evalf(50), expected), name
    report = sbp.check_gradients(graph, digits=50)
    assert report.passed and len(report.rows) == 24


def test_the_softmax_of_a_formula_graph_differentiates_through_every_component():
    """∂a1/∂s2 is −a1·a2 (the Jacobian's off-diagonal), not 0: the cross terms hand derivations drop; and
    the closed form, written with the softmax function, lambdifies to the exact value."""
    engine = sbp.Engine(load_model(EXAMPLE))
    a1, a2, a3 = sp.symbols("a1 a2 a3")
    assert engine.derivative("a1", "s2").compact == -a1 * a2
    assert engine.derivative("a3", "s3").compact == a3 * (1 - a3)
    gradient = engine.gradient("wk11")
    leaves = sorted(gradient.closed.free_symbols, key=str)
    function = sp.lambdify(leaves, gradient.closed, modules="mpmath")
    with mpmath.workdps(40):
        values = {s: mpmath.mpf(v.numerator) / v.denominator for s, v in engine.graph.values.items()}
        assert _agree(function(*[values[s] for s in leaves]), gradient.evalf(40), 35)


@st.composite
def softmax_graphs(draw):
    """A formula file: n inputs, m scores each a dot product with a row of weights, a softmax over them,
    and a loss of the softmax's outputs (squared error, cross-entropy or a mean)."""
    n, m = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    tenth = st.integers(-15, 15).map(lambda k: f"{k / 10:.1f}")
    inputs = [f"x{i}" for i in range(1, n + 1)]
    lines = ["[graph]", f"inputs = {inputs!r}".replace("'", '"'), "", "[graph.parameters]"]
    for j in range(1, m + 1):
        lines += [f'w{j}{i} = "{draw(tenth)}"' for i in range(1, n + 1)]
    scores = [f"s{j}" for j in range(1, m + 1)]
    for j in range(1, m + 1):
        weights = ", ".join(f"w{j}{i}" for i in range(1, n + 1))
        lines += ["[[graph.nodes]]", f'name = "s{j}"', f'formula = "dot([{", ".join(inputs)}], [{weights}])"']
    for j in range(1, m + 1):
        lines += ["[[graph.nodes]]", f'name = "a{j}"', f'formula = "softmax([{", ".join(scores)}], {j})"']
    targets = [f"{k / 10:.1f}" for k in draw(st.lists(st.integers(0, 10), min_size=m, max_size=m))]
    outputs = [f"a{j}" for j in range(1, m + 1)]
    loss = draw(st.sampled_from([
        "sum(" + ", ".join(f"(a{j} - {t})^2" for j, t in zip(range(1, m + 1), targets)) + ") / 2",
        "-sum(" + ", ".join(f"{t}*log(a{j})" for j, t in zip(range(1, m + 1), targets)) + ")",
        f"mean({', '.join(outputs)}) * a1 + dot([{', '.join(outputs)}], [{', '.join(targets)}])",
    ]))
    lines += ["[loss]", f'formula = "{loss}"', "", "[data]",
              "inputs = [" + ", ".join(f'"{draw(tenth)}"' for _ in inputs) + "]"]
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=softmax_graphs())
def test_random_softmax_graphs_agree_with_sympy_diff_and_finite_differences(tmp_path, text):
    path = tmp_path / "softmax.toml"
    path.write_text(text)
    graph = load_model(path)
    engine = sbp.Engine(graph)
    for name, expected in graph_diff_gradients(engine.graph).items():
        assert _agree(engine.gradient(name).evalf(50), expected), (name, text)
    assert sbp.check_gradients(graph, digits=30).passed, text


# ---- parameters held fixed, inputs differentiated ------------------------------------------------------------
README_FILE = EXAMPLE.parent / "readme_model.toml"


def _fixed_file(tmp_path, fixed: str, steps: int = 2) -> Path:
    text = README_FILE.read_text().replace('learning_rate = "0.5"', f'learning_rate = "0.5"\n{fixed}\nsteps = {steps}')
    path = tmp_path / "fixed.toml"
    path.write_text(text)
    return path


def test_a_fixed_parameter_keeps_its_value_while_the_others_descend(tmp_path, capsys):
    """Two steps with b and v held: w1 and w2 move by η·∂E/∂p, each gradient by sympy.diff of the composed loss
    at the parameters of that step; b and v stay exactly as written."""
    import json

    path = _fixed_file(tmp_path, 'fixed = ["b", "v"]')
    assert main(["train", str(path), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)
    graph = load_model(path)
    assert graph.frozen == {"b", "v"}
    values = {name: sp.Rational(v) for name, v in (("w1", "0.15"), ("w2", "-0.2"), ("b", "0.35"), ("v", "0.5"))}
    for step in (1, 2):
        at_step = _with_values(graph, {graph.symbols[graph.named(n)]: values[n] for n in values})
        reference = graph_diff_gradients(at_step, 50)
        values = {n: v - sp.Rational(1, 2) * sp.Rational(str(reference[n])) if n in ("w1", "w2") else v
                  for n, v in values.items()}
        row = run["steps"][step]["parameters"]
        for name in ("w1", "w2"):
            assert abs(sp.Rational(row[name]) - values[name]) < sp.Rational(1, 10**25), (step, name)
        assert sp.Rational(row["b"]) == sp.Rational(35, 100) and sp.Rational(row["v"]) == sp.Rational(1, 2)
        assert values["w1"] != sp.Rational(15, 100)  # (the others did move)


def _with_values(graph, values):
    import dataclasses
    from fractions import Fraction

    return dataclasses.replace(graph, values={**graph.values, **{s: Fraction(str(v)) for s, v in values.items()}})


@pytest.mark.parametrize("fixed, place, problem", [
    ('fixed = "b"', "training.fixed", "expected a list of parameter names"),
    ('fixed = ["b", "h"]', "training.fixed[1]", "'h' is not a parameter (parameters: w1, w2, b, v)"),
    ('fixed = [1]', "training.fixed", "expected a list of parameter names"),
])
def test_a_bad_fixed_list_is_one_line(tmp_path, capsys, fixed, place, problem):
    path = _fixed_file(tmp_path, fixed)
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symbackprop: {path}: {place}: ") and problem in err and err.count("\n") == 1


def test_a_dense_file_refuses_fixed(tmp_path, capsys):
    mazur = EXAMPLE.parent.parent / "mazur.toml"
    path = tmp_path / "mazur.toml"
    path.write_text(mazur.read_text().replace('learning_rate = "0.5"', 'learning_rate = "0.5"\nfixed = ["w1"]'))
    assert 'fixed = ["w1"]' in path.read_text()
    assert main(["derive", str(path)]) == 2
    assert "training.fixed: fixed applies to a formula graph's parameters" in capsys.readouterr().err


def test_an_input_is_differentiated_without_becoming_a_parameter(tmp_path, capsys):
    """dE/dx1 of the README's graph, claimed and derived, against sympy.diff of the composed loss in x1."""
    from .oracle import composed_graph_loss

    graph = load_model(README_FILE)
    x1 = sp.Symbol("x1")
    point = {s: sp.Rational(v.numerator, v.denominator) for s, v in graph.values.items()}
    expected = sp.diff(composed_graph_loss(graph), x1).evalf(40, subs=point)
    assert _agree(sbp.Engine(graph).derivative("E", "x1").evalf(40), expected, 35)
    assert "x1" not in graph.parameters()
    path = tmp_path / "claim.toml"
    path.write_text(README_FILE.read_text() + f'\n[[claims]]\nquantity = "dE/dx1"\nvalue = "{sp.N(expected, 6)}"\n'
                    '\n[[claims]]\nquantity = "new(x1)"\nvalue = "0.05"\n')
    assert main(["audit", str(path)]) == 2
    assert "claims[1].quantity" in capsys.readouterr().err  # an input has no value after an update
    path.write_text(README_FILE.read_text() + f'\n[[claims]]\nquantity = "dE/dx1"\nvalue = "{sp.N(expected, 6)}"\n')
    assert main(["audit", str(path)]) == 0
    assert "1 claims: 1 ok" in capsys.readouterr().out
