"""Verdicts: for every claim, ok | rounding | propagated | error, and why.

* ``ok``: the exact value, rounded to the written digits, gives the claim.
* ``rounding``: explained by rounding the author did — the claim recomputed from the author's own
  earlier numbers agrees, or the gap is within the drift that rounding intermediates at the
  author's precision can cause, or the author truncated instead of rounding (``truncation``).
* ``propagated``: wrong, but right given the author's earlier wrong numbers; ``source`` names
  the claim the mistake comes from.
* ``error``: wrong even given the author's numbers; the diagnoses say which mistake models
  reproduce it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal, Optional, Sequence

import mpmath

from ..notebook import Displayable
from ..chain import Engine
from ..exact import to_mpf
from ..graph import SymbolicGraph
from ..quantity import Quantity
from ..values import point_of, updated_parameters
from .claims import Claim, ClaimKey
from .mistakes import Variant, digit_typo, implied_learning_rate, merge, transform_variants, world_variants
from .world import WORKING_DIGITS, Rules, World, descendants

Verdict = Literal["ok", "rounding", "propagated", "error"]
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
    """Exact values of claim quantities, from the symbolic engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._updated = None
        self._after = None

    def updated(self):
        if self._updated is None:
            self._updated = updated_parameters(self.engine)
        return self._updated

    def after(self):
        if self._after is None:
            self._after = point_of(self.engine.graph, self.updated())
        return self._after

    def value(self, key: ClaimKey) -> mpmath.mpf:
        engine = self.engine
        with mpmath.workdps(WORKING_DIGITS):
            if key.kind == "new":
                return to_mpf(self.updated()[key.of.name])
            point = engine.point if key.step == 0 else self.after()
            if key.kind == "derivative":
                expression = engine.derivative(key.of, key.wrt).compact
            else:
                expression = engine.graph.symbols[key.of]
            return to_mpf(point.evalf(expression, WORKING_DIGITS))


def _digits(value: mpmath.mpf, unit) -> str:
    """``value`` rounded to the claim's written unit, as text (for digit comparisons)."""
    if unit == 0:
        return mpmath.nstr(value, 15)
    places = max(0, -int(mpmath.floor(mpmath.log10(to_mpf(unit)) + mpmath.mpf("1e-9"))))
    scaled = mpmath.nint(value / to_mpf(unit)) * to_mpf(unit)
    return f"{float(scaled):.{places}f}" if places < 15 else mpmath.nstr(scaled, 20)


def _truncates(claim: Claim, value: mpmath.mpf) -> bool:
    """The claim is ``value`` cut (not rounded) at the written digit, and rounding would differ."""
    if claim.unit == 0:
        return False
    unit = to_mpf(claim.unit)
    cut = mpmath.sign(value) * mpmath.floor(abs(value) / unit) * unit
    rounded = mpmath.nint(value / unit) * unit
    return abs(cut - to_mpf(claim.value)) < unit / 1000 and abs(rounded - cut) > unit / 2


def _places(claim: Claim) -> int:
    return max(0, -int(mpmath.floor(mpmath.log10(to_mpf(claim.unit)) + mpmath.mpf("1e-9")))) if claim.unit else 30


def _significant(claim: Claim) -> int:
    text = claim.written.lstrip("+-\u2212").split("e")[0].split("E")[0].replace(".", "").lstrip("0")
    return max(1, len(text))


