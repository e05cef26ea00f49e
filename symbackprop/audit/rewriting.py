"""A formula as an author's mistake rewrites it: the knobs (:class:`Rules`) and the graph they leave.

Deliberately separate from the engine's rules: the auditor must be able to get a formula wrong the way an
author does (softmax without exp, log10 for ln, a loss scaled or of another kind) and differentiate that.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import mpmath
import sympy as sp

from ..functions.activations import activation, softmax
from ..functions.losses import loss_kind
from ..graph import Edge, SymbolicGraph, local_derivatives, reduced
from ..quantity import Quantity
from .claims import ClaimKey


@dataclass(frozen=True)
class Computation:
    """The graph's definitions and edges as a mistake in a formula leaves them."""

    definitions: Mapping[Quantity, sp.Expr]
    consumers: Mapping[Quantity, tuple[Edge, ...]]


#: The fields of :class:`Rules` that rewrite a definition (the others act on edges or numbers).
REWRITING = ("softmax_without_exp", "log10", "loss_kind", "loss_scale", "loss_factor", "samples_flipped",
             "linear_units", "activated_units", "unscaled", "forward_only")


def computation(graph: SymbolicGraph, rules: Rules) -> Computation:
    """The graph with the definitions ``rules`` rewrite, and the local derivatives of those, by SymPy.

    >>> from symbackprop.frontends.loader import network_from_mapping
    >>> from symbackprop.frontends.dense import build_graph
    >>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [{"units": ["a", "b"],
    ...     "activation": "softmax", "weights": [["1", "2"]]}]}, "loss": {"kind": "cross_entropy"}})
    >>> changed = computation(build_graph(net), Rules(softmax_without_exp=True, log10=True))
    >>> changed.definitions[Quantity.out("a")], changed.definitions[Quantity.loss_term("a")]
    (net_a/(net_a + net_b), -t_a*log(out_a)/log(10))
    """
    changed = _rewritten(graph, rules)
    rederived = {q: d for q, d in changed.items() if not rules.forward_only or q.kind in ("loss_term", "loss")}
    if not rederived:
        return Computation({**graph.definitions, **changed}, graph.consumers)
    fresh = local_derivatives(graph.order, graph.symbols, rederived)
    consumers = {}
    for quantity in graph.order:
        kept = [edge for edge in graph.consumers[quantity] if edge[0] not in rederived]
        consumers[quantity] = tuple(sorted(kept + list(fresh[quantity]), key=lambda edge: graph.position[edge[0]]))
    return Computation({**graph.definitions, **changed}, consumers)


def _rewritten(graph: SymbolicGraph, rules: Rules) -> dict[Quantity, sp.Expr]:
    changed: dict[Quantity, sp.Expr] = {}
    if rules.softmax_without_exp:
        for quantity, definition in graph.definitions.items():
            if isinstance(definition, softmax):
                nets = definition.args[1:]
                changed[quantity] = nets[int(definition.args[0])] / sp.Add(*nets)
    for quantity in graph.order:
        if quantity.kind == "out" and quantity.name in rules.linear_units:
            changed[quantity] = graph.symbols[Quantity.net(quantity.name, quantity.sample)]
    for unit, name in rules.activated_units:
        for quantity in graph.order:
            if quantity.kind == "out" and quantity.name == unit:
                net = graph.symbols[Quantity.net(unit, quantity.sample)]
                changed[quantity] = activation(name).forward(net, None)
    if rules.unscaled:
        for quantity, definition in graph.definitions.items():
            scale = inverse_root_factor(definition) if quantity.kind not in ("loss", "loss_term") else None
            if scale is not None:
                changed[quantity] = definition / scale
    terms = [q for q in graph.order if q.kind == "loss_term"]
    scale = sp.Integer(1)
    if rules.log10:
        scale /= sp.log(10)
    if rules.loss_factor is not None:
        scale *= rules.loss_factor
    if rules.loss_kind is not None or scale != 1:
        for term in terms:
            definition = graph.definitions[term]
            if rules.loss_kind is not None:
                definition = loss_kind(rules.loss_kind).term(graph.symbols[Quantity.out(term.name, term.sample)],
                                                             graph.target(term.name, term.sample), len(graph.outputs))
            changed[term] = definition * scale
    if rules.samples_flipped is not None and graph.samples:
        losses = [graph.symbols[Quantity.loss(s)] for s in range(len(graph.samples))]
        changed[LOSS] = reduced("sum" if graph.training.reduction == "mean" else "mean", losses)
    if rules.loss_scale and terms:
        outputs = len(graph.outputs)
        changed[LOSS] = changed.get(LOSS, graph.definitions[LOSS]) * (
            sp.Rational(1, outputs) if rules.loss_scale > 0 else outputs)
    return changed


