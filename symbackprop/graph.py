"""The symbolic graph: a fresh SymPy symbol for every node, and local derivatives on every edge.

Quantities are the vertices: ``net(u)``, ``out(u)``, every parameter, ``E(o)``
(output o's term of the loss) and ``E``. Each non-leaf quantity has a
*definition* in the symbols of the quantities it reads (``net_h1 = w1*i1 +
w2*i2 + b1``), never in the layers further back: one layer is never inlined
into the next, which is what keeps derivatives small. Each edge v → u carries
the local derivative ∂u/∂v, also in node symbols.

>>> from symbackprop.loader import network_from_mapping
>>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["y"], "activation": "sigmoid", "weights": [["1"]], "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse"}})
>>> graph = build_graph(net)
>>> graph.definition(Quantity.net("y")), graph.definition(Quantity.out("y"))
(w*x, sigmoid(net_y))
>>> graph.consumers[Quantity.net("y")]
((Quantity(kind='out', name='y'), out_y*(1 - out_y)),)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from .activations import activation, softmax_derivative, softmax_outputs
from .errors import InputError
from .losses import loss_kind
from .network import Network
from .quantity import Quantity

Edge = tuple[Quantity, sp.Expr]


@dataclass(frozen=True)
class SymbolicGraph:
    """Symbols, definitions and local derivatives of one network."""

    network: Network
    symbols: Mapping[Quantity, sp.Symbol]
    definitions: Mapping[Quantity, sp.Expr]
    consumers: Mapping[Quantity, tuple[Edge, ...]]  # v -> ((u, ∂u/∂v), ...)
    order: tuple[Quantity, ...]  # forward (topological) order
    targets: Mapping[str, sp.Symbol]  # output unit -> t symbol
    deltas: Mapping[str, sp.Symbol]  # unit -> δ symbol (∂E/∂net)

    def symbol(self, quantity: Quantity) -> sp.Symbol:
        return self.symbols[quantity]

    def definition(self, quantity: Quantity) -> sp.Expr:
        return self.definitions[quantity]

    def parameters(self) -> list[str]:
        return [q.name for q in self.order if q.kind == "param"]

    def validate(self, quantity: Quantity, place: str = "") -> Quantity:
        """The quantity itself, or an :class:`InputError` when the network has no such thing."""
        if quantity in self.symbols:
            return quantity
        network = self.network
        units = set(network.inputs) | {u for layer in network.layers for u in layer.units}
        if quantity.kind == "param":
            problem = f"no parameter or unit value named {quantity.name!r}"
            if quantity.name in units:
                problem += f"; did you mean out({quantity.name})?"
        elif quantity.kind == "net" and quantity.name in network.inputs:
            problem = f"{quantity.name!r} is an input: it has out({quantity.name}) but no net"
        elif quantity.kind == "loss_term":
            problem = f"{quantity.name!r} is not an output unit (outputs: {', '.join(network.outputs)})"
        else:
            problem = f"no unit named {quantity.name!r}"
        raise InputError(problem, place=place)

    def is_leaf(self, quantity: Quantity) -> bool:
        return quantity not in self.definitions

    def target_symbols(self) -> list[sp.Symbol]:
        return [self.targets[o] for o in self.network.outputs]


def build_graph(network: Network) -> SymbolicGraph:
    """Build symbols, definitions and local derivatives for ``network``."""
    symbols: dict[Quantity, sp.Symbol] = {}
    definitions: dict[Quantity, sp.Expr] = {}
    consumers: dict[Quantity, list[Edge]] = {}
    order: list[Quantity] = []

    def add(quantity: Quantity, name: str) -> sp.Symbol:
        symbols[quantity] = sp.Symbol(name)
        consumers[quantity] = []
        order.append(quantity)
        return symbols[quantity]

    for unit in network.inputs:
        add(Quantity.out(unit), unit)
    for parameter in network.parameters():
        add(Quantity.param(parameter.name), parameter.name)

    deltas: dict[str, sp.Symbol] = {}
    for index, layer in enumerate(network.layers):
        rule = activation(layer.activation)
        alpha = sp.Rational(layer.alpha.numerator, layer.alpha.denominator) if layer.alpha is not None else None
        sources = network.sources(index)
        nets = []
        for j, unit in enumerate(layer.units):
            net = add(Quantity.net(unit), f"net_{unit}")
            deltas[unit] = sp.Symbol(f"delta_{unit}")
            terms = []
            for i, source in enumerate(sources):
                weight = Quantity.param(layer.weight_names[j][i])
                source_out = Quantity.out(source)
                terms.append(symbols[weight] * symbols[source_out])
                consumers[weight].append((Quantity.net(unit), symbols[source_out]))
                consumers[source_out].append((Quantity.net(unit), symbols[weight]))
            bias_name = layer.bias.name_for(j)
            if bias_name is not None:
                terms.append(symbols[Quantity.param(bias_name)])
                consumers[Quantity.param(bias_name)].append((Quantity.net(unit), sp.Integer(1)))
            definitions[Quantity.net(unit)] = sp.Add(*terms)
            nets.append(net)
        outs = [add(Quantity.out(unit), f"out_{unit}") for unit in layer.units]
        if rule.elementwise:
            for unit, net, out in zip(layer.units, nets, outs):
                definitions[Quantity.out(unit)] = rule.forward(net, alpha)
                consumers[Quantity.net(unit)].append((Quantity.out(unit), rule.derivative(net, out, alpha)))
        else:
            for unit, formula in zip(layer.units, softmax_outputs(nets)):
                definitions[Quantity.out(unit)] = formula
            for j, unit in enumerate(layer.units):
                consumers[Quantity.net(unit)].extend(
                    (Quantity.out(other), softmax_derivative(outs[k], outs[j], k == j))
                    for k, other in enumerate(layer.units)
                )

    loss = loss_kind(network.loss.kind)
    count = len(network.outputs)
    targets: dict[str, sp.Symbol] = {}
    for unit in network.outputs:
        targets[unit] = sp.Symbol(f"t_{unit}")
        out = symbols[Quantity.out(unit)]
        add(Quantity.loss_term(unit), f"E_{unit}")
        definitions[Quantity.loss_term(unit)] = loss.term(out, targets[unit], count)
        consumers[Quantity.out(unit)].append((Quantity.loss_term(unit), loss.derivative(out, targets[unit], count)))
    add(Quantity.loss(), "E")
    definitions[Quantity.loss()] = sp.Add(*[symbols[Quantity.loss_term(o)] for o in network.outputs])
    for unit in network.outputs:
        consumers[Quantity.loss_term(unit)].append((Quantity.loss(), sp.Integer(1)))

    return SymbolicGraph(
        network=network,
        symbols=symbols,
        definitions=definitions,
        consumers={q: tuple(edges) for q, edges in consumers.items()},
        order=tuple(order),
        targets=targets,
        deltas=deltas,
    )
