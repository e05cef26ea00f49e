"""A world: the whole computation of a worked example, re-run numerically.

The same forward pass, chain rule and update that the engine does, but in
mpmath numbers and with three knobs the auditor needs:

* ``overrides``: the author's own numbers, used in place of what would be
  computed (so a later claim can be recomputed *from the author's numbers*);
* ``rules``: a mistake model changes the computation (softmax without exp, the
  Jacobian cut to its diagonal, log base 10, a wrong learning rate, …);
* ``reading``: how the author treats the numbers they work out but do not
  write — kept exact, or rounded (or cut) to a fixed number of decimals or
  significant digits, one rule for every such number (a :class:`Reading`).

Every value read from ``overrides`` is recorded in ``used``; every value
computed in ``computed``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional

import mpmath

from ..activations import activation, softmax_numeric
from ..exact import to_mpf
from ..losses import loss_kind
from ..network import Network
from ..quantity import Quantity
from .claims import ClaimKey

WORKING_DIGITS = 40
LOSS = Quantity.loss()


@dataclass(frozen=True)
class Rules:
    """How the computation goes. The default is the correct computation; each field is a mistake."""

    softmax_without_exp: bool = False  # out_k = net_k / Σ net
    softmax_diagonal_only: bool = False  # ∂out_k/∂net_j kept only for k = j
    keep_path: Optional[int] = None  # a hidden unit's sum keeps only the path through downstream unit k
    log10: bool = False  # logarithms base 10 in the loss
    loss_kind: Optional[str] = None  # another loss formula (binary cross-entropy for a softmax)
    loss_scale: int = 0  # +1: mean where the loss sums (÷n); -1: sum where it means (×n)
    loss_factor: Optional[mpmath.mpf] = None  # a missing or extra 2 or ½ on a squared error
    learning_rate: Optional[mpmath.mpf] = None
    update_sign: int = -1  # p − η·g; +1 is the sign error of an update
    biases_fixed: bool = False  # biases not updated
    forward_values: tuple[tuple[str, str], ...] = ()  # (p, q): the value of q used for p in the forward pass
    backward_values: tuple[tuple[str, str], ...] = ()  # (p, q): the value of q used for p in ∂net/∂out
    backward_updated: bool = False  # ∂net/∂out computed with already-updated weights
    logits_for_outputs: bool = False  # the output δ from the logits: net − t where out − t belongs
    activation_derivative_twice: bool = False  # the output δ multiplied by g′ although it already holds it
    term_slip: Optional[tuple[ClaimKey, int, mpmath.mpf]] = None  # (sum, term index, factor): one term off


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


def descendants(graph) -> dict[Quantity, frozenset]:
    """For each quantity, every quantity downstream of it (from the symbolic graph's edges)."""
    found: dict[Quantity, frozenset] = {}
    for quantity in reversed(graph.order):
        below = set()
        for consumer, _ in graph.consumers[quantity]:
            below.add(consumer)
            below |= found.get(consumer, frozenset())
        found[quantity] = frozenset(below)
    return found


@dataclass
class World:
    network: Network
    reach: Mapping[Quantity, frozenset]
    rules: Rules = field(default_factory=Rules)
    overrides: Mapping[ClaimKey, mpmath.mpf] = field(default_factory=dict)
    reading: Reading = field(default_factory=Reading)
    exempt: Optional[ClaimKey] = None  # the claim being judged: compared as computed, never read
    used: set = field(default_factory=set)
    computed: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self._forward: dict[int, dict[Quantity, mpmath.mpf]] = {}
        self._derivatives: dict[ClaimKey, mpmath.mpf] = {}
        self._new: dict[str, mpmath.mpf] = {}
        self._parameters = {p.name: p for p in self.network.parameters()}
        self._layer_of = {u: i for i, layer in enumerate(self.network.layers) for u in layer.units}
        self._override_ofs = {(k.step, k.of) for k in self.overrides if k.kind == "derivative"}
        self._outputs = set(self.network.outputs)
        self._inputs = set(self.network.inputs)

    # ---- plumbing ------------------------------------------------------------------------
    def _settle(self, key: ClaimKey, compute):
        if key in self.overrides:
            self.used.add(key)
            return self.overrides[key]
        value = compute()
        self.computed.add(key)
        if self.reading.mode != "exact" and key != self.exempt and self._written_kind(key):
            return self.reading.apply(value)
        return value

    def _written_kind(self, key: ClaimKey) -> bool:
        """Whether the author would work ``key`` out as a number of its own (and so round it).

        Node values, updated parameters, ∂E/∂· and ∂E(o)/∂·, and an activation's own derivative
        are numbers a tutorial writes; a softmax Jacobian entry or ∂net/∂w (which is an out) is not.
        """
        if key.kind == "new":
            return True
        if key.kind == "value":
            return not (key.of.kind == "out" and key.of.name in self._inputs)
        if key.of.kind in ("loss", "loss_term"):
            return True
        return key.of.kind == "out" and key.wrt.kind == "net" and key.of.name == key.wrt.name and \
            activation(self.network.layers[self._layer_of[key.of.name]].activation).elementwise

    def _sum(self, key: ClaimKey, terms: list) -> mpmath.mpf:
        """Σ terms, with one term off where a term-slip mistake is modelled for this very sum."""
        slip = self.rules.term_slip
        if slip is not None and slip[0] == key and slip[1] < len(terms):
            terms = list(terms)
            terms[slip[1]] = terms[slip[1]] * slip[2]
        return mpmath.fsum(terms)

    def value(self, key: ClaimKey) -> mpmath.mpf:
        """The value of a claim's quantity in this world."""
        with mpmath.workdps(WORKING_DIGITS):
            if key.kind == "new":
                return self.new(key.of.name)
            if key.kind == "derivative":
                return self.derivative(key.of, key.wrt, key.step)
            if key.of.kind == "param" and key.step == 1:
                return self.new(key.of.name)
            return self.forward(key.step)[key.of]

    # ---- parameters and the update -------------------------------------------------------
    def parameter(self, name: str, step: int) -> mpmath.mpf:
        if step == 1:
            return self.new(name)
        key = _key(0, Quantity.param(name))
        if key in self.overrides:
            self.used.add(key)
            return self.overrides[key]
        return self._initial(name)

    def _initial(self, name: str) -> mpmath.mpf:
        value = self._parameters[name].value
        return mpmath.mpf(value.numerator) / value.denominator

    def new(self, name: str) -> mpmath.mpf:
        if name not in self._new:
            key = ClaimKey("new", 0, Quantity.param(name))
            self._new[name] = self._settle(key, lambda: self._update(name))
        return self._new[name]

    def _update(self, name: str) -> mpmath.mpf:
        old = self.parameter(name, 0)
        is_bias = self._parameters[name].kind == "bias"
        if is_bias and (self.rules.biases_fixed or not self.network.update_biases):
            return old
        rate = self.rules.learning_rate
        if rate is None:
            rate = mpmath.mpf(self.network.learning_rate.numerator) / self.network.learning_rate.denominator
        return old + self.rules.update_sign * rate * self.derivative(LOSS, Quantity.param(name), 0)

    def _used_value(self, name: str, step: int, substitutions) -> mpmath.mpf:
        for original, replacement in substitutions:
            if original == name:
                return self.parameter(replacement, step)
        return self.parameter(name, step)

    # ---- forward pass --------------------------------------------------------------------
    def forward(self, step: int) -> dict[Quantity, mpmath.mpf]:
        if step in self._forward:
            return self._forward[step]
        network, rules = self.network, self.rules
        values: dict[Quantity, mpmath.mpf] = {}
        for name, data in zip(network.inputs, network.data):
            values[Quantity.out(name)] = self._settle(
                _key(step, Quantity.out(name)), lambda d=data: mpmath.mpf(d.numerator) / d.denominator
            )
        for index, layer in enumerate(network.layers):
            sources = network.sources(index)
            for j, unit in enumerate(layer.units):
                key = _key(step, Quantity.net(unit))

                def net(j=j, layer=layer, sources=sources, key=key):
                    terms = [self._used_value(layer.weight_names[j][i], step, rules.forward_values)
                             * values[Quantity.out(source)] for i, source in enumerate(sources)]
                    bias = layer.bias.name_for(j)
                    if bias is not None:
                        terms.append(self._used_value(bias, step, rules.forward_values))
                    return self._sum(key, terms)

                values[Quantity.net(unit)] = self._settle(key, net)
            nets = [values[Quantity.net(u)] for u in layer.units]
            rule = activation(layer.activation)
            alpha = mpmath.mpf(layer.alpha.numerator) / layer.alpha.denominator if layer.alpha is not None else None
            if rule.elementwise:
                outs = [rule.numeric(n, alpha) for n in nets]
            elif rules.softmax_without_exp:
                total = mpmath.fsum(nets)
                outs = [n / total if total != 0 else mpmath.inf for n in nets]
            else:
                outs = softmax_numeric(nets)
            for unit, out in zip(layer.units, outs):
                values[Quantity.out(unit)] = self._settle(_key(step, Quantity.out(unit)), lambda o=out: o)
        terms = []
        for unit, target in zip(network.outputs, network.loss.targets):
            t = mpmath.mpf(target.numerator) / target.denominator
            out = values[Quantity.out(unit)]
            values[Quantity.loss_term(unit)] = self._settle(
                _key(step, Quantity.loss_term(unit)), lambda o=out, t=t: self._loss_term(o, t)
            )
            terms.append(values[Quantity.loss_term(unit)])
        values[LOSS] = self._settle(_key(step, LOSS), lambda: self._sum(_key(step, LOSS), terms) * self._sum_scale())
        self._forward[step] = values
        return values

    def _loss_rule(self):
        return loss_kind(self.rules.loss_kind or self.network.loss.kind)

    def _loss_scale(self) -> mpmath.mpf:
        """What a mistake multiplies each output's loss term by."""
        scale = mpmath.mpf(1)
        if self.rules.log10:
            scale /= mpmath.log(10)
        if self.rules.loss_factor is not None:
            scale *= self.rules.loss_factor
        return scale

    def _sum_scale(self) -> mpmath.mpf:
        """What a mean-for-sum (or sum-for-mean) mistake multiplies the total by."""
        n = len(self.network.outputs)
        return {1: mpmath.mpf(1) / n, -1: mpmath.mpf(n)}.get(self.rules.loss_scale, mpmath.mpf(1))

    def _loss_term(self, out, target):
        try:
            return self._loss_rule().numeric(out, target, len(self.network.outputs)) * self._loss_scale()
        except (ValueError, ZeroDivisionError):
            return mpmath.nan

    # ---- derivatives ---------------------------------------------------------------------
    def derivative(self, of: Quantity, wrt: Quantity, step: int) -> mpmath.mpf:
        key = ClaimKey("derivative", step, of, wrt)
        if key not in self._derivatives:
            alias = self._alias(key)
            if alias is not None and alias in self.overrides and key not in self.overrides:
                self.used.add(alias)
                self._derivatives[key] = self.overrides[alias]
            else:
                self._derivatives[key] = self._settle(key, lambda: self._chain(of, wrt, step))
        return self._derivatives[key]

    def _alias(self, key: ClaimKey) -> Optional[ClaimKey]:
        """∂E/∂x and ∂E(o)/∂x are the same number when x reaches the loss only through output o."""
        of, wrt = key.of, key.wrt
        only = self._only_output(wrt)
        if only is None:
            return None
        if of == LOSS:
            return ClaimKey("derivative", key.step, Quantity.loss_term(only), wrt)
        if of == Quantity.loss_term(only):
            return ClaimKey("derivative", key.step, LOSS, wrt)
        return None

    def _only_output(self, quantity: Quantity) -> Optional[str]:
        if quantity.kind not in ("net", "out") or quantity.name not in self._layer_of:
            return None
        layer = self.network.layers[self._layer_of[quantity.name]]
        if self._layer_of[quantity.name] != len(self.network.layers) - 1:
            return None
        if quantity.kind == "net" and layer.activation == "softmax" and not self.rules.softmax_diagonal_only:
            return None
        return quantity.name

    def _chain(self, of: Quantity, wrt: Quantity, step: int) -> mpmath.mpf:
        if of == wrt:
            return mpmath.mpf(1)
        key = ClaimKey("derivative", step, of, wrt)
        output_delta = of == LOSS and wrt.kind == "net" and wrt.name in self._outputs
        if output_delta and self.rules.logits_for_outputs:
            return self.forward(step)[wrt] - self._target(wrt.name)
        if of == LOSS and any((step, Quantity.loss_term(o)) in self._override_ofs for o in self.network.outputs):
            # The author summed per-output derivatives (∂E/∂x = Σ ∂E(o)/∂x): follow the same route.
            return self._sum(key, [self.derivative(Quantity.loss_term(o), wrt, step) for o in self.network.outputs])
        terms = [self.derivative(of, consumer, step) * self._local(consumer, wrt, step, local)
                 for consumer, local in self._consumers(of, wrt, step) if self._reaches(consumer, of)]
        total = self._sum(key, terms)
        if output_delta and self.rules.activation_derivative_twice:
            values = self.forward(step)
            layer = self.network.layers[self._layer_of[wrt.name]]
            rule = activation(layer.activation)
            alpha = mpmath.mpf(layer.alpha.numerator) / layer.alpha.denominator if layer.alpha is not None else None
            out = values[Quantity.out(wrt.name)]
            total *= rule.numeric_derivative(values[wrt], out, alpha) if rule.elementwise else out * (1 - out)
        return total

    def _target(self, unit: str) -> mpmath.mpf:
        target = self.network.loss.targets[self.network.outputs.index(unit)]
        return mpmath.mpf(target.numerator) / target.denominator

    def _local(self, consumer: Quantity, vertex: Quantity, step: int, formula) -> mpmath.mpf:
        """A local factor ∂consumer/∂vertex: the author's own number for it when written, else its formula."""
        # Settled like any other quantity: the author may have written it, or rounded it unwritten.
        return self._settle(ClaimKey("derivative", step, consumer, vertex), formula)

    def _reaches(self, source: Quantity, target: Quantity) -> bool:
        """Whether ``target`` depends on ``source`` (is at or downstream of it)."""
        return source == target or target in self.reach.get(source, ())

    def _consumers(self, of: Quantity, vertex: Quantity, step: int):
        """(consumer, local derivative thunk) for each edge out of ``vertex``."""
        network, rules = self.network, self.rules
        if vertex.kind == "param":
            parameter = self._parameters[vertex.name]
            for unit in parameter.units:
                if parameter.kind == "bias":
                    yield Quantity.net(unit), lambda: mpmath.mpf(1)
                else:
                    yield Quantity.net(unit), lambda s=parameter.source: self.forward(step)[Quantity.out(s)]
            return
        if vertex.kind == "loss_term":
            yield LOSS, lambda: mpmath.mpf(1)
            return
        if vertex.kind == "out":
            layer_index = self._layer_of.get(vertex.name, -1)
            if layer_index == len(network.layers) - 1:
                t = self._target(vertex.name)
                local = lambda: self._loss_derivative(self.forward(step)[vertex], t)
                yield (LOSS if of == LOSS else Quantity.loss_term(vertex.name)), local
                return
            layer = network.layers[layer_index + 1]
            position = network.sources(layer_index + 1).index(vertex.name)
            for j, unit in enumerate(layer.units):
                if rules.keep_path is not None and j != rules.keep_path % len(layer.units):
                    continue
                name = layer.weight_names[j][position]
                yield Quantity.net(unit), lambda name=name: self._backward_weight(name, step)
            return
        if vertex.kind == "net":
            layer = network.layers[self._layer_of[vertex.name]]
            rule = activation(layer.activation)
            values = self.forward(step)
            if rule.elementwise:
                alpha = mpmath.mpf(layer.alpha.numerator) / layer.alpha.denominator if layer.alpha is not None else None
                yield Quantity.out(vertex.name), lambda: rule.numeric_derivative(
                    values[vertex], values[Quantity.out(vertex.name)], alpha)
                return
            for unit in layer.units:
                if rules.softmax_diagonal_only and unit != vertex.name:
                    continue
                yield Quantity.out(unit), lambda unit=unit: self._softmax_local(layer, unit, vertex.name, values)

    def _softmax_local(self, layer, k: str, j: str, values) -> mpmath.mpf:
        if self.rules.softmax_without_exp:
            total = mpmath.fsum(values[Quantity.net(u)] for u in layer.units)
            return ((total if k == j else 0) - values[Quantity.net(k)]) / total**2
        out_k, out_j = values[Quantity.out(k)], values[Quantity.out(j)]
        return out_k * (1 - out_j) if k == j else -out_k * out_j

    def _loss_derivative(self, out, target) -> mpmath.mpf:
        try:
            rule = self._loss_rule()
            return rule.numeric_derivative(out, target, len(self.network.outputs)) * self._loss_scale() * self._sum_scale()
        except (ValueError, ZeroDivisionError):
            return mpmath.nan

    def _backward_weight(self, name: str, step: int) -> mpmath.mpf:
        if self.rules.backward_updated and step == 0:
            return self.new(name)
        return self._used_value(name, step, self.rules.backward_values)


@dataclass
class GraphWorld:
    """The same re-computation for any graph (formula graphs, skip connections, tied weights): node
    values from their definitions and derivatives by the chain rule over the graph's edges, each
    local factor evaluated at this world's values. Its mistake rules are those that do not depend on
    layers: a learning rate, the sign of the update, one term of a sum off."""

    graph: object
    reach: Mapping[Quantity, frozenset]
    rules: Rules = field(default_factory=Rules)
    overrides: Mapping[ClaimKey, mpmath.mpf] = field(default_factory=dict)
    reading: Reading = field(default_factory=Reading)
    exempt: Optional[ClaimKey] = None
    used: set = field(default_factory=set)
    computed: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self._forward: dict[int, tuple[dict, dict]] = {}
        self._derivatives: dict[ClaimKey, mpmath.mpf] = {}
        self._new: dict[str, mpmath.mpf] = {}

    _settle = World._settle
    _sum = World._sum

    def _written_kind(self, key: ClaimKey) -> bool:
        return not (key.kind == "value" and self.graph.roles.get(key.of) == "input")

    def value(self, key: ClaimKey) -> mpmath.mpf:
        with mpmath.workdps(WORKING_DIGITS):
            if key.kind == "new" or (key.kind == "value" and key.of.kind == "param" and key.step == 1):
                return self.new(key.of.name)
            if key.kind == "derivative":
                return self.derivative(key.of, key.wrt, key.step)
            return self.forward(key.step)[0][key.of]

    parameter = World.parameter
    new = World.new

    def _initial(self, name: str) -> mpmath.mpf:
        value = self.graph.values[self.graph.symbols[Quantity.param(name)]]
        return mpmath.mpf(value.numerator) / value.denominator

    def _update(self, name: str) -> mpmath.mpf:
        old = self.parameter(name, 0)
        if name in self.graph.frozen:
            return old
        rate = self.rules.learning_rate
        if rate is None:
            rate = mpmath.mpf(self.graph.learning_rate.numerator) / self.graph.learning_rate.denominator
        return old + self.rules.update_sign * rate * self.derivative(LOSS, Quantity.param(name), 0)

    def forward(self, step: int) -> tuple[dict, dict]:
        """(values by quantity, values by symbol) at a step."""
        from ..program import evaluate_expression

        if step in self._forward:
            return self._forward[step]
        graph = self.graph
        values: dict[Quantity, mpmath.mpf] = {}
        by_symbol = {symbol: mpmath.mpf(v.numerator) / v.denominator for symbol, v in graph.values.items()}
        for quantity in graph.order:
            symbol = graph.symbols[quantity]
            if quantity.kind == "param":
                value = self.parameter(quantity.name, step)
            elif quantity in graph.definitions:
                value = self._settle(_key(step, quantity), lambda q=quantity: to_mpf(
                    evaluate_expression(graph.definitions[q], by_symbol)))
            else:
                value = self._settle(_key(step, quantity), lambda s=symbol: by_symbol[s])
            values[quantity] = by_symbol[symbol] = value
        self._forward[step] = (values, by_symbol)
        return self._forward[step]

    def derivative(self, of: Quantity, wrt: Quantity, step: int) -> mpmath.mpf:
        key = ClaimKey("derivative", step, of, wrt)
        if key not in self._derivatives:
            self._derivatives[key] = self._settle(key, lambda: self._chain(of, wrt, step))
        return self._derivatives[key]

    def _chain(self, of: Quantity, wrt: Quantity, step: int) -> mpmath.mpf:
        from ..program import evaluate_expression

        if of == wrt:
            return mpmath.mpf(1)
        by_symbol = self.forward(step)[1]
        terms = []
        for consumer, local in self.graph.consumers[wrt]:
            if consumer != of and of not in self.reach.get(consumer, ()):
                continue
            factor = self._settle(ClaimKey("derivative", step, consumer, wrt),
                                  lambda local=local: to_mpf(evaluate_expression(local, by_symbol)))
            terms.append(self.derivative(of, consumer, step) * factor)
        return self._sum(ClaimKey("derivative", step, of, wrt), terms)
