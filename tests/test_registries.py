"""Every activation and loss rule against sympy.diff of its explicit formula, parametrised over the registries."""
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
import sympy as sp

from symbackprop.functions.activations import ACTIVATIONS, activation, softmax_derivative, softmax_outputs
from symbackprop.functions.losses import LOSSES, loss_kind

ELEMENTWISE = [name for name, rule in ACTIVATIONS.items() if rule.elementwise]
POINTS = [sp.Rational(-7, 5), sp.Rational(-1, 3), sp.Integer(0), sp.Rational(1, 4), sp.Rational(13, 7)]
ALPHA = sp.Rational(1, 10)
x = sp.Symbol("x", real=True)


def test_the_loader_accepts_exactly_the_registered_names():
    from symbackprop import InputError, network_from_mapping

    def load(activation="sigmoid", loss="half_sse"):
        return network_from_mapping({"network": {"inputs": ["x"], "layers": [
            {"units": ["a", "b"], "activation": activation}]}, "loss": {"kind": loss}})

    for name in ACTIVATIONS:
        load(activation=name, loss="cross_entropy" if name == "softmax" else "half_sse")
    for name in LOSSES:
        load(loss=name)
    with pytest.raises(InputError, match="known: linear, sigmoid, tanh, relu, leaky_relu, softplus, softmax"):
        load(activation="swish")


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("point", POINTS)
def test_function_derivative_equals_diff_of_explicit_formula(name, point):
    rule = activation(name)
    ours = sp.diff(rule.forward(x, ALPHA), x).subs(x, point)
    reference = sp.diff(rule.explicit(x, ALPHA), x).subs(x, point)
    assert abs(sp.N(ours - reference, 50)) < sp.Float("1e-45")


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("point", POINTS)
def test_readable_rule_in_node_symbols_equals_diff(name, point):
    """The rule written with out (σ(1−σ)) is the same number as the derivative of the formula."""
    rule = activation(name)
    out_value = rule.explicit(x, ALPHA).subs(x, point)
    readable = rule.derivative(point, out_value, ALPHA)
    reference = sp.diff(rule.explicit(x, ALPHA), x).subs(x, point)
    assert abs(sp.N(readable - reference, 50)) < sp.Float("1e-45")


#: Each activation written again here, by hand, in mpmath: (forward, derivative) of (z, alpha). Independent of
#: the registry's SymPy definitions; a registered activation without an entry here fails the test below.
BY_HAND_ACTIVATIONS = {
    "linear": (lambda z, a: z, lambda z, a: mpmath.mpf(1)),
    "sigmoid": (lambda z, a: 1 / (1 + mpmath.exp(-z)), lambda z, a: mpmath.exp(-z) / (1 + mpmath.exp(-z)) ** 2),
    "tanh": (lambda z, a: (mpmath.exp(z) - mpmath.exp(-z)) / (mpmath.exp(z) + mpmath.exp(-z)),
             lambda z, a: 4 / (mpmath.exp(z) + mpmath.exp(-z)) ** 2),
    "relu": (lambda z, a: z if z > 0 else mpmath.mpf(0), lambda z, a: mpmath.mpf(1 if z > 0 else 0)),
    "leaky_relu": (lambda z, a: z if z > 0 else a * z, lambda z, a: mpmath.mpf(1) if z > 0 else a),
    "softplus": (lambda z, a: mpmath.log(1 + mpmath.exp(z)), lambda z, a: 1 / (1 + mpmath.exp(-z))),
}
#: Each loss's per-output term written again by hand: (term, ∂term/∂out) of (out, target, outputs).
BY_HAND_LOSSES = {
    "half_sse": (lambda o, t, n: (t - o) ** 2 / 2, lambda o, t, n: o - t),
    "sse": (lambda o, t, n: (t - o) ** 2, lambda o, t, n: 2 * (o - t)),
    "mse": (lambda o, t, n: (t - o) ** 2 / n, lambda o, t, n: 2 * (o - t) / n),
    "cross_entropy": (lambda o, t, n: -t * mpmath.log(o), lambda o, t, n: -t / o),
    "binary_cross_entropy": (lambda o, t, n: -(t * mpmath.log(o) + (1 - t) * mpmath.log(1 - o)),
                             lambda o, t, n: (o - t) / (o * (1 - o))),
}


