"""The library of mistake models.

Each model is a changed computation: either new :class:`Rules` for the world
(softmax without exp, the Jacobian cut to its diagonal, …) or a transform of
the final number (a sign, a factor of ten). The auditor re-runs each from the
exact values and from the author's own numbers, and reports every one that
reproduces the claimed number.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Callable, Optional

import mpmath
import sympy as sp

from ..graph import SymbolicGraph
from ..layout import Layout
from .claims import Claim
from .rewriting import Rules, inverse_root_factor


MISTAKE_IDS = (
    "softmax_without_exp", "softmax_diagonal_only", "dropped_paths", "log10_loss", "binary_ce_for_softmax",
    "sign_error", "wrong_learning_rate", "updated_weight_used", "wrong_weight", "wrong_bias", "factor_two",
    "decimal_slip", "digit_typo", "truncation", "bias_not_updated", "mean_vs_sum",
    "logits_for_outputs", "activation_derivative_twice", "term_slip", "sum_vs_mean_samples", "one_sample_gradient",
    "stale_parameters", "other_layer_weights", "activation_not_applied", "activation_where_linear",
    "derivative_wrong_argument", "delta_without_derivative", "truncated_bptt", "attention_unscaled", "float32",
)
#: Samples whose gradient alone is tried as the whole batch's (one_sample_gradient).
MAX_SAMPLE_UPDATES = 20
MAX_WEIGHT_SWAPS = 60
MAX_BIAS_SWAPS = 60
#: Pairs of changed computations tried for one claim that no single mistake explains.
MAX_PAIRS = 120
#: What one slipped term of a sum is multiplied by: a sign, or a power of ten.
SLIP_FACTORS = ((-1, "its sign flipped"), (10, "ten times too large"), (mpmath.mpf(1) / 10, "a tenth of its value"),
                (100, "a hundred times too large"), (mpmath.mpf(1) / 100, "a hundredth of its value"))


@dataclass(frozen=True)
class Variant:
    """One changed computation: rules for the world and/or a transform of the result."""

    mistakes: tuple[str, ...]
    explanation: str
    rules: Rules = field(default_factory=Rules)
    transform: Optional[Callable[[mpmath.mpf], mpmath.mpf]] = None
    implied: Optional[str] = None


def _rate(graph: SymbolicGraph) -> mpmath.mpf:
    return mpmath.mpf(graph.learning_rate.numerator) / graph.learning_rate.denominator


def world_variants(graph: SymbolicGraph, claim: Claim) -> list[Variant]:
    """Every single mistake of layers (``graph`` has a layout) that changes the computation of ``claim``."""
    found: list[Variant] = []
    layout = graph.layout
    layers = layout.layers
    has_softmax = any(layer.activation == "softmax" for layer in layers)
    kind = graph.loss_kind
    if has_softmax:
        found.append(Variant(("softmax_without_exp",), "softmax computed as net_k/Σ net (no exponentials)",
                             Rules(softmax_without_exp=True)))
        found.append(Variant(("softmax_without_exp",), "softmax computed as net_k/Σ net (no exponentials), and "
                             "differentiated as a softmax (out_k·(1 − out_k), −out_k·out_j)",
                             Rules(softmax_without_exp=True, forward_only=True)))
        found.append(Variant(("softmax_diagonal_only",),
                             "softmax Jacobian cut to its diagonal: the cross-output terms −out_k·out_j dropped",
                             Rules(softmax_diagonal_only=True)))
    output = layers[-1]
    collapses = (kind == "cross_entropy" and output.activation == "softmax") or (
        kind == "binary_cross_entropy" and output.activation == "sigmoid")
    if collapses:
        found.append(Variant(("logits_for_outputs",),
                             "the backward pass started from the logits, not the outputs: net − t where out − t belongs",
                             Rules(logits_for_outputs=True)))
    if collapses or output.activation not in ("linear", "softmax"):
        found.append(Variant(("activation_derivative_twice",),
                             "the output activation's derivative applied on top of a δ that already holds it",
                             Rules(activation_derivative_twice=True)))
    widest = max((len(layer.units) for layer in layers[1:]), default=0)
    if len(layers) > 1:
        for k in range(widest):
            found.append(Variant(("dropped_paths",),
                                 f"a hidden unit's sum over downstream units cut to one path (through unit #{k + 1})",
                                 Rules(keep_path=k)))
    if kind in ("cross_entropy", "binary_cross_entropy"):
        found.append(Variant(("log10_loss",), "logarithm base 10 used in the loss instead of ln", Rules(log10=True)))
    if kind == "cross_entropy":
        found.append(Variant(("binary_ce_for_softmax",),
                             "binary cross-entropy −Σ[t·ln o + (1−t)·ln(1−o)] used for a softmax/cross-entropy output",
                             Rules(loss_kind="binary_cross_entropy")))
    if len(layout.outputs) > 1:
        if kind == "mse":
            found.append(Variant(("mean_vs_sum",), "loss summed over outputs where the mean was defined", Rules(loss_scale=-1)))
        else:
            found.append(Variant(("mean_vs_sum",), "loss averaged over outputs (÷n) where it sums", Rules(loss_scale=1)))
    if kind in ("half_sse", "sse", "mse"):
        found.append(Variant(("factor_two",), "an extra factor 2 in the squared error", Rules(loss_factor=sp.Integer(2))))
        found.append(Variant(("factor_two",), "a missing factor 2 (a ½ too many) in the squared error",
                             Rules(loss_factor=sp.Rational(1, 2))))
    uses = [name for layer in layers for row in layer.weight_names for name in row]
    if graph.learning_rate is not None and len(uses) == len(set(uses)):
        # (with a tied weight, its update would need the very backward pass it changes)
        found.append(Variant(("updated_weight_used",), "the backward pass used weights already updated",
                             Rules(backward_updated=True)))
    if graph.learning_rate is not None:
        found.append(Variant(("sign_error",), "the update added η·∂E/∂p instead of subtracting it", Rules(update_sign=1)))
        rate = _rate(graph)
        for factor, words in ((10, "ten times"), (mpmath.mpf(1) / 10, "a tenth of"), (2, "twice"),
                              (mpmath.mpf(1) / 2, "half")):
            implied = rate * factor
            found.append(Variant(("wrong_learning_rate",), f"a learning rate of {mpmath.nstr(implied, 6)} ({words} the stated one)",
                                 Rules(learning_rate=implied), implied=mpmath.nstr(implied, 6)))
    biases = [p for p in layout.parameters() if p.kind == "bias"]
    if biases and not graph.frozen and graph.learning_rate is not None:
        found.append(Variant(("bias_not_updated",), "the biases were left at their old values", Rules(biases_fixed=True)))
    swaps = []
    for bias in biases:
        for other in biases:
            # another unit's bias of the same layer, or a bias of a neighbouring layer (b1 for b2)
            if other.name != bias.name and abs(other.layer_index - bias.layer_index) <= 1:
                swaps.append((bias, other))
    for bias, other in swaps[:MAX_BIAS_SWAPS]:
        found.append(Variant(("wrong_bias",), f"bias {other.name} used where {bias.name} belongs",
                             Rules(forward_values=((bias.name, other.name),))))
    found.extend(_weight_variants(layout))
    found.extend(_layer_weight_variants(layout))
    found.extend(_activation_variants(layout))
    return found


def _activation_variants(layout: Layout) -> list[Variant]:
    """The activation a layer states not applied, applied where it is linear, or differentiated wrongly."""
    found = []
    layers = layout.layers
    # (sigmoid: the tutorials' default; not leaky_relu, whose α belongs to the layer that states it)
    used = sorted({layer.activation for layer in layers} - {"linear", "softmax", "leaky_relu"} | {"sigmoid"})
    elementwise = [layer for layer in layers if layer.activation != "softmax"]
    for layer in elementwise:
        if layer.activation == "linear":
            for name in used:
                for only, how in ((False, ""), (True, ", and differentiated as linear (∂out/∂net = 1)")):
                    found.append(Variant(("activation_where_linear",), f"{name} applied to layer {layer.name}, which "
                                         f"is linear{how}", Rules(activated_units=tuple((u, name) for u in layer.units),
                                                                  forward_only=only)))
        else:
            for only, how in ((False, ""), (True, f", and differentiated as a {layer.activation} (at the outputs "
                                                  "so computed)")):
                found.append(Variant(("activation_not_applied",), f"layer {layer.name}'s {layer.activation} not "
                                     f"applied (out = net){how}", Rules(linear_units=layer.units, forward_only=only)))
    curved = [layer for layer in elementwise if layer.activation not in ("linear", "relu", "leaky_relu")]
    if curved:
        names = ", ".join(sorted({layer.activation for layer in curved}))
        found.append(Variant(("derivative_wrong_argument",), f"the {names} derivative in terms of the output "
                             "applied to net (tanh′ as 1 − net², σ′ as net·(1 − net))", Rules(derivative_at="net")))
        found.append(Variant(("derivative_wrong_argument",), f"the {names} derivative f′ evaluated at out, not at "
                             "net (σ′ as σ(out)·(1 − σ(out)))", Rules(derivative_at="out")))
    activated = [layer for layer in elementwise if layer.activation != "linear"]
    choices = [("every layer", activated)]
    if len(activated) > 1:
        choices += [(f"layer {layer.name}", [layer]) for layer in activated]
    for where, chosen in choices:
        if chosen:
            found.append(Variant(("delta_without_derivative",), f"the δ of {where} without the activation's "
                                 "derivative (∂out/∂net taken as 1)",
                                 Rules(plain_delta=tuple(u for layer in chosen for u in layer.units))))
    return found


def _layer_weight_variants(layout: Layout) -> list[Variant]:
    """Another layer's weight matrix (with its biases or not), or its transpose, used in a layer of that shape."""
    found = []
    for layer in layout.layers:
        shape = (len(layer.units), len(layer.weight_names[0]))
        for other in layout.layers:
            if other is layer:
                continue
            for transposed in (False, True):
                if shape != ((len(other.weight_names[0]), len(other.units)) if transposed
                             else (len(other.units), len(other.weight_names[0]))):
                    continue
                pairs = tuple((layer.weight_names[j][i], other.weight_names[i][j] if transposed else other.weight_names[j][i])
                              for j in range(shape[0]) for i in range(shape[1]))
                biases = () if transposed else tuple(
                    (mine, theirs) for j in range(shape[0])
                    if (mine := layer.bias.name_for(j)) is not None and (theirs := other.bias.name_for(j)) is not None)
                what = f"layer {other.name}'s weight matrix" + (" transposed" if transposed else "")
                for swapped, words in ((pairs, what), (pairs + biases, f"{what} and biases"))[: 1 + bool(biases)]:
                    found.append(Variant(("other_layer_weights",), f"{words} used in layer {layer.name}",
                                         Rules(forward_values=swapped, backward_values=swapped)))
    return found


