"""Formulas from files, read by an allow-list: nothing in them is ever evaluated as code.

A formula is text such as ``sigmoid(w1*x1 + w2*x2 + b)`` or ``(y - t)^2 / 2``.
It is parsed by Python's :mod:`ast` (with ``^`` read as a power) and then
rebuilt node by node: only numbers (exact decimals), known names, ``+ - * /``,
powers, unary minus, parentheses and calls of the functions in
:data:`FUNCTIONS` are accepted. Everything else (attributes, subscripts,
lambdas, conditionals, strings, keywords) is refused with its column. Sizes are
bounded before parsing, and exponents and constants before SymPy computes them.

>>> x, w = sp.symbols("x w")
>>> parse_formula("sigmoid(w*x)^2 / 2", {"x": x, "w": w})
sigmoid(w*x)**2/2
>>> parse_formula("0.1*x", {"x": x})
x/10
>>> parse_formula("x.__class__", {"x": x})
Traceback (most recent call last):
...
symbackprop.frontends.formula.FormulaError: column 1: an attribute ('.__class__') is not allowed in a formula
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Callable, Mapping

import sympy as sp

from ..functions.activations import ACTIVATIONS
from ..functions.registry import TABLE
from ..numbers import NumberError, as_rational, parse_exact


#: Longest formula accepted, in characters.
MAX_FORMULA_LENGTH = 2000
#: Deepest nesting of parentheses and calls accepted.
MAX_FORMULA_DEPTH = 32
#: Largest literal exponent accepted (x^64): a power is written out, never multiplied out.
MAX_POWER = 64
#: Largest exponent SymPy may fold a formula into (x*x*…*x is x^600; (x^64)^64 would be x^4096); a Model's
#: numeric exponents obey it too.
MAX_FOLDED_POWER = 1024
#: Largest magnitude, as a power of ten, a constant part of a formula may reach.
MAX_CONSTANT_EXPONENT = 60


@dataclass(frozen=True)
class Function:
    """A function a formula may call: how many arguments, and the SymPy function it builds."""

    arity: tuple[int, int]  # least and most arguments
    build: Callable[..., sp.Expr]
    vectors: bool = False  # its arguments may be vectors, [a, b, c] (dot, softmax)


#: The functions a formula may call, by their name in a formula: the formula side of :mod:`..functions.registry`.
FUNCTIONS: dict[str, Function] = {entry.formula_name: Function(entry.arity, entry.build, entry.vectors)
                                  for entry in TABLE if entry.formula_name}


def formula_functions() -> dict[str, Function]:
    """The functions a formula may call: :data:`FUNCTIONS`, and every elementwise activation registered in
    Python (:func:`symbackprop.functions.activations.register_activation`), called with one argument.

    >>> "exp" in formula_functions(), "relu" in formula_functions(), "softmax" in formula_functions()
    (True, True, True)
    """
    table = dict(FUNCTIONS)
    for name, rule in ACTIVATIONS.items():
        if rule.elementwise and name not in table and name.isidentifier():
            # (its definition is an expression of its own: SymPy's evaluate flag has nothing to hold back)
            table[name] = Function((1, 1), lambda argument, evaluate=True, rule=rule: rule.forward(argument, None))
    return table


_ALLOWED_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ +-*/^().,[]\t")


class FormulaError(ValueError):
    """A formula that is refused; the message names the column (1-based) and the problem."""


def parse_formula(text: object, names: Mapping[str, sp.Expr], later: Mapping[str, str] = {}) -> sp.Expr:
    """The SymPy expression of ``text``, whose names must be keys of ``names``.

    ``later`` maps names that exist but may not be used here to the reason
    (a node defined further down: no cycles).
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula is a string, not {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"a formula is at most {MAX_FORMULA_LENGTH} characters; this one has {len(text)}")
    for column, character in enumerate(text, 1):
        if character not in _ALLOWED_CHARACTERS:
            raise FormulaError(f"column {column}: {character!r} is not allowed in a formula")
    _check_depth(text)
    if not text.strip():
        raise FormulaError("the formula is empty")
    source, columns = _python_source(text)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"column {columns[min(max((error.offset or 1) - 1, 0), len(columns) - 1)]}: "
                           f"syntax error ({error.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError("the formula cannot be read (too deeply nested)") from None
    return _Builder(source, columns, names, later).build(tree.body)


