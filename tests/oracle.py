"""An oracle independent of the engine: the loss composed in full, differentiated by sympy.diff.

It reads only the network model and writes its own elementary formulas for
every activation and loss (it uses neither the registries nor the graph), so a
wrong rule in the engine cannot hide behind the same mistake here.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable

import sympy as sp

from symbackprop.network import Network


def _q(value: Fraction) -> sp.Rational:
    return sp.Rational(value.numerator, value.denominator)


def _activate(name: str, x: sp.Expr, alpha) -> sp.Expr:
    if name == "linear":
        return x
    if name == "sigmoid":
        return 1 / (1 + sp.exp(-x))
    if name == "tanh":
        return (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x))
    if name == "relu":
        return sp.Piecewise((x, x > 0), (0, True))
    if name == "leaky_relu":
        return sp.Piecewise((x, x > 0), (alpha * x, True))
    if name == "softplus":
        return sp.log(1 + sp.exp(x))
    raise AssertionError(f"oracle has no formula for {name}")


def _loss(kind: str, outs: list[sp.Expr], targets: list[sp.Expr]) -> sp.Expr:
    n = len(outs)
    if kind == "half_sse":
        return sum((t - o) ** 2 for o, t in zip(outs, targets)) / 2
    if kind == "sse":
        return sum((t - o) ** 2 for o, t in zip(outs, targets))
    if kind == "mse":
        return sum((t - o) ** 2 for o, t in zip(outs, targets)) / n
    if kind == "cross_entropy":
        return -sum(t * sp.log(o) for o, t in zip(outs, targets))
    if kind == "binary_cross_entropy":
        return -sum(t * sp.log(o) + (1 - t) * sp.log(1 - o) for o, t in zip(outs, targets))
    raise AssertionError(f"oracle has no formula for {kind}")


def composed_loss(network: Network, symbolic: Iterable[str], float_digits: int = 0) -> tuple[sp.Expr, dict[str, sp.Symbol]]:
    """The loss as one expression: the parameters named in ``symbolic`` are symbols, the rest numbers.

    With ``float_digits`` the other numbers are Floats of that precision, so everything that does
    not depend on the symbols collapses to one number as it is built (exact rationals instead
    keep every exp(7/20) apart, and the expression swells).
    """
    keep = set(symbolic)
    number = (lambda v: _q(v).evalf(float_digits)) if float_digits else _q
    symbols = {name: sp.Symbol(f"oracle_{name}") for name in keep}
    values = {p.name: (symbols[p.name] if p.name in keep else number(p.value)) for p in network.parameters()}
    outs = [number(v) for v in network.data]
    for index, layer in enumerate(network.layers):
        nets = []
        for j in range(len(layer.units)):
            net = sum(values[layer.weight_names[j][i]] * outs[i] for i in range(len(outs)))
            if layer.bias.mode != "none":
                net += values[layer.bias.name_for(j)]
            nets.append(net)
        alpha = number(layer.alpha) if layer.alpha is not None else None
        if layer.activation == "softmax":
            total = sum(sp.exp(n) for n in nets)
            outs = [sp.exp(n) / total for n in nets]
        else:
            outs = [_activate(layer.activation, n, alpha) for n in nets]
    return _loss(network.loss.kind, outs, [number(t) for t in network.loss.targets]), symbols


def diff_gradient(network: Network, parameter: str, digits: int = 60) -> sp.Float:
    """∂E/∂parameter by sympy.diff of the composed loss, evaluated at the network's numbers."""
    loss, symbols = composed_loss(network, [parameter], float_digits=digits + 20)
    derivative = sp.diff(loss, symbols[parameter])
    value = next(p.value for p in network.parameters() if p.name == parameter)
    return derivative.evalf(digits, subs={symbols[parameter]: _q(value)})
