"""The forward sections of a worked example: the architecture, each node's value, the loss, the samples."""
from __future__ import annotations

from fractions import Fraction
from typing import Optional

import sympy as sp

from ..engine.values import rational
from ..frontends.dense import layer_activation
from ..functions.losses import loss_kind
from ..numbers import format_places
from ..quantity import Quantity
from .document import Math, Table
from .printing import latex_symbol_name
from .writer import _operand, _Writer


# ---- sections: each writes layers where the graph has a layout, nodes where it has none ----------
def architecture(w: _Writer) -> None:
    """What is computed: the layers (a table of them, the loss, the rate), or the inputs, parameters and nodes."""
    if w.layout is None:
        _node_architecture(w)
    else:
        _layer_architecture(w)


def forward_pass(w: _Writer, sample: int = -1) -> None:
    """The values of one sample's forward pass: layer by layer, in matrices, and each output's loss term; or
    node by node."""
    if w.layout is None:
        _node_forward(w, sample)
    else:
        _layer_forward(w, sample)
        _loss(w, sample)


def _layer_architecture(w: _Writer) -> None:
    layout = w.layout
    w.heading("The network")
    convention = (
        "row convention: a layer computes net = x W + b, W has a row per input and a column per unit"
        if layout.convention == "row"
        else "column convention: a layer computes net = W x + b, W has a row per unit and a column per input"
    )
    w.say(f"Inputs {', '.join(layout.inputs)}; {len(layout.layers)} layer(s); {convention}.")
    rows = []
    for index, layer in enumerate(layout.layers):
        bias = {"none": "none", "shared": "one shared", "per_unit": "one per unit"}[layer.bias.mode]
        alpha = f" (alpha = {_plain(layer.alpha)})" if layer.alpha is not None else ""
        rows.append(((str(index + 1),), (layer.name,), (", ".join(layer.units),), (layer.activation + alpha,), (bias,)))
    w.blocks.append(Table((("layer",), ("name",), ("units",), ("activation",), ("bias",)), tuple(rows)))
    if w.graph.loss_kind == "custom":
        term = w.tex(w.graph.definitions[Quantity.loss_term(layout.outputs[0])].xreplace(
            {w.symbol(Quantity.out(layout.outputs[0])): sp.Symbol("out_k"), w.graph.targets[layout.outputs[0]]: sp.Symbol("t_k")}))
        w.say("Loss ", Math(r"E = \sum_k %s" % term), f" (the file's own term, {layout.loss_text}), over the "
              f"outputs {', '.join(layout.outputs)}.")
    else:
        w.say("Loss ", Math(loss_kind(w.graph.loss_kind).latex()), f" ({w.graph.loss_kind}), over the outputs "
              f"{', '.join(layout.outputs)}.")
    for name, (formula, text) in layout.own_activations.items():
        w.say(f"The activation {name} is the file's own: ", Math(r"\mathrm{%s}(x) = %s" % (name, w.tex(formula))), ".")
    if w.graph.samples:
        w.say(f"{len(w.graph.samples)} samples; E is the {w.graph.training.reduction} of their losses. The nodes "
              "of sample s carry it as a superscript: ", Math(w.quantity(Quantity.out(layout.outputs[0], 0))), ".")
    if w.graph.learning_rate is not None:
        biases = " Biases are not updated." if w.graph.frozen else ""
        w.say("Learning rate ", Math(r"\eta = %s" % w.shown(rational(w.graph.learning_rate))), "." + biases)
    w.say(f"Numbers are computed exactly and shown rounded to {w.places} decimals "
          "(tiny ones in scientific notation); no shown number is computed from another rounded one.")


def held_fixed(graph) -> str:
    """The sentence that says which parameters an update leaves alone, and why."""
    if graph.layout is not None:
        return "Biases keep their values: the file sets update_biases = false."
    names = [q.name for q in graph.order if q.kind == "param" and q.name in graph.frozen]
    return (f"{', '.join(names)} {'keeps its value' if len(names) == 1 else 'keep their values'}: "
            f"the file holds {'it' if len(names) == 1 else 'them'} fixed.")


