r"""The worked example, written by the engine: every step a tutorial shows, every number exact.

:func:`explain` turns an :class:`~symbackprop.engine.chain.Engine` (whose network has
numbers) into a :class:`~symbackprop.reports.document.Document`: the architecture, the
forward pass (formula, numbers substituted, value), the loss term by term, the
backward pass for every parameter (each chain-rule factor with its formula
and value, the softmax cross-output terms collapsing where they do, and every
path summed), the update and the loss after it. Numbers are shown rounded to
``places`` decimals, each one the rounding of an exact value: none is computed
from another rounded number.

Nothing here differentiates; derivatives come from the engine.

>>> from symbackprop.frontends.loader import network_from_mapping
>>> from symbackprop.engine.chain import Engine
>>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["y"], "activation": "linear", "weights": [["0.5"]], "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse", "targets": ["2"]}, "data": {"inputs": ["2"]},
...     "training": {"learning_rate": "0.1"}})
>>> doc = explain(Engine(net))
>>> [b.latex for b in doc.blocks if isinstance(b, Display) and b.latex.startswith(r"{w}^{+}")]
['{w}^{+} = w - \\eta \\frac{\\partial E}{\\partial w} = 0.5000 - 0.1000 \\cdot \\left(-2.0000\\right) = 0.7000']
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Callable, Iterable, Iterator, Mapping, Optional, Sequence

import mpmath
import sympy as sp

from ..frontends.dense import layer_activation, network_loss
from ..engine.chain import Derivation, Engine, Factor, MAX_WRITTEN_PATHS
from .document import Display, Document, Heading, Math, Paragraph, Table
from ..errors import InputError, whole_number
from ..numbers import as_fraction, format_places, to_mpf
from ..functions.losses import loss_kind
from .printing import factor_latex, latex, latex_symbol_name, quantity_latex, substituted_latex
from ..quantity import Quantity
from ..engine.values import Point, momentum_update, point_of, rational, updated_parameters

#: Most parameters a worked example will write out: past this it is a book, not an example.
MAX_PARAMETERS = 400
#: Most paths listed one by one for a single gradient.
MAX_LISTED_PATHS = 64
#: More digits used to tell an exact zero from a tiny value.
EXTRA_ZERO_DIGITS = 60


def number_latex(value: sp.Expr, places: int, scientific: bool = False) -> str:
    r"""A value rounded to ``places`` decimals, as LaTeX (scientific when it is tiny, or asked to be).

    >>> number_latex(sp.Rational(3775, 10000), 4), number_latex(sp.Rational(-438568, 10**9), 4)
    ('0.3775', '-4.3857 \\times 10^{-4}')
    >>> number_latex(sp.Rational(13368, 10**7), 4, scientific=True)
    '1.3368 \\times 10^{-3}'
    """
    digits, power = format_places(value, places, scientific)
    return digits if power == 0 else r"%s \times 10^{%d}" % (digits, power)


_DOUBLE_PARENTHESES = re.compile(r"\\left\(\\left\(([^()]*)\\right\)\\right\)")


def _operand(number: str) -> str:
    """A number as a factor or summand: parenthesised when negative or scientific."""
    return r"\left(%s\right)" % number if number.startswith("-") or r"\times" in number else number


class _Writer:
    """Builds the blocks of one explanation; holds the numbers it shows."""

    def __init__(self, engine: Engine, places: int) -> None:
        self.engine = engine
        self.graph = engine.graph
        self.network = engine.network
        self.places = places
        self.point: Point = engine.point
        self.blocks: list = []
        self.explained: set[Factor] = set()
        # Values already worked out, per point: sums, paths and the summary restate values shown elsewhere.
        self._values: dict[int, tuple[Point, dict[sp.Expr, sp.Expr]]] = {}

    # ---- numbers -------------------------------------------------------------------------
    def value(self, expression: sp.Expr, point: Optional[Point] = None) -> sp.Expr:
        """The value to the places shown; a sum that cancels exactly (softmax terms often do) shows 0."""
        point = point or self.point
        _, known = self._values.setdefault(id(point), (point, {}))  # the point is kept, so its id stays its own
        if expression not in known:
            known[expression] = self._evaluated(expression, point)
        return known[expression]

    def _evaluated(self, expression: sp.Expr, point: Point) -> sp.Expr:
        digits = 30 + self.places
        value = point.evalf(expression, digits)
        if value.is_Rational or abs(value) > sp.Float(10) ** -(self.places + 20):
            return value
        # Evaluated in Floats, an exact zero leaves noise of about 10^-digits. A value that shrinks by
        # as many orders as the precision grows is that noise; a genuinely tiny value stays put.
        finer = point.evalf(expression, digits + EXTRA_ZERO_DIGITS)
        if abs(finer) < sp.Float(10) ** -(self.places + 20 + EXTRA_ZERO_DIGITS // 2):
            return sp.Integer(0)
        return finer

    def shown(self, expression: sp.Expr, point: Optional[Point] = None) -> str:
        return number_latex(self.value(expression, point), self.places)

    def shown_alike(self, expressions: Sequence[sp.Expr], point: Optional[Point] = None) -> list[str]:
        """The terms of one sum and its total, in one form: all scientific when one of them must be, so
        that a reader adding them up gets the total; an exact zero is 0."""
        values = [self.value(expression, point) for expression in expressions]
        scientific = any(format_places(v, self.places)[1] for v in values if v != 0)
        return ["0" if v == 0 else number_latex(v, self.places, scientific) for v in values]

    def sum_side(self, terms: Sequence[Sequence[Factor]], total: sp.Expr) -> tuple[list[str], str]:
        """The values of a sum of products of factors, and of its total. Where every term is one number,
        terms and total share one form (:meth:`shown_alike`); a product keeps its factors' own form."""
        if all(len(term) == 1 for term in terms):
            *values, shown_total = self.shown_alike([term[0].expression for term in terms] + [total])
            return [_operand(v) for v in values], shown_total
        return [_product_values(self, term) for term in terms], self.shown(total)

    def substituted(self, expression: sp.Expr, point: Optional[Point] = None) -> str:
        numbers = {s.name: _operand(self.shown(s, point)) for s in expression.free_symbols}
        # A function's own parentheses already hold a negative argument: σ((−0.6)) reads as σ(−0.6).
        return _DOUBLE_PARENTHESES.sub(r"\\left(\1\\right)", substituted_latex(expression, numbers, self.graph))

    def tex(self, expression: sp.Expr) -> str:
        return latex(expression, self.graph)

    def quantity(self, quantity: Quantity) -> str:
        return quantity_latex(quantity, self.graph)

    def symbol(self, quantity: Quantity) -> sp.Symbol:
        return self.graph.symbols[quantity]

    def equation(self, *sides: str) -> None:
        """``a = b = c``, dropping a side equal to the one before it; one side a line when it is long."""
        kept = [sides[0]]
        for side in sides[1:]:
            if side != kept[-1]:
                kept.append(side)
        one_line = " = ".join(kept)
        long = len(kept) > 1 and (visible_width(one_line) > PAGE_WIDTH
                                  or len(kept) > 2 and visible_width(one_line) > LINE_WIDTH + visible_width(kept[0]))
        self.blocks.append(Display(_aligned(kept[0], kept[1:]) if long else one_line))

    def say(self, *spans) -> None:
        self.blocks.append(Paragraph(tuple(spans)))

    def heading(self, text, level: int = 2) -> None:
        self.blocks.append(Heading(text, level))

    # ---- matrices in the layer's convention ----------------------------------------------
    def weight_matrix(self, index: int, cell) -> str:
        """W of layer ``index`` as a bmatrix: rows are sources (row convention) or units (column)."""
        layer = self.network.layers[index]
        sources = self.network.sources(index)
        if self.network.convention == "row":
            rows = [[cell(layer.weight_names[j][i]) for j in range(len(layer.units))] for i in range(len(sources))]
        else:
            rows = [[cell(layer.weight_names[j][i]) for i in range(len(sources))] for j in range(len(layer.units))]
        return _bmatrix(rows)

    def vector(self, items: Sequence[str]) -> str:
        """A vector in the convention's orientation: a row for row, a column for column."""
        if self.network is None or self.network.convention == "row":
            return _bmatrix([list(items)])
        return _bmatrix([[item] for item in items])

    def parameter_symbol(self, name: str) -> str:
        return self.tex(self.symbol(Quantity.param(name)))

    def parameter_value(self, name: str, point: Optional[Point] = None) -> str:
        return self.shown(self.symbol(Quantity.param(name)), point)


