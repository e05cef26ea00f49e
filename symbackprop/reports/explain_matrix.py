"""The worked example in matrix notation: each layer's W, b, z and a, and the backward pass as matrices."""
from __future__ import annotations

import sympy as sp

from ..engine.chain import Engine
from ..engine.values import point_of, updated_parameters
from ..errors import whole_number
from ..quantity import Quantity
from ..training.matrix import matrix_form
from .document import Document, Math
from .explain import _verification, require_explainable
from .forward import architecture
from .matrix_results import matrix_equations
from .writer import _bmatrix, _Writer, number_latex


def explain_matrix(engine: Engine, places: int = 4, check=None, title: str = "") -> Document:
    """The worked example in matrix notation: W[l] is n[l]×n[l−1] and each sample a column (the notation
    of the lecture notes in seeds 003 and 004), every matrix with its numbers."""
    whole_number(places, 1, 30, "places")
    require_explainable(engine)
    engine.point.numeric(places + 42)
    form = matrix_form(engine, digits=places + 30, convention="column")
    w = _Writer(engine, places)
    layout, graph = w.layout, w.graph
    show = lambda rows: _bmatrix([[number_latex(sp.Float(v, places + 30), places) for v in row] for row in rows])
    weights = lambda index, value: _bmatrix([[value(name) for name in row] for row in layout.layers[index].weight_names])
    architecture(w)
    w.say("In matrix form: ", Math(r"W^{[l]}"), " has a row per unit and a column per input of the layer (n",
          Math("^{[l]}"), " × n", Math("^{[l-1]}"), "), and ", Math("X, Z^{[l]}, A^{[l]}"),
          f" have a column per sample (m = {form.samples}).")
    w.heading("Forward pass in matrix form")
    w.equation("X", show(form.X))
    for layer, matrix in zip(layout.layers, form.layers):
        l = matrix.index
        w.heading(f"Layer {l} ({layer.name}, {layer.activation})", 3)
        w.equation("W^{[%d]}" % l, weights(l - 1, w.parameter_value))
        if layer.bias.mode != "none":
            biases = [layer.bias.name_for(j) for j in range(len(layer.units))]
            w.equation("b^{[%d]}" % l, _bmatrix([[w.parameter_value(b)] for b in biases]))
        a_prev = "X" if l == 1 else "A^{[%d]}" % (l - 1)
        bias = "" if layer.bias.mode == "none" else " + b^{[%d]}" % l
        w.equation("Z^{[%d]}" % l, r"W^{[%d]} %s%s" % (l, a_prev, bias), show(matrix.Z))
        w.equation("A^{[%d]}" % l, r"g^{[%d]}\left(Z^{[%d]}\right)" % (l, l), show(matrix.A))
    w.heading("Loss")
    w.equation("Y", show(form.Y))
    w.equation("E", w.shown(w.symbol(Quantity.loss())))
    w.heading("Backward pass in matrix form")
    w.say("From the output layer down. dZ holds each sample's ∂E", Math("^{(i)}"), "/∂Z of its own loss; dW and db "
          "are the gradient of E" + (f", with the 1/{form.samples} of the mean" if form.samples > 1 and
                                     form.reduction == "mean" else "") + ".")
    for matrix in reversed(form.layers):
        l = matrix.index
        equations = matrix_equations(form, matrix)
        w.heading(f"Layer {l}", 3)
        for key, rows in (("dZ", matrix.dZ), ("dW", matrix.dW), ("db", matrix.db and [[v] for v in matrix.db])):
            if equations[key]:
                name, formula = equations[key].split(" = ", 1)
                w.equation(name, formula, show(rows))
        if l > 1:
            name, formula = equations["dA"].split(" = ", 1)
            w.equation(name, formula, show(form.layers[l - 2].dA))
    if graph.learning_rate is not None:
        w.heading("Update")
        updated = updated_parameters(engine, digits=40 + places)
        after = point_of(graph, updated)
        for index in range(len(layout.layers)):
            l = index + 1
            w.equation("W^{[%d]+}" % l, r"W^{[%d]} - \eta\, dW^{[%d]}" % (l, l),
                       weights(index, lambda n: w.parameter_value(n, after)))
    _verification(w, check)
    sizes = "-".join(str(len(layer.units)) for layer in layout.layers)
    heading = title or engine.graph.title or f"Backpropagation in matrix form: a {len(layout.inputs)}-{sizes} network"
    return Document(heading, tuple(w.blocks))
