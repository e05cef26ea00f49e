"""The one general graph: a fresh SymPy symbol for every node, a SymPy definition, a role.

Every front-end builds this: a dense network file, a ``[graph]`` of formulas,
or a :class:`~symbackprop.frontends.model.Model` written in Python. Nodes are
:class:`Quantity` vertices in forward order; each non-leaf node has a
*definition* over the symbols of earlier nodes (``net_h1 = w1*i1 + w2*i2 + b1``),
never inlining one node into the next, which is what keeps derivatives small.

Local derivatives are derived, never written by hand: every edge v → u carries
∂(definition of u)/∂v from SymPy (through each function's ``fdiff``), written
back in node symbols, so the derivative of ``sigmoid(net_h1)`` reads
``out_h1*(1 - out_h1)``.

>>> from symbackprop.frontends.dense import build_graph
>>> from symbackprop.frontends.loader import network_from_mapping
>>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["y"], "activation": "sigmoid", "weights": [["1"]], "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse"}})
>>> graph = build_graph(net)
>>> graph.definition(Quantity.net("y")), graph.definition(Quantity.out("y"))
(w*x, sigmoid(net_y))
>>> graph.consumers[Quantity.net("y")]
((Quantity(kind='out', name='y'), out_y*(1 - out_y)),)
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping, Optional, Sequence

import sympy as sp

from .errors import InputError, did_you_mean, printable
from .functions.losses import LOSSES
from .functions.update import Training, over_samples
from .layout import Layout
from .quantity import Quantity, sampled

Edge = tuple[Quantity, sp.Expr]


Role = str  # "input", "parameter", "node", "loss"


@dataclass(frozen=True)
class SymbolicGraph:
    """Nodes in forward order: symbols, definitions, roles, local derivatives, and the file's numbers.

    ``layout`` says how the nodes sit in layers, when a dense front-end built the graph: it only
    lets reports draw layers and matrices; the mathematics reads the graph.
    """

    symbols: Mapping[Quantity, sp.Symbol]
    definitions: Mapping[Quantity, sp.Expr]
    consumers: Mapping[Quantity, tuple[Edge, ...]]  # v -> ((u, ∂u/∂v), ...)
    order: tuple[Quantity, ...]  # forward (topological) order
    roles: Mapping[Quantity, Role]
    targets: Mapping[str, sp.Symbol]  # target name (a dense output unit) -> its symbol
    values: Mapping[sp.Symbol, Fraction]  # the numbers the file gives: inputs, parameters, targets
    missing: str = ""  # what numbers are missing, for the message when values are needed
    layout: Optional[Layout] = None
    deltas: Mapping[str, sp.Symbol] = field(default_factory=dict)  # dense unit -> δ symbol (∂E/∂net)
    outputs: tuple[str, ...] = ()  # dense output units (where an output δ may be tidied)
    loss_kind: str = ""  # a registered loss the output terms follow, if any
    learning_rate: Optional[Fraction] = None
    frozen: frozenset[str] = frozenset()  # parameters an update leaves alone (biases, when so asked)
    title: str = ""
    #: Each sample's inputs and targets by symbol, when the file gives rows (``values`` then holds none).
    samples: tuple[Mapping[sp.Symbol, Fraction], ...] = ()  # keyed by ``one_sample``'s symbols
    training: Training = field(default_factory=Training)
    #: For a graph over several samples: the graph of one sample, without numbers (what training runs on each).
    one_sample: Optional["SymbolicGraph"] = None

    def __post_init__(self) -> None:
        _check_distinct_names(self.symbols, self.targets, self.deltas)

    def symbol(self, quantity: Quantity) -> sp.Symbol:
        return self.symbols[quantity]

    @functools.cached_property
    def position(self) -> dict[Quantity, int]:
        """Each node's place in the forward order."""
        return {quantity: index for index, quantity in enumerate(self.order)}

    @functools.cached_property
    def symbol_set(self) -> frozenset[sp.Symbol]:
        """Every node's symbol, for membership tests."""
        return frozenset(self.symbols.values())

    @functools.cached_property
    def quantity_of(self) -> dict[sp.Symbol, Quantity]:
        """The node each symbol stands for."""
        return {symbol: quantity for quantity, symbol in self.symbols.items()}

    @property
    def targets_form_a_distribution(self) -> bool:
        """Whether the loss holds the targets over several outputs to Σ t = 1 (cross-entropy's): the one
        precondition of tidying an output δ with it (a softmax + cross-entropy δ to out − t)."""
        rule = LOSSES.get(self.loss_kind)  # (a file's own term, "custom", promises nothing of its targets)
        return rule is not None and rule.targets_sum_to_one and len(self.outputs) > 1

    def definition(self, quantity: Quantity) -> sp.Expr:
        return self.definitions[quantity]

    def parameters(self) -> list[str]:
        return [q.name for q in self.order if q.kind == "param"]

    def is_formula_graph(self) -> bool:
        """True for a graph of formulas (no layers)."""
        return self.layout is None

    def named(self, name: str, sample: int = -1) -> Optional[Quantity]:
        """The node, input or parameter of a formula graph called ``name`` (a node of one sample, in a graph
        over several)."""
        for quantity in (Quantity.param(name), Quantity.node(name, sample)):
            if quantity in self.symbols:
                return quantity
        return None

    def validate(self, quantity: Quantity, place: str = "", sample: int = -1) -> Quantity:
        """The quantity itself (of ``sample``, where it has one), or an :class:`InputError` when the graph has
        no such thing."""
        if sample >= 0 and quantity.kind != "param":
            quantity = quantity.of_sample(sample)
        if quantity in self.symbols:
            return quantity
        if self.samples and sample < 0 and (quantity.of_sample(0) in self.symbols or (
                quantity.kind == "param" and self.named(quantity.name, 0) is not None)):
            raise InputError(f"{quantity} has a value per sample: give sample = S (0 to {len(self.samples) - 1})",
                             place=place)
        layout = self.layout
        if layout is None:
            found = self.named(quantity.name, sample) if quantity.kind in ("param", "node") else None
            if found is not None:
                return found
            names = [q.name for q in self.order if q.kind in ("param", "node")]
            known = f"(known: {', '.join(names[:20])}" + (", …)" if len(names) > 20 else ")")
            if quantity.kind in ("net", "out") and quantity.name in names:
                # a dense unit's spelling, out(x1), of a formula graph's node or input x1
                raise InputError(f"a formula graph has no {quantity.kind}({quantity.name}): its nodes are named as "
                                 f"the file names them; did you mean {quantity.name}?", place=place)
            raise InputError(f"no node, input or parameter named {quantity.name!r}{_did_you_mean(quantity.name, names)} "
                             + known, place=place)
        units = list(layout.inputs) + [u for layer in layout.layers for u in layer.units]
        spelled = self.parameters() + [f"{kind}({unit})" for unit in units for kind in ("out", "net")]
        if quantity.kind == "param":
            problem = f"no parameter or unit value named {quantity.name!r}"
            if quantity.name in units:
                problem += f"; did you mean out({quantity.name})?"
            else:
                problem += _did_you_mean(quantity.name, spelled)
        elif quantity.kind == "net" and quantity.name in layout.inputs:
            problem = f"{quantity.name!r} is an input: it has out({quantity.name}) but no net"
        elif quantity.kind == "loss_term":
            problem = f"{quantity.name!r} is not an output unit (outputs: {', '.join(layout.outputs)})"
        else:
            problem = f"no unit named {quantity.name!r}" + _did_you_mean(str(quantity), spelled)
        raise InputError(problem, place=place)

    def is_leaf(self, quantity: Quantity) -> bool:
        return quantity not in self.definitions

    def target_symbols(self, sample: Optional[int] = None) -> list[sp.Symbol]:
        """Every target symbol, or those of one sample (-1: the graph of one sample)."""
        if sample is None or sample < 0:
            return list(self.targets.values()) if sample is None or not self.one_sample else []
        suffix = f"[{sample}]"
        return [symbol for name, symbol in self.targets.items() if name.endswith(suffix)]

    def target(self, unit: str, sample: int = -1) -> sp.Symbol:
        """The target symbol of output ``unit`` (of one sample, in a graph over several)."""
        return self.targets[sampled(unit, sample)]


