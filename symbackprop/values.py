"""Numbers for the symbolic graph: exact values of every node, and decimals at any precision.

A :class:`Point` maps every symbol (inputs, parameters, targets, and then each
node in forward order) to its exact value. Exact values are SymPy expressions:
rationals stay rationals (so a ReLU at exactly zero *is* zero), and
transcendental values stay exact (``sigmoid(7/20)``) until a decimal is asked
for. Decimals are computed by forward evaluation in SymPy Floats with guard
digits, rationals kept exact where they occur.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping, Optional

import sympy as sp

from .errors import InputError
from .graph import SymbolicGraph
from .quantity import Quantity

GUARD_DIGITS = 12


def rational(value: Fraction) -> sp.Rational:
    """An exact SymPy Rational from a Fraction (never through a float)."""
    return sp.Rational(value.numerator, value.denominator)


@dataclass(frozen=True)
class Point:
    """Values of the leaves (inputs, parameters, targets) and, derived from them, of every node."""

    graph: SymbolicGraph
    leaves: Mapping[sp.Symbol, sp.Expr]
    _numeric_cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def exact(self) -> dict[sp.Symbol, sp.Expr]:
        if "exact" not in self._numeric_cache:
            values = dict(self.leaves)
            for quantity in self.graph.order:
                if quantity in self.graph.definitions:
                    value = self.graph.definitions[quantity].xreplace(values)
                    values[self.graph.symbols[quantity]] = value
            self._numeric_cache["exact"] = values
        return self._numeric_cache["exact"]

    def numeric(self, digits: int) -> dict[sp.Symbol, sp.Expr]:
        """Every symbol's value as a Float of ``digits`` significant digits (rationals kept exact)."""
        if digits not in self._numeric_cache:
            values = {symbol: value if value.is_Rational else value.evalf(digits) for symbol, value in self.leaves.items()}
            for quantity in self.graph.order:
                if quantity in self.graph.definitions:
                    value = self.graph.definitions[quantity].xreplace(values)
                    values[self.graph.symbols[quantity]] = _settle(value, digits, quantity)
            self._numeric_cache[digits] = values
        return self._numeric_cache[digits]

    def exact_value(self, expression: sp.Expr) -> sp.Expr:
        return expression.xreplace(self.exact)

    def evalf(self, expression: sp.Expr, digits: int) -> sp.Expr:
        """``expression`` at this point, to about ``digits`` significant digits."""
        working = digits + GUARD_DIGITS
        value = expression.xreplace(self.numeric(working))
        return value if value.is_Rational else value.evalf(working)

    def value_of(self, quantity: Quantity, digits: int) -> sp.Expr:
        return self.numeric(digits + GUARD_DIGITS)[self.graph.symbols[quantity]]


def _settle(value: sp.Expr, digits: int, quantity: Quantity) -> sp.Expr:
    if value.is_Rational:
        return value
    settled = value.evalf(digits)
    if settled.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or not settled.is_Number:
        place = "loss.kind" if quantity.kind in ("loss", "loss_term", "out", "net") else f"graph.nodes.{quantity.name}"
        raise InputError(f"{quantity} is undefined at these numbers ({value})", place=place)
    return settled


def point_of(graph: SymbolicGraph, parameters: Optional[Mapping[str, sp.Expr]] = None) -> Point:
    """The point given by the file's own numbers, optionally with some parameters replaced."""
    if graph.missing:
        raise InputError(f"numbers needed but the file has no {graph.missing}", place="data")
    leaves: dict[sp.Symbol, sp.Expr] = {symbol: rational(value) for symbol, value in graph.values.items()}
    if parameters:
        for name, value in parameters.items():
            leaves[graph.symbols[Quantity.param(name)]] = value
    return Point(graph, leaves)


def updated_parameters(engine, learning_rate: Optional[sp.Expr] = None,
                       digits: Optional[int] = None) -> dict[str, sp.Expr]:
    """Every parameter after one gradient-descent step: p − η·∂E/∂p, exactly.

    Biases stay put when the file says ``update_biases = false``. With
    ``digits``, the gradients enter as Floats of that many significant digits:
    exact updates of a deep network are deeply nested expressions, slow to
    evaluate again, while a report that shows a few decimals needs only enough
    digits.
    """
    graph = engine.graph
    rate = learning_rate
    if rate is None:
        if graph.learning_rate is None:
            raise InputError("an update needs training.learning_rate", place="training.learning_rate")
        rate = rational(graph.learning_rate)
    point = engine.point
    updated = {}
    for name in graph.parameters():
        old = point.leaves[graph.symbols[Quantity.param(name)]]
        if name in graph.frozen:
            updated[name] = old
        else:
            gradient = engine.gradient(name)
            updated[name] = old - rate * (gradient.exact if digits is None else gradient.evalf(digits))
    return updated
