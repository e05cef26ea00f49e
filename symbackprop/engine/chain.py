"""The chain-rule engine: derivatives of any graph quantity with respect to another.

``dA/dB`` is the change of A when B is perturbed and everything downstream of B
is recomputed. It is found by one reverse sweep from A over the graph
(reverse-mode accumulation), in node symbols: nothing is inlined, so the cost
stays linear in the size of the graph. The same sweep gives the *chain*, a
tree of named factors in which every sum is kept term by term: the
cross-output terms of a softmax layer and the sum over every downstream unit
of a hidden unit are all visible.

>>> from symbackprop.frontends.loader import network_from_mapping
>>> net = network_from_mapping({"network": {"inputs": ["i1"], "layers": [
...     {"units": ["h1"], "activation": "sigmoid", "weight_names": [["w1"]]},
...     {"units": ["o1"], "activation": "sigmoid", "weight_names": [["w2"]]}]},
...     "loss": {"kind": "half_sse"}})
>>> engine = Engine(net)
>>> gradient = engine.gradient("w2")
>>> [str(f) for f in gradient.chain[0]]
['∂E/∂out(o1)', '∂out(o1)/∂net(o1)', '∂net(o1)/∂w2']
>>> gradient.compact
out_h1*out_o1*(1 - out_o1)*(out_o1 - t_o1)
>>> engine.gradient("w1").compact
i1*out_h1*out_o1*w2*(1 - out_h1)*(1 - out_o1)*(out_o1 - t_o1)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import mpmath
import sympy as sp

from ..errors import InputError, UndefinedValue, printable, whole_number
from ..frontends.coerce import as_graph
from ..frontends.network import Network
from ..functions.compiled import CompiledProgram
from ..graph import SymbolicGraph
from ..notebook import Displayable
from ..numbers import format_decimal, to_mpf
from ..quantity import Quantity, parse_quantity
from .program import straight_line_program
from .sweep import edges, reverse_sweep
from .tidy import OutputDeltas
from .values import ball_leaf, certified, point_of


#: The most significant digits a value is asked for.
MAX_DIGITS = 1000
#: Digits beyond MAX_DIGITS that gradient_values may be asked for: the guard digits check puts on a request.
ANALYTIC_GUARD = 50

if TYPE_CHECKING:
    from ..frontends.model import Model
    from .values import Point

#: Most paths :meth:`Derivation.paths` will list before it refuses.
MAX_PATHS = 20_000
#: Most paths of a gradient written out as one per-weight formula; beyond it the δ form is written
#: (a per-weight formula doubles with every layer of width 2 and would never be read).
MAX_WRITTEN_PATHS = 256


@dataclass(frozen=True)
class Factor:
    """∂of/∂wrt. A *local* factor is one edge of the graph; a *total* one is a sum over ``terms``.

    ``terms`` is a sum of products: each term is a tuple of factors whose
    product is that term. It is empty for a local factor.
    """

    of: Quantity
    wrt: Quantity
    expression: sp.Expr
    terms: tuple[tuple["Factor", ...], ...] = ()
    #: A local factor that is not the whole derivative: ``of`` also depends on ``wrt`` through other
    #: nodes (r2 = r1 + f(r1)), so this is the partial of of's formula alone, ∂r2/∂r1|direct.
    direct: bool = False

    @property
    def is_local(self) -> bool:
        return not self.terms

    @functools.cached_property
    def path_count(self) -> int:
        """How many paths (products of local factors) this factor sums; counted once per factor."""
        if self.is_local:
            return 1
        return sum(_product(f.path_count for f in term) for term in self.terms)

    def __str__(self) -> str:
        return f"∂{self.of}/∂{self.wrt}" + ("|direct" if self.direct else "")

    def __repr__(self) -> str:  # what a reader of g.chain wants: the factor's name, not its fields
        return str(self)


class Terms(tuple):
    """A sum of products of factors (``Derivation.chain``, ``Derivation.paths()``), shown as one.

    >>> from symbackprop.quantity import Quantity
    >>> e, out, net = Quantity.loss(), Quantity.out("o1"), Quantity.net("o1")
    >>> Terms(((Factor(e, out, sp.Symbol("d")), Factor(out, net, sp.Symbol("s"))),))
    ∂E/∂out(o1) · ∂out(o1)/∂net(o1)
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return " + ".join(" · ".join(map(str, term)) for term in self) or "0"


