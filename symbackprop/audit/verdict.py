"""Verdicts: for every claim, ok | rounding | propagated | error, and why.

* ``ok``: the exact value, rounded to the written digits, gives the claim.
* ``rounding``: a concrete recomputation reproduces the claim within half a unit of its last
  written digit: from the author's written numbers (or, failing that, from none of them), with
  every unwritten intermediate kept exact, or rounded or cut to one precision — one consistent
  reading of the author's habit (a :class:`~.world.Reading`), named in the reason; or that
  recomputation cut instead of rounded at the last written digit (``truncation``).
* ``propagated``: wrong, but reproduced in the same way from the author's earlier wrong
  numbers; ``source`` names the claim the mistake comes from.
* ``error``: no reading reproduces it; the diagnoses say which mistake models do.

No verdict rests on a bound: a number is excused only by a computation that gives it.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Literal, Mapping, Optional, Sequence

import mpmath
import sympy as sp

from ..notebook import Displayable
from ..engine.chain import MAX_WRITTEN_PATHS, Engine
from ..errors import InputError
from ..numbers import as_fraction, to_mpf
from ..graph import SymbolicGraph
from ..quantity import Quantity
from ..engine.program import straight_line_program
from ..functions.evaluate import evaluate_expression
from ..functions.update import frozen_or_descend
from ..engine.values import point_of
from .claims import Claim, ClaimKey
from .mistakes import (
    MAX_PAIRS, MISTAKE_IDS, Variant, digit_typo, graph_variants, implied_learning_rate, merge, sample_variants,
    slip_variants, step_variants, transform_variants, world_variants,
)
from .world import REWRITING, WORKING_DIGITS, Computation, Reading, Rules, World, computation, descendants

Verdict = Literal["ok", "rounding", "propagated", "error"]
#: How much coarser (relative precision) an author's earlier number may be than a claim it is fed into.
COARSER = 1000
#: A mistake model is re-run by every route only when its first route lands within this many half-units.
NEAR = 1000
#: Re-computations the mistake search may make for one claim (mistakes of method come first).
MAX_DIAGNOSIS_WORLDS = 600
#: The most choices of side (2 per parameter whose gradient meets a kink) tried for a number after an update.
MAX_ONE_SIDED_CHOICES = 16


class _SearchCut(Exception):
    """The mistake search for one claim has used its budget."""
SHOWN_DIGITS = 20


@dataclass(frozen=True)
class Diagnosis:
    mistake: str  # an id of the library, or two joined by "+"
    explanation: str
    implied: Optional[str] = None


@dataclass(frozen=True)
class ClaimVerdict:
    claim: Claim
    exact: mpmath.mpf
    recomputed: mpmath.mpf
    verdict: Verdict
    source: Optional[int]
    diagnoses: tuple[Diagnosis, ...]
    formula: str
    reason: str
    used: tuple[int, ...] = ()
    paths: tuple[str, ...] = ()  # for a derivative: every path, as a product of local factors

    @property
    def index(self) -> int:
        return self.claim.index


@dataclass(frozen=True)
class AuditReport(Displayable):
    verdicts: tuple[ClaimVerdict, ...]
    graph: SymbolicGraph = field(repr=False)

    @property
    def summary(self) -> dict[str, int]:
        counts = {"ok": 0, "rounding": 0, "propagated": 0, "error": 0}
        for verdict in self.verdicts:
            counts[verdict.verdict] += 1
        return counts

    @property
    def clean(self) -> bool:
        return not any(v.verdict in ("error", "propagated") for v in self.verdicts)


class _ExactValues:
    """Values of claim quantities: the engine's own expressions evaluated at the file's numbers.

    Rationals stay exact through the linear parts (a ReLU at exactly 0 is exactly 0); everything
    else is evaluated in mpmath at the auditor's working digits + 10, by a walk over the
    expressions (SymPy's evalf of activations is orders of magnitude slower).
    """

    def __init__(self, engine: Engine, digits: int = WORKING_DIGITS) -> None:
        self.engine = engine
        self.digits = digits
        self._points: dict[int, dict] = {}
        self._updated: Optional[dict[str, object]] = None
        self._after: dict[int, dict[str, object]] = {}

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
        """Every parameter after ``updates`` steps, as ``train`` computes them: the training module's
        certified runs (the file's method, batches and momentum); one full-batch step without momentum
        directly from the straight-line program's gradients (the same rule, with no run to start)."""
        graph = self.engine.graph
        if updates == 1 and not graph.training.momentum and (graph.training.method == "batch" or len(graph.samples) <= 1):
            return self.updated()
        if updates not in self._after:
            from ..training.train import train

            if self.engine.graph.learning_rate is None:
                raise InputError("an update needs training.learning_rate", place="training.learning_rate")
            steps = train(self.engine.graph, steps=updates, digits=self.digits + 10)
            self._after.update({step.step: dict(step.parameters) for step in steps})
        return self._after[updates]

    def updated(self) -> dict[str, object]:
        """Every parameter after one update, p − η·∂E/∂p, from the straight-line program's gradients."""
        graph = self.engine.graph
        if self._updated is None and graph.learning_rate is None:
            raise InputError("an update needs training.learning_rate", place="training.learning_rate")
        if self._updated is None:
            program = straight_line_program(graph)
            values = dict(self.point(0))
            for symbol, expression in program.backward:
                values[symbol] = evaluate_expression(expression, values)
            self._updated = {}
            for name in graph.parameters():
                old = graph.values[graph.symbols[Quantity.param(name)]]
                # a linear network's gradient is rational, and its update stays exact
                self._updated[name], _ = frozen_or_descend(
                    name, graph.frozen, old, lambda name=name: evaluate_expression(program.gradients[name], values),
                    graph.learning_rate)
        return self._updated

    def value(self, key: ClaimKey) -> mpmath.mpf:
        engine = self.engine
        with mpmath.workdps(self.digits + 10):
            if key.kind == "new":
                value = self.after(key.step + 1)[key.of.name]
            elif key.kind == "derivative":
                value = evaluate_expression(engine.derivative(key.of, key.wrt).compact, self.point(key.step))
            else:
                value = self.point(key.step)[engine.graph.symbols[key.of]]
            return to_mpf(value)


def _digits(value: mpmath.mpf, unit) -> str:
    """``value`` rounded to the claim's written unit, as text (for digit comparisons)."""
    if unit == 0:
        return mpmath.nstr(value, 15)
    places = max(0, -int(mpmath.floor(mpmath.log10(to_mpf(unit)) + mpmath.mpf("1e-9"))))
    scaled = mpmath.nint(value / to_mpf(unit)) * to_mpf(unit)
    return f"{float(scaled):.{places}f}" if places < 15 else mpmath.nstr(scaled, 20)


def _cut_and_rounded(claim: Claim, value: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``value`` cut and rounded at the claim's last written digit (the readings' own rules)."""
    places = _places(claim)
    return Reading("cut", "places", places).apply(value), Reading("round", "places", places).apply(value)


def _truncates(claim: Claim, value: mpmath.mpf) -> bool:
    """The claim is ``value`` cut (not rounded) at the written digit, and rounding would differ."""
    if claim.unit == 0:
        return False
    cut, rounded = _cut_and_rounded(claim, value)
    unit = to_mpf(claim.unit)
    return abs(cut - to_mpf(claim.value)) < unit / 1000 and abs(rounded - cut) > unit / 2


def _truncates_differently(claim: Claim, value: mpmath.mpf) -> bool:
    """Whether cutting ``value`` at the claim's last digit gives another number than rounding it."""
    cut, rounded = _cut_and_rounded(claim, value)
    return abs(rounded - cut) > to_mpf(claim.unit) / 2


def _places(claim: Claim) -> int:
    return max(0, -int(mpmath.floor(mpmath.log10(to_mpf(claim.unit)) + mpmath.mpf("1e-9")))) if claim.unit else 30


def _significant(claim: Claim) -> int:
    """The significant digits a claim writes, at least 1 (see :func:`written_digits`)."""
    return max(1, written_digits(claim))


class Auditor:
    """Audits the claims of one worked example, in order."""

    def __init__(self, graph: SymbolicGraph, claims: Sequence[Claim]) -> None:
        self.graph = graph
        # Layers, where the graph has them, say which weights a mistake may swap and which paths it may drop.
        self.network = graph.network
        self.claims = list(claims)
        self.engine = Engine(graph)
        self.digits = working_digits(self.claims)
        self.exact = _ExactValues(self.engine, self.digits)
        self.reach = descendants(graph)
        self._exact_values = {}
        self._verdicts: dict[int, ClaimVerdict] = {}
        self._kinks_at: dict[int, dict] = {}
        self._exact_kinks: dict[int, frozenset[str]] = {}
        self._step0_kinks: Optional[dict] = None
        self._switches: Optional[dict] = None
        self._computations: dict[tuple, Computation] = {}
        self._passes: dict = {}  # forward passes shared by the worlds of one claim
        self._none: dict = {}  # no author's numbers: one object, so that its worlds share their passes
        # Mistakes of method found alone at earlier claims: the author holds that rule, so a later claim's
        # own mistake is looked for on top of them (log base 10 in the loss, then dropped paths in a δ).
        self._habits: list[tuple[Variant, ...]] = []  # each: the computations that gave one such mistake

    def exact_value(self, key: ClaimKey) -> mpmath.mpf:
        if key not in self._exact_values:
            self._exact_values[key] = self.exact.value(key)
        return self._exact_values[key]

    def world(self, rules: Rules = Rules(), overrides=None, reading: Reading = Reading(),
              exempt: Optional[ClaimKey] = None) -> World:
        rewrite = tuple(getattr(rules, name) for name in REWRITING)
        if rewrite not in self._computations:
            self._computations[rewrite] = computation(self.graph, rules)
        return World(self.graph, self.reach, rules, overrides if overrides is not None else self._none, reading, exempt,
                     self._computations[rewrite], self._passes, digits=self.digits)

    def author_numbers(self, claim: Claim) -> dict[ClaimKey, mpmath.mpf]:
        """The author's numbers written before ``claim`` (the latest for each quantity) that may be evidence
        for it: none far coarser than the claim (see :meth:`evidence`)."""
        latest = {c.key: c for c in self.claims[: claim.index] if c.key != claim.key}
        return {key: to_mpf(c.value) for key, c in latest.items() if self.evidence(c, claim)}

    def evidence(self, earlier: Claim, claim: Claim) -> bool:
        """Whether the author's ``earlier`` number may be fed into a recomputation of ``claim``.

        A number is evidence when it is exactly its quantity's value, or when its relative precision is at
        most :data:`COARSER` times coarser than the claim's: "1" written for 0.75 excuses no "0.000000000",
        and "0e50" (a unit beyond any size its quantity has) excuses nothing.
        """
        if not earlier.unit:
            return True  # an exact fraction, as written
        exact = self.exact_value(earlier.key)
        if to_mpf(earlier.value) == exact:
            return True
        with mpmath.workdps(self.digits):
            # each number's precision relative to its size as written; a written 0 has no size of its own and
            # is measured against its quantity's exact size ("0.000000" for 0.37 is precise, "0e50" is not)
            size = abs(to_mpf(earlier.value)) or abs(exact)
            scale = abs(to_mpf(claim.value)) or abs(self.exact_value(claim.key))
            if not claim.unit or scale == 0 or size == 0:
                return True  # an exact claim or an exact 0: nothing finer to compare with
            theirs = to_mpf(earlier.unit) / size
            ours = to_mpf(claim.unit) / scale
            return theirs <= COARSER * ours

    @functools.cached_property
    def precision(self) -> tuple[str, int, int]:
        """How the author rounds: ("places" | "significant" | "mixed", significant digits, decimal places).

        Only numbers the author rounded count ("0.05" written for exactly 1/20 says nothing), and
        the style is the one the rounded numbers keep constant: a fixed number of decimals (small
        numbers then carry fewer significant digits) or a fixed number of significant digits.
        """
        with mpmath.workdps(self.digits):
            # the style is read from every number the author rounded that has a significant digit (a
            # number rounded from the author's own rounded numbers shows the habit as well as any)
            inexact = [c for c in self.claims
                       if c.unit and written_digits(c) > 0
                       and abs(to_mpf(c.value) - self.exact_value(c.key)) > mpmath.mpf("1e-30") * max(1, abs(to_mpf(c.value)))]
            chosen = inexact or [c for c in self.claims if c.unit] or self.claims
            significant = [_significant(c) for c in chosen]
            places = [_places(c) for c in chosen]
        if max(places) - min(places) <= 1:
            style = "places"
        elif max(significant) - min(significant) <= 1:
            style = "significant"
        else:
            style = "mixed"
        return style, min(significant), min(places)

    def readings(self, claim: Claim) -> tuple[Reading, ...]:
        """The consistent habits tried for ``claim``: unwritten numbers exact, or rounded — or cut, when
        the author is seen to cut — in the author's own style, at the author's precision or at
        this claim's own.

        The style and precision are read from every number the author rounded (see
        :attr:`precision`); an author who writes a mix of both styles is tried in each.
        """
        style, significant, places = self.precision
        wanted = []
        if style in ("places", "mixed"):
            wanted += [("places", places), ("places", _places(claim))]
        if style in ("significant", "mixed"):
            wanted += [("significant", significant), ("significant", _significant(claim))]
        found = [Reading()]
        for mode in ("round", "cut") if self.cuts else ("round",):
            for kind, digits in wanted:
                reading = Reading(mode, kind, min(max(digits, 1), 30))
                if reading not in found and self._fine_enough(reading, claim):
                    found.append(reading)
        return tuple(found)

    def _fine_enough(self, reading: Reading, claim: Claim) -> bool:
        """Whether a reading rounds the unwritten numbers no more than :data:`COARSER` times coarser than the
        claim is written: rounding every intermediate to whole numbers excuses no nine-decimal claim."""
        if not claim.unit:
            return True
        if reading.style == "places":
            return Fraction(1, 10**reading.digits) <= COARSER * claim.unit
        return reading.digits + 3 >= written_digits(claim)

    @functools.cached_property
    def cuts(self) -> bool:
        """Whether cutting is the author's habit: of the written numbers whose exact value cuts and rounds
        differently, more are its cut than its rounding."""
        with mpmath.workdps(self.digits):
            cut = rounded = 0
            for claim in self.claims:
                exact = self.exact_value(claim.key)
                if _truncates(claim, exact):
                    cut += 1
                elif claim.unit and _truncates_differently(claim, exact) and abs(to_mpf(claim.value) - exact) <= self._half(claim):
                    rounded += 1
            return cut > rounded

    def run(self, progress: Optional[Callable[[int], None]] = None) -> AuditReport:
        """Judge every claim in order; ``progress(done)`` is called after each one."""
        for done, claim in enumerate(self.claims, 1):
            self._passes.clear()
            self._verdicts[claim.index] = self.judge(claim)
            if progress is not None:
                progress(done)
        return AuditReport(tuple(self._verdicts[c.index] for c in self.claims), self.graph)

    def judge(self, claim: Claim) -> ClaimVerdict:
        with mpmath.workdps(self.digits):
            claimed = to_mpf(claim.value)
            exact = self.exact_value(claim.key)
            overrides = self.author_numbers(claim)
            author = self.world(overrides=overrides, exempt=claim.key)
            recomputed = author.value(claim.key)
            used = tuple(sorted(c.index for c in self.claims[: claim.index] if c.key in author.used))
            half = self._half(claim)
            formula = self.formula(claim.key)
            paths = self.paths(claim.key)
            verdict = lambda v, reason, source=None, diagnoses=(), value=recomputed: ClaimVerdict(
                claim, exact, value, v, source, tuple(diagnoses), formula, reason, used, paths)

            if abs(claimed - exact) <= half:
                if claim.unit and exact != 0 and written_digits(claim) == 0:
                    return verdict("ok", f"the exact value rounds to the written digits — but {claim.written} has no "
                                   "significant digit (its written unit exceeds its size): it says only |x| < "
                                   f"{mpmath.nstr(to_mpf(claim.half_unit), 3)}, and it is evidence for no later number")
                return verdict("ok", "the exact value rounds to the written digits")
            side = self.one_sided(claim, claimed, half)
            if side is not None:
                return verdict("ok", side, value=claimed)
            reproduced = self.reproduction(claim, claimed, overrides, author)
            if reproduced is None:
                diagnoses, complete = self.diagnose(claim, claimed, recomputed, exact, overrides)
                self._learn_habit()
                cut = "" if complete else (f"; the search for the mistake stopped after {MAX_DIAGNOSIS_WORLDS} "
                                           "re-computations, mistakes of method first")
                return verdict("error", "no reading of the author's numbers gives it: wrong even given them" + cut,
                               diagnoses=diagnoses)
            value, reading, from_author, cut, read = reproduced
            read_claims = [c.index for c in self.claims[: claim.index] if c.key in read]
            source = "the author's own earlier numbers" if from_author and read_claims else "the exact inputs"
            reason = f"recomputed from {source}, {reading}" + (
                ", and the result cut (not rounded) at the last written digit" if cut else "")
            diagnoses = [Diagnosis("truncation", "the value was cut at the last written digit instead of rounded "
                                   f"({_digits(value, claim.unit)} when rounded)")] if cut else []
            bad = [i for i in read_claims if self._verdicts[i].verdict in ("error", "propagated")]
            if from_author and bad and abs(value - exact) > half:
                inherited = self.inherited(claim, claimed, overrides, reading, bad)
                if inherited is not None:
                    read_from = self._verdicts[inherited]
                    root = read_from.source if read_from.verdict == "propagated" else inherited
                    via = f", itself propagated from claim {root + 1}" if root != inherited else ""
                    return verdict("propagated", f"right given the author's earlier numbers ({reading}); it reads "
                                   f"claim {inherited + 1}{via}, and with that number's exact value it is not "
                                   f"reproduced: the mistake comes from claim {root + 1}", source=root,
                                   diagnoses=diagnoses, value=value)
            return verdict("rounding", reason, diagnoses=diagnoses, value=value)

    def one_sided(self, claim: Claim, claimed, half) -> Optional[str]:
        """Why ``claim`` is right after all, where a kink is met exactly (a ReLU's net at 0, a tie of max
        or min): the derivative there is a convention, and a claim equal to the derivative from the left
        or from the right (the oracle's one-sided differences) is one of them. A ∂E/∂p claim is judged at
        the parameters of its own step; a later number (an update, a value after it) is recomputed with
        each choice of side for the parameters whose step-0 gradient met a kink. None otherwise."""
        key = claim.key
        if key.kind == "derivative" and key.of == Quantity.loss() and key.wrt.kind == "param":
            met = self._kink_met(key.wrt.name, key.step)
            if met is not None:
                kinks, left, right = met
                for side, value in (("left", left), ("right", right)):
                    if abs(claimed - value) <= half:
                        at = f" at step {key.step}" if key.step else ""
                        return (f"at a kink met exactly{at} ({', '.join(kinks)} at its switch) the derivative is a "
                                f"convention: this is the derivative from the {side} ({mpmath.nstr(value, 8)}), as "
                                "frameworks take it (a tie's whole gradient to one argument, a ReLU's left derivative "
                                f"at 0), where symbackprop takes {mpmath.nstr(self.exact_value(key), 8)} (see "
                                "docs/engine.md, Numbers)")
        if key.kind != "new" and key.step == 0:
            return None
        return self._after_one_sided_step(claim, claimed, half)

    def _kink_met(self, name: str, step: int):
        """:func:`~symbackprop.oracle.check.kink_met` at the exact parameters of ``step`` (None where a step's
        parameters are not exact rationals: a kink is then never met exactly). Exact arithmetic is asked
        first: where no switch is exactly 0 at that step, no oracle is built at all."""
        from ..oracle.check import kink_met

        if step not in self._kinks_at:
            self._kinks_at[step] = {}
        if name not in self._kinks_at[step]:
            exactly = self._exactly_met(step)
            graph = self._graph_at(step) if exactly else None
            met = kink_met(graph, name, self.digits) if graph is not None else None
            self._kinks_at[step][name] = met if met is not None and exactly & set(met[0]) else None
        return self._kinks_at[step][name]

    def _exactly_met(self, step: int) -> frozenset[str]:
        """The kinks met exactly at the exact numbers of ``step``: the dense units with a kink at 0 whose net
        is an exact 0, the formula nodes one of whose switching expressions (a tie, |0|, a case split) is.
        A switch a hair away from 0 is no convention: its side is the derivative."""
        if step not in self._exact_kinks:
            graph = self.graph
            found = set()
            if step == 0 or self._graph_at(step) is not None:
                point = self.exact.point(step)
                if graph.network is not None and graph.network.is_classic:
                    from ..oracle.check import kink_units

                    units = kink_units(graph.network)
                    found = {q.name for q in graph.order if q.kind == "net" and q.name in units
                             and _exact_zero(point[graph.symbols[q]])}
                else:
                    from ..oracle.numeric import graph_forward

                    if self._switches is None:
                        self._switches = {str(node): held for node, held in graph_forward(graph).switches.items()}
                    found = {node for node, switches in self._switches.items()
                             if any(_exact_zero(evaluate_expression(switch, point)) for switch in switches)}
            self._exact_kinks[step] = frozenset(found)
        return self._exact_kinks[step]

    def _graph_at(self, step: int) -> Optional[SymbolicGraph]:
        if step == 0:
            return self.graph
        if self.graph.samples and self.graph.training.method != "batch":
            return None  # a step is several updates: their kinks are not modelled
        parameters = self.exact.after(step)
        if not all(isinstance(value, (Fraction, int, sp.Rational)) for value in parameters.values()):
            return None
        exact = {name: as_fraction(value) for name, value in parameters.items()}
        values = {**self.graph.values, **{self.graph.symbols[Quantity.param(name)]: v for name, v in exact.items()}}
        network = self.graph.network
        if network is not None and network.is_classic:  # the oracle reads a dense network's own numbers
            return dataclasses.replace(self.graph, values=values, network=network.with_parameter_values(exact))
        return dataclasses.replace(self.graph, values=values)

    def _after_one_sided_step(self, claim: Claim, claimed, half) -> Optional[str]:
        """A claim after the first update, recomputed with ∂E/∂p from the left or the right for each
        parameter whose gradient met a kink at step 0 (every choice of sides, up to
        :data:`MAX_ONE_SIDED_CHOICES`): the update a framework's convention gives."""
        if self.graph.samples and self.graph.training.method != "batch":
            return None
        if self._step0_kinks is None:
            from ..oracle.check import parameters_at_kinks

            self._step0_kinks = {}
            for name in parameters_at_kinks(self.graph, self.digits) if self._exactly_met(0) else ():
                met = self._kink_met(name, 0)
                if met is not None:
                    self._step0_kinks[name] = met
        kinked = sorted(self._step0_kinks)
        if not kinked or 2 ** len(kinked) > MAX_ONE_SIDED_CHOICES:
            return None
        for sides in itertools.product(("left", "right"), repeat=len(kinked)):
            overrides = {ClaimKey("derivative", 0, Quantity.loss(), Quantity.param(name)):
                         self._step0_kinks[name][1 if side == "left" else 2] for name, side in zip(kinked, sides)}
            world = self.world(overrides=overrides, exempt=claim.key)
            value = world.value(claim.key)
            if mpmath.isfinite(value) and abs(claimed - value) <= half:
                chosen = ", ".join(f"∂E/∂{name} from the {side}" for name, side in zip(kinked, sides)
                                   if ClaimKey("derivative", 0, Quantity.loss(), Quantity.param(name)) in world.used)
                kinks = sorted({kink for name in kinked for kink in self._step0_kinks[name][0]})
                return (f"at step 0 a kink is met exactly ({', '.join(kinks)} at its switch), where the derivative is a "
                        f"convention: this is the value after an update with {chosen} (a one-sided derivative, as "
                        f"frameworks take one), where symbackprop takes {mpmath.nstr(self.exact_value(claim.key), 8)} "
                        "(see docs/engine.md, Numbers)")
        return None

    def inherited(self, claim: Claim, claimed, overrides, reading: Reading, bad: Sequence[int]) -> Optional[int]:
        """The earlier wrong claim whose error ``claim`` inherits: the first of ``bad`` (claims the
        reproducing recomputation read) such that putting its quantity's exact value in place of the
        author's number no longer reproduces the claim. None when no wrong number matters to it."""
        for index in bad:
            key = self.claims[index].key
            corrected = {**overrides, key: self.exact_value(key)}
            if not self._reproduces(claim, claimed, self.world(overrides=corrected, reading=reading,
                                                                exempt=claim.key).value(claim.key)):
                return index
        return None

    def _reproduces(self, claim: Claim, claimed, value) -> bool:
        return mpmath.isfinite(value) and (abs(claimed - value) <= self._half(claim) or _truncates(claim, value))

    def reproduction(self, claim: Claim, claimed, overrides, author: World):
        """(value, reading, from the author's numbers, cut, the author's numbers it read) of the first
        recomputation that gives the claim within half a unit, or None. Each candidate is one concrete
        computation; the first, from the author's numbers with nothing rounded, is ``author``'s, already made."""
        half = self._half(claim)
        for numbers in ((overrides, self._none) if overrides else (self._none,)):
            for reading in self.readings(claim):
                if numbers is overrides and reading == Reading():
                    world = author  # already computed
                else:
                    world = self.world(overrides=numbers, reading=reading, exempt=claim.key)
                value = world.value(claim.key)
                if not mpmath.isfinite(value):
                    continue
                if abs(claimed - value) <= half:
                    return value, reading, bool(numbers), False, frozenset(world.used)
                if _truncates(claim, value):
                    return value, reading, bool(numbers), True, frozenset(world.used)
        return None

    def _half(self, claim: Claim) -> mpmath.mpf:
        # the floor is the working precision's noise, relative to the number: it never widens a claim of many digits
        scale = max(abs(to_mpf(claim.value)), to_mpf(claim.unit), mpmath.mpf(10) ** -self.digits)
        return to_mpf(claim.half_unit) * (1 + mpmath.mpf("1e-12")) + mpmath.mpf(10) ** (-self.digits + 5) * scale

    # ---- diagnosis -----------------------------------------------------------------------
    def diagnose(self, claim, claimed, recomputed, exact, overrides) -> tuple[list[Diagnosis], bool]:
        """Every mistake model (or pair of them) whose computation gives the claimed number, and whether
        the whole library was searched (at most :data:`MAX_DIAGNOSIS_WORLDS` re-computations per claim).

        Each model is re-run from the author's numbers and from none, with unwritten numbers kept
        exact or rounded at the author's precision; a pair is tried only when no single model
        gives the number, and only from models that change this claim's value at all.
        """
        found: dict[tuple[str, str], Diagnosis] = {}
        self._models = models = {}  # the changed computations behind the diagnoses (see _learn_habit)

        def note(mistakes, explanation, implied=None, model: Optional[Variant] = None):
            key = ("+".join(mistakes), explanation)
            found.setdefault(key, Diagnosis("+".join(mistakes), explanation, implied))
            models.setdefault(key, model)

        half = self._half(claim)
        # Screened by the exact reading from the exact inputs and from the author's numbers (either can
        # hide a model: a written later number, or a mistake that only the author's route makes visible).
        numbers_routes = (self._none, overrides) if overrides else (self._none,)
        exact_reading, *rounded = self._diagnosis_readings(claim)
        screens = [(numbers, exact_reading) for numbers in numbers_routes]
        routes = screens + [(numbers, reading) for numbers in numbers_routes for reading in rounded]

        spent = [0]

        def run(rules: Rules, route) -> mpmath.mpf:
            spent[0] += 1
            if spent[0] > MAX_DIAGNOSIS_WORLDS:
                raise _SearchCut
            numbers, reading = route
            try:
                return self.world(rules, numbers, reading, claim.key).value(claim.key)
            except (ZeroDivisionError, ValueError, OverflowError):
                return mpmath.nan

        def values(rules: Rules, every_route: bool = False) -> list:
            """The claim under ``rules`` by the screening routes; by every route only when one of those
            lands near the claim (the rounded routes differ from them by far less than NEAR units)."""
            found_values = [run(rules, route) for route in screens]
            if every_route or any(mpmath.isfinite(v) and abs(v - claimed) <= NEAR * half for v in found_values):
                found_values += [run(rules, route) for route in routes[len(screens):]]
            return found_values

        def gives(candidates) -> bool:
            return any(mpmath.isfinite(v) and abs(v - claimed) <= half for v in candidates)

        base = values(Rules(), every_route=True)
        transforms = transform_variants()
        reproduced = False
        # The cheap ones first: a change of the final number, the learning rate, a slip of a digit.
        for variant in transforms:
            if gives([variant.transform(v) for v in base if mpmath.isfinite(v)]):
                note(variant.mistakes, variant.explanation)
                reproduced = True
        if claim.key.kind == "new" and (self.graph.training.method == "batch" or not self.graph.samples):
            reproduced |= self._learning_rate(claim, claimed, overrides, half, note)  # one update per step
        for reference in (recomputed, exact):
            typo = digit_typo(claim.written.replace("\u2212", "-"), _digits(reference, claim.unit))
            if typo:
                note(("digit_typo",), typo)
                reproduced = True
                break
        changed: list[tuple[Variant, list]] = []
        unchanged: list[Variant] = []
        layered = world_variants(self.network, claim) if self.network is not None else []
        singles = sorted(layered + graph_variants(self.graph, claim) + sample_variants(self.graph, claim)
                         + step_variants(claim) + slip_variants(claim, self._terms(claim)), key=_specific)
        try:
            for variant in singles:
                if not self._can_touch(variant, claim):
                    unchanged.append(variant)
                    continue
                result = values(variant.rules)
                if all(_same(a, b, self.digits) for a, b in zip(result, base)):
                    unchanged.append(variant)  # alone it cannot explain this claim; it may still act in a pair
                    continue
                changed.append((variant, result))
                if gives(result):
                    note(variant.mistakes, variant.explanation, variant.implied, variant)
                    reproduced = True
            if self._habits:  # (even where one mistake gives the number: the author's next one is named too)
                reproduced |= self._on_habits(singles, values, gives, note)
            if not reproduced:
                self._pairs(changed, unchanged, transforms, values, gives, note)
        except _SearchCut:
            return list(found.values()), False
        return list(found.values()), True

    def _on_habits(self, singles: Sequence[Variant], values, gives, note) -> bool:
        """Whether the author's earlier mistakes of method, alone or with one more mistake, give the claim
        (the new mistake is named; the earlier ones are said in its explanation)."""
        reproduced = False
        for choice in itertools.islice(itertools.product(*self._habits), MAX_HABIT_READINGS):
            known = choice[0]
            for habit in choice[1:]:
                known = merge(known, habit) or known
            earlier = ", ".join(dict.fromkeys(known.mistakes))
            if gives(values(known.rules)):
                note(known.mistakes, f"the mistakes already found, again: {known.explanation}", known.implied)
                return True
            for variant in singles:
                combined = merge(variant, known)
                if combined is not None and combined.rules != known.rules and gives(values(combined.rules)):
                    note(variant.mistakes, f"{variant.explanation} — on top of the mistakes already found ({earlier})",
                         variant.implied)
                    reproduced = True
            if reproduced:
                return True
        return False

    def _learn_habit(self) -> None:
        """Keep the mistake of method that alone explained the claim just judged as the author's habit (with
        each computation of it that did: softmax without exp, differentiated either way)."""
        models = [model for model in self._models.values() if model is not None]  # (not a change of the number)
        if not models or len({model.mistakes for model in models}) != 1:
            return  # no mistake of method, or several that explain it: nothing is learnt
        if models[0].transform is None and not set(models[0].mistakes) & ONE_OFF_MISTAKES \
                and not any(models[0] in known for known in self._habits):
            self._habits.append(tuple(models))

    def _can_touch(self, variant: Variant, claim: Claim) -> bool:
        """False when a swapped weight or bias cannot reach a forward value at step 0 (no need to run it)."""
        key = claim.key
        swapped = variant.rules.forward_values
        if not swapped or key.kind != "value" or key.step != 0:
            return True
        return any(key.of in self.reach.get(Quantity.param(original), ()) for original, _ in swapped)

    def _pairs(self, changed, unchanged, transforms, values, gives, note) -> None:
        """Two mistakes at once, at least one of which changes this claim by itself: a changed
        computation with a transform of its result, or with a second changed computation (at most
        :data:`MAX_PAIRS` of those, the mistakes of method before the swapped weights and slips)."""
        for variant, result in changed:
            for transform in transforms:
                combined = merge(variant, transform)
                if combined is not None and gives([transform.transform(v) for v in result if mpmath.isfinite(v)]):
                    note(combined.mistakes, combined.explanation, combined.implied)
        order = {id(variant): index for index, variant in enumerate([v for v, _ in changed] + unchanged)}
        first_parts = sorted((variant for variant, _ in changed), key=_specific)
        partners = sorted(first_parts + unchanged, key=_specific)
        tried = 0
        for first in first_parts:
            for second in partners:
                if second is first or (second in first_parts and first_parts.index(second) < first_parts.index(first)):
                    continue  # each unordered pair of changed computations once
                # named in the library's order, whichever part changed the claim
                combined = merge(*sorted((first, second), key=lambda v: (_library_position(v), order[id(v)])))
                if combined is None:
                    continue
                tried += 1
                if tried > MAX_PAIRS:
                    return
                if gives(values(combined.rules)):
                    note(combined.mistakes, combined.explanation, combined.implied)

    def _diagnosis_readings(self, claim: Claim) -> tuple[Reading, ...]:
        """Exact, and rounded in the author's own style and precision (where that is fine enough for ``claim``)."""
        style, significant, places = self.precision
        if style == "significant":
            rounded = Reading("round", "significant", min(max(significant, 1), 30))
        else:
            rounded = Reading("round", "places", min(places, 30))
        return (Reading(), rounded) if self._fine_enough(rounded, claim) else (Reading(), Reading())

    def _terms(self, claim: Claim) -> int:
        """How many terms the sum behind ``claim`` has (0 when it is not a sum)."""
        key = claim.key
        if key.kind == "derivative":
            return len(self.engine.derivative(key.of, key.wrt).chain)
        definition = self.graph.definitions.get(key.of)
        return len(definition.args) if key.kind == "value" and definition is not None and definition.is_Add else 0

    def _learning_rate(self, claim, claimed, overrides, half, note) -> bool:
        name = claim.key.of.name
        stated = to_mpf(self.graph.learning_rate)
        for numbers in ((overrides, self._none) if overrides else (self._none,)):
            for reading in self._diagnosis_readings(claim):
                world = self.world(overrides=numbers, reading=reading)
                step = claim.key.step
                old = world.parameter(name, step)
                gradient = world.derivative(Quantity.loss(), claim.key.of, step)
                rate = implied_learning_rate(old, claimed, gradient)
                if rate is not None and rate != stated and abs(old - rate * gradient - claimed) <= half:
                    text = mpmath.nstr(rate, 6)
                    note(("wrong_learning_rate",), f"the update used a learning rate of {text}, not {mpmath.nstr(stated, 6)}", text)
                    return True
        return False

    # ---- formulas ------------------------------------------------------------------------
    def paths(self, key: ClaimKey, limit: int = 200) -> tuple[str, ...]:
        """Every path of a derivative claim, so that a dropped term can be seen."""
        if key.kind != "derivative":
            return ()
        derivation = self.engine.derivative(key.of, key.wrt)
        if derivation.path_count > limit:
            return (f"{derivation.path_count} paths (too many to list)",)
        return tuple(" · ".join(str(f) for f in path) for path in derivation.paths())

    def formula(self, key: ClaimKey) -> str:
        from ..reports.printing import text

        if key.kind == "new":
            return f"new({key.of}) = {key.of} − η·∂E/∂{key.of}"
        if key.kind == "derivative":
            derivation = self.engine.derivative(key.of, key.wrt)
            terms = " + ".join(" · ".join(str(f) for f in term) for term in derivation.chain) or "0"
            if derivation.path_count > MAX_WRITTEN_PATHS:  # the formula in node symbols would double per layer
                return f"{derivation} = {terms}  ({derivation.path_count} paths)"
            return f"{derivation} = {terms} = {text(derivation.compact)}  ({derivation.path_count} path(s))"
        if key.of in self.graph.definitions:
            return f"{key.of} = {text(self.graph.definitions[key.of])}"
        return f"{key.of} (given)"


#: At most this many ways of combining the author's habits are tried for one claim.
MAX_HABIT_READINGS = 8
#: Mistakes of one number, not of method: never taken as the author's habit.
ONE_OFF_MISTAKES = frozenset({"wrong_weight", "wrong_bias", "term_slip", "stale_parameters", "one_sample_gradient"})


def _library_position(variant: Variant) -> int:
    return MISTAKE_IDS.index(variant.mistakes[0])


def _specific(variant: Variant) -> int:
    """Mistakes of method first; a swapped weight, bias or slipped term (there are many) after."""
    return int(variant.mistakes[0] in ("wrong_weight", "wrong_bias", "term_slip"))


def _same(a, b, digits: int) -> bool:
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return not mpmath.isfinite(a) and not mpmath.isfinite(b)
    return abs(a - b) <= mpmath.mpf(10) ** (-digits + 8) * max(1, abs(a))


def working_digits(claims: Sequence[Claim]) -> int:
    """The auditor's working precision: :data:`WORKING_DIGITS`, or 20 more than the most significant digits
    any claim writes (from its first digit to its last written place), so every written digit is judged.

    >>> from symbackprop.quantity import Quantity
    >>> key = ClaimKey("value", 0, Quantity.loss())
    >>> working_digits([Claim(0, "E", key, "0." + "1" * 60, Fraction(1, 9), Fraction(1, 10**60), "claims[0]")])
    80
    """
    written = [written_digits(claim) for claim in claims]
    return max([WORKING_DIGITS] + [digits + 20 for digits in written])


def written_digits(claim: Claim) -> int:
    """How many digits a claim writes from its leading digit to its last written place (0 for a number
    whose written unit exceeds its size, such as "0.000" or "0e50"; exact fractions count as none)."""
    if not claim.unit or claim.value == 0:
        return 0
    size, unit = abs(claim.value), claim.unit
    digits = 0
    while unit * 10**digits <= size:
        digits += 1
    return digits


def audit(graph: SymbolicGraph, claims: Sequence[Claim],
          progress: Optional[Callable[[int], None]] = None) -> AuditReport:
    """Audit every claim, in file order (``progress(done)`` after each claim)."""
    return Auditor(graph, claims).run(progress)


def _exact_zero(value) -> bool:
    """An exact 0 (a rational computed without rounding), not a binary number that happens to be 0."""
    return isinstance(value, (Fraction, int, sp.Rational)) and value == 0
