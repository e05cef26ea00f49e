"""The formula file: a ``[graph]`` of named formulas over inputs, targets and parameters becomes the graph.

Formulas are parsed by :mod:`.formula`, with an allow-list; nothing in the file is evaluated as code.
"""
from __future__ import annotations

from typing import Any, Mapping

import mpmath
import sympy as sp

from ..errors import InputError
from ..functions.evaluate import FORMULA_MAGNITUDE, evaluate_expression
from .formula import FormulaError, parse_formula
from .model import MAX_NODES, check_name, formula_graph
from .tables import (_data, _kind, _listing, _names, _no_unknown_keys, _number, _require_key, _require_table,
                     _row_or_rows, _samples, _title, _training, fixed_parameters)


GRAPH_TOP_LEVEL_KEYS = {"graph", "loss", "data", "training", "claims", "meta"}


GRAPH_KEYS = {"inputs", "targets", "parameters", "nodes"}


GRAPH_NODE_KEYS = {"name", "formula"}


GRAPH_LOSS_KEYS = {"formula", "targets", "reduction"}


def graph_from_mapping(document: Mapping[str, Any]):
    """Build a :class:`~symbackprop.graph.SymbolicGraph` from a ``[graph]`` document of formulas.

    >>> graph = graph_from_mapping({"graph": {"inputs": ["x"], "targets": ["t"], "parameters": {"w": "0.5"},
    ...     "nodes": [{"name": "y", "formula": "tanh(w*x)"}]}, "loss": {"formula": "(y - t)^2/2", "targets": ["1"]},
    ...     "data": {"inputs": ["2"]}})
    >>> graph.definitions[graph.named("y")]
    tanh(w*x)
    """
    _require_table(document, "", "the document")
    _no_unknown_keys(document, GRAPH_TOP_LEVEL_KEYS, "")
    table = _require_key(document, "graph", "")
    _require_table(table, "graph", "[graph]")
    _no_unknown_keys(table, GRAPH_KEYS, "graph")
    inputs = _graph_names(table.get("inputs", []), "graph.inputs")
    targets = _graph_names(table.get("targets", []), "graph.targets")
    parameter_table = table.get("parameters", {})
    _require_table(parameter_table, "graph.parameters", "[graph.parameters]")
    node_tables = _require_key(table, "nodes", "graph")
    if not isinstance(node_tables, list):
        raise InputError(f"expected [[graph.nodes]] tables, got {_kind(node_tables)}", place="graph.nodes")
    if len(inputs) + len(targets) + len(parameter_table) + len(node_tables) > MAX_NODES:
        raise InputError(f"a graph has at most {MAX_NODES} nodes, inputs and parameters", place="graph")
    values: dict = {}
    symbols: dict[str, Any] = {}
    leaves = []
    for names, role, place in ((inputs, "input", "graph.inputs"), (targets, "target", "graph.targets")):
        for name in names:
            leaves.append((name, _fresh(symbols, name, place, check_name), role))
    for name, value in parameter_table.items():
        place = f"graph.parameters.{name}"
        leaves.append((name, _fresh(symbols, name, place, check_name), "parameter"))
        values[symbols[name]] = _number(value, place)
    later = _Later()
    for index, node in enumerate(node_tables):
        _require_table(node, f"graph.nodes[{index}]", "a node")
        name = _require_key(node, "name", f"graph.nodes[{index}]")
        check_name(name, f"graph.nodes[{index}].name")
        later.names.add(name)
    nodes = []
    for index, node in enumerate(node_tables):
        _no_unknown_keys(node, GRAPH_NODE_KEYS, f"graph.nodes[{index}]")
        name = node["name"]
        place = f"graph.nodes.{name}.formula"
        if name in symbols:
            raise InputError(f"{name!r} is already a name in this graph", place=f"graph.nodes[{index}].name")
        later.names.discard(name)
        later.current = name
        try:
            definition = parse_formula(_require_key(node, "formula", f"graph.nodes.{name}"), symbols, later)
        except FormulaError as error:
            raise InputError(str(error), place=place) from None
        nodes.append((name, _fresh(symbols, name, place, check_name), definition))
    loss_table = _require_key(document, "loss", "")
    _require_table(loss_table, "loss", "[loss]")
    _no_unknown_keys(loss_table, GRAPH_LOSS_KEYS, "loss")
    try:
        loss = parse_formula(_require_key(loss_table, "formula", "loss"), symbols)
    except FormulaError as error:
        raise InputError(str(error), place="loss.formula") from None
    target_row, target_rows = None, None
    if "targets" in loss_table:
        target_row, target_rows = _row_or_rows(loss_table["targets"], "loss.targets", len(targets),
                                               f"one per target: {_listing(targets)}")
    data_row, data_rows = _data(document, inputs)
    for names, row in ((targets, target_row), (inputs, data_row)):
        if row is not None:
            values.update((symbols[name], value) for name, value in zip(names, row))
    samples = tuple({**{symbols[n]: v for n, v in zip(inputs, row_in)}, **{symbols[n]: v for n, v in zip(targets, row_t)}}
                    for row_in, row_t in _samples(data_rows, target_rows, "loss.targets"))
    rate, update_biases, training = _training(document, max(len(samples), 1))
    if not update_biases:
        raise InputError("a graph has no biases; update_biases applies to dense layers", place="training.update_biases")
    fixed = fixed_parameters(document, [name for name, _, role in leaves if role == "parameter"])
    graph = formula_graph(leaves, nodes, loss, values, rate, _title(document), samples, training, fixed)
    _check_graph_values(graph)
    return graph


class _Later(Mapping):
    """The names a formula may not read, and why: nodes defined further down, and its own node."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.current = ""

    def __getitem__(self, name: str) -> str:
        if name == self.current:
            return "is this node itself: a formula cannot read its own value (no cycles)"
        if name in self.names:
            return "is defined later: a formula reads only inputs, targets, parameters and earlier nodes (no cycles)"
        raise KeyError(name)

    def __iter__(self):
        return iter(self.names | {self.current})

    def __len__(self) -> int:
        return len(self.names) + 1


def _graph_names(value: Any, place: str) -> tuple[str, ...]:
    return _names(value, place, MAX_NODES, check_name)


def _fresh(symbols: dict, name: str, place: str, check_name) -> Any:
    check_name(name, place)
    if name in symbols:
        raise InputError(f"{name!r} is declared twice", place=place)
    symbols[name] = sp.Symbol(name)
    return symbols[name]


def _check_graph_values(graph) -> None:
    """Every node's value at the file's numbers is finite and within range: an overflow names its node."""
    if graph.missing:
        return
    values: dict = {symbol: value for symbol, value in graph.values.items()}
    with mpmath.workdps(30):
        for quantity in graph.order:
            definition = graph.definitions.get(quantity)
            if definition is None:
                continue
            place = "loss.formula" if quantity.kind == "loss" else f"graph.nodes.{quantity.name}.formula"
            try:
                values[graph.symbols[quantity]] = evaluate_expression(definition, values, limit=FORMULA_MAGNITUDE)
            except OverflowError:
                raise InputError(f"{quantity} overflows at the file's numbers (beyond 1e{FORMULA_MAGNITUDE_EXPONENT})",
                                 place=place) from None
            except (ValueError, ZeroDivisionError, ArithmeticError) as error:
                raise InputError(f"{quantity} is undefined at the file's numbers ({error})", place=place) from None


FORMULA_MAGNITUDE_EXPONENT = 300
