r"""The worked example, written by the engine: every step a tutorial shows, every number exact.

:func:`explain` turns an :class:`~symbackprop.engine.chain.Engine` (whose network has
numbers) into a :class:`~symbackprop.reports.document.Document`: the architecture, the
forward pass (formula, numbers substituted, value), the loss term by term, the
backward pass for every parameter (each chain-rule factor with its formula
and value, the softmax cross-output terms collapsing where they do, and every
path summed), the update and the loss after it. Numbers are shown rounded to
``places`` decimals, each one the rounding of an exact value: none is computed
from another rounded number.

Nothing here differentiates; derivatives come from the engine.

>>> from symbackprop.frontends.loader import network_from_mapping
>>> from symbackprop.engine.chain import Engine
>>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["y"], "activation": "linear", "weights": [["0.5"]], "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse", "targets": ["2"]}, "data": {"inputs": ["2"]},
...     "training": {"learning_rate": "0.1"}})
>>> doc = explain(Engine(net))
>>> [b.latex for b in doc.blocks if isinstance(b, Display) and b.latex.startswith(r"{w}^{+}")]
['{w}^{+} = w - \\eta \\frac{\\partial E}{\\partial w} = 0.5000 - 0.1000 \\cdot \\left(-2.0000\\right) = 0.7000']
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import mpmath
import sympy as sp

from ..engine.chain import MAX_WRITTEN_PATHS, Derivation, Engine, Factor
from ..engine.values import Point, momentum_update, point_of, rational, updated_parameters
from ..errors import InputError, whole_number
from ..frontends.dense import layer_activation
from ..quantity import Quantity
from .document import Display, Document, Math, Paragraph, Table
from .forward import MAX_SAMPLE_COLUMNS, MAX_SHOWN_SAMPLES, _samples, architecture, forward_pass, held_fixed
from .latex_layout import LINE_WIDTH, _joined, visible_width
from .printing import factor_latex
from .writer import _aligned, _factor_name, _operand, _product_names, _Writer, number_latex


#: Most parameters a worked example will write out: past this it is a book, not an example.
MAX_PARAMETERS = 400
#: Most paths listed one by one for a single gradient.
MAX_LISTED_PATHS = 64


def _explain_factor(w: _Writer, factor: Factor) -> None:
    """A factor's formula and value, once per document; a sum's parts first, then the sum."""
    if factor in w.explained:
        return
    w.explained.add(factor)
    name = _factor_name(w, factor)
    value = w.shown(factor.expression)
    if factor.is_local:
        formula = w.tex(factor.expression)
        w.equation(name, formula, w.substituted(factor.expression), value)
        return
    for term in factor.terms:
        for part in term:
            _explain_factor(w, part)
    names = [_product_names(w, term) for term in factor.terms]
    values, value = w.sum_side(factor.terms, factor.expression)
    if len(factor.terms) > 1:
        if _softmax_sum(w, factor):
            w.say("A sum over every output of the softmax layer, since each depends on ",
                  Math(w.quantity(factor.wrt)), ":")
        else:
            w.say("A sum over every ", "unit" if w.layout is not None else "node", " that ",
                  Math(w.quantity(factor.wrt)), " feeds:")
    sides = [_joined(names, "+")]
    collapse = _collapse(w, factor)
    if collapse:
        formulas = [" ".join(r"\left(%s\right)" % w.tex(f.expression) for f in term) for term in factor.terms]
        if _softmax_sum(w, factor):
            w.say("Written out, the cross-output terms of the softmax collapse:")
        else:
            w.say("Written out, the terms simplify:")
        w.blocks.append(Display(_aligned(name, sides + [_joined(formulas, "+")] + collapse + [value])))
        w.say("Term by term, the same value:")
        sides = []
    sides += [_joined(values, "+"), value]
    w.blocks.append(Display(_aligned(name, sides)))


def _softmax_sum(w: _Writer, factor: Factor) -> bool:
    layout = w.layout
    return layout is not None and factor.wrt.kind == "net" and not layer_activation(
        layout.own_activations, layout.layers[layout.layer_of(factor.wrt.name)].activation).elementwise


def _collapse(w: _Writer, factor: Factor) -> list[str]:
    """For an output unit's δ: the steps from the written-out terms to the engine's simplified form."""
    if not (factor.of.kind == "loss" and factor.wrt.kind == "net" and factor.wrt.name in w.graph.outputs):
        return []
    simplified = w.engine.simplified(factor.of, factor.wrt)
    if simplified == factor.expression or sp.count_ops(simplified) >= sp.count_ops(factor.expression):
        return []
    steps = []
    if w.graph.targets_form_a_distribution:
        out = w.symbol(Quantity.out(factor.wrt.name, factor.wrt.sample))
        collected = sp.collect(sp.expand(factor.expression), out)
        steps.append(w.tex(collected))
        total = " + ".join(w.tex(t) for t in w.graph.target_symbols(factor.wrt.sample))
        steps.append(r"%s \qquad \text{since } %s = 1" % (w.tex(simplified), total))
    else:
        steps.append(w.tex(simplified))
    steps.append(w.substituted(simplified))
    return steps


def _backward(w: _Writer, derivations: Sequence[Derivation]) -> None:
    w.heading("Backward pass")
    count = len(w.graph.samples)
    if count:
        how = "mean" if w.graph.training.reduction == "mean" else "sum"
        w.say(f"E is the {how} of the samples' losses, so ∂E/∂p is the {how} of the samples' gradients ∂E",
              Math("^{(s)}"), "/∂p. Each sample's gradient is the chain rule through its own nodes; the first "
              f"{'sample' if min(count, MAX_SHOWN_SAMPLES) == 1 else str(min(count, MAX_SHOWN_SAMPLES)) + ' samples'} "
              "in full, then every sample's gradient and their " + how + ".")
    else:
        w.say("For every parameter p, the chain rule from the loss down to p. Each factor is given with its "
              "formula, the numbers substituted and its value; a factor already worked out is not repeated.")
    # Backpropagation's own order: the output layer (the last node) first, so each δ is worked out
    # before it is reused.
    ordered = sorted(derivations, key=lambda d: -_depth(w, d.wrt))
    for sample in range(min(count, MAX_SHOWN_SAMPLES)) if count else (-1,):
        if sample >= 0:
            w.heading(f"Sample {sample}", 3)
        for derivation in ordered:
            _gradient(w, w.engine.derivative(Quantity.loss(sample), derivation.wrt) if sample >= 0 else derivation)
    if count:
        _sample_gradients(w, ordered)
    if w.layout is not None:
        _gradient_matrices(w, derivations)


def _sample_gradients(w: _Writer, derivations: Sequence[Derivation]) -> None:
    """Every sample's gradient of every parameter, and their mean (or sum): ∂E/∂p."""
    count = len(w.graph.samples)
    shown = list(range(count)) if count <= MAX_SAMPLE_COLUMNS else list(range(MAX_SAMPLE_COLUMNS - 1)) + [count - 1]
    header = [("parameter",)] + [(Math(r"\partial E^{(%d)}/\partial p" % s),) for s in shown]
    if len(shown) < count:
        header.insert(len(shown), ("…",))
    header.append((Math(r"\partial E/\partial p"),))
    rows = []
    for derivation in derivations:
        values = [(Math(w.shown(w.engine.derivative(Quantity.loss(s), derivation.wrt).compact)),) for s in shown]
        if len(shown) < count:
            values.insert(len(shown) - 1, ("…",))
        rows.append(((Math(w.quantity(derivation.wrt)),),) + tuple(values) + ((Math(w.shown(derivation.compact)),),))
    w.heading("Every sample's gradient", 3)
    w.blocks.append(Table(tuple(header), tuple(rows)))