def _check_distinct_names(symbols: Mapping[Quantity, sp.Symbol], targets: Mapping[str, sp.Symbol],
                          deltas: Mapping[str, sp.Symbol]) -> None:
    """Every symbol the graph holds has a name of its own: a file's parameter called ``E_o1`` must not
    become the loss term of output o1 (SymPy takes two symbols of one name for one)."""
    owners: dict[str, tuple[object, Callable[[], str]]] = {}  # name -> (what holds it, how that reads)
    seen: set[sp.Symbol] = set()

    def claim(symbol: sp.Symbol, key: object, owner: Callable[[], str]) -> None:
        """(``owner`` is worded only where two holders meet: a graph of 13,000 weights claims 13,000 names.)"""
        held = owners.get(symbol.name)
        if symbol in seen and held is not None and held[0] == key:
            return
        if held is not None and held[0] != key and held[1]() != owner():
            raise InputError(f"the name {printable(symbol.name)!r} stands for both {held[1]()} and {owner()}: "
                             "the names symbackprop generates (net_, out_, E_, t_, delta_ or dout_ "
                             "and a unit's name) are taken; rename it", place="names")
        owners[symbol.name] = (key, owner)
        seen.add(symbol)

    for quantity, symbol in symbols.items():
        claim(symbol, quantity, lambda quantity=quantity: _owner(quantity))
    for name, symbol in targets.items():
        if symbol not in seen:
            claim(symbol, ("target", name), lambda name=name: f"the target of {printable(name)}")
    for unit, symbol in deltas.items():
        claim(symbol, ("delta", unit), lambda unit=unit: f"∂E/∂net({printable(unit)})")


