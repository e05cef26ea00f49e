"""The numbers of an expression: exact where the arithmetic allows, in mpmath otherwise.

Every value the engine, training and the auditor compute goes through :func:`evaluate_expression`,
which reads the one function table (:mod:`.registry`) for the value of each function on numbers. The finite-difference oracle
(:mod:`symbackprop.oracle.numeric`) deliberately has its own walk.

>>> x = sp.Symbol("x")
>>> evaluate_expression(sp.Max(x, 0) * 2, {x: Fraction(-3, 4)})
Fraction(0, 1)
"""
from __future__ import annotations

import functools
from fractions import Fraction
from typing import Mapping, Optional

import mpmath
import sympy as sp

from ..errors import UndefinedValue, printable
from ..numbers import as_fraction, format_decimal, to_mpf
from .registry import NUMBER_RULES, SWITCHING, number_rule


def evaluate_named(name: str, expression: sp.Expr, values: Mapping[sp.Symbol, object], **options):
    """:func:`evaluate_expression`, an undefined value named by what it is the value of (a node, a δ, a gradient)."""
    try:
        return evaluate_expression(expression, values, **options)
    except UndefinedValue as error:
        raise UndefinedValue(f"{printable(name)}: {error.problem}", place=error.place) from None


#: Largest magnitude a formula graph's node may reach at the file's numbers (checked when it is read).
FORMULA_MAGNITUDE = 10**300


def has_numeric_rule(function: sp.Basic) -> bool:
    """Whether :func:`evaluate_expression` can compute this function (see :mod:`.registry`)."""
    return isinstance(function, sp.Piecewise) or number_rule(type(function).__name__) is not None


def evaluate_expression(expression: sp.Expr, values: Mapping[sp.Symbol, object], limit=None,
                        switches: Optional[list] = None):
    """``expression`` with its symbols given ``values``, at the current mpmath precision.

    Values that are :class:`~fractions.Fraction` stay exact through +, −, ×, ÷, whole powers and
    the piecewise-linear functions (so a ReLU whose net is exactly 0 sees exactly 0); anything
    else is computed in mpmath.

    >>> from fractions import Fraction
    >>> x, y = sp.symbols("x y")
    >>> evaluate_expression(sp.Heaviside(x + y, 0) * 3 + x / 2, {x: Fraction(1, 10), y: Fraction(-1, 10)})
    Fraction(1, 20)

    With ``limit``, a value beyond it in magnitude raises :class:`OverflowError` and a complex
    value (the log of a negative number) :class:`ValueError`, as soon as it is computed.

    With ``switches``, every switch argument met in binary (not exact) arithmetic is appended to it: a
    ReLU's, |x|'s or a step's argument, the winner of a max or min less each other argument, the two
    sides of a case split's comparison. Two runs at different precisions that list different numbers
    took a branch by rounding noise (see :func:`symbackprop.training.train.switches_agree`).

    >>> import mpmath
    >>> met = []
    >>> evaluate_expression(sp.Max(x, y), {x: Fraction(1, 3), y: mpmath.mpf(1) / 3}, switches=met) > 0.3, len(met)
    (True, 1)
    """
    def number(value):
        return mpmath.mpf(value.numerator) / value.denominator if isinstance(value, Fraction) else value

    seen: dict = {}  # a subexpression shared by many paths is evaluated once: linear in the DAG, not the tree

    def walk(node):
        if node.is_Symbol:
            return values[node]
        if node.is_Rational:
            return as_fraction(node)
        if node.is_Number:
            return to_mpf(node)
        if node.is_NumberSymbol:  # π, e: at the working precision
            return mpmath.mpf(node.evalf(mpmath.mp.dps + 5))
        if node in seen:
            return seen[node]
        try:
            value = compute(node)
        except ZeroDivisionError:
            raise _undefined(node, "a division by 0", seen, values) from None
        except UndefinedValue:
            raise
        except ValueError as error:  # mpmath's domain errors; with a limit, the complex-value check below
            if limit is not None:
                raise
            raise _undefined(node, str(error), seen, values) from None
        if isinstance(value, mpmath.mpc) and limit is None:
            raise _undefined(node, "not a real number", seen, values)
        if limit is None and not isinstance(value, Fraction) and not mpmath.isfinite(value):
            raise _undefined(node, "infinite" if mpmath.isinf(value) else "not a number", seen, values)
        seen[node] = value
        if limit is not None:
            if isinstance(value, mpmath.mpc):
                raise ValueError(f"{node} is not a real number here")
            if not isinstance(value, Fraction) and not mpmath.isfinite(value) or abs(value) > limit:
                raise OverflowError(str(node))
        return value

    def compute(node):
        if isinstance(node, sp.Piecewise):
            for branch, condition in node.args:
                if condition_holds(condition):
                    return walk(branch)
            raise ValueError(f"no branch of {node} holds here")
        args = [walk(argument) for argument in node.args]
        exact = all(isinstance(a, Fraction) for a in args)
        if node.is_Add and not exact:
            complement = _complement_in(node, args, values)
            if complement is not None:
                return complement
        if switches is not None and not exact and type(node).__name__ in SWITCHING:
            note_switch(type(node).__name__, args)
        if node.is_Add:
            return sum(args, Fraction(0)) if exact else mpmath.fsum(number(a) for a in args)
        if node.is_Mul:
            if exact or any(a == 0 for a in args if isinstance(a, Fraction)):  # 0 times a finite number is 0
                if not exact:
                    return Fraction(0)
                product = Fraction(1)
                for a in args:
                    product *= a
                return product
            product = mpmath.mp.one  # fprod's own loop, without its generator: this is the hot spot of training
            for a in args:
                product = product * (mpmath.mpf(a.numerator) / a.denominator if isinstance(a, Fraction) else a)
            return product
        if node.is_Pow:
            base, power = args
            if exact and power.denominator == 1 and (base != 0 or power >= 0) and _small_power(base, power):
                return base ** int(power)
            if power == 0.5 or power == Fraction(1, 2):
                return mpmath.sqrt(number(base))
            return number(base) ** number(power)
        name = type(node).__name__
        function = NUMBER_RULES.get(name) or number_rule(name)
        if function is None:
            raise NotImplementedError(f"no numeric rule for {name} in the program evaluator")
        if exact and name in SWITCHING:  # it only compares: exact arguments give an exact value
            value = function(*args)
            return Fraction(value) if isinstance(value, int) else value
        if name == "sigmoid":
            # σ(z) and 1 − σ(z) = σ(−z), each computed directly: at z = 1000 the difference 1 − σ(z) would
            # cancel every digit (and at z = 1e59 no precision holds it), while σ(−z) has the range
            z = number(args[0])
            return Complemented.of(function(z), function(-z))
        return function(*(number(a) for a in args))

    def condition_holds(condition) -> bool:
        if condition is sp.true or condition is sp.false:
            return bool(condition)
        if isinstance(condition, (sp.And, sp.Or)):
            parts = [condition_holds(c) for c in condition.args]
            return all(parts) if isinstance(condition, sp.And) else any(parts)
        compare = _COMPARISONS.get(type(condition).__name__)
        if compare is None:
            raise NotImplementedError(f"no numeric rule for the condition {condition}")
        lhs, rhs = walk(condition.lhs), walk(condition.rhs)
        if switches is not None and not (isinstance(lhs, Fraction) and isinstance(rhs, Fraction)):
            switches.append(number(lhs) - number(rhs))
        return compare(lhs, rhs)

    def note_switch(name: str, args: list) -> None:
        if name in ("Max", "Min"):
            numbers = [number(a) for a in args]
            chosen = (max if name == "Max" else min)(range(len(numbers)), key=numbers.__getitem__)
            switches.extend(abs(numbers[chosen] - n) for i, n in enumerate(numbers) if i != chosen)
        else:
            switches.append(number(args[0]))

    return walk(expression)


