"""The network model: what a network file describes, as frozen data.

Weights are stored in one canonical layout whatever the file's convention:
``incoming[j][i]`` is the weight from source ``i`` (an input or a unit of the
previous layer) into unit ``j`` of the layer. The convention is kept only to
print matrices the way the file wrote them.

Numbers are exact :class:`~fractions.Fraction` values; SymPy is not imported
here, so reading and validating a file stays cheap.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Mapping, Optional

from ..functions.update import Training
from ..layout import BiasNames, Convention, LayerLayout, Layout, ParameterKind


@dataclass(frozen=True)
class Bias(BiasNames):
    """A layer's bias: none, one shared by every unit, or one per unit; its names and, if given, values."""

    values: Optional[tuple[Fraction, ...]] = None

    def value_for(self, unit_index: int) -> Optional[Fraction]:
        return self.of_unit(self.values, unit_index)


@dataclass(frozen=True)
class Layer:
    """One dense layer. ``weight_names[j][i]`` joins source ``i`` to unit ``j``."""

    name: str
    units: tuple[str, ...]
    activation: str
    weight_names: tuple[tuple[str, ...], ...]
    weights: Optional[tuple[tuple[Fraction, ...], ...]] = None
    bias: Bias = field(default_factory=Bias)
    alpha: Optional[Fraction] = None  # leaky_relu slope for negative inputs
    sources: Optional[tuple[str, ...]] = None  # the units it reads (skip connections); None: the previous layer


@dataclass(frozen=True)
class Loss:
    kind: str  # a registered loss, or "custom" for a term given as a formula
    targets: Optional[tuple[Fraction, ...]] = None
    term: object = None  # for "custom": the per-output term, a SymPy expression in out, t and n
    term_text: str = ""  # that term as the file wrote it


@dataclass(frozen=True)
class Parameter:
    """A trainable parameter: where it sits and what it feeds."""

    name: str
    kind: ParameterKind
    layer_index: int
    units: tuple[str, ...]  # the units whose net input it enters
    source: Optional[str]  # for a weight, the unit or input it multiplies
    value: Optional[Fraction]


Sample = tuple[tuple[Fraction, ...], tuple[Fraction, ...]]  # (inputs, targets) of one sample


