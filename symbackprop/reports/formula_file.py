"""Any network as a formula file: ``symbackprop graph FILE`` writes the ``[graph]`` document of its graph.

Every node of the graph becomes one ``[[graph.nodes]]`` entry, its SymPy definition printed in the
documented formula language (docs/network-format.md), so that a user sees what a layer means and the
file read back gives the same gradients. Numbers are written exactly (a decimal where one is exact,
else a fraction such as 1/3); the data, the loss, the training and the claims come along, each claim's
quantity renamed to the node it names (``out(h1)`` is the node ``out_h1``).

>>> from symbackprop.frontends.loader import network_from_mapping
>>> from symbackprop.frontends.coerce import as_graph
>>> graph = as_graph(network_from_mapping({"network": {"inputs": ["x"], "layers": [{"units": ["y"],
...     "activation": "sigmoid", "weights": [["0.5"]], "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse", "targets": ["1"]}, "data": {"inputs": ["2"]}}))
>>> print(formula_file(graph))  # doctest: +NORMALIZE_WHITESPACE
[graph]
inputs = ["x"]
targets = ["t_y"]
<BLANKLINE>
[graph.parameters]
w = "0.5"
<BLANKLINE>
[[graph.nodes]]
name = "net_y"
formula = "w*x"
<BLANKLINE>
[[graph.nodes]]
name = "out_y"
formula = "sigmoid(net_y)"
<BLANKLINE>
[[graph.nodes]]
name = "E_y"
formula = "(t_y - out_y)^2/2"
<BLANKLINE>
[loss]
formula = "E_y"
targets = ["1"]
<BLANKLINE>
[data]
inputs = ["2"]
"""
from __future__ import annotations

import json
from fractions import Fraction
from typing import Any, Mapping, Sequence

import sympy as sp
from sympy.printing.str import StrPrinter

from ..audit.claims import ClaimKey, parse_claim_quantity
from ..errors import InputError
from ..frontends.coerce import as_graph
from ..functions.registry import TABLE
from ..graph import SymbolicGraph
from ..numbers import exact_text
from ..quantity import Quantity

#: SymPy's name of each function a formula can call, and the name a formula calls it by.
_FORMULA_NAMES = {entry.sympy_name: entry.formula_name for entry in TABLE if entry.sympy_name and entry.formula_name}
_FORMULA_NAMES["Abs"] = "abs"  # (SymPy's own |x|, from a Model: the formula's abs is the same function)


class _FormulaPrinter(StrPrinter):
    """SymPy's string printer, held to the formula language: exact decimals, ^ for powers, and only the
    functions a formula may call (anything else is refused, naming it)."""

    def _print_Rational(self, expr: sp.Rational) -> str:
        return exact_text(Fraction(int(expr.p), int(expr.q)))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Exp1(self, expr) -> str:
        return "exp(1)"

    def _print_Function(self, expr: sp.Function) -> str:
        name = type(expr).__name__
        if name == "softmax":
            return expr._sympystr(self)
        formula_name = _FORMULA_NAMES.get(name)
        if formula_name is None:
            from ..functions.activations import ACTIVATIONS

            if name in ACTIVATIONS and ACTIVATIONS[name].elementwise:
                formula_name = name  # registered in Python: a formula calls it by its name
            else:
                raise ValueError(f"{name} has no form in the formula language")
        return f"{formula_name}({', '.join(self._print(argument) for argument in expr.args)})"

    # (SymPy's printer has methods of its own for these: "Max(a, b)" is not a formula)
    _print_Max = _print_Min = _print_Abs = _print_exp = _print_log = _print_Function

    def emptyPrinter(self, expr) -> str:
        raise ValueError(f"{type(expr).__name__} has no form in the formula language")

    _print_Piecewise = _print_Pi = _print_Float = _print_Relational = emptyPrinter
    _print_ImaginaryUnit = _print_Infinity = _print_NegativeInfinity = _print_NaN = emptyPrinter


def formula_text(expression: sp.Expr, where: str) -> str:
    """``expression`` in the formula language; a part it cannot write is an :class:`InputError` at ``where``."""
    try:
        return _FormulaPrinter({"order": "none"}).doprint(expression)
    except ValueError as error:
        raise InputError(f"cannot be written as a formula: {error}", place=where) from None