def _owner(quantity: Quantity) -> str:
    kinds = {"param": "the parameter", "node": "the node", "net": "", "out": "", "loss": "", "loss_term": ""}
    text = printable(str(quantity))
    return f"{kinds[quantity.kind]} {text}".strip()


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    """:func:`~symbackprop.errors.did_you_mean`, reading ``out_h1`` (how out(h1) prints) as ``out(h1)``.

    >>> _did_you_mean("out_h1", ["w1", "out(h1)"])
    '; did you mean out(h1)?'
    """
    return did_you_mean(re.sub(r"^(net|out)_(.+)$", r"\1(\2)", name), known)


def local_derivatives(order: Sequence[Quantity], symbols: Mapping[Quantity, sp.Symbol],
                      definitions: Mapping[Quantity, sp.Expr]) -> dict[Quantity, tuple[Edge, ...]]:
    """Every edge v → u with ∂(definition of u)/∂v, by SymPy, written back in node symbols.

    A node's own definition inside a derivative is replaced by the node's symbol
    (``sigmoid(net_h)`` → ``out_h``), as are the definitions of the other nodes
    (a softmax's sister outputs).

    >>> x, h = sp.symbols("x h")
    >>> q_x, q_h = Quantity("node", "x"), Quantity("node", "h")
    >>> from symbackprop.functions.activations import sigmoid
    >>> local_derivatives([q_x, q_h], {q_x: x, q_h: h}, {q_h: sigmoid(3 * x)})[q_x]
    ((Quantity(kind='node', name='h'), 3*h*(1 - h)),)
    """
    quantity_of = {symbol: quantity for quantity, symbol in symbols.items()}
    # Bare symbols (a linear unit: out = net) are not written back: that would rename every net.
    back = {definition: symbols[q] for q, definition in definitions.items() if not definition.is_Atom}
    consumers: dict[Quantity, list[Edge]] = {q: [] for q in order}
    for quantity in order:
        definition = definitions.get(quantity)
        if definition is None:
            continue
        # A sum (a net of 784 inputs) is indexed once: each argument's derivative reads only its terms.
        terms = _terms_by_symbol(definition) if definition.is_Add else None
        holding = _Holding()
        for argument in _arguments(definition, quantity_of):
            if terms is None:
                local = partial(definition, argument, back, holding)
            elif len(terms[argument]) == 1:  # (a weight of a net: in one term)
                local = partial(terms[argument][0], argument, back, holding)
            else:
                local = sp.Add(*[partial(term, argument, back, holding) for term in terms[argument]])
            if not local.is_Atom and local.has(sp.Function):  # a sister's definition (a softmax's other outputs), written back too
                local = local.xreplace(back)
            consumers[quantity_of[argument]].append((quantity, local))
    return {q: tuple(edges) for q, edges in consumers.items()}


