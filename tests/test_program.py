"""The straight-line program: the same gradients as the engine, in size linear in the network."""
from __future__ import annotations

import mpmath
import pytest
from hypothesis import assume, given, settings

from symbackprop.engine.chain import Engine
from symbackprop.frontends.loader import load_network, network_from_mapping
from symbackprop.engine.program import evaluate, straight_line_program
from symbackprop.engine.values import point_of

from .oracle import diff_gradient
from .strategies import network_documents
from .test_engine_properties import SETTINGS, _at_kink


def _layers(widths, hidden="sigmoid", output="softmax", loss="cross_entropy"):
    layers = [{"units": [f"u{i}_{j}" for j in range(width)], "activation": output if i == len(widths) - 1 else hidden}
              for i, width in enumerate(widths[1:], start=1)]
    return network_from_mapping({"network": {"inputs": [f"x{j}" for j in range(widths[0])], "layers": layers},
                                 "loss": {"kind": loss}})


@settings(max_examples=40, **SETTINGS)
@given(network_documents(max_depth=4, max_width=4))
def test_program_gradients_equal_sympy_diff_of_the_composed_loss(document):
    network = network_from_mapping(document)
    assume(not _at_kink(network))
    graph = Engine(network).graph
    program = straight_line_program(graph)
    _, gradients = evaluate(program, point_of(graph).leaves, digits=50)
    for name in list(program.gradients)[:3]:
        with mpmath.workdps(60):
            expected = mpmath.mpf(str(diff_gradient(network, name, 60)))
        assert abs(gradients[name] - expected) <= mpmath.mpf(10) ** -35 * max(1, abs(expected)), name


def test_program_of_mazur_reads_like_the_tutorial():
    graph = Engine(load_network("examples/mazur.toml")).graph
    program = straight_line_program(graph)
    backward = {str(symbol): str(expression) for symbol, expression in program.backward}
    assert backward["delta_o1"] == "out_o1*(1 - out_o1)*(out_o1 - t_o1)"
    assert backward["delta_h1"] == "out_h1*(1 - out_h1)*(delta_o1*w5 + delta_o2*w7)"
    assert str(program.gradients["w5"]) == "delta_o1*out_h1"
    assert str(program.gradients["b2"]) == "delta_o1 + delta_o2"
    _, gradients = evaluate(program, point_of(graph).leaves, 30)
    assert mpmath.nstr(gradients["w5"], 8) == "0.082167041"  # Mazur, published


def test_softmax_cross_entropy_deltas_collapse_in_the_program():
    program = straight_line_program(Engine(_layers([3, 3, 4])).graph)
    backward = {str(symbol): str(expression) for symbol, expression in program.backward}
    for j in range(4):
        assert backward[f"delta_u2_{j}"] == f"out_u2_{j} - t_u2_{j}"


@pytest.mark.parametrize("widths", [[4] * (d + 1) for d in (1, 2, 4, 8, 16)] + [[w] * 4 for w in (2, 8, 16)])
def test_forward_plus_gradients_is_at_most_three_times_the_forward_program(widths):
    program = straight_line_program(Engine(_layers(widths)).graph)
    forward = program.forward_operations()
    assert forward + program.gradient_operations() <= 3 * forward


def test_program_size_grows_linearly_with_depth():
    sizes = []
    for depth in (4, 8, 16):
        program = straight_line_program(Engine(_layers([4] * (depth + 1))).graph)
        sizes.append(program.forward_operations() + program.gradient_operations())
    # doubling the depth at most doubles the program, plus the fixed cost of the input and output layers
    assert sizes[2] - sizes[1] <= 2.1 * (sizes[1] - sizes[0])


def test_derive_json_of_a_large_network_is_the_streamed_program_with_right_values(tmp_path, capsys):
    """Over 1,000 parameters: gradients in δ symbols, values checked against finite differences."""
    import json

    from symbackprop.cli import main
    from symbackprop.cli.commands import LARGE_NETWORK
    from symbackprop.oracle.numeric import numeric_derivative
    from symbackprop.quantity import Quantity

    def matrix(rows, columns, seed):
        return [[f"{((seed + 7 * r + 3 * c) % 19 - 9) / 50}" for c in range(columns)] for r in range(rows)]

    inputs, hidden, outputs = 30, 33, 3
    document = {"network": {"convention": "column", "inputs": [f"x{i}" for i in range(inputs)], "layers": [
        {"units": [f"h{j}" for j in range(hidden)], "activation": "tanh", "weights": matrix(hidden, inputs, 1),
         "bias": "0.1"},
        {"units": [f"o{k}" for k in range(outputs)], "activation": "softmax", "weights": matrix(outputs, hidden, 2),
         "bias": "0"}]},
        "loss": {"kind": "cross_entropy", "targets": ["0", "1", "0"]},
        "data": {"inputs": [f"{(i % 7) / 7:.4f}" for i in range(inputs)]}}
    network = network_from_mapping(document)
    assert len(network.parameters()) > LARGE_NETWORK
    path = tmp_path / "large.toml"
    lines = ['[network]', 'convention = "column"', f"inputs = {json.dumps(document['network']['inputs'])}"]
    for layer in document["network"]["layers"]:
        lines += ["[[network.layers]]"] + [f"{key} = {json.dumps(value)}" for key, value in layer.items()]
    lines += ["[loss]", 'kind = "cross_entropy"', 'targets = ["0", "1", "0"]', "[data]",
              f"inputs = {json.dumps(document['data']['inputs'])}"]
    path.write_text("\n".join(lines) + "\n")
    assert main(["derive", str(path), "--format", "json", "--digits", "30"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["gradients"]) == len(network.parameters())
    backward = dict(result["program"]["backward"])
    assert backward["delta_o1"] == "out_o1 - t_o1"
    record = result["gradients"]["w_x4_h5"]
    assert record["compact"] == "delta_h5*x4"
    assert [f["expression"] for f in record["chain"]] == ["delta_h5", "x4"]
    assert main(["derive", str(path), "--wrt", "w_x4_h5", "--digits", "12"]) == 0
    text = capsys.readouterr().out
    assert "  delta_o1 = out_o1 - t_o1" in text
    assert f"∂E/∂w_x4_h5 = delta_h5*x4 = {result['gradients']['w_x4_h5']['value'][:13]}" in text
    for name in ("w_x4_h5", "w_h2_o1", "w_x0_h0"):
        with mpmath.workdps(40):
            expected = numeric_derivative(network, Quantity.loss(), Quantity.param(name), 30).value
            shown = mpmath.mpf(result["gradients"][name]["value"])
            assert abs(shown - expected) < mpmath.mpf(10) ** -25, (name, shown, expected)
