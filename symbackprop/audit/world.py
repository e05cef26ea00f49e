"""A world: the whole computation of a worked example, re-run numerically over the graph.

The graph's own forward definitions and local derivatives (the edges every
command reads), evaluated in mpmath numbers, with three knobs the auditor needs:

* ``overrides``: the author's own numbers, used in place of what would be
  computed (so a later claim can be recomputed *from the author's numbers*);
* ``rules``: a mistake model changes the computation. A mistake in a formula
  rewrites the graph's definitions (softmax without exp, log base 10, another
  loss, a factor on the loss) and takes the new local derivatives from SymPy as
  the graph does; a mistake in the chain rule drops edges (the Jacobian cut to
  its diagonal, one downstream path kept) or changes the numbers an edge is
  evaluated at (a swapped weight, weights already updated);
* ``reading``: how the author treats the numbers they work out but do not
  write — kept exact, or rounded (or cut) to a fixed number of decimals or
  significant digits, one rule for every such number (a :class:`Reading`).

Every value read from ``overrides`` is recorded in ``used``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal, Mapping, Optional

import mpmath
import sympy as sp

from ..functions.activations import softmax
from ..functions.evaluate import evaluate_expression
from ..functions.update import over_samples
from ..graph import Edge, SymbolicGraph
from ..numbers import fast_mpf as _mpf
from ..numbers import to_mpf
from ..quantity import Quantity
from ..training.train import batches
from .claims import ClaimKey
from .rewriting import LOSS, Computation, Rules, computation, written_terms


#: The least working precision of a world; the auditor raises it to follow the most digits a claim writes.
WORKING_DIGITS = 40


    #                             symbols (softmax's out·(1 − out) for net/Σ net): the backward pass as usual


@dataclass(frozen=True)
class Reading:
    """How the author treats the numbers they work out but do not write: one rule for all of them.

    >>> import mpmath
    >>> value = mpmath.mpf("0.123456")
    >>> [str(Reading(mode, style, 3).apply(value)) for mode in ("round", "cut") for style in ("places", "significant")]
    ['0.123', '0.123', '0.123', '0.123']
    >>> str(Reading("round", "significant", 2).apply(mpmath.mpf("-0.004567"))), str(Reading("cut", "places", 2).apply(mpmath.mpf("-1.239")))
    ('-0.0046', '-1.23')
    """

    mode: Literal["exact", "round", "cut"] = "exact"
    style: Literal["places", "significant"] = "places"
    digits: int = 0

    def apply(self, value: mpmath.mpf) -> mpmath.mpf:
        if self.mode == "exact" or not mpmath.isfinite(value) or value == 0:
            return value
        places = self.digits
        if self.style == "significant":
            places = self.digits - 1 - int(mpmath.floor(mpmath.log10(abs(value))))
        scale = mpmath.mpf(10) ** places
        scaled = abs(value) * scale
        # a hair of tolerance so that 0.125 computed as 0.12499999… is cut to 0.125, as the author's is
        whole = mpmath.floor(scaled + mpmath.mpf(10) ** -20) if self.mode == "cut" else mpmath.nint(scaled)
        return mpmath.sign(value) * whole / scale

    def __str__(self) -> str:
        if self.mode == "exact":
            return "unwritten numbers kept exact"
        unit = "decimals" if self.style == "places" else "significant digits"
        return f"unwritten numbers {'rounded' if self.mode == 'round' else 'cut'} to {self.digits} {unit}"


def _key(step: int, quantity: Quantity) -> ClaimKey:
    return ClaimKey("value", step, quantity)


def descendants(graph: SymbolicGraph) -> dict[Quantity, frozenset]:
    """For each quantity, every quantity downstream of it (from the symbolic graph's edges)."""
    found: dict[Quantity, frozenset] = {}
    for quantity in reversed(graph.order):
        below = set()
        for consumer, _ in graph.consumers[quantity]:
            below.add(consumer)
            below |= found.get(consumer, frozenset())
        found[quantity] = frozenset(below)
    return found


class _Values(Mapping):
    """Values by symbol, some of them read through a rule (the value of another parameter)."""

    def __init__(self, base: Mapping, through: Mapping[sp.Symbol, Callable[[], mpmath.mpf]]) -> None:
        self.base, self.through = base, through

    def __getitem__(self, symbol):
        rule = self.through.get(symbol)
        return rule() if rule is not None else self.base[symbol]

    def __iter__(self) -> Iterator:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


def _number(expression: sp.Expr, values: Mapping) -> mpmath.mpf:
    """``expression`` at ``values``; NaN where it has no real value (the log of a negative number)."""
    try:
        value = evaluate_expression(expression, values)
    except (ValueError, ZeroDivisionError, OverflowError):
        return mpmath.nan
    return mpmath.nan if isinstance(value, mpmath.mpc) else _mpf(value)


@dataclass
class World:
    graph: SymbolicGraph
    reach: Mapping[Quantity, frozenset]
    rules: Rules = field(default_factory=Rules)
    overrides: Mapping[ClaimKey, mpmath.mpf] = field(default_factory=dict)
    reading: Reading = field(default_factory=Reading)
    exempt: Optional[ClaimKey] = None  # the claim being judged: compared as computed, never read
    changed: Optional[Computation] = None  # the graph as the rules rewrite it (computed when not given)
    passes: Optional[dict] = None  # forward passes shared by worlds that compute them alike (see forward)
    used: set = field(default_factory=set)
    digits: int = WORKING_DIGITS  # working precision: the auditor's, which follows the claims' written digits
    bits: Optional[int] = None  # or a precision in bits, every operation rounded to it (24: float32 arithmetic)

    def __post_init__(self) -> None:
        if self.changed is None:
            self.changed = computation(self.graph, self.rules)
        self._forward: dict[int, tuple[dict, dict]] = {}
        self._derivatives: dict[ClaimKey, mpmath.mpf] = {}
        self._new: dict[tuple[str, int], mpmath.mpf] = {}  # (parameter, step) -> after update step + 1
        self._initial: dict[str, mpmath.mpf] = {}
        self._elsewhere: Optional[Computation] = None  # the graph at the steps a one-step mistake leaves alone
        self._loss_reached: dict[Quantity, frozenset] = {}
        self._override_ofs = {(k.step, k.of) for k in self.overrides if k.kind == "derivative"}
        # Inside this world a step is one update. With stochastic or minibatch training a claim's step is a
        # pass over the samples: several updates, one per batch (a batch's mean or summed gradient).
        training = self.graph.training
        self._groups = batches(len(self.graph.samples), training) if self.graph.samples and training.method != "batch" \
            else None
        self._per_pass = len(self._groups) if self._groups else 1
        self._loss_terms = [q for q in self.graph.order if q.kind == "loss_term"]
        layout = self.graph.layout
        self._biases = {p.name for p in layout.parameters() if p.kind == "bias"} if layout is not None else set()

    # ---- plumbing ------------------------------------------------------------------------
    def _settle(self, key: ClaimKey, compute):
        if key in self.overrides:
            self.used.add(key)
            return self.overrides[key]
        value = compute()
        if self.reading.mode != "exact" and key != self.exempt and self._written_kind(key):
            return self.reading.apply(value)
        return value

    def _written_kind(self, key: ClaimKey) -> bool:
        """Whether the author would work ``key`` out as a number of its own (and so round it).

        Node values, updated parameters, ∂E/∂· and ∂E(o)/∂·, an activation's own derivative and
        any derivative between formula nodes are numbers a tutorial writes; a softmax Jacobian entry
        or a dense layer's ∂net/∂w (which is an out) is not.
        """
        if key.kind == "new":
            return True
        if key.kind == "value":
            return self.graph.roles.get(key.of) != "input"
        of, wrt = key.of, key.wrt
        if of.kind in ("loss", "loss_term"):
            return True
        if of.kind == "out" and wrt == Quantity.net(of.name):
            return not isinstance(self.graph.definitions.get(of), softmax)
        return of.kind not in ("net", "out")

    def _sum(self, key: ClaimKey, terms: list) -> mpmath.mpf:
        """Σ terms, with one term off where a term-slip mistake is modelled for this very sum."""
        slip = self.rules.term_slip
        if slip is not None and slip[0] == key and slip[1] < len(terms):
            terms = list(terms)
            terms[slip[1]] = terms[slip[1]] * slip[2]
        return mpmath.fsum(terms)

    def value(self, key: ClaimKey) -> mpmath.mpf:
        """The value of a claim's quantity in this world."""
        with mpmath.workprec(self.bits) if self.bits else mpmath.workdps(self.digits):
            update = key.step * self._per_pass
            if key.kind == "new":
                return self.new(key.of.name, update + self._per_pass - 1)
            if key.kind == "value" and key.of.kind == "param" and key.step >= 1:
                return self.parameter(key.of.name, update)
            if key.kind == "derivative":
                return self.derivative(key.of, key.wrt, update)
            return self.forward(update)[0][key.of]

    def _claim(self, update: int) -> int:
        """The claim step whose numbers are those at ``update`` (a number no claim has, between passes)."""
        return update // self._per_pass if update % self._per_pass == 0 else -1 - update

    def _claim_new(self, update: int) -> int:
        """The claim step k of ``new(p)`` that update ``update`` + 1 completes (after pass k + 1)."""
        return self._claim(update + 1) - 1 if (update + 1) % self._per_pass == 0 else -1 - update

    # ---- parameters and the update -------------------------------------------------------
    def parameter(self, name: str, step: int) -> mpmath.mpf:
        """A parameter at a step: the file's (or the author's) at step 0, after ``step`` updates later."""
        if step >= 1:
            return self.new(name, step - 1)
        if name not in self._initial:
            key = _key(0, Quantity.param(name))
            if key in self.overrides:
                self.used.add(key)
                self._initial[name] = self.overrides[key]
            else:
                self._initial[name] = _mpf(self.graph.values[self.graph.symbols[Quantity.param(name)]])
        return self._initial[name]

    def new(self, name: str, step: int = 0) -> mpmath.mpf:
        """The parameter after update ``step`` + 1 (``new(p)`` of a claim at that step)."""
        if (name, step) not in self._new:
            key = ClaimKey("new", self._claim_new(step), Quantity.param(name))
            self._new[(name, step)] = self._settle(key, lambda: self._update(name, step))
        return self._new[(name, step)]

    def _update(self, name: str, step: int) -> mpmath.mpf:
        # Deliberately not symbackprop.functions.update.descend: this update holds the author's mistakes (the sign, the
        # rate, biases left alone, one sample's gradient), and the auditor's exact values come from descend.
        old = self.parameter(name, step)
        if name in self.graph.frozen or (self.rules.biases_fixed and name in self._biases):
            return old
        rate = self.rules.learning_rate
        if rate is None:
            rate = to_mpf(self.graph.learning_rate)
        return old + self.rules.update_sign * rate * self._velocity(name, step)

    def _velocity(self, name: str, step: int) -> mpmath.mpf:
        """The update's direction: ∂E/∂p (of the update's batch of samples), plus μ times the last one
        under momentum."""
        one = self.rules.update_from_sample
        if self._groups is not None:
            group = self._groups[step % self._per_pass]
            total = mpmath.fsum(self.derivative(Quantity.loss(s), Quantity.param(name), step) for s in group)
            gradient = over_samples(self.graph.training.reduction, total, len(group))
        else:
            of = LOSS if one is None or one[1] not in (-1, step) else Quantity.loss(one[0])
            gradient = self.derivative(of, Quantity.param(name), step)
        momentum = self.graph.training.momentum
        if not momentum or step == 0:
            return gradient
        return _mpf(momentum) * self._velocity(name, step - 1) + gradient

    def _read_through(self, pairs, step: int) -> dict[sp.Symbol, Callable[[], mpmath.mpf]]:
        """For each (p, q): p's symbol read as q's value."""
        symbols = self.graph.symbols
        return {symbols[Quantity.param(p)]: (lambda q=q: self.parameter(q, step)) for p, q in pairs}

    # ---- forward pass --------------------------------------------------------------------
    def forward(self, step: int) -> tuple[dict, dict]:
        """(values by quantity, values by symbol) at a step.

        Most mistakes leave the forward pass at step 0 alone, and a swapped weight or a slipped term
        changes only what lies downstream of it: worlds that share ``passes`` share the pass they
        compute alike (the same rewrites, author's numbers, reading and exempt claim), and recompute
        only the nodes their swaps and slip touch.
        """
        if step in self._forward:
            return self._forward[step]
        if step == 0 and self.passes is not None:
            slip = self.rules.term_slip if self.rules.term_slip and self.rules.term_slip[0].kind == "value" else None
            base = self._shared_pass()
            if not self.rules.forward_values and slip is None:
                self._forward[0] = base
            else:
                touched = set()
                for original, _ in self.rules.forward_values:
                    touched |= self.reach.get(Quantity.param(original), frozenset())
                if slip is not None:
                    touched |= {slip[0].of} | self.reach.get(slip[0].of, frozenset())
                self._forward[0] = self._forward_pass(0, self.rules.forward_values, slip, base, touched)
            return self._forward[0]
        self._forward[step] = self._forward_pass(step, self.rules.forward_values, self.rules.term_slip)
        return self._forward[step]

    def _shared_pass(self) -> tuple[dict, dict]:
        alike = (id(self.changed), id(self.overrides), self.reading, self.exempt)
        if alike not in self.passes:
            before = set(self.used)
            # the overrides and rewrites are kept with the pass, so that their ids are not reused while cached
            self.passes[alike] = (self._forward_pass(0, (), None), self.used - before, self.overrides, self.changed)
        found, used, _, _ = self.passes[alike]
        self.used |= used
        return found

    def _at(self, step: int) -> Computation:
        """The graph as this world computes it at ``step``: a mistake of one step leaves the others alone."""
        flipped = self.rules.samples_flipped
        if flipped is None or flipped < 0 or step == flipped * self._per_pass:
            return self.changed
        if self._elsewhere is None:
            self._elsewhere = computation(self.graph, dataclasses.replace(self.rules, samples_flipped=None))
        return self._elsewhere

    def _forward_pass(self, step: int, swaps, slip, base=None, touched=frozenset()) -> tuple[dict, dict]:
        """The forward pass with parameters read as ``swaps`` says and one term ``slip``ped; with ``base``,
        only the ``touched`` nodes are computed and the rest read from it."""
        graph, definitions = self.graph, self._at(step).definitions
        values: dict[Quantity, mpmath.mpf] = {}
        by_symbol = {symbol: _mpf(value) for symbol, value in graph.values.items()}
        read = _Values(by_symbol, self._read_through(swaps, step))
        for quantity in graph.order:
            symbol = graph.symbols[quantity]
            if base is not None and quantity not in touched:
                value = base[0][quantity]
            elif quantity.kind == "param":
                stale = step >= 1 and self.rules.stale_parameters is not None and \
                    step == self.rules.stale_parameters * self._per_pass
                value = self.parameter(quantity.name, step - self._per_pass if stale else step)
            elif quantity in definitions:
                key = _key(self._claim(step), quantity)
                value = self._settle(key, lambda q=quantity, key=key: self._evaluate(definitions[q], key, read, slip))
            else:
                value = self._settle(_key(self._claim(step), quantity), lambda s=symbol: by_symbol[s])
            values[quantity] = by_symbol[symbol] = value
        return values, by_symbol

    def _evaluate(self, definition: sp.Expr, key: ClaimKey, values: Mapping, slip) -> mpmath.mpf:
        if slip is not None and slip[0] == key and definition.is_Add:
            terms = [_number(term, values) for term in written_terms(self.graph, definition)]
            if slip[1] < len(terms):
                terms[slip[1]] *= slip[2]
            return mpmath.fsum(terms)
        return _number(definition, values)

    # ---- derivatives ---------------------------------------------------------------------
    def derivative(self, of: Quantity, wrt: Quantity, step: int) -> mpmath.mpf:
        key = ClaimKey("derivative", self._claim(step), of, wrt)
        if key not in self._derivatives:
            alias = self._alias(key)
            if alias is not None and alias in self.overrides and key not in self.overrides:
                self.used.add(alias)
                self._derivatives[key] = self.overrides[alias]
            else:
                self._derivatives[key] = self._settle(key, lambda: self._chain(of, wrt, step))
        return self._derivatives[key]

    def _alias(self, key: ClaimKey) -> Optional[ClaimKey]:
        """∂E/∂x and ∂E(o)/∂x are the same number when a unit's x reaches the loss only through E(o)."""
        of, wrt = key.of, key.wrt
        if wrt.kind not in ("net", "out") or not self._loss_terms or self.graph.one_sample is not None:
            return None  # (over several samples, E is their mean: ∂E/∂x is not ∂E(o)/∂x)
        reached = self._reached_terms(wrt)
        if len(reached) != 1:
            return None
        (only,) = reached
        if of == LOSS:
            return ClaimKey("derivative", key.step, only, wrt)
        if of == only:
            return ClaimKey("derivative", key.step, LOSS, wrt)
        return None

    def _reached_terms(self, quantity: Quantity) -> frozenset:
        """The loss terms ``quantity`` reaches over this world's edges."""
        if quantity not in self._loss_reached:
            found = set()
            for consumer, _ in self._edges(quantity):
                found |= {consumer} if consumer.kind == "loss_term" else self._reached_terms(consumer)
            self._loss_reached[quantity] = frozenset(found)
        return self._loss_reached[quantity]

    def _edges(self, vertex: Quantity, step: int = 0) -> list[Edge]:
        """The edges out of ``vertex`` that this world's chain rule follows at ``step``."""
        edges = list(self._at(step).consumers[vertex])
        rules, definitions = self.rules, self.graph.definitions
        if rules.softmax_diagonal_only:
            symbol = self.graph.symbols[vertex]
            edges = [(consumer, local) for consumer, local in edges if not (
                isinstance(definitions.get(consumer), softmax)
                and definitions[consumer].args[1 + int(definitions[consumer].args[0])] != symbol)]
        if rules.last_use_only and self.graph.roles.get(vertex) == "parameter" and len(edges) > 1:
            edges = [max(edges, key=lambda edge: self.graph.position[edge[0]])]
        if rules.keep_path is not None and vertex.kind == "out":
            nets = [edge for edge in edges if edge[0].kind == "net"]
            if nets:
                kept = nets[rules.keep_path % len(nets)]
                edges = [edge for edge in edges if edge[0].kind != "net" or edge is kept]
        return edges

    def _chain(self, of: Quantity, wrt: Quantity, step: int) -> mpmath.mpf:
        if of == wrt:
            return mpmath.mpf(1)
        key = ClaimKey("derivative", self._claim(step), of, wrt)
        output_delta = of.kind == "loss" and wrt.kind == "net" and wrt.name in self.graph.outputs
        if output_delta and self.rules.logits_for_outputs:
            delta = self.forward(step)[0][wrt] - to_mpf(self.graph.values[self.graph.target(wrt.name, wrt.sample)])
            if of.sample < 0 <= wrt.sample:  # E over several samples: this sample's share of it
                delta *= self.derivative(of, Quantity.loss(wrt.sample), step)
            return delta
        if of == LOSS and wrt.kind != "loss_term" and any((self._claim(step), t) in self._override_ofs
                                                           for t in self._loss_terms):
            # The author summed per-output derivatives (∂E/∂x = Σ ∂E(o)/∂x): follow the same route.
            return self._sum(key, [self.derivative(LOSS, t, step) * self.derivative(t, wrt, step)
                                   for t in self._loss_terms])
        terms = [self.derivative(of, consumer, step) * self._local(consumer, wrt, step, local)
                 for consumer, local in self._edges(wrt, step) if consumer == of or of in self.reach.get(consumer, ())]
        total = self._sum(key, terms)
        if output_delta and self.rules.activation_derivative_twice:
            out = Quantity.out(wrt.name, wrt.sample)
            own = next(local for consumer, local in self.graph.consumers[wrt] if consumer == out)
            total *= _number(own, self.forward(step)[1])
        return total

    def _local(self, consumer: Quantity, vertex: Quantity, step: int, local: sp.Expr) -> mpmath.mpf:
        """A local factor ∂consumer/∂vertex: the author's own number for it when written, else the edge's
        derivative at this world's values (weights read as a backward-pass mistake reads them)."""
        activation_edge = vertex.kind == "net" and consumer == Quantity.out(vertex.name, vertex.sample)
        if activation_edge and vertex.name in self.rules.plain_delta:
            return mpmath.mpf(1)
        if activation_edge and self.rules.derivative_at is not None:
            local = self._misplaced(consumer, vertex, local)
        return self._settle(ClaimKey("derivative", self._claim(step), consumer, vertex),
                            lambda: _number(local, self._backward_values(step)))

    def _misplaced(self, out: Quantity, net: Quantity, local: sp.Expr) -> sp.Expr:
        """∂out/∂net at the wrong argument, as :attr:`Rules.derivative_at` says."""
        out_symbol, net_symbol = self.graph.symbols[out], self.graph.symbols[net]
        if self.rules.derivative_at == "net":
            return local.xreplace({out_symbol: net_symbol})
        again = self.changed.definitions[out].xreplace({net_symbol: out_symbol})  # f(out)
        return local.xreplace({out_symbol: again, net_symbol: out_symbol})

    def _backward_values(self, step: int) -> Mapping:
        by_symbol = self.forward(step)[1]
        if self.rules.backward_updated:
            symbols = self.graph.symbols
            return _Values(by_symbol, {symbols[Quantity.param(p)]: (lambda p=p: self.new(p, step))
                                       for p in self.graph.parameters()})
        if self.rules.backward_values:
            return _Values(by_symbol, self._read_through(self.rules.backward_values, step))
        return by_symbol
