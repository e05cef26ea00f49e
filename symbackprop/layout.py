"""How a graph's nodes are laid out in layers, when a front-end built it from layers: for drawing only.

A :class:`Layout` says which units form each layer, what each layer reads and which parameter joins
which source to which unit, and how the file wrote its matrices (the convention). It holds no numbers
and no definitions: every value and every derivative is read from the graph. Reports use it to draw
layers, matrices and diagrams; the layer-wise float64 code and the auditor's mistakes of layers
(a swapped weight, another layer's weights) use it to know what a layer is.

>>> layer = LayerLayout("hidden", ("h",), "sigmoid", (("w",),), BiasNames("per_unit", ("b",)))
>>> places = (ParameterPlace("w", "weight", 0, ("h",), "x"), ParameterPlace("b", "bias", 0, ("h",), None))
>>> layout = Layout(("x",), (layer,), "row", is_classic=True, places=places)
>>> layout.outputs, layout.sources(0), layout.parameter("b").units, layout.layer_of("h")
(('h',), ('x',), ('h',), 0)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, Mapping, Optional

Convention = Literal["row", "column"]
BiasMode = Literal["none", "shared", "per_unit"]
ParameterKind = Literal["weight", "bias"]


@dataclass(frozen=True)
class BiasNames:
    """A layer's bias parameters: none, one shared by every unit, or one per unit."""

    mode: BiasMode = "none"
    names: tuple[str, ...] = ()

    def name_for(self, unit_index: int) -> Optional[str]:
        """The bias parameter that unit ``unit_index`` adds, if any."""
        return self.of_unit(self.names, unit_index)

    def of_unit(self, items: Optional[tuple], unit_index: int):
        """The item of ``items`` (one per bias name) that unit ``unit_index`` adds, if any."""
        if self.mode == "none" or items is None:
            return None
        return items[0] if self.mode == "shared" else items[unit_index]


@dataclass(frozen=True)
class LayerLayout:
    """One layer: its units, its activation's name, ``weight_names[j][i]`` joining source ``i`` to unit ``j``."""

    name: str
    units: tuple[str, ...]
    activation: str
    weight_names: tuple[tuple[str, ...], ...]
    bias: BiasNames = field(default_factory=BiasNames)
    alpha: Optional[Fraction] = None  # leaky_relu's slope for negative inputs, as the file gives it
    sources: Optional[tuple[str, ...]] = None  # the units it reads (skip connections); None: the layer before


@dataclass(frozen=True)
class ParameterPlace:
    """Where a parameter sits: its layer, the units whose net input it enters, the source it multiplies."""

    name: str
    kind: ParameterKind
    layer_index: int
    units: tuple[str, ...]
    source: Optional[str]  # for a weight, the unit or input it multiplies


@dataclass(frozen=True)
class Layout:
    """Layers of units over named inputs, as a dense front-end read them.

    ``is_classic`` is a plain chain: each layer reads the one before, every weight is used once, every
    function is built in, one sample; the layer-wise tools need exactly that. ``places`` lists every
    parameter once, in the order a reader numbers them (the front-end's order).
    """

    inputs: tuple[str, ...]
    layers: tuple[LayerLayout, ...]
    convention: Convention = "row"
    is_classic: bool = False
    places: tuple[ParameterPlace, ...] = ()
    #: The file's own definitions, as it wrote them: each own activation's formula in x (a SymPy
    #: expression) and its text, and a loss term of its own (a SymPy expression in out, t and n) and its text.
    own_activations: Mapping[str, tuple[object, str]] = field(default_factory=dict)
    loss_term: object = None
    loss_text: str = ""

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.layers[-1].units

    def sources(self, layer_index: int) -> tuple[str, ...]:
        """The names feeding layer ``layer_index``: its ``sources``, or else the inputs or the layer before's units."""
        layer = self.layers[layer_index]
        if layer.sources is not None:
            return layer.sources
        return self.inputs if layer_index == 0 else self.layers[layer_index - 1].units

    def layer_of(self, unit: str) -> int:
        """Index of the layer holding ``unit`` (-1 for an input)."""
        if unit in self.inputs:
            return -1
        for index, layer in enumerate(self.layers):
            if unit in layer.units:
                return index
        raise KeyError(unit)

    def parameters(self) -> list[ParameterPlace]:
        """Every parameter once, in the order a reader numbers them."""
        return list(self.places)

    def parameter(self, name: str) -> ParameterPlace:
        """The parameter called ``name`` (KeyError if there is none)."""
        return self._places_by_name[name]

    @functools.cached_property
    def _places_by_name(self) -> dict[str, ParameterPlace]:
        return {place.name: place for place in self.places}
