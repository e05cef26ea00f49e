"""Finite differences, the numbers of the proof: central and one-sided steps refined by Richardson
extrapolation, for both oracles (:mod:`.numeric` over a dense network, :mod:`.graphs` over any graph).

>>> import mpmath
>>> with mpmath.workdps(working_digits(30)):
...     estimate = _richardson(lambda h: mpmath.exp(h), central_step(30), RICHARDSON_LEVELS)
>>> mpmath_str(estimate.value, 20)  # d/dh exp(h) at 0
'1.0'
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import mpmath


#: Richardson levels (each halves the step); the error after extrapolation is O(h^(2·levels)).
RICHARDSON_LEVELS = 5


#: Levels of the one-sided differences used to tell a kink from a wrong gradient.
ONE_SIDED_LEVELS = 8


def mpmath_str(value: mpmath.mpf, digits: int = 30) -> str:
    return mpmath.nstr(value, digits)


def _mp_number(value: Fraction) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator


def _float_number(value: Fraction) -> float:
    return value.numerator / value.denominator


@dataclass(frozen=True)
class NumericDerivative:
    """A finite-difference derivative with the step used and an estimate of its own error."""

    value: object
    error_estimate: object
    step: object


def working_digits(digits: int) -> int:
    """The precision of the shifted passes: the requested digits, the digits that f(x+h) − f(x−h) and
    f(x+h) − f(x) cancel (log10(1/h) of the larger step's, 7 at 50 digits but 39 at 300), and a margin
    for Richardson's combinations."""
    cancelled = max(math.ceil((digits + 10) / (2 * RICHARDSON_LEVELS)) + 1, math.ceil((digits + 10) / ONE_SIDED_LEVELS))
    return digits + 30 + cancelled


def central_step(digits: int, float64: bool = False):
    """The largest step of the central differences: the extrapolated truncation error is far below 10^-digits."""
    if float64:
        return 2.0**-8
    return mpmath.mpf(10) ** (-math.ceil((digits + 10) / (2 * RICHARDSON_LEVELS)) - 1)


def one_sided_step(digits: int, float64: bool = False):
    """The largest step of the one-sided differences (their error is O(h^levels), not O(h^(2·levels)))."""
    if float64:
        return 2.0**-8
    return mpmath.mpf(10) ** (-math.ceil((digits + 10) / ONE_SIDED_LEVELS))


def _richardson_one_sided(shifted_value: Callable[[object], object], base, step, levels: int) -> NumericDerivative:
    """(f(p+h) − f(p))/h at h, h/2, …: its error has every power of h, so level k removes h^k."""
    table: list[list] = []
    h = step
    for level in range(levels):
        row = [(shifted_value(h) - base) / h]
        for k in range(1, level + 1):
            row.append(row[k - 1] + (row[k - 1] - table[level - 1][k - 1]) / (2**k - 1))
        table.append(row)
        h = h / 2
    best = table[-1][-1]
    return NumericDerivative(best, abs(best - table[-2][-2]), step)


def _richardson(shifted_value: Callable[[object], object], step, levels: int) -> NumericDerivative:
    """Central differences at steps h, h/2, h/4, … extrapolated (Richardson) to h → 0."""

    def central(h):
        return (shifted_value(h) - shifted_value(-h)) / (2 * h)

    table: list[list] = []
    h = step
    for level in range(levels):
        row = [central(h)]
        for k in range(1, level + 1):
            row.append(row[k - 1] + (row[k - 1] - table[level - 1][k - 1]) / (4**k - 1))
        table.append(row)
        h = h / 2
    best = table[-1][-1]
    estimate = abs(best - table[-2][-2]) if levels > 1 else abs(best)
    return NumericDerivative(best, estimate, step)
