"""The engine against two independent oracles on random networks.

* sympy.diff of the loss composed in full (tests/oracle.py, its own formulas);
* the finite-difference evaluator (mpmath, forward loss only).
"""
import mpmath
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import Engine, check_gradients, network_from_mapping
from symbackprop.oracle.numeric import finite_difference, unit_nets

from .oracle import composed_loss, diff_gradient
from .strategies import extended_network_documents, network_documents

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _at_kink(network) -> bool:
    """True when some ReLU-type unit sits exactly at zero, where no derivative exists."""
    nets = unit_nets(network, 60)
    return any(
        layer.activation in ("relu", "leaky_relu") and abs(nets[unit]) < mpmath.mpf("1e-40")
        for layer in network.layers for unit in layer.units
    )


@settings(max_examples=60, **SETTINGS)
@given(network_documents(max_depth=4, max_width=4), st.data())
def test_engine_equals_sympy_diff_of_composed_loss_and_finite_differences(document, data):
    network = network_from_mapping(document)
    engine = Engine(network)
    names = engine.graph.parameters()
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    kink = _at_kink(network)
    for name in chosen:
        ours = engine.gradient(name).evalf(50)
        reference = diff_gradient(network, name, 60)
        scale = max(1, abs(reference))
        assert abs(ours - reference) <= sp.Float("1e-40") * scale, (name, ours, reference)
        if not kink:
            with mpmath.workdps(60):
                numeric = finite_difference(network, name, 50).value
                assert abs(mpmath.mpf(ours._to_mpmath(200)) - numeric) <= mpmath.mpf("1e-40") * scale


@settings(max_examples=25, **SETTINGS)
@given(network_documents(max_depth=2, max_width=2))
def test_engine_equals_diff_with_every_parameter_symbolic(document):
    """The fully composed loss in all parameters at once, differentiated per parameter."""
    network = network_from_mapping(document)
    engine = Engine(network)
    names = engine.graph.parameters()
    loss, symbols = composed_loss(network, names)
    point = {symbols[p.name]: sp.Rational(p.value.numerator, p.value.denominator) for p in network.parameters()}
    for name in names:
        reference = sp.diff(loss, symbols[name]).subs(point).evalf(60)
        ours = engine.gradient(name).evalf(50)
        assert abs(ours - reference) <= sp.Float("1e-40") * max(1, abs(reference))


@settings(max_examples=40, **SETTINGS)
@given(network_documents(max_depth=3, max_width=3))
def test_checker_passes_every_correct_network(document):
    network = network_from_mapping(document)
    report = check_gradients(network, digits=50)
    assert report.passed, [(r.name, r.status, r.rel_error) for r in report.rows if r.status == "mismatch"]
    kinked = _at_kink(network)
    for row in report.rows:
        if row.status == "ok":
            assert row.abs_error <= mpmath.mpf("1e-40") * max(1, abs(row.numeric))
        else:  # a kink is earned: a unit exactly at zero here, and the gradient is one of the one-sided derivatives
            assert row.status == "kink" and row.kinks and kinked, row
            assert min(abs(row.analytic - side) for side in row.one_sided) <= mpmath.mpf("1e-40") * max(1, abs(row.analytic))


@settings(max_examples=30, **SETTINGS)
@given(network_documents(max_depth=3, max_width=3), st.data())
def test_checker_catches_a_corrupted_gradient(document, data):
    network = network_from_mapping(document)
    engine = Engine(network)
    analytic = {g.wrt.name: g.evalf(55) for g in engine.gradients()}
    victim = data.draw(st.sampled_from(sorted(analytic)))
    # A corruption a person could make: a relative slip in the 8th digit, or a wrong value where 0 is right.
    value = analytic[victim]
    analytic[victim] = value * (1 + sp.Float("1e-8")) if abs(value) > sp.Float("1e-20") else value + sp.Float("1e-8")
    report = check_gradients(network, analytic=analytic, digits=50)
    row = report.row(victim)
    # No excuse covers it, kink included: a corrupted value is neither one-sided derivative.
    assert row.status == "mismatch" and not report.passed


@settings(max_examples=40, **SETTINGS)
@given(network_documents(max_depth=3, max_width=4, losses=["cross_entropy"], output_activation="softmax", min_outputs=2))
def test_softmax_cross_entropy_output_delta_simplifies_to_out_minus_target(document):
    network = network_from_mapping(document)
    layer = network.layers[-1]
    assert layer.activation == "softmax" and len(layer.units) >= 2
    engine = Engine(network)
    from symbackprop.quantity import Quantity

    for unit in layer.units:
        derivation = engine.derivative(Quantity.loss(), Quantity.net(unit))
        out, target = sp.Symbol(f"out_{unit}"), engine.graph.targets[unit]
        assert derivation.simplified == out - target
        # The compact form is the honest sum over all outputs; it is not yet out - t.
        assert derivation.compact != out - target


@settings(max_examples=40, **SETTINGS)
@given(extended_network_documents())
def test_skips_tied_weights_and_own_functions_equal_sympy_diff_and_finite_differences(document):
    network = network_from_mapping(document)
    engine = Engine(network)
    report = check_gradients(network, digits=40)
    for name in engine.graph.parameters():
        reference = diff_gradient(network, name, 50)
        if not reference.is_Number:
            continue  # sympy.diff at a ReLU kink: no derivative to compare
        ours = engine.gradient(name).evalf(50)
        assert abs(ours - reference) <= sp.Float("1e-38") * max(1, abs(reference)), (name, ours, reference)
        assert report.row(name).status in ("ok", "kink"), report.row(name)
