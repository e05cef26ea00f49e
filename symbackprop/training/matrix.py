"""The matrix form: the layer-wise vectorised backward pass, as lectures write it.

Z[l] = W[l]·A[l−1] + b[l] and A[l] = g(Z[l]) forward; dZ[L] at the output (A[L] − Y where the loss and
the output activation collapse to it), dA[l−1] = W[l]ᵀ·dZ[l], dZ[l] = dA[l] ⊙ g′(Z[l]), and
dW[l] = (1/m)·dZ[l]·A[l−1]ᵀ, db[l] = (1/m)·Σ dZ[l] over the samples (no 1/m for a summed loss). In the
row convention (samples as rows, W[l] with a row per source) every product is transposed.

Nothing here differentiates: g′ is the graph's own local derivative of the layer's first unit, written
in Z and A; whether dZ[L] collapses is the engine's tidied output δ; the numbers are each sample's node
values and δs, ∂E⁽ⁱ⁾/∂net, and each weight's reduced gradient, from the engine, laid out as matrices
(dW is the product above entry by entry: a test multiplies dZ and A out and compares).

>>> from symbackprop.frontends.loader import load_network
>>> from symbackprop.engine.chain import Engine
>>> form = matrix_form(Engine(load_network("examples/mazur.toml")), digits=10)
>>> import mpmath
>>> form.layers[1].collapsed, str(form.layers[0].derivative), [mpmath.nstr(v, 10) for v in form.layers[1].dW[0]]
(False, 'A*(1 - A)', ['0.08216704056', '-0.02260254048'])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import mpmath
import sympy as sp

from ..errors import InputError
from ..functions.activations import softmax
from ..numbers import to_mpf
from ..quantity import Quantity


#: The symbols g′ and the loss derivative are written in.
Z, A, Y = sp.symbols("Z A Y")


@dataclass(frozen=True)
class MatrixLayer:
    """One layer's matrices: numbers per unit (rows) and sample (columns), whatever the file's convention."""

    index: int  # l, from 1
    name: str
    units: tuple[str, ...]
    activation: str
    derivative: Optional[sp.Expr]  # g′ in Z and A (elementwise layers); None for a softmax
    loss_derivative: Optional[sp.Expr]  # at the output: ∂E⁽ⁱ⁾/∂A in A and Y (the loss term's own derivative)
    output: bool
    collapsed: bool  # dZ[L] = A[L] − Y
    bias: str  # "none", "shared", "per_unit"
    Z: Optional[list] = None
    A: Optional[list] = None
    dZ: Optional[list] = None
    dA: Optional[list] = None  # dA[l] = ∂E/∂A[l], for a hidden layer (what the next layer sends back)
    dW: Optional[list] = None  # laid out exactly like the layer's weights in the file
    db: Optional[list] = None  # one entry per unit, or one for a shared bias
    J: Optional[list] = None  # a softmax layer's Jacobian ∂A_k/∂Z_j per sample, where dZ does not collapse


@dataclass(frozen=True)
class MatrixForm:
    convention: str  # "row" or "column", the file's
    samples: int  # m
    reduction: str  # "mean" or "sum": whether dW and db carry 1/m
    inputs: tuple[str, ...]
    layers: tuple[MatrixLayer, ...]
    X: Optional[list] = None  # A[0]: inputs per sample
    Y: Optional[list] = None  # targets per sample


def refuse_unless_layered(graph) -> None:
    """A graph of formulas, or layers that are not a plain chain, have no matrix form: one line, exit 2."""
    layout = graph.layout
    if layout is None:
        raise InputError("a graph of formulas has no layers, so no matrix form; --form chain, compact, closed "
                         "or simplified write its gradients", place="--form")
    names = [n for layer in layout.layers for row in layer.weight_names for n in row]
    if any(layer.sources is not None for layer in layout.layers) or len(names) != len(set(names)):
        raise InputError("the matrix form is for a plain chain of layers; this network has skip connections "
                         "or tied weights", place="--form")


def matrix_form(engine, digits: Optional[int] = None, convention: Optional[str] = None) -> MatrixForm:
    """The matrix form of ``engine``'s dense network; with ``digits``, every matrix with its numbers.

    ``convention`` overrides the file's: "column" writes W[l] as n[l]×n[l−1] with a column per sample,
    as the lecture notes of seeds 003 and 004 do."""
    graph = engine.graph
    refuse_unless_layered(graph)
    layout = graph.layout
    convention = convention or layout.convention
    count = len(graph.samples) or 1
    samples = list(range(count)) if graph.samples else [-1]
    numbers = digits is not None and not graph.missing
    gradients = engine.gradient_values(digits + 15) if numbers else {}

    def value(symbol: sp.Symbol):  # every digit proved, as every printed value is
        return engine.point.evalf(symbol, digits + 15)

    def grid(units, quantity_of):  # rows: units; columns: samples
        return [[_number(value(graph.symbols[quantity_of(u, s)])) for s in samples] for u in units]

    layers = []
    with mpmath.workdps((digits or 15) + 15):
        inputs = [[_number(value(graph.symbols[Quantity.out(x, s)])) for s in samples] for x in layout.inputs] \
            if numbers else None
        targets = [[_number(value(graph.target(o, s))) for s in samples] for o in layout.outputs] if numbers else None
        for index, layer in enumerate(layout.layers):
            units = layer.units
            first = units[0]
            out_definition = graph.definitions[Quantity.out(first, samples[0])]
            is_softmax = isinstance(out_definition, softmax)
            local = dict(graph.consumers[Quantity.net(first, samples[0])])[Quantity.out(first, samples[0])]
            derivative = None if is_softmax else local.xreplace(
                {graph.symbols[Quantity.net(first, samples[0])]: Z, graph.symbols[Quantity.out(first, samples[0])]: A})
            output = index == len(layout.layers) - 1
            collapsed = output and _collapses(engine)
            loss_derivative = None
            if output:
                out = Quantity.out(first, samples[0])
                term = dict(graph.consumers[out])[Quantity.loss_term(first, samples[0])]
                loss_derivative = term.xreplace({graph.symbols[out]: A, graph.target(first, samples[0]): Y})
            fields = {}
            if numbers:
                fields["Z"] = grid(units, Quantity.net)
                fields["A"] = grid(units, Quantity.out)
                fields["dZ"] = [[_number(engine.point.evalf(engine.derivative(
                    Quantity.loss(s), Quantity.net(u, s)).compact, digits + 15)) for s in samples] for u in units]
                if is_softmax and not collapsed:  # each entry the graph's own edge net_j → out_k
                    fields["J"] = [[[_number(engine.point.evalf(dict(graph.consumers[Quantity.net(j, s)])[
                        Quantity.out(k, s)], digits + 15)) for j in units] for k in units] for s in samples]
                if not output:
                    fields["dA"] = [[_number(engine.point.evalf(engine.derivative(
                        Quantity.loss(s), Quantity.out(u, s)).compact, digits + 15)) for s in samples] for u in units]
                # dW = (1/m)·dZ·A[l−1]ᵀ entry by entry is ∂E/∂w of that weight: the engine's reduced gradient,
                # the same number derive prints (a test multiplies the matrices out and compares)
                fields["dW"] = [[_number(gradients[name]) for name in row] for row in _file_layout(layer, convention)]
                fields["db"] = [_number(gradients[name]) for name in layer.bias.names]
            layers.append(MatrixLayer(index + 1, layer.name, units, layer.activation, derivative, loss_derivative,
                                      output, collapsed, layer.bias.mode, **fields))
    return MatrixForm(convention, count, graph.training.reduction, layout.inputs, tuple(layers), inputs, targets)


def _file_layout(layer, convention: str) -> list[list[str]]:
    """The layer's weight names as its ``weights`` are laid out in the file: a row per unit (column
    convention) or a row per source (row convention)."""
    grid = [list(row) for row in layer.weight_names]  # unit × source
    return grid if convention == "column" else [list(row) for row in zip(*grid)]


def _collapses(engine) -> bool:
    """Whether the engine's tidied output δ of a sample's own loss is out − t for every output unit."""
    graph = engine.graph
    sample = 0 if graph.samples else -1
    for unit in graph.outputs:
        delta = engine.simplified(Quantity.loss(sample), Quantity.net(unit, sample))
        plain = graph.symbols[Quantity.out(unit, sample)] - graph.target(unit, sample)
        if sp.expand(delta - plain) != 0:
            return False
    return True


def _number(value) -> mpmath.mpf:
    return to_mpf(value)
