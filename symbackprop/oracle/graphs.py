"""The oracle over any graph: the forward definitions evaluated by a walk of their own (mpmath or float64),
never through the engine's evaluator or any derivative, then differentiated by finite differences.

>>> from symbackprop.frontends.formulas import graph_from_mapping
>>> graph = graph_from_mapping({"graph": {"inputs": ["x"], "parameters": {"w": "3"},
...     "nodes": [{"name": "y", "formula": "w*x^2"}]}, "loss": {"formula": "y"}, "data": {"inputs": ["2"]}})
>>> float(graph_finite_difference(graph_forward(graph), "w", 30).value)  # ∂(w·x²)/∂w = x² = 4
4.0
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import mpmath
import sympy as sp

from ..errors import InputError, UndefinedValue
from ..functions.activations import explicit_form
from ..quantity import Quantity
from .differences import (ONE_SIDED_LEVELS, RICHARDSON_LEVELS, NumericDerivative, _float_number, _mp_number,
                          _richardson, _richardson_one_sided, central_step, one_sided_step, working_digits)


# The oracle's own table of functions, on purpose: a proof must not share the evaluator's (functions/registry.py).
_ELEMENTARY = ("exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
               "atanh", "erf", "erfc", "gamma")


_MP_FUNCTIONS = {**{name: getattr(mpmath, name) for name in _ELEMENTARY}, "Abs": abs, "Max": max, "Min": min}


_FLOAT_FUNCTIONS = {**{name: getattr(math, name) for name in _ELEMENTARY}, "Abs": abs, "Max": max, "Min": min}


_RELATIONS = {"StrictLessThan": lambda a, b: a < b, "LessThan": lambda a, b: a <= b,
              "StrictGreaterThan": lambda a, b: a > b, "GreaterThan": lambda a, b: a >= b}


@dataclass(frozen=True)
class GraphForward:
    """A formula graph read for the oracle: each node's definition in elementary functions."""

    graph: object
    definitions: tuple  # (symbol, elementary definition), in forward order
    loss: object  # the loss symbol
    switches: Mapping[object, tuple]  # node symbol -> expressions whose sign change is a kink of that node
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def downstream(self, symbol) -> tuple[int, ...]:
        """Positions (in ``definitions``) of the nodes whose value moves with ``symbol``."""
        key = ("downstream", symbol)
        if key not in self._cache:
            moved, positions = {symbol}, []
            for position, (node, definition) in enumerate(self.definitions):
                if not definition.free_symbols.isdisjoint(moved):
                    moved.add(node)
                    positions.append(position)
            self._cache[key] = tuple(positions)
        return self._cache[key]

    def work(self) -> int:
        """At most how many formulas the central differences evaluate: for each parameter, every node
        from its first reader on, both sides, every level (counted in one pass, before any work)."""
        first: dict = {}
        for position, (_, definition) in enumerate(self.definitions):
            for symbol in definition.free_symbols:
                first.setdefault(symbol, position)
        count = len(self.definitions)
        parameters = [self.graph.symbols[q] for q in self.graph.order if q.kind == "param"]
        return 2 * RICHARDSON_LEVELS * sum(count - first[p] for p in parameters if p in first)


def graph_forward(graph) -> GraphForward:
    """Prepare ``graph`` for the oracle (once per graph)."""
    definitions, switches = [], {}
    for quantity in graph.order:
        definition = graph.definitions.get(quantity)
        if definition is None:
            continue
        symbol = graph.symbols[quantity]
        elementary = explicit_form(definition)
        definitions.append((symbol, elementary))
        found = []
        for node in sp.preorder_traversal(elementary):
            if isinstance(node, (sp.Abs, sp.Heaviside, sp.sign)):
                found.append(node.args[0])
            elif isinstance(node, (sp.Max, sp.Min)):
                found.extend(a - b for a, b in zip(node.args, node.args[1:]))
            elif isinstance(node, sp.Piecewise):
                found.extend(c.lhs - c.rhs for _, c in node.args if isinstance(c, sp.core.relational.Relational))
        if found:
            switches[symbol] = tuple(found)
    return GraphForward(graph, tuple(definitions), graph.symbols[Quantity.loss()], switches)


def graph_values(forward: GraphForward, shift=None, float64: bool = False) -> dict:
    """Every node's value at the file's numbers, with ``shift = (symbol, h)`` added to one leaf.

    With a shift, only the nodes downstream of the shifted leaf are evaluated again; the others
    keep their values from the unshifted pass at the same precision.
    """
    number = _float_number if float64 else _mp_number
    functions = _FLOAT_FUNCTIONS if float64 else _MP_FUNCTIONS
    if shift is None:
        values = {symbol: number(value) for symbol, value in forward.graph.values.items()}
        positions = range(len(forward.definitions))
    else:
        key = ("base", float64, mpmath.mp.prec)
        if key not in forward._cache:
            forward._cache[key] = graph_values(forward, None, float64)
        values = dict(forward._cache[key])
        symbol, h = shift
        values[symbol] = values[symbol] + h
        positions = forward.downstream(symbol)
    try:
        for position in positions:
            symbol, definition = forward.definitions[position]
            values[symbol] = _walk(definition, values, functions, float64)
    except (ValueError, ZeroDivisionError, OverflowError) as error:
        raise UndefinedValue(f"the loss is undefined at these numbers ({error})", place="loss.formula") from None
    return values


