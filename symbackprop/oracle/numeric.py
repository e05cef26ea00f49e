"""An independent finite-difference evaluator.

It reads the network model directly and evaluates only the forward loss, in
mpmath (or plain floats); it never touches the symbolic graph or any symbolic
derivative, so it can prove the engine wrong. Derivatives are central
differences refined by Richardson extrapolation.

>>> from fractions import Fraction as F
>>> from symbackprop.frontends.network import Network, Layer, Loss
>>> from symbackprop.oracle.differences import mpmath_str
>>> net = Network(("x",), (Layer("l1", ("y",), "linear", (("w",),), ((F(2),),)),), Loss("half_sse", (F(1),)), data=(F(3),))
>>> str(loss_at(net, {}, 30))          # ½(1 − 2·3)²
'12.5'
>>> mpmath_str(finite_difference(net, "w", digits=30).value)   # (6 − 1)·3
'15.0'
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping, Optional

import mpmath

from ..errors import InputError, UndefinedValue
from ..frontends.dense import build_graph
from ..frontends.network import Network
from ..functions.activations import activation, softmax_numeric
from ..functions.losses import loss_kind
from ..quantity import Quantity
from .differences import (ONE_SIDED_LEVELS, RICHARDSON_LEVELS, NumericDerivative, _float_number, _mp_number,
                          _richardson, _richardson_one_sided, central_step, one_sided_step, working_digits)
from .graphs import graph_finite_difference, graph_forward


@dataclass(frozen=True)
class ForwardPass:
    """Values of a forward pass: each unit's net and out, each output's loss term, and the loss."""

    nets: Mapping[str, object]
    outs: Mapping[str, object]
    terms: Mapping[str, object]
    loss: object
    parameters: Mapping[str, object]

    def value(self, quantity: Quantity):
        """The value of any quantity in this pass."""
        table = {"net": self.nets, "out": self.outs, "loss_term": self.terms, "param": self.parameters}
        return self.loss if quantity.kind == "loss" else table[quantity.kind][quantity.name]


def forward(network: Network, overrides: Mapping[str, object], number: Callable[[Fraction], object],
            ops: "Ops", shifts: Optional[Mapping[Quantity, object]] = None,
            reuse: Optional[tuple[ForwardPass, int]] = None) -> ForwardPass:
    """Run the network forward with exact file numbers turned into ``number`` values.

    ``overrides`` replaces parameter values; ``shifts`` adds to a node's value
    where it is computed, so everything downstream of it is recomputed.
    ``reuse = (pass, k)`` takes layers before k from an earlier pass at the same
    numbers (the caller guarantees that nothing shifted or overridden lies there);
    when only parameters of layer k are shifted, the units of layer k they do not
    enter are taken from it too, and a net they enter is the earlier net plus the
    shift times what the parameter multiplies.
    """
    if not network.has_numbers:
        raise InputError("finite differences need weights, [data] inputs and loss.targets", place="data")
    if not network.is_classic:
        raise InputError("this pass reads a plain chain of layers; a network with skips, tied weights or "
                         "functions of its own is evaluated through its graph (finite_difference does)",
                         place="network")
    # Keyed by (kind, name) so that a pass builds no Quantity objects: it runs thousands of times per check.
    shift_by = {(q.kind, q.name): v for q, v in (shifts or {}).items()}

    def shifted(kind: str, name: str, value):
        return value + shift_by[(kind, name)] if shift_by and (kind, name) in shift_by else value

    if reuse is not None and not overrides:
        parameters = dict(reuse[0].parameters)  # the earlier pass's values, then this pass's shifts
        for (kind, name), step in shift_by.items():
            if kind == "param":
                parameters[name] = parameters[name] + step
    else:
        parameters = {}
        for parameter in network.parameters():
            value = overrides[parameter.name] if parameter.name in overrides else number(parameter.value)
            parameters[parameter.name] = shifted("param", parameter.name, value)
    outs: dict[str, object] = {
        name: shifted("out", name, number(value)) for name, value in zip(network.inputs, network.data)
    }
    nets: dict[str, object] = {}
    # In the first layer that moves, only the units a shift touches are recomputed: a first-layer
    # weight of a 784-16 layer moves one net of sixteen.
    touched = _units_touched(network, shift_by) if reuse is not None else None
    for index, layer in enumerate(network.layers):
        if reuse is not None and index < reuse[1]:
            for unit in layer.units:
                nets[unit], outs[unit] = reuse[0].nets[unit], reuse[0].outs[unit]
            continue
        first_moved = reuse is not None and index == reuse[1] and touched is not None
        sources = network.sources(index)
        alpha = number(layer.alpha) if layer.alpha is not None else None
        layer_nets = []
        for j, unit in enumerate(layer.units):
            if first_moved:
                # A net is linear in its own weights and bias: moving one by h moves the net by h·(its
                # source's out), or by h. One term, where recomputing the sum costs a term per source.
                nets[unit] = reuse[0].nets[unit]
                for (kind, name), step in shift_by.items():
                    parameter = network.parameter(name)
                    if unit in parameter.units:
                        nets[unit] = nets[unit] + step * (outs[parameter.source] if parameter.source else 1)
                layer_nets.append(nets[unit])
                continue
            total = ops.zero
            for i, source in enumerate(sources):
                total = total + parameters[layer.weight_names[j][i]] * outs[source]
            bias_name = layer.bias.name_for(j)
            if bias_name is not None:
                total = total + parameters[bias_name]
            nets[unit] = shifted("net", unit, total)
            layer_nets.append(nets[unit])
        rule = activation(layer.activation)
        if rule.elementwise:
            computed = [reuse[0].outs[unit] if first_moved and unit not in touched else ops.activate(rule, net, alpha)
                        for unit, net in zip(layer.units, layer_nets)]
        else:
            computed = ops.softmax(layer_nets)
        for unit, out in zip(layer.units, computed):
            outs[unit] = shifted("out", unit, out)
    rule = loss_kind(network.loss.kind)
    count = len(network.outputs)
    terms = {
        o: shifted("loss_term", o, ops.loss(rule, outs[o], number(t), count))
        for o, t in zip(network.outputs, network.loss.targets)
    }
    return ForwardPass(nets, outs, terms, shifted("loss", "", ops.total(list(terms.values()))), parameters)


def _units_touched(network: Network, shift_by: Mapping[tuple[str, str], object]) -> Optional[set[str]]:
    """The units whose net a parameter shift changes directly; None (recompute every unit) for any other
    shift, or for parameters of more than one layer."""
    touched: set[str] = set()
    layers = set()
    for kind, name in shift_by:
        if kind != "param":
            return None
        parameter = network.parameter(name)
        touched.update(parameter.units)
        layers.add(parameter.layer_index)
    return touched if len(layers) <= 1 else None


class Ops:
    """Arithmetic for the forward pass: mpmath at a working precision."""

    zero = mpmath.mpf(0)

    def activate(self, rule, net, alpha):
        return rule.numeric(net, alpha)

    def softmax(self, nets):
        return softmax_numeric(nets)

    def loss(self, rule, out, target, count):
        return rule.numeric(out, target, count)

    def total(self, terms):
        return mpmath.fsum(terms)


class FloatOps(Ops):
    """The same forward pass in float64 (math module), for the --float64 mode."""

    zero = 0.0

    def activate(self, rule, net, alpha):
        return float(rule.numeric(mpmath.mpf(net), mpmath.mpf(alpha) if alpha is not None else None))

    def softmax(self, nets):
        top = max(nets)
        exps = [math.exp(n - top) for n in nets]
        total = math.fsum(exps)
        return [e / total for e in exps]

    def loss(self, rule, out, target, count):
        return float(rule.numeric(mpmath.mpf(out), mpmath.mpf(target), count))

    def total(self, terms):
        return math.fsum(terms)


def loss_at(network: Network, overrides: Mapping[str, object], digits: int) -> mpmath.mpf:
    """The loss at the network's numbers (some parameters overridden), to ``digits`` digits."""
    with mpmath.workdps(digits + 10):
        return _loss_or_error(network, overrides, _mp_number, Ops())