def inverse_root_factor(definition: sp.Expr) -> Optional[sp.Expr]:
    """The constant factor 1/√k of a product, as attention scales its scores, or None. Only k that is not a
    square is told apart: 1/√4 is the 1/2 of any mean of two.

    >>> q, k = sp.symbols("q k")
    >>> inverse_root_factor(q * k / sp.sqrt(3)), inverse_root_factor(q * k / sp.sqrt(8)), inverse_root_factor(q * k / 2)
    (sqrt(3)/3, sqrt(2)/4, None)
    """
    if not definition.is_Mul or not definition.free_symbols:
        return None
    constant, _ = definition.as_independent(*definition.free_symbols, as_Add=False)
    square = constant ** 2
    if constant.is_positive and not constant.is_Rational and square.is_Rational and square.p == 1:
        return constant
    return None


def written_terms(graph: SymbolicGraph, total: sp.Add) -> list[sp.Expr]:
    """The terms of a sum in the order a person writes them: by the first node each reads, in forward
    order, and terms of parameters alone (a bias) last.

    >>> from symbackprop.frontends.loader import network_from_mapping
    >>> from symbackprop.frontends.dense import build_graph
    >>> net = network_from_mapping({"network": {"inputs": ["x2", "x1"], "layers": [{"units": ["y"],
    ...     "activation": "linear", "weights": [["1"], ["2"]], "bias": "3", "bias_names": "b1"}]}, "loss": {"kind": "half_sse"}})
    >>> graph = build_graph(net)
    >>> written_terms(graph, graph.definition(Quantity.net("y")))
    [w_x2_y*x2, w_x1_y*x1, b1]
    """
    def place(term: sp.Expr) -> float:
        found = [graph.position[graph.quantity_of[s]] for s in term.free_symbols
                 if s in graph.quantity_of and graph.roles[graph.quantity_of[s]] != "parameter"]
        return min(found, default=float("inf"))

    return sorted(total.args, key=place)


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
    loss_factor: Optional[sp.Rational] = None  # a missing or extra 2 or ½ on a squared error
    learning_rate: Optional[mpmath.mpf] = None
    update_sign: int = -1  # p − η·g; +1 is the sign error of an update
    biases_fixed: bool = False  # biases not updated
    forward_values: tuple[tuple[str, str], ...] = ()  # (p, q): the value of q used for p in the forward pass
    backward_values: tuple[tuple[str, str], ...] = ()  # (p, q): the value of q used for p in ∂net/∂out
    backward_updated: bool = False  # ∂net/∂out computed with already-updated weights
    logits_for_outputs: bool = False  # the output δ from the logits: net − t where out − t belongs
    activation_derivative_twice: bool = False  # the output δ multiplied by g′ although it already holds it
    term_slip: Optional[tuple[ClaimKey, int, mpmath.mpf]] = None  # (sum, term index, factor): one term off
    samples_flipped: Optional[int] = None  # E summed over the samples where it is their mean, or the reverse: at
    #                                        every step (-1) or at this one step
    stale_parameters: Optional[int] = None  # this step computed with the parameters of the step before
    update_from_sample: Optional[tuple[int, int]] = None  # (s, step; -1: every step): an update from ∂E[s]/∂p alone
    derivative_at: Optional[str] = None  # ∂out/∂net at the wrong argument — "net": its form in the output applied
    #                                      to net (tanh′ as 1 − net²); "out": f′ evaluated at out (σ(out)(1 − σ(out)))
    plain_delta: tuple[str, ...] = ()  # units whose δ lacks f′ (∂out/∂net taken as 1)
    linear_units: tuple[str, ...] = ()  # units whose activation was not applied (out = net)
    activated_units: tuple[tuple[str, str], ...] = ()  # (unit, activation): applied where the unit is linear
    last_use_only: bool = False  # a parameter used several times (each time step) counted at its last use only
    unscaled: bool = False  # a constant 1/√k factor (attention's 1/√d) left out of every node it scales
    forward_only: bool = False  # a rewritten node (not the loss) keeps its textbook local derivative in node