def _walk(node, values, functions, float64: bool):
    if node.is_Symbol:
        return values[node]
    if node.is_Number or node.is_NumberSymbol:
        if float64:
            return float(node)
        return mpmath.mpf(node.p) / node.q if node.is_Rational else mpmath.mpf(node.evalf(mpmath.mp.dps + 5))
    if isinstance(node, sp.Piecewise):
        for branch, condition in node.args:
            if condition is sp.true or _RELATIONS[type(condition).__name__](
                    _walk(condition.lhs, values, functions, float64), _walk(condition.rhs, values, functions, float64)):
                return _walk(branch, values, functions, float64)
        raise ValueError(f"no branch of {node} holds")
    args = [_walk(a, values, functions, float64) for a in node.args]
    if node.is_Add:
        return math.fsum(args) if float64 else mpmath.fsum(args)
    if node.is_Mul:
        return math.prod(args) if float64 else mpmath.fprod(args)
    if node.is_Pow:
        base, power = args
        if not float64 and base < 0 and power != int(power):
            raise ValueError(f"{node} is not real")
        return base**power
    if isinstance(node, sp.Heaviside):
        at_zero = args[1] if len(args) > 1 else 0.5
        return 1 if args[0] > 0 else (at_zero if args[0] == 0 else 0)
    name = type(node).__name__
    if name not in functions:
        raise InputError(f"the finite-difference oracle has no rule for {name}", place="graph")
    if name == "log" and args[0] <= 0:
        raise ValueError(f"log of {args[0]}")
    return functions[name](*args)


def _leaf(graph, name: str) -> sp.Symbol:
    """The symbol of a parameter, or of an input (a derivative may be taken with respect to either), by name."""
    symbol = graph.symbols.get(Quantity.param(name))
    if symbol is None:
        quantity = graph.named(name)
        if quantity is None or graph.roles.get(quantity) != "input":
            raise KeyError(name)
        symbol = graph.symbols[quantity]
    return symbol


def graph_loss(forward: GraphForward, float64: bool = False, digits: int = 50):
    with mpmath.workdps(digits + 10):
        return graph_values(forward, None, float64)[forward.loss]


def graph_finite_difference(forward: GraphForward, parameter: str, digits: int = 50,
                            float64: bool = False) -> NumericDerivative:
    """∂E/∂parameter of a formula graph, by central differences with Richardson extrapolation."""
    symbol = _leaf(forward.graph, parameter)
    if float64:
        return _richardson(lambda h: graph_values(forward, (symbol, h), True)[forward.loss], central_step(digits, True), 3)
    with mpmath.workdps(working_digits(digits)):
        return _richardson(lambda h: graph_values(forward, (symbol, h))[forward.loss], central_step(digits),
                           RICHARDSON_LEVELS)


def graph_one_sided(forward: GraphForward, parameter: str, digits: int = 50,
                    float64: bool = False) -> tuple[NumericDerivative, NumericDerivative]:
    """∂E/∂parameter from the left and from the right (see :func:`one_sided_derivatives`)."""
    symbol = _leaf(forward.graph, parameter)
    if float64:
        value = lambda h: graph_values(forward, (symbol, h), True)[forward.loss]
        return tuple(_richardson_one_sided(value, value(0.0), side * 2.0**-8, 4) for side in (-1, 1))
    with mpmath.workdps(working_digits(digits)):
        value = lambda h: graph_values(forward, (symbol, h))[forward.loss]
        base = value(mpmath.mpf(0))
        return tuple(_richardson_one_sided(value, base, side * one_sided_step(digits), ONE_SIDED_LEVELS)
                     for side in (-1, 1))


def graph_kinks_crossed(forward: GraphForward, parameter: str, step, digits: int = 50) -> tuple[str, ...]:
    """The nodes downstream of ``parameter`` with a kink (|a|, max, min, a case split, ReLU) whose
    switching expression is 0, or changes sign, as the parameter moves by ``step`` either way."""
    graph = forward.graph
    symbol = _leaf(graph, parameter)
    downstream = {forward.definitions[position][0] for position in forward.downstream(symbol)}
    candidates = [node for node in forward.switches if node in downstream]
    if not candidates:
        return ()
    found = []
    with mpmath.workdps(working_digits(digits)):
        passes = [graph_values(forward, (symbol, h)) for h in (-mpmath.mpf(step), mpmath.mpf(0), mpmath.mpf(step))]
        functions = _MP_FUNCTIONS
        for node in candidates:
            for switch in forward.switches[node]:
                signs = [mpmath.sign(_walk(switch, values, functions, False)) for values in passes]
                if signs[1] == 0 or len(set(signs)) > 1:
                    found.append(str(node))
                    break
    return tuple(found)


def met_within(digits: int) -> mpmath.mpf:
    """How close to 0 a switching expression evaluated in binary at ``digits`` (+ a margin) is taken as
    met: the file's decimals are not binary fractions, so a ReLU's net 0.17·7 − 1.19 comes out as ±10⁻⁵⁰
    or as 0 depending on the precision. (Whether it is met *exactly* is for exact arithmetic to say.)"""
    return mpmath.mpf(10) ** -digits


def graph_kinks_met(forward: GraphForward, parameter: str, digits: int = 50) -> tuple[str, ...]:
    """The nodes downstream of ``parameter`` whose kink is met at the file's numbers: a switching
    expression that is 0 there within binary rounding (a tie of max or min, |0|, a ReLU at 0)."""
    symbol = _leaf(forward.graph, parameter)
    key = ("met", mpmath.mp.prec)
    if key not in forward._cache:
        with mpmath.workdps(working_digits(digits)):
            values = graph_values(forward)
            forward._cache[key] = frozenset(
                node for node, switches in forward.switches.items()
                if any(abs(_walk(switch, values, _MP_FUNCTIONS, False)) <= met_within(digits) for switch in switches))
    met = forward._cache[key]
    if not met:
        return ()
    downstream = {forward.definitions[position][0] for position in forward.downstream(symbol)}
    return tuple(str(node) for node in met if node in downstream)
