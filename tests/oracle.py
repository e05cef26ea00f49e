"""An oracle independent of the engine: the loss composed in full, differentiated by sympy.diff.

It reads only the network model and writes its own elementary formulas for
every activation and loss (it uses neither the registries nor the graph), so a
wrong rule in the engine cannot hide behind the same mistake here.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable

import sympy as sp

from symbackprop.frontends.network import Network


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


def _own_activation(network: Network, name: str, x: sp.Expr, alpha) -> sp.Expr:
    """A built-in activation by the oracle's own formula, or the file's formula (in x) for its own."""
    if name in network.activations:
        formula, _ = network.activations[name]
        return elementary(formula.xreplace({sp.Symbol("x"): x}))
    return _activate(name, x, alpha)


def elementary(expression: sp.Expr) -> sp.Expr:
    """``expression`` with symbackprop's functions replaced by the oracle's own elementary formulas."""
    table = {"sigmoid": lambda x: _activate("sigmoid", x, None), "relu": lambda x: _activate("relu", x, None),
             "softplus": lambda x: _activate("softplus", x, None), "leaky_relu": lambda x, a: _activate("leaky_relu", x, a),
             "abs": lambda x: sp.Piecewise((x, x > 0), (-x, True)),
             "softmax": lambda k, *nets: sp.exp(nets[int(k)]) / sp.Add(*(sp.exp(net) for net in nets))}
    return expression.replace(lambda e: isinstance(e, sp.Function) and type(e).__name__ in table,
                              lambda e: table[type(e).__name__](*e.args))


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
    if isinstance(kind, sp.Expr):  # the file's own term, in out, t and n
        out, target, count = sp.symbols("out t n")
        return sum(elementary(kind.xreplace({out: o, target: t, count: n})) for o, t in zip(outs, targets))
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
    value_of = {name: number(v) for name, v in zip(network.inputs, network.data)}
    previous = list(network.inputs)
    for index, layer in enumerate(network.layers):
        sources = list(layer.sources) if layer.sources is not None else previous  # a skip connection reads earlier units
        outs = [value_of[s] for s in sources]
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
            outs = [_own_activation(network, layer.activation, n, alpha) for n in nets]
        value_of.update(zip(layer.units, outs))
        previous = list(layer.units)
    kind = network.loss.term if network.loss.kind == "custom" else network.loss.kind
    return _loss(kind, outs, [number(t) for t in network.loss.targets]), symbols


def composed_graph_loss(graph) -> sp.Expr:
    """A formula graph's loss as one expression in its leaves: each node's formula put in place of its
    name, last node first, with the oracle's own elementary formulas (it reads no derivative)."""
    composed: dict = {}  # each node's formula in the leaves, built in order (each earlier one put in once)
    for quantity in graph.order:
        if quantity in graph.definitions:
            composed[graph.symbols[quantity]] = graph.definitions[quantity].xreplace(composed)
    return elementary(composed[graph.symbols[graph.order[-1]]])


def graph_diff_gradients(graph, digits: int = 50) -> dict[str, sp.Float]:
    """Every ∂E/∂p of a formula graph by sympy.diff of :func:`composed_graph_loss`, at the file's numbers."""
    loss = composed_graph_loss(graph)
    point = {symbol: sp.Rational(v.numerator, v.denominator) for symbol, v in graph.values.items()}
    found = {}
    for quantity in graph.order:
        if quantity.kind == "param":
            symbol = graph.symbols[quantity]
            # every other leaf at its number first (30 digits beyond those compared: an exact rational there would
            # have SymPy factor its powers), so that the loss is a function of this parameter alone
            alone = loss.xreplace({leaf: sp.Float(value, digits + 30) for leaf, value in point.items() if leaf != symbol})
            found[quantity.name] = sp.diff(alone, symbol).evalf(digits, subs={symbol: point[symbol]})
    return found


def diff_gradient(network: Network, parameter: str, digits: int = 60) -> sp.Float:
    """∂E/∂parameter by sympy.diff of the composed loss, evaluated at the network's numbers."""
    loss, symbols = composed_loss(network, [parameter], float_digits=digits + 20)
    derivative = sp.diff(loss, symbols[parameter])
    value = next(p.value for p in network.parameters() if p.name == parameter)
    return derivative.evalf(digits, subs={symbols[parameter]: _q(value)})


def float64_forward(network: Network, values: dict, inputs):
    """Each layer's nets and the final outputs over a batch, in NumPy float64, with the oracle's own formulas.

    ``values`` maps parameter names to floats; ``inputs`` has a row per sample.
    """
    import numpy as np

    outs = np.asarray(inputs, dtype=float)
    nets_per_layer = []
    for layer in network.layers:
        nets = []
        for j in range(len(layer.units)):
            net = sum(values[layer.weight_names[j][i]] * outs[:, i] for i in range(outs.shape[1]))
            if layer.bias.mode != "none":
                net = net + values[layer.bias.name_for(j)]
            nets.append(net * np.ones(outs.shape[0]))
        z = np.stack(nets, axis=1)
        nets_per_layer.append(z)
        alpha = float(layer.alpha) if layer.alpha is not None else None
        kind = layer.activation
        if kind == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            outs = e / e.sum(axis=1, keepdims=True)
        elif kind == "linear":
            outs = z
        elif kind == "sigmoid":
            outs = 1 / (1 + np.exp(-z))
        elif kind == "tanh":
            outs = np.tanh(z)
        elif kind == "relu":
            outs = np.where(z > 0, z, 0.0)
        elif kind == "leaky_relu":
            outs = np.where(z > 0, z, alpha * z)
        elif kind == "softplus":
            outs = np.log1p(np.exp(z))
        else:
            raise AssertionError(f"oracle has no formula for {kind}")
    return nets_per_layer, outs


def float64_batch_loss(network: Network, values: dict, inputs, targets):
    """The mean over a batch of per-sample losses, in NumPy float64 (see :func:`float64_forward`)."""
    import numpy as np

    _, outs = float64_forward(network, values, inputs)
    t = np.asarray(targets, dtype=float)
    n = outs.shape[1]
    per_sample = {
        "half_sse": lambda: ((t - outs) ** 2).sum(axis=1) / 2,
        "sse": lambda: ((t - outs) ** 2).sum(axis=1),
        "mse": lambda: ((t - outs) ** 2).sum(axis=1) / n,
        "cross_entropy": lambda: -(t * np.log(outs)).sum(axis=1),
        "binary_cross_entropy": lambda: -(t * np.log(outs) + (1 - t) * np.log(1 - outs)).sum(axis=1),
    }[network.loss.kind]()
    return per_sample.mean()


def float64_finite_differences(network: Network, values: dict, inputs, targets, step: float = 1e-5) -> dict:
    """Central differences of :func:`float64_batch_loss` for every parameter, extrapolated once (O(h⁴))."""
    gradient = {}
    for name in values:
        def central(h):
            up, down = dict(values), dict(values)
            up[name] += h
            down[name] -= h
            return (float64_batch_loss(network, up, inputs, targets) - float64_batch_loss(network, down, inputs, targets)) / (2 * h)
        gradient[name] = (4 * central(step / 2) - central(step)) / 3
    return gradient
