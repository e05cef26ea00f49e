"""Ball arithmetic proves the digits training prints: the proof checked at its edges, and shown to be what
stops a wrong digit."""
from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
import sympy as sp
from flint import arb

from symbackprop.errors import UncertifiedDigits
from symbackprop.frontends.formulas import graph_from_mapping
from symbackprop.frontends.dense import build_graph
from symbackprop.frontends.loader import load_network
from symbackprop.functions.balls import Uncertain, ball, proves, working_digits
from symbackprop.functions.evaluate import evaluate_expression
from symbackprop.training import train as training
from symbackprop.training.train import train

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("margin, proved", [(Fraction(-1, 10**12), True), (Fraction(1, 10**12), False)])
def test_a_ball_proves_four_digits_only_while_both_ends_print_them(margin, proved):
    """0.123445 ± r prints 0.1234 at both ends while r < 0.000005, and not once r passes it."""
    with working_digits(40):
        value = arb(123445) / 10**6
        radius = Fraction(5, 10**6) + margin
        widened = value + arb(0, arb(radius.numerator) / radius.denominator)
        assert proves(widened, 4) is proved
        assert proves(widened, 3)  # 0.123 at both ends either way


def test_an_infinite_or_nan_ball_proves_nothing():
    with working_digits(30):
        assert not proves(arb("nan"), 5) and not proves(arb(1) / 0, 5)


def _cancelling(offset: Fraction) -> sp.Expr:
    """relu(tanh(w) − (e^{2w} − 1)/(e^{2w} + 1) + offset) at w = 1/3: the two terms are one number."""
    w = sp.Symbol("w")
    expression = sp.Max(sp.tanh(w) - (sp.exp(2 * w) - 1) / (sp.exp(2 * w) + 1) + offset, 0)
    return expression, {w: Fraction(1, 3)}


def test_a_branch_its_ball_cannot_decide_is_uncertain_never_guessed():
    expression, values = _cancelling(Fraction(0))
    for digits in (20, 60, 200):
        with working_digits(digits), pytest.raises(Uncertain):
            evaluate_expression(sp.Heaviside(expression.args[0] if expression.args[0] != 0 else expression, 0),
                                values, balls=True)
    # 10^-30 off the switch: undecided at 20 digits, decided (and right) at 60
    expression, values = _cancelling(Fraction(1, 10**30))
    step = sp.Heaviside([a for a in expression.args if a != 0][0], 0)
    with working_digits(20), pytest.raises(Uncertain):
        evaluate_expression(step, values, balls=True)
    with working_digits(60):
        assert evaluate_expression(step, values, balls=True) == 1


def test_training_that_meets_a_kink_inside_its_ball_is_refused():
    """A ReLU whose net is exactly 0 by an identity the arithmetic cannot see: no precision decides its
    branch, so the run is refused, not printed with a branch chosen by rounding."""
    document = {"graph": {"inputs": ["x"], "targets": ["t"], "parameters": {"w": "0.5"}, "nodes": [
        {"name": "z", "formula": "tanh(w*x) - (exp(2*w*x) - 1)/(exp(2*w*x) + 1)"},
        {"name": "y", "formula": "relu(z) + w*x"}]},
        "loss": {"formula": "(y - t)^2/2", "targets": ["1"]}, "data": {"inputs": ["2"]},
        "training": {"learning_rate": "0.1", "steps": 1}}
    with pytest.raises(UncertifiedDigits, match="meets its switch within the ball"):
        train(graph_from_mapping(document), digits=10)


def test_a_run_whose_bounds_would_need_too_many_digits_is_refused_early_with_the_number():
    """XOR at learning rate 5 loses about half a digit of its bounds a step: 100,000 steps would need some
    57,000 working digits, past the limit; the refusal comes after the first attempt, in seconds."""
    graph = build_graph(load_network(EXAMPLES / "xor.toml"))
    started = time.monotonic()
    with pytest.raises(UncertifiedDigits, match=r"100,000 steps would need [\d,]+ working digits \(at most 20,000\)"):
        train(graph, steps=100_000, digits=30)
    assert time.monotonic() - started < 30