class Complemented:
    """An mpmath number that also knows 1 minus itself, computed without cancellation (a sigmoid's output:
    1 − σ(z) is σ(−z)). ``1 - out`` of such a value is its complement, in the evaluator alone."""

    @staticmethod
    def of(value, complement):
        found = _complemented_type()(value)
        found.complement = complement
        return found


@functools.lru_cache(maxsize=1)
def _complemented_type():
    """The mpf subclass made once (not per sigmoid: this is the training loop's hot path)."""

    class _Value(mpmath.mpf):  # a plain mpf to everything else; arithmetic on it gives plain mpfs
        pass

    return _Value


def _complement_in(node: sp.Add, args: list, values: Mapping):
    """``1 − s`` (plus any further terms) where ``s``'s value carries its complement: that complement."""
    if len(node.args) != 2:
        return None
    for position, term in enumerate(node.args):
        other = node.args[1 - position]
        if other == 1 and term.is_Mul and len(term.args) == 2 and term.args[0] == -1 and term.args[1].is_Symbol:
            value = values.get(term.args[1])
            complement = getattr(value, "complement", None)
            if complement is not None:
                return complement
    return None


#: Most bits an exact power may have; a larger one (x^w at w = 10^12) is computed in binary numbers instead.
MAX_EXACT_POWER_BITS = 1 << 20


def _small_power(base: Fraction, power: Fraction) -> bool:
    bits = max(base.numerator.bit_length(), base.denominator.bit_length(), 1)
    return abs(power.numerator) * bits <= MAX_EXACT_POWER_BITS


def _undefined(node: sp.Expr, why: str, seen: Mapping, values: Mapping) -> "UndefinedValue":
    """The subexpression that has no real finite value, why, and the value of what it was applied to."""
    def short(expression) -> str:
        text = printable(str(expression))
        return text if len(text) <= 80 else text[:77] + "..."

    inner = node.args[0] if node.is_Function and node.args else (node.base if node.is_Pow else None)
    at = ""
    known = seen.get(inner, values.get(inner)) if inner is not None else None
    if known is not None and not inner.is_Number and not isinstance(known, mpmath.mpc):
        at = f", at {short(inner)} = {format_decimal(known, 6, trim=True)}"
    elif inner is not None and inner.is_Number:
        at = f", at {short(inner)}"
    return UndefinedValue(f"{short(node)} has no real value at these numbers ({why}{at})")


_COMPARISONS = {"StrictLessThan": lambda a, b: a < b, "LessThan": lambda a, b: a <= b,
                "StrictGreaterThan": lambda a, b: a > b, "GreaterThan": lambda a, b: a >= b,
                "Equality": lambda a, b: a == b, "Unequality": lambda a, b: a != b}

