"""One table of the functions an expression may hold: how a formula calls each, and how each is computed.

Every stage that meets a function by name reads this table and nothing else: the formula language (its
name and arity), the evaluator of node values (its value on numbers, kept exact on exact arguments where
it only compares), the float64 code (its NumPy form, where SymPy's NumPy printer has none), and the kink
search (whether its branch turns on the sign of an argument). Each function's SymPy definition, its
derivative (``fdiff``) and its LaTeX (``_latex``) live on its SymPy class, in :mod:`.activations`; an
activation registered in Python (:func:`.activations.register_activation`) joins the formula language and
the evaluator through its definition. The independent oracle (:mod:`symbackprop.oracle.graphs`) keeps a
walk and a table of its own on purpose: a proof must not share the code it checks.

>>> sorted(SWITCHING)[:4]
['Abs', 'Heaviside', 'Max', 'Min']
>>> [entry.formula_name for entry in TABLE if entry.formula_name][:4]
['exp', 'log', 'sqrt', 'abs']
>>> number_rule("Max")(Fraction(1, 3), Fraction(1, 2))
Fraction(1, 2)
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Optional

import mpmath
import sympy as sp
from flint import arb

from . import balls
from .activations import (ACTIVATIONS, Absolute, Activation, Heaviside, leaky_relu, relu, sigmoid, softmax,
                          softmax_numeric, softplus)


@dataclass(frozen=True)
class Entry:
    """One function: its SymPy class's name (as ``type(node).__name__`` gives it), its name in a formula file
    (None where formulas cannot call it), its arity there and the SymPy function it builds, its value on
    numbers, its NumPy form (None where SymPy's NumPy printer writes it), whether it switches, and its value
    on balls (:mod:`.balls`)."""

    sympy_name: Optional[str]
    formula_name: Optional[str]
    arity: tuple[int, int]
    build: Optional[Callable[..., sp.Expr]]
    number: Optional[Callable]
    numpy: Optional[Callable[[], Callable]] = None  # made on first use: NumPy is optional
    switches: bool = False  # its branch turns on a comparison of its arguments: a kink where they tie
    ball: Optional[Callable] = None  # its value on balls (None: a function of ours, by its explicit definition)
    vectors: bool = False  # a formula may give it vectors, [a, b, c]: ``build`` checks their shapes (ValueError)


def _activation_number(name: str) -> Callable:
    """The value of a registered activation on numbers: its definition lambdified for mpmath."""
    return lambda x, alpha=None: ACTIVATIONS[name].numeric(x, alpha)


def _mpmath(name: str) -> Callable:
    return getattr(mpmath, name)


def _sign(x):
    return Fraction((x > 0) - (x < 0))


def _step(x, at_zero=Fraction(0)):
    return Fraction(1) if x > 0 else (at_zero if x == 0 else Fraction(0))


def _numpy_from_math(name: str) -> Callable[[], Callable]:
    def form():  # in the standard library, not in NumPy
        import numpy as np

        return np.vectorize(getattr(math, name), otypes=[float])
    return form


def _own(function: type) -> Callable[[], Callable]:
    """Our function's own implementation, which ``sympy.lambdify`` takes before any module it is given: its
    explicit definition lambdified (softplus as logaddexp, softmax shifted by its largest net, not to overflow)."""
    return lambda: function._imp_


def _elementary(name: str, formula: bool = False, numpy: Optional[Callable[[], Callable]] = None) -> Entry:
    """A SymPy function computed by mpmath's function of the same (lower-case) name, and by arb's on balls."""
    return Entry(name, name.lower() if formula else None, (1, 1), getattr(sp, name) if formula else None,
                 _mpmath(name.lower()), numpy, ball=getattr(arb, name.lower()))


#: Most components a vector of a formula may have, and most arguments of sum() and mean().
MAX_VECTOR = 1024


def vector_sum(*terms: sp.Expr, evaluate: bool = True) -> sp.Expr:
    """``sum(a, b, c)`` of a formula: one flat sum, as the file wrote it.

    >>> a, b, c = sp.symbols("a b c")
    >>> vector_sum(a, b, c)
    a + b + c
    """
    return sp.Add(*terms, evaluate=evaluate)


def vector_mean(*terms: sp.Expr, evaluate: bool = True) -> sp.Expr:
    """``mean(a, b, c)`` of a formula: the sum over the count, the count a rational number.

    >>> a, b, c = sp.symbols("a b c")
    >>> vector_mean(a, b, c)
    a/3 + b/3 + c/3
    """
    return sp.Add(*(sp.Rational(1, len(terms)) * term for term in terms), evaluate=evaluate)


def vector_dot(left, right, evaluate: bool = True) -> sp.Expr:
    """``dot([a, b], [c, d])`` of a formula: Σ left_i·right_i over two vectors of one length.

    >>> a, b, c, d = sp.symbols("a b c d")
    >>> vector_dot((a, b), (c, d))
    a*c + b*d
    >>> vector_dot((a, b), (c,))
    Traceback (most recent call last):
    ...
    ValueError: dot() takes two vectors of one length, not of 2 and 1 components
    """
    if not isinstance(left, tuple) or not isinstance(right, tuple):
        raise ValueError("dot() takes two vectors, written [a, b, ...]")
    if len(left) != len(right):
        raise ValueError(f"dot() takes two vectors of one length, not of {len(left)} and {len(right)} components")
    return sp.Add(*(x * y for x, y in zip(left, right)), evaluate=evaluate)


def softmax_component(vector, component, evaluate: bool = True) -> sp.Expr:
    """``softmax([a, b, c], 2)`` of a formula: component 2 (counted from 1, as softmax₂ is printed) of the
    softmax over the vector; one n-ary function, so its derivative is the softmax Jacobian.

    >>> a, b, c = sp.symbols("a b c")
    >>> softmax_component((a, b, c), sp.Integer(2))
    softmax([a, b, c], 2)
    >>> softmax_component((a, b), sp.Integer(3))
    Traceback (most recent call last):
    ...
    ValueError: softmax()'s component is a whole number from 1 to 2 (its vector's length), not 3
    """
    if not isinstance(vector, tuple):  # (a softmax of one is 1, as a dense layer of one unit has it)
        raise ValueError("softmax() takes a vector, written [a, b, ...], and a component")
    if isinstance(component, tuple) or not (component.is_Integer and 1 <= component <= len(vector)):
        raise ValueError(f"softmax()'s component is a whole number from 1 to {len(vector)} (its vector's length), "
                         f"not {'a vector' if isinstance(component, tuple) else component}")
    return softmax(int(component) - 1, *vector)


def _two_or_more(sympy_name: str, formula_name: str, build, number, on_balls) -> Entry:
    return Entry(sympy_name, formula_name, (2, 16), build, number, switches=True, ball=on_balls)


#: The table, in the order a formula's "known:" list names them.
TABLE: tuple[Entry, ...] = (
    _elementary("exp", formula=True),
    _elementary("log", formula=True),
    Entry(None, "sqrt", (1, 1), sp.sqrt, None),  # (a power: the evaluator computes it as one)
    Entry("abs", "abs", (1, 1), Absolute, abs, _own(Absolute), switches=True, ball=abs),
    _elementary("sin", formula=True),
    _elementary("cos", formula=True),
    _elementary("tanh", formula=True),
    _elementary("erf", formula=True, numpy=_numpy_from_math("erf")),
    Entry("sigmoid", "sigmoid", (1, 1), sigmoid, _activation_number("sigmoid"), _own(sigmoid)),
    Entry("softplus", "softplus", (1, 1), softplus, _activation_number("softplus"), _own(softplus)),
    Entry("relu", "relu", (1, 1), relu, _activation_number("relu"), _own(relu), switches=True),
    Entry("leaky_relu", "leaky_relu", (2, 2), leaky_relu, _activation_number("leaky_relu"), _own(leaky_relu),
          switches=True),
    _two_or_more("Max", "max", sp.Max, max, balls.largest),
    _two_or_more("Min", "min", sp.Min, min, balls.smallest),
    *(_elementary(name) for name in ("tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh")),
    Entry("erfc", None, (1, 1), None, mpmath.erfc, _numpy_from_math("erfc"), ball=arb.erfc),
    Entry("gamma", None, (1, 1), None, mpmath.gamma, _numpy_from_math("gamma"), ball=arb.gamma),
    Entry("polygamma", None, (2, 2), None, mpmath.polygamma, ball=balls.polygamma),
    Entry("Abs", None, (1, 1), None, abs, switches=True, ball=abs),
    Entry("sign", None, (1, 1), None, _sign, switches=True, ball=balls.sign),
    Entry("Heaviside", None, (1, 2), None, _step, _own(Heaviside), switches=True, ball=balls.step),
    Entry(None, "sum", (1, MAX_VECTOR), vector_sum, None),
    Entry(None, "mean", (1, MAX_VECTOR), vector_mean, None),
    Entry(None, "dot", (2, 2), vector_dot, None, vectors=True),
    Entry("softmax", "softmax", (2, 2), softmax_component, lambda k, *nets: softmax_numeric(list(nets))[int(k)],
          _own(softmax), vectors=True),
)

#: The value on numbers of each function in the table, by SymPy name (the evaluator's hot path reads this).
NUMBER_RULES: dict[str, Callable] = {entry.sympy_name: entry.number for entry in TABLE
                                     if entry.sympy_name and entry.number is not None}

#: The value on balls of each function in the table that has one, by SymPy name (see :mod:`.balls`).
BALL_RULES: dict[str, Callable] = {entry.sympy_name: entry.ball for entry in TABLE if entry.ball is not None}

#: SymPy names of the functions whose branch turns on a comparison: kinks, and exact on exact arguments.
SWITCHING: frozenset[str] = frozenset(entry.sympy_name for entry in TABLE if entry.switches and entry.sympy_name)


def number_rule(sympy_name: str) -> Optional[Callable]:
    """How the evaluator computes the function of that SymPy name on numbers, or None if nothing can.

    A registered activation that is a SymPy function of its own is computed by its definition.

    >>> number_rule("tanh") is mpmath.tanh, number_rule("besselj")
    (True, None)
    """
    if sympy_name in NUMBER_RULES:
        return NUMBER_RULES[sympy_name]
    rule = ACTIVATIONS.get(sympy_name)
    return _activation_number(sympy_name) if rule is not None and rule.elementwise else None


@functools.lru_cache(maxsize=1)
def numpy_forms() -> dict[str, Callable]:
    """The NumPy forms the float64 code is given, by SymPy name (the rest, SymPy's NumPy printer writes)."""
    return {entry.sympy_name: entry.numpy() for entry in TABLE if entry.numpy is not None}


def activation_has_kink(rule: Activation) -> bool:
    """Whether an elementwise activation's derivative jumps somewhere (at net = 0 for the ReLU family).

    >>> activation_has_kink(ACTIVATIONS["leaky_relu"]), activation_has_kink(ACTIVATIONS["softplus"])
    (True, False)
    """
    return rule.elementwise and has_kink(rule.forward(_NET, _ALPHA))


_NET, _ALPHA = sp.Symbol("net"), sp.Symbol("alpha")


def has_kink(expression: sp.Expr) -> bool:
    """Whether an expression holds a function that switches, or a case split: a point where a derivative jumps.

    >>> x = sp.Symbol("x")
    >>> has_kink(relu(x) + 1), has_kink(Absolute(x)), has_kink(sigmoid(x))
    (True, True, False)
    """
    return any(isinstance(part, sp.Piecewise) or type(part).__name__ in SWITCHING
               for part in sp.preorder_traversal(expression))
