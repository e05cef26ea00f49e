"""The worked example over several steps: explain's sections once per update, then the loss after each."""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Callable, Optional

import mpmath
import sympy as sp

from ..engine.chain import Engine
from ..engine.values import momentum_update
from ..errors import InputError, whole_number
from ..frontends.coerce import batch_graph
from ..numbers import as_fraction, to_mpf
from ..quantity import Quantity
from ..training.train import batches, train
from .document import Document, Heading, Paragraph
from .explain import explain


#: Most steps ``explain --steps`` writes out.
MAX_EXPLAINED_STEPS = 50


def explain_steps(graph, steps: int, places: int = 4, title: str = "",
                  progress: Optional[Callable[[int], None]] = None) -> Document:
    """Each of ``steps`` training steps written out in turn: forward, backward, update, from the parameters
    the steps before reached (computed as ``symbackprop train`` computes them, every digit certified,
    and taken to ``places`` + 40 digits). ``progress(done)`` is called as each step is written."""
    whole_number(steps, 1, MAX_EXPLAINED_STEPS, "steps")
    if graph.learning_rate is None:
        raise InputError("steps need training.learning_rate", place="training.learning_rate")
    if graph.training.method != "batch" and graph.samples:
        return _explain_passes(graph, steps, places, title, progress)
    runs = train(graph, steps=steps - 1, digits=places + 40)
    blocks: list = []
    heading = ""
    velocity: dict = {}
    for before, run in zip([None] + runs, runs):
        values = dict(graph.values)
        for name, value in run.parameters.items():
            values[graph.symbols[Quantity.param(name)]] = value if isinstance(value, Fraction) else Fraction(
                mpmath.nstr(value, places + 40, min_fixed=-1, max_fixed=1))
        if before is not None and graph.training.momentum:  # v of the last update: p⁺ = p − η·v
            with mpmath.workdps(places + 40):
                velocity = {name: sp.Float((to_mpf(before.parameters[name]) - to_mpf(run.parameters[name]))
                                           / to_mpf(graph.learning_rate),
                                           places + 40) for name in run.parameters}
        document = explain(Engine(dataclasses.replace(graph, values=values)), places, title=title, velocity=velocity,
                           summary=False)
        heading = heading or document.title
        parts = list(document.blocks)
        if run.step:
            first = next(i for i, block in enumerate(parts) if isinstance(block, Heading) and block.level == 2
                         and "Forward pass" in str(block.text))
            parts = [Paragraph((f"The parameters after {run.step} update(s), as the step before left them "
                                f"(computed to {places + 40} digits, every one certified):",))] + parts[first:]
        blocks.append(Heading(f"Step {run.step + 1}", 2))
        blocks += [dataclasses.replace(block, level=block.level + 1) if isinstance(block, Heading) else block
                   for block in parts]
        if progress is not None:
            progress(run.step + 1)
    return Document(heading if steps == 1 else f"{heading}: {steps} steps", tuple(blocks))


def _explain_passes(graph, steps: int, places: int, title: str, progress=None) -> Document:
    """Stochastic or minibatch training: each step is a pass, each update of it the worked example of its
    batch of samples (their mean or summed loss) from the parameters the update before left."""
    template = graph.one_sample
    parameters = {name: template.values[template.symbols[Quantity.param(name)]] for name in template.parameters()}
    velocity: dict = {}
    blocks: list = []
    heading = title or graph.title
    for step in range(steps):
        blocks.append(Heading(f"Step {step + 1}", 2))
        for number, group in enumerate(batches(len(graph.samples), graph.training), start=1):
            engine = Engine(batch_graph(graph, group, parameters))
            document = explain(engine, places, title=title, velocity=velocity, summary=False)
            heading = heading or document.title
            names = ", ".join(str(i) for i in group)
            blocks.append(Heading(f"Update {number}: sample{'s' if len(group) > 1 else ''} {names}", 3))
            blocks += [dataclasses.replace(block, level=block.level + 2) if isinstance(block, Heading) else block
                       for block in document.blocks]
            updated, velocity = momentum_update(engine, velocity, places + 40)
            parameters = {name: Fraction(str(sp.Float(value, places + 40))) if not value.is_Rational
                          else as_fraction(value) for name, value in updated.items()}
        if progress is not None:
            progress(step + 1)
    return Document(f"{heading}: {steps} steps" if heading else f"{steps} steps", tuple(blocks))
