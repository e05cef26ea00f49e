"""The search for why a wrong number is wrong: every mistake of the library, alone and in pairs, and the
author's own habits as they become clear; a reason is given only when a world reproduces the number."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional, Sequence

import mpmath

from ..numbers import to_mpf
from ..quantity import Quantity
from .claims import Claim
from .digits import _digits, _same
from .mistakes import (MAX_PAIRS, MISTAKE_IDS, Variant, digit_typo, graph_variants, implied_learning_rate, merge,
                       sample_variants, slip_variants, step_variants, transform_variants, world_variants)
from .rewriting import Rules
from .world import Reading


#: Bits of a float32 significand: the precision of the single-precision world of :meth:`Diagnoser._float32`.
FLOAT32_BITS = 24
#: Re-computations the mistake search may make for one claim (mistakes of method come first).
MAX_DIAGNOSIS_WORLDS = 600


class _SearchCut(Exception):
    """The mistake search for one claim has used its budget."""


#: At most this many ways of combining the author's habits are tried for one claim.
MAX_HABIT_READINGS = 8


#: Mistakes of one number, not of method: never taken as the author's habit.
ONE_OFF_MISTAKES = frozenset({"wrong_weight", "wrong_bias", "term_slip", "stale_parameters", "one_sample_gradient"})


def _library_position(variant: Variant) -> int:
    return MISTAKE_IDS.index(variant.mistakes[0])


def _specific(variant: Variant) -> int:
    """Mistakes of method first; a swapped weight, bias or slipped term (there are many) after."""
    return int(variant.mistakes[0] in ("wrong_weight", "wrong_bias", "term_slip"))


class Diagnoser:
    """What mistake of the library, or habit of the author, gives a wrong number: the auditor's search.

    Mixed into :class:`~symbackprop.audit.verdict.Auditor`, whose worlds, readings and claims it reads.
    """

    def _float32(self, claim, claimed, exact) -> Optional[str]:
        """Why ``claimed`` may be the number a float32 (single-precision) computation printed, or None.

        The claim's quantity is computed again from the exact inputs with every operation rounded to 24 bits
        (inputs included, as a framework's float32 tensors hold them). When the claim lies off the exact
        value by at most twice what that computation is off by (and at least two units of float32's last
        place, the rounding of the result alone), float32 arithmetic explains it: another order of the same
        float32 operations lands elsewhere within that error.
        """
        if not exact or not mpmath.isfinite(exact):
            return None
        try:
            single = self.world(bits=FLOAT32_BITS).value(claim.key)
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
        if not mpmath.isfinite(single):
            return None
        unit = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(abs(exact), 2)) - (FLOAT32_BITS - 1))
        off, noise = abs(claimed - exact), max(2 * unit, 2 * abs(single - exact))
        if off > noise:
            return None
        return (f"float32 arithmetic: a single-precision computation of it gives {mpmath.nstr(single, 9)}, "
                f"{mpmath.nstr(abs(single - exact) / unit, 2)} units of float32's last place off the exact value; "
                f"the claim is {mpmath.nstr(off / unit, 2)} units off, within that error: what a tool computing in "
                "float32 prints, rather than a digit slipped by hand")

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
        single = self._float32(claim, claimed, exact)
        if single is not None:  # arithmetic noise, shown by a float32 computation: no slip of a digit to name
            note(("float32",), single)
            reproduced = True
        for reference in (recomputed, exact) if single is None else ():
            typo = digit_typo(claim.written.replace("\u2212", "-"), _digits(reference, claim.unit))
            if typo:
                note(("digit_typo",), typo)
                reproduced = True
                break
        changed: list[tuple[Variant, list]] = []
        unchanged: list[Variant] = []
        layered = world_variants(self.graph, claim) if self.graph.layout is not None else []
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


#: A mistake model is re-run by every route only when its first route lands within this many half-units.
NEAR = 1000


@dataclass(frozen=True)
class Diagnosis:
    mistake: str  # an id of the library, or two joined by "+"
    explanation: str
    implied: Optional[str] = None