def test_without_the_proof_the_first_attempt_would_print_wrong_digits(monkeypatch):
    """The check the proof makes is what stops a wrong digit: XOR trained 300 steps at the first attempt's
    40 working digits, taken as they come, differs from a reference written by hand in the 30 digits printed;
    with the proof, the run is repeated at more digits and every printed digit agrees with the reference."""
    from .test_training import _xor_reference

    graph = build_graph(load_network(EXAMPLES / "xor.toml"))
    reference = _xor_reference(300, "5")

    def wrong_digits(steps) -> int:
        with mpmath.workdps(60):
            return sum(abs(mpmath.mpf(str(step.parameters[name])) - value) > max(abs(value), 1) * mpmath.mpf(10) ** -30
                       for step, (_, parameters) in zip(steps, reference) for name, value in parameters.items())

    proved = train(graph, steps=300, digits=30)
    assert wrong_digits(proved) == 0
    monkeypatch.setattr(training, "_proved", lambda step, digits: True)
    monkeypatch.setattr(training, "_midpoints", lambda step: training.TrainingStep(
        step.step, step.loss, {name: mpmath.mpf(value.mid().str(40, radius=False)) if not isinstance(value, Fraction)
                               else value for name, value in step.parameters.items()}))
    assert wrong_digits(train(graph, steps=300, digits=30)) > 0


def test_exact_numbers_never_become_balls():
    """A linear network trains in rationals: every printed number is an exact Fraction, not a ball."""
    from symbackprop.frontends.loader import network_from_mapping

    network = network_from_mapping({"network": {"inputs": ["x"], "layers": [
        {"units": ["y"], "activation": "linear", "weights": [["1"]], "weight_names": [["w"]]}]},
        "loss": {"kind": "half_sse", "targets": [["0"], ["0"]]}, "data": {"inputs": [["1"], ["2"]]},
        "training": {"learning_rate": "0.1", "steps": 3}})
    steps = train(build_graph(network), digits=10)
    assert all(isinstance(value, Fraction) for step in steps for value in [step.loss, *step.parameters.values()])
    assert steps[3].parameters["w"] == Fraction(27, 64)
    assert ball(Fraction(1, 4)).is_exact() and not ball(Fraction(1, 3)).is_exact()


def test_a_step_at_a_ball_that_is_exactly_zero_takes_its_convention():
    """sigmoid(0) − ½ is a ball of radius 0 at 0: the leaky ReLU's derivative there is α (its documented
    left derivative), so ∂/∂x leaky_relu(σ(x) − ½, 1/10) at x = 0 is α·σ′(0) = 1/40, not 0."""
    from symbackprop.functions.activations import leaky_relu, sigmoid
    from symbackprop.functions.balls import midpoint

    x = sp.Symbol("x")
    derivative = sp.diff(leaky_relu(sigmoid(x) - sp.Rational(1, 2), sp.Rational(1, 10)), x)
    with working_digits(30):
        value = evaluate_expression(derivative, {x: Fraction(0)}, balls=True)
    with mpmath.workdps(40):
        assert proves(value, 25) and abs(midpoint(value) - mpmath.mpf(1) / 40) < mpmath.mpf(10) ** -28


def test_constants_and_equalities_in_balls():
    """π and the golden ratio (written in radicals first) are balls that hold their true values; an equality
    of two exact balls is decided, of two overlapping ones it is not."""
    from symbackprop.functions.balls import holds, midpoint

    x = sp.Symbol("x")
    with working_digits(40):
        value = evaluate_expression(sp.GoldenRatio * x + sp.pi, {x: Fraction(1)}, balls=True)
        assert proves(value, 35)
        with mpmath.workdps(60):
            assert abs(midpoint(value) - ((1 + mpmath.sqrt(5)) / 2 + mpmath.pi)) < mpmath.mpf(10) ** -38
        assert holds("Equality", ball(Fraction(1, 2)), Fraction(1, 2))
        assert not holds("Unequality", ball(Fraction(1, 2)), Fraction(1, 2))
        with pytest.raises(Uncertain):
            holds("Equality", ball(Fraction(1, 3)), Fraction(1, 3))  # (a third is not a binary number)


