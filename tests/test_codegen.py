"""Float64 code generated from the derivation agrees with the exact gradient to 1e-13 (scaled)."""
from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings

from symbackprop.chain import Engine
from symbackprop.codegen import layer_function, program_function
from symbackprop.loader import load_network, network_from_mapping
from symbackprop.program import evaluate, straight_line_program
from symbackprop.values import point_of

from .strategies import network_documents
from .test_engine_properties import SETTINGS, _at_kink


def _agree(network, tolerance=1e-13):
    graph = Engine(network).graph
    _, exact = evaluate(straight_line_program(graph), point_of(graph).leaves, 30)
    exact = {name: float(value) for name, value in exact.items()}
    scale = max(1.0, max(abs(v) for v in exact.values()))
    values = {p.name: float(p.value) for p in network.parameters()}
    inputs = np.array([[float(v) for v in network.data]])
    targets = np.array([[float(v) for v in network.loss.targets]])
    for compiled in (program_function(graph), layer_function(network)):
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


def test_a_batch_gives_the_mean_of_per_sample_gradients():
    network = load_network("examples/mazur.toml")
    graph = Engine(network).graph
    values = {p.name: float(p.value) for p in network.parameters()}
    rng = np.random.default_rng(3)
    inputs, targets = rng.uniform(-1, 1, (5, 2)), rng.uniform(0, 1, (5, 2))
    for compiled in (program_function(graph), layer_function(network)):
        vector = compiled.vector(values)
        together = compiled.named(compiled.loss_and_gradients(inputs, targets, vector)[1])
        singles = [compiled.named(compiled.loss_and_gradients(inputs[k:k + 1], targets[k:k + 1], vector)[1])
                   for k in range(5)]
        for name in together:
            assert abs(together[name] - np.mean([s[name] for s in singles])) < 1e-15


def test_no_file_name_reaches_the_generated_source():
    """Symbols are renamed before code generation: a weight called like a Python keyword is harmless."""
    network = network_from_mapping({"network": {"inputs": ["x"], "layers": [
        {"units": ["y"], "activation": "sigmoid", "weights": [["0.5"]], "weight_names": [["lambda"]]}]},
        "loss": {"kind": "half_sse", "targets": ["1"]}, "data": {"inputs": ["2"]}})
    compiled = program_function(Engine(network).graph)
    _, gradient = compiled.loss_and_gradients(np.array([[2.0]]), np.array([[1.0]]), np.array([0.5]))
    assert abs(gradient[0] - (-0.10575418556853)) < 1e-12
