"""Training as tutorials do it: several samples, several steps, in numbers every digit of which is right.

The gradient of each sample is the straight-line program of the graph (the same one every command
reads) evaluated at that sample's inputs and targets; the reduced gradient is their mean (or sum).
An update is p − η·g, or with classical momentum v ← μ·v + g, p ← p − η·v (PyTorch's rule).

Numbers are kept exact (rationals) while the computation is rational — a linear or ReLU network, and
every step at which a ReLU, |x|, max or min is met exactly at its switch — and otherwise computed in
mpmath: after a few updates an exact transcendental value is a tower of nested exponentials. Every step
is computed at two working precisions, ``digits`` + 15 and ``digits`` + 35, the two runs advanced in
turn; the run is accepted only when every printed number agrees between the two to ``digits``
significant digits *and* every switch argument the runs met (a ReLU's net, the two sides of a max) is
the same number in both, so that no branch was taken by rounding noise; the numbers of the more
precise run are printed. When they disagree, both precisions are raised and the run is repeated, and
after three attempts the run is refused rather than printed.

Time and memory are linear in the number of steps times the number of samples.

>>> from symbackprop.frontends.loader import network_from_mapping
>>> from symbackprop.frontends.dense import build_graph
>>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [{"units": ["y"], "activation": "linear",
...     "weights": [["1"]], "weight_names": [["w"]]}]}, "loss": {"kind": "half_sse", "targets": [["0"], ["0"]]},
...     "data": {"inputs": [["1"], ["2"]]}, "training": {"learning_rate": "0.1", "steps": 2}})
>>> [(step.step, str(step.loss), str(step.parameters["w"])) for step in train(build_graph(net), digits=5)]
[(0, '5/4', '1'), (1, '45/64', '3/4'), (2, '405/1024', '9/16')]
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping, Optional, Sequence

import mpmath
import sympy as sp

from ..engine.program import Program, straight_line_program
from ..errors import InputError, UncertifiedDigits, UndefinedValue
from ..functions.evaluate import evaluate_expression
from ..functions.update import MAX_STEPS, Training, descend, exact_or_binary_plus, over_samples
from ..graph import SymbolicGraph
from ..notebook import Displayable
from ..numbers import fast_mpf as _mpf
from ..quantity import Quantity


MAX_SAMPLE_STEPS = 2_000_000
#: Guard digits of the two runs that must agree, and how many times they are raised before giving up.
GUARDS = (15, 35)
ATTEMPTS = 3


@dataclass(frozen=True)
class TrainingStep:
    """The parameters after ``step`` updates (step 0: the file's) and the reduced loss at them."""

    step: int
    loss: object  # a Fraction where the computation stayed rational, else an mpmath number
    parameters: Mapping[str, object] = field(default_factory=dict)


class TrainingRun(list, Displayable):
    """The steps of one training run, in order (a list of :class:`TrainingStep`), shown in a notebook as a
    table of the loss after each step."""

    def __init__(self, steps=(), digits: int = 30) -> None:
        super().__init__(steps)
        self.digits = digits


def samples_of(graph: SymbolicGraph) -> tuple[Mapping[sp.Symbol, Fraction], ...]:
    """Each sample's inputs and targets by symbol: the file's rows, or its one sample."""
    if graph.samples:
        return graph.samples
    leaves = {symbol: value for symbol, value in graph.values.items()
              if symbol not in _parameter_symbols(graph)}
    return (leaves,)


def _parameter_symbols(graph: SymbolicGraph) -> set[sp.Symbol]:
    return {graph.symbols[Quantity.param(name)] for name in graph.parameters()}


def batches(count: int, training: Training) -> list[list[int]]:
    """The samples of each update within one step, in file order.

    >>> batches(5, Training(method="minibatch", batch_size=2)), batches(3, Training(method="stochastic"))
    ([[0, 1], [2, 3], [4]], [[0], [1], [2]])
    """
    if training.method == "batch":
        return [list(range(count))]
    size = 1 if training.method == "stochastic" else training.batch_size
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]


