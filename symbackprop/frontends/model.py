"""A network written as SymPy expressions: the formula front-end of the general graph.

In Python, :class:`Model` takes SymPy symbols and expressions; a file's
``[graph]`` section gives the same model as formulas (read by
:mod:`symbackprop.frontends.formula`, never evaluated). Both become one
:class:`~symbackprop.graph.SymbolicGraph`: inputs and parameters are leaves,
each named node is a symbol with its definition over earlier ones, and the
loss ``E`` is the last node.

>>> import sympy as sp
>>> from symbackprop.functions.activations import sigmoid
>>> x, w, b, t = sp.symbols("x w b t")
>>> m = Model(inputs=[x], targets=[t], parameters={w: "0.5", b: "0.1"})
>>> h = m.node("h", sigmoid(w * x + b))
>>> m.loss((h - t) ** 2 / 2)
E
>>> m.data(inputs=["2"], targets=["1"])
>>> from symbackprop.engine.chain import Engine
>>> Engine(m).gradient("w").compact
h*x*(1 - h)*(h - t)
"""
from __future__ import annotations

import dataclasses
import keyword
import re
from fractions import Fraction
from typing import Iterable, Mapping, Optional, Sequence

import sympy as sp

from ..errors import InputError
from ..functions.activations import Absolute
from ..functions.evaluate import has_numeric_rule
from ..functions.update import Training
from ..graph import (MAX_FORMULA_SIZE, MAX_GRAPH_SAMPLES, Role, SymbolicGraph, check_graph_size, formula_size,
                     local_derivatives, reduced, too_many_samples)
from ..notebook import Displayable
from ..numbers import NumberError, as_fraction, as_rational, parse_exact
from ..quantity import Quantity, sampled
from .formula import FUNCTIONS, MAX_FOLDED_POWER


#: Most nodes (inputs, parameters and formulas together) a graph may have.
MAX_NODES = 20_000
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
#: Names a node may not take: the functions a formula calls, and the loss.
RESERVED = frozenset(FUNCTIONS) | {"E"}


def exact_number(value: object, place: str) -> Fraction:
    """An exact number from a string, an int, a Fraction or a SymPy rational; never a float."""
    if isinstance(value, bool):
        raise InputError("expected a number, got a boolean", place=place)
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, sp.Rational):
        return as_fraction(value)
    if isinstance(value, str):
        try:
            return parse_exact(value)
        except NumberError as error:
            raise InputError(str(error), place=place) from None
    if isinstance(value, float):
        raise InputError(f"{value!r} is a float: write it as a string ({str(value)!r}) so it stays exact", place=place)
    raise InputError(f"expected a number, got {type(value).__name__}", place=place)