@dataclass(frozen=True)
class Network:
    """A feed-forward network, its loss and (optionally) one data sample.

    >>> net = Network(inputs=("x",), layers=(Layer("layer1", ("y",), "linear", (("w",),), ((Fraction(2),),)),),
    ...               loss=Loss("half_sse", (Fraction(1),)), data=(Fraction(3),))
    >>> [p.name for p in net.parameters()], net.outputs
    (['w'], ('y',))
    """

    inputs: tuple[str, ...]
    layers: tuple[Layer, ...]
    loss: Loss
    convention: Convention = "row"
    data: Optional[tuple[Fraction, ...]] = None
    learning_rate: Optional[Fraction] = None
    update_biases: bool = True
    #: Activations the file defines: name -> (SymPy formula in x, the formula as written).
    activations: Mapping[str, tuple[object, str]] = field(default_factory=dict)
    #: Every sample, when the file gives rows (then ``data`` and ``loss.targets`` are None).
    samples: tuple[Sample, ...] = ()
    training: Training = field(default_factory=Training)
    #: The file's ``[meta] title``: what explanations and reports are headed with.
    title: str = ""

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.layers[-1].units

    def sources(self, layer_index: int) -> tuple[str, ...]:
        """The names feeding layer ``layer_index``: its ``sources``, or else the inputs or the previous layer's units."""
        return self._units.sources(layer_index)

    @functools.cached_property
    def _units(self) -> Layout:
        """The units in layers, without numbers: what :func:`layer_of` and :func:`sources` read."""
        return Layout(self.inputs, tuple(LayerLayout(layer.name, layer.units, layer.activation, layer.weight_names,
                                                     sources=layer.sources) for layer in self.layers))

    @functools.cached_property
    def is_classic(self) -> bool:
        """A plain chain of layers: each reads the one before, every weight is used once, every function is
        built in, one sample. The layer-wise tools (the float64 layer code, the auditor) need exactly this; every
        other network is handled through its general graph."""
        names = [n for layer in self.layers for row in layer.weight_names for n in row]
        return (all(layer.sources is None for layer in self.layers) and len(names) == len(set(names))
                and not self.activations and self.loss.kind != "custom" and len(self.samples) <= 1)

    def layer_of(self, unit: str) -> int:
        """Index of the layer holding ``unit`` (-1 for an input)."""
        return self._units.layer_of(unit)

    def parameters(self) -> list[Parameter]:
        """Every parameter, layer by layer: weights in file order, then biases."""
        return list(self._parameters)

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name`` (KeyError if there is none)."""
        return self._parameters_by_name[name]

    @functools.cached_property
    def _parameters(self) -> tuple[Parameter, ...]:
        # Computed once: the finite-difference oracle asks for it on every forward pass.
        return tuple(self._collect_parameters())

    @functools.cached_property
    def _parameters_by_name(self) -> dict[str, Parameter]:
        return {parameter.name: parameter for parameter in self._parameters}

    def _collect_parameters(self) -> list[Parameter]:
        found: list[Parameter] = []
        for index, layer in enumerate(self.layers):
            sources = self.sources(index)
            for j, unit in enumerate(layer.units):
                for i, source in enumerate(sources):
                    value = layer.weights[j][i] if layer.weights is not None else None
                    found.append(Parameter(layer.weight_names[j][i], "weight", index, (unit,), source, value))
            if layer.bias.mode == "shared":
                found.append(Parameter(layer.bias.names[0], "bias", index, layer.units, None, layer.bias.value_for(0)))
            elif layer.bias.mode == "per_unit":
                for j, unit in enumerate(layer.units):
                    found.append(Parameter(layer.bias.names[j], "bias", index, (unit,), None, layer.bias.value_for(j)))
        unique: dict[str, Parameter] = {}
        for parameter in _file_order(found, self):
            unique.setdefault(parameter.name, parameter)  # a tied weight is one parameter, where first used
        return list(unique.values())

    @property
    def has_numbers(self) -> bool:
        """True when every number needed to evaluate the loss is known."""
        return (
            self.data is not None
            and self.loss.targets is not None
            and all(layer.weights is not None for layer in self.layers)
            and all(layer.bias.mode == "none" or layer.bias.values is not None for layer in self.layers)
        )

    def with_parameter_values(self, values: Mapping[str, Fraction]) -> "Network":
        """The same network with some parameters set to new exact values."""
        layers = []
        for layer in self.layers:
            weights = layer.weights
            if weights is not None:
                weights = tuple(
                    tuple(values.get(name, value) for name, value in zip(names, row))
                    for names, row in zip(layer.weight_names, weights)
                )
            bias = layer.bias
            if bias.values is not None:
                bias = replace(bias, values=tuple(values.get(n, v) for n, v in zip(bias.names, bias.values)))
            layers.append(replace(layer, weights=weights, bias=bias))
        return replace(self, layers=tuple(layers))


def _file_order(parameters: list[Parameter], network: Network) -> list[Parameter]:
    """Order each layer's weights as a reader numbers them: by their names when the file names them
    (w1, w2, …, w10, in natural order), else as the file's matrix lists them; then the layer's biases."""
    ordered: list[Parameter] = []
    for index, layer in enumerate(network.layers):
        in_layer = [p for p in parameters if p.layer_index == index]
        weights = [p for p in in_layer if p.kind == "weight"]
        if any(p.name != f"w_{p.source}_{p.units[0]}" for p in weights):
            weights.sort(key=lambda p: natural_key(p.name))
        elif network.convention == "row":
            at = {(p.units[0], p.source): p for p in weights}
            weights = [at[(unit, source)] for source in network.sources(index) for unit in layer.units]
        ordered.extend(weights)
        ordered.extend(p for p in in_layer if p.kind == "bias")
    return ordered


def natural_key(name: str) -> tuple:
    """Sort key that numbers read as numbers: w2 before w10.

    >>> sorted(["w10", "w2", "w1", "b1"], key=natural_key)
    ['b1', 'w1', 'w2', 'w10']
    """
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))
