"""The dense layer and the loss as a network file writes them: the rules every reader of a ``[network]`` shares.

The dense reader (:mod:`.loader`) and the reader of layer kinds (:mod:`.layers`) both read a dense layer, the
file's own activations and the ``[loss]`` here, so a dense layer after a convolution is held to the same checks
as one in a plain network.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Mapping, Optional

import sympy as sp

from ..errors import InputError
from .formula import FormulaError, parse_formula
from .network import Bias, Layer, Loss
from .tables import (_check_name, _fraction_text, _kind, _listing, _name_cell, _names, _no_unknown_keys, _number,
                     _registry, _require_key, _require_table, _row_or_rows)

#: Most units a dense layer may have (docs/performance.md: every command finishes within minutes up to it).
MAX_UNITS_PER_LAYER = 1024
LAYER_KEYS = {"name", "units", "activation", "weights", "weight_names", "bias", "bias_names", "alpha", "sources",
              "kind"}  # (kind = "dense", the default, said explicitly; other kinds are read by .layers)
LOSS_KEYS = {"kind", "targets", "term", "reduction"}
ACTIVATION_KEYS = {"formula"}


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
