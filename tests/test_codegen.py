"""Float64 code generated from the derivation agrees with the exact gradient to 1e-13 (scaled)."""
from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from symbackprop.engine.chain import Engine
from symbackprop.training.codegen import compile_gradients, layer_function, program_function
from symbackprop.frontends.loader import load_network, network_from_mapping

from .oracle import float64_batch_loss, float64_finite_differences, float64_forward
from .strategies import network_documents
from .test_engine_properties import SETTINGS, _at_kink


def _agree(network, tolerance=1e-13):
    """The generated float64 code against the independent oracle: high-precision finite differences of the
    forward loss (numeric.py), never the straight-line program the code is generated from."""
    import mpmath

    from symbackprop.oracle.numeric import finite_difference

    graph = Engine(network).graph
    with mpmath.workdps(30):
        exact = {p.name: float(finite_difference(network, p.name, 30).value) for p in network.parameters()}
    scale = max(1.0, max(abs(v) for v in exact.values()))
    values = {p.name: float(p.value) for p in network.parameters()}
    inputs = np.array([[float(v) for v in network.data]])
    targets = np.array([[float(v) for v in network.loss.targets]])
    for compiled in (program_function(graph), layer_function(graph), compile_gradients(network)):
        vector = compiled.vector(values)
        losses, gradient = compiled.loss_and_gradients(inputs, targets, vector)
        gradients = compiled.named(gradient)
        assert np.allclose(losses, compiled.loss_only(inputs, targets, vector), rtol=1e-15, atol=0)
        for name, value in exact.items():
            assert abs(gradients[name] - value) <= tolerance * scale, (compiled.kind, name, gradients[name], value)


@settings(max_examples=40, **SETTINGS)
@given(network_documents(max_depth=3, max_width=4))
def test_generated_code_matches_the_exact_gradient_on_random_networks(document):
    network = network_from_mapping(document)
    assume(not _at_kink(network))
    _agree(network)


def test_generated_code_on_the_examples():
    for name in ("mazur", "relu_sigmoid_softmax", "softmax_classifier", "pvreddy_3_3_1", "sadiya_2_2_2"):
        _agree(load_network(f"examples/{name}.toml"))


def _against_finite_differences(network, inputs, targets):
    """Both generators' batch gradients against finite differences of the oracle's own float64 loss."""
    graph = Engine(network).graph
    values = {p.name: float(p.value) for p in network.parameters()}
    reference = float64_finite_differences(network, values, inputs, targets)
    scale = max(1.0, max(abs(v) for v in reference.values()))
    for compiled in (program_function(graph), layer_function(graph), compile_gradients(network)):
        vector = compiled.vector(values)
        losses, gradient = compiled.loss_and_gradients(inputs, targets, vector)
        assert abs(losses.mean() - float64_batch_loss(network, values, inputs, targets)) < 1e-12
        for name, value in compiled.named(gradient).items():
            assert abs(value - reference[name]) <= 1e-7 * scale, (compiled.kind, name, value, reference[name])


def test_a_batch_gradient_matches_finite_differences_of_an_independent_loss():
    network = load_network("examples/mazur.toml")
    rng = np.random.default_rng(3)
    _against_finite_differences(network, rng.uniform(-1, 1, (5, 2)), rng.uniform(0, 1, (5, 2)))


SOFTMAX_CE = {"network": {"inputs": ["x1", "x2"], "layers": [
    {"units": ["h1", "h2"], "activation": "tanh", "weights": [["0.3", "-0.2"], ["0.5", "0.4"]], "bias": "0.1"},
    {"units": ["o1", "o2"], "activation": "softmax", "weights": [["0.7", "-0.6"], ["0.2", "0.9"]], "bias": ["0.1", "-0.1"]}]},
    "loss": {"kind": "cross_entropy", "targets": ["0", "1"]}, "data": {"inputs": ["0.5", "-0.3"]}}