def _mp(value: sp.Rational) -> mpmath.mpf:
    return mpmath.mpf(value.p) / value.q


def test_every_registered_rule_has_a_form_written_by_hand():
    assert set(ELEMENTWISE) == set(BY_HAND_ACTIVATIONS) and set(LOSSES) == set(BY_HAND_LOSSES)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("point", POINTS)
def test_forward_derivative_and_numeric_forms_agree_with_the_hand_written_ones(name, point):
    rule = activation(name)
    forward, derivative = BY_HAND_ACTIVATIONS[name]
    with mpmath.workdps(40):
        z, alpha = _mp(point), _mp(ALPHA)
        assert abs(mpmath.mpf(str(sp.N(rule.forward(point, ALPHA), 45))) - forward(z, alpha)) < mpmath.mpf("1e-35")
        assert abs(rule.numeric(z, alpha) - forward(z, alpha)) < mpmath.mpf("1e-35")
        # the registry's derivative (SymPy's, from the definition), at 0 the documented left derivative
        ours = sp.diff(rule.forward(x, ALPHA), x).subs(x, point)
        assert abs(mpmath.mpf(str(sp.N(ours, 45))) - derivative(z, alpha)) < mpmath.mpf("1e-35")


def test_sigmoid_derivative_stays_readable():
    from symbackprop.functions.activations import sigmoid

    assert sp.diff(sigmoid(x), x) == sigmoid(x) * (1 - sigmoid(x))
    assert not sp.diff(sigmoid(x), x).has(sp.exp)


def test_softmax_jacobian_equals_diff_of_explicit_formula():
    nets = sp.symbols("n1:4")
    outs = softmax_outputs(list(nets))
    point = {nets[0]: sp.Rational(1, 2), nets[1]: sp.Rational(-1, 3), nets[2]: sp.Integer(2)}
    values = [o.subs(point) for o in outs]
    for k in range(3):
        for j in range(3):
            reference = sp.diff(outs[k], nets[j]).subs(point)
            ours = softmax_derivative(values[k], values[j], k == j)
            assert abs(sp.N(ours - reference, 50)) < sp.Float("1e-45")


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_term_and_derivative_agree_with_the_hand_written_ones(name):
    rule = loss_kind(name)
    term, derivative = BY_HAND_LOSSES[name]
    o, t = sp.Rational(3, 10), sp.Rational(1, 4)
    with mpmath.workdps(40):
        for n in (1, 3):
            assert abs(mpmath.mpf(str(sp.N(rule.term(o, t, n), 45))) - term(_mp(o), _mp(t), n)) < mpmath.mpf("1e-35")
            assert abs(mpmath.mpf(str(sp.N(rule.derivative(o, t, n), 45))) - derivative(_mp(o), _mp(t), n)) \
                < mpmath.mpf("1e-35")


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_numeric_agrees_with_term(name):
    rule = loss_kind(name)
    o, t = sp.Rational(3, 10), sp.Rational(1, 4)
    with mpmath.workdps(40):
        numeric = rule.numeric(mpmath.mpf(3) / 10, mpmath.mpf(1) / 4, 3)
        assert abs(numeric - mpmath.mpf(str(sp.N(rule.term(o, t, 3), 40)))) < mpmath.mpf("1e-35")


def test_a_missing_rule_fails_loudly():
    with pytest.raises(KeyError, match="no activation 'gelu'"):
        activation("gelu")
    with pytest.raises(KeyError, match="no loss 'hinge'"):
        loss_kind("hinge")


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("point", [p for p in POINTS if p != 0])
def test_numeric_derivative_rule_equals_symbolic_rule(name, point):
    rule = activation(name)
    out_value = sp.N(rule.explicit(x, ALPHA).subs(x, point), 40)
    symbolic = sp.N(rule.derivative(point, out_value, ALPHA), 40)
    with mpmath.workdps(40):
        numeric = rule.numeric_derivative(mpmath.mpf(point.p) / point.q, mpmath.mpf(str(out_value)), mpmath.mpf(ALPHA.p) / ALPHA.q)
        assert abs(numeric - mpmath.mpf(str(symbolic))) < mpmath.mpf("1e-30")


