"""The network as a Graphviz drawing: units in layers, edges labelled with weights and gradients.

:func:`network_dot` writes DOT text and needs nothing but the network (and,
for values and gradients, an engine whose network has numbers).
:func:`render` hands DOT text to Graphviz's ``dot`` program for SVG or PNG.

>>> from symbackprop.frontends.loader import network_from_mapping
>>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["y"], "activation": "sigmoid", "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse"}})
>>> print(network_dot(net))  # doctest: +ELLIPSIS
digraph network {
  rankdir=LR;
...
  "x" -> "y" [label="w"];
}
"""
from __future__ import annotations

import shutil
import subprocess
from typing import Optional

from ..errors import InputError
from ..frontends.coerce import as_layout
from ..numbers import format_decimal
from ..quantity import Quantity
from .printing import text


#: Output formats Graphviz is asked for, by file extension.
RENDERED = {".svg": "svg", ".png": "png"}
#: Seconds Graphviz may take before it is stopped.
RENDER_TIMEOUT = 60
#: Most edges drawn: past this a drawing is a grey smear, not a picture.
MAX_EDGES = 5000


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is not installed."""


def _quoted(text: str) -> str:
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def network_dot(model, engine=None, digits: int = 4) -> str:
    """DOT text: a rank per layer, an edge per weight labelled with its name (and value and ∂E/∂w).

    ``model`` is a dense network, its graph, a :class:`~symbackprop.frontends.model.Model` of layers, or their
    :class:`~symbackprop.layout.Layout`; ``engine`` (of the same network) gives the numbers."""
    layout = as_layout(model, "network_dot")
    if layout is None:
        raise InputError("a graph of formulas has no layers to draw: graph_dot draws its nodes", place="network")
    edges = sum(len(layer.units) * len(layout.sources(i)) for i, layer in enumerate(layout.layers))
    if edges > MAX_EDGES:
        raise InputError(f"a diagram of {edges} edges is unreadable (at most {MAX_EDGES})", place="network")
    numbers = engine is not None and not engine.graph.missing
    gradients = engine.gradient_values(digits + 10) if numbers else {}
    point = engine.point if numbers else None

    def node_label(unit: str, kind: str) -> str:
        label = f"{unit}\n{kind}"
        if numbers and not engine.graph.samples:  # over several samples a unit has a value per sample
            graph = engine.graph
            out = point.evalf(graph.symbols[Quantity.out(unit)], digits + 10)
            label += f"\nout = {format_decimal(out, digits, trim=True)}"
        return label

    def edge_label(name: str) -> str:
        if not numbers:
            return name
        value = point.evalf(engine.graph.symbols[Quantity.param(name)], digits + 10)
        return f"{name} = {format_decimal(value, digits, trim=True)}\n∂E/∂{name} = {format_decimal(gradients[name], digits)}"

    # Each label is tied to its edge by a line (decorate), and sits where its edge is drawn (labelfloat=false).
    lines = ["digraph network {", "  rankdir=LR;", "  nodesep=0.5; ranksep=3;",
             '  node [shape=circle, fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.6, decorate=true, labelfloat=false];']
    # One rank per layer; a layer's bias node stands with the layer that feeds it.
    ranks = [[(unit, node_label(unit, "input"), "box") for unit in layout.inputs]]
    for index, layer in enumerate(layout.layers):
        if layer.bias.mode != "none":
            ranks[-1].append((f"bias {index + 1}", f"bias {index + 1}\n1", "square"))
        ranks.append([(unit, node_label(unit, layer.activation), "circle") for unit in layer.units])
    for rank in ranks:
        members = " ".join(f"{_quoted(node)} [label={_quoted(label)}, shape={shape}];" for node, label, shape in rank)
        lines.append(f"  {{ rank=same; {members} }}")
        if len(rank) > 1:  # an invisible chain through each rank keeps its units in file order, top to bottom
            lines.append("  " + " -> ".join(_quoted(node) for node, _, _ in rank) + " [style=invis];")
    for index, layer in enumerate(layout.layers):
        sources = layout.sources(index)
        for j, unit in enumerate(layer.units):
            for i, source in enumerate(sources):
                name = layer.weight_names[j][i]
                lines.append(f"  {_quoted(source)} -> {_quoted(unit)} [label={_quoted(edge_label(name))}];")
            bias = layer.bias.name_for(j)
            if bias is not None:
                lines.append(f'  {_quoted(f"bias {index + 1}")} -> {_quoted(unit)} '
                             f"[label={_quoted(edge_label(bias))}, style=dotted];")
    if numbers:
        loss = point.evalf(engine.graph.symbols[Quantity.loss()], digits + 10)
        lines.append(f'  "E" [label={_quoted(f"E = {format_decimal(loss, digits, trim=True)}")}, shape=doublecircle];')
        for unit in layout.outputs:
            lines.append(f'  {_quoted(unit)} -> "E" [style=dashed];')
    lines.append("}")
    return "\n".join(lines)


def graph_dot(graph, engine=None, digits: int = 4) -> str:
    """DOT text for a formula graph: a node per input, parameter and formula, an edge per use.

    Each formula node shows its formula (and value); each edge into a formula node
    is a symbol its formula reads; with numbers, parameters show ∂E/∂p.
    """
    edges = sum(len(graph.consumers[q]) for q in graph.order)
    if edges > MAX_EDGES:
        raise InputError(f"a diagram of {edges} edges is unreadable (at most {MAX_EDGES})", place="graph")
    numbers = engine is not None and not graph.missing
    gradients = engine.gradient_values(digits + 10) if numbers else {}
    point = engine.point if numbers else None
    lines = ["digraph formulas {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.6];']
    for quantity in graph.order:
        symbol = graph.symbols[quantity]
        role = graph.roles[quantity]
        label = str(quantity)
        if quantity in graph.definitions:
            formula = text(graph.definitions[quantity])
            label += " = " + (formula if len(formula) <= 60 else formula[:57] + "...")
        if numbers:
            label += f"\n= {format_decimal(point.evalf(symbol, digits + 10), digits, trim=True)}"
            if role == "parameter":
                label += f"\n∂E/∂{quantity} = {format_decimal(gradients[quantity.name], digits)}"
        shape = {"input": "box", "parameter": "diamond", "loss": "doublecircle"}.get(role, "ellipse")
        lines.append(f"  {_quoted(str(quantity))} [label={_quoted(label)}, shape={shape}];")
    for quantity in graph.order:
        for consumer, _ in graph.consumers[quantity]:
            lines.append(f"  {_quoted(str(quantity))} -> {_quoted(str(consumer))};")
    lines.append("}")
    return "\n".join(lines)


def render(dot_text: str, file_format: str, dot_program: Optional[str] = None) -> bytes:
    """SVG or PNG bytes from DOT text, by Graphviz; :class:`GraphvizMissing` if ``dot`` is not installed."""
    program = dot_program or shutil.which("dot")
    if program is None:
        raise GraphvizMissing("Graphviz's dot program is not installed")
    finished = subprocess.run([program, f"-T{file_format}"], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=RENDER_TIMEOUT, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"dot failed: {finished.stderr.decode('utf-8', 'replace').strip()}")
    return finished.stdout
