"""Losses: one registry; each loss is its per-output term, written once in SymPy.

Every supported loss is a sum of per-output terms E(o) that depend only on
that output and its target, so ∂E/∂out_o = ∂E(o)/∂out_o.

>>> import sympy as sp
>>> o, t = sp.symbols("out t")
>>> LOSSES["half_sse"].term(o, t, 1), LOSSES["half_sse"].derivative(o, t, 1)
((-out + t)**2/2, out - t)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import sympy as sp


_OUT, _TARGET, _COUNT = sp.symbols("out t n")


@functools.lru_cache(maxsize=None)
def _mpmath_function(expression: sp.Expr):
    # Our own expressions over our own symbols, never file text: lambdify is safe here.
    return sp.lambdify((_OUT, _TARGET, _COUNT), expression, modules="mpmath")


@dataclass(frozen=True)
class LossKind:
    """A loss: its one SymPy definition, the per-output term E(o); every other form is derived.

    >>> LossKind("quartic", "Σ(t − o)⁴", lambda o, t, n: (t - o) ** 4).derivative(*sp.symbols("o t"), 1)
    -4*(-o + t)**3
    """

    name: str
    formula: str  # how people write it, for reports
    term: Callable[[sp.Expr, sp.Expr, int], sp.Expr]  # (out, target, number of outputs)
    tex: str = ""  # E as people typeset it; when not given, :meth:`latex` writes it from the term
    #: The targets over the outputs are a distribution (non-negative, Σ t = 1): the loader holds files to it,
    #: and a softmax's δ may then collapse to out − t (Σ t = 1 is what the collapse uses).
    targets_sum_to_one: bool = False
    targets_in_unit_interval: bool = False  # each target in [0, 1] (a probability of its own)

    def latex(self) -> str:
        r"""E over the outputs k, in LaTeX: the registered form, or Σ_k of the term's own LaTeX.

        >>> LossKind("quartic", "¼Σ(t − o)⁴", lambda o, t, n: (t - o) ** 4 / 4).latex()
        'E = \\sum_k \\frac{\\left(t_{k} - \\mathrm{out}_{k}\\right)^{4}}{4}'
        """
        if self.tex:
            return self.tex
        out, target = sp.Symbol(r"\mathrm{out}_{k}"), sp.Symbol("t_{k}")
        return r"E = \sum_k " + sp.latex(self.term(out, target, sp.Symbol("n")), order="none")

    def derivative(self, out: sp.Expr, target: sp.Expr, count: int) -> sp.Expr:
        """∂E(o)/∂out, by SymPy."""
        return sp.diff(self.term(_OUT, _TARGET, count), _OUT).xreplace({_OUT: out, _TARGET: target})

    def numeric(self, out, target, count: int):
        """The term evaluated in mpmath."""
        return _mpmath_function(self.term(_OUT, _TARGET, _COUNT))(out, target, count)

    def numeric_derivative(self, out, target, count: int):
        return _mpmath_function(sp.diff(self.term(_OUT, _TARGET, _COUNT), _OUT))(out, target, count)


LOSSES: dict[str, LossKind] = {}


def register_loss(name: str, formula: str, term: Callable[[sp.Expr, sp.Expr, int], sp.Expr], tex: str = "",
                  targets_sum_to_one: bool = False, targets_in_unit_interval: bool = False) -> LossKind:
    """Add a loss from its per-output term: one entry gives every form (``tex``, E as typeset, is optional;
    the target properties are what files are held to)."""
    LOSSES[name] = LossKind(name, formula, term, tex, targets_sum_to_one, targets_in_unit_interval)
    return LOSSES[name]


register_loss("half_sse", "½Σ(t − o)²", lambda o, t, n: sp.Rational(1, 2) * (t - o) ** 2,
              r"E = \tfrac12 \sum_k (t_k - \mathrm{out}_k)^2")
register_loss("sse", "Σ(t − o)²", lambda o, t, n: (t - o) ** 2, r"E = \sum_k (t_k - \mathrm{out}_k)^2")
register_loss("mse", "(1/n)Σ(t − o)²", lambda o, t, n: (t - o) ** 2 / n, r"E = \tfrac1n \sum_k (t_k - \mathrm{out}_k)^2")
register_loss("cross_entropy", "−Σ t·ln o", lambda o, t, n: -t * sp.log(o), r"E = -\sum_k t_k \ln \mathrm{out}_k",
              targets_sum_to_one=True)
register_loss("binary_cross_entropy", "−Σ [t·ln o + (1 − t)·ln(1 − o)]",
              lambda o, t, n: -(t * sp.log(o) + (1 - t) * sp.log(1 - o)),
              r"E = -\sum_k \left[t_k \ln \mathrm{out}_k + (1 - t_k) \ln(1 - \mathrm{out}_k)\right]",
              targets_in_unit_interval=True)


def loss_kind(name: str) -> LossKind:
    """The registry entry for ``name``; an unknown name fails loudly."""
    try:
        return LOSSES[name]
    except KeyError:
        raise KeyError(f"no loss {name!r} in the registry (known: {', '.join(LOSSES)})") from None