def _bmatrix(rows: Sequence[Sequence[str]]) -> str:
    return r"\begin{bmatrix} %s \end{bmatrix}" % r" \\ ".join(" & ".join(row) for row in rows)


def _aligned(lhs: str, sides: Sequence[str | Sequence[str]]) -> str:
    """``lhs = side₁ = side₂ …``, one side a line (a side given as lines continues over them)."""
    as_lines = [[side] if isinstance(side, str) else list(side) for side in sides]
    if len(as_lines) == 1 and len(as_lines[0]) == 1 and visible_width(f"{lhs} = {as_lines[0][0]}") <= PAGE_WIDTH:
        return f"{lhs} = {as_lines[0][0]}"
    room = PAGE_WIDTH - min(visible_width(lhs), PAGE_WIDTH - LINE_WIDTH)
    as_lines = [[piece for line in lines for piece in _fitted(line, room)] for lines in as_lines]
    body = []
    widest = max(visible_width(line) for lines in as_lines for line in lines)
    if visible_width(lhs) + widest > PAGE_WIDTH:  # a wide left-hand side stands alone, the sides below it
        body.append(f"&{lhs}")
        for lines in as_lines:
            body.append(f"&\\quad = {lines[0]}")
            body += [f"&\\qquad {line}" for line in lines[1:]]
    else:
        for number, lines in enumerate(as_lines):
            body.append(("%s &= %s" % (lhs, lines[0])) if number == 0 else f"&= {lines[0]}")
            body += [f"&\\quad {line}" for line in lines[1:]]
    return "\\begin{aligned}\n" + " \\\\\n".join(body) + "\n\\end{aligned}"


#: Widest line of a display, in the units of :func:`visible_width` (about a character of 11 pt math): what
#: fits the 2 cm margins of the LaTeX document with the left-hand side and a \quad of indent beside it.
LINE_WIDTH = 62
#: The whole width of the page's text, in the same units.
PAGE_WIDTH = 78