def train(graph: SymbolicGraph, steps: Optional[int] = None, digits: int = 30,
          progress: Optional[Callable[[int], None]] = None,
          pulse: Optional[Callable[[Callable[[], str]], None]] = None) -> TrainingRun:
    """Every step's loss and parameters, each printed digit certified (see the module's docstring).

    ``steps`` overrides the file's ``[training] steps``; ``progress(done)`` is called as each step of
    the two runs finishes (``done`` counts up to steps + 1, and further if the runs are repeated), and
    ``pulse(describe)`` after every sample's pass inside a step (``describe()`` says where the work is).
    """
    training = graph.training
    steps = training.steps if steps is None else steps
    samples = samples_of(graph)
    _check_plan(graph, training, steps, len(samples))
    template = graph.one_sample or graph
    program = straight_line_program(template)  # one sample's program, run on each sample
    guards = GUARDS
    done = [0]
    for _ in range(ATTEMPTS):
        rough = _run(template, program, samples, training, steps, digits + guards[0], pulse)
        fine = _run(template, program, samples, training, steps, digits + guards[1], pulse)
        found: list[TrainingStep] = []
        for (step_a, switches_a), (step_b, switches_b) in zip(rough, fine):
            if not (_agree([step_a], [step_b], digits) and switches_agree(switches_a, switches_b)):
                break
            found.append(_rounded(step_b, digits + 5))
            done[0] += 1
            if progress is not None:
                progress(done[0])
        else:
            return TrainingRun(found, digits)
        guards = (guards[1], guards[1] + 2 * (guards[1] - guards[0]))
    raise UncertifiedDigits(f"{digits} digits could not be certified: runs at {digits + guards[0]} and more digits "
                            "still disagree, or a ReLU, |x|, max, min or case split meets its switch within their "
                            "rounding noise (this training loses precision fast, or sits at a kink; ask for fewer "
                            "digits or move the parameters off the kink)")


def _check_plan(graph: SymbolicGraph, training: Training, steps: int, count: int) -> None:
    if graph.learning_rate is None:
        raise InputError("training needs training.learning_rate", place="training.learning_rate")
    if graph.missing and not graph.samples:
        raise InputError(f"training needs the numbers: missing {graph.missing}")
    if not 0 <= steps <= MAX_STEPS:
        raise InputError(f"steps must lie between 0 and {MAX_STEPS:,}, got {steps:,}", place="training.steps")
    if steps * count > MAX_SAMPLE_STEPS:
        raise InputError(f"{steps:,} steps over {count:,} samples is {steps * count:,} sample-steps; "
                         f"at most {MAX_SAMPLE_STEPS:,} in one run", place="training.steps")


#: Bits beyond which an exact (rational) parameter is carried as a binary number instead: the rationals of
#: a piecewise-linear network's updates grow with every step, and past this a step would cost more than it
#: keeps (a kink met later is then caught in the rounding noise by :func:`switches_agree`).
MAX_EXACT_BITS = 4096


def _run(graph: SymbolicGraph, program: Program, samples, training: Training, steps: int, dps: int,
         pulse: Optional[Callable] = None):
    """One run of the whole training at ``dps`` working digits, a step at a time: yields each step's
    :class:`TrainingStep` and the inexact switch arguments its computation met (see :func:`switches_agree`).

    Numbers stay exact (Fractions) as long as the computation is rational, so a ReLU, |x|, max or min
    met exactly at its switch sees exactly 0. The precision is set for each step alone, so that two runs
    can be advanced in turn.
    """
    names = graph.parameters()
    symbols = {name: graph.symbols[Quantity.param(name)] for name in names}
    trained = [name for name in names if name not in graph.frozen]
    count = len(samples)
    rate, momentum = graph.learning_rate, training.momentum
    parameters = {name: graph.values[symbols[name]] for name in names}
    velocity = {name: Fraction(0) for name in trained}
    groups = batches(count, training)
    for step in range(steps + 1):
        switches: list = []
        beat = None if pulse is None else (lambda done, step=step: pulse(
            lambda: f"step {step}: {done:,} sample passes at {dps} digits"))
        with mpmath.workdps(dps), _at_step(step):
            losses, gradients = _passes(program, samples, symbols, parameters, switches, need_gradients=(
                step < steps and training.method == "batch"), beat=beat)
            found = TrainingStep(step, _reduce(losses, training.reduction), dict(parameters))
            if step < steps:
                for group in groups:
                    if training.method != "batch":
                        _, gradients = _passes(program, [samples[i] for i in group], symbols, parameters, switches,
                                               True, beat=beat)
                    for name in trained:
                        gradient = _reduce([g[name] for g in gradients], training.reduction)
                        parameters[name], velocity[name] = descend(parameters[name], _kept(gradient), rate,
                                                                   velocity[name], momentum, add=_kept_plus)
        yield found, switches


