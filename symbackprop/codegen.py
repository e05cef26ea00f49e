"""Float64 code from the symbolic derivation: the loss and every gradient over a batch, in NumPy.

Two generators, one contract (:class:`BatchFunction`):

* :func:`program_function`, for small networks: the straight-line program
  itself, handed to ``sympy.lambdify`` with the program as its common
  subexpressions, so every line of the generated code is a line of the
  symbolic derivation, vectorised over the batch.
* :func:`layer_function`, for large ones: one matrix product per layer, with
  each activation's derivative and each loss's δ compiled from the registry's
  symbolic rules (softmax + cross-entropy: δ = out·Σt − t, which is out − t for distributions).

Only the engine's own expressions become code, with every symbol renamed to
``v0, v1, …`` first: no text from a network file ever reaches the generated
source. Both return the batch's per-sample losses and the gradient averaged
over the batch.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Mapping

import sympy as sp

from .activations import activation
from .graph import SymbolicGraph
from .losses import loss_kind
from .network import Network
from .quantity import Quantity

#: Parameter counts up to which :func:`compile_gradients` uses the program; per-layer NumPy above.
PROGRAM_LIMIT = 300
#: How far a sample's targets may sum from 1 and still take the out − t collapse (its error is at most this times out).
DISTRIBUTION_SLACK = 1e-12


@dataclass(frozen=True)
class BatchFunction:
    """``loss_and_gradients(inputs, targets, parameters)`` → (per-sample losses, mean gradient).

    ``inputs`` and ``targets`` are arrays with a row per sample; ``parameters``
    and the gradient are vectors in the order of :attr:`parameters` (file order).
    """

    parameters: tuple[str, ...]
    kind: str  # "program" or "layers"
    loss_and_gradients: Callable
    loss_only: Callable

    def vector(self, values: Mapping[str, float]):
        """Parameter values by name as the vector the functions take."""
        import numpy as np

        return np.array([float(values[name]) for name in self.parameters])

    def named(self, gradient) -> dict[str, float]:
        """A gradient vector as a mapping from parameter name to value."""
        return dict(zip(self.parameters, (float(value) for value in gradient)))


@functools.lru_cache(maxsize=1)
def _numpy_functions() -> dict:
    """NumPy forms of our functions: each function's own implementation (its explicit definition,
    lambdified; softmax shifted by its largest argument), and softplus as logaddexp(0, x), the same
    formula arranged not to overflow."""
    import numpy as np

    from . import activations

    functions = {name: getattr(activations, name)._imp_ for name in ("sigmoid", "relu", "leaky_relu", "softmax")}
    functions["abs"] = np.abs
    functions["softplus"] = lambda x: np.logaddexp(0.0, x)
    functions["Heaviside"] = lambda x, at_zero=0.0: np.heaviside(x, at_zero)
    return functions


def targets_are_distributions(batch_targets) -> bool:
    """Whether every sample's targets sum to 1 (within 1e-12), as the out − t collapse needs.

    >>> targets_are_distributions([[0.1, 0.2, 0.7]]), targets_are_distributions([[0.5, 0.7]])
    (True, False)
    """
    import numpy as np

    sums = np.asarray(batch_targets, dtype=float).sum(axis=1)
    return bool(np.all(np.abs(sums - 1.0) <= DISTRIBUTION_SLACK))


def _collapses(network: Network) -> bool:
    """Whether the output δ has a softmax + cross-entropy collapse whose precondition is Σ t = 1."""
    return network is not None and network.loss.kind == "cross_entropy" and len(network.outputs) > 1 and not activation(
        network.layers[-1].activation).elementwise


def program_function(graph: SymbolicGraph) -> BatchFunction:
    """Lambdified straight-line program; columns of ``inputs``/``targets`` follow the file's order.

    Where the output δ collapses to out − t (softmax + cross-entropy), a batch whose targets are
    not all distributions runs a second program with the general δ, compiled when first needed.
    """
    import numpy as np

    collapsed = _compiled_program(graph, targets_sum_to_one=True)
    general = functools.lru_cache(maxsize=1)(lambda: _compiled_program(graph, targets_sum_to_one=False))
    guarded = _collapses(graph.network)

    def choose(batch_targets):
        return general() if guarded and not targets_are_distributions(batch_targets) else collapsed

    def columns(batch_inputs, batch_targets, vector):
        return [*np.asarray(batch_inputs, dtype=float).T, *np.asarray(batch_targets, dtype=float).T, *vector]

    def loss_and_gradients(batch_inputs, batch_targets, vector):
        size = len(batch_inputs)
        compiled_all, _ = choose(batch_targets)
        loss, *gradients = compiled_all(*columns(batch_inputs, batch_targets, vector), np.ones(size))
        # one stacked mean, not one NumPy call per parameter
        return np.broadcast_to(loss, (size,)), np.stack(np.broadcast_arrays(*gradients)).mean(axis=1)

    def loss_only(batch_inputs, batch_targets, vector):
        _, compiled_loss = collapsed  # the forward pass has no collapse
        return np.broadcast_to(compiled_loss(*columns(batch_inputs, batch_targets, vector)), (len(batch_inputs),))

    return BatchFunction(tuple(graph.parameters()), "program", loss_and_gradients, loss_only)


def _compiled_program(graph: SymbolicGraph, targets_sum_to_one: bool):
    """(loss and gradients, loss only) as lambdified functions of inputs, targets and parameters."""
    from .program import straight_line_program

    program = straight_line_program(graph, targets_sum_to_one)
    inputs = [graph.symbols[q] for q in graph.order if graph.roles[q] == "input"]
    targets = graph.target_symbols()
    names = tuple(graph.parameters())
    parameters = [graph.symbols[Quantity.param(name)] for name in names]
    leaves = inputs + targets + parameters
    assigned = [symbol for symbol, _ in program.forward + program.backward]
    renamed = {symbol: sp.Symbol(f"v{index}") for index, symbol in enumerate(leaves + assigned)}

    def rename(expression):
        return expression.xreplace(renamed)

    loss_assignments = [(renamed[s], rename(e)) for s, e in program.forward]
    all_assignments = loss_assignments + [(renamed[s], rename(e)) for s, e in program.backward]
    arguments = [renamed[s] for s in leaves]
    modules = [_numpy_functions(), "numpy"]
    loss_symbol = renamed[program.loss]
    ones = sp.Symbol("ones")  # gives every gradient the batch's shape, constants included
    compiled_all = sp.lambdify(arguments + [ones], [loss_symbol] + [rename(program.gradients[n]) * ones for n in names],
                               modules=modules, cse=lambda expressions: (all_assignments, expressions))
    compiled_loss = sp.lambdify(arguments, loss_symbol, modules=modules,
                                cse=lambda expressions: (loss_assignments, expressions))
    return compiled_all, compiled_loss


def _elementwise(expression: sp.Expr, variables: list[sp.Symbol]):
    return sp.lambdify(variables, expression, modules=[_numpy_functions(), "numpy"])


def layer_function(network: Network) -> BatchFunction:
    """Per-layer NumPy: X·W + b forward, δ·Wᵀ backward, rules compiled from the registries."""
    import numpy as np

    net, out, target, alpha = sp.symbols("net out target alpha")
    count = len(network.outputs)
    loss = loss_kind(network.loss.kind)
    loss_term = _elementwise(loss.term(out, target, count), [out, target])
    loss_derivative = _elementwise(loss.derivative(out, target, count), [out, target])
    layers = []
    for index, layer in enumerate(network.layers):
        rule = activation(layer.activation)
        slope = float(layer.alpha) if layer.alpha is not None else 0.0
        if rule.elementwise:
            forward = _elementwise(rule.forward(net, alpha), [net, alpha])
            derivative = _elementwise(rule.derivative(net, out, alpha), [net, out, alpha])
        else:
            forward = derivative = None
        layers.append((layer, rule, slope, forward, derivative))
    collapse = _collapses(network)
    names = tuple(p.name for p in network.parameters())

    position = {name: index for index, name in enumerate(names)}
    # Where each weight and bias sits in the parameter vector, as index arrays: one gather per layer.
    weight_index, bias_index, shared = [], [], []
    for index, (layer, *_rest) in enumerate(layers):
        sources = network.sources(index)
        weight_index.append(np.array([[position[layer.weight_names[j][i]] for j in range(len(layer.units))]
                                      for i in range(len(sources))]))  # sources × units, whatever the convention
        if layer.bias.mode == "none":
            bias_index.append(None)
        else:
            bias_index.append(np.array([position[layer.bias.name_for(j)] for j in range(len(layer.units))]))
        shared.append(layer.bias.mode == "shared")

    def matrices(vector):
        vector = np.asarray(vector, dtype=float)
        return [(vector[w], vector[b] if b is not None else 0.0) for w, b in zip(weight_index, bias_index)]

    def run_forward(batch_inputs, shaped):
        activations = [np.asarray(batch_inputs, dtype=float)]
        nets = []
        for (layer, rule, slope, forward, _), (weights, bias) in zip(layers, shaped):
            z = activations[-1] @ weights + bias
            nets.append(z)
            if forward is not None:
                activations.append(np.broadcast_to(forward(z, slope), z.shape))
            else:
                shifted = np.exp(z - z.max(axis=1, keepdims=True))
                activations.append(shifted / shifted.sum(axis=1, keepdims=True))
        return nets, activations

    def loss_only(batch_inputs, batch_targets, vector):
        _, activations = run_forward(batch_inputs, matrices(vector))
        return np.sum(loss_term(activations[-1], np.asarray(batch_targets, dtype=float)), axis=1)

    def loss_and_gradients(batch_inputs, batch_targets, vector):
        shaped = matrices(vector)
        nets, activations = run_forward(batch_inputs, shaped)
        targets = np.asarray(batch_targets, dtype=float)
        final = activations[-1]
        losses = np.sum(loss_term(final, targets), axis=1)
        size = final.shape[0]
        if collapse:
            # Softmax + cross-entropy: δ_j = Σ_k (−t_k/o_k)·o_k(1[k=j] − o_j) = o_j·Σt − t_j exactly, for any
            # targets (out − t where they sum to 1), without the −t/o that underflows.
            delta = final * targets.sum(axis=1, keepdims=True) - targets
        else:
            upstream = np.broadcast_to(loss_derivative(final, targets), final.shape)
            delta = _through(layers[-1], nets[-1], final, upstream)
        gradient = np.zeros(len(names))
        for index in range(len(layers) - 1, -1, -1):
            weights, _ = shaped[index]
            gradient[weight_index[index]] = activations[index].T @ delta / size
            if bias_index[index] is not None:
                parts = delta.sum(axis=0) / size
                if shared[index]:  # one bias for every unit: its index repeats, so add the parts up
                    np.add.at(gradient, bias_index[index], parts)
                else:
                    gradient[bias_index[index]] = parts
            if index:
                upstream = delta @ weights.T
                delta = _through(layers[index - 1], nets[index - 1], activations[index], upstream)
        return losses, gradient

    def _through(entry, z, a, upstream):
        _, rule, slope, _, derivative = entry
        if derivative is not None:
            return upstream * derivative(z, a, slope)
        # softmax: ∂E/∂net_j = out_j (g_j − Σ_k g_k out_k), every cross-output term included
        return a * (upstream - np.sum(upstream * a, axis=1, keepdims=True))

    return BatchFunction(names, "layers", loss_and_gradients, loss_only)


def compile_gradients(model: "Network | SymbolicGraph") -> BatchFunction:
    """Float64 loss and gradients over a batch: the program for small networks, per-layer NumPy for large ones.

    Correct for any targets: the softmax + cross-entropy collapse to out − t is used only on
    batches whose targets are distributions.
    """
    from .graph import build_graph

    graph = model if isinstance(model, SymbolicGraph) else build_graph(model)
    network = graph.network
    if network is None or not network.is_classic or len(network.parameters()) <= PROGRAM_LIMIT:
        return program_function(graph)
    return layer_function(network)