class Auditor:
    """Audits the claims of one worked example, in order."""

    def __init__(self, graph: SymbolicGraph, claims: Sequence[Claim]) -> None:
        self.graph = graph
        self.network = graph.network
        self.claims = list(claims)
        self.engine = Engine(graph)
        self.exact = _ExactValues(self.engine)
        self.reach = descendants(graph)
        self._exact_values = {}
        self._verdicts: dict[int, ClaimVerdict] = {}
        self._exact_drift: dict[int, mpmath.mpf] = {}

    def exact_value(self, key: ClaimKey) -> mpmath.mpf:
        if key not in self._exact_values:
            self._exact_values[key] = self.exact.value(key)
        return self._exact_values[key]

    def world(self, rules: Rules = Rules(), overrides=None, perturb=None) -> World:
        return World(self.network, self.reach, rules, overrides or {}, perturb or {})

    def author_numbers(self, claim: Claim) -> dict[ClaimKey, mpmath.mpf]:
        """The author's numbers written before ``claim`` (the latest for each quantity)."""
        return {c.key: to_mpf(c.value) for c in self.claims[: claim.index] if c.key != claim.key}

    @functools.cached_property
    def precision(self) -> tuple[str, int, int]:
        """How the author rounds: ("places" | "significant" | "mixed", significant digits, decimal places).

        Only numbers the author rounded count ("0.05" written for exactly 1/20 says nothing), and
        the style is the one the rounded numbers keep constant: a fixed number of decimals (small
        numbers then carry fewer significant digits) or a fixed number of significant digits.
        """
        with mpmath.workdps(WORKING_DIGITS):
            inexact = [c for c in self.claims
                       if c.unit and abs(to_mpf(c.value) - self.exact_value(c.key)) > mpmath.mpf("1e-30") * max(1, abs(to_mpf(c.value)))]
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

    def rounding_unit(self, value: mpmath.mpf) -> mpmath.mpf:
        """Half a unit of the last digit the author would keep of ``value``."""
        style, significant, places = self.precision
        by_significance = mpmath.mpf(10) ** (mpmath.floor(mpmath.log10(abs(value))) - significant + 1) / 2
        by_places = mpmath.mpf(10) ** (-places) / 2
        if style == "places":
            return by_places
        if style == "significant":
            return by_significance
        return max(by_significance, by_places)

    def drift(self, claim: Claim, overrides) -> mpmath.mpf:
        """First-order bound on the change of the claim when every intermediate the author did not
        write is rounded at the author's precision."""
        with mpmath.workdps(WORKING_DIGITS):
            base_world = self.world(overrides=overrides)
            base = base_world.value(claim.key)
            total = mpmath.mpf(0)
            for key in list(base_world.computed):
                if key == claim.key:
                    continue
                value = base_world.value(key)  # already computed there: read, not recomputed
                if not mpmath.isfinite(value) or value == 0:
                    continue
                unit = self.rounding_unit(value)
                if abs(value / (2 * unit) - mpmath.nint(value / (2 * unit))) < mpmath.mpf("1e-20"):
                    continue  # already exact at the author's precision: rounding leaves it (and any kink) alone
                moved = self.world(overrides=overrides, perturb={key: unit}).value(claim.key)
                total += abs(moved - base)
            return total

    def run(self) -> AuditReport:
        for claim in self.claims:
            self._verdicts[claim.index] = self.judge(claim)
        return AuditReport(tuple(self._verdicts[c.index] for c in self.claims), self.graph)

    def judge(self, claim: Claim) -> ClaimVerdict:
        with mpmath.workdps(WORKING_DIGITS):
            claimed = to_mpf(claim.value)
            exact = self.exact_value(claim.key)
            overrides = self.author_numbers(claim)
            author = self.world(overrides=overrides)
            recomputed = author.value(claim.key)
            used = tuple(sorted(c.index for c in self.claims[: claim.index] if c.key in author.used))
            half = to_mpf(claim.half_unit) * (1 + mpmath.mpf("1e-12")) + mpmath.mpf(10) ** (-WORKING_DIGITS + 5)
            formula = self.formula(claim.key)
            paths = self.paths(claim.key)
            verdict = lambda v, reason, source=None, diagnoses=(): ClaimVerdict(
                claim, exact, recomputed, v, source, tuple(diagnoses), formula, reason, used, paths)

            if abs(claimed - exact) <= half:
                return verdict("ok", "the exact value rounds to the written digits")
            bad = [self._verdicts[i] for i in used if self._verdicts[i].verdict in ("error", "propagated")]
            roots = sorted({v.index if v.verdict == "error" else v.source for v in bad})

            def consistent(reason: str, tolerance, diagnoses=()) -> ClaimVerdict:
                """The claim follows from the author's numbers: inherited error, or only rounding."""
                if bad and abs(recomputed - exact) > tolerance:
                    return verdict("propagated", f"right given the author's earlier numbers; the mistake comes from "
                                   f"claim {roots[0]}", source=roots[0], diagnoses=diagnoses)
                return verdict("rounding", reason, diagnoses=diagnoses)

            if abs(claimed - recomputed) <= half:
                return consistent("recomputed from the author's own earlier numbers", half)
            cut = [Diagnosis("truncation", "the value was cut at the last written digit instead of rounded "
                             f"({_digits(recomputed, claim.unit)} when rounded)")]
            if _truncates(claim, recomputed):
                return consistent("the author's value truncated, not rounded, at the last written digit", half, cut)
            if _truncates(claim, exact):
                return verdict("rounding", "the exact value truncated, not rounded, at the last written digit",
                               diagnoses=cut)
            drift = self.drift(claim, overrides)
            tolerance = half + drift
            if abs(claimed - recomputed) <= tolerance:
                return consistent("within the drift of rounding intermediates at the author's precision "
                                  f"(±{mpmath.nstr(tolerance, 3)})", tolerance)
            if abs(claimed - exact) <= self._exact_tolerance(claim):
                return verdict("rounding", "within the drift of rounding intermediates at the author's precision")
            diagnoses = self.diagnose(claim, claimed, recomputed, exact, overrides, tolerance)
            return verdict("error", "wrong even given the author's earlier numbers", diagnoses=diagnoses)

    # ---- diagnosis -----------------------------------------------------------------------
    def diagnose(self, claim, claimed, recomputed, exact, overrides, tolerance) -> list[Diagnosis]:
        found: dict[tuple[str, str], Diagnosis] = {}

        def note(mistakes, explanation, implied=None):
            found.setdefault(("+".join(mistakes), explanation), Diagnosis("+".join(mistakes), explanation, implied))

        singles = world_variants(self.network, claim) + transform_variants()
        reproduced = False
        for variant in singles:
            if self._reproduces(variant, claim, claimed, overrides, tolerance):
                note(variant.mistakes, variant.explanation, variant.implied)
                reproduced = True
        if claim.key.kind == "new":
            reproduced |= self._learning_rate(claim, claimed, overrides, tolerance, note)
        for reference in (recomputed, exact):
            typo = digit_typo(claim.written.replace("\u2212", "-"), _digits(reference, claim.unit))
            if typo:
                note(("digit_typo",), typo)
                reproduced = True
                break
        if not reproduced:
            world_only = [v for v in singles if v.transform is None]
            for first, second in _pairs(world_only, singles):
                combined = merge(first, second)
                if combined and self._reproduces(combined, claim, claimed, overrides, tolerance):
                    note(combined.mistakes, combined.explanation, combined.implied)
        return list(found.values())

    def _reproduces(self, variant: Variant, claim, claimed, overrides, tolerance) -> bool:
        for numbers in (overrides, {}):
            if not numbers:
                tolerance = self._exact_tolerance(claim)
            try:
                value = self.world(variant.rules, numbers).value(claim.key)
            except (ZeroDivisionError, ValueError, OverflowError):
                continue
            if variant.transform is not None:
                value = variant.transform(value)
            if mpmath.isfinite(value) and abs(value - claimed) <= tolerance:
                return True
        return False

    def _exact_tolerance(self, claim: Claim) -> mpmath.mpf:
        """Reproducing from exact values allows the drift of the author's rounding along the way."""
        if claim.index not in self._exact_drift:
            self._exact_drift[claim.index] = to_mpf(claim.half_unit) * (1 + mpmath.mpf("1e-12")) + self.drift(claim, {})
        return self._exact_drift[claim.index]

    def _learning_rate(self, claim, claimed, overrides, tolerance, note) -> bool:
        name = claim.key.of.name
        for numbers in (overrides, {}):
            world = self.world(overrides=numbers)
            old = world.parameter(name, 0)
            gradient = world.derivative(Quantity.loss(), claim.key.of, 0)
            rate = implied_learning_rate(old, claimed, gradient)
            stated = mpmath.mpf(self.network.learning_rate.numerator) / self.network.learning_rate.denominator
            if rate is not None and rate != stated and abs(old - rate * gradient - claimed) <= tolerance:
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
        from ..printing import text

        if key.kind == "new":
            return f"new({key.of}) = {key.of} − η·∂E/∂{key.of}"
        if key.kind == "derivative":
            derivation = self.engine.derivative(key.of, key.wrt)
            terms = " + ".join(" · ".join(str(f) for f in term) for term in derivation.chain) or "0"
            return f"{derivation} = {terms} = {text(derivation.compact)}  ({derivation.path_count} path(s))"
        if key.of in self.graph.definitions:
            return f"{key.of} = {text(self.graph.definitions[key.of])}"
        return f"{key.of} (given)"


def _pairs(world_only, singles):
    """Each unordered pair once: a world mistake with any later mistake of the library."""
    for first in world_only:
        for second in singles[singles.index(first) + 1:]:
            yield first, second


def audit(graph: SymbolicGraph, claims: Sequence[Claim]) -> AuditReport:
    """Audit every claim, in file order."""
    return Auditor(graph, claims).run()
