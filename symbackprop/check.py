"""Put each exact gradient next to the independent finite-difference one.

Status per parameter: ``ok`` when they agree within the tolerance of the mode,
``kink`` when they may legitimately differ because a ReLU or leaky-ReLU unit
that the parameter feeds sits at (or within a finite-difference step of) zero,
and ``mismatch`` otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Optional

import mpmath

from .notebook import Displayable
from .activations import activation
from .exact import to_mpf
from .network import Network, Parameter
from .numeric import finite_difference, loss_at, unit_nets

Status = Literal["ok", "mismatch", "kink"]
FLOAT64_TOLERANCE = 1e-6


@dataclass(frozen=True)
class GradientCheck:
    """One parameter's analytic and numeric gradient, side by side."""

    name: str
    analytic: mpmath.mpf
    numeric: mpmath.mpf
    abs_error: mpmath.mpf
    rel_error: mpmath.mpf
    status: Status
    kinks: tuple[str, ...] = ()  # the units at a kink that this parameter feeds


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
        return next(row for row in self.rows if row.name == name)


def tolerance(digits: int, float64: bool) -> mpmath.mpf:
    """Relative agreement demanded: 1e-6 in float64, else all but 8 of the requested digits."""
    return mpmath.mpf(FLOAT64_TOLERANCE) if float64 else mpmath.mpf(10) ** (8 - digits)


def check_gradients(
    network: Network,
    analytic: Optional[Mapping[str, object]] = None,
    digits: int = 50,
    float64: bool = False,
) -> CheckReport:
    """Check ``analytic`` (default: the engine's exact gradients) against finite differences.

    ``analytic`` maps parameter names to numbers (anything mpmath can read,
    including SymPy Floats); pass a corrupted mapping to see the checker fail.
    """
    if analytic is None:
        from .chain import Engine

        engine = Engine(network)
        analytic = {g.wrt.name: g.evalf(digits + 5) for g in engine.gradients()}
    with mpmath.workdps(digits + 10):
        kinked = _kinked_units(network, digits, float64)
        threshold = tolerance(digits, float64)
        floor = mpmath.mpf(10) ** (-(digits // 2)) if not float64 else mpmath.mpf(1e-8)
        rows = []
        for parameter in network.parameters():
            exact = to_mpf(analytic[parameter.name])
            numeric = mpmath.mpf(finite_difference(network, parameter.name, digits, float64).value)
            error = abs(exact - numeric)
            scale = max(abs(exact), abs(numeric), floor)
            relative = error / scale
            feeds = _kinks_fed(network, parameter, kinked)
            if relative <= threshold and not feeds:
                status: Status = "ok"
            elif feeds:
                status = "kink"
            else:
                status = "mismatch"
            rows.append(GradientCheck(parameter.name, exact, numeric, error, relative, status, feeds))
        loss = loss_at(network, {}, digits)
    return CheckReport(loss, tuple(rows), digits, float64)


def _kinked_units(network: Network, digits: int, float64: bool) -> dict[str, int]:
    """Units with a kink at zero whose net is within reach of a finite-difference step."""
    window = mpmath.mpf(2) ** -4 if float64 else mpmath.mpf(10) ** (-(digits // 12) + 1)
    nets = unit_nets(network, digits)
    kinked = {}
    for index, layer in enumerate(network.layers):
        if activation(layer.activation).kink_at_zero:
            for unit in layer.units:
                if abs(nets[unit]) <= window:
                    kinked[unit] = index
    return kinked


def _kinks_fed(network: Network, parameter: Parameter, kinked: Mapping[str, int]) -> tuple[str, ...]:
    """The kinked units downstream of (or at) where ``parameter`` enters the network."""
    return tuple(
        unit for unit, layer in kinked.items()
        if layer > parameter.layer_index or (layer == parameter.layer_index and unit in parameter.units)
    )
