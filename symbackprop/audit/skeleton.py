"""A ``[[claims]]`` skeleton for transcribing a tutorial: every number it may state, in the order tutorials
present them, each with its exact value as a comment, so a person copying a tutorial fills in values
instead of writing quantity names.

>>> from symbackprop.frontends.loader import load_model
>>> print(claims_skeleton(load_model("examples/mazur.toml")).split("\\n\\n")[1])
[[claims]]
quantity = "net(h1)"
value = ""  # exact 0.3775
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ..engine.chain import Engine
from ..engine.values import updated_parameters
from ..errors import printable
from ..frontends.coerce import as_graph
from ..graph import SymbolicGraph
from ..numbers import format_decimal, to_mpf
from ..quantity import Quantity

if TYPE_CHECKING:
    from ..frontends.model import Model
    from ..frontends.network import Network


#: Significant digits of the exact value given in each comment.
COMMENT_DIGITS = 12
#: Samples whose forward passes the skeleton lists (a tutorial writes out a few, not a dataset).
MAX_SAMPLES = 4


def claims_skeleton(model: "Network | SymbolicGraph | Model", source: str = "") -> str:
    """TOML ``[[claims]]`` tables, with ``value = ""`` to fill in: forward pass, loss, then the gradients and
    updates of the output layer, then of each hidden layer in turn (the last one first)."""
    graph = as_graph(model, "claims_skeleton")
    engine = Engine(graph)
    point = engine.point
    gradients = engine.gradient_values(COMMENT_DIGITS + 10)
    updated = updated_parameters(engine, digits=COMMENT_DIGITS + 10) if graph.learning_rate is not None else {}
    header = ("# Claims to audit" + (f" for {printable(source)}" if source else "") + ": fill in each value as the "
              "tutorial writes it (its digits set the precision), delete the numbers it does not state, "
              "and append the tables to the network file. The comments give the exact values.")
    tables = [header]

    def table(quantity: str, value, sample: int = -1) -> None:
        shown = format_decimal(to_mpf(value, COMMENT_DIGITS + 10), COMMENT_DIGITS, trim=True)
        lines = ["[[claims]]", f'quantity = "{quantity}"']
        if sample >= 0:
            lines.append(f"sample = {sample}")
        tables.append("\n".join(lines + [f'value = ""  # exact {shown}']))

    for quantity, sample in _forward(graph):
        symbol = graph.symbols[quantity.of_sample(sample) if sample >= 0 else quantity]
        table(str(quantity), point.evalf(symbol, COMMENT_DIGITS + 10), sample)
    table("E", point.evalf(graph.symbols[Quantity.loss()], COMMENT_DIGITS + 10))
    for names in _parameters_backward(graph):
        for name in names:
            table(f"dE/d{name}", gradients[name])
        for name in names:
            if name in updated:
                table(f"new({name})", updated[name])
    return "\n\n".join(tables) + "\n"


def _forward(graph: SymbolicGraph) -> Iterator[tuple[Quantity, int]]:
    """Each computed value of the forward pass, of each sample listed, in the order it is computed."""
    template = graph.one_sample or graph
    layout = graph.layout
    if layout is None:
        order = [q for q in template.order if template.roles[q] not in ("input", "parameter") and q.kind != "loss"]
    else:  # unit by unit, as tutorials write it: net(h1), out(h1), net(h2), …, then each output's loss term
        order = [q for layer in layout.layers for unit in layer.units for q in (Quantity.net(unit), Quantity.out(unit))]
        order += [Quantity.loss_term(unit) for unit in layout.outputs]
    samples = range(min(len(graph.samples), MAX_SAMPLES)) if graph.samples else (-1,)
    for sample in samples:
        for quantity in order:
            if quantity in template.symbols:
                yield quantity, sample


def _parameters_backward(graph: SymbolicGraph) -> list[list[str]]:
    """The parameters in groups a tutorial takes in turn: each layer's, the output layer first (a graph of
    formulas: the parameters nearest the loss first)."""
    layout = graph.layout
    names = graph.parameters()
    if layout is None:
        position = {name: graph.position[Quantity.param(name)] for name in names}
        first_use = {name: min((graph.position[u] for u, _ in graph.consumers[Quantity.param(name)]), default=0)
                     for name in names}
        return [[name] for name in sorted(names, key=lambda n: (-first_use[n], position[n]))]
    layer_of = {p.name: p.layer_index for p in layout.parameters()}
    return [[name for name in names if layer_of[name] == index] for index in reversed(range(len(layout.layers)))]
