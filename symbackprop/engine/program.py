"""The straight-line program: forward pass and every gradient as assignments, linear in the network's size.

Reverse accumulation with a fresh symbol per adjoint: each unit gets
``delta_u = ∂E/∂net(u)`` defined from the δs of the layer after it, and each
gradient is a product such as ``delta_h1*i1``. Nothing is inlined across
layers, so the program of the forward pass plus all gradients stays within a
small constant of the forward pass alone (the cheap-gradient principle), where
per-weight expressions grow with depth.

Softmax layers need ∂E/∂out(u) of every output of the layer, so those units
also get ``dout_u``; an output layer's δ is tidied where it is formed
(softmax + cross-entropy becomes ``out - t``), exactly as in
:meth:`~symbackprop.engine.chain.Engine.simplified`.

>>> from symbackprop.frontends.loader import network_from_mapping
>>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["h"], "activation": "sigmoid", "weight_names": [["v"]]},
...     {"units": ["y"], "activation": "linear", "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse"}})
>>> program = straight_line_program(build_graph(net))
>>> program.backward
((delta_y, out_y - t_y), (delta_h, delta_y*out_h*w*(1 - out_h)))
>>> program.gradients["v"], program.gradients["w"]
(delta_h*x, delta_y*out_h)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import mpmath
import sympy as sp

from ..frontends.dense import build_graph
from ..functions.evaluate import evaluate_named
from ..graph import SymbolicGraph, product_of_symbols
from ..numbers import to_mpf
from ..quantity import Quantity, sampled
from .sweep import reverse_sweep
from .tidy import OutputDeltas


Assignment = tuple[sp.Symbol, sp.Expr]

__all__ = ["Program", "straight_line_program", "build_graph", "operation_count"]


@dataclass(frozen=True)
class Program:
    """Assignments in order: the forward pass, then the adjoints; gradients read the adjoints."""

    forward: tuple[Assignment, ...]
    backward: tuple[Assignment, ...]
    gradients: Mapping[str, sp.Expr]  # parameter name -> expression in node and adjoint symbols
    loss: sp.Symbol
    # parameter name -> its chain rule: (the vertex it feeds, that vertex's adjoint, the local ∂) per term
    chains: Mapping[str, tuple[tuple[Quantity, sp.Expr, sp.Expr], ...]]

    def forward_operations(self) -> int:
        return sum(operation_count(expression) for _, expression in self.forward)

    def gradient_operations(self) -> int:
        """Operations of the backward assignments and the gradient expressions."""
        backward = sum(operation_count(expression) for _, expression in self.backward)
        return backward + sum(operation_count(expression) for expression in self.gradients.values())


def operation_count(expression: sp.Expr) -> int:
    """Arithmetic operations and function calls, as :func:`sympy.count_ops` counts them (visually)."""
    return int(sp.count_ops(expression, visual=False))


def straight_line_program(graph: SymbolicGraph, targets_sum_to_one: bool = True) -> Program:
    """The forward pass and ∂E/∂p for every parameter p as one straight-line program.

    ``targets_sum_to_one=False`` keeps the output δs general (no softmax + cross-entropy
    collapse), for code that will be run on targets that are not distributions.
    """
    forward = tuple(
        (graph.symbols[q], graph.definitions[q]) for q in graph.order if q in graph.definitions
    )
    loss = Quantity.loss()
    outputs = set(graph.outputs)
    output_deltas = OutputDeltas(graph)
    taken = {symbol.name for symbol in graph.symbols.values()}
    backward: list[Assignment] = []
    gradients: dict[str, sp.Expr] = {}
    chains: dict[str, tuple] = {}

    def adjoint(vertex: Quantity, readers) -> Optional[sp.Expr]:
        """The adjoint of a vertex as later vertices read it: a symbol where one is assigned, otherwise
        the (short) expression itself; a parameter's is its gradient, which nothing reads."""
        total = sp.Add(*(product_of_symbols(carried, local) for _, carried, local in readers))
        if vertex.kind == "param":
            gradients[vertex.name] = total
            chains[vertex.name] = tuple(readers)
            return None
        if vertex.kind == "net" and vertex.name in outputs:
            total = output_deltas.tidy(total, vertex, targets_sum_to_one)
        if not _named(graph, vertex, outputs):
            return total  # one reader (its own net), or an output's loss derivative: inline
        symbol = _adjoint_symbol(graph, vertex, taken)
        backward.append((symbol, total))
        return symbol

    # nobody asks for ∂E/∂input
    reverse_sweep(graph, loss, sp.Integer(1), adjoint, skip=lambda vertex: graph.roles.get(vertex) == "input")
    ordered = {name: gradients.get(name, sp.Integer(0)) for name in graph.parameters()}
    return Program(forward, tuple(backward), ordered, graph.symbols[loss], chains)


def _named(graph: SymbolicGraph, vertex: Quantity, outputs: set[str]) -> bool:
    """Whether a vertex's adjoint gets its own symbol: a dense net always (its δ); any other
    vertex when more than one earlier vertex reads it, except a dense output (its short loss derivative)."""
    if vertex.kind == "net":
        return True
    if vertex.kind in ("out", "loss_term") and vertex.name in outputs:
        return False
    definition = graph.definitions.get(vertex)
    readers = sum(1 for s in definition.free_symbols if s in graph.symbol_set) if definition is not None else 0
    return readers > 1


def _adjoint_symbol(graph: SymbolicGraph, vertex: Quantity, taken: set[str]) -> sp.Symbol:
    if vertex.kind == "net":
        return graph.deltas[sampled(vertex.name, vertex.sample)]
    name = f"dout_{vertex.name}" if vertex.kind == "out" else f"delta_{vertex.name}"
    while name in taken:  # a formula node may itself be called delta_h
        name += "_"
    taken.add(name)
    return sp.Symbol(name)


def evaluate(program: Program, leaves: Mapping[sp.Symbol, object],
             digits: int = 50) -> tuple[dict[sp.Symbol, object], dict[str, object]]:
    """Every symbol's value, and every gradient's, as mpmath numbers at ``digits`` digits.

    A direct walk over the program's expressions: no code is generated, and
    the cost is linear in the program's size.
    """
    with mpmath.workdps(digits):
        values: dict[sp.Symbol, object] = {symbol: to_mpf(value) for symbol, value in leaves.items()}
        for symbol, expression in program.forward + program.backward:
            values[symbol] = evaluate_named(str(symbol), expression, values)
        gradients = {name: to_mpf(evaluate_named(f"∂E/∂{name}", expression, values))
                     for name, expression in program.gradients.items()}
        values = {symbol: to_mpf(value) for symbol, value in values.items()}
    return values, gradients