def _plain(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else format_places(value, 6)[0].rstrip("0")


def _layer_forward(w: _Writer, sample: int = -1) -> None:
    layout = w.layout
    w.heading("Forward pass" if sample < 0 else f"Forward pass of sample {sample}")
    inputs = [Quantity.out(name, sample) for name in layout.inputs]
    w.say("The sample:")
    w.equation(w.vector([w.quantity(q) for q in inputs]), w.vector([w.shown(w.symbol(q)) for q in inputs]))
    for index, layer in enumerate(layout.layers):
        rule = layer_activation(layout.own_activations, layer.activation)
        w.heading(f"Layer {index + 1} ({layer.name}, {layer.activation})", 3)
        _layer_matrices(w, index, sample)
        for j, unit in enumerate(layer.units):
            net, out = Quantity.net(unit, sample), Quantity.out(unit, sample)
            definition = w.graph.definitions[net]
            w.equation(w.quantity(net), w.tex(definition), w.substituted(definition), w.shown(w.symbol(net)))
            formula = w.graph.definitions[out]
            explicit = _explicit(formula)
            # softmax_k(nets) is notation for the formula below it; the formula alone reads as the textbooks do
            sides = [w.quantity(out)] + ([w.tex(formula)] if rule.elementwise else [])
            if explicit is not None:
                sides.append(w.tex(explicit))
            sides += [w.substituted(explicit if explicit is not None else formula), w.shown(w.symbol(out))]
            w.equation(*sides)
        if not rule.elementwise:
            w.say("Softmax couples the layer: every output depends on every net input of the layer.")


def _explicit(formula: sp.Expr) -> Optional[sp.Expr]:
    """The elementary formula of an activation call (σ(x) = 1/(1 + e^(−x))), when it reads differently."""
    explicit = getattr(formula, "_explicit", None)
    if explicit is None:
        return None
    expanded = explicit()
    if isinstance(expanded, sp.Piecewise):  # a case split reads worse than max(0, x); keep the call if there is none
        expanded = formula.rewrite(sp.Max)
        return None if expanded == formula else expanded
    return expanded


def _layer_matrices(w: _Writer, index: int, sample: int = -1) -> None:
    layout = w.layout
    layer = layout.layers[index]
    sources = layout.sources(index)
    source_outs = [Quantity.out(s, sample) for s in sources]
    nets = [Quantity.net(u, sample) for u in layer.units]
    names = w.weight_matrix(index, w.parameter_symbol)
    values = w.weight_matrix(index, w.parameter_value)
    x_names = w.vector([w.quantity(q) for q in source_outs])
    x_values = w.vector([w.shown(w.symbol(q)) for q in source_outs])
    product_names = f"{x_names} {names}" if layout.convention == "row" else f"{names} {x_names}"
    product_values = f"{x_values} {values}" if layout.convention == "row" else f"{values} {x_values}"
    if layer.bias.mode != "none":
        biases = [layer.bias.name_for(j) for j in range(len(layer.units))]
        product_names += " + " + w.vector([w.parameter_symbol(b) for b in biases])
        product_values += " + " + w.vector([w.parameter_value(b) for b in biases])
    result = w.vector([w.shown(w.symbol(q)) for q in nets])
    w.equation(w.vector([w.quantity(q) for q in nets]), product_names, product_values, result)


def _loss(w: _Writer, sample: int = -1) -> None:
    layout = w.layout
    w.heading("Loss" if sample < 0 else f"Loss of sample {sample}", 2 if sample < 0 else 3)
    w.say(f"Each output contributes its own term ({layout.loss_text or loss_kind(w.graph.loss_kind).formula}):")
    for unit in layout.outputs:
        term = Quantity.loss_term(unit, sample)
        target = w.graph.target(unit, sample)
        w.say("Target ", Math(r"%s = %s" % (w.tex(target), w.shown(target))), ":")
        definition = w.graph.definitions[term]
        w.equation(w.quantity(term), w.tex(definition), w.substituted(definition), w.shown(w.symbol(term)))
    total = Quantity.loss(sample)
    definition = w.graph.definitions[total]
    terms = [Quantity.loss_term(unit, sample) for unit in layout.outputs]
    if definition == sp.Add(*[w.symbol(t) for t in terms]):  # a plain sum: its terms share one form
        *values, shown = w.shown_alike([w.symbol(t) for t in terms] + [w.symbol(total)])
        w.equation(w.quantity(total), w.tex(definition), " + ".join(map(_operand, values)), shown)
    else:
        w.equation(w.quantity(total), w.tex(definition), w.substituted(definition), w.shown(w.symbol(total)))


#: Samples written out in full in a worked example; the others are given in a table.
MAX_SHOWN_SAMPLES = 3


#: Samples given a column of their own in the table of per-sample gradients.
MAX_SAMPLE_COLUMNS = 6


def _samples(w: _Writer) -> None:
    """Each sample's forward pass and loss (the first ones in full, the rest in a table), then E."""
    graph, layout = w.graph, w.layout
    count = len(graph.samples)
    for sample in range(min(count, MAX_SHOWN_SAMPLES)):
        forward_pass(w, sample)
    if count > MAX_SHOWN_SAMPLES:
        w.heading(f"Sample {MAX_SHOWN_SAMPLES}" if count == MAX_SHOWN_SAMPLES + 1
                  else f"Samples {MAX_SHOWN_SAMPLES} to {count - 1}", 3)
        w.say("The same computation for each of the other samples; its inputs, outputs and loss:")
        leaves = [q for q in graph.order if q.sample == 0 and graph.roles[q] == "input"]
        outputs = ([Quantity.out(unit, 0) for unit in layout.outputs] if layout is not None else [])
        columns = leaves + outputs + [Quantity.loss(0)]
        header = (("sample",),) + tuple((Math("{%s}^{(s)}" % latex_symbol_name(w.symbol(q).name[: -len("[0]")])),)
                                        for q in columns)
        rows = tuple(((str(s),),) + tuple((Math(w.shown(w.symbol(q.of_sample(s)))),) for q in columns)
                     for s in range(MAX_SHOWN_SAMPLES, count))
        w.blocks.append(Table(header, rows))
    w.heading("Loss over the samples")
    total = Quantity.loss()
    definition = graph.definitions[total]
    how = "mean" if graph.training.reduction == "mean" else "sum"
    w.say(f"E is the {how} of the {count} samples' losses:")
    w.equation("E", w.tex(definition), w.substituted(definition), w.shown(w.symbol(total)))


def _node_architecture(w: _Writer) -> None:
    graph = w.graph
    w.heading("The graph")
    names = {role: [q for q in graph.order if graph.roles[q] == role] for role in ("input", "parameter", "node")}
    w.say(f"Inputs {', '.join(q.name for q in names['input']) or 'none'}; parameters "
          f"{', '.join(q.name for q in names['parameter'])}; {len(names['node'])} node(s), each a formula of "
          "earlier ones; the loss E.")
    if graph.learning_rate is not None:
        fixed = f" {held_fixed(graph)}" if graph.frozen else ""
        w.say("Learning rate ", Math(r"\eta = %s" % w.shown(rational(graph.learning_rate))), "." + fixed)
    w.say(f"Numbers are computed exactly and shown rounded to {w.places} decimals "
          "(tiny ones in scientific notation); no shown number is computed from another rounded one.")


def _node_forward(w: _Writer, sample: int = -1) -> None:
    graph = w.graph
    w.heading("Forward pass" if sample < 0 else f"Forward pass of sample {sample}")
    mine = lambda q: q.sample == sample or q.kind == "param"
    leaves = [(w.quantity(q), w.symbol(q), graph.roles[q]) for q in graph.order
              if graph.roles[q] in ("input", "parameter") and mine(q)]
    leaves += [(w.tex(t), t, "target") for t in (graph.target_symbols(sample) if sample >= 0 else graph.targets.values())]
    w.say("The numbers of the file:" if sample < 0 else "The numbers of this sample:")
    w.blocks.append(Table((("name",), ("role",), ("value",)),
                          tuple(((Math(name),), (role,), (Math(w.shown(symbol)),)) for name, symbol, role in leaves)))
    w.say("Each node in turn: its formula, the numbers substituted, its value.")
    for quantity in graph.order:
        definition = graph.definitions.get(quantity)
        if definition is not None and quantity.sample == sample:
            w.equation(w.quantity(quantity), w.tex(definition), w.substituted(definition), w.shown(w.symbol(quantity)))