@pytest.mark.parametrize("name", list(LOSSES))
def test_numeric_loss_derivative_equals_the_hand_written_one(name):
    rule = loss_kind(name)
    _, derivative = BY_HAND_LOSSES[name]
    with mpmath.workdps(40):
        o, t = mpmath.mpf(3) / 10, mpmath.mpf(1) / 4
        assert abs(rule.numeric_derivative(o, t, 3) - derivative(o, t, 3)) < mpmath.mpf("1e-35")


def test_a_registered_loss_works_in_every_command(tmp_path, capsys):
    """One entry, in Python, and derive, check (the finite-difference oracle), explain in both formats,
    latex, diagram, train and audit all take it."""
    from symbackprop.cli import main
    from symbackprop.functions.losses import register_loss

    path = tmp_path / "quartic.toml"
    path.write_text("""
[network]
inputs = ["x"]
[[network.layers]]
units = ["y"]
activation = "sigmoid"
weights = [["0.5"]]
weight_names = [["w"]]
[loss]
kind = "quartic_test"
targets = ["1"]
[data]
inputs = ["2"]
[training]
learning_rate = "0.5"
[[claims]]
quantity = "dE/dw"
value = "-0.00765"
""")
    register_loss("quartic_test", "¼Σ(t − o)⁴", lambda o, t, n: (t - o) ** 4 / 4)
    try:
        for command in (["derive"], ["check"], ["explain"], ["explain", "--format", "latex"], ["latex"],
                        ["diagram"], ["train", "--steps", "2"], ["audit"]):
            assert main([command[0], str(path), *command[1:]]) == 0, (command, capsys.readouterr().err)
            out = capsys.readouterr().out
            if command[0] == "explain":
                # the loss's own formula, from its definition: (t − out)⁴/4 summed over the outputs
                assert r"\sum_k \frac{\left(t_{k} - \mathrm{out}_{k}\right)^{4}}{4}" in out, out[:2000]
        import numpy as np

        from symbackprop.frontends.loader import load_network
        from symbackprop.training.codegen import compile_gradients

        compiled = compile_gradients(load_network(path))  # the float64 code takes it too
        _, float64 = compiled.loss_and_gradients(np.array([[2.0]]), np.array([[1.0]]), compiled.vector({"w": 0.5}))
    finally:
        LOSSES.pop("quartic_test")
    # the claim, by hand: out = σ(1) = 0.7310585786, ∂E/∂w = −(1 − out)³ · out(1 − out) · 2 = −0.0076491…
    out = 1 / (1 + mpmath.e ** -1)
    assert abs(-(1 - out) ** 3 * out * (1 - out) * 2 - mpmath.mpf("-0.00765")) < mpmath.mpf("0.000005")
    assert abs(float64[0] - float(-(1 - out) ** 3 * out * (1 - out) * 2)) < 1e-15


def test_a_loss_s_target_properties_decide_the_loader_check_and_the_softmax_collapse():
    """The collapse of a softmax + cross-entropy δ to out − t rests on Σ t = 1: a registered loss gets it
    (and the loader's check) by declaring that property, never by its name."""
    import symbackprop as sbp
    from symbackprop.functions.losses import register_loss

    def network(kind, targets=("0.25", "0.75")):
        return sbp.network_from_mapping({"network": {"inputs": ["x"], "layers": [
            {"units": ["a", "b"], "activation": "softmax", "weights": [["0.5", "-0.3"]]}]},
            "loss": {"kind": kind, "targets": list(targets)}, "data": {"inputs": ["2"]}})

    term = lambda o, t, n: -t * sp.log(o)
    register_loss("ce_declared", "−Σ t·ln o", term, targets_sum_to_one=True)
    register_loss("ce_undeclared", "−Σ t·ln o", term)
    try:
        with pytest.raises(sbp.InputError, match="ce_declared targets must be a distribution"):
            network("ce_declared", ("0.25", "0.5"))
        network("ce_undeclared", ("0.25", "0.5"))  # no such promise, no such check
        from symbackprop.quantity import Quantity

        deltas = {}
        for kind in ("cross_entropy", "ce_declared", "ce_undeclared"):
            engine = sbp.Engine(network(kind))
            deltas[kind] = engine.simplified(Quantity.loss(), Quantity.net("a"))
            assert engine.gradient("w_x_a").decimal(20) == sbp.Engine(network("cross_entropy")).gradient("w_x_a").decimal(20)
        out_a, t_a = sp.Symbol("out_a"), sp.Symbol("t_a")
        assert deltas["cross_entropy"] == deltas["ce_declared"] == out_a - t_a
        assert deltas["ce_undeclared"] != out_a - t_a  # the general formula: Σ t is not known to be 1
    finally:
        LOSSES.pop("ce_declared")
        LOSSES.pop("ce_undeclared")