def _loss_or_error(network, overrides, number, ops):
    return _pass_or_error(network, overrides, number, ops).loss


def _pass_or_error(network, overrides, number, ops, shifts=None, reuse=None) -> ForwardPass:
    try:
        return forward(network, overrides, number, ops, shifts, reuse)
    except (ValueError, ZeroDivisionError, OverflowError) as error:
        if isinstance(error, InputError):
            raise
        raise UndefinedValue(f"the loss is undefined at these numbers ({error})", place="loss.kind") from None


def finite_difference(network: Network, parameter: str, digits: int = 50, float64: bool = False) -> NumericDerivative:
    """∂E/∂parameter by central differences with Richardson extrapolation."""
    try:
        network.parameter(parameter)
    except KeyError:
        raise InputError(f"no parameter named {parameter!r}", place="--wrt") from None
    if not network.is_classic:  # skips, tied weights, own functions: the graph's forward definitions
        return graph_finite_difference(graph_forward(build_graph(network)), parameter, digits, float64)
    return numeric_derivative(network, Quantity.loss(), Quantity.param(parameter), digits, float64)


def numeric_derivative(network: Network, of: Quantity, wrt: Quantity, digits: int = 50,
                       float64: bool = False) -> NumericDerivative:
    """d(of)/d(wrt): shift wrt by ±h, recompute everything downstream, difference ``of``.

    In mpmath the working precision is ``digits`` + 30, so the cancellation
    in f(x+h) − f(x−h) (about log10(1/h) digits) costs nothing visible; the
    step is chosen so that the extrapolated truncation error is far below
    10^-digits.
    """
    if float64:
        number, ops, step, levels = _float_number, FloatOps(), central_step(digits, True), 3
        return _richardson(lambda h: _pass_or_error(network, {}, number, ops, {wrt: h}).value(of), step, levels)
    levels = RICHARDSON_LEVELS
    with mpmath.workdps(working_digits(digits)):
        ops = Ops()
        number, base = _base_pass(network, digits)
        # Layers before the one wrt feeds do not change when wrt moves: computed once per network.
        reuse = (base, _first_layer_moved(network, wrt))
        return _richardson(
            lambda h: _pass_or_error(network, {}, number, ops, {wrt: h}, reuse).value(of),
            central_step(digits),
            levels,
        )