@dataclass(frozen=True)
class Derivation(Displayable):
    """The derivative of one quantity with respect to another, in every form.

    * ``chain``: the chain rule at the top level, a sum of products of named factors;
    * ``compact``: the expression in node symbols (net, out, parameters, targets);
    * :attr:`closed`: in inputs, parameters and targets only (expanded on request);
    * :attr:`simplified`: tidied, using what the model knows (softmax + cross-entropy → out − t);
    * :attr:`exact` and :meth:`decimal`: its value at the network's numbers.
    """

    of: Quantity
    wrt: Quantity
    chain: tuple[tuple[Factor, ...], ...]
    compact: sp.Expr
    engine: "Engine" = field(repr=False, compare=False)

    def __str__(self) -> str:
        return f"∂{self.of}/∂{self.wrt}"

    def __repr__(self) -> str:
        chain = f" = {self.chain!r}" if self.chain else ""
        return f"{self}{chain} = {self.compact}"

    @functools.cached_property
    def closed(self) -> sp.Expr:
        return self.engine.closed_form(self.compact)

    @functools.cached_property
    def simplified(self) -> sp.Expr:
        return self.engine.simplified(self.of, self.wrt)

    @property
    def path_count(self) -> int:
        return sum(_product(f.path_count for f in term) for term in self.chain)

    def paths(self, limit: int = MAX_PATHS) -> tuple[tuple[Factor, ...], ...]:
        """Every path from wrt to of, as a product of local factors; their sum is the derivative."""
        if self.path_count > limit:
            raise ValueError(f"{self} has {self.path_count} paths, more than the limit of {limit}")
        return Terms(path for term in self.chain for path in _term_paths(term))

    @functools.cached_property
    def exact(self) -> sp.Expr:
        """The exact value at the network's numbers (an exact SymPy expression, not a float)."""
        return self.engine.point.exact_value(self.compact)

    def evalf(self, digits: int = 30) -> sp.Float:
        """The value as a SymPy Float correct to about ``digits`` significant digits."""
        try:
            return self.engine.point.evalf(self.compact, whole_number(digits, 1, MAX_DIGITS, "digits"))
        except UndefinedValue as error:
            raise UndefinedValue(f"{printable(str(self))}: {error.problem}", place=error.place) from None

    def decimal(self, digits: int = 30) -> str:
        """The value as decimal text with ``digits`` significant digits."""
        return format_decimal(self.evalf(digits), digits)


def _product(numbers: Iterator[int]) -> int:
    result = 1
    for number in numbers:
        result *= number
    return result


def _factor_paths(factor: Factor) -> Iterator[tuple[Factor, ...]]:
    if factor.is_local:
        yield (factor,)
        return
    for term in factor.terms:
        yield from _term_paths(term)


def _term_paths(term: tuple[Factor, ...]) -> Iterator[tuple[Factor, ...]]:
    if not term:
        yield ()
        return
    head, rest = term[0], term[1:]
    for head_path in _factor_paths(head):
        for rest_path in _term_paths(rest):
            yield head_path + rest_path