def test_a_value_is_printed_only_where_its_ball_proves_the_digits():
    """Point.evalf: a tiny true value (10^-150 behind terms of size 1) is found at the precision that proves
    it; a cancellation to 0 is exactly 0 only where SymPy proves the exact value is 0; a value within
    10^-600 of 0 that is not 0 is refused, never printed as 0 (the runs-compared rule took it for 0)."""
    from symbackprop.engine.values import certified, point_of
    from symbackprop.errors import UncertifiedDigits
    from symbackprop.numbers import format_decimal

    document = {"graph": {"inputs": ["x"], "targets": ["t"], "parameters": {"w": "1"},
                          "nodes": [{"name": "y", "formula": "w*x"}]},
                "loss": {"formula": "(y - t)^2/2", "targets": ["0"]}, "data": {"inputs": ["1"]}}
    point = point_of(graph_from_mapping(document))
    w = sp.Symbol("w")
    pythagoras = sp.sin(w) ** 2 + sp.cos(w) ** 2 - 1
    assert point.evalf(pythagoras, 20) == 0 and point.evalf(pythagoras, 20).is_Integer
    tiny = point.evalf(pythagoras + sp.exp(-345 * w), 20)  # e^-345 ≈ 1.3e-150
    with mpmath.workdps(60):
        assert format_decimal(tiny, 20) == format_decimal(mpmath.exp(-345), 20)
    with pytest.raises(UncertifiedDigits, match="could not be proved to be 0"):
        point.evalf(pythagoras + sp.exp(-1400 * w), 20)  # ≈ 1e-608: within every ball tried, and not 0
    # a branch whose ball never decides it is refused too, whatever the precision
    with pytest.raises(UncertifiedDigits, match="meets its switch"):
        point.evalf(sp.Heaviside(pythagoras, 0), 10)

    def noise(working):  # what an identity the arithmetic cannot see leaves: 0 within 10^-working
        return arb(0, arb(10) ** -working)
    assert certified(noise, 10, 22, exact=lambda: pythagoras) == 0
    with pytest.raises(UncertifiedDigits):
        certified(noise, 10, 22, exact=lambda: pythagoras + sp.Rational(1, 10**700))
    with pytest.raises(UncertifiedDigits):
        certified(noise, 10, 22)  # nothing to prove it with


def test_one_minus_a_saturated_softmax_output_is_its_sister_not_a_cancellation():
    """At nets of ±10^20, 1 − out_a cancels every digit any precision holds; the softmax keeps it as the
    other output's value, so out_a·(1 − out_a) = e^{-2·10^20}/(1 + e^{-2·10^20}) is proved to 20 digits."""
    from symbackprop.engine.values import point_of
    from symbackprop.frontends.loader import network_from_mapping
    from symbackprop.numbers import format_decimal
    from symbackprop.quantity import Quantity

    network = network_from_mapping({"network": {"inputs": ["x"], "layers": [
        {"units": ["a", "b"], "activation": "softmax", "weights": [["1e20", "-1e20"]]}]},
        "loss": {"kind": "cross_entropy", "targets": ["0", "1"]}, "data": {"inputs": ["1"]}})
    graph = build_graph(network)
    out = graph.symbols[Quantity.out("a")]
    value = point_of(graph).evalf(out * (1 - out), 20)
    with mpmath.workdps(40):
        tiny = mpmath.exp(-2 * mpmath.mpf(10) ** 20)
        assert format_decimal(value, 20) == format_decimal(tiny / (1 + tiny), 20)
