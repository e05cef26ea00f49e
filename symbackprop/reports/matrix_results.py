"""Reports of the matrix form (``derive --form matrix``): Z, A, dZ, dW, db and dA layer by layer, as text,
LaTeX or JSON. Data in, strings out; nothing here differentiates or prints."""
from __future__ import annotations

import json
import re

import sympy as sp

from ..numbers import format_decimal
from ..training.matrix import A, Y, Z


def _per_sample(form, grid):
    """A units × samples grid as the convention lays it out: units × samples (column), samples × units (row)."""
    return grid if form.convention == "column" else [list(row) for row in zip(*grid)]


def _one_over_m(form) -> str:
    return r"\frac{1}{%d} " % form.samples if form.samples > 1 and form.reduction == "mean" else ""


def _transposed(name: str) -> str:
    """``A^{[1]}`` transposed as ``A^{[1]\top}`` (one superscript), ``X`` as ``X^{\top}``."""
    return name[:-1] + r"\top}" if name.endswith("]}") else name + r"^{\top}"


def matrix_equations(form, layer) -> dict[str, str]:
    """The layer's backward equations in LaTeX: dZ, dW, db, dA (the gradient it sends back)."""
    l, column = layer.index, form.convention == "column"
    a_prev = "X" if l == 1 else "A^{[%d]}" % (l - 1)
    names = {Z: sp.Symbol("Z^{[%d]}" % l), A: sp.Symbol("A^{[%d]}" % l), Y: sp.Symbol("Y")}
    upstream = "dA^{[%d]}" % l
    if layer.output and layer.loss_derivative is not None:
        upstream = r"\left(%s\right)" % sp.latex(layer.loss_derivative.xreplace(names), mul_symbol=r" \odot ")
    if layer.output and layer.collapsed:
        dz = r"dZ^{[%d]} = A^{[%d]} - Y" % (l, l)
    elif layer.derivative is None:
        dz = (r"dZ^{[%d]} = J^{[%d]\top} %s, \quad J_{kj} = \frac{\partial A_k}{\partial Z_j} = "
              r"A_k \left(\delta_{kj} - A_j\right) \text{ for each sample}") % (l, l, upstream)
    else:
        rule = sp.latex(layer.derivative.xreplace(names), mul_symbol=r" \odot ")
        dz = r"dZ^{[%d]} = %s \odot \left(%s\right)" % (l, upstream, rule)
    scale = _one_over_m(form)
    dw = (r"dW^{[%d]} = %sdZ^{[%d]} %s" % (l, scale, l, _transposed(a_prev)) if column
          else r"dW^{[%d]} = %s%s dZ^{[%d]}" % (l, scale, _transposed(a_prev), l))
    total, each = (r"\sum_{i=1}^{%d} " % form.samples, "(i)") if form.samples > 1 else ("", "")
    db = {"none": "", "per_unit": r"db^{[%d]} = %s%sdZ^{[%d]%s}" % (l, scale, total, l, each),
          "shared": r"db^{[%d]} = %s%s\sum_{j} dZ^{[%d]%s}_{j}" % (l, scale, total, l, each)}[layer.bias]
    da_prev = "dX" if l == 1 else "dA^{[%d]}" % (l - 1)
    da = (r"%s = W^{[%d]\top} dZ^{[%d]}" % (da_prev, l, l) if column else r"%s = dZ^{[%d]} W^{[%d]\top}" % (da_prev, l, l))
    return {"dZ": dz, "dW": dw, "db": db, "dA": da}


def matrix_json(form, digits: int) -> str:
    """Exactly ``{"layers": [{"name", "dW", "db", "equations": {"dZ", "dW", "db", "dA"}}]}``, decimals as strings
    (the convention and the number of samples are in the equations)."""
    layers = []
    for layer in form.layers:
        record = {"name": layer.name, "equations": matrix_equations(form, layer)}
        if layer.dW is not None:
            record["dW"] = [[format_decimal(v, digits) for v in row] for row in layer.dW]
            record["db"] = [format_decimal(v, digits) for v in layer.db]
        layers.append(record)
    return json.dumps({"layers": layers}, indent=1, ensure_ascii=False)


def _bmatrix(rows, digits: int) -> str:
    body = r" \\ ".join(" & ".join(format_decimal(v, digits) for v in row) for row in rows)
    return r"\begin{bmatrix} %s \end{bmatrix}" % body