def _depth(w: _Writer, parameter: Quantity) -> int:
    """How far along the graph a parameter enters: its layer, or the position of the last node it feeds."""
    if w.layout is not None:
        return w.layout.parameter(parameter.name).layer_index
    return max((w.graph.position[u] for u, _ in w.graph.consumers[parameter]), default=0)


def _gradient(w: _Writer, derivation: Derivation) -> None:
    name = factor_latex(derivation.of, derivation.wrt, w.graph)
    whose = "the loss" if derivation.of.sample < 0 else f"sample {derivation.of.sample}'s loss"
    w.heading((f"Gradient of {whose} with respect to ", Math(w.quantity(derivation.wrt))), 3 if derivation.of.sample < 0 else 4)
    chain = derivation.chain
    w.blocks.append(Display(_aligned(name, [_joined([_product_names(w, term) for term in chain], "+")])))
    for term in chain:
        for factor in term:
            _explain_factor(w, factor)
    values, value = w.sum_side(chain, derivation.compact)
    w.blocks.append(Display(_aligned(name, [_joined(values, "+"), value])))
    _paths(w, derivation, name)


def _paths(w: _Writer, derivation: Derivation, name: str) -> None:
    count = derivation.path_count
    if count <= 1:
        return
    if count > MAX_LISTED_PATHS:
        w.say(f"{count} paths lead from the parameter to the loss; their products sum to the value above.")
        return
    paths = derivation.paths()
    *path_values, value = w.shown_alike([sp.Mul(*[f.expression for f in path]) for path in paths]
                                        + [derivation.compact])
    listed = [(number, path, shown) for number, (path, shown) in enumerate(zip(paths, path_values), start=1)
              if shown != "0"]
    w.say(f"{count} paths lead from the parameter to the loss, each a product of local derivatives; "
          "their sum is the gradient.")
    _zero_paths(w, [path for path, shown in zip(paths, path_values) if shown == "0"])
    if not listed:
        return
    w.say("The paths, and their sum:" if len(listed) == count else f"The other {len(listed)}, and their sum:")
    lines = []
    for number, path, shown in listed:
        route = _joined([w.quantity(path[-1].wrt)] + [w.quantity(f.of) for f in reversed(path)], r"\to",
                        LINE_WIDTH - visible_width(r"\text{path %d: }" % number))
        factors = _joined([_operand(w.shown(f.expression)) for f in reversed(path)], r"\cdot")
        lines += [r"&\text{path %d: } %s" % (number, route[0])] + [r"&\qquad %s" % line for line in route[1:]]
        factors[-1] += f" = {shown}"
        lines += [r"&\qquad %s" % line for line in factors]
    w.blocks.append(Display("\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"))
    w.blocks.append(Display(_aligned(name, [_joined([_operand(shown) for _, _, shown in listed], "+"), value])))


