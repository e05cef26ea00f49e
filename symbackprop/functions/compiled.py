"""A straight-line program compiled once into closures over balls: the evaluator's fast path for a program
run many times (training walks one sample's program for every sample at every step).

Each line becomes a tree of small closures over numbered slots, so that a sample's pass is arithmetic and
nothing else: no walk over SymPy nodes, no hashing of symbols, and exact numbers held as FLINT's rationals
(``fmpq``, ten times faster than :class:`~fractions.Fraction`). The rules are the evaluator's and the
registry's (:mod:`.evaluate`, :mod:`.registry`): numbers stay exact while the arithmetic is rational (and
an exact 0 times anything finite is an exact 0), a function is computed by its ball form, or one of ours by
its explicit definition, σ keeps its complement, and a branch is taken only where its ball decides it
(:class:`~.balls.Uncertain` otherwise). Anything the closures do not take — a node kind they do not know,
a value that is not finite, a division by an exact 0 — is handed to :func:`~.evaluate.evaluate_expression`
for that line, which computes it or says exactly why it has no value.

>>> x, y, z = sp.symbols("x y z")
>>> from symbackprop.functions.activations import sigmoid
>>> compiled = CompiledProgram([(y, sigmoid(x) * 2 + x), (z, x * x - 1)], leaves=[x])
>>> from symbackprop.functions.balls import working_digits, midpoint
>>> with working_digits(20):
...     values = compiled.run([Fraction(1, 2)])
>>> values[z], values[y].rel_accuracy_bits() > 60, round(float(midpoint(values[y])), 6)
(Fraction(-3, 4), True, 1.744919)
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Iterable, Sequence

import sympy as sp
from flint import arb, fmpq

from .balls import Uncertain, ball_constant, ball_of_float, holds
from .evaluate import COMPLEMENTED, Complemented, _explicit, _small_power, evaluate_expression, one_minus
from .registry import BALL_RULES, SWITCHING, number_rule

Slots = list
Closure = Callable[[Slots], object]


class _HandOver(Exception):
    """A line the closures cannot finish: :func:`~.evaluate.evaluate_expression` computes it instead."""


def exact(value: Fraction) -> fmpq:
    """A Fraction as the compiled program's exact number."""
    return fmpq(value.numerator, value.denominator)


def fraction(value):
    """A compiled program's number as the evaluator's: an exact one as a Fraction, a ball as it is."""
    return Fraction(int(value.p), int(value.q)) if type(value) is fmpq else value


_ZERO = fmpq(0)


