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

import mpmath
import sympy as sp

from ..errors import InputError, UndefinedValue
from ..functions.evaluate import evaluate_expression
from ..functions.update import frozen_or_descend, plain_plus
from ..graph import SymbolicGraph
from ..numbers import as_fraction, as_rational, to_mpf
from ..quantity import Quantity


GUARD_DIGITS = 12


rational = as_rational  # (the name the package has used for it)


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
        """Every symbol's value as a Float of ``digits`` significant digits (rationals kept exact).

        One forward pass through the program's evaluator (the graph's definitions walked in mpmath,
        rationals exact), the same pass every other number comes from.
        """
        return {symbol: _sympy_number(value, digits) for symbol, value in self._numbers(digits).items()}

    def _numbers(self, digits: int) -> dict:
        """Every symbol's value as the evaluator gives it (a Fraction or an mpmath number), computed once."""
        if digits not in self._numeric_cache:
            values = {symbol: _number_in(value) for symbol, value in self.leaves.items()}
            with mpmath.workdps(digits):
                for quantity in self.graph.order:
                    if quantity in self.graph.definitions:
                        symbol = self.graph.symbols[quantity]
                        values[symbol] = _defined(lambda q=quantity: evaluate_expression(
                            self.graph.definitions[q], values), quantity, self.graph.definitions[quantity])
            self._numeric_cache[digits] = values
        return self._numeric_cache[digits]

    def exact_value(self, expression: sp.Expr) -> sp.Expr:
        return expression.xreplace(self.exact)

    def evalf(self, expression: sp.Expr, digits: int) -> sp.Expr:
        """``expression`` at this point, to ``digits`` significant digits, every one certified: see
        :func:`certified`. (A gradient that sums terms which cancel, such as Σ(out − t) of a softmax
        whose outputs and targets both sum to 1, is exactly 0, not the 1e-34 one precision leaves.)"""
        def at(working: int):
            numbers = self._numbers(working)
            with mpmath.workdps(working):
                return evaluate_expression(expression, numbers)

        working, value = certified(at, digits, digits + GUARD_DIGITS)
        return _sympy_number(value, working)

    def value_of(self, quantity: Quantity, digits: int) -> sp.Expr:
        return self.numeric(digits + GUARD_DIGITS)[self.graph.symbols[quantity]]


#: Working digits beyond which a value that keeps shrinking as the precision grows is taken as zero.
MAX_CERTIFYING_DIGITS = 400


def certified(at, digits: int, working: int):
    """(working digits, value) of ``at(working)`` once two precisions agree on ``digits`` significant digits.

    ``at(w)`` computes a value at ``w`` working digits (a Fraction when exact). A value whose terms
    cancel carries noise of about 10^-w times its terms; it is recomputed at twice the digits until two
    runs agree. One that keeps shrinking with the precision, down to 10^-400 of its terms, is a
    cancellation to zero and is given as exactly 0.

    >>> import mpmath
    >>> tiny = lambda w: mpmath.mpf(10) ** -(w - 5) if w < 100 else mpmath.mpf(10) ** -150  # noise, then a value
    >>> noise = lambda w: mpmath.mpf(10) ** -(w - 5)  # shrinks with every digit: a cancellation to zero
    >>> certified(tiny, 10, 22)[1] == mpmath.mpf(10) ** -150, certified(noise, 10, 22)[1], certified(lambda w: 3, 10, 22)
    (True, Fraction(0, 1), (52, 3))
    """
    first = at(working)
    while True:
        second = at(working + 30)
        if isinstance(second, Fraction) or _agree(first, second, digits):
            return working + 30, second
        if working > MAX_CERTIFYING_DIGITS:
            return working + 30, Fraction(0)
        first, working = second, 2 * working + 30


def _agree(first, second, digits: int) -> bool:
    first, second = to_mpf(first), to_mpf(second)
    if not (mpmath.isfinite(first) and mpmath.isfinite(second)):
        return True  # infinities and NaN are reported as they are, by whoever asked
    return abs(first - second) <= mpmath.mpf(10) ** -(digits + 1) * abs(second)


def _number_in(value: sp.Expr):
    """A leaf as the evaluator takes it: a Fraction when rational (it stays exact), else an mpmath number."""
    if value.is_Rational:
        return as_fraction(value)
    return to_mpf(value)


def _sympy_number(value, digits: int) -> sp.Expr:
    if isinstance(value, Fraction):
        return as_rational(value)
    return sp.Float(value, digits)


def _defined(compute, quantity: Quantity, definition: sp.Expr):
    """A node's value, or one line saying it is undefined here (a log of 0, a division by 0)."""
    place = "loss.kind" if quantity.kind in ("loss", "loss_term", "out", "net") else f"graph.nodes.{quantity.name}"
    try:
        value = compute()
    except UndefinedValue as error:
        raise InputError(f"{quantity} = {definition}: {error.problem}", place=place) from None
    except (ValueError, ZeroDivisionError, OverflowError):
        value = mpmath.nan
    if not isinstance(value, Fraction) and (isinstance(value, mpmath.mpc) or not mpmath.isfinite(value)):
        raise InputError(f"{quantity} is undefined at these numbers ({definition})", place=place)
    return value


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
        gradient = lambda name=name: engine.gradient(name).exact if digits is None else engine.gradient(name).evalf(digits)
        updated[name], _ = frozen_or_descend(name, graph.frozen, old, gradient, rate, add=plain_plus)
    return updated


def momentum_update(engine, velocity: Mapping[str, sp.Expr], digits: int) -> tuple[dict[str, sp.Expr], dict[str, sp.Expr]]:
    """(parameters, velocities) after one update with classical momentum: v⁺ = μ·v + ∂E/∂p, p⁺ = p − η·v⁺
    (PyTorch's rule; ``velocity`` is v of the update before, 0 where absent), gradients at ``digits`` digits."""
    graph = engine.graph
    rate, mu = rational(graph.learning_rate), rational(graph.training.momentum)
    point = engine.point
    parameters, velocities = {}, {}
    for name in graph.parameters():
        old = point.leaves[graph.symbols[Quantity.param(name)]]
        parameters[name], velocities[name] = frozen_or_descend(
            name, graph.frozen, old, lambda name=name: engine.gradient(name).evalf(digits), rate,
            velocity.get(name, sp.Integer(0)), mu, add=plain_plus)
        if velocities[name] is None:  # frozen
            velocities[name] = sp.Integer(0)
    return parameters, velocities