def graph_variants(graph, claim: Claim) -> list[Variant]:
    """The mistakes any graph may bring: a recurrent gradient cut to the last time step, a dropped 1/√d."""
    found = []
    tied = [q for q in graph.order if graph.roles[q] == "parameter" and len(graph.consumers[q]) > 1]
    if tied and not graph.samples:
        names = ", ".join(q.name for q in tied[:3]) + (", …" if len(tied) > 3 else "")
        found.append(Variant(("truncated_bptt",), f"earlier time steps ignored: {names} counted at its last use only "
                             "(backpropagation through time truncated to one step)", Rules(last_use_only=True)))
    scaled = [q for q in graph.order if q.kind not in ("loss", "loss_term") and q in graph.definitions
              and inverse_root_factor(graph.definitions[q]) is not None]  # (a loss's ½ is no attention scale)
    if scaled:
        names = ", ".join(q.name for q in scaled[:3]) + (", …" if len(scaled) > 3 else "")
        found.append(Variant(("attention_unscaled",), f"the 1/√d scale left out of {names} (attention scores "
                             "without 1/√d)", Rules(unscaled=True)))
    return found


def _weight_variants(layout: Layout) -> list[Variant]:
    found = []
    for index, layer in enumerate(layout.layers):
        # A weight read from the wrong cell of its own matrix: same unit (row) or same source (column).
        cells = [(j, i, name) for j, row in enumerate(layer.weight_names) for i, name in enumerate(row)]
        swaps = [(p, q) for (j, i, p), (k, m, q) in itertools.permutations(cells, 2) if j == k or i == m]
        swaps = swaps[:MAX_WEIGHT_SWAPS]
        for p, q in swaps:
            found.append(Variant(("wrong_weight",), f"weight {q} used where {p} belongs",
                                 Rules(forward_values=((p, q),), backward_values=((p, q),))))
        sources = layout.sources(index)
        if len(sources) == len(layer.units) > 1:
            pairs = tuple((layer.weight_names[j][i], layer.weight_names[i][j])
                          for j in range(len(layer.units)) for i in range(len(sources)) if i != j)
            found.append(Variant(("wrong_weight",), f"the weight matrix of layer {layer.name} transposed",
                                 Rules(forward_values=pairs, backward_values=pairs)))
    return found