def _matrix_steps(form):
    """(name, equation, rows) in the order a lecture writes them: the forward pass layer by layer, then
    the backward pass from the output layer down; rows are None where the file has no numbers."""
    steps = []
    for layer in form.layers:
        l = layer.index
        numbers = layer.Z is not None
        steps.append(("Z[%d]" % l, r"Z^{[%d]} = %s" % (l, _forward_equation(form, l)), numbers and _per_sample(form, layer.Z)))
        steps.append(("A[%d]" % l, r"A^{[%d]} = g^{[%d]}\left(Z^{[%d]}\right)" % (l, l, l),
                      numbers and _per_sample(form, layer.A)))
    for layer in reversed(form.layers):
        l = layer.index
        equations = matrix_equations(form, layer)
        numbers = layer.dZ is not None
        if layer.J is not None:  # the softmax Jacobian as a matrix, sample by sample (the first three)
            for i, jacobian in enumerate(layer.J[:3]):
                suffix = "(%d)" % i if form.samples > 1 else ""
                steps.append(("J[%d]%s" % (l, suffix), r"J^{[%d]%s}" % (l, suffix), jacobian))
        steps.append(("dZ[%d]" % l, equations["dZ"], numbers and _per_sample(form, layer.dZ)))
        steps.append(("dW[%d]" % l, equations["dW"], layer.dW))
        if equations["db"]:
            steps.append(("db[%d]" % l, equations["db"], numbers and [[v] for v in layer.db]))
        if l > 1:
            below = form.layers[l - 2]
            steps.append(("dA[%d]" % (l - 1), equations["dA"], numbers and _per_sample(form, below.dA)))
    return steps


def _forward_equation(form, l: int) -> str:
    a_prev = "X" if l == 1 else "A^{[%d]}" % (l - 1)
    bias = "" if form.layers[l - 1].bias == "none" else r" + b^{[%d]}" % l
    return (r"W^{[%d]} %s%s" % (l, a_prev, bias)) if form.convention == "column" else (r"%s W^{[%d]}%s" % (a_prev, l, bias))


def matrix_latex(form, digits: int) -> str:
    """Every step of the matrix form, one display line each, with its numbers when the file has them."""
    return "\n".join(equation + (" = " + _bmatrix(rows, digits) if rows else "") for _, equation, rows in _matrix_steps(form))


def matrix_text(form, digits: int) -> str:
    """The same, in plain text: each equation, then its matrix a row per line."""
    shape = "units × samples" if form.convention == "column" else "samples × units"
    lines = [f"matrix form, {form.convention} convention (per-sample matrices are {shape}), m = {form.samples}"
             + (f", E the {form.reduction} over the samples" if form.samples > 1 else "")]
    for name, equation, rows in _matrix_steps(form):
        lines += ["", _plain(equation)]
        if rows:
            cells = [[format_decimal(v, digits) for v in row] for row in rows]
            width = max(len(c) for row in cells for c in row)
            lines += ["  [" + "  ".join(c.rjust(width) for c in row) + "]" for row in cells]
    return "\n".join(lines)


def _plain(latex_text: str) -> str:
    """An equation of :func:`matrix_equations` in plain text (dW[1] = (1/4) dZ[1] X^T)."""
    text = re.sub(r"\\frac\{1\}\{(\d+)\} ", r"(1/\1) ", latex_text)
    text = re.sub(r"\^\{\[(\d+)\]\\top\}", r"[\1]^T", text)
    text = re.sub(r"\^\{\[(\d+)\]\(i\)\}", r"[\1](i)", text)
    text = re.sub(r"\^\{\[(\d+)\]\}", r"[\1]", text)
    text = re.sub(r"\\sum_\{i=1\}\^\{(\d+)\} ", r"Σ_(i=1..\1) ", text)
    text = re.sub(r"g\[(\d+)\]", r"g[\1]", text)
    text = text.replace(r", \quad", ";")
    for old, new in ((r"^{\top}", "^T"), (r"\odot", "⊙"), (r"\left(", "("), (r"\right)", ")"),
                     (r"\sum_{j} ", "Σ_j "), (r"\quad", ";"), (r"\text{ for each sample}", " for each sample"),
                     (r"\delta_{kj}", "δ_kj"), (r"\frac{\partial A_k}{\partial Z_j}", "∂A_k/∂Z_j"),
                     ("_{j}", "_j"), ("_{kj}", "_kj"), ("\\", "")):
        text = text.replace(old, new)
    return text