def one_sided_derivatives(network: Network, parameter: str, digits: int = 50,
                          float64: bool = False) -> tuple[NumericDerivative, NumericDerivative]:
    """∂E/∂parameter from the left and from the right: forward differences ``(E(p ± h) − E(p)) / ±h``,
    Richardson-extrapolated. At a kink they differ; each is a true one-sided derivative only on a side
    where no kink lies within the step.
    """
    wrt = Quantity.param(parameter)
    if float64:
        number, ops, step, levels = _float_number, FloatOps(), 2.0**-8, 4
        value = lambda h: _pass_or_error(network, {}, number, ops, {wrt: h}).loss
        base = value(0.0)
        return tuple(_richardson_one_sided(value, base, side * step, levels) for side in (-1, 1))
    levels = ONE_SIDED_LEVELS
    with mpmath.workdps(working_digits(digits)):
        ops = Ops()
        number, base = _base_pass(network, digits)
        reuse = (base, _first_layer_moved(network, wrt))
        value = lambda h: _pass_or_error(network, {}, number, ops, {wrt: h}, reuse).loss
        step = one_sided_step(digits)
        return tuple(_richardson_one_sided(value, reuse[0].loss, side * step, levels) for side in (-1, 1))


_LAST_BASE: list = []  # [(network, digits, number, pass)]: the unshifted pass of the network last checked


def _base_pass(network: Network, digits: int):
    """(number converter, unshifted pass) at the working precision of ``digits``, kept for the network
    last asked about: a check differentiates every parameter of one network, and this pass alone
    costs as much as all of one parameter's shifted passes."""
    if _LAST_BASE and _LAST_BASE[0][0] is network and _LAST_BASE[0][1] == digits:
        return _LAST_BASE[0][2], _LAST_BASE[0][3]
    number = _memoised(_mp_number)  # the 2·levels passes read the same file numbers: convert once
    base = _pass_or_error(network, {}, number, Ops())
    _LAST_BASE[:] = [(network, digits, number, base)]
    return number, base


def nets_shifted(network: Network, parameter: str, shift, digits: int = 50) -> dict[str, mpmath.mpf]:
    """Each unit's net input with ``parameter`` moved by ``shift`` (to see which kinks a step crosses)."""
    with mpmath.workdps(working_digits(digits)):
        shift = mpmath.mpf(shift)
        return dict(_pass_or_error(network, {}, _mp_number, Ops(), {Quantity.param(parameter): shift}).nets)


def _first_layer_moved(network: Network, wrt: Quantity) -> int:
    """The first layer whose values change when ``wrt`` is shifted."""
    if wrt.kind == "param":
        return network.parameter(wrt.name).layer_index
    if wrt.kind in ("net", "out"):
        return max(0, network.layer_of(wrt.name))
    return len(network.layers)  # E(o) and E: no layer moves


def _memoised(convert: Callable[[Fraction], object]) -> Callable[[Fraction], object]:
    """``convert`` remembering its results (valid while the working precision does not change)."""
    cache: dict[tuple[int, int], object] = {}

    def number(value: Fraction):
        key = (value.numerator, value.denominator)  # hashing a Fraction costs a modular inverse
        if key not in cache:
            cache[key] = convert(value)
        return cache[key]

    return number


def unit_nets(network: Network, digits: int = 50) -> dict[str, mpmath.mpf]:
    """Each unit's net input at the network's numbers (used to locate ReLU kinks)."""
    with mpmath.workdps(digits + 10):
        return dict(_pass_or_error(network, {}, _mp_number, Ops()).nets)


# ---- formula graphs ------------------------------------------------------------------------
# The same oracle for a graph of formulas: it reads each node's forward definition (rewritten in
# elementary functions) and evaluates it with its own small walker; it never reads a derivative,
# the graph's local derivatives, or the engine's evaluator.
