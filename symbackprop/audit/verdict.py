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
from typing import Callable, Literal, Optional, Sequence

import mpmath
import sympy as sp

from ..engine.chain import MAX_WRITTEN_PATHS, Engine
from ..functions.evaluate import evaluate_expression
from ..graph import SymbolicGraph
from ..notebook import Displayable
from ..numbers import as_fraction, to_mpf
from ..oracle.check import kink_met, kink_units, parameters_at_kinks
from ..oracle.graphs import graph_forward
from ..quantity import Quantity
from .claims import Claim, ClaimKey
from .diagnosis import MAX_DIAGNOSIS_WORLDS, Diagnoser, Diagnosis
from .digits import (_digits, _exact_zero, _places, _significant, _truncates, _truncates_differently, working_digits,
                     written_digits)
from .exact_values import _ExactValues
from .mistakes import Variant
from .rewriting import REWRITING, Computation, Rules, computation
from .world import Reading, World, descendants


Verdict = Literal["ok", "rounding", "propagated", "error"]
#: How much coarser (relative precision) an author's earlier number may be than a claim it is fed into.
COARSER = 1000
#: The most choices of side (2 per parameter whose gradient meets a kink) tried for a number after an update.
MAX_ONE_SIDED_CHOICES = 16


SHOWN_DIGITS = 20


@dataclass(frozen=True)
class Formula:
    """How a claimed quantity is computed, for the reports to print: the sides of an equation (text, or a
    SymPy expression in node symbols) and a note after it (how many paths a derivative sums)."""

    sides: tuple[object, ...]
    note: str = ""


@dataclass(frozen=True)
class ClaimVerdict:
    claim: Claim
    exact: mpmath.mpf
    recomputed: mpmath.mpf
    verdict: Verdict
    source: Optional[int]
    diagnoses: tuple[Diagnosis, ...]
    formula: Formula
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


class Auditor(Diagnoser):
    """Audits the claims of one worked example, in order."""

    def __init__(self, graph: SymbolicGraph, claims: Sequence[Claim]) -> None:
        self.graph = graph
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
              exempt: Optional[ClaimKey] = None, bits: Optional[int] = None) -> World:
        rewrite = tuple(getattr(rules, name) for name in REWRITING)
        if rewrite not in self._computations:
            self._computations[rewrite] = computation(self.graph, rules)
        # (a world of another arithmetic computes its own forward passes: the shared ones are exact)
        return World(self.graph, self.reach, rules, overrides if overrides is not None else self._none, reading, exempt,
                     self._computations[rewrite], self._passes if bits is None else None, digits=self.digits,
                     bits=bits)

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
        # (an input's derivative too, where the graph oracle, which moves any leaf, is the one asked)
        if key.kind == "derivative" and key.of == Quantity.loss() and (key.wrt.kind == "param" or (
                self.graph.layout is None and self.graph.roles.get(key.wrt) == "input")):
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
                if graph.layout is not None and graph.layout.is_classic:
                    units = kink_units(graph.layout)
                    found = {q.name for q in graph.order if q.kind == "net" and q.name in units
                             and _exact_zero(point[graph.symbols[q]])}
                else:
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
        return dataclasses.replace(self.graph, values=values)

    def _after_one_sided_step(self, claim: Claim, claimed, half) -> Optional[str]:
        """A claim after the first update, recomputed with ∂E/∂p from the left or the right for each
        parameter whose gradient met a kink at step 0 (every choice of sides, up to
        :data:`MAX_ONE_SIDED_CHOICES`): the update a framework's convention gives."""
        if self.graph.samples and self.graph.training.method != "batch":
            return None
        if self._step0_kinks is None:
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
    def paths(self, key: ClaimKey, limit: int = 200) -> tuple[str, ...]:
        """Every path of a derivative claim, so that a dropped term can be seen."""
        if key.kind != "derivative":
            return ()
        derivation = self.engine.derivative(key.of, key.wrt)
        if derivation.path_count > limit:
            return (f"{derivation.path_count} paths (too many to list)",)
        return tuple(" · ".join(str(f) for f in path) for path in derivation.paths())

    def formula(self, key: ClaimKey) -> Formula:
        if key.kind == "new":
            return Formula((f"new({key.of})", f"{key.of} − η·∂E/∂{key.of}"))
        if key.kind == "derivative":
            derivation = self.engine.derivative(key.of, key.wrt)
            terms = " + ".join(" · ".join(str(f) for f in term) for term in derivation.chain) or "0"
            if derivation.path_count > MAX_WRITTEN_PATHS:  # the formula in node symbols would double per layer
                return Formula((str(derivation), terms), f"({derivation.path_count} paths)")
            return Formula((str(derivation), terms, derivation.compact), f"({derivation.path_count} path(s))")
        if key.of in self.graph.definitions:
            return Formula((str(key.of), self.graph.definitions[key.of]))
        return Formula((f"{key.of} (given)",))


def audit(graph: SymbolicGraph, claims: Sequence[Claim],
          progress: Optional[Callable[[int], None]] = None) -> AuditReport:
    """Audit every claim, in file order (``progress(done)`` after each claim)."""
    return Auditor(graph, claims).run(progress)
