"""The writer of a worked example: the blocks of a document, numbers rounded from exact values, and the
names and values of chain-rule factors, for the sections of :mod:`.explain` and :mod:`.forward`.

>>> number_latex(sp.Rational(-1, 3), 4)
'-0.3333'
"""
from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

import sympy as sp

from ..engine.chain import Engine, Factor
from ..engine.values import Point
from ..numbers import format_places
from ..quantity import Quantity
from .document import Display, Heading, Paragraph
from .latex_layout import LINE_WIDTH, PAGE_WIDTH, _fitted, visible_width
from .printing import factor_latex, latex, quantity_latex, substituted_latex


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
        self.layout = engine.graph.layout
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
        # every digit proved; a sum that cancels is exactly 0 where SymPy proves it (see Point.evalf)
        return point.evalf(expression, 30 + self.places)

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
        layer = self.layout.layers[index]
        sources = self.layout.sources(index)
        if self.layout.convention == "row":
            rows = [[cell(layer.weight_names[j][i]) for j in range(len(layer.units))] for i in range(len(sources))]
        else:
            rows = [[cell(layer.weight_names[j][i]) for i in range(len(sources))] for j in range(len(layer.units))]
        return _bmatrix(rows)

    def vector(self, items: Sequence[str]) -> str:
        """A vector in the convention's orientation: a row for row, a column for column."""
        if self.layout is None or self.layout.convention == "row":
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


# ---- the backward pass -------------------------------------------------------------------
def _factor_name(w: _Writer, factor: Factor) -> str:
    return factor_latex(factor.of, factor.wrt, w.graph, factor.direct)


def _product_names(w: _Writer, term: Iterable[Factor]) -> str:
    return r" \cdot ".join(_factor_name(w, f) for f in term) or "1"


def _product_values(w: _Writer, term: Iterable[Factor]) -> str:
    return r" \cdot ".join(_operand(w.shown(f.expression)) for f in term) or "1"
