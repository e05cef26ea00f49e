r"""Printing expressions and quantities: plain text, Unicode, and LaTeX.

Printers never differentiate: they receive expressions and factors made by the
engine and only render them. The LaTeX printer is SymPy's with two changes:
derivatives always use ∂, and symbols get readable names
(``\mathrm{net}_{h1}``, ``w_{5}``, ``w^{(1)}_{11}`` for generated names).

>>> import sympy as sp
>>> latex_symbol_name("w5"), latex_symbol_name("net_h1"), latex_symbol_name("delta_o1"), latex_symbol_name("alpha")
('w_{5}', '\\mathrm{net}_{h1}', '\\delta_{o1}', '\\alpha')
>>> x, y = sp.symbols("x y")
>>> latex(sp.Derivative(x**2, x))
'\\frac{\\partial}{\\partial x} x^{2}'
"""
from __future__ import annotations

import re
from typing import Mapping, Optional

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..graph import SymbolicGraph
from ..quantity import Quantity


_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
    "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
}
_NODE_PREFIX = {"net": r"\mathrm{net}", "out": r"\mathrm{out}", "delta": r"\delta", "t": "t", "E": "E"}
_TRAILING_DIGITS = re.compile(r"([A-Za-z]+?)(\d+)")


def _base_latex(base: str) -> str:
    if base in _GREEK:
        return "\\" + base
    if len(base) == 1:
        return base
    return r"\mathrm{%s}" % base.replace("_", r"\_")  # a name may end in "_" ("w_"): escaped, never a subscript


def _subscript(text: str) -> str:
    return text.replace("_", r"\_")


_SAMPLE = re.compile(r"(.+)\[(\d+)\]")


def latex_symbol_name(name: str) -> str:
    r"""LaTeX for a symbol name: node symbols, parameters, inputs and targets read like a textbook; a
    node of sample 2 (``out_h1[2]``) carries the sample as a superscript.

    >>> print(latex_symbol_name("out_h1"), latex_symbol_name("out_h1[2]"), latex_symbol_name("x1[0]"))
    \mathrm{out}_{h1} {\mathrm{out}_{h1}}^{(2)} {x_{1}}^{(0)}
    """
    match = _SAMPLE.fullmatch(name)
    if match:
        return "{%s}^{(%s)}" % (latex_symbol_name(match[1]), match[2])
    prefix, _, rest = name.partition("_")
    if rest and prefix in _NODE_PREFIX:
        return "%s_{%s}" % (_NODE_PREFIX[prefix], _subscript(rest))
    if rest:
        return "%s_{%s}" % (_base_latex(prefix), rest.replace("_", ","))
    match = _TRAILING_DIGITS.fullmatch(name)
    if match:
        return "%s_{%s}" % (_base_latex(match[1]), match[2])
    return _base_latex(name)


def generated_names(graph: SymbolicGraph) -> dict[str, str]:
    """LaTeX for default parameter names: ``w^{(l)}_{ab}`` indexed as the file's matrix is."""
    layout = graph.layout
    names: dict[str, str] = {}
    if layout is None:
        return names
    for index, layer in enumerate(layout.layers):
        sources = layout.sources(index)
        for j, unit in enumerate(layer.units):
            for i, source in enumerate(sources):
                if layer.weight_names[j][i] == f"w_{source}_{unit}":
                    a, b = (i + 1, j + 1) if layout.convention == "row" else (j + 1, i + 1)
                    sep = "," if max(a, b) > 9 else ""
                    names[layer.weight_names[j][i]] = "w^{(%d)}_{%d%s%d}" % (index + 1, a, sep, b)
        if layer.bias.mode == "shared" and layer.bias.names[0] == f"b_{layer.name}":
            names[layer.bias.names[0]] = "b^{(%d)}" % (index + 1)
        if layer.bias.mode == "per_unit":
            for j, unit in enumerate(layer.units):
                if layer.bias.names[j] == f"b_{unit}":
                    names[layer.bias.names[j]] = "b^{(%d)}_{%d}" % (index + 1, j + 1)
    return names


class _Memoised:
    """A printer that prints each distinct subexpression once.

    A closed form shares its subexpressions (a hidden unit's output appears in every unit after
    it); printing the tree again for each appearance makes the time grow far faster than the text.
    """

    def _print(self, expr, **kwargs):
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        memo = self.__dict__.setdefault("_memo", {})
        if expr not in memo:
            memo[expr] = super()._print(expr)
        return memo[expr]


class _TextPrinter(_Memoised, StrPrinter):
    pass