class CompiledProgram:
    """``lines`` (symbol, expression) in order, compiled once over the ``leaves``' slots and every line's.

    :meth:`run` takes the leaves' values (Fractions or balls) and gives every symbol's (Fractions or
    balls), at the balls' current working precision (:func:`~.balls.working_digits`).
    """

    def __init__(self, lines: Sequence[tuple[sp.Symbol, sp.Expr]], leaves: Iterable[sp.Symbol]) -> None:
        self.leaves = tuple(leaves)
        self.slot = {symbol: index for index, symbol in enumerate(self.leaves)}
        compiled = []
        for symbol, expression in lines:
            compiled.append((self._compile(expression), expression, len(self.slot)))
            self.slot.setdefault(symbol, len(self.slot))
        self.symbols = tuple(self.slot)
        self._lines = tuple(compiled)
        self.handed_over = 0  # lines the evaluator finished (a count for the tests: it should stay rare)

    def run(self, leaves: Sequence, upto: int | None = None) -> dict[sp.Symbol, object]:
        """Every symbol's value from the leaves' (in the order given at compiling); with ``upto``, only the
        first ``upto`` lines are run."""
        return dict(zip(self.symbols, (fraction(v) for v in self.run_slots(self.slots_of(leaves), upto))))

    def slots_of(self, leaves: Sequence) -> Slots:
        """The leaves' values as slots (convert once, run many times: a sample's inputs do not change)."""
        slots: Slots = [None] * len(self.symbols)
        for index, value in enumerate(leaves):
            slots[index] = exact(value) if isinstance(value, Fraction) else value
        return slots

    def run_slots(self, slots: Slots, upto: int | None = None) -> Slots:
        """Fill the lines' slots in place (the leaves' are given); see :meth:`run`."""
        lines = self._lines if upto is None else self._lines[:upto]
        for closure, expression, index in lines:
            try:
                value = closure(slots)
            except Uncertain:
                raise
            except (_HandOver, ArithmeticError, ValueError, TypeError):
                self.handed_over += 1
                value = self._evaluated(expression, slots)
            slots[index] = value
        return slots

    def _evaluated(self, expression: sp.Expr, slots: Slots):
        """One expression by the evaluator itself: its value, or its one-line reason for having none."""
        values = {symbol: fraction(slots[self.slot[symbol]]) for symbol in expression.free_symbols
                  if symbol in self.slot}
        value = evaluate_expression(expression, values, balls=True)
        return exact(value) if isinstance(value, Fraction) else value

    def _compile(self, node: sp.Expr) -> Closure:
        if node.is_Symbol:
            if node not in self.slot:
                raise KeyError(f"{node} is read before it is given a value")
            index = self.slot[node]
            return lambda slots: slots[index]
        if node.is_Rational:
            constant = fmpq(int(node.p), int(node.q))
            return lambda slots: constant
        if node.is_Float:
            binary = ball_of_float(node)
            return lambda slots: binary
        if node.is_NumberSymbol and node.rewrite(sp.sqrt) == node:
            return lambda slots: ball_constant(node)  # made at the precision of the run
        if node.is_Mul and _two_symbols(node):
            return _product_of_slots(self.slot[node.args[0]], self.slot[node.args[1]])
        if node.is_Add and all(term.is_Symbol or (term.is_Mul and _two_symbols(term)) for term in node.args):
            return _sum_of_products([tuple(self.slot[s] for s in (term.args if term.is_Mul else (term,)))
                                     for term in node.args])
        parts = [self._compile(argument) for argument in node.args]
        if node.is_Add:
            return self._sum(node, parts)
        if node.is_Mul:
            return _product(parts)
        if node.is_Pow:
            return _power(*parts)
        name = type(node).__name__
        if isinstance(node, sp.Piecewise):
            return self._cases(node)
        if name in COMPLEMENTED:
            value = self._compile(_explicit(node))
            complement = self._compile(_explicit(node, complement=True))

            def complemented(slots: Slots):
                found = value(slots)
                if type(found) is fmpq:  # (a softmax of one output is exactly 1)
                    return found
                return Complemented.of_ball(found, _ball(complement(slots)))
            return complemented
        if name in BALL_RULES or hasattr(node, "_explicit"):
            return self._function(node, name, parts)
        return self._handed_over(node)

    def _sum(self, node: sp.Add, parts: list[Closure]) -> Closure:
        symbol = one_minus(node)
        complement_of = None if symbol is None else self.slot.get(symbol)
        first, *rest = parts

        def total(slots: Slots):
            if complement_of is not None:
                complement = getattr(slots[complement_of], "complement", None)
                if complement is not None:
                    return complement
            value = first(slots)
            for part in rest:
                value = value + part(slots)
            return value
        return total

    def _cases(self, node: sp.Piecewise) -> Closure:
        branches = [(self._compile(branch), self._condition(condition)) for branch, condition in node.args]

        def cases(slots: Slots):
            for branch, condition in branches:
                if condition(slots):
                    return branch(slots)
            raise _HandOver  # no branch holds: the evaluator says so
        return cases

    def _condition(self, condition) -> Callable[[Slots], bool]:
        if condition is sp.true or condition is sp.false:
            truth = bool(condition)
            return lambda slots: truth
        if isinstance(condition, (sp.And, sp.Or)):
            parts = [self._condition(c) for c in condition.args]
            combine = all if isinstance(condition, sp.And) else any
            return lambda slots: combine(part(slots) for part in parts)
        relation = type(condition).__name__
        lhs, rhs = self._compile(condition.lhs), self._compile(condition.rhs)

        def compare(slots: Slots) -> bool:
            return holds(relation, _ball(lhs(slots)), _ball(rhs(slots)))
        return compare

    def _function(self, node: sp.Expr, name: str, parts: list[Closure]) -> Closure:
        rule = BALL_RULES.get(name)
        explicit = None if rule is not None else self._compile(_explicit(node))
        exact_rule = number_rule(name) if name in SWITCHING else None

        def function(slots: Slots):
            args = [part(slots) for part in parts]
            if exact_rule is not None and all(type(a) is fmpq for a in args):
                found = exact_rule(*(fraction(a) for a in args))  # it only compares: exact stays exact
                return exact(Fraction(found))
            value = rule(*(_ball(a) for a in args)) if rule is not None else explicit(slots)
            if isinstance(value, Fraction):  # a switch's value off its kink (a step's 0 or 1)
                return exact(value)
            if type(value) is not fmpq and not value.is_finite():
                raise _HandOver
            return value
        return function

    def _handed_over(self, node: sp.Expr) -> Closure:
        def by_the_evaluator(slots: Slots):
            self.handed_over += 1
            return self._evaluated(node, slots)
        return by_the_evaluator


def _ball(value) -> arb:
    return arb(value) if type(value) is fmpq else value


def _two_symbols(product: sp.Mul) -> bool:
    return len(product.args) == 2 and product.args[0].is_Symbol and product.args[1].is_Symbol


def _times(a, b):
    """The evaluator's product of two numbers: exact where both are, an exact 0 where either is an exact 0
    (0 times a finite number is 0), else a ball."""
    if type(a) is fmpq:
        return a * b if type(b) is fmpq or a else _ZERO
    return _ZERO if type(b) is fmpq and not b else a * b


def _product_of_slots(first: int, second: int) -> Closure:
    """δ·x, w·x: the commonest line of a program, read straight from its two slots."""
    return lambda slots: _times(slots[first], slots[second])


def _sum_of_products(terms: list[tuple[int, ...]]) -> Closure:
    """A net: a sum of slots and of products of two slots (Σ w·x + b), read straight from the slots."""
    pairs = [term for term in terms if len(term) == 2]
    singles = [term[0] for term in terms if len(term) == 1]

    def total(slots: Slots):
        value = _ZERO
        for i, j in pairs:
            value += _times(slots[i], slots[j])
        for i in singles:
            value += slots[i]
        return value
    return total


def _product(parts: list[Closure]) -> Closure:
    """The evaluator's product of any number of factors (see :func:`_times`)."""
    def product(slots: Slots):
        value = parts[0](slots)
        for part in parts[1:]:
            value = _times(value, part(slots))
        return value
    return product


def _power(base: Closure, exponent: Closure) -> Closure:
    """The evaluator's power: exact for a whole power of an exact number (not too large), √ and whole powers
    of balls, else a ball to a ball; a value that is not finite goes to the evaluator."""

    def power(slots: Slots):
        b, p = base(slots), exponent(slots)
        if type(p) is fmpq and p.q == 1:
            if type(b) is fmpq and (b or p >= 0) and _small_power(Fraction(int(b.p), int(b.q)), Fraction(int(p.p))):
                return b ** int(p.p)
            value = _ball(b) ** int(p.p)
        elif type(p) is fmpq and p == fmpq(1, 2):
            value = _ball(b).sqrt()
        else:
            value = _ball(b) ** _ball(p)
        if not value.is_finite():
            raise _HandOver
        return value
    return power
