"""Put each exact gradient next to the independent finite-difference one.

Status per parameter, each earned by a computation:

* ``ok``: the gradient agrees with the central difference within the tolerance of the mode;
* ``kink``: it does not, but a ReLU-type unit that the parameter feeds has its net input at zero
  or crossing zero within the actual finite-difference step (in a formula graph: a node with
  |a|, max, min, a case split or a ReLU whose switching expression is 0 or changes sign), *and* the gradient equals the
  derivative from the left or from the right (one-sided differences), as a derivative at a kink must
  (in a formula graph, any value between them: sign(0) = 0 for |x| and ½ for max and min are
  conventions of that kind, a subgradient);
* ``mismatch``: every other disagreement.

The tolerance is relative, all but two of the requested digits (never looser than 10⁻⁶), plus an
absolute floor at the precision the analytic values are evaluated at; it is never wide enough to
pass a wrong sign or a factor on a gradient above that floor.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Optional

import mpmath

from ..engine.chain import Engine
from ..engine.values import point_of
from ..errors import InputError, UncertifiedDigits, UndefinedValue, whole_number
from ..frontends.coerce import as_graph
from ..frontends.dense import network_of
from ..frontends.network import Network, Parameter
from ..functions.activations import activation
from ..functions.registry import activation_has_kink
from ..graph import SymbolicGraph
from ..layout import Layout
from ..notebook import Displayable
from ..numbers import to_mpf
from .differences import NumericDerivative, central_step, one_sided_step
from .graphs import (graph_finite_difference, graph_forward, graph_kinks_crossed, graph_kinks_met, graph_loss,
                     graph_one_sided, met_within)
from .numeric import finite_difference, loss_at, nets_shifted, one_sided_derivatives, unit_nets


Status = Literal["ok", "mismatch", "kink"]
FLOAT64_TOLERANCE = 1e-6
#: The least precision (digits) at which default analytic values are evaluated, whatever ``digits`` says.
ANALYTIC_DIGITS = 30
MIN_DIGITS, MAX_DIGITS = 5, 1000
#: Most formula evaluations the finite-difference check of a graph may need (about a minute's work).
MAX_GRAPH_WORK = 4_000_000


@dataclass(frozen=True)
class GradientCheck:
    """One parameter's analytic and numeric gradient, side by side."""

    name: str
    analytic: mpmath.mpf
    numeric: mpmath.mpf
    abs_error: mpmath.mpf
    rel_error: mpmath.mpf
    status: Status
    kinks: tuple[str, ...] = ()  # the units whose kink lies within the step, when the status is kink
    one_sided: Optional[tuple[mpmath.mpf, mpmath.mpf]] = None  # (left, right), computed only near a kink


