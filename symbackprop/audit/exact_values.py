"""The true numbers a claim is judged against: node values, gradients and the parameters after each step,
exact where the arithmetic allows and at the audit's working precision otherwise."""
from __future__ import annotations

from typing import Mapping, Optional

import mpmath
import sympy as sp

from ..engine.chain import Engine
from ..engine.values import Point, point_of, sympy_number
from ..errors import InputError
from ..functions.evaluate import evaluate_expression
from ..numbers import as_fraction, to_mpf
from ..training.train import train
from .claims import ClaimKey
from .world import WORKING_DIGITS


class _ExactValues:
    """Values of claim quantities: the engine's own expressions evaluated at the file's numbers.

    Rationals stay exact through the linear parts (a ReLU at exactly 0 is exactly 0). The value a claim is
    judged against (:meth:`value`) is proved in balls to the auditor's working digits; the plain passes of
    :meth:`point` (in mpmath at the ambient precision, a walk over the expressions) serve only to find
    which kinks the exact numbers meet.
    """

    def __init__(self, engine: Engine, digits: int = WORKING_DIGITS) -> None:
        self.engine = engine
        self.digits = digits
        self._points: dict[int, dict] = {}
        self._after: dict[int, dict[str, object]] = {}
        self._certifying: dict[int, Point] = {}

    def _leaves(self, parameters: Optional[Mapping[str, object]]) -> dict:
        """The network's leaves (some parameters replaced), rationals as Fractions so they stay exact."""
        leaves = point_of(self.engine.graph, parameters).leaves
        return {symbol: as_fraction(value) if isinstance(value, sp.Rational) else value
                for symbol, value in leaves.items()}

    def point(self, step: int) -> dict:
        """Every symbol's value at the initial parameters (step 0) or after ``step`` updates."""
        if step not in self._points:
            graph = self.engine.graph
            values = self._leaves(self.after(step) if step else None)
            for quantity in graph.order:
                if quantity in graph.definitions:
                    values[graph.symbols[quantity]] = evaluate_expression(graph.definitions[quantity], values)
            self._points[step] = values
        return self._points[step]

    def after(self, updates: int) -> dict[str, object]:
        """Every parameter after ``updates`` steps, as ``train`` computes and proves them (the file's method,
        batches and momentum)."""
        if updates not in self._after:
            if self.engine.graph.learning_rate is None:
                raise InputError("an update needs training.learning_rate", place="training.learning_rate")
            steps = train(self.engine.graph, steps=updates, digits=self.digits + 10)
            self._after.update({step.step: dict(step.parameters) for step in steps})
        return self._after[updates]

    def value(self, key: ClaimKey) -> mpmath.mpf:
        """A claim's quantity, every one of the audit's working digits proved (see :func:`~..engine.values.
        certified`): a parameter after an update as training proves it, a node's value or a derivative at the
        step's parameters in balls."""
        engine = self.engine
        with mpmath.workdps(self.digits + 10):
            if key.kind == "new":
                return to_mpf(self.after(key.step + 1)[key.of.name])
            point = self._certifying_point(key.step)
            if key.kind == "derivative":
                return to_mpf(point.evalf(engine.derivative(key.of, key.wrt).compact, self.digits))
            return to_mpf(point.evalf(engine.graph.symbols[key.of], self.digits))

    def _certifying_point(self, step: int) -> Point:
        """The graph's point at the parameters of ``step`` (each an exact rational, or the binary number
        training proved), which proves the digits of every value it gives."""
        if step not in self._certifying:
            parameters = None if step == 0 else {name: sympy_number(value) for name, value in self.after(step).items()}
            self._certifying[step] = point_of(self.engine.graph, parameters)
        return self._certifying[step]