def _python_source(text: str) -> tuple[str, list[int]]:
    """``text`` in parentheses with ``^`` as ``**``, and for each of its characters the file's 1-based column."""
    source, columns = ["("], [1]
    for column, character in enumerate(text, 1):
        piece = "**" if character == "^" else character
        source.append(piece)
        columns.extend([column] * len(piece))
    source.append(")")
    columns.append(len(text))
    return "".join(source), columns


def _check_depth(text: str) -> None:
    depth = 0
    for column, character in enumerate(text, 1):
        if character == "(":
            depth += 1
            if depth > MAX_FORMULA_DEPTH:
                raise FormulaError(f"column {column}: nested deeper than {MAX_FORMULA_DEPTH} parentheses")
        elif character == ")":
            depth -= 1


class _Builder:
    def __init__(self, source: str, columns: list[int], names: Mapping[str, sp.Expr], later: Mapping[str, str]) -> None:
        self.source, self.columns, self.names, self.later = source, columns, names, later
        self.functions = formula_functions()

    def column(self, node: ast.AST) -> int:
        return self.columns[min(getattr(node, "col_offset", 0), len(self.columns) - 1)]

    def fail(self, node: ast.AST, problem: str):
        raise FormulaError(f"column {self.column(node)}: {problem}")

    def build(self, node: ast.AST) -> sp.Expr:
        # Chains of one operator (a 999-term sum, 600 factors, 1,500 minus signs) are read in a loop, so the
        # recursion goes only as deep as the parentheses and calls, which are bounded.
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            return self.chain(node, (ast.Add, ast.Sub))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            return self.chain(node, (ast.Mult, ast.Div))
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            negative = False
            while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
                negative ^= isinstance(node.op, ast.USub)
                node = node.operand
            operand = self.build(node)
            return -operand if negative else operand
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        self.fail(node, f"{_describe(node)} is not allowed in a formula")

    def name(self, node: ast.Name) -> sp.Expr:
        if node.id in self.names:
            return self.names[node.id]
        if node.id in self.later:
            self.fail(node, f"{node.id!r} {self.later[node.id]}")
        if node.id in self.functions:
            self.fail(node, f"{node.id!r} is a function: call it, as {node.id}(...)")
        self.fail(node, f"unknown name {node.id!r}")

    def number(self, node: ast.Constant) -> sp.Expr:
        if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
            self.fail(node, f"{_describe(node)} is not allowed in a formula")
        written = ast.get_source_segment(self.source, node) or ""
        try:
            value = parse_exact(written)
        except NumberError as error:
            self.fail(node, f"{written[:40]!r}: {error}")
        return as_rational(value)

    def call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            self.fail(node, "only a known function may be called, by its name")
        name = node.func.id
        if name not in self.functions:
            self.fail(node, f"unknown function {name!r} (known: {', '.join(self.functions)})")
        if node.keywords:
            self.fail(node, f"{name}() takes no keyword arguments")
        function = self.functions[name]
        low, high = function.arity
        if not low <= len(node.args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            self.fail(node, f"{name}() takes {wanted} argument(s), not {len(node.args)}")
        if any(isinstance(a, ast.Starred) for a in node.args):
            self.fail(node, "starred arguments are not allowed in a formula")
        arguments = [self.vector(a) if function.vectors and isinstance(a, ast.List) else self.build(a)
                     for a in node.args]
        if all(not isinstance(a, tuple) and a.is_Number for a in arguments) \
                or function.build in (sp.sqrt, sp.Max, sp.Min):
            return self.bounded(node, function.build(*arguments))
        try:
            # Written as the file wrote it: no simplification is attempted on a symbolic argument
            # (SymPy's checks for tanh(i·x) and the like cost a millisecond a call on large graphs).
            return function.build(*arguments, evaluate=False)
        except ValueError as error:  # a vector of the wrong shape
            self.fail(node, str(error))

    def vector(self, node: ast.List) -> tuple[sp.Expr, ...]:
        """A vector ``[a, b, c]``, an argument of dot() or softmax(): its components, none a vector."""
        if not node.elts:
            self.fail(node, "a vector has at least one component")
        for element in node.elts:
            if isinstance(element, (ast.List, ast.Starred)):
                self.fail(element, "a component of a vector is a number or an expression, not a vector")
        return tuple(self.build(element) for element in node.elts)

    def chain(self, node: ast.BinOp, operators: tuple) -> sp.Expr:
        """A left-leaning chain ``a + b - c + …`` or ``a * b / c * …``, built without recursing along it."""
        parts = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, operators):
            parts.append((node.op, node.right, node))
            node = node.left
        pieces = [self.build(node)]
        for operator, right, at in reversed(parts):
            other = self.build(right)
            if isinstance(operator, ast.Sub):
                other = -other
            elif isinstance(operator, ast.Div):
                if other == 0:
                    self.fail(at, "division by zero")
                other = 1 / other
            pieces.append(other)
        # one Add (or Mul) of every piece: adding them one by one re-sorts the sum each time (quadratic)
        whole = sp.Add(*pieces) if isinstance(parts[0][0], (ast.Add, ast.Sub)) else sp.Mul(*pieces)
        return self.bounded(parts[0][2], whole)

    def binary(self, node: ast.BinOp) -> sp.Expr:
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Add):
            return self.bounded(node, left + right)
        if isinstance(node.op, ast.Sub):
            return self.bounded(node, left - right)
        if isinstance(node.op, ast.Mult):
            return self.bounded(node, left * right)
        if isinstance(node.op, ast.Div):
            if right == 0:
                self.fail(node, "division by zero")
            return self.bounded(node, left / right)
        if isinstance(node.op, ast.Pow):
            return self.power(node, left, right)
        self.fail(node, f"the operator {_OPERATORS.get(type(node.op), type(node.op).__name__)} is not allowed "
                        "(use + - * / ^)")

    def power(self, node: ast.BinOp, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        if exponent.is_Number and abs(exponent) > MAX_POWER:
            self.fail(node, f"the exponent {exponent} is too large (at most {MAX_POWER} in absolute value)")
        if base.is_Number and exponent.is_Number:
            if base == 0 and exponent < 0:
                self.fail(node, "division by zero (0 to a negative power)")
            if base != 0 and abs(float(exponent)) * abs(math.log10(abs(float(base)))) > MAX_CONSTANT_EXPONENT:
                self.fail(node, f"the constant {base}^{exponent} is too large")
        if base.is_Pow and base.exp.is_Number and exponent.is_Number and abs(base.exp * exponent) > MAX_FOLDED_POWER:
            # SymPy folds (x^64)^64 into x^4096: bounded before it is built
            self.fail(node, f"the power of a power ({base})^{exponent} is a power {base.exp * exponent}: too large "
                            f"(at most {MAX_FOLDED_POWER} in absolute value)")
        return base**exponent

    def bounded(self, node: ast.AST, value: sp.Expr) -> sp.Expr:
        if value.is_Rational and value != 0:
            magnitude = abs(value)
            if magnitude > sp.Integer(10) ** MAX_CONSTANT_EXPONENT or magnitude < sp.Rational(1, 10**MAX_CONSTANT_EXPONENT):
                self.fail(node, f"a constant beyond 1e±{MAX_CONSTANT_EXPONENT}")
        return value


_OPERATORS = {ast.FloorDiv: "//", ast.Mod: "%", ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|",
              ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@"}


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"an attribute ('.{node.attr}')"
    if isinstance(node, ast.Subscript):
        return "a subscript"
    if isinstance(node, ast.List):
        return "a vector ([...]) outside dot() and softmax()"
    if isinstance(node, ast.Lambda):
        return "a lambda"
    if isinstance(node, ast.IfExp):
        return "a conditional"
    if isinstance(node, ast.Compare):
        return "a comparison"
    if isinstance(node, ast.BoolOp):
        return "a boolean operator"
    if isinstance(node, ast.Constant):
        return f"the constant {str(node.value)[:20]!r}"
    if isinstance(node, ast.Tuple):
        return "a tuple (a comma outside a call)"
    return f"a {type(node).__name__}"
