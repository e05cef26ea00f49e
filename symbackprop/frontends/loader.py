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
from typing import Any, Mapping, Optional

import sympy as sp

from ..errors import InputError
from .formula import FormulaError, parse_formula
from .formulas import graph_from_mapping
from .network import Bias, Layer, Loss, Network
from .tables import (NODE_PREFIXES, _check_name, _data, _fraction_text, _kind, _listing, _name_cell, _names,
                     _no_unknown_keys, _number, _registry, _require_key, _require_table, _row_or_rows, _samples, _title,
                     _training)
from .toml import read_document


# Every command finishes, or shows progress and finishes within minutes, up to these sizes (see
# docs/performance.md); past them a file is refused at once.
MAX_LAYERS = 64
MAX_UNITS_PER_LAYER = 1024
MAX_UNITS = 4096
MAX_PARAMETERS = 15_000


TOP_LEVEL_KEYS = {"network", "loss", "data", "training", "claims", "meta", "activations"}
NETWORK_KEYS = {"convention", "inputs", "layers"}
LAYER_KEYS = {"name", "units", "activation", "weights", "weight_names", "bias", "bias_names", "alpha", "sources",
              "kind"}  # (kind = "dense", the default, said explicitly; other kinds are read by .layers)
LOSS_KEYS = {"kind", "targets", "term", "reduction"}
ACTIVATION_KEYS = {"formula"}


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
    from .layers import is_layered, layered_graph_from_mapping

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


def _layer(table: Any, index: int, previous: tuple[str, ...], convention: str, available: list[str],
           custom: Mapping[str, Any]) -> Layer:
    place = f"network.layers[{index}]"
    _require_table(table, place, "a layer")
    _no_unknown_keys(table, LAYER_KEYS, place)
    name = table.get("name", f"layer{index + 1}")
    _check_name(name, f"{place}.name")
    units = _names(_require_key(table, "units", place), f"{place}.units", MAX_UNITS_PER_LAYER)
    if not units:
        raise InputError("a layer needs at least one unit", place=f"{place}.units")
    own_sources = None
    if "sources" in table:
        own_sources = _names(table["sources"], f"{place}.sources", MAX_UNITS_PER_LAYER)
        known = set(available)
        for i, source in enumerate(own_sources):
            if source not in known:
                raise InputError(f"{source!r} is not an input or a unit of an earlier layer", place=f"{place}.sources[{i}]")
        if len(set(own_sources)) != len(own_sources) or not own_sources:
            raise InputError("sources must name each unit once (and at least one)", place=f"{place}.sources")
    sources = own_sources if own_sources is not None else previous
    activation = _require_key(table, "activation", place)
    known = tuple(_registry().ACTIVATIONS)
    if not isinstance(activation, str) or activation not in known and activation not in custom:
        raise InputError(
            f"unknown activation {str(activation)[:40]!r}; known: {', '.join(known + tuple(custom))} "
            "(or define one under [activations.NAME])", place=f"{place}.activation"
        )
    alpha: Optional[Fraction] = None
    if activation == "leaky_relu":
        alpha = _number(table.get("alpha", "0.01"), f"{place}.alpha")
    elif "alpha" in table:
        raise InputError("alpha applies only to leaky_relu", place=f"{place}.alpha")

    weights = None
    if "weights" in table:
        grid = _matrix(table["weights"], f"{place}.weights", sources, units, convention)
        weights = tuple(tuple(_number(cell, f"{place}.weights{where}") for cell, where in row) for row in grid)
    if "weight_names" in table:
        grid = _matrix(table["weight_names"], f"{place}.weight_names", sources, units, convention)
        weight_names = tuple(tuple(_name_cell(cell, f"{place}.weight_names{where}") for cell, where in row) for row in grid)
    else:
        weight_names = tuple(tuple(f"w_{source}_{unit}" for source in sources) for unit in units)
    bias = _bias(table, place, name, units)
    return Layer(name, units, activation, weight_names, weights, bias, alpha, own_sources)