class SymbackpropLatexPrinter(_Memoised, LatexPrinter):
    """SymPy's LaTeX printer with ∂ always, and our symbol names."""

    def __init__(self, settings: Optional[dict] = None, names: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(settings or {})
        self._names = dict(names or {})

    def _print_Symbol(self, expr, style="plain"):
        if expr.name in self._names:
            return self._names[expr.name]
        return latex_symbol_name(expr.name)

    def _print_Derivative(self, expr):
        # SymPy writes d for an expression of one variable; a partial derivative is always ∂ here.
        variables = []
        for variable, count in expr.variable_count:
            name = self._print(variable)
            variables.append(r"\partial %s" % name if count == 1 else r"\partial %s^{%d}" % (name, count))
        total = sum(count for _, count in expr.variable_count)
        top = r"\partial" if total == 1 else r"\partial^{%d}" % total
        return r"\frac{%s}{%s} %s" % (top, " ".join(variables), self.parenthesize(expr.expr, PRECEDENCE["Mul"], strict=True))

    def _print_Heaviside(self, expr, exp=None):
        body = r"H\left(%s\right)" % self._print(expr.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


def latex_printer(graph: Optional[SymbolicGraph] = None) -> SymbackpropLatexPrinter:
    """A LaTeX printer with the graph's generated parameter names, to share across one document."""
    return SymbackpropLatexPrinter(names=generated_names(graph) if graph is not None else {})


def latex(expr: sp.Expr, graph: Optional[SymbolicGraph] = None) -> str:
    """LaTeX for an expression, with the graph's generated parameter names when given."""
    return latex_printer(graph).doprint(expr)


def substituted_latex(expr: sp.Expr, shown: Mapping[str, str], graph: Optional[SymbolicGraph] = None) -> str:
    r"""LaTeX for ``expr`` with symbols written as the given numbers, in the same order as its formula.

    The expression is not changed, only how its symbols print, so the numbers
    line up term by term with the symbolic line above them.

    >>> w, x, b = sp.symbols("w1 i1 b1")
    >>> substituted_latex(w * x + b, {"w1": "0.15", "i1": "0.05", "b1": r"\left(-0.35\right)"})
    '\\left(-0.35\\right) + 0.05 \\cdot 0.15'
    """
    names = generated_names(graph) if graph is not None else {}
    names.update(shown)
    return SymbackpropLatexPrinter({"mul_symbol": "dot"}, names=names).doprint(expr)


def text_printer(sorted_terms: bool = True):
    """A plain-text printer that remembers what it printed: one per document, for many expressions
    that share parts (δ symbols, a node's derivative). Without ``sorted_terms`` a sum is printed in
    SymPy's own order of its terms (sorting a δ of thousands of terms took most of a large program's time).

    >>> x, y = sp.symbols("x y")
    >>> text_printer().doprint(x**2 + y + 1), text_printer(sorted_terms=False).doprint(x**2 + y + 1)
    ('x**2 + y + 1', '1 + y + x**2')
    """
    return _TextPrinter() if sorted_terms else _TextPrinter({"order": "none"})


def text(expr: sp.Expr) -> str:
    """Plain one-line text (SymPy's str form; symbols are ASCII names).

    >>> x = sp.Symbol("x")
    >>> text(sp.exp(x) / (1 + sp.exp(x)))
    'exp(x)/(exp(x) + 1)'
    """
    return _TextPrinter().doprint(expr)


def pretty(expr: sp.Expr) -> str:
    """Unicode two-dimensional rendering."""
    return sp.pretty(expr, use_unicode=True)


def quantity_latex(quantity: Quantity, graph: Optional[SymbolicGraph] = None) -> str:
    """LaTeX for a quantity: \\mathrm{out}_{h1}, w_{5}, E, E_{o1}; of sample 2, {E_{o1}}^{(2)}."""
    if quantity.kind in ("loss", "loss_term"):
        base = "E" if quantity.kind == "loss" else "E_{%s}" % _subscript(quantity.name)
        return base if quantity.sample < 0 else "{%s}^{(%d)}" % (base, quantity.sample)
    if graph is not None:
        return latex(graph.symbols[quantity], graph)
    if quantity.kind in ("net", "out"):
        return "%s_{%s}" % (_NODE_PREFIX[quantity.kind], _subscript(quantity.name))
    return latex_symbol_name(quantity.name)


def factor_latex(of: Quantity, wrt: Quantity, graph: Optional[SymbolicGraph] = None, direct: bool = False) -> str:
    r"""\frac{\partial E}{\partial \mathrm{out}_{o1}} for the factor ∂E/∂out(o1); a direct partial (of's formula
    alone, where of also depends on wrt through other nodes) is marked as such."""
    fraction = r"\frac{\partial %s}{\partial %s}" % (quantity_latex(of, graph), quantity_latex(wrt, graph))
    return r"\left.%s\right|_{\mathrm{direct}}" % fraction if direct else fraction