def test_a_registered_activation_is_a_function_of_formula_files(tmp_path, capsys):
    """One entry, in Python, and a formula file's nodes call it: derive, check (the finite-difference
    oracle), explain and latex take it, and the gradient is the one worked by hand."""
    import json

    from symbackprop.functions.activations import register_activation, sigmoid
    from symbackprop.cli import main

    graph_file = tmp_path / "graph.toml"
    graph_file.write_text("""
[graph]
inputs = ["x"]
targets = ["t"]
[graph.parameters]
w = "0.5"
[[graph.nodes]]
name = "y"
formula = "swish_test(w*x)"
[loss]
formula = "(y - t)^2/2"
targets = ["1"]
[data]
inputs = ["2"]
""")
    register_activation("swish_test", lambda z, alpha: z * sigmoid(z))
    try:
        for command in (["derive", "--format", "json"], ["check"], ["explain"], ["latex"]):
            assert main([command[0], str(graph_file), *command[1:]]) == 0, (command, capsys.readouterr().err)
            out = capsys.readouterr().out
            if command[0] == "derive":
                value = mpmath.mpf(json.loads(out)["gradients"]["w"]["value"])
    finally:
        ACTIVATIONS.pop("swish_test")
    # by hand: y = z·σ(z) at z = w·x = 1, ∂E/∂w = (y − t) · (σ(z) + z·σ(z)(1 − σ(z))) · x
    s = 1 / (1 + mpmath.e ** -1)
    assert abs(value - (s - 1) * (s + s * (1 - s)) * 2) < mpmath.mpf("1e-15")
    # and once unregistered, the name is unknown again
    assert main(["derive", str(graph_file)]) == 2 and "unknown function 'swish_test'" in capsys.readouterr().err


