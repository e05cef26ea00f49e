"""Losses: one registry, each output's term next to its derivative.

Every supported loss is a sum of per-output terms E(o) that depend only on
that output and its target, so ∂E/∂out_o = ∂E(o)/∂out_o.

>>> import sympy as sp
>>> o, t = sp.symbols("out t")
>>> LOSSES["half_sse"].term(o, t, 1), LOSSES["half_sse"].derivative(o, t, 1)
((-out + t)**2/2, out - t)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mpmath
import sympy as sp


@dataclass(frozen=True)
class LossKind:
    """A loss: its per-output term E(o), the rule for ∂E(o)/∂out, and an mpmath forward."""

    name: str
    formula: str  # how people write it, for reports
    term: Callable[[sp.Expr, sp.Expr, int], sp.Expr]  # (out, target, number of outputs)
    derivative: Callable[[sp.Expr, sp.Expr, int], sp.Expr]
    numeric: Callable[[mpmath.mpf, mpmath.mpf, int], mpmath.mpf]
    numeric_derivative: Callable[[mpmath.mpf, mpmath.mpf, int], mpmath.mpf]


def _binary_ce_numeric(out, target, n):
    # 0·ln 0 is taken as 0, so hard 0/1 targets do not need both logarithms.
    first = target * mpmath.log(out) if target != 0 else mpmath.mpf(0)
    second = (1 - target) * mpmath.log(1 - out) if target != 1 else mpmath.mpf(0)
    return -(first + second)


LOSSES: dict[str, LossKind] = {
    "half_sse": LossKind(
        "half_sse",
        "½Σ(t − o)²",
        term=lambda o, t, n: sp.Rational(1, 2) * (t - o) ** 2,
        derivative=lambda o, t, n: o - t,
        numeric=lambda o, t, n: (t - o) ** 2 / 2,
        numeric_derivative=lambda o, t, n: o - t,
    ),
    "sse": LossKind(
        "sse",
        "Σ(t − o)²",
        term=lambda o, t, n: (t - o) ** 2,
        derivative=lambda o, t, n: 2 * (o - t),
        numeric=lambda o, t, n: (t - o) ** 2,
        numeric_derivative=lambda o, t, n: 2 * (o - t),
    ),
    "mse": LossKind(
        "mse",
        "(1/n)Σ(t − o)²",
        term=lambda o, t, n: (t - o) ** 2 / n,
        derivative=lambda o, t, n: sp.Rational(2, n) * (o - t),
        numeric=lambda o, t, n: (t - o) ** 2 / n,
        numeric_derivative=lambda o, t, n: 2 * (o - t) / n,
    ),
    "cross_entropy": LossKind(
        "cross_entropy",
        "−Σ t·ln o",
        term=lambda o, t, n: -t * sp.log(o),
        derivative=lambda o, t, n: -t / o,
        numeric=lambda o, t, n: -t * mpmath.log(o) if t != 0 else mpmath.mpf(0),
        numeric_derivative=lambda o, t, n: -t / o,
    ),
    "binary_cross_entropy": LossKind(
        "binary_cross_entropy",
        "−Σ [t·ln o + (1 − t)·ln(1 − o)]",
        term=lambda o, t, n: -(t * sp.log(o) + (1 - t) * sp.log(1 - o)),
        derivative=lambda o, t, n: -t / o + (1 - t) / (1 - o),
        numeric=_binary_ce_numeric,
        numeric_derivative=lambda o, t, n: -t / o + (1 - t) / (1 - o),
    ),
}


def loss_kind(name: str) -> LossKind:
    """The registry entry for ``name``; an unknown name fails loudly."""
    try:
        return LOSSES[name]
    except KeyError:
        raise KeyError(f"no loss {name!r} in the registry (known: {', '.join(LOSSES)})") from None