@contextlib.contextmanager
def _at_step(step: int):
    """An undefined value met while training names the step it was met at."""
    try:
        yield
    except UndefinedValue as error:
        when = "at the file's parameters" if step == 0 else f"after {step} step(s) of training"
        raise UndefinedValue(f"{when}: {error.problem}", place="training") from None


def _kept_plus(a, factor: Fraction, b):
    """a + factor·b, exact where both are, kept as the next step reads it (see :func:`_kept`)."""
    return _kept(exact_or_binary_plus(a, factor, b))


def _kept(value):
    """``value`` as the next step reads it: exact while its rational stays small, else a binary number."""
    if isinstance(value, Fraction) and max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_EXACT_BITS:
        return _mpf(value)
    return value


def switches_agree(rough: Sequence, fine: Sequence) -> bool:
    """Whether the switch arguments two runs at different precisions met are the same numbers, so that
    every ReLU, |x|, max, min and case split took a branch that rounding noise did not choose.

    An argument that is exactly 0 in binary arithmetic, or whose two values differ by half the finer
    one or more, sits in the noise: its sign is not proved. (Exact zeros, computed in rationals, are
    never listed: their branch is the convention's.)

    >>> import mpmath
    >>> switches_agree([mpmath.mpf("1e-47")], [mpmath.mpf("-1e-67")]), switches_agree([mpmath.mpf("0.25")], [mpmath.mpf("0.25")])
    (False, True)
    """
    if len(rough) != len(fine):
        return False
    for a, b in zip(rough, fine):
        if b == 0 or a == 0 or abs(a - b) * 2 >= abs(b):
            return False
    return True


def _passes(program: Program, samples: Sequence[Mapping], symbols: Mapping[str, sp.Symbol],
            parameters: Mapping[str, object], switches: list, need_gradients: bool,
            beat: Optional[Callable[[int], None]] = None) -> tuple[list, list]:
    """Each sample's loss (and, when asked, its gradient) at ``parameters``: the program, walked."""
    losses, gradients = [], []
    for done, sample in enumerate(samples, 1):
        if beat is not None:
            beat(done)
        values = dict(sample)
        values.update((symbols[name], value) for name, value in parameters.items())
        for symbol, expression in program.forward:
            values[symbol] = evaluate_expression(expression, values, switches=switches)
        losses.append(values[program.loss])
        if need_gradients:
            for symbol, expression in program.backward:
                values[symbol] = evaluate_expression(expression, values, switches=switches)
            gradients.append({name: evaluate_expression(expression, values, switches=switches)
                              for name, expression in program.gradients.items()})
    return losses, gradients


def _reduce(values: list, reduction: str):
    """The mean or sum of numbers, exact where they all are."""
    if all(isinstance(value, Fraction) for value in values):
        total = sum(values, Fraction(0))
    else:
        total = mpmath.fsum(_mpf(value) for value in values)
    return over_samples(reduction, total, len(values))


def _agree(rough: list[TrainingStep], fine: list[TrainingStep], digits: int) -> bool:
    """Whether every loss and parameter of the two runs agrees to ``digits`` significant digits."""
    with mpmath.workdps(digits + 40):
        tolerance = mpmath.mpf(10) ** -(digits + 1)
        for a, b in zip(rough, fine):
            pairs = [(a.loss, b.loss)] + [(a.parameters[n], b.parameters[n]) for n in b.parameters]
            for x, y in pairs:
                if isinstance(x, Fraction) and isinstance(y, Fraction):
                    if x != y:
                        return False
                    continue
                x, y = _mpf(x), _mpf(y)
                if not (mpmath.isfinite(x) and mpmath.isfinite(y)):
                    return False
                if abs(x - y) > tolerance * max(abs(y), mpmath.mpf(10) ** -(digits + 60)):
                    return False
    return True


def _rounded(step: TrainingStep, digits: int) -> TrainingStep:
    """The step with its binary numbers rounded to ``digits``; exact ones stay exact."""
    with mpmath.workdps(digits):
        keep = lambda value: value if isinstance(value, Fraction) else +value
        return TrainingStep(step.step, keep(step.loss), {name: keep(value) for name, value in step.parameters.items()})