def _zero_paths(w: _Writer, paths: Sequence[tuple[Factor, ...]]) -> None:
    """Paths that are exactly 0, in one sentence per factor that makes them so (a ReLU that is off)."""
    by_factor: dict[Factor, int] = {}
    for path in paths:
        zero = next((f for f in reversed(path) if w.value(f.expression) == 0), None)
        if zero is not None:
            by_factor[zero] = by_factor.get(zero, 0) + 1
    for factor, count in by_factor.items():
        reason = ": a ReLU that is off" if factor.expression.has(sp.Heaviside) else ""
        w.say(f"{count} path{'s have' if count > 1 else ' has'} the factor ", Math(_factor_name(w, factor) + " = 0"),
              f"{reason}; {'they add' if count > 1 else 'it adds'} nothing to the sum.")
    rest = len(paths) - sum(by_factor.values())
    if rest:
        w.say(f"{rest} more path{'s' if rest > 1 else ''} {'are' if rest > 1 else 'is'} 0: {'their' if rest > 1 else 'its'} "
              "factors cancel exactly; they add nothing to the sum.")


def _gradient_matrices(w: _Writer, derivations: Sequence[Derivation]) -> None:
    by_name = {d.wrt.name: d for d in derivations if d.wrt.kind == "param"}
    w.say("The gradient, layer by layer, in the layout of the weights:")
    for index, layer in enumerate(w.layout.layers):
        names = [n for row in layer.weight_names for n in row]
        if not all(n in by_name for n in names):
            continue
        matrix = w.weight_matrix(index, lambda n: w.shown(by_name[n].compact))
        w.equation(r"\frac{\partial E}{\partial W^{(%d)}}" % (index + 1), matrix)


