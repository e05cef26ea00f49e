"""The numbers of an expression: exact where the arithmetic allows, in mpmath otherwise.

Every value the engine, training and the auditor compute goes through :func:`evaluate_expression`,
which reads the one function table (:mod:`.registry`) for the value of each function on numbers. The
finite-difference oracle (:mod:`symbackprop.oracle.numeric`) deliberately has its own walk.

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
from flint import arb, ctx

from ..errors import UndefinedValue, printable
from ..numbers import as_fraction, format_decimal, to_mpf
from .balls import Uncertain, ball, ball_constant, ball_of_float, ends, holds, is_ball, midpoint, total
from .registry import BALL_RULES, NUMBER_RULES, SWITCHING, number_rule


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
                        balls: bool = False):
    """``expression`` with its symbols given ``values``, at the current mpmath precision (or, with ``balls``,
    in the balls of :mod:`.balls` at their working precision).

    Values that are :class:`~fractions.Fraction` stay exact through +, −, ×, ÷, whole powers and
    the piecewise-linear functions (so a ReLU whose net is exactly 0 sees exactly 0); anything
    else is computed in mpmath.

    >>> from fractions import Fraction
    >>> x, y = sp.symbols("x y")
    >>> evaluate_expression(sp.Heaviside(x + y, 0) * 3 + x / 2, {x: Fraction(1, 10), y: Fraction(-1, 10)})
    Fraction(1, 20)

    With ``limit``, a value beyond it in magnitude raises :class:`OverflowError` and a complex
    value (the log of a negative number) :class:`ValueError`, as soon as it is computed.

    With ``balls``, the values that are not exact are balls, and every binary number computed is one, its
    radius bounding its error: a branch (a ReLU's, |x|'s or a step's argument, the sides of a max, min or
    case split) is taken only where its ball decides it, else :class:`~.balls.Uncertain` is raised; a
    function of ours is computed from its explicit definition.

    >>> from symbackprop.functions.balls import midpoint, proves, working_digits
    >>> with working_digits(20):
    ...     value = evaluate_expression(sp.exp(x) + x, {x: Fraction(1, 2)}, balls=True)
    >>> proves(value, 19), format_decimal(midpoint(value), 19), proves(value, 20)  # (20: its ends print 8 and 9)
    (True, '2.148721270700128147', False)
    """
    if limit is None and expression.is_Mul and all(factor.is_Symbol for factor in expression.args):
        # the commonest line of a program (a gradient δ·x): no walk needed
        factors = [values[factor] for factor in expression.args]
        return _product(factors, all(isinstance(f, Fraction) for f in factors), balls)
    if balls:
        number = ball
    else:
        def number(value):
            return mpmath.mpf(value.numerator) / value.denominator if isinstance(value, Fraction) else value

    seen: dict = {}  # a subexpression shared by many paths is evaluated once: linear in the DAG, not the tree

    def walk(node):
        if node.is_Symbol:
            return values[node]
        if node.is_Rational:
            return as_fraction(node)
        if node.is_Number:
            return ball_of_float(node) if balls else to_mpf(node)
        if node.is_NumberSymbol:  # π, e: at the working precision
            if not balls:
                return mpmath.mpf(node.evalf(mpmath.mp.dps + 5))
            radicals = node.rewrite(sp.sqrt)
            return ball_constant(node) if radicals == node else walk(radicals)
        if node in seen:
            return seen[node]
        try:
            value = compute(node)
        except ZeroDivisionError:
            raise _undefined(node, "a division by 0", seen, values) from None
        except (UndefinedValue, Uncertain):
            raise
        except ValueError as error:  # mpmath's domain errors; with a limit, the complex-value check below
            if limit is not None:
                raise
            raise _undefined(node, str(error), seen, values) from None
        if balls and not isinstance(value, Fraction) and not value.is_finite():
            raise _undefined_or_uncertain(node, values)
        if balls:
            seen[node] = value
            if limit is not None and not isinstance(value, Fraction) and abs(value) > limit:
                raise OverflowError(str(node))
            return value
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
            complement = _complement_in(node, values)
            if complement is not None:
                return complement
        if node.is_Add:
            if exact:
                return sum(args, Fraction(0))
            return total(number(a) for a in args) if balls else mpmath.fsum(number(a) for a in args)
        if node.is_Mul:
            return _product(args, exact, balls)
        if node.is_Pow:
            base, power = args
            if exact and power.denominator == 1 and (base != 0 or power >= 0) and _small_power(base, power):
                return base ** int(power)
            if power == 0.5 or power == Fraction(1, 2):
                return number(base).sqrt() if balls else mpmath.sqrt(number(base))
            if balls and isinstance(power, Fraction) and power.denominator == 1:
                return number(base) ** int(power)
            return number(base) ** number(power)
        name = type(node).__name__
        if balls and not (exact and name in SWITCHING):
            return compute_ball(node, name, args)
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
        if balls and not (isinstance(lhs, Fraction) and isinstance(rhs, Fraction)):
            return holds(type(condition).__name__, lhs, rhs)
        return compare(lhs, rhs)

    def compute_ball(node, name: str, args: list):
        """A function of balls: the table's ball form, or a function of ours through its explicit definition."""
        rule = BALL_RULES.get(name)
        if rule is not None:
            return rule(*(number(a) for a in args))
        if name in COMPLEMENTED:  # σ(z), and 1 − σ(z) = σ(−z) without cancelling every digit (see below)
            value = walk(_explicit(node))
            if isinstance(value, Fraction):  # (a softmax of one output is exactly 1)
                return value
            return Complemented.of_ball(value, ball(walk(_explicit(node, complement=True))))
        if hasattr(node, "_explicit"):
            return walk(_explicit(node))
        raise NotImplementedError(f"no ball rule for {name} in the program evaluator")

    return walk(expression)