def test_a_registered_activation_works_from_every_front_end_and_in_every_command(tmp_path, capsys):
    """One entry, in Python: a dense file's layer, a formula file's node and a Model's node use it, and derive,
    check (the finite-difference oracle), explain in both formats, latex, audit and the float64 code all take
    it, each giving the gradient worked by hand."""
    import numpy as np
    import sympy as sp

    import symbackprop as sbp
    from symbackprop.cli import main
    from symbackprop.functions.activations import register_activation, sigmoid
    from symbackprop.training.codegen import compile_gradients

    # by hand: y = z·σ(z) at z = w·x = 0.5·2 = 1, E = (y − 1)²/2, ∂E/∂w = (y − 1)·(σ(z) + z·σ(z)(1 − σ(z)))·x
    with mpmath.workdps(40):
        s = 1 / (1 + mpmath.e ** -1)
        by_hand = (s - 1) * (s + s * (1 - s)) * 2
    claim = f'\n[[claims]]\nquantity = "dE/dw"\nvalue = "{mpmath.nstr(by_hand, 8)}"\n'
    data = '[data]\ninputs = ["2"]\n'
    dense = tmp_path / "dense.toml"
    dense.write_text('[network]\ninputs = ["x"]\n[[network.layers]]\nunits = ["y"]\nactivation = "swish_test"\n'
                     'weights = [["0.5"]]\nweight_names = [["w"]]\n[loss]\nkind = "half_sse"\ntargets = ["1"]\n'
                     + data + claim)
    formulas = tmp_path / "formulas.toml"
    formulas.write_text('[graph]\ninputs = ["x"]\ntargets = ["t"]\n[graph.parameters]\nw = "0.5"\n[[graph.nodes]]\n'
                        'name = "y"\nformula = "swish_test(w*x)"\n[loss]\nformula = "(y - t)^2/2"\ntargets = ["1"]\n'
                        + data + claim)
    compile_gradients(sbp.load_model(Path(__file__).parent.parent / "examples" / "mazur.toml"))  # NumPy forms cached first
    swish = register_activation("swish_test", lambda z, alpha: z * sigmoid(z))
    try:
        x, t, w = sp.symbols("x t w")
        model = sbp.Model(inputs=[x], targets=[t], parameters={w: "0.5"})
        y = model.node("y", swish.forward(w * x, None))
        model.loss((y - t) ** 2 / 2)
        model.data(inputs=["2"], targets=["1"])
        for path in (dense, formulas):
            for command in (["derive"], ["check"], ["explain"], ["explain", "--format", "latex"], ["latex"],
                            ["audit"]):
                assert main([command[0], str(path), *command[1:]]) == 0, (path.name, command,
                                                                          capsys.readouterr().err)
                out = capsys.readouterr().out
                if command == ["audit"]:
                    assert "1 claims: 1 ok, 0 rounding, 0 propagated, 0 error" in out, out
        for source in (sbp.load_model(dense), sbp.load_model(formulas), model):
            with mpmath.workdps(40):
                assert abs(mpmath.mpf(str(sbp.Engine(source).gradient("w").exact.evalf(35))) - by_hand) < 1e-30
            compiled = compile_gradients(source)
            _, gradient = compiled.loss_and_gradients(np.array([[2.0]]), np.array([[1.0]]), compiled.vector({"w": 0.5}))
            assert abs(float(gradient[0]) - float(by_hand)) < 1e-14
    finally:
        ACTIVATIONS.pop("swish_test")


# ---- the one table of functions by name (functions/registry.py) ------------------------------------------------
#: Each function a formula may call, again by hand in mpmath, of (a, b) (b is read by the two-argument ones).
BY_HAND_FUNCTIONS = {
    "exp": lambda a, b: mpmath.e ** a, "log": lambda a, b: mpmath.ln(a), "sqrt": lambda a, b: a ** mpmath.mpf(0.5),
    "abs": lambda a, b: a if a >= 0 else -a, "sin": lambda a, b: mpmath.sin(a),
    "cos": lambda a, b: mpmath.cos(a), "tanh": lambda a, b: (mpmath.e ** (2 * a) - 1) / (mpmath.e ** (2 * a) + 1),
    "erf": lambda a, b: 2 / mpmath.sqrt(mpmath.pi) * mpmath.quad(lambda s: mpmath.e ** (-s * s), [0, a]),
    "sigmoid": lambda a, b: 1 / (1 + mpmath.e ** -a), "softplus": lambda a, b: mpmath.ln(1 + mpmath.e ** a),
    "relu": lambda a, b: a if a > 0 else mpmath.mpf(0), "leaky_relu": lambda a, b: a if a > 0 else b * a,
    "max": lambda a, b: a if a >= b else b, "min": lambda a, b: a if a <= b else b,
}
#: The functions over vectors, each called as written here and again by hand, of (a, b).
BY_HAND_VECTOR_FUNCTIONS = {
    "sum": ("sum(u, v, u)", lambda a, b: a + b + a),
    "mean": ("mean(u, v, v)", lambda a, b: (a + b + b) / 3),
    "dot": ("dot([u, v], [v, 3])", lambda a, b: a * b + b * 3),
    "softmax": ("softmax([u, v, 1], 2)", lambda a, b: mpmath.e ** b / (mpmath.e ** a + mpmath.e ** b + mpmath.e)),
}
#: The functions whose branch turns on a comparison, by hand.
BY_HAND_SWITCHING = {"abs", "relu", "leaky_relu", "max", "min"}


def _call(name: str, arity: tuple[int, int]) -> str:
    """How the tests below call a formula function of u (and v)."""
    if name in BY_HAND_VECTOR_FUNCTIONS:
        return BY_HAND_VECTOR_FUNCTIONS[name][0]
    return f"{name}(u, v)" if arity[0] == 2 else f"{name}(u)"