class _Holding:
    """Which symbols each subexpression of one definition holds, and each sum's terms by symbol: worked out
    once per definition, so that differentiating it by each of its 200 arguments stays linear in its size
    (``has`` walks the tree again for every argument)."""

    def __init__(self) -> None:
        self._symbols: dict[sp.Basic, frozenset] = {}
        self._terms: dict[sp.Basic, dict] = {}

    def symbols(self, expression: sp.Basic) -> frozenset:
        found = self._symbols.get(expression)
        if found is None:
            if expression.is_Symbol:
                found = frozenset((expression,))
            else:
                found = frozenset().union(*(self.symbols(argument) for argument in expression.args))
            self._symbols[expression] = found
        return found

    def holds(self, expression: sp.Basic, symbol: sp.Symbol) -> bool:
        return symbol in self.symbols(expression)

    def terms(self, total: sp.Add, symbol: sp.Symbol) -> list:
        """The terms of ``total`` that hold ``symbol``, in order."""
        index = self._terms.get(total)
        if index is None:
            index = self._terms[total] = {}
            for term in total.args:
                for held in self.symbols(term):
                    index.setdefault(held, []).append(term)
        return index.get(symbol, [])


def partial(expression: sp.Expr, symbol: sp.Symbol, names: Mapping[sp.Expr, sp.Symbol] = {},
            holding: Optional[_Holding] = None) -> sp.Expr:
    """∂expression/∂symbol: SymPy's own rules, applied directly where they are plain.

    A symbol in one term of a sum, a bare factor of a product, a power with a number for exponent,
    or a function call (its own ``fdiff``, times the argument's derivative): the same result as
    :func:`sympy.diff`, without building and caching a ``Derivative`` for each of the thousands of
    nodes of a large graph. Anything else goes to ``sympy.diff``. A call that ``names`` maps to a
    node symbol is written as that symbol where its own derivative repeats it (σ′ = out·(1 − out)).

    >>> x, y = sp.symbols("x y")
    >>> from symbackprop.functions.activations import sigmoid
    >>> partial(x * y + sp.tanh(x), y), partial(sigmoid(3 * x) ** 2, x) == sp.diff(sigmoid(3 * x) ** 2, x)
    (x, True)
    """
    if expression == symbol:
        return sp.Integer(1)
    holding = holding or _Holding()
    if expression.is_Add:
        return sp.Add(*[partial(term, symbol, names, holding) for term in holding.terms(expression, symbol)])
    if expression.is_Mul:
        held = [i for i, factor in enumerate(expression.args) if holding.holds(factor, symbol)]
        if len(held) == 1:  # built as SymPy's product rule builds it, so the printed form is the same
            i = held[0]
            if len(expression.args) == 2 and expression.args[i] == symbol:  # ∂(w·x)/∂w = x, as Mul(1, x) is
                return expression.args[1 - i]
            inner = partial(expression.args[i], symbol, names, holding)
            return sp.Mul(*(expression.args[:i] + (inner,) + expression.args[i + 1:]))
    elif expression.is_Pow and expression.exp.is_Number and holding.holds(expression.base, symbol):
        base, power = expression.args
        return expression * (partial(base, symbol, names, holding) * power / base)  # SymPy's own arrangement
    elif isinstance(expression, sp.Function) and not isinstance(expression, (sp.Piecewise, sp.Min, sp.Max)):
        held = [i for i, argument in enumerate(expression.args) if holding.holds(argument, symbol)]
        if len(held) == 1:
            outer = _outer_derivative(expression, held[0], names.get(expression, expression))
            if outer is not None:
                return outer * partial(expression.args[held[0]], symbol, names, holding)
    return sp.diff(expression, symbol)