@dataclass(frozen=True)
class CheckReport(Displayable):
    loss: mpmath.mpf
    rows: tuple[GradientCheck, ...]
    digits: int
    float64: bool

    @property
    def passed(self) -> bool:
        """True when no parameter is a mismatch (kinks are reported, not failures)."""
        return all(row.status != "mismatch" for row in self.rows)

    def row(self, name: str) -> GradientCheck:
        """The row of one parameter (KeyError when there is none)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)


def tolerance(digits: int, float64: bool) -> mpmath.mpf:
    """Relative agreement demanded: 1e-6 in float64, else all but 2 of the requested digits (at least 6).

    >>> str(tolerance(50, False)), str(tolerance(5, False)), str(tolerance(50, True))
    ('1.0e-48', '1.0e-6', '1.0e-6')
    """
    if float64:
        return mpmath.mpf(FLOAT64_TOLERANCE)
    return min(mpmath.mpf(10) ** (2 - digits), mpmath.mpf(FLOAT64_TOLERANCE))


def _noise(digits: int, float64: bool, loss) -> mpmath.mpf:
    """The absolute floor below which two gradients cannot be told apart in this mode.

    In high precision it is the precision of the analytic values alone: a finite difference whose own
    rounding error is larger (a loss of 1e50, an output that cancels its target) is recomputed at more
    digits until it settles (see :func:`check_gradients`), never excused by a floor that grows with |E|.
    In float64 the difference's rounding error is |E|·2⁻⁵²/h, and a loss too large for it to tell an
    O(1) gradient to 6 digits is refused (see :data:`FLOAT64_MAX_LOSS`).
    """
    if float64:
        return mpmath.mpf("1e-11") * max(1, abs(loss))
    return mpmath.mpf(10) ** (-max(digits, ANALYTIC_DIGITS))


#: The largest |E| at which float64 finite differences can judge a gradient (their floor 1e-11·|E| reaches 1e-6).
FLOAT64_MAX_LOSS = 10**5
#: Extra working digits with which a finite difference that disagrees is recomputed, in turn, before it
#: is believed: a disagreement that the finite difference's own rounding made goes away.
REFINING_DIGITS = (40, 120, 400)
#: Extra working digits with which the oracle is run, in turn, where it meets an undefined value.
ESCALATING_DIGITS = (0, 150, 600, 2400)


@dataclass(frozen=True)
class _Oracle:
    """What the check asks of the independent evaluator, for a dense network or a formula graph."""

    names: tuple[str, ...]
    loss: Callable[[], object]
    central: Callable[[str], NumericDerivative]
    one_sided: Callable[[str], tuple[NumericDerivative, NumericDerivative]]
    kinks_crossed: Callable[[str], tuple[str, ...]]
    #: The kinks downstream of a parameter met exactly at the file's numbers (a ReLU's net exactly 0, a
    #: tie of max or min): there the gradient is a convention, even where the central difference agrees.
    kinks_met: Callable[[str], tuple[str, ...]]
    #: Whether any value between the one-sided derivatives is a convention here: a formula graph's
    #: |x| takes sign(0) = 0 and max and min take ½ each (the mean), and with several switches at
    #: once the conventions mix; a ReLU layer takes exactly the left derivative.
    between: bool = False


def _dense_oracle(network: Network, digits: int, float64: bool) -> _Oracle:
    candidates = _kink_units(network)
    base_nets = unit_nets(network, digits) if candidates else {}

    def kinks_crossed(name: str) -> tuple[str, ...]:
        parameter = network.parameter(name)
        return _kinks_within_step(network, parameter, _kinks_fed(network, parameter, candidates), base_nets,
                                  digits, float64)

    met = {unit: layer for unit, layer in candidates.items() if abs(base_nets[unit]) <= met_within(digits)}
    return _Oracle(
        names=tuple(parameter.name for parameter in network.parameters()),
        loss=lambda: loss_at(network, {}, digits),
        central=lambda name: finite_difference(network, name, digits, float64),
        one_sided=lambda name: one_sided_derivatives(network, name, digits, float64),
        kinks_crossed=kinks_crossed,
        kinks_met=lambda name: _kinks_fed(network, network.parameter(name), met) if met else (),
    )


def _graph_oracle(graph, digits: int, float64: bool) -> _Oracle:
    point_of(graph)  # the numbers must all be there: one clear message if not
    forward = graph_forward(graph)
    work = forward.work()
    if work > MAX_GRAPH_WORK:
        raise InputError(f"checking this graph by finite differences would evaluate up to {work:,} formulas (at most "
                         f"{MAX_GRAPH_WORK:,}): every parameter moves every node after it; derive needs no such "
                         "limit", place="graph")
    step = max(mpmath.mpf(central_step(digits, float64)), mpmath.mpf(one_sided_step(digits, float64)))
    return _Oracle(
        names=tuple(graph.parameters()),
        loss=lambda: graph_loss(forward, False, digits),
        central=lambda name: graph_finite_difference(forward, name, digits, float64),
        one_sided=lambda name: graph_one_sided(forward, name, digits, float64),
        kinks_crossed=lambda name: graph_kinks_crossed(forward, name, step, digits),
        kinks_met=lambda name: graph_kinks_met(forward, name, digits),
        between=True,
    )


def check_gradients(
    network: object,
    analytic: Optional[Mapping[str, object]] = None,
    digits: int = 50,
    float64: bool = False,
    progress: Optional[Callable[[int], None]] = None,
) -> CheckReport:
    """Check ``analytic`` (default: the engine's exact gradients) against finite differences.

    ``network`` is a dense :class:`Network`, a :class:`~symbackprop.frontends.model.Model` or a graph.
    ``analytic`` maps parameter names to numbers (anything mpmath can read,
    including SymPy Floats); pass a corrupted mapping to see the checker fail.
    ``progress(done)`` is called after each parameter.
    """
    network = _oracle_subject(network)
    whole_number(digits, MIN_DIGITS, MAX_DIGITS, "digits")
    oracles: dict[int, _Oracle] = {}

    def oracle_at(working: int) -> _Oracle:
        if working not in oracles:
            with mpmath.workdps(max(working, ANALYTIC_DIGITS) + 10):
                oracles[working] = _dense_oracle(network, working, float64) if isinstance(network, Network) \
                    else _graph_oracle(network, working, float64)
        return oracles[working]

    oracle = oracle_at(digits)

    def escalated(compute):
        """``compute(oracle)``, with more working digits where the oracle meets an undefined value: 1 − σ(1000)
        is 0 at 80 digits and 5e-435 at 500, so the loss the engine computes is finite there too."""
        for extra in (0,) if float64 else ESCALATING_DIGITS:
            try:
                with mpmath.workdps(max(digits + extra, ANALYTIC_DIGITS) + 10):
                    return compute(oracle_at(digits + extra))
            except UndefinedValue as error:
                last = error
        raise UncertifiedDigits(f"the finite-difference oracle cannot evaluate the loss here even with "
                                f"{ESCALATING_DIGITS[-1]:,} more working digits ({last.problem}; a sigmoid saturated "
                                "beyond any precision leaves 1 - out = 0): no gradient is proved") from None
    if analytic is None:
        analytic = Engine(network).gradient_values(max(digits, ANALYTIC_DIGITS) + 5)
    with mpmath.workdps(max(digits, ANALYTIC_DIGITS) + 10):
        missing = [name for name in oracle.names if name not in analytic]
        if missing:
            raise InputError(f"no analytic value for parameter {missing[0]!r} ({len(missing)} missing)",
                             place="analytic")
        loss = escalated(lambda found: _finite(mpmath.mpf(found.loss()), "E", float64, "the loss is undefined here"))
        if float64 and abs(loss) > FLOAT64_MAX_LOSS:
            raise InputError(f"float64 finite differences cannot judge gradients at a loss of {mpmath.nstr(loss, 3)} "
                             f"(their rounding error grows with |E|; at most {FLOAT64_MAX_LOSS:.0e}): run the check "
                             "without --float64, in high precision", place="float64")
        threshold, noise = tolerance(digits, float64), _noise(digits, float64, loss)
        rows: list[GradientCheck] = []
        for name in oracle.names:
            if progress is not None and rows:
                progress(len(rows))
            try:
                exact = to_mpf(analytic[name])
            except TypeError:
                raise InputError(f"the analytic value of {name!r} is not a number", place="analytic") from None
            numeric = escalated(lambda found: _finite(mpmath.mpf(found.central(name).value), name, float64))
            if not mpmath.isfinite(exact):  # an infinite or undefined gradient never agrees with anything
                rows.append(GradientCheck(name, exact, numeric, mpmath.inf, mpmath.inf, "mismatch"))
                continue
            if _agrees(exact, numeric, threshold, noise):
                met = oracle.kinks_met(name)
                sides = _one_sided_values(oracle, name) if met else None
                if sides is not None and not _agrees(sides[0], sides[1], threshold, noise):
                    # a kink met exactly: the central difference is the mean of two one-sided derivatives
                    status = "kink" if any(_agrees(exact, side, threshold, noise) for side in sides) or (
                        oracle.between and min(sides) <= exact <= max(sides)) else "mismatch"
                    rows.append(GradientCheck(name, exact, numeric, abs(exact - numeric),
                                              abs(exact - numeric) / max(abs(exact), abs(numeric), noise),
                                              status, met, sides))
                    continue
            crossed = () if _agrees(exact, numeric, threshold, noise) else oracle.kinks_crossed(name)
            if not (float64 or crossed or _agrees(exact, numeric, threshold, noise)):
                numeric = _settled(lambda extra: _finite(mpmath.mpf(oracle_at(digits + extra).central(name).value),
                                                         name, float64), numeric, name, threshold, noise)
            error = abs(exact - numeric)
            relative = error / max(abs(exact), abs(numeric), noise)  # below the floor, relative to the floor
            if _agrees(exact, numeric, threshold, noise):
                rows.append(GradientCheck(name, exact, numeric, error, relative, "ok"))
                continue
            if crossed:
                sides = _one_sided_values(oracle, name)
                status = "kink" if any(_agrees(exact, side, threshold, noise) for side in sides) or (
                    oracle.between and min(sides) <= exact <= max(sides)) else "mismatch"
                rows.append(GradientCheck(name, exact, numeric, error, relative, status, crossed, sides))
                continue
            rows.append(GradientCheck(name, exact, numeric, error, relative, "mismatch"))
    return CheckReport(loss, tuple(rows), digits, float64)


def _oracle_subject(model) -> "Network | SymbolicGraph":
    """What the finite differences read: a plain chain of dense layers as its :class:`Network` (the dense
    oracle reads the description, with the graph's numbers, never the graph's definitions), anything else
    (skip connections, tied weights, own functions, several samples, formulas) as its graph."""
    if isinstance(model, Network) and model.is_classic:
        return model
    graph = as_graph(model, "check_gradients")
    if graph.layout is not None and (network := network_of(graph)).is_classic:
        return network
    return graph


def _kink_oracle(graph, digits: int) -> _Oracle:
    """The oracle the kink questions ask (the dense one where the graph is a plain dense network)."""
    subject = _oracle_subject(graph)
    return _dense_oracle(subject, digits, False) if isinstance(subject, Network) \
        else _graph_oracle(subject, digits, False)


def kink_met(graph, name: str, digits: int = 50) -> Optional[tuple[tuple[str, ...], mpmath.mpf, mpmath.mpf]]:
    """(the kinks met, ∂E/∂name from the left, from the right) where a kink downstream of parameter ``name``
    is met exactly at the file's numbers and its two one-sided derivatives differ; else None.
    The one-sided derivatives are the independent oracle's (finite differences of the forward loss)."""
    with mpmath.workdps(max(digits, ANALYTIC_DIGITS) + 10):
        oracle = _kink_oracle(graph, digits)
        met = oracle.kinks_met(name)
        if not met:
            return None
        left, right = _one_sided_values(oracle, name)
        tolerance_here = tolerance(digits, False)
        if _agrees(left, right, tolerance_here, _noise(digits, False, 0)):
            return None
        return met, left, right


def parameters_at_kinks(graph, digits: int = 50) -> tuple[str, ...]:
    """The parameters with a kink downstream met at the file's numbers (within binary rounding), from one
    forward pass of the oracle: the ones :func:`kink_met` may say more of."""
    with mpmath.workdps(max(digits, ANALYTIC_DIGITS) + 10):
        oracle = _kink_oracle(graph, digits)
        return tuple(name for name in oracle.names if oracle.kinks_met(name))


def kink_units(layout: Layout) -> dict[str, int]:
    """Every unit of a layered graph with a kink at zero (a ReLU's), and its layer."""
    return _kink_units(layout)


def _one_sided_values(oracle: _Oracle, name: str) -> tuple[mpmath.mpf, mpmath.mpf]:
    left, right = oracle.one_sided(name)
    return mpmath.mpf(left.value), mpmath.mpf(right.value)


def _finite(numeric, name: str, float64: bool, problem: str = ""):
    if not mpmath.isfinite(numeric):
        if float64:
            raise InputError(f"float64 cannot evaluate the loss near {name!r} (it overflows); "
                             "run the check without --float64, in high precision", place="float64")
        raise UndefinedValue(problem or f"the loss is undefined near {name!r}", place="loss.kind")
    return numeric


def _settled(central_with: Callable[[int], object], numeric, name: str, threshold, noise):
    """The finite difference recomputed with more working digits until two in turn agree: the value
    its own rounding no longer moves. Refused when it does not settle."""
    for extra in REFINING_DIGITS:
        better = central_with(extra)
        if _agrees(better, numeric, threshold, noise):
            return better
        numeric = better
    raise UncertifiedDigits(f"the finite difference of {name!r} does not settle with up to {REFINING_DIGITS[-1]} "
                            "extra working digits (the loss cancels more digits than that): nothing is certified")


def _agrees(analytic, numeric, threshold, noise) -> bool:
    return abs(analytic - numeric) <= threshold * max(abs(analytic), abs(numeric)) + noise


def _kink_units(network: "Network | Layout") -> dict[str, int]:
    """Every unit with a kink at zero, and its layer."""
    return {unit: index for index, layer in enumerate(network.layers)
            if activation_has_kink(activation(layer.activation)) for unit in layer.units}


def _kinks_fed(network: Network, parameter: Parameter, kinked: Mapping[str, int]) -> tuple[str, ...]:
    """The kink units downstream of (or at) where ``parameter`` enters the network."""
    return tuple(
        unit for unit, layer in kinked.items()
        if layer > parameter.layer_index or (layer == parameter.layer_index and unit in parameter.units)
    )


def _kinks_within_step(network: Network, parameter: Parameter, units: tuple[str, ...], base_nets,
                       digits: int, float64: bool) -> tuple[str, ...]:
    """The units whose net is 0, or changes sign, as ``parameter`` moves by the largest step used."""
    if not units:
        return ()
    step = max(mpmath.mpf(central_step(digits, float64)), mpmath.mpf(one_sided_step(digits, float64)))
    below = nets_shifted(network, parameter.name, -step, digits)
    above = nets_shifted(network, parameter.name, step, digits)
    found = []
    for unit in units:
        signs = {mpmath.sign(below[unit]), mpmath.sign(base_nets[unit]), mpmath.sign(above[unit])}
        if abs(base_nets[unit]) <= met_within(digits) or len(signs) > 1:
            found.append(unit)
    return tuple(found)


__all__ = ["CheckReport", "GradientCheck", "NumericDerivative", "check_gradients", "kink_met", "tolerance"]