def sample_variants(graph, claim: Claim) -> list[Variant]:
    """The mistakes several samples bring (any graph over samples, layered or not)."""
    count = len(graph.samples)
    if not count:
        return []
    words = ("the samples' losses summed where E is their mean" if graph.training.reduction == "mean"
             else "the samples' losses averaged where E is their sum")
    found = [Variant(("sum_vs_mean_samples",), words, Rules(samples_flipped=-1))]
    if claim.key.step >= 1:
        found.append(Variant(("sum_vs_mean_samples",), f"{words}, at step {claim.key.step}",
                             Rules(samples_flipped=claim.key.step)))
    if graph.learning_rate is not None and claim.key.kind == "new" and graph.training.method == "batch":
        steps = (-1, claim.key.step) if claim.key.step else (-1,)
        found += [Variant(("one_sample_gradient",), f"the batch update made with sample {s}'s gradient alone"
                          + ("" if when < 0 else f", at step {when}"), Rules(update_from_sample=(s, when)))
                  for when in steps for s in range(min(count, MAX_SAMPLE_UPDATES))]
    return found


def step_variants(claim: Claim) -> list[Variant]:
    """The mistake several steps bring: a later step computed with the parameters of the step before."""
    step = claim.key.step  # (for new(p) at step k: the gradient of step k taken at the parameters of step k − 1)
    if step < 1:
        return []
    return [Variant(("stale_parameters",), f"step {step} computed with the parameters of step {step - 1} "
                    "(the update not applied before it)", Rules(stale_parameters=step))]