def formula_file(model: "SymbolicGraph | object", claims: Sequence[Mapping[str, Any]] = ()) -> str:
    """The ``[graph]`` document of a graph, a ``Network`` or a ``Model``: its leaves, one node per line of its
    definitions, the loss, the data, the training, and ``claims`` (the source file's ``[[claims]]`` tables) with
    their quantities renamed."""
    graph = as_graph(model, "formula_file")
    template = graph.one_sample or graph
    name = {quantity: str(symbol) for quantity, symbol in template.symbols.items()}
    by_role = {role: [q for q in template.order if template.roles[q] == role] for role in ("input", "parameter")}
    target_symbols = list(template.targets.values())
    lines: list[str] = []
    if graph.title:
        lines += ["[meta]", f"title = {_string(graph.title)}", ""]
    lines += ["[graph]", f"inputs = {_strings(name[q] for q in by_role['input'])}",
              f"targets = {_strings(str(s) for s in target_symbols)}", "", "[graph.parameters]"]
    for quantity in by_role["parameter"]:
        value = graph.values.get(template.symbols[quantity])
        lines.append(f"{name[quantity]} = {_string(exact_text(value))}" if value is not None else
                     f"# {name[quantity]}: no value in the source file")
    lines.append("")
    for quantity in template.order:
        if template.roles[quantity] == "node" and quantity in template.definitions:
            where = f"the node {quantity}"
            lines += ["[[graph.nodes]]", f"name = {_string(name[quantity])}",
                      f"formula = {_string(formula_text(template.definitions[quantity], where))}", ""]
    lines += ["[loss]", f"formula = {_string(formula_text(template.definitions[Quantity.loss()], 'the loss'))}"]
    inputs = [template.symbols[q] for q in by_role["input"]]
    if graph.samples:
        if target_symbols:
            lines.append(f"targets = {_rows(graph.samples, target_symbols)}")
        if graph.training.reduction != "mean":
            lines.append(f"reduction = {_string(graph.training.reduction)}")
        lines += ["", "[data]", f"inputs = {_rows(graph.samples, inputs)}"]
    else:
        if target_symbols and all(s in graph.values for s in target_symbols):
            lines.append(f"targets = {_strings(exact_text(graph.values[s]) for s in target_symbols)}")
        if inputs and all(s in graph.values for s in inputs):
            lines += ["", "[data]", f"inputs = {_strings(exact_text(graph.values[s]) for s in inputs)}"]
    lines += _training_lines(graph, [q.name for q in by_role["parameter"]])
    for table in claims:
        lines += ["", "[[claims]]"] + _claim_lines(table, template)
    return "\n".join(lines) + "\n"


def _training_lines(graph: SymbolicGraph, parameters: list[str]) -> list[str]:
    training, lines = graph.training, []
    if graph.learning_rate is not None:
        lines.append(f"learning_rate = {_string(exact_text(graph.learning_rate))}")
    if training.steps != 1:
        lines.append(f"steps = {training.steps}")
    if training.method != "batch":
        lines.append(f"method = {_string(training.method)}")
    if training.batch_size is not None:
        lines.append(f"batch_size = {training.batch_size}")
    if training.momentum:
        lines.append(f"momentum = {_string(exact_text(training.momentum))}")
    if graph.frozen:
        lines.append(f"fixed = {_strings(p for p in parameters if p in graph.frozen)}")
    return ["", "[training]"] + lines if lines else []


def _claim_lines(table: Mapping[str, Any], template: SymbolicGraph) -> list[str]:
    """One ``[[claims]]`` table, its quantity renamed to the formula file's nodes, every other key as written."""
    key = parse_claim_quantity(table["quantity"], table.get("step", 0))
    lines = [f"quantity = {_string(_claim_quantity(key, template))}"]
    for field, value in table.items():
        if field == "quantity":
            continue
        if isinstance(value, (bool, int)):
            lines.append(f"{field} = {str(value).lower() if isinstance(value, bool) else value}")
        else:  # a value keeps the digits it was written with (a TOML float keeps its text)
            lines.append(f"{field} = {_string(getattr(value, 'text', None) or str(value))}")
    return lines


def _claim_quantity(key: ClaimKey, template: SymbolicGraph) -> str:
    def renamed(quantity: Quantity) -> str:
        found = template.validate(quantity)
        return str(template.symbols[found])

    if key.kind == "new":
        return f"new({key.of.name})"
    if key.kind == "derivative":
        return f"d{renamed(key.of)}/d{renamed(key.wrt)}"
    return renamed(key.of)


def _rows(samples, symbols) -> str:
    return "[" + ", ".join(_strings(exact_text(sample[s]) for s in symbols) for sample in samples) + "]"


def _strings(texts) -> str:
    return "[" + ", ".join(_string(t) for t in texts) + "]"


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string
