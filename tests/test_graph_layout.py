"""The graph is the one centre: a dense graph keeps only a layout (no numbers), and every number is the graph's.

The dense finite-difference oracle reads a Network rebuilt from the layout and the graph's values, so a
graph whose values changed is checked at its own numbers, not at the file's.
"""
from __future__ import annotations

import dataclasses
import re
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from symbackprop.errors import InputError
from symbackprop.frontends.coerce import as_layout, batch_graph
from symbackprop.frontends.dense import build_graph, network_of
from symbackprop.frontends.loader import load_model, load_network
from symbackprop.oracle.check import check_gradients
from symbackprop.oracle.numeric import loss_at
from symbackprop.quantity import Quantity
from symbackprop.reports.diagram import network_dot

from .oracle import diff_gradient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DENSE = sorted(path for path in EXAMPLES.glob("*.toml") if "[network]" in path.read_text())


@pytest.mark.parametrize("path", DENSE, ids=lambda path: path.stem)
def test_the_dense_description_is_rebuilt_from_the_graph_alone(path):
    network = load_network(path)
    graph = build_graph(network)
    assert network_of(graph) == network
    assert graph.layout.is_classic == network.is_classic
    assert [p.name for p in graph.layout.parameters()] == [p.name for p in network.parameters()]


def test_the_layout_holds_no_numbers():
    layout = build_graph(load_network(EXAMPLES / "mazur.toml")).layout
    numbers = [value for layer in layout.layers for value in vars(layer).values() if isinstance(value, Fraction)]
    assert not numbers and not hasattr(layout.layers[0], "weights")


def test_a_graph_with_new_values_is_checked_at_its_own_numbers():
    """The graph carried the file's Network before: an oracle reading it checked a changed graph at the old
    numbers, and every gradient the changed weight touches was a mismatch."""
    network = load_network(EXAMPLES / "mazur.toml")
    graph = build_graph(network)
    changed = {"w5": Fraction(1, 2), "w1": Fraction(-3, 10)}
    values = {**graph.values, **{graph.symbols[Quantity.param(n)]: v for n, v in changed.items()}}
    report = check_gradients(dataclasses.replace(graph, values=values), digits=20)
    assert {row.status for row in report.rows} == {"ok"}
    moved = network.with_parameter_values(changed)
    for row in report.rows:  # and the numbers are those of the moved network, by sympy.diff of the composed loss
        expected = diff_gradient(moved, row.name, 40)
        with mpmath.workdps(40):
            assert abs(row.analytic - mpmath.mpf(str(expected))) <= mpmath.mpf(10) ** -17 * abs(row.analytic)


def test_one_batch_of_a_dense_graph_keeps_its_layers_and_the_given_parameters():
    graph = build_graph(load_network(EXAMPLES / "xor.toml"))
    part = batch_graph(graph, [1, 2], {"w_x1_h1": Fraction(2)})
    assert part.layout == graph.layout and len(part.samples) == 2
    assert part.values[part.symbols[Quantity.param("w_x1_h1")]] == 2
    one = batch_graph(graph, [3], {})
    assert not one.samples and one.values[one.symbols[Quantity.out("x1")]] == 1  # sample 3 is (1, 1) → 0
    assert one.values[one.targets["y"]] == 0


def test_a_diagram_of_several_samples_shows_their_loss():
    """E over XOR's four samples (their mean ½SSE), against the dense oracle on each sample alone."""
    from symbackprop.engine.chain import Engine

    network = load_network(EXAMPLES / "xor.toml")
    dot = network_dot(network, Engine(network))
    shown = re.search(r'"E" \[label="E = ([0-9.]+)"', dot).group(1)
    with mpmath.workdps(40):
        losses = [loss_at(dataclasses.replace(network, samples=(), data=inputs,
                                              loss=dataclasses.replace(network.loss, targets=targets)), {}, 30)
                  for inputs, targets in network.samples]
        assert shown == mpmath.nstr(sum(losses) / len(losses), 4)


def test_a_diagram_of_layers_takes_a_network_a_graph_or_a_model_and_refuses_formulas():
    network = load_network(EXAMPLES / "mazur.toml")
    assert network_dot(network) == network_dot(build_graph(network)) == network_dot(as_layout(network))
    formulas = load_model(EXAMPLES / "graphs" / "residual.toml")
    with pytest.raises(InputError, match="no layers"):
        network_dot(formulas)
