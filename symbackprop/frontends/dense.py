"""The dense front-end: a :class:`~symbackprop.frontends.network.Network` becomes the one graph.

Each unit is two nodes, ``net`` (the weighted sum of its sources and its bias) and ``out`` (its
activation of ``net``); each output has a loss term, and E reduces them over the samples.

>>> from symbackprop.frontends.loader import network_from_mapping
>>> graph = build_graph(network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["y"], "activation": "tanh", "weights": [["1"]], "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse"}}))
>>> [str(q) for q in graph.order]  # an input is the out of a unit with no net
['out(x)', 'w', 'net(y)', 'out(y)', 'E(y)', 'E']
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Mapping, Optional

import sympy as sp

from ..errors import InputError
from ..functions.activations import Activation, activation, softmax_outputs
from ..functions.losses import LossKind, loss_kind
from ..graph import (MAX_GRAPH_SAMPLES, Role, SymbolicGraph, check_graph_size, formula_size, local_derivatives,
                     product_of_symbols, reduced, too_many_samples)
from ..layout import BiasNames, LayerLayout, Layout, ParameterPlace
from ..numbers import as_rational
from ..quantity import Quantity, sampled
from .network import Bias, Layer, Loss, Network


def build_graph(network: Network) -> SymbolicGraph:
    """The dense network as a graph: net and out nodes per unit, a loss term per output, and E."""
    symbols: dict[Quantity, sp.Symbol] = {}
    definitions: dict[Quantity, sp.Expr] = {}
    roles: dict[Quantity, Role] = {}
    order: list[Quantity] = []

    def add(quantity: Quantity, name: str, role: Role, definition: Optional[sp.Expr] = None) -> sp.Symbol:
        symbols[quantity] = sp.Symbol(name)
        roles[quantity] = role
        order.append(quantity)
        if definition is not None:
            definitions[quantity] = definition
        return symbols[quantity]

    many = len(network.samples) > 1
    if len(network.samples) > MAX_GRAPH_SAMPLES:
        raise InputError(too_many_samples(len(network.samples)), place="data.inputs")
    indices = range(len(network.samples)) if many else (-1,)
    for unit in network.inputs:
        for sample in indices:
            add(Quantity.out(unit, sample), sampled(unit, sample), "input")
    for parameter in network.parameters():
        add(Quantity.param(parameter.name), parameter.name, "parameter")

    loss = network_loss(network)
    count = len(network.outputs)
    deltas: dict[str, sp.Symbol] = {}
    targets: dict[str, sp.Symbol] = {}
    for sample in indices:  # each sample's forward pass in turn, with symbols of its own
        for index, layer in enumerate(network.layers):
            rule = layer_activation(network.activations, layer.activation)
            alpha = as_rational(layer.alpha) if layer.alpha is not None else None
            sources = network.sources(index)
            nets = []
            for j, unit in enumerate(layer.units):
                deltas[sampled(unit, sample)] = sp.Symbol(sampled(f"delta_{unit}", sample))
                bias_name = layer.bias.name_for(j)
                net = unit_net([(symbols[Quantity.param(layer.weight_names[j][i])], symbols[Quantity.out(source, sample)])
                                for i, source in enumerate(sources)],
                               symbols[Quantity.param(bias_name)] if bias_name is not None else None)
                nets.append(add(Quantity.net(unit, sample), sampled(f"net_{unit}", sample), "node", net))
            formulas = layer_outs(rule, alpha, nets)
            for unit, formula in zip(layer.units, formulas):
                add(Quantity.out(unit, sample), sampled(f"out_{unit}", sample), "node", formula)
        for unit in network.outputs:
            target = targets[sampled(unit, sample)] = sp.Symbol(sampled(f"t_{unit}", sample))
            add(Quantity.loss_term(unit, sample), sampled(f"E_{unit}", sample), "node",
                loss.term(symbols[Quantity.out(unit, sample)], target, count))
        total = sp.Add(*[symbols[Quantity.loss_term(o, sample)] for o in network.outputs])
        if many:
            add(Quantity.loss(sample), sampled("E", sample), "node", total)
            if sample == 0:
                check_graph_size(sum(formula_size(d) for d in definitions.values()), len(indices), "data.inputs")
    if many:
        total = reduced(network.training.reduction, [symbols[Quantity.loss(sample)] for sample in indices])
    add(Quantity.loss(), "E", "loss", total)
    template = one_sample_template(network) if many else None

    return SymbolicGraph(
        symbols=symbols,
        definitions=definitions,
        consumers=local_derivatives(order, symbols, definitions),
        order=tuple(order),
        roles=roles,
        targets=targets,
        values=_dense_values(network, symbols, targets),
        missing=_dense_missing(network),
        layout=layout_of(network),
        deltas=deltas,
        outputs=network.outputs,
        loss_kind=network.loss.kind,
        learning_rate=network.learning_rate,
        frozen=frozenset() if network.update_biases else frozenset(
            p.name for p in network.parameters() if p.kind == "bias"),
        samples=_dense_samples(template, network) if many else (),
        training=network.training,
        title=network.title,
        one_sample=template,
    )


def one_sample_template(network: Network) -> "SymbolicGraph":
    """The graph of one sample of a network with several, without their numbers: what training runs on each."""
    return build_graph(dataclasses.replace(network, samples=(), data=None,
                                           loss=dataclasses.replace(network.loss, targets=None)))


def training_graph(network: Network) -> "SymbolicGraph":
    """The one-sample graph with every sample's numbers (``samples``): all that training needs, without the
    per-sample copies of every node that derive and check read."""
    if len(network.samples) <= 1:
        return build_graph(network)
    template = one_sample_template(network)
    return dataclasses.replace(template, samples=_dense_samples(template, network))


def layout_of(network: Network) -> Layout:
    """How the network's units sit in layers, without its numbers: what the graph keeps of the dense file."""
    layers = tuple(LayerLayout(layer.name, layer.units, layer.activation, layer.weight_names,
                               BiasNames(layer.bias.mode, layer.bias.names), layer.alpha, layer.sources)
                   for layer in network.layers)
    places = tuple(ParameterPlace(p.name, p.kind, p.layer_index, p.units, p.source) for p in network.parameters())
    custom = network.loss.kind == "custom"
    return Layout(network.inputs, layers, network.convention, network.is_classic, places, dict(network.activations),
                  network.loss.term if custom else None, network.loss.term_text if custom else "")