def test_every_formula_function_has_a_form_written_by_hand():
    from symbackprop.frontends.formula import FUNCTIONS

    assert set(FUNCTIONS) == set(BY_HAND_FUNCTIONS) | set(BY_HAND_VECTOR_FUNCTIONS)


@pytest.mark.parametrize("name", sorted(BY_HAND_FUNCTIONS) + sorted(BY_HAND_VECTOR_FUNCTIONS))
@pytest.mark.parametrize("a, b", [("0.7", "0.2"), ("-0.4", "0.3"), ("1.3", "1.3")])
def test_a_formula_function_is_one_entry_for_the_parser_the_evaluator_and_the_float64_code(name, a, b):
    """Parsed from a formula, evaluated by the evaluator (exactly where it only compares) and by the NumPy form
    the float64 code is given: each against the form written by hand above."""
    from fractions import Fraction

    import numpy as np

    from symbackprop.frontends.formula import FUNCTIONS, parse_formula
    from symbackprop.functions.evaluate import evaluate_expression
    from symbackprop.functions.registry import has_kink, numpy_forms

    if name in ("log", "sqrt") and a.startswith("-"):
        a = a[1:]
    u, v = sp.symbols("u v")
    expression = parse_formula(_call(name, FUNCTIONS[name].arity), {"u": u, "v": v})
    values = {u: Fraction(a), v: Fraction(b)}
    by_hand = BY_HAND_VECTOR_FUNCTIONS[name][1] if name in BY_HAND_VECTOR_FUNCTIONS else BY_HAND_FUNCTIONS[name]
    with mpmath.workdps(40):
        expected = by_hand(mpmath.mpf(a), mpmath.mpf(b))
        value = evaluate_expression(expression, values)
        number = mpmath.mpf(value.numerator) / value.denominator if isinstance(value, Fraction) else value
        assert abs(number - expected) < mpmath.mpf("1e-30")
    exact = name in BY_HAND_SWITCHING or name in ("sum", "mean", "dot")  # (an exact sum or product stays exact)
    assert isinstance(value, Fraction) == exact, "exact on exact arguments iff it compares or only adds"
    assert has_kink(expression) == (name in BY_HAND_SWITCHING)
    compiled = sp.lambdify((u, v), expression, modules=[numpy_forms(), "numpy"])
    assert abs(float(compiled(np.array([float(a)]), np.array([float(b)]))[0]) - float(expected)) < 1e-13


def test_the_branch_of_every_switching_function_is_decided_by_its_ball_or_refused():
    """Where a switching function's derivative jumps (a ReLU's net at 0, the two sides of a max equal), a ball
    holding the switch gets no derivative (Uncertain, never a branch chosen by rounding); a ball on one side
    gets the derivative written by hand. Every smooth function's derivative is computed on either ball."""
    from flint import arb

    from symbackprop.frontends.formula import FUNCTIONS, parse_formula
    from symbackprop.functions.balls import Uncertain, working_digits
    from symbackprop.functions.evaluate import evaluate_expression

    u, v = sp.symbols("u v")
    slopes = {"abs": 1, "relu": 1, "leaky_relu": 1, "max": 1, "min": 0}  # ∂/∂u just right of the switch (u > v)
    for name, entry in FUNCTIONS.items():
        if name in ("log", "sqrt"):
            continue
        expression = parse_formula(_call(name, entry.arity), {"u": u, "v": v})
        derivative = sp.diff(expression, u)
        switch = Fraction(0) if name in ("abs", "relu", "leaky_relu") else Fraction(1, 7)
        with working_digits(30):
            near = {u: arb(switch.numerator) / switch.denominator + arb(0, 1e-40), v: Fraction(1, 7)}
            right = {u: arb(switch.numerator) / switch.denominator + arb(1) / 10**6, v: Fraction(1, 7)}
            if name in BY_HAND_SWITCHING:
                with pytest.raises(Uncertain):
                    evaluate_expression(derivative, near, balls=True)
                assert evaluate_expression(derivative, right, balls=True) == slopes[name], name
            else:
                slope = evaluate_expression(derivative, near, balls=True)  # (a constant slope stays exact)
                assert isinstance(slope, Fraction) or slope.is_finite(), name
