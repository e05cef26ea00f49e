"""Training as tutorials do it: several samples, several steps, in numbers every digit of which is right.

The gradient of each sample is the straight-line program of the graph (the same one every command
reads) evaluated at that sample's inputs and targets; the reduced gradient is their mean (or sum).
An update is p − η·g, or with classical momentum v ← μ·v + g, p ← p − η·v (PyTorch's rule).

Numbers are not kept exact across steps: after a few updates an exact value is a tower of nested
exponentials. Every step is computed in mpmath at two working precisions, ``digits`` + 15 and
``digits`` + 35; the run is accepted only when every printed number agrees between the two to
``digits`` significant digits, and the numbers of the more precise run are printed. When they
disagree (a computation that loses more than 15 digits), both precisions are raised and the run is
repeated, and after three attempts the run is refused rather than printed.

Time and memory are linear in the number of steps times the number of samples.

>>> from symbackprop.loader import network_from_mapping
>>> from symbackprop.graph import build_graph
>>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [{"units": ["y"], "activation": "linear",
...     "weights": [["1"]], "weight_names": [["w"]]}]}, "loss": {"kind": "half_sse", "targets": [["0"], ["0"]]},
...     "data": {"inputs": [["1"], ["2"]]}, "training": {"learning_rate": "0.1", "steps": 2}})
>>> [(step.step, str(step.loss), str(step.parameters["w"])) for step in train(build_graph(net), digits=5)]
[(0, '1.25', '1.0'), (1, '0.703125', '0.75'), (2, '0.3955078125', '0.5625')]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping, Optional, Sequence

import mpmath
import sympy as sp

from .errors import InputError
from .exact import fast_mpf as _mpf
from .graph import SymbolicGraph
from .network import Training
from .program import Program, evaluate_expression, straight_line_program
from .quantity import Quantity

#: Most steps a file or the command line may ask for, and most sample-steps (steps × samples) one run may take.
MAX_STEPS = 100_000
MAX_SAMPLE_STEPS = 2_000_000
#: Guard digits of the two runs that must agree, and how many times they are raised before giving up.
GUARDS = (15, 35)
ATTEMPTS = 3


@dataclass(frozen=True)
class TrainingStep:
    """The parameters after ``step`` updates (step 0: the file's) and the reduced loss at them."""

    step: int
    loss: mpmath.mpf
    parameters: Mapping[str, mpmath.mpf] = field(default_factory=dict)


class UncertifiedDigits(ValueError):
    """Two runs at different precisions disagree in a digit that would be printed."""


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
          progress: Optional[Callable[[int], None]] = None) -> list[TrainingStep]:
    """Every step's loss and parameters, each printed digit certified (see the module's docstring).

    ``steps`` overrides the file's ``[training] steps``; ``progress(done)`` is called as each step of
    each of the two runs finishes (``done`` counts up to 2·(steps + 1), and further if a run is repeated).
    """
    training = graph.training
    steps = training.steps if steps is None else steps
    samples = samples_of(graph)
    _check_plan(graph, training, steps, len(samples))
    template = graph.one_sample or graph
    program = straight_line_program(template)  # one sample's program, run on each sample
    guards = GUARDS
    done = [0]

    def tick(_step: int) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0])

    for _ in range(ATTEMPTS):
        rough = _run(template, program, samples, training, steps, digits + guards[0], tick)
        fine = _run(template, program, samples, training, steps, digits + guards[1], tick)
        if _agree(rough, fine, digits):
            return [_rounded(step, digits + 5) for step in fine]
        guards = (guards[1], guards[1] + 2 * (guards[1] - guards[0]))
    raise UncertifiedDigits(f"{digits} digits could not be certified: runs at {digits + guards[0]} and more digits "
                            "still disagree (this training loses precision fast; ask for fewer digits)")


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


def _run(graph: SymbolicGraph, program: Program, samples, training: Training, steps: int, dps: int,
         progress) -> list[TrainingStep]:
    """One run of the whole training at ``dps`` working digits."""
    names = graph.parameters()
    symbols = {name: graph.symbols[Quantity.param(name)] for name in names}
    trained = [name for name in names if name not in graph.frozen]
    count = len(samples)
    scale = mpmath.mpf(1)
    with mpmath.workdps(dps):
        rate = _mpf(graph.learning_rate)
        momentum = _mpf(training.momentum)
        parameters = {name: _mpf(graph.values[symbols[name]]) for name in names}
        velocity = {name: mpmath.mpf(0) for name in trained}
        groups = batches(count, training)
        found = []
        for step in range(steps + 1):
            losses, gradients = _passes(program, samples, symbols, parameters, need_gradients=(
                step < steps and training.method == "batch"))
            found.append(TrainingStep(step, _reduce(losses, training.reduction), dict(parameters)))
            if progress is not None:
                progress(step)
            if step == steps:
                break
            for group in groups:
                if training.method != "batch":
                    _, gradients = _passes(program, [samples[i] for i in group], symbols, parameters, True)
                scale = mpmath.mpf(1) / len(group) if training.reduction == "mean" else mpmath.mpf(1)
                for name in trained:
                    gradient = mpmath.fsum(g[name] for g in gradients) * scale
                    velocity[name] = momentum * velocity[name] + gradient
                    parameters[name] = parameters[name] - rate * velocity[name]
    return found


def _passes(program: Program, samples: Sequence[Mapping], symbols: Mapping[str, sp.Symbol],
            parameters: Mapping[str, mpmath.mpf], need_gradients: bool) -> tuple[list, list]:
    """Each sample's loss (and, when asked, its gradient) at ``parameters``: the program, walked."""
    losses, gradients = [], []
    for sample in samples:
        values = dict(sample)
        values.update((symbols[name], value) for name, value in parameters.items())
        for symbol, expression in program.forward:
            values[symbol] = evaluate_expression(expression, values)
        losses.append(_mpf(values[program.loss]))
        if need_gradients:
            for symbol, expression in program.backward:
                values[symbol] = evaluate_expression(expression, values)
            gradients.append({name: _mpf(evaluate_expression(expression, values))
                              for name, expression in program.gradients.items()})
    return losses, gradients


def _reduce(values: list, reduction: str) -> mpmath.mpf:
    total = mpmath.fsum(values)
    return total / len(values) if reduction == "mean" else total


def _agree(rough: list[TrainingStep], fine: list[TrainingStep], digits: int) -> bool:
    """Whether every loss and parameter of the two runs agrees to ``digits`` significant digits."""
    with mpmath.workdps(digits + 40):
        tolerance = mpmath.mpf(10) ** -(digits + 1)
        for a, b in zip(rough, fine):
            pairs = [(a.loss, b.loss)] + [(a.parameters[n], b.parameters[n]) for n in b.parameters]
            for x, y in pairs:
                if not (mpmath.isfinite(x) and mpmath.isfinite(y)):
                    return False
                if abs(x - y) > tolerance * max(abs(y), mpmath.mpf(10) ** -(digits + 60)):
                    return False
    return True


def _rounded(step: TrainingStep, digits: int) -> TrainingStep:
    with mpmath.workdps(digits):
        return TrainingStep(step.step, +step.loss, {name: +value for name, value in step.parameters.items()})