def network_of(graph: SymbolicGraph) -> Network:
    """The dense network a graph was built from, with the graph's numbers (its values, or its samples): what
    the dense finite-difference oracle reads, so that it never reads the graph's definitions and always
    its values, and what a worked example of one batch is built from.

    >>> from symbackprop.frontends.loader import load_network
    >>> network = load_network("examples/mazur.toml")
    >>> network_of(build_graph(network)) == network
    True
    """
    layout = graph.layout
    if layout is None:
        raise ValueError("a graph of formulas has no dense network")

    def numbers(symbols, values: Mapping[sp.Symbol, Fraction] = graph.values) -> Optional[tuple[Fraction, ...]]:
        found = tuple(values.get(symbol) for symbol in symbols)
        return None if not found or any(value is None for value in found) else found

    parameter = lambda name: graph.symbols[Quantity.param(name)]
    layers = []
    for layer in layout.layers:
        rows = [numbers(parameter(name) for name in row) for row in layer.weight_names]
        weights = None if any(row is None for row in rows) else tuple(rows)
        bias = Bias(layer.bias.mode, layer.bias.names, numbers(parameter(name) for name in layer.bias.names))
        layers.append(Layer(layer.name, layer.units, layer.activation, layer.weight_names, weights, bias, layer.alpha,
                            layer.sources))
    samples: tuple = ()
    if graph.samples:
        one = graph.one_sample
        inputs = [one.symbols[Quantity.out(name)] for name in layout.inputs]
        outputs = [one.targets[unit] for unit in layout.outputs]
        samples = tuple((numbers(inputs, row), numbers(outputs, row)) for row in graph.samples)
    data = numbers(graph.symbols[Quantity.out(name)] for name in layout.inputs) if not samples else None
    targets = numbers(graph.targets[unit] for unit in layout.outputs) if not samples else None
    return Network(layout.inputs, tuple(layers), Loss(graph.loss_kind, targets, layout.loss_term, layout.loss_text),
                   layout.convention, data=data, learning_rate=graph.learning_rate,
                   update_biases=not graph.frozen, activations=dict(layout.own_activations), samples=samples,
                   training=graph.training, title=graph.title)