class Engine:
    """Derivatives of a network, by the symbolic chain rule; values when the network has numbers."""

    def __init__(self, network: "Network | SymbolicGraph | Model | str") -> None:
        self.graph = as_graph(network, "an Engine")
        self._totals: dict[tuple[Quantity, Quantity], Factor] = {}
        self._adjoints: dict[Quantity, dict[Quantity, sp.Expr]] = {}
        self._tidy_adjoints: dict[Quantity, dict[Quantity, sp.Expr]] = {}
        self._closed: dict[sp.Symbol, sp.Expr] | None = None
        self._path_counts: dict[Quantity, dict[Quantity, int]] = {}
        self._output_deltas = OutputDeltas(self.graph)

    # ---- the reverse sweep -------------------------------------------------------------
    def edges(self, target: Quantity, vertex: Quantity) -> tuple[tuple[Quantity, sp.Expr], ...]:
        """The readers of ``vertex`` on the way to ``target``, each with its local derivative."""
        return edges(self.graph, target, vertex)

    def adjoints(self, target: Quantity) -> dict[Quantity, sp.Expr]:
        """∂target/∂v for every vertex v that target depends on, in node symbols."""
        if target not in self._adjoints:
            self._adjoints[target] = self._sweep(target, tidy=None)
        return self._adjoints[target]

    def output_deltas(self, targets_sum_to_one: bool = True) -> dict[str, sp.Expr]:
        """∂E/∂net(o) of every dense output unit, tidied: the sweep over the output layer alone.

        >>> from symbackprop.frontends.loader import load_network
        >>> Engine(load_network("examples/softmax_classifier.toml")).output_deltas()
        {'c1': out_c1 - t_c1, 'c2': out_c2 - t_c2, 'c3': out_c3 - t_c3}
        """
        graph = self.graph
        first = min(graph.position[Quantity.net(unit)] for unit in graph.outputs)
        tidy = functools.partial(self.tidy_output_delta, targets_sum_to_one=targets_sum_to_one)
        swept = self._sweep(Quantity.loss(), tidy, start=first)
        return {unit: swept[Quantity.net(unit)] for unit in graph.outputs if Quantity.net(unit) in swept}

    def _sweep(self, target: Quantity, tidy, start: int = 0) -> dict[Quantity, sp.Expr]:
        outputs = set(self.graph.outputs)

        def adjoint(vertex: Quantity, readers) -> sp.Expr:
            total = sp.Add(*(carried * local for _, carried, local in readers))
            # Losses and output activations meet at the output δ: that is where they collapse
            # (softmax + cross-entropy to out − t). A hidden δ built from tidied δs needs nothing more.
            tidy_here = tidy is not None and vertex.kind == "net" and vertex.name in outputs
            return tidy(total, vertex) if tidy_here else total

        return reverse_sweep(self.graph, target, sp.Integer(1), adjoint, start=start)

    def path_counts(self, target: Quantity = Quantity.loss()) -> dict[Quantity, int]:
        """For every vertex, how many paths lead from it to ``target``: the terms its derivative sums.

        One pass over the graph, so a caller can tell before any expression is built whether a
        per-weight formula would be too long to write (it doubles with every layer of width 2).
        """
        return reverse_sweep(self.graph, target, 1, lambda vertex, readers: sum(count for _, count, _ in readers))

    def _other_paths(self, consumer: Quantity, vertex: Quantity) -> bool:
        """Whether ``consumer`` depends on ``vertex`` by more than their one edge."""
        if consumer not in self._path_counts:
            self._path_counts[consumer] = self.path_counts(consumer)
        return self._path_counts[consumer].get(vertex, 0) > 1

    def most_paths(self) -> int:
        """The most paths of any parameter's gradient."""
        counts = self.path_counts()
        return max((counts.get(Quantity.param(name), 0) for name in self.graph.parameters()), default=0)

    # ---- public questions -------------------------------------------------------------
    def quantity(self, text_or_quantity: str | Quantity, place: str = "") -> Quantity:
        """A validated quantity from text like ``out(h1)`` or from a :class:`Quantity`."""
        if isinstance(text_or_quantity, Quantity):
            quantity = text_or_quantity
        else:
            try:
                quantity = parse_quantity(text_or_quantity)
            except ValueError as error:
                raise InputError(str(error), place=place) from None
        return self.graph.validate(quantity, place)

    def derivative(self, of: str | Quantity, wrt: str | Quantity) -> Derivation:
        """d(of)/d(wrt): perturb wrt, recompute everything downstream, see how of changes.

        >>> from symbackprop.frontends.loader import network_from_mapping
        >>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [
        ...     {"units": ["a", "b"], "activation": "softmax", "weight_names": [["u", "v"]]}]},
        ...     "loss": {"kind": "cross_entropy"}})
        >>> Engine(net).derivative("out(a)", "net(b)").compact
        -out_a*out_b
        """
        of_q, wrt_q = self.quantity(of), self.quantity(wrt)
        adjoints = self.adjoints(of_q)
        compact = adjoints.get(wrt_q, sp.Integer(0))
        chain = Terms(self._chain_terms(of_q, wrt_q) if wrt_q != of_q else ())
        return Derivation(of_q, wrt_q, chain, compact, self)

    def gradient(self, parameter: str) -> Derivation:
        """∂E/∂parameter."""
        if not isinstance(parameter, str):
            raise InputError(f"gradient takes a parameter's name (a string), not {type(parameter).__name__}",
                             place="parameter")
        quantity = self.quantity(Quantity.param(parameter))
        return self.derivative(Quantity.loss(), quantity)

    def gradients(self) -> list[Derivation]:
        """∂E/∂p for every parameter p, in file order."""
        return [self.gradient(name) for name in self.graph.parameters()]

    # ---- the factor tree --------------------------------------------------------------
    def _chain_terms(self, target: Quantity, vertex: Quantity) -> tuple[tuple[Factor, ...], ...]:
        adjoints = self.adjoints(target)
        terms = []
        for consumer, local in self.edges(target, vertex):
            if consumer not in adjoints:
                continue
            factor = Factor(consumer, vertex, local, direct=self._other_paths(consumer, vertex))
            terms.append((factor,) if consumer == target else self._split(target, consumer) + (factor,))
        return tuple(terms)

    def _split(self, target: Quantity, vertex: Quantity) -> tuple[Factor, ...]:
        """∂T/∂net(u) of an elementwise unit reads best as ∂T/∂out(u) · ∂out(u)/∂net(u)."""
        if vertex.kind == "net":
            adjoints = self.adjoints(target)
            edges = [(u, d) for u, d in self.edges(target, vertex) if u in adjoints]
            if len(edges) == 1 and edges[0][0] == Quantity.out(vertex.name) and edges[0][0] != target:
                out, local = edges[0]
                return (self.total(target, out), Factor(out, vertex, local, direct=self._other_paths(out, vertex)))
        return (self.total(target, vertex),)

    def total(self, target: Quantity, vertex: Quantity) -> Factor:
        """∂target/∂vertex as a factor whose terms show how it is summed."""
        key = (target, vertex)
        if key not in self._totals:
            terms = self._chain_terms(target, vertex)
            if len(terms) == 1 and len(terms[0]) == 1 and terms[0][0].is_local:
                self._totals[key] = terms[0][0]
            else:
                self._totals[key] = Factor(target, vertex, self.adjoints(target)[vertex], terms)
        return self._totals[key]

    # ---- other forms ------------------------------------------------------------------
    def closed_form(self, expression: sp.Expr) -> sp.Expr:
        """``expression`` in inputs, parameters and targets only: every node symbol replaced by its closed form.

        Each node's closed form is built once, in forward order, from its definition and the closed
        forms of the nodes it reads (shared, never copied), so the work is linear in the graph.
        """
        closed = self._closed_nodes()
        return expression.xreplace({s: closed[s] for s in expression.free_symbols if s in closed})

    def _closed_nodes(self) -> dict[sp.Symbol, sp.Expr]:
        if self._closed is None:
            closed: dict[sp.Symbol, sp.Expr] = {}
            for quantity in self.graph.order:
                definition = self.graph.definitions.get(quantity)
                if definition is not None:
                    closed[self.graph.symbols[quantity]] = definition.xreplace(
                        {s: closed[s] for s in definition.free_symbols if s in closed})
            self._closed = closed
        return self._closed

    def simplified(self, of: Quantity, wrt: Quantity) -> sp.Expr:
        """The derivative rebuilt from tidied adjoints (each δ simplified where it is formed)."""
        return self._simplified_adjoints(of).get(wrt, sp.Integer(0))

    def _simplified_adjoints(self, target: Quantity) -> dict[Quantity, sp.Expr]:
        if target not in self._tidy_adjoints:
            self._tidy_adjoints[target] = self._sweep(target, tidy=self.tidy_output_delta)
        return self._tidy_adjoints[target]

    def tidy_output_delta(self, expression: sp.Expr, vertex: Quantity, targets_sum_to_one: bool = True) -> sp.Expr:
        """∂E/∂net(o) of an output unit's net ``vertex`` in its shortest form (see :mod:`.tidy`)."""
        return self._output_deltas.tidy(expression, vertex, targets_sum_to_one)

    def gradient_values(self, digits: int) -> dict[str, object]:
        """Every ∂E/∂p at the network's numbers as an mpmath number, each of its ``digits`` digits proved as
        :meth:`Point.evalf <symbackprop.engine.values.Point.evalf>` proves a value.

        Computed through the straight-line program (one δ per unit) compiled once and run in balls, in time
        linear in the network, where evaluating each per-weight formula would double with every layer.
        """
        program = straight_line_program(self.graph)
        digits = whole_number(digits, 1, MAX_DIGITS + ANALYTIC_GUARD, "digits")  # check asks for guard digits
        gradients = {name: sp.Dummy(name) for name in program.gradients}
        leaves = list(self.point.leaves)
        compiled = CompiledProgram(program.forward + program.backward + tuple(
            (gradients[name], expression) for name, expression in program.gradients.items()), leaves)
        runs: dict[int, dict] = {}

        def at(working: int) -> dict:  # (called at ``working`` digits of balls)
            if working not in runs:
                runs[working] = compiled.run([ball_leaf(self.point.leaves[symbol]) for symbol in leaves])
            return runs[working]

        with mpmath.workdps(digits + 10):  # (an exact gradient as a number of as many digits)
            return {name: to_mpf(certified(lambda working, symbol=symbol: at(working)[symbol], digits, digits + 10,
                                           exact=lambda name=name: self.gradient(name).exact))
                    for name, symbol in gradients.items()}

    @functools.cached_property
    def point(self) -> "Point":
        """The network's numbers as values of every symbol (needs weights, data and targets)."""
        return point_of(self.graph)
