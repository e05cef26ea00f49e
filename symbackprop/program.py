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
:meth:`~symbackprop.chain.Engine.simplified`.

>>> from symbackprop.loader import network_from_mapping
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

import functools
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

import sympy as sp

from .activations import activation
from .graph import SymbolicGraph, build_graph
from .quantity import Quantity

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
    from .chain import Engine  # the tidy rule for output δs lives with the engine

    network = graph.network
    engine = Engine(graph)
    forward = tuple(
        (graph.symbols[q], graph.definitions[q]) for q in graph.order if q in graph.definitions
    )
    loss = Quantity.loss()
    softmax_units = {
        unit for layer in network.layers if not activation(layer.activation).elementwise for unit in layer.units
    }
    outputs = set(network.outputs)
    # The adjoint of each vertex, as the expression later vertices read: a symbol where one is
    # assigned, otherwise the (short) expression itself.
    adjoint: dict[Quantity, sp.Expr] = {loss: sp.Integer(1)}
    backward: list[Assignment] = []
    gradients: dict[str, sp.Expr] = {}
    chains: dict[str, tuple] = {}
    position = {q: i for i, q in enumerate(graph.order)}
    for vertex in reversed(graph.order[: position[loss]]):
        terms = [adjoint[u] * d for u, d in engine.edges(loss, vertex) if u in adjoint]
        if not terms:
            continue
        total = sp.Add(*terms)
        if vertex.kind == "param":
            gradients[vertex.name] = total
            chains[vertex.name] = tuple((u, adjoint[u], d) for u, d in engine.edges(loss, vertex) if u in adjoint)
        elif vertex.kind == "net":
            if vertex.name in outputs:
                total = engine.tidy_output_delta(total, vertex.name, targets_sum_to_one)
            symbol = graph.deltas[vertex.name]
            backward.append((symbol, total))
            adjoint[vertex] = symbol
        elif vertex.kind == "out" and vertex.name in softmax_units and vertex.name not in outputs:
            symbol = sp.Symbol(f"dout_{vertex.name}")
            backward.append((symbol, total))
            adjoint[vertex] = symbol
        elif vertex.kind == "out" and vertex.name in network.inputs:
            continue  # nobody asks for ∂E/∂input
        else:
            adjoint[vertex] = total  # one reader (its own net), or an output's loss derivative: inline
    ordered = {name: gradients.get(name, sp.Integer(0)) for name in graph.parameters()}
    return Program(forward, tuple(backward), ordered, graph.symbols[loss], chains)


# ---- numbers: the program run in mpmath ----------------------------------------------------
@functools.lru_cache(maxsize=1)
def _function_table():
    import mpmath

    from .activations import ACTIVATIONS

    table = {"exp": mpmath.exp, "log": mpmath.log, "tanh": mpmath.tanh,
             "Heaviside": lambda x, at_zero=mpmath.mpf(0): mpmath.mpf(1) if x > 0 else (
                 at_zero if x == 0 else mpmath.mpf(0))}
    for name, rule in ACTIVATIONS.items():
        if rule.elementwise and name not in table:
            table[name] = (lambda numeric: lambda x, alpha=None: numeric(x, alpha))(rule.numeric)
    return table


def evaluate(program: Program, leaves: Mapping[sp.Symbol, object],
             digits: int = 50) -> tuple[dict[sp.Symbol, object], dict[str, object]]:
    """Every symbol's value, and every gradient's, as mpmath numbers at ``digits`` digits.

    A direct walk over the program's expressions: no code is generated, and
    the cost is linear in the program's size.
    """
    import mpmath

    from .exact import to_mpf

    with mpmath.workdps(digits):
        values: dict[sp.Symbol, object] = {symbol: to_mpf(value) for symbol, value in leaves.items()}
        for symbol, expression in program.forward + program.backward:
            values[symbol] = evaluate_expression(expression, values)
        gradients = {name: evaluate_expression(expression, values) for name, expression in program.gradients.items()}
    return values, gradients


def evaluate_expression(expression: sp.Expr, values: Mapping[sp.Symbol, object]):
    """``expression`` with its symbols given ``values``, at the current mpmath precision.

    Values that are :class:`~fractions.Fraction` stay exact through +, −, ×, ÷, whole powers and
    the piecewise-linear functions (so a ReLU whose net is exactly 0 sees exactly 0); anything
    else is computed in mpmath.

    >>> from fractions import Fraction
    >>> x, y = sp.symbols("x y")
    >>> evaluate_expression(sp.Heaviside(x + y, 0) * 3 + x / 2, {x: Fraction(1, 10), y: Fraction(-1, 10)})
    Fraction(1, 20)
    """
    import mpmath

    from .exact import to_mpf

    functions = _function_table()

    def number(value):
        return mpmath.mpf(value.numerator) / value.denominator if isinstance(value, Fraction) else value

    seen: dict = {}  # a subexpression shared by many paths is evaluated once: linear in the DAG, not the tree

    def walk(node):
        if node.is_Symbol:
            return values[node]
        if node.is_Rational:
            return Fraction(int(node.p), int(node.q))
        if node.is_Number:
            return to_mpf(node)
        if node in seen:
            return seen[node]
        seen[node] = value = compute(node)
        return value

    def compute(node):
        args = [walk(argument) for argument in node.args]
        exact = all(isinstance(a, Fraction) for a in args)
        if node.is_Add:
            return sum(args, Fraction(0)) if exact else mpmath.fsum(number(a) for a in args)
        if node.is_Mul:
            if exact:
                product = Fraction(1)
                for a in args:
                    product *= a
                return product
            return mpmath.fprod(number(a) for a in args)
        if node.is_Pow:
            base, power = args
            if exact and power.denominator == 1 and (base != 0 or power >= 0):
                return base ** int(power)
            return number(base) ** number(power)
        name = type(node).__name__
        if name not in functions:
            raise NotImplementedError(f"no numeric rule for {name} in the program evaluator")
        if name in _EXACT_FUNCTIONS:
            return functions[name](*args)
        return functions[name](*(number(a) for a in args))

    return walk(expression)


#: Functions that give exact results on exact arguments (comparisons and products only).
_EXACT_FUNCTIONS = frozenset({"Heaviside", "relu", "leaky_relu"})
