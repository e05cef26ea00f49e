"""A simulated tutorial author, independent of the auditor, for mutation tests.

The author works a network by hand in the usual order — forward pass, loss, output deltas,
output weights, hidden deltas, hidden weights, updates, the loss after the update — writing
each number rounded to its precision and carrying the *written* number forward, rounding the
numbers it does not write at an inner precision too. At one chosen claim it can make one of
the library's mistakes; everything after is computed from its (then wrong) numbers.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Optional

import mpmath

from symbackprop.functions.activations import activation, softmax_numeric
from symbackprop.functions.losses import loss_kind


def fraction(value: Fraction) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator


class Author:
    def __init__(self, network, digits: int, style: str = "places", inner: Optional[int] = None,
                 inject=None, skip: float = 0.0, seed: int = 0, habits: frozenset = frozenset()) -> None:
        import random

        self.random = random.Random(seed)
        self.skip = skip
        self.network = network
        self.digits = digits
        self.style = style
        self.inner = inner
        # (claim index, mistake), or several of them: one mistake at each of those claims
        self.inject = dict([inject] if inject and isinstance(inject[0], int) else inject or ())
        self.claims: list[dict] = []
        # Mistakes of method made at every claim where they can be (log base 10 in every loss term and its
        # derivative, every hidden δ cut to one path, ...), as an author who holds the wrong rule does.
        self.habits = habits
        self.options: list[tuple[int, str]] = []  # (claim index, mistake) that could be injected
        self.injected_value: Optional[str] = None

    # ---- writing numbers -----------------------------------------------------------------
    def _round(self, value: mpmath.mpf, digits: int, style: str, cut: bool = False) -> str:
        # By hand a sum that cancels is 0; at the 40 digits this author works in it is noise of ~1e-42, which
        # written to five significant digits would be a wrong number the auditor rightly refuses.
        if abs(value) < mpmath.mpf(10) ** -30:
            value = mpmath.mpf(0)
        if value == 0:
            return "0" if style == "significant" else "0." + "0" * digits if digits else "0"
        if style == "significant":
            places = max(0, digits - 1 - int(mpmath.floor(mpmath.log10(abs(value)))))
        else:
            places = digits
        scaled = value * mpmath.mpf(10) ** places
        whole = int(mpmath.floor(abs(scaled) + mpmath.mpf(10) ** -20)) if cut else int(mpmath.nint(abs(scaled)))
        text = str(whole).rjust(places + 1, "0")
        body = text[: len(text) - places] + ("." + text[len(text) - places:] if places else "")
        return ("-" if value < 0 and whole else "") + body

    def keep(self, value: mpmath.mpf) -> mpmath.mpf:
        """A number the author uses without writing it."""
        return mpmath.mpf(self._round(value, self.inner, self.style)) if self.inner else value

    def claim(self, quantity: str, correct: Callable[[], mpmath.mpf],
              mistakes: dict[str, Callable[[], mpmath.mpf]], step: int = 0) -> mpmath.mpf:
        index = len(self.claims)
        right = correct()
        habit = next((name for name in mistakes if name in self.habits), None)
        if habit is not None:
            right = mistakes[habit]()  # the author's rule: what they believe is right
        if self.skip and quantity != "E" and self.random.random() < self.skip:
            return self.keep(right)  # worked out but not written: kept at the inner precision
        written = self._round(right, self.digits, self.style)
        choices = dict(mistakes)
        choices.setdefault("sign_error", lambda: -right)
        choices.setdefault("decimal_slip", lambda: right * 10)
        for name in choices:
            self.options.append((index, name))
        self.options.append((index, "digit_typo"))
        self.options.append((index, "truncation"))
        if index in self.inject:
            name = self.inject[index]
            if name == "digit_typo":
                written = _typo(written)
            elif name == "truncation":
                written = self._round(right, self.digits, self.style, cut=True)
            else:
                written = self._round(choices[name](), self.digits, self.style)
            self.injected_value = written
        self.claims.append({"quantity": quantity, "value": written, "step": step})
        return mpmath.mpf(written)

    # ---- the worked example --------------------------------------------------------------
    def work(self) -> list[dict]:
        network = self.network
        with mpmath.workdps(40):
            params = {p.name: fraction(p.value) for p in network.parameters()}
            gradients = self._pass(params, step=0, backward=True)
            rate = fraction(network.learning_rate)
            new = {}
            for p in network.parameters():
                g = gradients[p.name]
                if p.kind == "bias" and not network.update_biases:
                    new[p.name] = params[p.name]
                    continue
                mistakes = {
                    "wrong_learning_rate": lambda p=p, g=g: params[p.name] - rate * 10 * g,
                    "sign_error": lambda p=p, g=g: params[p.name] + rate * g,
                }
                if p.kind == "bias":
                    mistakes["bias_not_updated"] = lambda p=p: params[p.name]
                new[p.name] = self.claim(f"new({p.name})", lambda p=p, g=g: params[p.name] - rate * g, mistakes)
            self._pass(new, step=1, backward=False)
        return self.claims

    def _pass(self, params, step: int, backward: bool) -> dict:
        network = self.network
        outs = {name: fraction(v) for name, v in zip(network.inputs, network.data)}
        nets = {}
        for index, layer in enumerate(network.layers):
            sources = network.sources(index)
            rule = activation(layer.activation)
            alpha = fraction(layer.alpha) if layer.alpha is not None else None
            weights = [n for row in layer.weight_names for n in row]
            biases = [p.name for p in network.parameters() if p.kind == "bias"]
            for j, unit in enumerate(layer.units):
                def net(j=j, swap=None):
                    total = mpmath.mpf(0)
                    for i, source in enumerate(sources):
                        name = layer.weight_names[j][i]
                        total += params[swap[1] if swap and swap[0] == name else name] * outs[source]
                    bias = layer.bias.name_for(j)
                    if bias is not None:
                        total += params[swap[1] if swap and swap[0] == bias else bias]
                    return total
                mistakes = {}
                own = layer.weight_names[j][0]
                other = next((w for w in weights if w != own), None)
                if other is not None:
                    mistakes["wrong_weight"] = lambda j=j, own=own, other=other: net(j, (own, other))
                bias = layer.bias.name_for(j)
                other_bias = next((b for b in biases if b != bias), None)
                if bias is not None and other_bias is not None:
                    mistakes["wrong_bias"] = lambda j=j, b=bias, o=other_bias: net(j, (b, o))
                first = network.layers[0]
                if index and (len(first.units), len(network.sources(0))) == (len(layer.units), len(sources)):
                    def first_layers_net(j=j, first=first):  # the first layer's weights and bias reused here
                        total = mpmath.fsum(params[first.weight_names[j][i]] * outs[s] for i, s in enumerate(sources))
                        bias = first.bias.name_for(j)
                        return total + (params[bias] if bias is not None else 0)
                    mistakes["other_layer_weights"] = first_layers_net
                if len(sources) + (bias is not None) > 1:  # one term of the written sum with its sign flipped
                    mistakes["term_slip"] = lambda j=j: net(j) - 2 * params[layer.weight_names[j][0]] * outs[sources[0]]
                nets[unit] = self.claim(f"net({unit})", lambda j=j: net(j), mistakes, step)
            if rule.elementwise:
                for unit in layer.units:
                    if layer.activation == "linear":
                        mistakes = {"activation_where_linear": lambda u=unit: 1 / (1 + mpmath.exp(-nets[u]))}
                    else:
                        mistakes = {"activation_not_applied": lambda u=unit: nets[u]}
                    outs[unit] = self.claim(f"out({unit})", lambda u=unit: rule.numeric(nets[u], alpha), mistakes, step)
            else:
                values = softmax_numeric([nets[u] for u in layer.units])
                total = mpmath.fsum(nets[u] for u in layer.units)
                for k, unit in enumerate(layer.units):
                    mistakes = {"softmax_without_exp": lambda u=unit: nets[u] / total} if total != 0 else {}
                    outs[unit] = self.claim(f"out({unit})", lambda k=k: values[k], mistakes, step)
        kind = network.loss.kind
        loss = loss_kind(kind)
        n = len(network.outputs)
        targets = {o: fraction(t) for o, t in zip(network.outputs, network.loss.targets)}
        terms = {}
        for o in network.outputs:
            mistakes = {}
            if kind in ("cross_entropy", "binary_cross_entropy"):
                mistakes["log10_loss"] = lambda o=o: loss.numeric(outs[o], targets[o], n) / mpmath.log(10)
            if kind == "cross_entropy" and 0 < outs[o] < 1:
                mistakes["binary_ce_for_softmax"] = lambda o=o: loss_kind("binary_cross_entropy").numeric(outs[o], targets[o], n)
            if kind in ("half_sse", "sse"):
                mistakes["factor_two"] = lambda o=o: 2 * loss.numeric(outs[o], targets[o], n)
            terms[o] = self.claim(f"E({o})", lambda o=o: loss.numeric(outs[o], targets[o], n), mistakes, step)
        mean = {"mean_vs_sum": lambda: mpmath.fsum(terms.values()) / n} if n > 1 and kind != "mse" else {}
        self.claim("E", lambda: mpmath.fsum(terms.values()), mean, step)
        if not backward:
            return {}
        return self._backward(params, outs, nets, targets)

    def _backward(self, params, outs, nets, targets) -> dict:
        network = self.network
        kind = network.loss.kind
        loss = loss_kind(kind)
        n = len(network.outputs)
        last = len(network.layers) - 1
        rate = fraction(network.learning_rate)
        d_out = {}
        for o in network.outputs:
            mistakes = {}
            if kind in ("half_sse", "sse", "mse"):
                mistakes["factor_two"] = lambda o=o: 2 * loss.numeric_derivative(outs[o], targets[o], n)
            if kind in ("cross_entropy", "binary_cross_entropy"):
                mistakes["log10_loss"] = lambda o=o: loss.numeric_derivative(outs[o], targets[o], n) / mpmath.log(10)
            if kind == "cross_entropy" and 0 < outs[o] < 1:  # −t/o + (1 − t)/(1 − o)
                mistakes["binary_ce_for_softmax"] = lambda o=o: -targets[o] / outs[o] + (1 - targets[o]) / (1 - outs[o])
            d_out[o] = self.claim(f"dE/dout({o})", lambda o=o: loss.numeric_derivative(outs[o], targets[o], n), mistakes)
        gradients: dict[str, mpmath.mpf] = {}
        delta: dict[str, mpmath.mpf] = {}
        for index in range(last, -1, -1):
            layer = network.layers[index]
            rule = activation(layer.activation)
            alpha = fraction(layer.alpha) if layer.alpha is not None else None
            if index < last:
                following = network.layers[index + 1]
                for h_index, h in enumerate(layer.units):
                    weights = [following.weight_names[j][h_index] for j in range(len(following.units))]
                    downstream = lambda ws=weights, table=None: mpmath.fsum(
                        delta[u] * (table or params)[w] for u, w in zip(following.units, ws))
                    mistakes = {}
                    if len(following.units) > 1:
                        mistakes["dropped_paths"] = lambda ws=weights: delta[following.units[0]] * params[ws[0]]
                        # the first term of the sum ten times too large
                        mistakes["term_slip"] = lambda ws=weights, d=downstream: d() + 9 * delta[following.units[0]] * params[ws[0]]
                    updated = {w: params[w] - rate * gradients[w] for w in weights}
                    if any(abs(updated[w] - params[w]) > 0 for w in weights):
                        mistakes["updated_weight_used"] = lambda ws=weights, up=updated: mpmath.fsum(
                            delta[u] * up[w] for u, w in zip(following.units, ws))
                    d_out[h] = self.claim(f"dE/dout({h})", downstream, mistakes)
            # Where the output activation meets its own loss (sigmoid + binary CE, softmax + CE), δ = out − t.
            collapses = index == last and ((kind == "binary_cross_entropy" and layer.activation == "sigmoid")
                                           or (kind == "cross_entropy" and layer.activation == "softmax"))
            if rule.elementwise:
                for unit in layer.units:
                    wrong_argument = {}
                    if layer.activation == "sigmoid":  # σ′ = σ(x)(1 − σ(x)) taken at x = out
                        wrong_argument["derivative_wrong_argument"] = lambda u=unit: (
                            1 / (1 + mpmath.exp(-outs[u]))) * (1 - 1 / (1 + mpmath.exp(-outs[u])))
                    elif layer.activation == "tanh":  # 1 − out² written with net
                        wrong_argument["derivative_wrong_argument"] = lambda u=unit: 1 - nets[u] ** 2
                    local = self.claim(f"dout({unit})/dnet({unit})",
                                       lambda u=unit: rule.numeric_derivative(nets[u], outs[u], alpha), wrong_argument)
                    mistakes = {}
                    if layer.activation != "linear":
                        mistakes["delta_without_derivative"] = lambda u=unit: d_out[u]
                    if collapses:
                        mistakes["logits_for_outputs"] = lambda u=unit: nets[u] - targets[u]
                        mistakes["activation_derivative_twice"] = lambda u=unit, l=local: d_out[u] * l * l
                    delta[unit] = self.claim(f"dE/dnet({unit})", lambda u=unit, l=local: d_out[u] * l, mistakes)
            else:
                for j, unit in enumerate(layer.units):
                    def full(j=j):
                        return mpmath.fsum(d_out[k] * (outs[k] * (1 - outs[k]) if k == unit else -outs[k] * outs[unit])
                                           for k in layer.units)
                    diagonal = lambda unit=unit: d_out[unit] * outs[unit] * (1 - outs[unit])
                    mistakes = {"softmax_diagonal_only": diagonal}
                    if collapses:
                        mistakes["logits_for_outputs"] = lambda unit=unit: nets[unit] - targets[unit]
                        mistakes["activation_derivative_twice"] = lambda unit=unit, full=full: (
                            full() * outs[unit] * (1 - outs[unit]))
                    delta[unit] = self.claim(f"dE/dnet({unit})", full, mistakes)
            sources = network.sources(index)
            for j, unit in enumerate(layer.units):
                for i, source in enumerate(sources):
                    name = layer.weight_names[j][i]
                    source_out = outs[source]
                    gradients[name] = self.claim(f"dE/d{name}", lambda u=unit, s=source_out: delta[u] * s, {})
            if layer.bias.mode == "shared":
                name = layer.bias.names[0]
                gradients[name] = self.claim(f"dE/d{name}", lambda: mpmath.fsum(delta[u] for u in layer.units), {})
            elif layer.bias.mode == "per_unit":
                for unit, name in zip(layer.units, layer.bias.names):
                    gradients[name] = self.claim(f"dE/d{name}", lambda u=unit: delta[u], {})
        return gradients


def _typo(written: str) -> str:
    """Swap the last two different adjacent digits, or change the last digit."""
    digits = list(written)
    positions = [i for i, c in enumerate(digits) if c.isdigit()]
    for a, b in zip(reversed(positions[:-1]), reversed(positions[1:])):
        if b == a + 1 and digits[a] != digits[b] and not (a == positions[0] and digits[b] == "0"):
            digits[a], digits[b] = digits[b], digits[a]
            return "".join(digits)
    last = positions[-1]
    digits[last] = "7" if digits[last] != "7" else "3"
    return "".join(digits)