_MATRIX = re.compile(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", re.S)
#: Binary operators and relations, typeset with space on both sides.
_SPACED = frozenset({r"\cdot", r"\to", r"\times", r"\approx", r"\le", r"\ge", r"\qquad", r"\quad"})


def visible_width(tex: str) -> float:
    r"""About how many characters wide ``tex`` is typeset: commands count as one symbol, scripts as 0.7,
    a fraction as its wider part, an operator with its spaces as two, ``\left``/``\right``/``\mathrm`` as nothing.

    >>> visible_width(r"\frac{\partial E}{\partial \mathrm{out}_{o1}}"), visible_width(r"\left(-1.3066 \times 10^{-3}\right)")
    (6.4, 14.4)
    """
    matrices = 0.0
    for matrix in _MATRIX.findall(tex):  # a matrix is as wide as its widest row
        rows = [[visible_width(cell) for cell in row.split("&")] for row in matrix.split(r"\\")]
        matrices += max(sum(row) + 2 * len(row) for row in rows) + 2
    tex = _MATRIX.sub("", tex)
    width, index = matrices, 0
    while index < len(tex):
        if tex.startswith(r"\frac", index):
            numerator, index = _group(tex, index + 5)
            denominator, index = _group(tex, index)
            width += max(visible_width(numerator), visible_width(denominator)) + 1  # and the space beside it
            continue
        char = tex[index]
        if char in "_^":
            script, index = _group(tex, index + 1)
            width += 0.7 * visible_width(script)  # script size
            continue
        if char == "\\":
            command = re.match(r"\\([a-zA-Z]+|.)", tex[index:])[0]
            index += len(command)
            invisible = command in (r"\left", r"\right", r"\mathrm", r"\operatorname", r"\text")
            width += 0 if invisible else 2 if command in _SPACED else 1
            continue
        index += 1
        width += 0 if char in "{} " else 2 if char in "+=<>" else 1
    return width


def _group(tex: str, index: int) -> tuple[str, int]:
    """The braced group (or single character) at ``index``, and the index after it."""
    if index >= len(tex):
        return "", index
    if tex[index] != "{":
        return tex[index], index + 1
    depth = 0
    for end in range(index, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[end], 0)
        if depth == 0:
            return tex[index + 1:end], end + 1
    return tex[index + 1:], len(tex)


def _fitted(line: str, width: float) -> list[str]:
    r"""``line`` as it is, or, when it is wider than ``width``, broken before its top-level ``+`` signs (outside
    braces, brackets and matrices); with none, inside its widest parenthesis, before the signs there
    (each line closing and opening it with ``\right.`` and ``\left.``)."""
    if visible_width(line) <= width:
        return [line]
    terms = _split_terms(line, (" + ",))
    if len(terms) > 1:
        return _joined([line[a:b] for a, b in terms], "+", width)
    inner = max(_parentheses(line), key=lambda span: span[1] - span[0], default=None)
    if inner is None:
        return [line]
    start, end = inner
    signed = _split_terms(line[start:end], (" + ", " - "), keep=True)
    if len(signed) < 2:
        return [line]
    lines = _grouped([line[start + a:start + b] for a, b in signed], " ", width - visible_width(line[:start]))
    if len(lines) < 2:
        return [line]
    return ([line[:start] + lines[0] + r" \right."] + [r"\left. " + text + r" \right." for text in lines[1:-1]]
            + [r"\left. " + lines[-1] + line[end:]])


def _depths(line: str) -> Iterator[tuple[int, int]]:
    """(index, depth) of every character: braces, \\begin…\\end and \\left…\\right nest."""
    depth = 0
    for index, char in enumerate(line):
        if char == "{" or line.startswith((r"\begin", r"\left"), index):
            depth += 1
        elif char == "}" or line.startswith((r"\end", r"\right"), index):
            depth -= 1
        yield index, depth


def _split_terms(line: str, separators: tuple[str, ...], keep: bool = False) -> list[tuple[int, int]]:
    """Spans of the terms of ``line`` between top-level ``separators`` (with ``keep``, each term after the
    first starts with its sign)."""
    spans, start = [], 0
    for index, depth in _depths(line):
        if depth == 0 and index > start and line.startswith(separators, index):
            spans.append((start, index))
            start = index + (1 if keep else 3)
    return spans + [(start, len(line))]


def _parentheses(line: str) -> list[tuple[int, int]]:
    r"""Spans of the contents of the top-level ``\left( … \right)`` groups of ``line``."""
    spans, opened = [], None
    for index, depth in _depths(line):
        if depth == 1 and opened is None and line.startswith(r"\left(", index):
            opened = index + len(r"\left(")
        elif depth == 0 and opened is not None and line.startswith(r"\right)", index):
            spans.append((opened, index))
            opened = None
    return spans


def _grouped(parts: Sequence[str], separator: str, width: float) -> list[str]:
    """``parts`` joined by ``separator`` into lines, a new line before a part that would pass ``width``."""
    lines: list[list[str]] = [[]]
    for part in parts:
        if lines[-1] and visible_width(separator.join(lines[-1] + [part])) > width:
            lines.append([])
        lines[-1].append(part)
    return [separator.join(line) for line in lines]


def _joined(parts: Sequence[str], operator: str, width: float = LINE_WIDTH) -> list[str]:
    """Parts joined by ``operator`` as the lines of one side, a new line before a part that would pass
    ``width`` (:func:`visible_width`); a product too wide for a line of its own breaks at its dots."""
    pieces: list[str] = []
    for part in parts:
        if visible_width(part) > width and r" \cdot " in part:
            pieces += _joined(part.split(r" \cdot "), r"\cdot", width)
        else:
            pieces.append(part)
    joined = _grouped(pieces, f" {operator} ", width)
    return [joined[0]] + [f"{operator} {line}" for line in joined[1:]]


# ---- sections ----------------------------------------------------------------------------
def _architecture(w: _Writer) -> None:
    network = w.network
    w.heading("The network")
    convention = (
        "row convention: a layer computes net = x W + b, W has a row per input and a column per unit"
        if network.convention == "row"
        else "column convention: a layer computes net = W x + b, W has a row per unit and a column per input"
    )
    w.say(f"Inputs {', '.join(network.inputs)}; {len(network.layers)} layer(s); {convention}.")
    rows = []
    for index, layer in enumerate(network.layers):
        bias = {"none": "none", "shared": "one shared", "per_unit": "one per unit"}[layer.bias.mode]
        alpha = f" (alpha = {_plain(layer.alpha)})" if layer.alpha is not None else ""
        rows.append(((str(index + 1),), (layer.name,), (", ".join(layer.units),), (layer.activation + alpha,), (bias,)))
    w.blocks.append(Table((("layer",), ("name",), ("units",), ("activation",), ("bias",)), tuple(rows)))
    if network.loss.kind == "custom":
        term = w.tex(w.graph.definitions[Quantity.loss_term(network.outputs[0])].xreplace(
            {w.symbol(Quantity.out(network.outputs[0])): sp.Symbol("out_k"), w.graph.targets[network.outputs[0]]: sp.Symbol("t_k")}))
        w.say("Loss ", Math(r"E = \sum_k %s" % term), f" (the file's own term, {network.loss.term_text}), over the "
              f"outputs {', '.join(network.outputs)}.")
    else:
        w.say("Loss ", Math(loss_kind(network.loss.kind).latex()), f" ({network.loss.kind}), over the outputs "
              f"{', '.join(network.outputs)}.")
    for name, (formula, text) in network.activations.items():
        w.say(f"The activation {name} is the file's own: ", Math(r"\mathrm{%s}(x) = %s" % (name, w.tex(formula))), ".")
    if w.graph.samples:
        w.say(f"{len(w.graph.samples)} samples; E is the {w.graph.training.reduction} of their losses. The nodes "
              "of sample s carry it as a superscript: ", Math(w.quantity(Quantity.out(network.outputs[0], 0))), ".")
    if network.learning_rate is not None:
        biases = "" if network.update_biases else " Biases are not updated."
        w.say("Learning rate ", Math(r"\eta = %s" % w.shown(rational(network.learning_rate))), "." + biases)
    w.say(f"Numbers are computed exactly and shown rounded to {w.places} decimals "
          "(tiny ones in scientific notation); no shown number is computed from another rounded one.")


def _plain(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else format_places(value, 6)[0].rstrip("0")


def _forward(w: _Writer, sample: int = -1) -> None:
    network = w.network
    w.heading("Forward pass" if sample < 0 else f"Forward pass of sample {sample}")
    inputs = [Quantity.out(name, sample) for name in network.inputs]
    w.say("The sample:")
    w.equation(w.vector([w.quantity(q) for q in inputs]), w.vector([w.shown(w.symbol(q)) for q in inputs]))
    for index, layer in enumerate(network.layers):
        rule = layer_activation(network, layer.activation)
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
    network = w.network
    layer = network.layers[index]
    sources = network.sources(index)
    source_outs = [Quantity.out(s, sample) for s in sources]
    nets = [Quantity.net(u, sample) for u in layer.units]
    names = w.weight_matrix(index, w.parameter_symbol)
    values = w.weight_matrix(index, w.parameter_value)
    x_names = w.vector([w.quantity(q) for q in source_outs])
    x_values = w.vector([w.shown(w.symbol(q)) for q in source_outs])
    product_names = f"{x_names} {names}" if network.convention == "row" else f"{names} {x_names}"
    product_values = f"{x_values} {values}" if network.convention == "row" else f"{values} {x_values}"
    if layer.bias.mode != "none":
        biases = [layer.bias.name_for(j) for j in range(len(layer.units))]
        product_names += " + " + w.vector([w.parameter_symbol(b) for b in biases])
        product_values += " + " + w.vector([w.parameter_value(b) for b in biases])
    result = w.vector([w.shown(w.symbol(q)) for q in nets])
    w.equation(w.vector([w.quantity(q) for q in nets]), product_names, product_values, result)


def _loss(w: _Writer, sample: int = -1) -> None:
    network = w.network
    rule = network_loss(network)
    w.heading("Loss" if sample < 0 else f"Loss of sample {sample}", 2 if sample < 0 else 3)
    w.say(f"Each output contributes its own term ({rule.formula}):")
    for unit in network.outputs:
        term = Quantity.loss_term(unit, sample)
        target = w.graph.target(unit, sample)
        w.say("Target ", Math(r"%s = %s" % (w.tex(target), w.shown(target))), ":")
        definition = w.graph.definitions[term]
        w.equation(w.quantity(term), w.tex(definition), w.substituted(definition), w.shown(w.symbol(term)))
    total = Quantity.loss(sample)
    definition = w.graph.definitions[total]
    terms = [Quantity.loss_term(unit, sample) for unit in network.outputs]
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
    graph, network = w.graph, w.network
    count = len(graph.samples)
    for sample in range(min(count, MAX_SHOWN_SAMPLES)):
        if network is not None:
            _forward(w, sample)
            _loss(w, sample)
        else:
            _graph_forward(w, sample)
    if count > MAX_SHOWN_SAMPLES:
        w.heading(f"Sample {MAX_SHOWN_SAMPLES}" if count == MAX_SHOWN_SAMPLES + 1
                  else f"Samples {MAX_SHOWN_SAMPLES} to {count - 1}", 3)
        w.say("The same computation for each of the other samples; its inputs, outputs and loss:")
        leaves = [q for q in graph.order if q.sample == 0 and graph.roles[q] == "input"]
        outputs = ([Quantity.out(unit, 0) for unit in network.outputs] if network is not None else [])
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


# ---- the backward pass -------------------------------------------------------------------
def _factor_name(w: _Writer, factor: Factor) -> str:
    return factor_latex(factor.of, factor.wrt, w.graph, factor.direct)


def _product_names(w: _Writer, term: Iterable[Factor]) -> str:
    return r" \cdot ".join(_factor_name(w, f) for f in term) or "1"


def _product_values(w: _Writer, term: Iterable[Factor]) -> str:
    return r" \cdot ".join(_operand(w.shown(f.expression)) for f in term) or "1"


def _explain_factor(w: _Writer, factor: Factor) -> None:
    """A factor's formula and value, once per document; a sum's parts first, then the sum."""
    if factor in w.explained:
        return
    w.explained.add(factor)
    name = _factor_name(w, factor)
    value = w.shown(factor.expression)
    if factor.is_local:
        formula = w.tex(factor.expression)
        w.equation(name, formula, w.substituted(factor.expression), value)
        return
    for term in factor.terms:
        for part in term:
            _explain_factor(w, part)
    names = [_product_names(w, term) for term in factor.terms]
    values, value = w.sum_side(factor.terms, factor.expression)
    if len(factor.terms) > 1:
        if _softmax_sum(w, factor):
            w.say("A sum over every output of the softmax layer, since each depends on ",
                  Math(w.quantity(factor.wrt)), ":")
        else:
            w.say("A sum over every ", "unit" if w.network is not None else "node", " that ",
                  Math(w.quantity(factor.wrt)), " feeds:")
    sides = [_joined(names, "+")]
    collapse = _collapse(w, factor)
    if collapse:
        formulas = [" ".join(r"\left(%s\right)" % w.tex(f.expression) for f in term) for term in factor.terms]
        if _softmax_sum(w, factor):
            w.say("Written out, the cross-output terms of the softmax collapse:")
        else:
            w.say("Written out, the terms simplify:")
        w.blocks.append(Display(_aligned(name, sides + [_joined(formulas, "+")] + collapse + [value])))
        w.say("Term by term, the same value:")
        sides = []
    sides += [_joined(values, "+"), value]
    w.blocks.append(Display(_aligned(name, sides)))


def _softmax_sum(w: _Writer, factor: Factor) -> bool:
    network = w.network
    return network is not None and factor.wrt.kind == "net" and not layer_activation(
        network, network.layers[network.layer_of(factor.wrt.name)].activation).elementwise


def _collapse(w: _Writer, factor: Factor) -> list[str]:
    """For an output unit's δ: the steps from the written-out terms to the engine's simplified form."""
    if not (factor.of.kind == "loss" and factor.wrt.kind == "net" and factor.wrt.name in w.graph.outputs):
        return []
    simplified = w.engine.simplified(factor.of, factor.wrt)
    if simplified == factor.expression or sp.count_ops(simplified) >= sp.count_ops(factor.expression):
        return []
    steps = []
    if w.graph.targets_form_a_distribution:
        out = w.symbol(Quantity.out(factor.wrt.name, factor.wrt.sample))
        collected = sp.collect(sp.expand(factor.expression), out)
        steps.append(w.tex(collected))
        total = " + ".join(w.tex(t) for t in w.graph.target_symbols(factor.wrt.sample))
        steps.append(r"%s \qquad \text{since } %s = 1" % (w.tex(simplified), total))
    else:
        steps.append(w.tex(simplified))
    steps.append(w.substituted(simplified))
    return steps


def _backward(w: _Writer, derivations: Sequence[Derivation]) -> None:
    w.heading("Backward pass")
    count = len(w.graph.samples)
    if count:
        how = "mean" if w.graph.training.reduction == "mean" else "sum"
        w.say(f"E is the {how} of the samples' losses, so ∂E/∂p is the {how} of the samples' gradients ∂E",
              Math("^{(s)}"), "/∂p. Each sample's gradient is the chain rule through its own nodes; the first "
              f"{'sample' if min(count, MAX_SHOWN_SAMPLES) == 1 else str(min(count, MAX_SHOWN_SAMPLES)) + ' samples'} "
              "in full, then every sample's gradient and their " + how + ".")
    else:
        w.say("For every parameter p, the chain rule from the loss down to p. Each factor is given with its "
              "formula, the numbers substituted and its value; a factor already worked out is not repeated.")
    # Backpropagation's own order: the output layer (the last node) first, so each δ is worked out
    # before it is reused.
    ordered = sorted(derivations, key=lambda d: -_depth(w, d.wrt))
    for sample in range(min(count, MAX_SHOWN_SAMPLES)) if count else (-1,):
        if sample >= 0:
            w.heading(f"Sample {sample}", 3)
        for derivation in ordered:
            _gradient(w, w.engine.derivative(Quantity.loss(sample), derivation.wrt) if sample >= 0 else derivation)
    if count:
        _sample_gradients(w, ordered)
    if w.network is not None:
        _gradient_matrices(w, derivations)


def _sample_gradients(w: _Writer, derivations: Sequence[Derivation]) -> None:
    """Every sample's gradient of every parameter, and their mean (or sum): ∂E/∂p."""
    count = len(w.graph.samples)
    shown = list(range(count)) if count <= MAX_SAMPLE_COLUMNS else list(range(MAX_SAMPLE_COLUMNS - 1)) + [count - 1]
    header = [("parameter",)] + [(Math(r"\partial E^{(%d)}/\partial p" % s),) for s in shown]
    if len(shown) < count:
        header.insert(len(shown), ("…",))
    header.append((Math(r"\partial E/\partial p"),))
    rows = []
    for derivation in derivations:
        values = [(Math(w.shown(w.engine.derivative(Quantity.loss(s), derivation.wrt).compact)),) for s in shown]
        if len(shown) < count:
            values.insert(len(shown) - 1, ("…",))
        rows.append(((Math(w.quantity(derivation.wrt)),),) + tuple(values) + ((Math(w.shown(derivation.compact)),),))
    w.heading("Every sample's gradient", 3)
    w.blocks.append(Table(tuple(header), tuple(rows)))


def _depth(w: _Writer, parameter: Quantity) -> int:
    """How far along the graph a parameter enters: its layer, or the position of the last node it feeds."""
    if w.network is not None:
        return w.network.parameter(parameter.name).layer_index
    return max((w.graph.position[u] for u, _ in w.graph.consumers[parameter]), default=0)


def _gradient(w: _Writer, derivation: Derivation) -> None:
    name = factor_latex(derivation.of, derivation.wrt, w.graph)
    whose = "the loss" if derivation.of.sample < 0 else f"sample {derivation.of.sample}'s loss"
    w.heading((f"Gradient of {whose} with respect to ", Math(w.quantity(derivation.wrt))), 3 if derivation.of.sample < 0 else 4)
    chain = derivation.chain
    w.blocks.append(Display(_aligned(name, [_joined([_product_names(w, term) for term in chain], "+")])))
    for term in chain:
        for factor in term:
            _explain_factor(w, factor)
    values, value = w.sum_side(chain, derivation.compact)
    w.blocks.append(Display(_aligned(name, [_joined(values, "+"), value])))
    _paths(w, derivation, name)


def _paths(w: _Writer, derivation: Derivation, name: str) -> None:
    count = derivation.path_count
    if count <= 1:
        return
    if count > MAX_LISTED_PATHS:
        w.say(f"{count} paths lead from the parameter to the loss; their products sum to the value above.")
        return
    paths = derivation.paths()
    *path_values, value = w.shown_alike([sp.Mul(*[f.expression for f in path]) for path in paths]
                                        + [derivation.compact])
    listed = [(number, path, shown) for number, (path, shown) in enumerate(zip(paths, path_values), start=1)
              if shown != "0"]
    w.say(f"{count} paths lead from the parameter to the loss, each a product of local derivatives; "
          "their sum is the gradient.")
    _zero_paths(w, [path for path, shown in zip(paths, path_values) if shown == "0"])
    if not listed:
        return
    w.say("The paths, and their sum:" if len(listed) == count else f"The other {len(listed)}, and their sum:")
    lines = []
    for number, path, shown in listed:
        route = _joined([w.quantity(path[-1].wrt)] + [w.quantity(f.of) for f in reversed(path)], r"\to",
                        LINE_WIDTH - visible_width(r"\text{path %d: }" % number))
        factors = _joined([_operand(w.shown(f.expression)) for f in reversed(path)], r"\cdot")
        lines += [r"&\text{path %d: } %s" % (number, route[0])] + [r"&\qquad %s" % line for line in route[1:]]
        factors[-1] += f" = {shown}"
        lines += [r"&\qquad %s" % line for line in factors]
    w.blocks.append(Display("\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"))
    w.blocks.append(Display(_aligned(name, [_joined([_operand(shown) for _, _, shown in listed], "+"), value])))


def _zero_paths(w: _Writer, paths: Sequence[tuple[Factor, ...]]) -> None:
    """Paths that are exactly 0, in one sentence per factor that makes them so (a ReLU that is off)."""
    by_factor: dict[Factor, int] = {}
    for path in paths:
        zero = next((f for f in reversed(path) if w.value(f.expression) == 0), None)
        if zero is not None:
            by_factor[zero] = by_factor.get(zero, 0) + 1
    for factor, count in by_factor.items():
        reason = ": a ReLU that is off" if factor.expression.has(sp.Heaviside) else ""
        w.say(f"{count} path{'s have' if count > 1 else ' has'} the factor ", Math(_factor_name(w, factor) + " = 0"),
              f"{reason}; {'they add' if count > 1 else 'it adds'} nothing to the sum.")
    rest = len(paths) - sum(by_factor.values())
    if rest:
        w.say(f"{rest} more path{'s' if rest > 1 else ''} {'are' if rest > 1 else 'is'} 0: {'their' if rest > 1 else 'its'} "
              "factors cancel exactly; they add nothing to the sum.")


def _gradient_matrices(w: _Writer, derivations: Sequence[Derivation]) -> None:
    by_name = {d.wrt.name: d for d in derivations if d.wrt.kind == "param"}
    w.say("The gradient, layer by layer, in the layout of the weights:")
    for index, layer in enumerate(w.network.layers):
        names = [n for row in layer.weight_names for n in row]
        if not all(n in by_name for n in names):
            continue
        matrix = w.weight_matrix(index, lambda n: w.shown(by_name[n].compact))
        w.equation(r"\frac{\partial E}{\partial W^{(%d)}}" % (index + 1), matrix)


# ---- update ------------------------------------------------------------------------------
def _update(w: _Writer, derivations: Sequence[Derivation], velocity: Optional[Mapping] = None) -> Optional[Point]:
    """The update of every parameter, and the loss after it; the point the update reaches (None without a
    learning rate)."""
    network, graph = w.network, w.graph
    w.heading("Update")
    if graph.learning_rate is None:
        w.say("The file gives no training.learning_rate, so no update is shown.")
        return None
    rate = w.shown(rational(graph.learning_rate))
    if graph.training.momentum:
        updated = _momentum_update(w, derivations, velocity or {})
    else:
        updated = updated_parameters(w.engine, digits=40 + w.places)
    after = point_of(w.graph, updated)
    if not graph.training.momentum:
        w.say("One step of gradient descent, ", Math(r"p^{+} = p - \eta \frac{\partial E}{\partial p}"),
              ", with the exact gradient (not the rounded one shown):")
    for derivation in derivations if not graph.training.momentum else ():
        parameter = derivation.wrt.name
        symbol = w.parameter_symbol(parameter)
        new = w.parameter_value(parameter, after)
        if parameter in graph.frozen:
            w.equation(f"{{{symbol}}}^{{+}}", symbol, new)
            continue
        w.equation(
            f"{{{symbol}}}^{{+}}",
            r"%s - \eta %s" % (symbol, factor_latex(derivation.of, derivation.wrt, w.graph)),
            r"%s - %s \cdot %s" % (w.parameter_value(parameter), rate, _operand(w.shown(derivation.compact))),
            new,
        )
    if graph.frozen:
        w.say("Biases keep their values: the file sets update_biases = false.")
    if network is None or graph.samples:
        if network is not None:
            for index in range(len(network.layers)):
                w.equation(r"W^{(%d)+}" % (index + 1), w.weight_matrix(index, lambda n: w.parameter_value(n, after)))
        _graph_loss_after(w, after)
        return after
    for index in range(len(network.layers)):
        w.equation(r"W^{(%d)+}" % (index + 1), w.weight_matrix(index, lambda n: w.parameter_value(n, after)))
    w.heading("Loss after the update", 3)
    w.say("The forward pass again, with the new parameters:")
    for unit in network.outputs:
        out, term = Quantity.out(unit), Quantity.loss_term(unit)
        w.equation(f"{{{w.quantity(out)}}}^{{+}}", w.shown(w.symbol(out), after))
        definition = w.graph.definitions[term]
        w.equation(f"{{{w.quantity(term)}}}^{{+}}", w.substituted(definition, after), w.shown(w.symbol(term), after))
    terms = [Quantity.loss_term(o) for o in network.outputs]
    *values, total = w.shown_alike([w.symbol(t) for t in terms] + [w.symbol(Quantity.loss())], after)
    w.equation("E^{+}", " + ".join(f"{{{w.quantity(t)}}}^{{+}}" for t in terms), " + ".join(map(_operand, values)),
               total)
    _loss_change(w, after)
    return after


def _momentum_update(w: _Writer, derivations: Sequence[Derivation], velocity: Mapping) -> dict:
    """Each parameter's velocity and update under classical momentum, numbers substituted; the parameters after."""
    graph = w.graph
    mu, rate = rational(graph.training.momentum), w.shown(rational(graph.learning_rate))
    updated, velocities = momentum_update(w.engine, velocity, 40 + w.places)
    w.say("One step of gradient descent with momentum, ", Math(r"v^{+} = \mu v + \frac{\partial E}{\partial p}, "
          r"\; p^{+} = p - \eta v^{+}"), f" (μ = {w.shown(mu)}; v is the last update's, 0 before the first), "
          "with the exact gradient (not the rounded one shown):")
    for derivation in derivations:
        parameter = derivation.wrt.name
        symbol = w.parameter_symbol(parameter)
        if parameter in graph.frozen:
            continue
        v_before = velocity.get(parameter, sp.Integer(0))
        w.equation(r"v^{+}_{%s}" % symbol, r"\mu v_{%s} + %s" % (symbol, factor_latex(derivation.of, derivation.wrt, graph)),
                   r"%s \cdot %s + %s" % (w.shown(mu), _operand(w.shown(v_before)), _operand(w.shown(derivation.compact))),
                   w.shown(velocities[parameter]))
        w.equation(f"{{{symbol}}}^{{+}}", r"%s - \eta v^{+}_{%s}" % (symbol, symbol),
                   r"%s - %s \cdot %s" % (w.parameter_value(parameter), rate, _operand(w.shown(velocities[parameter]))),
                   w.shown(updated[parameter]))
    return updated


def _graph_loss_after(w: _Writer, after: Point) -> None:
    w.heading("Loss after the update", 3)
    graph = w.graph
    if graph.samples:
        w.say("The forward pass of every sample again, with the new parameters; each sample's loss:")
        for sample in range(len(graph.samples)):
            loss = Quantity.loss(sample)
            w.equation(f"{{{w.quantity(loss)}}}^{{+}}", w.shown(w.symbol(loss), after))
        w.equation("E^{+}", w.substituted(graph.definitions[Quantity.loss()], after),
                   w.shown(w.symbol(Quantity.loss()), after))
    else:
        w.say("The forward pass again, with the new parameters:")
        for quantity in graph.order:
            if quantity in graph.definitions:
                w.equation(f"{{{w.quantity(quantity)}}}^{{+}}", w.substituted(graph.definitions[quantity], after),
                           w.shown(w.symbol(quantity), after))
    _loss_change(w, after)


def _loss_change(w: _Writer, after: Point) -> None:
    before = w.value(w.symbol(Quantity.loss()))
    now = w.value(w.symbol(Quantity.loss()), after)
    change = "fell" if now < before else "rose" if now > before else "stayed"
    w.say(f"The loss {change} by ", Math(number_latex(abs(now - before), w.places)), " from ",
          Math(w.shown(w.symbol(Quantity.loss()))), ".")


def _summary(w: _Writer, derivations: Sequence[Derivation], after: Optional[Point], check) -> list[Paragraph]:
    """What a reader sees first: the loss and what one step does to it; the largest gradient and the proof."""
    loss = w.symbol(Quantity.loss())
    first = ["The loss is ", Math("E = " + w.shown(loss))]
    if after is not None:
        first += [" and one step of gradient descent (", Math(r"\eta = " + w.shown(rational(w.graph.learning_rate))),
                  ") brings it to ", Math("E^{+} = " + w.shown(loss, after))]
    largest = max(derivations, key=lambda d: abs(w.value(d.compact)), default=None)
    second: list = []
    if largest is not None:
        second = [f"The largest of the {len(derivations)} gradients is " if len(derivations) > 1 else "The gradient is ",
                  Math(factor_latex(largest.of, largest.wrt, w.graph) + " = " + w.shown(largest.compact))]
    if check is not None:
        second.append("; every one " + ("agrees" if check.passed else "does NOT agree")
                      + f" with finite differences at {check.digits} digits")
    return [Paragraph(tuple(first + ["."])), Paragraph(tuple(second + ["."]))] if second else [Paragraph(tuple(first + ["."]))]


def _verification(w: _Writer, check) -> None:
    if check is None:
        return
    w.heading("Verification")
    worst = max((row.rel_error for row in check.rows), default=0)
    status = "agrees" if check.passed else "DOES NOT agree"
    kinks = [row.name for row in check.rows if row.status == "kink"]
    # A bound, not the measured difference: the last digits of a finite difference are noise, and a
    # kept example must read the same on every machine.
    bound = check.digits - 5
    within = "below" if worst < mpmath.mpf(10) ** -bound else "NOT below"
    w.say(f"Every gradient above {status} with an independent central finite difference at {check.digits} "
          f"digits (every relative difference {within} 1e-{bound}).")
    if kinks:
        w.say(f"At a kink (a ReLU, |x|, max or min at exactly its switch) for: {', '.join(kinks)}; the derivative "
              "there is a convention (one of the one-sided derivatives, which the check confirmed), so central "
              "differences alone cannot confirm it.")


def require_explainable(engine: Engine) -> None:
    """Refuse, before any work, a network whose worked example nobody could read (or we could write)."""
    count = len(engine.graph.parameters())
    if count > MAX_PARAMETERS:
        raise InputError(
            f"a worked example writes out every number; this network has {count} parameters "
            f"(at most {MAX_PARAMETERS})", place="network")
    paths = engine.most_paths()
    if paths > MAX_WRITTEN_PATHS:
        raise InputError(
            f"a worked example writes out every path; a gradient of this network sums {paths:,} paths "
            f"(at most {MAX_WRITTEN_PATHS}); derive writes its gradients in δ form", place="network")


def explain(engine: Engine, places: int = 4, check=None, title: str = "", velocity: Optional[Mapping] = None,
            summary: bool = True) -> Document:
    """The whole worked example for ``engine``'s network at its numbers (``velocity``: under momentum, each
    parameter's velocity of the update before), opening with a two-line summary (unless ``summary`` is False).
    ``engine`` may also be anything an :class:`Engine` takes: a Model, a Network, a graph or a file's path."""
    if not isinstance(engine, Engine):
        engine = Engine(engine)
    whole_number(places, 1, 30, "places")
    require_explainable(engine)
    network = engine.network
    engine.point.numeric(places + 42)  # undefined values (ln 0) fail here, as one line
    w = _Writer(engine, places)
    derivations = engine.gradients()
    if network is None:
        _graph_architecture(w)
    else:
        _architecture(w)
    if engine.graph.samples:
        _samples(w)
    elif network is None:
        _graph_forward(w)
    else:
        _forward(w)
        _loss(w)
    _backward(w, derivations)
    after = _update(w, derivations, velocity)
    _verification(w, check)
    if summary:
        w.blocks[:0] = _summary(w, derivations, after, check)
    if network is None:
        heading = title or engine.graph.title or "Backpropagation, step by step, through a graph of formulas"
    else:
        sizes = "-".join(str(len(layer.units)) for layer in network.layers)
        heading = title or engine.graph.title or f"Backpropagation, step by step: a {len(network.inputs)}-{sizes} network"
    return Document(heading, tuple(w.blocks))


#: Most steps ``explain --steps`` writes out.
MAX_EXPLAINED_STEPS = 50


def explain_steps(graph, steps: int, places: int = 4, title: str = "",
                  progress: Optional[Callable[[int], None]] = None) -> Document:
    """Each of ``steps`` training steps written out in turn: forward, backward, update, from the parameters
    the steps before reached (computed as ``symbackprop train`` computes them, every digit certified,
    and taken to ``places`` + 40 digits). ``progress(done)`` is called as each step is written."""
    import dataclasses

    from ..training.train import train

    whole_number(steps, 1, MAX_EXPLAINED_STEPS, "steps")
    if graph.learning_rate is None:
        raise InputError("steps need training.learning_rate", place="training.learning_rate")
    if graph.training.method != "batch" and graph.samples:
        return _explain_passes(graph, steps, places, title, progress)
    runs = train(graph, steps=steps - 1, digits=places + 40)
    blocks: list = []
    heading = ""
    velocity: dict = {}
    for before, run in zip([None] + runs, runs):
        values = dict(graph.values)
        for name, value in run.parameters.items():
            values[graph.symbols[Quantity.param(name)]] = value if isinstance(value, Fraction) else Fraction(
                mpmath.nstr(value, places + 40, min_fixed=-1, max_fixed=1))
        if before is not None and graph.training.momentum:  # v of the last update: p⁺ = p − η·v
            with mpmath.workdps(places + 40):
                velocity = {name: sp.Float((to_mpf(before.parameters[name]) - to_mpf(run.parameters[name]))
                                           / to_mpf(graph.learning_rate),
                                           places + 40) for name in run.parameters}
        document = explain(Engine(dataclasses.replace(graph, values=values)), places, title=title, velocity=velocity,
                           summary=False)
        heading = heading or document.title
        parts = list(document.blocks)
        if run.step:
            first = next(i for i, block in enumerate(parts) if isinstance(block, Heading) and block.level == 2
                         and "Forward pass" in str(block.text))
            parts = [Paragraph((f"The parameters after {run.step} update(s), as the step before left them "
                                f"(computed to {places + 40} digits, every one certified):",))] + parts[first:]
        blocks.append(Heading(f"Step {run.step + 1}", 2))
        blocks += [dataclasses.replace(block, level=block.level + 1) if isinstance(block, Heading) else block
                   for block in parts]
        if progress is not None:
            progress(run.step + 1)
    return Document(heading if steps == 1 else f"{heading}: {steps} steps", tuple(blocks))


def _explain_passes(graph, steps: int, places: int, title: str, progress=None) -> Document:
    """Stochastic or minibatch training: each step is a pass, each update of it the worked example of its
    batch of samples (their mean or summed loss) from the parameters the update before left."""
    import dataclasses

    from ..frontends.model import graph_of_samples
    from ..training.train import batches

    network = graph.network
    template = graph.one_sample
    parameters = {name: template.values[template.symbols[Quantity.param(name)]] for name in template.parameters()}
    velocity: dict = {}
    blocks: list = []
    heading = title or graph.title
    for step in range(steps):
        blocks.append(Heading(f"Step {step + 1}", 2))
        for number, group in enumerate(batches(len(graph.samples), graph.training), start=1):
            if network is not None:  # a dense network keeps its layers in the worked example
                rows = [network.samples[i] for i in group]
                if len(rows) == 1:
                    (inputs, targets), = rows
                    part = dataclasses.replace(network, samples=(), data=inputs,
                                               loss=dataclasses.replace(network.loss, targets=targets))
                else:
                    part = dataclasses.replace(network, samples=tuple(rows))
                engine = Engine(part.with_parameter_values(parameters))
            else:
                values = {**template.values, **{template.symbols[Quantity.param(n)]: v for n, v in parameters.items()}}
                engine = Engine(graph_of_samples(dataclasses.replace(template, values=values),
                                                 [graph.samples[i] for i in group]))
            document = explain(engine, places, title=title, velocity=velocity, summary=False)
            heading = heading or document.title
            names = ", ".join(str(i) for i in group)
            blocks.append(Heading(f"Update {number}: sample{'s' if len(group) > 1 else ''} {names}", 3))
            blocks += [dataclasses.replace(block, level=block.level + 2) if isinstance(block, Heading) else block
                       for block in document.blocks]
            updated, velocity = momentum_update(engine, velocity, places + 40)
            parameters = {name: Fraction(str(sp.Float(value, places + 40))) if not value.is_Rational
                          else as_fraction(value) for name, value in updated.items()}
        if progress is not None:
            progress(step + 1)
    return Document(f"{heading}: {steps} steps" if heading else f"{steps} steps", tuple(blocks))


def explain_matrix(engine: Engine, places: int = 4, check=None, title: str = "") -> Document:
    """The worked example in matrix notation: W[l] is n[l]×n[l−1] and each sample a column (the notation
    of the lecture notes in seeds 003 and 004), every matrix with its numbers."""
    from ..training.matrix import matrix_form
    from .results import matrix_equations

    whole_number(places, 1, 30, "places")
    require_explainable(engine)
    engine.point.numeric(places + 42)
    form = matrix_form(engine, digits=places + 30, convention="column")
    w = _Writer(engine, places)
    network, graph = w.network, w.graph
    show = lambda rows: _bmatrix([[number_latex(sp.Float(v, places + 30), places) for v in row] for row in rows])
    weights = lambda index, value: _bmatrix([[value(name) for name in row] for row in network.layers[index].weight_names])
    _architecture(w)
    w.say("In matrix form: ", Math(r"W^{[l]}"), " has a row per unit and a column per input of the layer (n",
          Math("^{[l]}"), " × n", Math("^{[l-1]}"), "), and ", Math("X, Z^{[l]}, A^{[l]}"),
          f" have a column per sample (m = {form.samples}).")
    w.heading("Forward pass in matrix form")
    w.equation("X", show(form.X))
    for layer, matrix in zip(network.layers, form.layers):
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
        for index in range(len(network.layers)):
            l = index + 1
            w.equation("W^{[%d]+}" % l, r"W^{[%d]} - \eta\, dW^{[%d]}" % (l, l),
                       weights(index, lambda n: w.parameter_value(n, after)))
    _verification(w, check)
    sizes = "-".join(str(len(layer.units)) for layer in network.layers)
    heading = title or engine.graph.title or f"Backpropagation in matrix form: a {len(network.inputs)}-{sizes} network"
    return Document(heading, tuple(w.blocks))


def _graph_architecture(w: _Writer) -> None:
    graph = w.graph
    w.heading("The graph")
    names = {role: [q for q in graph.order if graph.roles[q] == role] for role in ("input", "parameter", "node")}
    w.say(f"Inputs {', '.join(q.name for q in names['input']) or 'none'}; parameters "
          f"{', '.join(q.name for q in names['parameter'])}; {len(names['node'])} node(s), each a formula of "
          "earlier ones; the loss E.")
    if graph.learning_rate is not None:
        w.say("Learning rate ", Math(r"\eta = %s" % w.shown(rational(graph.learning_rate))), ".")
    w.say(f"Numbers are computed exactly and shown rounded to {w.places} decimals "
          "(tiny ones in scientific notation); no shown number is computed from another rounded one.")


def _graph_forward(w: _Writer, sample: int = -1) -> None:
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