def _outer_derivative(call: sp.Function, index: int, written: sp.Expr) -> Optional[sp.Expr]:
    """The function's own ``fdiff`` for argument ``index``, written at this call.

    The rule is asked of the function once per (function, argument) on placeholder arguments and
    then filled in, so that ``1 - tanh(x)**2`` does not build (and re-simplify) ``tanh(x)`` again.
    """
    key = (type(call), type(call).fdiff, tuple(a if a.is_Number else None for a in call.args), index)
    if key not in _OUTER_RULES:
        placeholders = [a if a.is_Number else sp.Dummy(f"a{i}") for i, a in enumerate(call.args)]
        try:
            template = type(call)(*placeholders)
            rule = template.fdiff(index + 1) if isinstance(template, type(call)) else None
        except (sp.core.function.ArgumentIndexError, NotImplementedError, TypeError):
            rule = None
        _OUTER_RULES[key] = (template, placeholders, rule) if rule is not None else None
    entry = _OUTER_RULES[key]
    if entry is None:
        return None
    template, placeholders, rule = entry
    filling = {p: a for p, a in zip(placeholders, call.args) if not p.is_Number}
    filling[template] = written
    return rule.xreplace(filling)


_OUTER_RULES: dict = {}


def _terms_by_symbol(total: sp.Add) -> dict[sp.Symbol, list[sp.Expr]]:
    found: dict[sp.Symbol, list[sp.Expr]] = {}
    for term in total.args:
        for symbol in term.free_symbols:
            found.setdefault(symbol, []).append(term)
    return found


def _arguments(definition: sp.Expr, quantity_of: Mapping[sp.Symbol, Quantity]) -> list[sp.Symbol]:
    """The graph symbols a definition reads, in the order they first appear."""
    found: dict[sp.Symbol, None] = {}
    for node in sp.preorder_traversal(definition):
        if node.is_Symbol and node in quantity_of:
            found.setdefault(node)
    return list(found)


#: Most samples a graph with nodes of its own per sample holds (derive, check, explain, audit read it): past
#: this a derivation is slower than a minute and several GB. ``train`` reads one sample's graph and takes
#: the files' full 10,000 rows of a dense network.
MAX_GRAPH_SAMPLES = 1_000


#: Most subexpressions a graph's definitions may hold together, counted once per sample: derive on 740 formula
#: nodes each the mean of 200 others (149,803) takes 30-50 s on the slowest machine measured, where 1,200 such
#: nodes took 71-81 s (docs/performance.md, section 8).
MAX_FORMULA_SIZE = 150_000


def product_of_symbols(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """a·b; where both are distinct symbols, exactly as SymPy builds it (the same arguments in the same order)
    without its general flattening: a graph of 784 inputs builds tens of thousands of these (a weight times
    an input, a δ times an output).

    >>> x, w = sp.symbols("x w")
    >>> product_of_symbols(x, w).args == (x * w).args, product_of_symbols(x, x)
    (True, x**2)
    """
    if a == b or not (a.is_Symbol and b.is_Symbol and a.is_commutative and b.is_commutative):
        return a * b
    if sp.Basic.compare(a, b) > 0:  # the order SymPy's Mul sorts its factors in
        a, b = b, a
    return sp.Mul._from_args((a, b), True)


def formula_size(definition: sp.Expr) -> int:
    """The subexpressions of ``definition``, a repeated one once for each place it stands.

    >>> x, y = sp.symbols("x y")
    >>> formula_size(sp.tanh(x*y + 1))
    6
    """
    return sum(1 for _ in sp.preorder_traversal(definition))


def check_graph_size(per_sample: int, samples: int, place: str) -> None:
    """Refuse, before any derivative is taken, a graph whose definitions hold more than
    :data:`MAX_FORMULA_SIZE` subexpressions together (``per_sample``, or at least that many, for each of
    ``samples``); ``place`` is where the count passed the limit."""
    if per_sample * samples > MAX_FORMULA_SIZE:
        times = f", {per_sample:,} for each of {samples:,} samples (each has nodes of its own)" if samples > 1 else ""
        raise InputError(f"the graph's formulas hold more than {MAX_FORMULA_SIZE:,} subexpressions together (at most "
                         f"{MAX_FORMULA_SIZE:,}, the most derive answers within a minute{times})", place=place)


def too_many_samples(count: int) -> str:
    return (f"{count:,} samples: at most {MAX_GRAPH_SAMPLES:,} get nodes of their own for derive, check, explain "
            "and audit (train takes up to 10,000 rows of a dense network)")


def reduced(reduction: str, losses: list[sp.Symbol]) -> sp.Expr:
    """E over the samples: the mean (default) or the sum of their losses."""
    return over_samples(reduction, sp.Add(*losses), len(losses))