def _custom_activations(document: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    """``[activations.NAME] formula = "x*sigmoid(x)"``: each a formula in x, read by the formula parser."""
    table = document.get("activations", {})
    _require_table(table, "activations", "[activations]")
    if len(table) > 64:
        raise InputError("at most 64 activations may be defined", place="activations")
    found = {}
    for name, entry in table.items():
        place = f"activations.{name}"
        _check_name(name, place)
        if name in _registry().ACTIVATIONS:
            raise InputError(f"{name!r} is a built-in activation; give yours another name", place=place)
        _require_table(entry, place, "an activation")
        _no_unknown_keys(entry, ACTIVATION_KEYS, place)
        text = _require_key(entry, "formula", place)
        found[name] = (_formula(text, ("x",), f"{place}.formula"), text)
    return found


def _formula(text: Any, names: tuple[str, ...], place: str):
    """A formula over the given names (SymPy; the parser never evaluates anything)."""
    try:
        return parse_formula(text, {name: sp.Symbol(name) for name in names})
    except FormulaError as error:
        raise InputError(str(error), place=place) from None


def _matrix(value: Any, place: str, sources: tuple[str, ...], units: tuple[str, ...], convention: str):
    """Check a matrix's shape and return it as ``grid[unit][source]`` of (cell, "[r][c]") pairs."""
    rows_are_sources = convention == "row"
    row_names, column_names = (sources, units) if rows_are_sources else (units, sources)
    row_kind, column_kind = ("input", "unit") if rows_are_sources else ("unit", "input")
    if not isinstance(value, list):
        raise InputError(f"expected a matrix (a list of rows), got {_kind(value)}", place=place)
    if len(value) != len(row_names):
        raise InputError(
            f"expected {len(row_names)} rows (one per {row_kind}: {_listing(row_names)}) in the {convention} "
            f"convention, found {len(value)}",
            place=place,
        )
    for r, row in enumerate(value):
        if not isinstance(row, list):
            raise InputError(f"expected a row (a list), got {_kind(row)}", place=f"{place}[{r}]")
        if len(row) != len(column_names):
            raise InputError(
                f"expected {len(column_names)} entries (one per {column_kind}: {_listing(column_names)}), found {len(row)}",
                place=f"{place}[{r}]",
            )
    if rows_are_sources:
        return [[(value[i][j], f"[{i}][{j}]") for i in range(len(sources))] for j in range(len(units))]
    return [[(value[j][i], f"[{j}][{i}]") for i in range(len(sources))] for j in range(len(units))]


def _bias(table: Mapping[str, Any], place: str, layer_name: str, units: tuple[str, ...]) -> Bias:
    if "bias" not in table:
        if "bias_names" in table:
            raise InputError("bias_names given without a bias", place=f"{place}.bias_names")
        return Bias()
    value = table["bias"]
    names = table.get("bias_names")
    if isinstance(value, list):
        if len(value) != len(units):
            raise InputError(
                f"expected {len(units)} biases (one per unit: {_listing(units)}), found {len(value)}", place=f"{place}.bias"
            )
        values = tuple(_number(cell, f"{place}.bias[{j}]") for j, cell in enumerate(value))
        if names is None:
            return Bias("per_unit", tuple(f"b_{unit}" for unit in units), values)
        if not isinstance(names, list) or len(names) != len(units):
            raise InputError(
                f"expected a list of {len(units)} names, one per unit, like the bias", place=f"{place}.bias_names"
            )
        return Bias("per_unit", tuple(_name_cell(n, f"{place}.bias_names[{j}]") for j, n in enumerate(names)), values)
    shared = _number(value, f"{place}.bias")
    if names is None:
        return Bias("shared", (f"b_{layer_name}",), (shared,))
    return Bias("shared", (_name_cell(names, f"{place}.bias_names"),), (shared,))


def _loss(document: Mapping[str, Any], outputs: tuple[str, ...]) -> tuple[Loss, Optional[tuple]]:
    """The loss, and its rows of targets when the file gives one per sample."""
    table = _require_key(document, "loss", "")
    _require_table(table, "loss", "[loss]")
    _no_unknown_keys(table, LOSS_KEYS, "loss")
    if "term" in table:
        if "kind" in table:
            raise InputError("give either kind (a built-in loss) or term (your own), not both", place="loss.term")
        term = _formula(table["term"], ("out", "t", "n"), "loss.term")
        targets, rows = None, None
        if "targets" in table:
            targets, rows = _row_or_rows(table["targets"], "loss.targets", len(outputs), f"one per output: {_listing(outputs)}")
        return Loss("custom", targets, term, table["term"]), rows
    kind = _require_key(table, "kind", "loss")
    losses = _registry(losses=True).LOSSES
    if not isinstance(kind, str) or kind not in losses:
        raise InputError(f"unknown loss {str(kind)[:40]!r}; known: {', '.join(losses)}", place="loss.kind")
    if "targets" not in table:
        return Loss(kind), None
    row, rows = _row_or_rows(table["targets"], "loss.targets", len(outputs), f"one per output: {_listing(outputs)}")
    for index, targets in enumerate(rows or (row,)):
        _check_targets(kind, outputs, targets, f"loss.targets[{index}]" if rows else "loss.targets")
    return Loss(kind, row), rows


def _check_targets(kind: str, outputs: tuple[str, ...], targets: tuple[Fraction, ...], place: str) -> None:
    rule = _registry(losses=True).LOSSES.get(kind)  # (a file's own term, "custom", holds its targets to nothing)
    if rule is not None and rule.targets_sum_to_one:
        negative = [(unit, t) for unit, t in zip(outputs, targets) if t < 0]
        if negative:
            unit, value = negative[0]
            raise InputError(f"{kind} targets must be a distribution; the target of {unit} is negative "
                             f"({_fraction_text(value)})", place=place)
        if sum(targets) != 1:
            raise InputError(
                f"{kind} targets must be a distribution (non-negative, summing to 1); they sum to {_fraction_text(sum(targets))}",
                place=place,
            )
    if rule is not None and rule.targets_in_unit_interval:
        for j, target in enumerate(targets):
            if not 0 <= target <= 1:
                raise InputError(f"{kind} targets must lie in [0, 1]", place=f"{place}[{j}]")


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
