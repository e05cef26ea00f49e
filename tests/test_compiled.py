"""The compiled program (training's fast path) gives what the evaluator gives, line for line: exact numbers
equal, balls that hold the evaluator's value at far higher precision; and where a line has no value or a
branch cannot be decided, the same refusal."""
from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings

from symbackprop.engine.program import straight_line_program
from symbackprop.errors import UndefinedValue
from symbackprop.frontends.dense import build_graph
from symbackprop.frontends.formulas import graph_from_mapping
from symbackprop.frontends.loader import network_from_mapping
from symbackprop.functions.activations import leaky_relu, relu, sigmoid
from symbackprop.functions.balls import Uncertain, ends, is_ball, working_digits
from symbackprop.functions.compiled import CompiledProgram
from symbackprop.functions.evaluate import evaluate_expression
from symbackprop.quantity import Quantity

from .strategies import extended_network_documents, network_documents


def _lines_and_leaves(graph):
    program = straight_line_program(graph)
    gradients = [(sp.Dummy(name), expression) for name, expression in program.gradients.items()]
    lines = program.forward + program.backward + tuple(gradients)
    assigned = {symbol for symbol, _ in lines}
    leaves = sorted({s for _, e in lines for s in e.free_symbols if s not in assigned}, key=str)
    return lines, leaves


def _agrees(compiled_value, in_balls, reference) -> bool:
    """Exact where the evaluator on balls is exact (the same Fraction); else a ball that holds the evaluator's
    80-digit value."""
    if isinstance(in_balls, Fraction):
        return isinstance(compiled_value, Fraction) and compiled_value == in_balls
    if not is_ball(compiled_value):
        return False
    low, high = ends(compiled_value)
    return low <= reference <= high


def _check_graph(graph) -> None:
    lines, leaves = _lines_and_leaves(graph)
    values = {symbol: graph.values[symbol] for symbol in leaves}
    compiled = CompiledProgram(lines, leaves)
    with working_digits(30):
        found = compiled.run([values[symbol] for symbol in leaves])
        in_balls = dict(values)
        for symbol, expression in lines:
            in_balls[symbol] = evaluate_expression(expression, in_balls, balls=True)
    assert compiled.handed_over == 0  # every line of a network of registered functions is compiled
    with mpmath.workdps(80):
        reference = dict(values)
        for symbol, expression in lines:
            reference[symbol] = evaluate_expression(expression, reference)
    for symbol, _ in lines:
        assert _agrees(found[symbol], in_balls[symbol], reference[symbol]), (symbol, found[symbol], reference[symbol])


@settings(max_examples=60, deadline=None)
@given(network_documents(max_depth=3, max_width=3))
def test_every_line_of_a_random_network_agrees_with_the_evaluator(document):
    _check_graph(build_graph(network_from_mapping(document)))


@settings(max_examples=30, deadline=None)
@given(extended_network_documents())
def test_every_line_of_a_network_with_skips_ties_and_own_functions_agrees(document):
    _check_graph(build_graph(network_from_mapping(document)))


def test_a_relu_met_exactly_at_its_switch_stays_exact():
    x, y = sp.symbols("x y")
    compiled = CompiledProgram([(y, relu(x - sp.Rational(1, 10)) + leaky_relu(x, sp.Rational(1, 10)) * 3)], [x])
    with working_digits(20):
        value = compiled.run([Fraction(1, 10)])[y]
    assert value == Fraction(3, 10) and isinstance(value, Fraction)


def test_an_exact_zero_times_a_ball_is_an_exact_zero():
    x, w, y = sp.symbols("x w y")
    compiled = CompiledProgram([(y, sigmoid(w) * x)], [x, w])
    with working_digits(20):
        assert compiled.run([Fraction(0), Fraction(1, 3)])[y] == 0
        assert isinstance(compiled.run([Fraction(0), Fraction(1, 3)])[y], Fraction)


@pytest.mark.parametrize("line, at", [(lambda x: 1 / (x - 1), Fraction(1)), (lambda x: sp.log(x - 1), Fraction(1)),
                                      (lambda x: sp.log(sigmoid(x) - sp.Rational(1, 2)), Fraction(0))])
def test_a_line_without_a_value_is_refused_in_the_evaluator_s_words(line, at):
    x, y = sp.symbols("x y")
    expression = line(x)
    with working_digits(20):
        with pytest.raises(UndefinedValue) as compiled:
            CompiledProgram([(y, expression)], [x]).run([at])
        with pytest.raises(UndefinedValue) as direct:
            evaluate_expression(expression, {x: at}, balls=True)
    assert str(compiled.value) == str(direct.value)


def test_a_branch_the_ball_cannot_decide_is_uncertain():
    """tanh(w) − (e^{2w} − 1)/(e^{2w} + 1) is 0 by an identity the balls cannot see: its ReLU is undecided."""
    w, y = sp.symbols("w y")
    zero = sp.tanh(w) - (sp.exp(2 * w) - 1) / (sp.exp(2 * w) + 1)
    with working_digits(60), pytest.raises(Uncertain):
        CompiledProgram([(y, relu(zero) + w)], [w]).run([Fraction(1, 3)])


def test_a_formula_graph_s_lines_agree_too():
    graph = graph_from_mapping({"graph": {"inputs": ["x"], "targets": ["t"], "parameters": {"w": "0.5", "v": "-2"},
                                          "nodes": [{"name": "h", "formula": "tanh(w*x) + max(w, v*x)^2"},
                                                    {"name": "y", "formula": "softplus(h)/sqrt(1 + h^2) + abs(v)"}]},
                                "loss": {"formula": "(y - t)^2/2", "targets": ["1"]}, "data": {"inputs": ["0.3"]}})
    _check_graph(graph)
    assert graph.symbols[Quantity.param("w")] in graph.values
