"""Read a network file (TOML) or a mapping of the same shape into a :class:`Network`.

Everything from a file is data: numbers are parsed by :mod:`symbackprop.numbers`,
names are matched against a fixed pattern, and nothing is ever evaluated.
Every problem is an :class:`InputError` naming the place, for example
``network.layers[1].weights[0][2]``. Sizes are bounded before any work is
done, so a hostile file is refused quickly.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError
from .dense_tables import MAX_UNITS_PER_LAYER, _custom_activations, _layer, _loss
from .formulas import graph_from_mapping
from .layers import is_layered, layered_graph_from_mapping
from .network import Layer, Network
from .tables import (NODE_PREFIXES, _check_name, _data, _fraction_text, _names, _no_unknown_keys, _require_key,
                     _require_table, _samples, _title, _training)
from .toml import read_document


# Every command finishes, or shows progress and finishes within minutes, up to these sizes (see
# docs/performance.md); past them a file is refused at once.
MAX_LAYERS = 64  # (and MAX_UNITS_PER_LAYER, in .dense_tables)
MAX_UNITS = 4096
MAX_PARAMETERS = 15_000


TOP_LEVEL_KEYS = {"network", "loss", "data", "training", "claims", "meta", "activations"}
NETWORK_KEYS = {"convention", "inputs", "layers"}


def load_network(path: str | Path) -> Network:
    """Read and validate a network file.

    >>> import pathlib, tempfile
    >>> text = '''
    ... [network]
    ... inputs = ["x"]
    ... [[network.layers]]
    ... units = ["y"]
    ... activation = "linear"
    ... weights = [["0.5"]]
    ... [loss]
    ... kind = "half_sse"
    ... targets = ["1"]
    ... '''
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = pathlib.Path(folder, "net.toml"); _ = file.write_text(text)
    ...     net = load_network(file)
    >>> net.layers[0].weight_names, net.layers[0].weights
    ((('w_x_y',),), ((Fraction(1, 2),),))
    """
    document = read_document(path)
    try:
        return network_from_mapping(document)
    except InputError as error:
        raise error.located(str(path)) from None


def load_model(path: str | Path):
    """Read a file: a dense ``[network]`` gives a :class:`Network`, a ``[graph]`` of formulas a graph."""
    document = read_document(path)
    try:
        return model_from_mapping(document)
    except InputError as error:
        raise error.located(str(path)) from None


def model_from_mapping(document: Mapping[str, Any]):
    """What a document describes: a ``[graph]`` of formulas or a ``[network]`` with layer kinds (conv2d,
    pooling) as a graph, a dense ``[network]`` as a :class:`Network`."""
    if isinstance(document, dict) and "graph" in document:
        return graph_from_mapping(document)
    if is_layered(document):
        return layered_graph_from_mapping(document)
    return network_from_mapping(document)


def network_from_mapping(document: Mapping[str, Any]) -> Network:
    """Build a :class:`Network` from a mapping shaped like the TOML file (the Python way in)."""
    _require_table(document, "", "the document")
    _no_unknown_keys(document, TOP_LEVEL_KEYS, "")
    network_table = _require_key(document, "network", "")
    _require_table(network_table, "network", "[network]")
    _no_unknown_keys(network_table, NETWORK_KEYS, "network")

    convention = network_table.get("convention", "row")
    if convention not in ("row", "column"):
        raise InputError(f"convention must be \"row\" or \"column\", not {convention!r}", place="network.convention")
    inputs = _names(_require_key(network_table, "inputs", "network"), "network.inputs", MAX_UNITS_PER_LAYER)
    if not inputs:
        raise InputError("a network needs at least one input", place="network.inputs")

    layer_tables = _require_key(network_table, "layers", "network")
    if not isinstance(layer_tables, list) or not layer_tables:
        raise InputError("expected at least one [[network.layers]] table", place="network.layers")
    if len(layer_tables) > MAX_LAYERS:
        raise InputError(f"{len(layer_tables)} layers; at most {MAX_LAYERS} are supported", place="network.layers")
    _check_sizes(inputs, layer_tables)

    custom = _custom_activations(document)
    layers: list[Layer] = []
    previous = inputs
    available = list(inputs)
    for index, table in enumerate(layer_tables):
        layer = _layer(table, index, previous, convention, available, custom)
        layers.append(layer)
        previous = layer.units
        available += layer.units

    loss, target_rows = _loss(document, layers[-1].units)
    data, data_rows = _data(document, inputs)
    samples = _samples(data_rows, target_rows, "loss.targets")
    learning_rate, update_biases, training = _training(document, max(len(samples), 1))
    if "fixed" in document.get("training", {}):
        raise InputError("fixed applies to a formula graph's parameters; a dense file leaves its biases alone with "
                         "update_biases = false", place="training.fixed")
    if len(samples) == 1:  # one row is the one-sample form
        (data, targets), samples = samples[0], ()
        loss = dataclasses.replace(loss, targets=targets)
    network = Network(inputs, tuple(layers), loss, convention, data, learning_rate, update_biases, custom,
                      samples, training, _title(document))
    _check_names(network)
    return network


def _check_sizes(inputs: tuple[str, ...], layer_tables: list[Any]) -> None:
    """Refuse absurd sizes before building anything."""
    total_units = len(inputs)
    parameters = 0
    width = len(inputs)
    for index, table in enumerate(layer_tables):
        units = table.get("units") if isinstance(table, dict) else None
        count = len(units) if isinstance(units, list) else 0
        sources = table.get("sources") if isinstance(table, dict) else None
        if isinstance(sources, list):
            width = len(sources)
        if count > MAX_UNITS_PER_LAYER:
            raise InputError(
                f"{count} units; at most {MAX_UNITS_PER_LAYER} per layer are supported",
                place=f"network.layers[{index}].units",
            )
        total_units += count
        parameters += width * count + count
        width = count
    if total_units > MAX_UNITS:
        raise InputError(f"{total_units} units in all; at most {MAX_UNITS} are supported", place="network.layers")
    if parameters > MAX_PARAMETERS:
        raise InputError(f"about {parameters} parameters; at most {MAX_PARAMETERS} are supported", place="network.layers")


def _check_names(network: Network) -> None:
    """Names are unique across units and parameters, and never collide with generated symbols."""
    seen: dict[str, str] = {}
    owners: list[tuple[str, str]] = [(name, f"network.inputs[{i}]") for i, name in enumerate(network.inputs)]
    tied: set[str] = set()  # a weight name used again is the same parameter (tied weights)
    _check_tied_values(network)
    for index, layer in enumerate(network.layers):
        place = f"network.layers[{index}]"
        owners += [(unit, f"{place}.units[{j}]") for j, unit in enumerate(layer.units)]
        for row in layer.weight_names:
            for name in row:
                if name not in tied:
                    owners.append((name, f"{place}.weight_names"))
                    tied.add(name)
        owners += [(name, f"{place}.bias_names") for name in layer.bias.names]
    for name, place in owners:
        _check_name(name, place)
        if name in seen:
            raise InputError(f"name {name!r} is used twice (also at {seen[name]})", place=place)
        seen[name] = place
    units = list(network.inputs) + [u for layer in network.layers for u in layer.units]
    generated = {f"{prefix}{unit}": unit for unit in units for prefix in NODE_PREFIXES}
    for name, place in owners:
        if name in generated:
            raise InputError(
                f"name {name!r} collides with a symbol generated for unit {generated[name]!r}; rename it", place=place
            )
    layer_names: dict[str, int] = {}
    for index, layer in enumerate(network.layers):
        if layer.name in layer_names:
            raise InputError(f"layer name {layer.name!r} is used twice", place=f"network.layers[{index}].name")
        layer_names[layer.name] = index


def _check_tied_values(network: Network) -> None:
    """A weight name used in several places is one parameter: it must have one value."""
    values: dict[str, Fraction] = {}
    for index, layer in enumerate(network.layers):
        if layer.weights is None:
            continue
        for names, row in zip(layer.weight_names, layer.weights):
            for name, value in zip(names, row):
                if values.setdefault(name, value) != value:
                    raise InputError(f"the tied weight {name!r} has two values ({_fraction_text(values[name])} and "
                                     f"{_fraction_text(value)}); one parameter has one value",
                                     place=f"network.layers[{index}].weights")