def unit_net(pairs, bias: Optional[sp.Expr] = None) -> sp.Expr:
    """A unit's net: Σ weight·source over ``pairs`` (each product built once), plus its bias.

    >>> w1, w2, x1, x2, b = sp.symbols("w1 w2 x1 x2 b")
    >>> unit_net([(w1, x1), (w2, x2)], b)
    b + w1*x1 + w2*x2
    """
    terms = [product_of_symbols(weight, source) for weight, source in pairs]
    if bias is not None:
        terms.append(bias)
    return sp.Add(*terms)


def layer_outs(rule: Activation, alpha, nets: list[sp.Expr]) -> list[sp.Expr]:
    """Each unit's out: its activation of its net, or, for a softmax, the layer's softmax over all its nets."""
    return [rule.forward(net, alpha) for net in nets] if rule.elementwise else softmax_outputs(nets)


def layer_activation(own: Mapping[str, tuple[object, str]], name: str) -> Activation:
    """The activation a layer names: one the file defines (``own``: name -> formula in x, text), or a built-in
    one."""
    if name in own:
        formula, _ = own[name]
        x = sp.Symbol("x")
        return Activation(name, lambda net, alpha: formula.xreplace({x: net}))
    return activation(name)


def network_loss(network: Network) -> LossKind:
    """The loss a file gives: its own per-output term (a formula in out, t and n), or a built-in one."""
    return loss_of(network.loss)


def loss_of(loss: Loss) -> LossKind:
    """The rule of a file's ``[loss]``: its own term, or the registered kind it names."""
    if loss.kind == "custom":
        term = loss.term
        out, target, count = sp.symbols("out t n")
        return LossKind("custom", loss.term_text, lambda o, t, n: term.xreplace({out: o, target: t, count: sp.Integer(n)}))
    return loss_kind(loss.kind)


def _dense_values(network: Network, symbols: Mapping[Quantity, sp.Symbol],
                  targets: Mapping[str, sp.Symbol]) -> dict[sp.Symbol, Fraction]:
    values: dict[sp.Symbol, Fraction] = {}
    values.update((symbols[Quantity.param(p.name)], p.value) for p in network.parameters() if p.value is not None)
    rows = network.samples if network.samples else (
        [(network.data, network.loss.targets)] if network.data is not None or network.loss.targets is not None else [])
    for sample, (inputs, outputs) in enumerate(rows):
        sample = sample if len(rows) > 1 else -1
        if inputs is not None:
            values.update((symbols[Quantity.out(name, sample)], v) for name, v in zip(network.inputs, inputs))
        if outputs is not None:
            values.update((targets[sampled(unit, sample)], v) for unit, v in zip(network.outputs, outputs))
    return values


def _dense_samples(template: "SymbolicGraph", network: Network) -> tuple[dict[sp.Symbol, Fraction], ...]:
    """Each sample's inputs and targets, keyed by the one-sample graph's symbols (what training runs)."""
    inputs = [template.symbols[Quantity.out(name)] for name in network.inputs]
    outputs = [template.targets[unit] for unit in network.outputs]
    return tuple({**dict(zip(inputs, row_in)), **dict(zip(outputs, row_t))} for row_in, row_t in network.samples)


def _dense_missing(network: Network) -> str:
    if network.has_numbers or (network.samples and all(layer.weights is not None for layer in network.layers)
                               and all(layer.bias.mode == "none" or layer.bias.values is not None
                                       for layer in network.layers)):
        return ""
    missing = []
    if network.data is None:
        missing.append("[data] inputs")
    if network.loss.targets is None:
        missing.append("loss.targets")
    if any(layer.weights is None for layer in network.layers):
        missing.append("weights")
    return ", ".join(missing) or "bias values"