def test_cross_entropy_targets_that_are_not_distributions_get_the_general_delta():
    """The out − t collapse holds only where targets sum to 1; [0.5, 0.7] must not take it."""
    network = network_from_mapping(SOFTMAX_CE)
    inputs = np.array([[0.5, -0.3], [0.1, 0.2]])
    _against_finite_differences(network, inputs, np.array([[0.5, 0.7], [0.2, 0.1]]))
    _against_finite_differences(network, inputs, np.array([[0.0, 1.0], [0.25, 0.75]]))
    _against_finite_differences(network, inputs, np.array([[0.0, 1.0], [0.5, 0.7]]))  # one row of each


@settings(max_examples=25, **SETTINGS)
@given(network_documents(max_depth=3, max_width=3), st.integers(1, 4), st.integers(0, 10**6), st.booleans())
def test_generated_code_matches_finite_differences_on_random_batches(document, size, seed, distributions):
    network = network_from_mapping(document)
    assume(not _at_kink(network))
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-1, 1, (size, len(network.inputs)))
    targets = rng.uniform(0.05, 0.95, (size, len(network.outputs)))
    if distributions:
        targets = targets / targets.sum(axis=1, keepdims=True)
    values = {p.name: float(p.value) for p in network.parameters()}
    # A batch of other inputs can sit at a ReLU kink where a finite difference sees no derivative.
    assume(_no_kink_in_batch(network, values, inputs))
    _against_finite_differences(network, inputs, targets)


def _no_kink_in_batch(network, values, inputs) -> bool:
    nets, _ = float64_forward(network, values, inputs)
    return not any(layer.activation in ("relu", "leaky_relu") and np.any(np.abs(z) < 1e-3)
                   for layer, z in zip(network.layers, nets))


def test_no_file_name_reaches_the_generated_source():
    """Symbols are renamed before code generation: a weight called like a Python keyword is harmless."""
    network = network_from_mapping({"network": {"inputs": ["x"], "layers": [
        {"units": ["y"], "activation": "sigmoid", "weights": [["0.5"]], "weight_names": [["lambda"]]}]},
        "loss": {"kind": "half_sse", "targets": ["1"]}, "data": {"inputs": ["2"]}})
    compiled = program_function(Engine(network).graph)
    _, gradient = compiled.loss_and_gradients(np.array([[2.0]]), np.array([[1.0]]), np.array([0.5]))
    assert abs(gradient[0] - (-0.10575418556853)) < 1e-12


def test_no_file_name_reaches_the_generated_layer_code(monkeypatch):
    """The per-layer code lambdifies its output deltas over renamed symbols, whatever the units are called."""
    import sympy as sp

    seen = []
    original = sp.lambdify
    monkeypatch.setattr(sp, "lambdify", lambda args, expr, **kw: seen.append((args, expr)) or original(args, expr, **kw))
    network = network_from_mapping({**SOFTMAX_CE, "network": {**SOFTMAX_CE["network"], "layers": [
        SOFTMAX_CE["network"]["layers"][0], {**SOFTMAX_CE["network"]["layers"][1], "units": ["lambda_", "class_"]}]}})
    compiled = layer_function(Engine(network).graph)
    values = {p.name: float(p.value) for p in network.parameters()}
    compiled.loss_and_gradients(np.array([[0.5, -0.3]]), np.array([[0.0, 1.0]]), compiled.vector(values))
    names = {str(symbol) for args, expr in seen
             for symbol in [*args, *(s for e in (expr if isinstance(expr, list) else [expr]) for s in e.free_symbols)]}
    assert seen, "the layer code lambdified nothing"
    assert not any("lambda_" in name or "class_" in name for name in names), names


def test_a_softplus_at_a_large_net_stays_finite_in_float64():
    """softplus(800) is 800 to float64's precision; written as log(1 + e^800) it overflows to inf. The float64
    code (both generators) gets the loss and the gradient that high-precision finite differences give."""
    document = {"network": {"inputs": ["x"], "layers": [
        {"units": ["y"], "activation": "softplus", "weights": [["2"]], "bias": "0"}]},
        "loss": {"kind": "half_sse", "targets": ["0"]}, "data": {"inputs": ["400"]}}
    network = network_from_mapping(document)
    _agree(network)
    losses, _ = compile_gradients(network).loss_and_gradients(np.array([[400.0]]), np.array([[0.0]]),
                                                              np.array([2.0, 0.0]))
    assert abs(losses[0] - 800.0 ** 2 / 2) <= 1e-9 * 800.0 ** 2
