"""What a written number states: its places, its significant digits, whether it was cut or rounded.

>>> from types import SimpleNamespace
>>> claim = SimpleNamespace(value=Fraction(15, 10**4), unit=Fraction(1, 10**4))  # "1.5e-3" as written
>>> _places(claim), written_digits(claim)
(4, 2)
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import mpmath
import sympy as sp

from ..numbers import to_mpf
from .claims import Claim
from .world import WORKING_DIGITS, Reading


def _digits(value: mpmath.mpf, unit) -> str:
    """``value`` rounded to the claim's written unit, as text (for digit comparisons)."""
    if unit == 0:
        return mpmath.nstr(value, 15)
    places = max(0, -int(mpmath.floor(mpmath.log10(to_mpf(unit)) + mpmath.mpf("1e-9"))))
    scaled = mpmath.nint(value / to_mpf(unit)) * to_mpf(unit)
    return f"{float(scaled):.{places}f}" if places < 15 else mpmath.nstr(scaled, 20)


def _cut_and_rounded(claim: Claim, value: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``value`` cut and rounded at the claim's last written digit (the readings' own rules)."""
    places = _places(claim)
    return Reading("cut", "places", places).apply(value), Reading("round", "places", places).apply(value)


def _truncates(claim: Claim, value: mpmath.mpf) -> bool:
    """The claim is ``value`` cut (not rounded) at the written digit, and rounding would differ."""
    if claim.unit == 0:
        return False
    cut, rounded = _cut_and_rounded(claim, value)
    unit = to_mpf(claim.unit)
    return abs(cut - to_mpf(claim.value)) < unit / 1000 and abs(rounded - cut) > unit / 2


def _truncates_differently(claim: Claim, value: mpmath.mpf) -> bool:
    """Whether cutting ``value`` at the claim's last digit gives another number than rounding it."""
    cut, rounded = _cut_and_rounded(claim, value)
    return abs(rounded - cut) > to_mpf(claim.unit) / 2


def _places(claim: Claim) -> int:
    return max(0, -int(mpmath.floor(mpmath.log10(to_mpf(claim.unit)) + mpmath.mpf("1e-9")))) if claim.unit else 30


def _significant(claim: Claim) -> int:
    """The significant digits a claim writes, at least 1 (see :func:`written_digits`)."""
    return max(1, written_digits(claim))


def _same(a, b, digits: int) -> bool:
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return not mpmath.isfinite(a) and not mpmath.isfinite(b)
    return abs(a - b) <= mpmath.mpf(10) ** (-digits + 8) * max(1, abs(a))


def working_digits(claims: Sequence[Claim]) -> int:
    """The auditor's working precision: :data:`WORKING_DIGITS`, or 20 more than the most significant digits
    any claim writes (from its first digit to its last written place), so every written digit is judged.

    >>> from symbackprop.audit.claims import ClaimKey
    >>> from symbackprop.quantity import Quantity
    >>> key = ClaimKey("value", 0, Quantity.loss())
    >>> working_digits([Claim(0, "E", key, "0." + "1" * 60, Fraction(1, 9), Fraction(1, 10**60), "claims[0]")])
    80
    """
    written = [written_digits(claim) for claim in claims]
    return max([WORKING_DIGITS] + [digits + 20 for digits in written])


def written_digits(claim: Claim) -> int:
    """How many digits a claim writes from its leading digit to its last written place (0 for a number
    whose written unit exceeds its size, such as "0.000" or "0e50"; exact fractions count as none)."""
    if not claim.unit or claim.value == 0:
        return 0
    size, unit = abs(claim.value), claim.unit
    digits = 0
    while unit * 10**digits <= size:
        digits += 1
    return digits


def _exact_zero(value) -> bool:
    """An exact 0 (a rational computed without rounding), not a binary number that happens to be 0."""
    return isinstance(value, (Fraction, int, sp.Rational)) and value == 0
