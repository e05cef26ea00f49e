"""Training as tutorials do it: several samples, several steps, in numbers every digit of which is right.

The gradient of each sample is the straight-line program of the graph (the same one every command
reads) evaluated at that sample's inputs and targets; the reduced gradient is their mean (or sum).
An update is p − η·g, or with classical momentum v ← μ·v + g, p ← p − η·v (PyTorch's rule).

Numbers are kept exact (rationals) while the computation is rational — a linear or ReLU network, and
every step at which a ReLU, |x|, max or min is met exactly at its switch — and otherwise computed in
ball arithmetic (:mod:`symbackprop.functions.balls`): after a few updates an exact transcendental value
is a tower of nested exponentials, while a ball carries a rigorous bound on its error. The run is made
once, at ``digits`` + 10 working digits; every branch (a ReLU's net, the two sides of a max) is taken
only where its ball decides it, and a step is accepted only when both ends of every printed number's
ball print the same ``digits`` significant digits, so that each digit is proved, not compared. Where a
ball is too wide or a branch undecided, the run is repeated at more digits, and after three attempts it
is refused rather than printed.

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
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping, Optional, Sequence

import sympy as sp

from ..engine.program import Program, straight_line_program
from ..errors import InputError, UncertifiedDigits, UndefinedValue
from ..functions.balls import Uncertain, ball, midpoint, proves, total, working_digits
from ..functions.compiled import CompiledProgram, exact, fraction
from ..functions.update import MAX_STEPS, Training, descend, over_samples
from ..graph import SymbolicGraph
from ..notebook import Displayable
from ..quantity import Quantity


MAX_SAMPLE_STEPS = 2_000_000
#: Guard digits of the first run, and how many runs are made (each at more digits) before giving up.
GUARD = 10
ATTEMPTS = 3


@dataclass(frozen=True)
class TrainingStep:
    """The parameters after ``step`` updates (step 0: the file's) and the reduced loss at them."""

    step: int
    loss: object  # a Fraction where the computation stayed rational, else an mpmath number every digit of which
    # (to the run's digits) its ball proved
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

    ``steps`` overrides the file's ``[training] steps``; ``progress(done)`` is called as each step is
    proved (``done`` counts up to steps + 1, and further if the run is repeated at more digits), and
    ``pulse(describe)`` after every sample's pass inside a step (``describe()`` says where the work is).
    """
    training = graph.training
    steps = training.steps if steps is None else steps
    samples = samples_of(graph)
    _check_plan(graph, training, steps, len(samples))
    template = graph.one_sample or graph
    program = _Passes(straight_line_program(template), graph, samples)  # one sample's program, run on each
    working, done = digits + GUARD, 0
    for _ in range(ATTEMPTS):
        found: list[TrainingStep] = []
        kept = math.inf  # the fewest digits any ball of the run still holds
        try:
            for step in _run(template, program, samples, training, steps, working, pulse):
                kept = min(kept, _kept_digits(step))
                if not _proved(step, digits):
                    raise Uncertain(f"step {step.step}: a ball too wide for {digits} digits")
                found.append(_midpoints(step))
                done += 1
                if progress is not None:
                    progress(done)
        except Uncertain:
            rate = max(working - min(kept, working), 0) / (len(found) + 1)  # digits of bound lost a step
            tried, working = working, _more_digits(working, rate, steps + 1, digits)
            if working > MAX_WORKING_DIGITS:
                raise UncertifiedDigits(
                    f"{digits} digits could not be certified: the error bounds grow by about "
                    f"{rate:.2g} digits a step here, so {steps:,} steps would need "
                    f"{working:,} working digits (at most {MAX_WORKING_DIGITS:,}); ask for fewer steps or "
                    "digits") from None
            continue
        return TrainingRun(found, digits)
    raise UncertifiedDigits(f"{digits} digits could not be certified: at {tried:,} working digits a printed number's "
                            "ball still holds more than one rounding, or a ReLU, |x|, max, min or case split meets "
                            "its switch within the ball (this training sits at a kink, or loses precision fast; ask "
                            "for fewer digits or move the parameters off the kink)")


#: Most working digits a training run is given (the error bounds of a long run grow with every step).
MAX_WORKING_DIGITS = 20_000


def _more_digits(working: int, rate: float, total_steps: int, digits: int) -> int:
    """The working digits of the next attempt: enough, at the ``rate`` (digits a step) the bounds grew over
    the steps reached, for every step to keep ``digits`` and the guard (and at least twice the last attempt's).

    >>> _more_digits(40, 12 / 22, 1001, 30)  # 12 digits lost over 22 steps: about 0.55 a step
    733
    """
    return max(2 * working, digits + 2 * GUARD + math.ceil(1.25 * rate * total_steps))


def _kept_digits(step: TrainingStep) -> float:
    """The fewest significant digits any ball of the step holds (exact numbers hold them all)."""
    balls = [value for value in (step.loss, *step.parameters.values()) if not isinstance(value, Fraction)]
    return min((value.rel_accuracy_bits() * math.log10(2) for value in balls), default=math.inf)


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
#: keeps (a kink met later is then a branch its ball must decide).
MAX_EXACT_BITS = 4096


def _run(graph: SymbolicGraph, program: "_Passes", samples, training: Training, steps: int, dps: int,
         pulse: Optional[Callable] = None):
    """One run of the whole training in balls at ``dps`` working digits, a step at a time: yields each step's
    :class:`TrainingStep` (its numbers Fractions or balls).

    Numbers stay exact (Fractions) as long as the computation is rational, so a ReLU, |x|, max or min
    met exactly at its switch sees exactly 0; a branch its ball cannot decide raises :class:`Uncertain`.
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
        beat = None if pulse is None else (lambda done, step=step: pulse(
            lambda: f"step {step}: {done:,} sample passes at {dps} digits"))
        with working_digits(dps), _at_step(step):
            losses, gradients = program.passes(range(count), parameters, need_gradients=(
                step < steps and training.method == "batch"), beat=beat)
            found = TrainingStep(step, _reduce(losses, training.reduction), dict(parameters))
            if step < steps:
                for group in groups:
                    if training.method != "batch":
                        _, gradients = program.passes(group, parameters, True, beat=beat)
                    for name in trained:
                        gradient = over_samples(training.reduction, gradients[name], len(group))
                        parameters[name], velocity[name] = descend(parameters[name], _kept(gradient), rate,
                                                                   velocity[name], momentum, add=_kept_plus)
        yield found


@contextlib.contextmanager
def _at_step(step: int):
    """An undefined value met while training names the step it was met at."""
    try:
        yield
    except UndefinedValue as error:
        when = "at the file's parameters" if step == 0 else f"after {step} step(s) of training"
        raise UndefinedValue(f"{when}: {error.problem}", place="training") from None


def _kept_plus(a, factor: Fraction, b):
    """a + factor·b, exact where both are, else a ball, kept as the next step reads it (see :func:`_kept`)."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return _kept(a + factor * b)
    return ball(a) + ball(factor) * ball(b)


def _kept(value):
    """``value`` as the next step reads it: exact while its rational stays small, else a ball."""
    if isinstance(value, Fraction) and max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_EXACT_BITS:
        return ball(value)
    return value


class _Passes:
    """The samples' passes through one sample's program, compiled once (:mod:`~..functions.compiled`) and run
    on every sample at every step; each sample's inputs and targets are converted once."""

    def __init__(self, program: Program, graph: SymbolicGraph, samples: Sequence[Mapping]) -> None:
        self.names = graph.parameters()
        parameters = [graph.symbols[Quantity.param(name)] for name in self.names]
        gradients = [(sp.Dummy(f"dE_d{name}"), program.gradients[name]) for name in self.names]
        held = set(parameters)
        given = [symbol for symbol in samples[0] if symbol not in held] if samples else []
        self.compiled = CompiledProgram(program.forward + program.backward + tuple(gradients), given + parameters)
        self.forward_lines = len(program.forward)
        self.first_parameter = len(given)
        self.loss = self.compiled.slot[program.loss]
        self.gradient_slots = [self.compiled.slot[symbol] for symbol, _ in gradients]
        self._samples = [self.compiled.slots_of([sample[symbol] for symbol in given]) for sample in samples]

    def passes(self, indices: Sequence[int], parameters: Mapping[str, object], need_gradients: bool,
               beat: Optional[Callable[[int], None]] = None) -> tuple[list, dict[str, object]]:
        """Each sample's loss at ``parameters`` and, when asked, every parameter's gradient summed over the
        samples (exact where every sample's is, else a ball): the program, run."""
        at = [exact(value) if isinstance(value, Fraction) else value for value in
              (parameters[name] for name in self.names)]
        start, losses, totals = self.first_parameter, [], None
        for done, index in enumerate(indices, 1):
            if beat is not None:
                beat(done)
            slots = list(self._samples[index])
            slots[start:start + len(at)] = at
            self.compiled.run_slots(slots, None if need_gradients else self.forward_lines)
            losses.append(fraction(slots[self.loss]))
            if need_gradients:
                found = [slots[i] for i in self.gradient_slots]
                totals = found if totals is None else [total + value for total, value in zip(totals, found)]
        return losses, ({} if totals is None else {name: fraction(total) for name, total in zip(self.names, totals)})


def _reduce(values: list, reduction: str):
    """The mean or sum of numbers, exact where they all are, else a ball."""
    if all(isinstance(value, Fraction) for value in values):
        return over_samples(reduction, sum(values, Fraction(0)), len(values))
    return over_samples(reduction, total(ball(value) for value in values), len(values))


def _proved(step: TrainingStep, digits: int) -> bool:
    """Whether every number of the step is exact or a ball that proves its ``digits`` printed digits."""
    numbers = [step.loss, *step.parameters.values()]
    return all(isinstance(value, Fraction) or proves(value, digits) for value in numbers)


def _midpoints(step: TrainingStep) -> TrainingStep:
    """The step with each ball given as its midpoint (an mpmath number; the digits it proved print the same)."""
    keep = lambda value: value if isinstance(value, Fraction) else midpoint(value)
    return TrainingStep(step.step, keep(step.loss), {name: keep(value) for name, value in step.parameters.items()})
