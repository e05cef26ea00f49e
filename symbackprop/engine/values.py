"""Numbers for the symbolic graph: exact values of every node, and decimals at any precision.

A :class:`Point` maps every symbol (inputs, parameters, targets, and then each
node in forward order) to its exact value. Exact values are SymPy expressions:
rationals stay rationals (so a ReLU at exactly zero *is* zero), and
transcendental values stay exact (``sigmoid(7/20)``) until a decimal is asked
for. A decimal is proved: computed once in ball arithmetic (every node in forward
order, then the expression) and given only where the ball proves its digits
(:func:`certified`), rationals kept exact where they occur.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping, Optional

import mpmath
import sympy as sp

from ..errors import InputError, UncertifiedDigits, UndefinedValue
from ..functions.balls import Uncertain, is_ball, midpoint, proves, working_digits
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
        return {symbol: sympy_number(value, digits) for symbol, value in self._numbers(digits).items()}

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

    def balls(self, working: int) -> dict:
        """Every symbol's value in balls at ``working`` digits (a Fraction where exact), computed once."""
        key = ("balls", working)
        if key not in self._numeric_cache:
            with working_digits(working):
                values = {symbol: ball_leaf(value) for symbol, value in self.leaves.items()}
                for quantity in self.graph.order:
                    if quantity in self.graph.definitions:
                        values[self.graph.symbols[quantity]] = _defined(lambda q=quantity: evaluate_expression(
                            self.graph.definitions[q], values, balls=True), quantity, self.graph.definitions[quantity])
            self._numeric_cache[key] = values
        return self._numeric_cache[key]

    def evalf(self, expression: sp.Expr, digits: int) -> sp.Expr:
        """``expression`` at this point, to ``digits`` significant digits, every one proved: see
        :func:`certified`. (A gradient that sums terms which cancel, such as Σ(out − t) of a softmax
        whose outputs and targets both sum to 1, is exactly 0, not the 1e-34 one precision leaves.)"""
        value = certified(lambda working: evaluate_expression(expression, self.balls(working), balls=True), digits,
                          digits + GUARD_DIGITS, exact=lambda: self.exact_value(expression))
        return sympy_number(value)

    def value_of(self, quantity: Quantity, digits: int) -> sp.Expr:
        """A node's (or leaf's) value to ``digits`` proved digits: :meth:`evalf` of its symbol."""
        return self.evalf(self.graph.symbols[quantity], digits)


#: Working digits beyond which a value whose ball still holds more than one rounding is refused (or, where
#: its ball holds 0 and its exact value simplifies to 0, given as exactly 0).
MAX_CERTIFYING_DIGITS = 400


def certified(at: Callable[[int], object], digits: int, working: int,
              exact: Optional[Callable[[], sp.Expr]] = None):
    """The value ``at(w)`` computes in balls at ``w`` working digits (see :mod:`~..functions.balls`) once its
    ball proves ``digits`` significant digits — both ends print them — as an mpmath number (the midpoint), or
    the Fraction ``at`` gives where the value is exact.

    Until then the precision is doubled (a branch the ball cannot decide, or a value whose terms cancel,
    needs more). A ball that still holds 0 past :data:`MAX_CERTIFYING_DIGITS` is exactly 0 only when
    ``exact()`` — the value as an exact expression — simplifies to 0; anything else is refused
    (:class:`~..errors.UncertifiedDigits`), never printed.

    >>> from flint import arb
    >>> tiny = lambda w: arb(10) ** -150 + arb(0, arb(10) ** -w)  # a ball around 10^-150, as wide as the precision
    >>> from symbackprop.numbers import format_decimal
    >>> format_decimal(certified(tiny, 10, 22), 10), certified(lambda w: Fraction(3), 10, 22)
    ('1.000000000e-150', Fraction(3, 1))
    >>> certified(lambda w: arb(0, arb(10) ** -w), 10, 22, exact=lambda: sp.sin(1) ** 2 + sp.cos(1) ** 2 - 1)
    Fraction(0, 1)
    """
    while True:
        with working_digits(working):
            try:
                value = at(working)
            except Uncertain:
                value = None
            if isinstance(value, Fraction):
                return value
            if value is not None and proves(value, digits):
                return midpoint(value)
            if working > MAX_CERTIFYING_DIGITS:
                if value is not None and value.contains(0) and exact is not None and _simplifies_to_zero(exact()):
                    return Fraction(0)
                raise UncertifiedDigits(
                    f"a value could not be proved to {digits} digits at {working:,} working digits: "
                    + ("a ReLU, |x|, max, min or case split meets its switch within the rounding" if value is None else
                       "it is within 10^-{0} of 0 and could not be proved to be 0".format(working - 10)))
        working = 2 * working + 30


#: Largest exact expression (in nodes) that is simplified to prove a cancellation to 0.
MAX_ZERO_PROOF_NODES = 20_000


def _simplifies_to_zero(expression: sp.Expr) -> bool:
    """Whether an exact value is 0, by SymPy: our functions written out (a softmax in exponentials), then the
    rational function of what remains cancelled (Σ exp(a)/Σ exp − 1 is 0), then ``simplify``."""
    nodes = 0
    for node in sp.preorder_traversal(expression):
        nodes += 1
        if nodes > MAX_ZERO_PROOF_NODES or node.is_Float:  # (binary numbers are no proof of an identity)
            return False
    explicit = expression.replace(lambda node: hasattr(node, "_explicit") and isinstance(node, sp.Function),
                                  lambda node: node._explicit())
    if explicit == 0 or sp.cancel(sp.together(explicit)) == 0:
        return True
    return sp.simplify(explicit) == 0


def _number_in(value: sp.Expr):
    """A leaf as the evaluator takes it: a Fraction when rational (it stays exact), else an mpmath number."""
    if value.is_Rational:
        return as_fraction(value)
    return to_mpf(value)


def ball_leaf(value: sp.Expr):
    """A leaf in balls: a Fraction when rational, a Float as the binary number it is, π as a ball."""
    if value.is_Rational:
        return as_fraction(value)
    return evaluate_expression(value, {}, balls=True)


def sympy_number(value, digits: Optional[int] = None) -> sp.Expr:
    """A Fraction as a Rational; an mpmath number as a Float of ``digits`` digits, or (without) exactly."""
    if isinstance(value, Fraction):
        return as_rational(value)
    if digits is None:
        return sp.Float(value, precision=max(value._mpf_[3], 53))  # (its own bits: mpf(value) would round them)
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
    if not isinstance(value, Fraction) and not is_ball(value) and (isinstance(value, mpmath.mpc)
                                                                   or not mpmath.isfinite(value)):
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