# ---- update ------------------------------------------------------------------------------
def _update(w: _Writer, derivations: Sequence[Derivation], velocity: Optional[Mapping] = None) -> Optional[Point]:
    """The update of every parameter, and the loss after it; the point the update reaches (None without a
    learning rate)."""
    layout, graph = w.layout, w.graph
    w.heading("Update")
    if graph.learning_rate is None:
        w.say("The file gives no training.learning_rate, so no update is shown.")
        return None
    rate = w.shown(rational(graph.learning_rate))
    if graph.training.momentum:
        updated = _momentum_update(w, derivations, velocity or {})
    else:
        updated = updated_parameters(w.engine, digits=40 + w.places)
    after = point_of(w.graph, updated)
    if not graph.training.momentum:
        w.say("One step of gradient descent, ", Math(r"p^{+} = p - \eta \frac{\partial E}{\partial p}"),
              ", with the exact gradient (not the rounded one shown):")
    for derivation in derivations if not graph.training.momentum else ():
        parameter = derivation.wrt.name
        symbol = w.parameter_symbol(parameter)
        new = w.parameter_value(parameter, after)
        if parameter in graph.frozen:
            w.equation(f"{{{symbol}}}^{{+}}", symbol, new)
            continue
        w.equation(
            f"{{{symbol}}}^{{+}}",
            r"%s - \eta %s" % (symbol, factor_latex(derivation.of, derivation.wrt, w.graph)),
            r"%s - %s \cdot %s" % (w.parameter_value(parameter), rate, _operand(w.shown(derivation.compact))),
            new,
        )
    if graph.frozen:
        w.say(held_fixed(graph))
    if layout is None or graph.samples:
        if layout is not None:
            for index in range(len(layout.layers)):
                w.equation(r"W^{(%d)+}" % (index + 1), w.weight_matrix(index, lambda n: w.parameter_value(n, after)))
        _graph_loss_after(w, after)
        return after
    for index in range(len(layout.layers)):
        w.equation(r"W^{(%d)+}" % (index + 1), w.weight_matrix(index, lambda n: w.parameter_value(n, after)))
    w.heading("Loss after the update", 3)
    w.say("The forward pass again, with the new parameters:")
    for unit in layout.outputs:
        out, term = Quantity.out(unit), Quantity.loss_term(unit)
        w.equation(f"{{{w.quantity(out)}}}^{{+}}", w.shown(w.symbol(out), after))
        definition = w.graph.definitions[term]
        w.equation(f"{{{w.quantity(term)}}}^{{+}}", w.substituted(definition, after), w.shown(w.symbol(term), after))
    terms = [Quantity.loss_term(o) for o in layout.outputs]
    *values, total = w.shown_alike([w.symbol(t) for t in terms] + [w.symbol(Quantity.loss())], after)
    w.equation("E^{+}", " + ".join(f"{{{w.quantity(t)}}}^{{+}}" for t in terms), " + ".join(map(_operand, values)),
               total)
    _loss_change(w, after)
    return after


def _momentum_update(w: _Writer, derivations: Sequence[Derivation], velocity: Mapping) -> dict:
    """Each parameter's velocity and update under classical momentum, numbers substituted; the parameters after."""
    graph = w.graph
    mu, rate = rational(graph.training.momentum), w.shown(rational(graph.learning_rate))
    updated, velocities = momentum_update(w.engine, velocity, 40 + w.places)
    w.say("One step of gradient descent with momentum, ", Math(r"v^{+} = \mu v + \frac{\partial E}{\partial p}, "
          r"\; p^{+} = p - \eta v^{+}"), f" (μ = {w.shown(mu)}; v is the last update's, 0 before the first), "
          "with the exact gradient (not the rounded one shown):")
    for derivation in derivations:
        parameter = derivation.wrt.name
        symbol = w.parameter_symbol(parameter)
        if parameter in graph.frozen:
            continue
        v_before = velocity.get(parameter, sp.Integer(0))
        w.equation(r"v^{+}_{%s}" % symbol, r"\mu v_{%s} + %s" % (symbol, factor_latex(derivation.of, derivation.wrt, graph)),
                   r"%s \cdot %s + %s" % (w.shown(mu), _operand(w.shown(v_before)), _operand(w.shown(derivation.compact))),
                   w.shown(velocities[parameter]))
        w.equation(f"{{{symbol}}}^{{+}}", r"%s - \eta v^{+}_{%s}" % (symbol, symbol),
                   r"%s - %s \cdot %s" % (w.parameter_value(parameter), rate, _operand(w.shown(velocities[parameter]))),
                   w.shown(updated[parameter]))
    return updated


def _graph_loss_after(w: _Writer, after: Point) -> None:
    w.heading("Loss after the update", 3)
    graph = w.graph
    if graph.samples:
        w.say("The forward pass of every sample again, with the new parameters; each sample's loss:")
        for sample in range(len(graph.samples)):
            loss = Quantity.loss(sample)
            w.equation(f"{{{w.quantity(loss)}}}^{{+}}", w.shown(w.symbol(loss), after))
        w.equation("E^{+}", w.substituted(graph.definitions[Quantity.loss()], after),
                   w.shown(w.symbol(Quantity.loss()), after))
    else:
        w.say("The forward pass again, with the new parameters:")
        for quantity in graph.order:
            if quantity in graph.definitions:
                w.equation(f"{{{w.quantity(quantity)}}}^{{+}}", w.substituted(graph.definitions[quantity], after),
                           w.shown(w.symbol(quantity), after))
    _loss_change(w, after)


def _loss_change(w: _Writer, after: Point) -> None:
    before = w.value(w.symbol(Quantity.loss()))
    now = w.value(w.symbol(Quantity.loss()), after)
    change = "fell" if now < before else "rose" if now > before else "stayed"
    w.say(f"The loss {change} by ", Math(number_latex(abs(now - before), w.places)), " from ",
          Math(w.shown(w.symbol(Quantity.loss()))), ".")