def check_name(name: object, place: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = name if isinstance(name, str) else type(name).__name__
        raise InputError(f"{str(shown)[:40]!r} is not a name: a letter, then letters, digits or _ (at most 40)",
                         place=place)
    if name in RESERVED:
        raise InputError(f"{name!r} is reserved (a function or the loss); choose another name", place=place)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in ("True", "False", "None"):
        raise InputError(f"{name!r} is a word of the formula syntax, so no formula could read it; choose another "
                         "name", place=place)
    return name


def _listed_argument(value: object, name: str, what: str = "SymPy symbols (or names)", most: int = MAX_NODES) -> list:
    """A list given to :class:`Model`, or a sentence saying what was expected."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InputError(f"{name} is a list of {what}, not {type(value).__name__}", place=name)
    found = list(value)
    if len(found) > most:
        raise InputError(f"{len(found):,} entries; at most {most:,} are supported (as in files)", place=name)
    return found


class Model(Displayable):
    """A network as SymPy expressions: declare leaves, add nodes in order, give the loss and the numbers."""

    def __init__(self, inputs: Iterable[sp.Symbol] = (), targets: Iterable[sp.Symbol] = (),
                 parameters: Mapping[sp.Symbol, object] | Iterable[sp.Symbol] = (), title: str = "") -> None:
        inputs, targets = _listed_argument(inputs, "inputs"), _listed_argument(targets, "targets")
        if not isinstance(parameters, Mapping):
            parameters = _listed_argument(parameters, "parameters")
        if not isinstance(title, str):
            raise InputError(f"title is a string, not {type(title).__name__}", place="title")
        self._symbols: dict[str, sp.Symbol] = {}
        self._roles: dict[str, Role] = {}
        self._definitions: dict[str, sp.Expr] = {}
        self._targets: list[sp.Symbol] = []
        self._values: dict[sp.Symbol, Fraction] = {}
        self._loss: Optional[sp.Expr] = None
        self._samples: tuple[dict[sp.Symbol, Fraction], ...] = ()
        self._reduction = "mean"
        self.learning_rate: Optional[Fraction] = None
        self._fixed: frozenset[str] = frozenset()
        self.title = title
        for symbol in inputs:
            self._declare(symbol, "input", "inputs")
        for symbol in targets:
            self._declare(symbol, "target", "targets")
            self._targets.append(symbol)
        values = parameters if isinstance(parameters, Mapping) else dict.fromkeys(parameters)
        for symbol, value in values.items():
            self._declare(symbol, "parameter", "parameters")
            if value is not None:
                self._values[symbol] = exact_number(value, f"parameters.{symbol}")

    def _declare(self, symbol: object, role: Role, place: str) -> sp.Symbol:
        if isinstance(symbol, str):
            symbol = sp.Symbol(symbol)
        if not isinstance(symbol, sp.Symbol):
            raise InputError(f"expected a SymPy symbol, got {type(symbol).__name__}", place=place)
        name = check_name(symbol.name, place)
        if name in self._symbols:
            raise InputError(f"{name!r} is declared twice", place=place)
        if len(self._symbols) >= MAX_NODES:
            raise InputError(f"a graph has at most {MAX_NODES} nodes", place=place)
        self._symbols[name] = symbol
        self._roles[name] = role
        return symbol

    @property
    def leaves(self) -> tuple[tuple[sp.Symbol, str, Optional[Fraction]], ...]:
        """Every input, target and parameter with its role and its value (None where none is given yet, and
        for inputs and targets given several samples: see :attr:`sample_count`)."""
        one = self._samples[0] if len(self._samples) == 1 else {}
        return tuple((symbol, self._roles[name], self._values.get(symbol, one.get(symbol)))
                     for name, symbol in self._symbols.items() if self._roles[name] != "node")

    @property
    def sample_count(self) -> int:
        """How many samples :meth:`data` gave (0 before it is called)."""
        return len(self._samples)

    @property
    def nodes(self) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
        """Every node's symbol and definition, in the order they were added, and the loss last as ``E``."""
        nodes = tuple((self._symbols[name], definition) for name, definition in self._definitions.items())
        return nodes + (((sp.Symbol("E"), self._loss),) if self._loss is not None else ())

    def node(self, name: str, expression: sp.Expr) -> sp.Symbol:
        """Add a node ``name`` defined by ``expression`` over earlier nodes, inputs, parameters and targets."""
        place = f"graph.nodes.{name}" if isinstance(name, str) else "graph.nodes"
        check_name(name, place)
        self._check_expression(expression, place)
        symbol = self._declare(sp.Symbol(name), "node", place)
        self._definitions[name] = _real(expression)
        return symbol

    def loss(self, expression: sp.Expr) -> sp.Symbol:
        """Set the loss E (over nodes, targets and parameters); returns the symbol E."""
        self._check_expression(expression, "loss")
        self._loss = _real(expression)
        return sp.Symbol("E")

    def data(self, inputs: Sequence[object] = (), targets: Sequence[object] = (), reduction: str = "mean") -> None:
        """The numbers of one sample: a value per input and per target, in declaration order; or of several
        samples: a row of them per sample, E being the mean (or, with ``reduction="sum"``, the sum) of
        the samples' losses.

        >>> import sympy as sp
        >>> x, w, t = sp.symbols("x w t")
        >>> m = Model(inputs=[x], targets=[t], parameters={w: "0.5"})
        >>> y = m.node("y", w * x)
        >>> _ = m.loss((y - t) ** 2 / 2)
        >>> m.data(inputs=[["1"], ["2"]], targets=[["0"], ["0"]])
        >>> m.graph().definitions[Quantity.loss()]
        E[0]/2 + E[1]/2
        """
        what = "values (one per input), or a row of them per sample"
        inputs = _listed_argument(inputs, "data.inputs", what, MAX_SAMPLES)
        targets = _listed_argument(targets, "loss.targets", what, MAX_SAMPLES)
        declared_inputs = [self._symbols[n] for n, role in self._roles.items() if role == "input"]
        rows = bool(inputs) and isinstance(inputs[0], (list, tuple))
        if rows != (bool(targets) and isinstance(targets[0], (list, tuple))) and declared_inputs and self._targets:
            raise InputError("give inputs and targets both as one row, or both as a row per sample", place="data")
        if reduction not in ("mean", "sum"):
            raise InputError(f"reduction is mean or sum, not {str(reduction)[:40]!r}", place="loss.reduction")
        self._reduction = reduction
        input_rows, target_rows = (inputs, targets) if rows else ([inputs], [targets])
        if rows and len(input_rows) != len(target_rows):
            raise InputError(f"{len(target_rows)} rows of targets for {len(input_rows)} samples", place="loss.targets")
        samples = []
        for index, (row_in, row_t) in enumerate(zip(input_rows, target_rows)):
            sample = {}
            for place, symbols, values in (("data.inputs", declared_inputs, row_in), ("loss.targets", self._targets, row_t)):
                if len(values) != len(symbols):
                    raise InputError(f"expected {len(symbols)} value(s), got {len(values)}",
                                     place=f"{place}[{index}]" if rows else place)
                for symbol, value in zip(symbols, values):
                    sample[symbol] = exact_number(value, f"{place}.{symbol}")
            samples.append(sample)
        self._samples = tuple(samples)

    def _check_assumptions(self) -> None:
        """Inputs and targets whose values contradict their symbol's assumptions, and parameters that carry
        any beyond being real (their values move), are refused (see :func:`_assumption_conflict`)."""
        for name, role in self._roles.items():
            symbol = self._symbols[name]
            if role == "node" or set(_given_assumptions(symbol)) <= REAL_ASSUMPTIONS:
                continue
            if role == "parameter":
                values = [None]
            else:
                values = [sample[symbol] for sample in self._samples if symbol in sample]
            for value in values:
                conflict = _assumption_conflict(symbol, value)
                if conflict:
                    raise InputError(f"{name}: {conflict}; SymPy has already simplified the expressions with "
                                     f"that assumption, so declare it sp.Symbol({name!r}) (real=True is fine)",
                                     place=f"{role}s.{name}" if role != "input" else f"inputs.{name}")

    def _check_expression(self, expression: object, place: str) -> None:
        if not isinstance(expression, (sp.Expr, int, Fraction)) or isinstance(expression, bool):
            raise InputError(f"expected a SymPy expression, got {type(expression).__name__}", place=place)
        if not isinstance(expression, sp.Expr):
            return
        _check_real_constants(expression, place)
        if expression.has(sp.Float):
            raise InputError("the expression holds a float; write exact numbers (sp.Rational(1, 10), not 0.1)",
                             place=place)
        known = set(self._symbols.values())
        for symbol in expression.free_symbols:
            if symbol not in known:
                raise InputError(f"{symbol} is not an input, target, parameter or earlier node", place=place)
        for part in sp.preorder_traversal(expression):
            if not isinstance(part, _ALLOWED_KINDS) or isinstance(part, _REFUSED_KINDS):
                raise InputError(f"{type(part).__name__} is not a node formula: write elementary functions, our "
                                 "activations, Abs, Max, Min or Piecewise of real expressions", place=place)
        for function in expression.atoms(sp.Function):
            if not has_numeric_rule(function):
                raise InputError(f"no numeric rule for {type(function).__name__}", place=place)
        for power in expression.atoms(sp.Pow):
            if power.exp.is_Number and abs(power.exp) > MAX_FOLDED_POWER:
                raise InputError(f"the power {power.exp} is too large (at most {MAX_FOLDED_POWER} in absolute value; "
                                 "a symbol as the exponent has no bound)", place=place)

    def fix(self, *parameters: sp.Symbol) -> None:
        """Hold these parameters fixed: a training step leaves them alone (their gradients are still derived).

        >>> w, b, x, t = sp.symbols("w b x t")
        >>> m = Model(inputs=[x], targets=[t], parameters={w: "0.5", b: "0.1"})
        >>> m.fix(b)
        >>> _ = m.loss((w*x + b - t)**2 / 2)
        >>> sorted(m.graph().frozen)
        ['b']
        """
        for position, symbol in enumerate(parameters):
            if not isinstance(symbol, sp.Symbol) or self._roles.get(str(symbol)) != "parameter":
                raise InputError(f"{str(symbol)[:40]!r} is not a parameter of this model", place=f"fix[{position}]")
        self._fixed = self._fixed | {str(symbol) for symbol in parameters}

    def graph(self) -> SymbolicGraph:
        """The general graph of this model."""
        if self._loss is None:
            raise InputError("the model has no loss: call loss(...)", place="loss")
        self._check_assumptions()
        return formula_graph(
            leaves=[(n, self._symbols[n], self._roles[n]) for n in self._symbols if self._roles[n] != "node"],
            nodes=[(n, self._symbols[n], self._definitions[n]) for n in self._symbols if self._roles[n] == "node"],
            loss=self._loss, values=self._values, learning_rate=self.learning_rate, title=self.title,
            samples=self._samples, training=Training(reduction=self._reduction), fixed=self._fixed,
        )


#: What a node's expression may be made of (checked part by part): arithmetic, numbers, symbols, functions
#: with a numeric rule, and Piecewise with its conditions; an Integral, Sum, Derivative or matrix is not.
_ALLOWED_KINDS = (sp.Symbol, sp.Number, sp.NumberSymbol, sp.Add, sp.Mul, sp.Pow, sp.Function, sp.Piecewise,
                  sp.logic.boolalg.Boolean, sp.core.relational.Relational, sp.core.containers.Tuple)
_REFUSED_KINDS = (sp.Dummy, sp.Wild)

#: Assumptions every value here satisfies (real numbers): a symbol may carry these and no others freely.
REAL_ASSUMPTIONS = frozenset({"real", "extended_real", "complex", "finite", "infinite", "imaginary", "hermitian",
                              "antihermitian", "commutative", "noncommutative", "extended_nonreal", "nonreal"})


def _assumption_conflict(symbol: sp.Symbol, value: Optional[Fraction]) -> Optional[str]:
    """Why ``value`` may not stand for ``symbol``: SymPy simplified every expression with the symbol's
    assumptions as it was built (``Abs(w)`` is ``w`` for a positive ``w``), so a value that contradicts one
    gives the wrong E and the wrong gradient — and the oracle would read the same folded formula."""
    told = {key: held for key, held in _given_assumptions(symbol).items() if key not in REAL_ASSUMPTIONS}
    if not told:
        return None
    if value is None:
        return f"it is assumed {_listed(told)}, and a parameter moves with every update"
    number = as_rational(value)
    implied = {key: held for key, held in symbol.assumptions0.items() if key not in REAL_ASSUMPTIONS}
    for key, held in [*told.items(), *sorted(implied.items())]:  # what was written is named first
        if getattr(number, f"is_{key}") is not held:
            return f"it is assumed {key}={held}, but its value is {value}"
    return None


def _given_assumptions(symbol: sp.Symbol) -> dict[str, bool]:
    """The assumptions as the user wrote them (``positive=True``), not all they imply."""
    return dict(getattr(symbol, "_assumptions_orig", None) or symbol.assumptions0)


def _listed(told: Mapping[str, bool]) -> str:
    return ", ".join(f"{key}={held}" for key, held in sorted(told.items()))


def _real(expression) -> sp.Expr:
    """The expression with ``Abs`` as :class:`~symbackprop.functions.activations.Absolute` (values here are real)."""
    if isinstance(expression, (int, Fraction)):  # a constant node: exact, as every number here
        return as_rational(expression)
    return expression.replace(sp.Abs, Absolute) if expression.has(sp.Abs) else expression


def formula_graph(leaves: Sequence[tuple[str, sp.Symbol, Role]], nodes: Sequence[tuple[str, sp.Symbol, sp.Expr]],
                  loss: sp.Expr, values: Mapping[sp.Symbol, Fraction], learning_rate: Optional[Fraction] = None,
                  title: str = "", samples: tuple = (), training: Optional[Training] = None,
                  fixed: frozenset[str] = frozenset()) -> SymbolicGraph:
    """The graph of inputs, parameters and targets (leaves), formula nodes in order, and the loss E; an
    update leaves the ``fixed`` parameters alone.

    With several ``samples`` (each sample's inputs and targets by leaf symbol), every input, target and
    node has a symbol per sample (``h[2]``), the loss formula gives each sample's loss ``E[2]``, and E is
    their mean (or sum, as ``training.reduction`` says).
    """
    training = training or Training()
    if len(samples) > MAX_GRAPH_SAMPLES:
        raise InputError(too_many_samples(len(samples)), place="data.inputs")
    _check_formula_size(nodes, loss, max(len(samples), 1))
    if len(samples) == 1:
        values, samples = {**values, **samples[0]}, ()
    one = _one_sample_graph(leaves, nodes, loss, values, learning_rate, title, training, fixed)
    if not samples:
        return one
    template = dataclasses.replace(one, values={s: v for s, v in values.items() if s not in samples[0]}, missing="")
    symbols: dict[Quantity, sp.Symbol] = {}
    roles: dict[Quantity, Role] = {}
    definitions: dict[Quantity, sp.Expr] = {}
    order: list[Quantity] = []
    targets: dict[str, sp.Symbol] = {}
    every = dict(template.values)
    for name, symbol, role in leaves:
        if role == "parameter":
            symbols[Quantity.param(name)], roles[Quantity.param(name)] = symbol, role
            order.append(Quantity.param(name))
    for sample, numbers in enumerate(samples):
        renamed: dict[sp.Symbol, sp.Symbol] = {}
        for name, symbol, role in leaves:
            if role == "parameter":
                continue
            renamed[symbol] = sp.Symbol(sampled(name, sample))
            if symbol in numbers:
                every[renamed[symbol]] = numbers[symbol]
            if role == "target":
                targets[sampled(name, sample)] = renamed[symbol]
                continue
            quantity = Quantity.node(name, sample)
            symbols[quantity], roles[quantity] = renamed[symbol], role
            order.append(quantity)
        for name, symbol, definition in nodes:
            quantity = Quantity.node(name, sample)
            renamed[symbol] = sp.Symbol(sampled(name, sample))
            symbols[quantity], roles[quantity] = renamed[symbol], "node"
            definitions[quantity] = definition.xreplace(renamed)
            order.append(quantity)
        quantity = Quantity.loss(sample)
        symbols[quantity], roles[quantity] = sp.Symbol(sampled("E", sample)), "node"
        definitions[quantity] = loss.xreplace(renamed)
        order.append(quantity)
    symbols[Quantity.loss()], roles[Quantity.loss()] = sp.Symbol("E"), "loss"
    definitions[Quantity.loss()] = reduced(training.reduction, [symbols[Quantity.loss(s)] for s in range(len(samples))])
    order.append(Quantity.loss())
    return SymbolicGraph(
        symbols=symbols, definitions=definitions, consumers=local_derivatives(order, symbols, definitions),
        order=tuple(order), roles=roles, targets=targets, values=every, missing=template_missing(template),
        learning_rate=learning_rate, title=title, samples=samples, training=training, one_sample=template,
        frozen=fixed,
    )


def graph_of_samples(template: SymbolicGraph, samples: Sequence[Mapping[sp.Symbol, Fraction]]) -> SymbolicGraph:
    """The formula graph of ``template`` (a graph of one sample) over these ``samples`` (each sample's inputs
    and targets by the template's symbols): what one batch of a minibatch update reads."""
    leaves = [(q.name, template.symbols[q], template.roles[q]) for q in template.order
              if template.roles[q] in ("input", "parameter")]
    leaves += [(name, symbol, "target") for name, symbol in template.targets.items()]
    nodes = [(q.name, template.symbols[q], template.definitions[q]) for q in template.order
             if template.roles[q] == "node"]
    return formula_graph(leaves, nodes, template.definitions[Quantity.loss()], template.values,
                         template.learning_rate, template.title, tuple(samples), template.training, template.frozen)


def template_missing(template: SymbolicGraph) -> str:
    """What numbers a graph over samples lacks: only parameters can be missing (each sample is complete)."""
    missing = [name for name in template.parameters() if template.symbols[Quantity.param(name)] not in template.values]
    return ("values for " + ", ".join(missing[:10])) if missing else ""


#: Constants SymPy folds a formula to where it has no real value: sqrt(-1) is I, log(0) is zoo.
_NOT_REAL = (sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo)


def _check_real_constants(definition, place: str) -> None:
    """A definition whose constants are real and finite (``sqrt(-1)`` and ``log(0)`` fold to I and zoo)."""
    if isinstance(definition, sp.Basic) and definition.has(*_NOT_REAL):
        found = next(c for c in _NOT_REAL if definition.has(c))
        meaning = {sp.I: "the imaginary unit (a square root of a negative constant)",
                   sp.zoo: "complex infinity (a log of 0 or a division by 0)", sp.nan: "an undefined constant"}
        raise InputError(f"the formula holds {found}, {meaning.get(found, 'an infinite constant')}: every value "
                         "here is a real, finite number", place=place)


def _check_formula_size(nodes, loss: sp.Expr, samples: int) -> None:
    """The size limit, counted on the formulas as given (the first node past it is named)."""
    total = 0
    for place, definition in [*((f"graph.nodes.{name}.formula", d) for name, _, d in nodes), ("loss.formula", loss)]:
        total += formula_size(definition)
        if total * samples > MAX_FORMULA_SIZE:
            check_graph_size(total, samples, place)


def _one_sample_graph(leaves, nodes, loss, values, learning_rate, title, training, fixed) -> SymbolicGraph:
    symbols: dict[Quantity, sp.Symbol] = {}
    roles: dict[Quantity, Role] = {}
    definitions: dict[Quantity, sp.Expr] = {}
    order: list[Quantity] = []
    targets: dict[str, sp.Symbol] = {}
    for name, symbol, role in leaves:
        if role == "target":
            targets[name] = symbol
            continue
        quantity = Quantity.param(name) if role == "parameter" else Quantity.node(name)
        symbols[quantity], roles[quantity] = symbol, role
        order.append(quantity)
    for name, symbol, definition in nodes:
        quantity = Quantity.node(name)
        symbols[quantity], roles[quantity], definitions[quantity] = symbol, "node", definition
        order.append(quantity)
    symbols[Quantity.loss()], roles[Quantity.loss()] = sp.Symbol("E"), "loss"
    definitions[Quantity.loss()] = loss
    order.append(Quantity.loss())
    for quantity, definition in definitions.items():
        _check_real_constants(definition, "loss.formula" if quantity.kind == "loss" else f"graph.nodes.{quantity.name}.formula")
    needed = [symbol for (name, symbol, role) in leaves]
    missing = [str(symbol) for symbol in needed if symbol not in values]
    return SymbolicGraph(
        symbols=symbols, definitions=definitions, consumers=local_derivatives(order, symbols, definitions),
        order=tuple(order), roles=roles, targets=targets, values=dict(values),
        missing=("values for " + ", ".join(missing[:10])) if missing else "",
        learning_rate=learning_rate, title=title, training=training, frozen=fixed,
    )


#: Most samples (rows of [data] inputs) a file may give.
MAX_SAMPLES = 10_000
