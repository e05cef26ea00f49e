"""Float64 code from the symbolic derivation: the loss and every gradient over a batch, in NumPy.

Two generators, one contract (:class:`BatchFunction`):

* :func:`program_function`, for small networks: the straight-line program
  itself, handed to ``sympy.lambdify`` with the program as its common
  subexpressions, so every line of the generated code is a line of the
  symbolic derivation, vectorised over the batch.
* :func:`layer_function`, for large ones: one matrix product per layer, with
  each layer's activation and local derivatives read from the graph's edges and
  the output δs from the engine, lambdified over the batch.

Only the engine's own expressions become code, with every symbol renamed to
``v0, v1, …`` first: no text from a network file ever reaches the generated
source. Both return the batch's per-sample losses and the gradient averaged
over the batch.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import sympy as sp

from ..engine.chain import Engine
from ..engine.program import straight_line_program
from ..errors import InputError
from ..frontends.coerce import as_graph
from ..frontends.network import Network
from ..functions.activations import softmax, softmax_array
from ..functions.registry import numpy_forms
from ..graph import SymbolicGraph
from ..quantity import Quantity


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


def _check_numpy_forms(graph: SymbolicGraph) -> None:
    """Refuse, before code is generated, a function (in a definition or a local derivative) that has no
    NumPy form: the generated function would raise on its first call."""
    from sympy.printing.numpy import NumPyPrinter

    known = set(numpy_forms())
    expressions = list(graph.definitions.values()) + [local for edges in graph.consumers.values() for _, local in edges]
    seen: set[type] = set()
    for expression in expressions:
        for function in expression.atoms(sp.Function):
            kind = type(function)
            if kind in seen or kind.__name__ in known:
                continue
            seen.add(kind)
            printer = NumPyPrinter()
            printer.doprint(function)
            if printer._not_supported:
                raise InputError(f"float64 code has no NumPy form for {kind.__name__}: use the exact engine "
                                 "(derive, check) for this graph", place="graph")


def targets_are_distributions(batch_targets) -> bool:
    """Whether every sample's targets sum to 1 (within 1e-12), as the out − t collapse needs.

    >>> targets_are_distributions([[0.1, 0.2, 0.7]]), targets_are_distributions([[0.5, 0.7]])
    (True, False)
    """
    import numpy as np

    sums = np.asarray(batch_targets, dtype=float).sum(axis=1)
    return bool(np.all(np.abs(sums - 1.0) <= DISTRIBUTION_SLACK))


def _collapses(graph: SymbolicGraph) -> bool:
    """Whether the engine may tidy an output δ with Σ t = 1 (the condition of its softmax + cross-entropy collapse)."""
    return graph.targets_form_a_distribution


def program_function(graph: SymbolicGraph) -> BatchFunction:
    """Lambdified straight-line program; columns of ``inputs``/``targets`` follow the file's order.

    Where the output δ collapses to out − t (softmax + cross-entropy), a batch whose targets are
    not all distributions runs a second program with the general δ, compiled when first needed.
    """
    import numpy as np

    collapsed = _compiled_program(graph, targets_sum_to_one=True)
    general = functools.lru_cache(maxsize=1)(lambda: _compiled_program(graph, targets_sum_to_one=False))
    guarded = _collapses(graph)

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
    modules = [numpy_forms(), "numpy"]
    loss_symbol = renamed[program.loss]
    ones = sp.Symbol("ones")  # gives every gradient the batch's shape, constants included
    compiled_all = sp.lambdify(arguments + [ones], [loss_symbol] + [rename(program.gradients[n]) * ones for n in names],
                               modules=modules, cse=lambda expressions: (all_assignments, expressions))
    compiled_loss = sp.lambdify(arguments, loss_symbol, modules=modules,
                                cse=lambda expressions: (loss_assignments, expressions))
    return compiled_all, compiled_loss


def _elementwise(expression: sp.Expr, variables: list[sp.Symbol]):
    return sp.lambdify(variables, expression, modules=[numpy_forms(), "numpy"])


@dataclass(frozen=True)
class _LayerRules:
    """One dense layer's rules, each read from the graph's first unit (every unit of a layer has the
    same function): the activation, and its local derivatives as functions of (net, out)."""

    forward: Callable  # net → out, elementwise; None for a softmax layer
    derivative: Callable  # (net, out) → ∂out/∂net, elementwise; for a softmax, the diagonal entry
    cross: Optional[Callable]  # a softmax's off-diagonal entry ∂out_k/∂net_j as a function of (out_k, out_j)


def _layer_rules(graph: SymbolicGraph, units: tuple[str, ...]) -> _LayerRules:
    net, out, other = sp.symbols("net out other")
    first = units[0]
    own = {graph.symbols[Quantity.net(first)]: net, graph.symbols[Quantity.out(first)]: out}
    definition = graph.definitions[Quantity.out(first)]
    edges = dict(graph.consumers[Quantity.net(first)])
    derivative = _elementwise(edges[Quantity.out(first)].xreplace(own), [net, out])
    if not isinstance(definition, softmax):
        return _LayerRules(_elementwise(definition.xreplace(own), [net]), derivative, None)
    cross = None
    if len(units) > 1:  # ∂out_first/∂net_second, from the edge net_second → out_first
        second = units[1]
        local = dict(graph.consumers[Quantity.net(second)])[Quantity.out(first)]
        cross = _elementwise(local.xreplace({**own, graph.symbols[Quantity.out(second)]: other}), [out, other])
    return _LayerRules(None, derivative, cross)


def layer_function(graph: SymbolicGraph) -> BatchFunction:
    """Per-layer NumPy for a dense graph: X·W + b forward, δ·Wᵀ backward.

    Every rule is the graph's: each layer's activation and local derivatives are its first unit's
    definition and edges, lambdified over the batch (a softmax layer's Jacobian from its edges
    net_j → out_k); the loss is the first output's loss term; the output δs are the engine's,
    tidied where their preconditions hold (softmax + cross-entropy → out − t only for batches whose
    targets are distributions, the general δ otherwise).
    """
    import numpy as np

    layout = graph.layout
    outputs = graph.outputs
    out, target = sp.symbols("out target")
    first_term = graph.definitions[Quantity.loss_term(outputs[0])]
    loss_term = _elementwise(first_term.xreplace({graph.symbols[Quantity.out(outputs[0])]: out,
                                                  graph.targets[outputs[0]]: target}), [out, target])
    rules = [_layer_rules(graph, layer.units) for layer in layout.layers]
    engine = Engine(graph)
    columns = [graph.symbols[Quantity.out(u)] for u in outputs] + [graph.targets[u] for u in outputs] + \
        [graph.symbols[Quantity.net(u)] for u in outputs]

    renamed = {symbol: sp.Symbol(f"v{index}") for index, symbol in enumerate(columns)}  # no file name in the code

    @functools.lru_cache(maxsize=2)
    def output_deltas(targets_sum_to_one: bool):
        deltas = engine.output_deltas(targets_sum_to_one)
        return _elementwise([deltas[u].xreplace(renamed) for u in outputs], [renamed[c] for c in columns])

    names = tuple(graph.parameters())
    position = {name: index for index, name in enumerate(names)}
    # Where each weight and bias sits in the parameter vector, as index arrays: one gather per layer.
    weight_index, bias_index, shared = [], [], []
    for index, layer in enumerate(layout.layers):
        sources = layout.sources(index)
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
        for rule, (weights, bias) in zip(rules, shaped):
            z = activations[-1] @ weights + bias
            nets.append(z)
            a = softmax_array(z, axis=1) if rule.forward is None else rule.forward(z)
            activations.append(np.broadcast_to(a, z.shape))
        return nets, activations

    def loss_only(batch_inputs, batch_targets, vector):
        _, activations = run_forward(batch_inputs, matrices(vector))
        return np.sum(loss_term(activations[-1], np.asarray(batch_targets, dtype=float)), axis=1)

    def through(rule: _LayerRules, z, a, upstream):
        """∂E/∂net from ∂E/∂out: elementwise, or through the softmax Jacobian (every cross term)."""
        diagonal = np.broadcast_to(rule.derivative(z, a), a.shape)
        if rule.forward is not None:
            return upstream * diagonal
        jacobian = np.broadcast_to(rule.cross(a[:, :, None], a[:, None, :]), a.shape + a.shape[1:]).copy() \
            if rule.cross is not None else np.zeros(a.shape + a.shape[1:])
        rows = np.arange(a.shape[1])
        jacobian[:, rows, rows] = diagonal  # jacobian[b, k, j] = ∂out_k/∂net_j
        return np.einsum("bk,bkj->bj", upstream, jacobian)

    def loss_and_gradients(batch_inputs, batch_targets, vector):
        shaped = matrices(vector)
        nets, activations = run_forward(batch_inputs, shaped)
        targets = np.asarray(batch_targets, dtype=float)
        final = activations[-1]
        losses = np.sum(loss_term(final, targets), axis=1)
        size = final.shape[0]
        deltas = output_deltas(targets_are_distributions(targets))
        delta = np.stack(np.broadcast_arrays(*deltas(*final.T, *targets.T, *nets[-1].T)), axis=1)
        gradient = np.zeros(len(names))
        for index in range(len(rules) - 1, -1, -1):
            weights, _ = shaped[index]
            gradient[weight_index[index]] = activations[index].T @ delta / size
            if bias_index[index] is not None:
                parts = delta.sum(axis=0) / size
                if shared[index]:  # one bias for every unit: its index repeats, so add the parts up
                    np.add.at(gradient, bias_index[index], parts)
                else:
                    gradient[bias_index[index]] = parts
            if index:
                delta = through(rules[index - 1], nets[index - 1], activations[index], delta @ weights.T)
        return losses, gradient

    return BatchFunction(names, "layers", loss_and_gradients, loss_only)


def compile_gradients(model: "Network | SymbolicGraph") -> BatchFunction:
    """Float64 loss and gradients over a batch: the program for small networks, per-layer NumPy for large ones.

    Correct for any targets: the softmax + cross-entropy collapse to out − t is used only on
    batches whose targets are distributions.
    """
    graph = as_graph(model, "compile_gradients")
    _check_numpy_forms(graph)
    layout = graph.layout
    if layout is None or not layout.is_classic or len(layout.parameters()) <= PROGRAM_LIMIT:
        return program_function(graph)
    return layer_function(graph)