def slip_variants(claim: Claim, terms: int) -> list[Variant]:
    """One term of the claim's own sum off by a sign or a power of ten (``terms``: how many it has)."""
    if terms < 2:
        return []
    return [Variant(("term_slip",), f"term #{k + 1} of the sum {words}", Rules(term_slip=(claim.key, k, factor)))
            for k in range(terms) for factor, words in SLIP_FACTORS]


def transform_variants() -> list[Variant]:
    """Mistakes in the final number itself."""
    found = [Variant(("sign_error",), "the sign is flipped", transform=lambda v: -v),
             Variant(("factor_two",), "off by a factor of 2", transform=lambda v: 2 * v),
             Variant(("factor_two",), "off by a factor of ½", transform=lambda v: v / 2)]
    for power in (-3, -2, -1, 1, 2, 3):
        found.append(Variant(("decimal_slip",), f"the decimal point slipped by {power:+d} places (×10^{power})",
                             transform=lambda v, power=power: v * mpmath.mpf(10) ** power))
    return found


def merge(first: Variant, second: Variant) -> Optional[Variant]:
    """Two mistakes at once, or None when they change the same thing in different ways (or are one).

    Mistakes that list what they change (swapped weights, units without their activation) add up: the
    hidden layer's activation not applied and the output layer's is the activation not applied in both.
    """
    if first.rules == second.rules and (first.transform is None) == (second.transform is None):
        return None
    if first.transform is not None and second.transform is not None:
        return None
    default = Rules()
    changes = {}
    for item in dataclasses.fields(Rules):
        a, b = getattr(first.rules, item.name), getattr(second.rules, item.name)
        a_set, b_set = a != getattr(default, item.name), b != getattr(default, item.name)
        if a_set and b_set:
            if isinstance(a, tuple) and item.name in LISTING_FIELDS:
                changes[item.name] = a + tuple(x for x in b if x not in a)
            elif a == b:
                changes[item.name] = a
            else:
                return None
        elif a_set or b_set:
            changes[item.name] = a if a_set else b
    return Variant(
        first.mistakes + tuple(m for m in second.mistakes if m not in first.mistakes),
        f"{first.explanation}; and {second.explanation}",
        dataclasses.replace(default, **changes),
        first.transform or second.transform,
        first.implied or second.implied,
    )


#: The fields of :class:`Rules` that list what they change: two such mistakes add up.
LISTING_FIELDS = ("forward_values", "backward_values", "plain_delta", "linear_units", "activated_units")


def implied_learning_rate(old: mpmath.mpf, claimed: mpmath.mpf, gradient: mpmath.mpf) -> Optional[mpmath.mpf]:
    """The rate that turns ``old`` into ``claimed`` by p − η·g, rounded to a plausible written rate."""
    if gradient == 0:
        return None
    raw = (old - claimed) / gradient
    if raw <= 0:
        return None
    for digits in (1, 2):
        candidate = mpmath.mpf(mpmath.nstr(raw, digits))
        if abs(candidate - raw) <= abs(raw) * mpmath.mpf("0.02"):
            return candidate
    return None


def digit_typo(written: str, correct: str) -> Optional[str]:
    """'two digits swapped' or 'one digit wrong' when ``written`` is ``correct`` with such a slip."""
    a, b = written.lstrip("+-"), correct.lstrip("+-")
    if len(a) != len(b) or a == b or (written.startswith("-") != correct.startswith("-")):
        return None
    differences = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(differences) == 1 and a[differences[0]].isdigit():
        i = differences[0]
        return f"one digit wrong: {a[i]} written for {b[i]} ({correct} is right)"
    if len(differences) == 2 and differences[1] == differences[0] + 1:
        i, j = differences
        if a[i] == b[j] and a[j] == b[i] and a[i].isdigit() and a[j].isdigit():
            return f"two digits swapped: {a[i]}{a[j]} written for {b[i]}{b[j]} ({correct} is right)"
    return None