def _summary(w: _Writer, derivations: Sequence[Derivation], after: Optional[Point], check) -> list[Paragraph]:
    """What a reader sees first: the loss and what one step does to it; the largest gradient and the proof."""
    loss = w.symbol(Quantity.loss())
    first = ["The loss is ", Math("E = " + w.shown(loss))]
    if after is not None:
        first += [" and one step of gradient descent (", Math(r"\eta = " + w.shown(rational(w.graph.learning_rate))),
                  ") brings it to ", Math("E^{+} = " + w.shown(loss, after))]
    largest = max(derivations, key=lambda d: abs(w.value(d.compact)), default=None)
    second: list = []
    if largest is not None:
        second = [f"The largest of the {len(derivations)} gradients is " if len(derivations) > 1 else "The gradient is ",
                  Math(factor_latex(largest.of, largest.wrt, w.graph) + " = " + w.shown(largest.compact))]
    if check is not None:
        second.append("; every one " + ("agrees" if check.passed else "does NOT agree")
                      + f" with finite differences at {check.digits} digits")
    return [Paragraph(tuple(first + ["."])), Paragraph(tuple(second + ["."]))] if second else [Paragraph(tuple(first + ["."]))]


def _verification(w: _Writer, check) -> None:
    if check is None:
        return
    w.heading("Verification")
    worst = max((row.rel_error for row in check.rows), default=0)
    status = "agrees" if check.passed else "DOES NOT agree"
    kinks = [row.name for row in check.rows if row.status == "kink"]
    # A bound, not the measured difference: the last digits of a finite difference are noise, and a
    # kept example must read the same on every machine.
    bound = check.digits - 5
    within = "below" if worst < mpmath.mpf(10) ** -bound else "NOT below"
    w.say(f"Every gradient above {status} with an independent central finite difference at {check.digits} "
          f"digits (every relative difference {within} 1e-{bound}).")
    if kinks:
        w.say(f"At a kink (a ReLU, |x|, max or min at exactly its switch) for: {', '.join(kinks)}; the derivative "
              "there is a convention (one of the one-sided derivatives, which the check confirmed), so central "
              "differences alone cannot confirm it.")


def require_explainable(engine: Engine) -> None:
    """Refuse, before any work, a network whose worked example nobody could read (or we could write)."""
    count = len(engine.graph.parameters())
    if count == 0:
        raise InputError("a worked example follows the gradient of every parameter, and this network has none "
                         "(derive --wrt NAME gives the derivative with respect to an input or a node)", place="network")
    if count > MAX_PARAMETERS:
        raise InputError(
            f"a worked example writes out every number; this network has {count} parameters "
            f"(at most {MAX_PARAMETERS})", place="network")
    paths = engine.most_paths()
    if paths > MAX_WRITTEN_PATHS:
        raise InputError(
            f"a worked example writes out every path; a gradient of this network sums {paths:,} paths "
            f"(at most {MAX_WRITTEN_PATHS}); derive writes its gradients in δ form", place="network")


def explain(engine: Engine, places: int = 4, check=None, title: str = "", velocity: Optional[Mapping] = None,
            summary: bool = True) -> Document:
    """The whole worked example for ``engine``'s network at its numbers (``velocity``: under momentum, each
    parameter's velocity of the update before), opening with a two-line summary (unless ``summary`` is False).
    ``engine`` may also be anything an :class:`Engine` takes: a Model, a Network, a graph or a file's path."""
    if not isinstance(engine, Engine):
        engine = Engine(engine)
    whole_number(places, 1, 30, "places")
    require_explainable(engine)
    layout = engine.graph.layout
    engine.point.numeric(places + 42)  # undefined values (ln 0) fail here, as one line
    w = _Writer(engine, places)
    derivations = engine.gradients()
    architecture(w)
    if engine.graph.samples:
        _samples(w)
    else:
        forward_pass(w)
    _backward(w, derivations)
    after = _update(w, derivations, velocity)
    _verification(w, check)
    if summary:
        w.blocks[:0] = _summary(w, derivations, after, check)
    if layout is None:
        heading = title or engine.graph.title or "Backpropagation, step by step, through a graph of formulas"
    else:
        sizes = "-".join(str(len(layer.units)) for layer in layout.layers)
        heading = title or engine.graph.title or f"Backpropagation, step by step: a {len(layout.inputs)}-{sizes} network"
    return Document(heading, tuple(w.blocks))
