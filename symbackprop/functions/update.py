"""The update rule, once: what one step of gradient descent does to a parameter, and how a batch's
samples combine (their mean or their sum).

``train``, ``explain --steps`` and the auditor's exact values all step parameters through
:func:`descend`; they differ only in the numbers they carry (Fractions and mpmath numbers while
training and auditing, SymPy expressions in explain), which :func:`descend` takes through ``add``.
The audit world's own update (audit/world.py) is deliberately separate: it holds the knobs of an
author's mistakes (a wrong sign, a wrong rate, the biases left alone) and must be able to get it wrong.

>>> from fractions import Fraction as F
>>> descend(F(1, 2), F(3), F(1, 10))
(Fraction(1, 5), Fraction(3, 1))
>>> descend(F(1, 2), F(3), F(1, 10), velocity=F(2), momentum=F(9, 10))  # v⁺ = 0.9·2 + 3, p⁺ = 0.5 − 0.1·4.8
(Fraction(1, 50), Fraction(24, 5))
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Optional


def over_samples(reduction: str, total, count: int):
    """E, or a batch's gradient, from the total over ``count`` samples: their mean, or their sum, as the
    file's ``reduction`` says (summing is the caller's: SymPy's Add, exact Fractions or mpmath's fsum).

    >>> over_samples("mean", Fraction(3), 4), over_samples("sum", Fraction(3), 4)
    (Fraction(3, 4), Fraction(3, 1))
    """
    return total / count if reduction == "mean" else total


def exact_or_binary_plus(a, factor, b):
    """a + factor·b: exact where both are Fractions, else in mpmath at the current precision.

    >>> exact_or_binary_plus(Fraction(1), Fraction(-1, 10), Fraction(3))
    Fraction(7, 10)
    """
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a + factor * b
    from ..numbers import fast_mpf

    return fast_mpf(a) + fast_mpf(factor) * fast_mpf(b)


def plain_plus(a, factor, b):
    """a + factor·b in the numbers' own arithmetic (SymPy's, for expressions)."""
    return a + factor * b


def descend(parameter, gradient, rate, velocity=None, momentum=None,
            add: Callable = exact_or_binary_plus) -> tuple[object, object]:
    """(p⁺, v⁺) after one update: v⁺ = μ·v + g and p⁺ = p − η·v⁺ (classical momentum, PyTorch's SGD
    rule); without momentum v⁺ = g, plain gradient descent. ``gradient`` is that of the update's batch
    (its mean or sum over the batch's samples, as the file's reduction says)."""
    direction = add(gradient, momentum, velocity) if momentum and velocity is not None else gradient
    return add(parameter, -rate, direction), direction


def frozen_or_descend(name: str, frozen, parameter, gradient: Callable[[], object], rate,
                      velocity: Optional[object] = None, momentum=None, add: Callable = exact_or_binary_plus):
    """:func:`descend` for a parameter an update may leave alone (a bias, with ``update_biases = false``):
    a frozen one keeps its value and has no velocity (None), and its gradient is never computed."""
    if name in frozen:
        return parameter, None
    return descend(parameter, gradient(), rate, velocity, momentum, add)


METHODS = ("batch", "stochastic", "minibatch")


REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class Training:
    """How a file trains: steps, the update method, the batch size, momentum, and the loss's reduction."""

    steps: int = 1
    method: str = "batch"  # one of METHODS
    batch_size: Optional[int] = None  # for "minibatch"
    momentum: Fraction = Fraction(0)
    reduction: str = "mean"  # of the loss over the samples: one of REDUCTIONS


#: Most steps a file or the command line may ask for, and most sample-steps (steps × samples) one run may take.
MAX_STEPS = 100_000
