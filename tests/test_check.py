"""The checker itself: each status earned, and a corrupted gradient fails at the edge of every excuse.

Expected values come from sympy.diff of the composed loss (tests/oracle.py) or are worked by hand.
"""
import mpmath
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop import InputError, check_gradients, network_from_mapping
from symbackprop.oracle.check import tolerance

from .oracle import diff_gradient


def relu_network(bias: str, x: str = "2"):
    """x → ReLU(w·x + b) → linear ·3, half SSE against 1: net(h) = 2 + b."""
    return network_from_mapping({"network": {"inputs": ["x"], "layers": [
        {"units": ["h"], "activation": "relu", "weights": [["1"]], "bias": bias},
        {"units": ["y"], "activation": "linear", "weights": [["3"]]}]},
        "loss": {"kind": "half_sse", "targets": ["1"]}, "data": {"inputs": [x]}})


def oracle_gradients(network):
    return {p.name: diff_gradient(network, p.name, 60) for p in network.parameters()}


def test_a_doubled_gradient_near_but_not_at_a_kink_is_a_mismatch():
    """The issue's case: net(h) = 0.0005, far from 0 at the finite-difference step."""
    network = relu_network("-1.9995")
    analytic = oracle_gradients(network)
    report = check_gradients(network, analytic=analytic)
    assert [row.status for row in report.rows] == ["ok", "ok", "ok"]  # agreeing rows are ok, not kink
    analytic["w_x_h"] *= 2
    report = check_gradients(network, analytic=analytic)
    assert report.row("w_x_h").status == "mismatch" and not report.passed


def test_a_true_kink_passes_as_kink_with_either_one_sided_derivative():
    network = relu_network("-2")  # net(h) = 0 exactly
    # By hand: E = ½(3·relu(2w + b) − 1)²; at the kink the left derivative in w is 0, the right 3·(−1)·2 = −6.
    report = check_gradients(network)
    row = report.row("w_x_h")
    assert row.status == "kink" and row.kinks == ("h",) and report.passed
    assert [float(v) for v in row.one_sided] == [0.0, -6.0]
    for side in (0, -6):
        assert check_gradients(network, analytic={"w_x_h": side, "b_layer1": 0, "w_h_y": 0}).row("w_x_h").status == "kink"


@pytest.mark.parametrize("wrong", [-3, 3, 6, -12, sp.Rational(-6) * (1 + sp.Rational(1, 10**6))])
def test_a_wrong_gradient_at_a_true_kink_fails(wrong):
    network = relu_network("-2")
    report = check_gradients(network, analytic={"w_x_h": wrong, "b_layer1": 0, "w_h_y": 0})
    assert report.row("w_x_h").status == "mismatch" and not report.passed


@pytest.mark.parametrize("digits", [5, 6, 7, 8, 15, 50])
@pytest.mark.parametrize("factor", [2, 100, -1, sp.Rational(1001, 1000)])
def test_low_precision_never_passes_a_wrong_sign_or_factor(digits, factor):
    network = sbp.load_network("examples/mazur.toml")
    analytic = oracle_gradients(network)
    assert check_gradients(network, analytic=analytic, digits=digits).passed
    analytic["w1"] = analytic["w1"] * factor
    report = check_gradients(network, analytic=analytic, digits=digits)
    assert report.row("w1").status == "mismatch" and not report.passed


@pytest.mark.parametrize("digits", [5, 20, 50])
def test_the_tolerance_edge(digits):
    """Just inside the relative tolerance passes; ten times outside fails."""
    network = sbp.load_network("examples/mazur.toml")
    analytic = oracle_gradients(network)
    edge = sp.Float(str(tolerance(digits, False)), 80)
    inside, outside = dict(analytic), dict(analytic)
    inside["w5"] = analytic["w5"] * (1 + edge / 10)
    outside["w5"] = analytic["w5"] * (1 + edge * 10)
    assert check_gradients(network, analytic=inside, digits=digits).row("w5").status == "ok"
    assert check_gradients(network, analytic=outside, digits=digits).row("w5").status == "mismatch"


def test_the_kink_excuse_edge():
    """At a kink, a value ten tolerances away from the right derivative is not excused."""
    network = relu_network("-2")
    assert tolerance(50, False) == mpmath.mpf(10) ** -48
    for side in (0, -6):
        # ten tolerances off the right derivative; above the absolute floor (1e-50) off the left one
        near = sp.Rational(side) + (sp.Rational(60, 10**48) if side else sp.Rational(1, 10**45))
        report = check_gradients(network, analytic={"w_x_h": near, "b_layer1": 0, "w_h_y": 0})
        assert report.row("w_x_h").status == "mismatch"


def test_float64_overflow_is_refused_with_a_pointer():
    network = network_from_mapping({"network": {"inputs": ["x"], "layers": [
        {"units": ["a", "b"], "activation": "softmax", "weights": [["1000", "-1000"]]}]},
        "loss": {"kind": "cross_entropy", "targets": ["0", "1"]}, "data": {"inputs": ["1"]}})
    with pytest.raises(InputError, match="without --float64"):
        check_gradients(network, float64=True)
    assert check_gradients(network, digits=30).passed  # the high-precision check copes


@pytest.mark.parametrize("call", [
    lambda n: check_gradients("x"),
    lambda n: check_gradients(n, analytic={}),
    lambda n: check_gradients(n, digits=4),
    lambda n: check_gradients(n, digits=True),
    lambda n: check_gradients(n, analytic={"w_x_h": "abc", "b_layer1": 0, "w_h_y": 0}),
])
def test_api_misuse_is_a_clear_error(call):
    with pytest.raises(InputError):
        call(relu_network("-1"))