def _undefined_or_uncertain(node: sp.Expr, values: Mapping) -> Exception:
    """Why a ball came out infinite or not a number: the same one line as in mpmath (a log of 0, a division
    by 0) where the node has no value at the lower end, the midpoint and the upper end of every ball it
    reads; :class:`~.balls.Uncertain` where it has one at any of them (a log of a ball that holds 0)."""
    leaves = {symbol: values[symbol] for symbol in node.free_symbols if symbol in values}
    found: Optional[UndefinedValue] = None
    for corner in (midpoint, lambda b: ends(b)[0], lambda b: ends(b)[1]):
        at = {symbol: corner(value) if is_ball(value) else value for symbol, value in leaves.items()}
        try:
            with mpmath.workdps(ctx.dps):
                evaluate_expression(node, at)
        except UndefinedValue as error:
            found = found or error
            continue
        return Uncertain(f"{node} is not finite on the whole ball")
    return found


def _product(args: list, exact: bool, balls: bool):
    """The product of numbers: exact where all are (or one is an exact 0: 0 times a finite number is 0),
    else a ball or an mpmath number."""
    if exact or any(a == 0 for a in args if isinstance(a, Fraction)):
        if not exact:
            return Fraction(0)
        product = Fraction(1)
        for a in args:
            product *= a
        return product
    if balls:
        product = ball(1)
        for a in args:
            product = product * ball(a)
        return product
    product = mpmath.mp.one  # fprod's own loop, without its generator: this is the hot spot of training
    for a in args:
        product = product * (mpmath.mpf(a.numerator) / a.denominator if isinstance(a, Fraction) else a)
    return product


#: Our functions whose value is kept with 1 minus itself: at a net of 1e20, 1 − out would cancel every digit.
COMPLEMENTED = frozenset({"sigmoid", "softmax"})


@functools.lru_cache(maxsize=65536)
def _explicit(node: sp.Expr, complement: bool = False) -> sp.Expr:
    """A function of ours in elementary functions (the same program lines are walked for every sample); with
    ``complement``, 1 minus it without a subtraction: a sigmoid's σ(−z), a softmax output's the sum of the
    layer's other outputs.

    >>> from symbackprop.functions.activations import softmax
    >>> a, b, c = sp.symbols("a b c")
    >>> _explicit(softmax(0, a, b, c), complement=True)
    exp(b)/(exp(a) + exp(b) + exp(c)) + exp(c)/(exp(a) + exp(b) + exp(c))
    """
    if not complement:
        return node._explicit()
    if type(node).__name__ == "sigmoid":
        return type(node)(-node.args[0])._explicit()
    own, nets = int(node.args[0]), node.args[1:]
    return sp.Add(*[type(node)(other, *nets)._explicit() for other in range(len(nets)) if other != own])


class Complemented:
    """An mpmath number that also knows 1 minus itself, computed without cancellation (a sigmoid's output:
    1 − σ(z) is σ(−z)). ``1 - out`` of such a value is its complement, in the evaluator alone."""

    @staticmethod
    def of(value, complement):
        found = _complemented_type()(value)
        found.complement = complement
        return found

    @staticmethod
    def of_ball(value, complement):
        found = _ComplementedBall(value)
        found.complement = complement
        return found


class _ComplementedBall(arb):
    """A ball that also knows 1 minus itself (a plain ball to everything else)."""


@functools.lru_cache(maxsize=1)
def _complemented_type():
    """The mpf subclass made once (not per sigmoid: this is the training loop's hot path)."""

    class _Value(mpmath.mpf):  # a plain mpf to everything else; arithmetic on it gives plain mpfs
        pass

    return _Value


def one_minus(node: sp.Add) -> Optional[sp.Symbol]:
    """s, where ``node`` is 1 − s for a symbol s (whose value may carry its complement); else None.

    >>> s = sp.Symbol("s")
    >>> one_minus(1 - s), one_minus(2 - s)
    (s, None)
    """
    if len(node.args) != 2:
        return None
    for position, term in enumerate(node.args):
        other = node.args[1 - position]
        if other == 1 and term.is_Mul and len(term.args) == 2 and term.args[0] == -1 and term.args[1].is_Symbol:
            return term.args[1]
    return None


def _complement_in(node: sp.Add, values: Mapping):
    """``1 − s`` where ``s``'s value carries its complement: that complement."""
    symbol = one_minus(node)
    return None if symbol is None else getattr(values.get(symbol), "complement", None)


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

