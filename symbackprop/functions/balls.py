"""Ball arithmetic (python-flint's ``arb``): every binary number carries a rigorous bound on its error.

A ball is a midpoint and a radius, and the true value lies inside it: each operation widens the radius by
exactly as much as its rounding can have cost. One evaluation therefore proves its own digits — a value is
printed to ``digits`` significant digits only when both ends of its ball print the same — where comparing
two runs at different precisions only makes it likely. A branch (a ReLU, |x|'s sign, a case split) is
taken only when the ball lies wholly on one side; where it straddles the switch, :class:`Uncertain` is
raised and the caller raises the precision or refuses. Exact values stay :class:`~fractions.Fraction` in
the evaluator and never become balls.

>>> with working_digits(30):
...     third = ball(Fraction(1, 3))
...     proves(third, 25), proves(third * 10**40 - 10**40 // 3, 25)
(True, False)
>>> holds("StrictGreaterThan", ball(Fraction(1, 3)) - ball(Fraction(1, 3)), Fraction(0))
Traceback (most recent call last):
...
symbackprop.functions.balls.Uncertain: a comparison cannot be decided at this precision
"""
from __future__ import annotations

import contextlib
import functools
from fractions import Fraction
from typing import Iterator

import mpmath
import sympy as sp
from flint import acb, arb, ctx


class Uncertain(ArithmeticError):
    """A branch or a value the balls at the working precision cannot decide: raise the precision."""


def is_ball(value: object) -> bool:
    return isinstance(value, arb)


def ball(value) -> arb:
    """A Fraction (or int) as a ball: exact where it is a dyadic number, else rounded with its radius."""
    if isinstance(value, arb):
        return value
    if not isinstance(value, Fraction):
        value = Fraction(value)
    return _fraction_ball(value.numerator, value.denominator, ctx.prec)


@functools.lru_cache(maxsize=8192)
def _fraction_ball(numerator: int, denominator: int, precision: int) -> arb:
    """A file's number at a working precision: the same few numbers are read again and again (keyed by
    integers, which hash far faster than a Fraction)."""
    return arb(numerator) if denominator == 1 else arb(numerator) / denominator


def ball_of_float(node: sp.Float) -> arb:
    """A SymPy Float as the binary number it is, exactly."""
    sign, mantissa, exponent, _ = node._mpf_
    return arb(-mantissa if sign else mantissa) * arb(2) ** exponent


#: The constants a ball knows rigorously.
_CONSTANTS = {"Pi": arb.pi, "Exp1": arb.const_e, "EulerGamma": arb.const_euler, "Catalan": arb.const_catalan}


def ball_constant(node: sp.Expr) -> arb:
    """π, e, γ or Catalan's constant as a ball; another symbol of a number is :class:`Uncertain` here
    (the evaluator first writes it in radicals where SymPy can: the golden ratio is (1 + √5)/2)."""
    make = _CONSTANTS.get(type(node).__name__)
    if make is None:
        raise Uncertain(f"no ball for the constant {node}")
    return make()


def total(values) -> arb:
    result = arb(0)
    for value in values:
        result += value
    return result


_DECIDED = {"StrictLessThan": lambda a, b: (a < b, a >= b), "LessThan": lambda a, b: (a <= b, a > b),
            "StrictGreaterThan": lambda a, b: (a > b, a <= b), "GreaterThan": lambda a, b: (a >= b, a < b),
            "Equality": lambda a, b: (a == b, a != b), "Unequality": lambda a, b: (a != b, a == b)}


def holds(relation: str, lhs, rhs) -> bool:
    """Whether ``lhs relation rhs``, decided for every point of the balls, or :class:`Uncertain`."""
    true, false = _DECIDED[relation](ball(lhs), ball(rhs))
    if true:
        return True
    if false:
        return False
    raise Uncertain("a comparison cannot be decided at this precision")


def sign(value) -> Fraction:
    """The sign of a ball that excludes 0 (one that does not is :class:`Uncertain`)."""
    return Fraction(1) if holds("StrictGreaterThan", value, 0) else Fraction(-1) if holds("StrictLessThan", value, 0) \
        else Fraction(0)


def step(value, at_zero=Fraction(0)) -> Fraction:
    """The step function of a ball that excludes 0, or of a ball that is exactly 0 (its value there is
    ``at_zero``, the convention of the derivative it is part of)."""
    if ball(value).is_zero():
        return at_zero
    return Fraction(1) if holds("StrictGreaterThan", value, 0) else Fraction(0)


def polygamma(order, value) -> arb:
    """ψ⁽ⁿ⁾(x), the n-th derivative of the digamma function (SymPy writes Γ′ = Γ·ψ⁽⁰⁾), from arb's complex form.

    >>> with working_digits(20):
    ...     proves(polygamma(ball(1), ball(3)), 15)  # π²/6 − 5/4
    True
    """
    return acb(ball(value)).polygamma(acb(ball(order))).real


def largest(*values) -> arb:
    result = ball(values[0])
    for value in values[1:]:
        result = result.max(ball(value))
    return result


def smallest(*values) -> arb:
    result = ball(values[0])
    for value in values[1:]:
        result = result.min(ball(value))
    return result


@contextlib.contextmanager
def working_digits(digits: int) -> Iterator[None]:
    """Balls at ``digits`` decimal digits of working precision inside the block."""
    before = ctx.prec
    ctx.dps = digits
    try:
        yield
    finally:
        ctx.prec = before


def midpoint(value: arb) -> mpmath.mpf:
    """The ball's midpoint as an mpmath number, exactly (at a precision that holds it)."""
    mantissa, exponent = value.mid().man_exp()
    with mpmath.workprec(max(int(mantissa).bit_length(), 1) + 1):
        return mpmath.mpf((int(mantissa), int(exponent)))


def ends(value: arb) -> tuple[mpmath.mpf, mpmath.mpf]:
    """The lower and upper ends of the ball, exactly (whatever the working precision now is)."""
    middle, radius = midpoint(value), midpoint(value.rad())
    return mpmath.fsub(middle, radius, exact=True), mpmath.fadd(middle, radius, exact=True)


def proves(value: arb, digits: int) -> bool:
    """Whether every point of the ball prints the same ``digits`` significant digits (a finite ball only).

    The ball is enclosed in integers scaled by a power of ten (arb's own decimal enclosure, a few digits
    wider than asked), and both ends are rounded as :func:`~symbackprop.numbers.format_decimal` rounds:
    to nearest, half away from zero. The printed midpoint lies between them, so it prints the same.
    """
    if not value.is_finite():
        return False
    if value.is_exact():
        return True
    middle, radius, _ = value.mid_rad_10exp(digits + 10)
    low, high = int(middle) - int(radius), int(middle) + int(radius)
    return _significant(low, digits) == _significant(high, digits)


def _significant(number: int, digits: int) -> tuple[int, int]:
    """(rounded, shift): an integer rounded to ``digits`` significant digits, half away from zero.

    >>> _significant(123449, 4), _significant(-123450, 4), _significant(99996, 4), _significant(0, 3)
    ((1234, 2), (-1235, 2), (1000, 2), (0, 0))
    """
    magnitude = abs(number)
    shift = max(len(str(magnitude)) - digits, 0)
    unit = 10 ** shift
    rounded, rest = divmod(magnitude, unit)
    if 2 * rest >= unit and shift:
        rounded += 1
    if rounded == 10 ** digits:
        rounded, shift = rounded // 10, shift + 1
    return (rounded if number >= 0 else -rounded), shift
