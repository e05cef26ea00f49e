"""Trust: no wrong digit printed as certified, no wrong gradient passed.

Each test is a worked example whose right answer is known by construction: a loop over exact
rationals written out here, independent of the library (no evaluator, no program, no engine).
"""
from __future__ import annotations

import itertools
import re
from fractions import Fraction

import mpmath
import pytest

from symbackprop.audit import audit
from symbackprop.audit.claims import ClaimKey, claims_from_document
from symbackprop.audit.verdict import Auditor
from symbackprop.errors import UncertifiedDigits
from symbackprop.frontends.dense import build_graph
from symbackprop.frontends.loader import network_from_mapping
from symbackprop.frontends.formulas import graph_from_mapping
from symbackprop.quantity import Quantity
from symbackprop.training.train import train

F = Fraction


# ---- 1. a kink met exactly: every number stays exact ---------------------------------------
def relu_network(w="0.17", b="-1.19", x="7", steps=2, momentum=None) -> dict:
    training = {"learning_rate": "0.1", "steps": steps}
    if momentum:
        training["momentum"] = momentum
    return {"network": {"inputs": ["x"], "layers": [
        {"units": ["h"], "activation": "relu", "weights": [[w]], "weight_names": [["w"]], "bias": b,
         "bias_names": "b"},
        {"units": ["y"], "activation": "linear", "weights": [["1"]], "weight_names": [["v"]]}]},
        "loss": {"kind": "half_sse", "targets": ["4"]}, "data": {"inputs": [x]}, "training": training}


def relu_by_hand(w, b, v, x, t, rate, steps, momentum=F(0)):
    """1-1-1 ReLU network under half-SSE, in Fractions; ReLU′(0) = 0 (the documented convention)."""
    found, velocity = [], {"w": F(0), "b": F(0), "v": F(0)}
    for step in range(steps + 1):
        net = w * x + b
        out = max(net, F(0))
        y = v * out
        found.append((step, (y - t) ** 2 / 2, w, b, v))
        delta_y = y - t
        delta_h = delta_y * v * (1 if net > 0 else 0)
        gradients = {"w": delta_h * x, "b": delta_h, "v": delta_y * out}
        for name, gradient in gradients.items():
            velocity[name] = momentum * velocity[name] + gradient
        w, b, v = w - rate * velocity["w"], b - rate * velocity["b"], v - rate * velocity["v"]
    return found


@pytest.mark.parametrize("digits", [5, 12, 30, 60])
@pytest.mark.parametrize("momentum", [None, "0.9"])
def test_train_at_an_exact_relu_kink_is_exact_at_every_digits(digits, momentum):
    graph = build_graph(network_from_mapping(relu_network(momentum=momentum)))
    steps = train(graph, steps=3, digits=digits)
    expected = relu_by_hand(F("0.17"), F("-1.19"), F(1), F(7), F(4), F("0.1"), 3, F(momentum or 0))
    assert [(s.step, s.loss, s.parameters["w"], s.parameters["b"], s.parameters["v"]) for s in steps] == expected
    assert steps[1].loss == 8  # the kink switches the unit off: E stays (0 - 4)²/2


def formula_graph(node: str, parameters: dict, x="1", target="0", steps=2, momentum=None, before=()) -> dict:
    training = {"learning_rate": "0.25", "steps": steps}
    if momentum:
        training["momentum"] = momentum
    return {"graph": {"inputs": ["x"], "targets": ["t"], "parameters": parameters,
                      "nodes": [*({"name": n, "formula": f} for n, f in before), {"name": "h", "formula": node}]},
            "loss": {"formula": "(h - t)^2 / 2", "targets": [target]}, "data": {"inputs": [x]}, "training": training}


# Each switch met exactly at the file's numbers; the hand-written value and derivative follow the
# engine's documented conventions (|x|′(0) = sign(0) = 0, max and min split a tie ½/½, ReLU′(0) = 0,
# leaky ReLU′(0) = α).
KINKS = {
    "abs": ("abs(p - q) + p", lambda p, q: abs(p - q) + p,
            lambda p, q: ((0 if p == q else (1 if p > q else -1)) + 1, -(0 if p == q else (1 if p > q else -1)))),
    "max": ("max(p, q)", lambda p, q: max(p, q),
            lambda p, q: (F(1, 2), F(1, 2)) if p == q else ((1, 0) if p > q else (0, 1))),
    "min": ("min(p, q)", lambda p, q: min(p, q),
            lambda p, q: (F(1, 2), F(1, 2)) if p == q else ((1, 0) if p < q else (0, 1))),
    "leaky_relu": ("leaky_relu(p - q, 0.1)", lambda p, q: p - q if p - q > 0 else F(1, 10) * (p - q),
                   lambda p, q: (1, -1) if p - q > 0 else (F(1, 10), -F(1, 10))),
}


@pytest.mark.parametrize("kink", sorted(KINKS))
@pytest.mark.parametrize("digits", [7, 30])
def test_train_at_exact_ties_of_abs_max_min_leaky_relu(kink, digits):
    formula, value, slopes = KINKS[kink]
    graph = graph_from_mapping(formula_graph(formula, {"p": "0.3", "q": "0.3"}, target="0"))
    found = train(graph, steps=3, digits=digits)
    p = q = F(3, 10)
    for step in found:
        assert (step.parameters["p"], step.parameters["q"]) == (p, q), (kink, step.step)
        assert step.loss == value(p, q) ** 2 / 2
        dp, dq = slopes(p, q)
        error = value(p, q)
        p, q = p - F(1, 4) * error * dp, q - F(1, 4) * error * dq


def test_train_refuses_a_switch_met_in_rounding_noise():
    # sqrt(x)·sqrt(x) − x is exactly 0 at x = 2, but in binary arithmetic it is a different tiny number at
    # every precision: no branch of the ReLU can be proved, so nothing is printed.
    graph = graph_from_mapping(formula_graph("relu(a*a - x) + w", {"w": "1"}, x="2", before=[("a", "sqrt(x)")]))
    with pytest.raises(UncertifiedDigits, match="switch"):
        train(graph, steps=1, digits=10)
    # exactly 0 in binary arithmetic (sigmoid(0) − ½): a ball of radius 0 proves it is 0, so the ReLU takes
    # the branch of its convention, as at an exact rational 0; by hand, h = w, E = w²/2, w ← w − 0.25·w
    graph = graph_from_mapping(formula_graph("relu(sigmoid(x) - 1/2) + w", {"w": "1"}, x="0"))
    run = train(graph, steps=1, digits=10)
    assert [step.parameters["w"] for step in run] == [1, Fraction(3, 4)]
    assert [step.loss for step in run] == [Fraction(1, 2), Fraction(9, 32)]


def test_train_cli_at_a_kink_is_exact_and_at_noise_refuses(tmp_path, capsys):
    from symbackprop.cli import main

    kink = tmp_path / "kink.toml"
    kink.write_text(KINK_TOML)
    assert main(["train", str(kink), "--steps", "1", "--format", "json"]) == 0
    import json

    run = json.loads(capsys.readouterr().out)
    assert run["steps"][1]["loss"].startswith("8") and run["steps"][1]["parameters"]["w"].startswith("0.17")
    noise = tmp_path / "noise.toml"
    noise.write_text(NOISE_TOML)
    assert main(["train", str(noise), "--steps", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not be certified" in err[0] and "noise.toml" in err[0]


KINK_TOML = """
[network]
inputs = ["x"]
[[network.layers]]
units = ["h"]
activation = "relu"
weights = [["0.17"]]
weight_names = [["w"]]
bias = "-1.19"
bias_names = "b"
[[network.layers]]
units = ["y"]
activation = "linear"
weights = [["1"]]
weight_names = [["v"]]
[loss]
kind = "half_sse"
targets = ["4"]
[data]
inputs = ["7"]
[training]
learning_rate = "0.1"
steps = 1
"""

NOISE_TOML = """
[graph]
inputs = ["x"]
targets = ["t"]
[graph.parameters]
w = "1"
[[graph.nodes]]
name = "a"
formula = "sqrt(x)"
[[graph.nodes]]
name = "h"
formula = "relu(a*a - x) + w"
[loss]
formula = "(h - t)^2 / 2"
targets = ["0"]
[data]
inputs = ["2"]
[training]
learning_rate = "0.1"
"""


# ---- 2 and 3. the auditor's exact values after steps are train's, for every method ---------
def linear_by_hand(w, b, xs, ts, rate, steps, method, batch_size=2, momentum=F(0), reduction="mean"):
    """yhat = w·x + b under half-SSE over samples, trained as the method says, in Fractions."""
    def loss(w, b, rows):
        total = sum(((w * xs[i] + b) - ts[i]) ** 2 / 2 for i in rows)
        return total / len(rows) if reduction == "mean" else total

    def gradient(w, b, rows):
        gw = sum(((w * xs[i] + b) - ts[i]) * xs[i] for i in rows)
        gb = sum(((w * xs[i] + b) - ts[i]) for i in rows)
        scale = F(1, len(rows)) if reduction == "mean" else 1
        return gw * scale, gb * scale

    count = len(xs)
    size = {"batch": count, "stochastic": 1, "minibatch": batch_size}[method]
    groups = [list(range(s, min(s + size, count))) for s in range(0, count, size)]
    found, vw, vb = [], F(0), F(0)
    for step in range(steps + 1):
        found.append((loss(w, b, range(count)), w, b))
        for group in groups:
            gw, gb = gradient(w, b, group)
            vw, vb = momentum * vw + gw, momentum * vb + gb
            w, b = w - rate * vw, b - rate * vb
    return found


def linear_document(method, momentum=None, reduction="mean", claims=()):
    training = {"learning_rate": "0.1", "method": method, "steps": 3}
    if method == "minibatch":
        training["batch_size"] = 2
    if momentum:
        training["momentum"] = momentum
    return {"graph": {"inputs": ["x"], "targets": ["t"], "parameters": {"w": "1", "b": "0"},
                      "nodes": [{"name": "yhat", "formula": "w*x + b"}]},
            "loss": {"formula": "(yhat - t)^2 / 2", "targets": [["2"], ["3"], ["-1"]], "reduction": reduction},
            "data": {"inputs": [["1"], ["2"], ["-0.5"]]}, "training": training, "claims": list(claims)}


@pytest.mark.parametrize("method,momentum,reduction", [
    (method, momentum, reduction) for method, momentum, reduction in itertools.product(
        ("batch", "stochastic", "minibatch"), (None, "0.5"), ("mean", "sum"))])
def test_auditor_exact_values_at_every_step_are_the_training_rule(method, momentum, reduction):
    document = linear_document(method, momentum, reduction)
    graph = graph_from_mapping(document)
    expected = linear_by_hand(F(1), F(0), [F(1), F(2), F(-1, 2)], [F(2), F(3), F(-1)], F(1, 10), 3, method,
                              momentum=F(momentum or 0), reduction=reduction)
    trained = train(graph, steps=3, digits=30)
    auditor = Auditor(graph, [])
    for step, (loss, w, b) in enumerate(expected):
        assert (trained[step].loss, trained[step].parameters["w"], trained[step].parameters["b"]) == (loss, w, b)
        assert auditor.exact_value(ClaimKey("value", step, Quantity.loss())) == pytest.approx(float(loss), rel=1e-15)
        assert abs(auditor.exact_value(ClaimKey("value", step, Quantity.loss())) - _mp(loss)) < _mp(F(1, 10**35))
        if step:
            new = auditor.exact_value(ClaimKey("new", step - 1, Quantity.param("w")))
            assert abs(new - _mp(w)) < _mp(F(1, 10**35))


def _mp(value: Fraction):
    import mpmath

    with mpmath.workdps(60):
        return mpmath.mpf(value.numerator) / value.denominator


def test_audit_of_stochastic_training_takes_the_right_loss_as_ok_and_the_full_batch_one_as_error():
    # The example: yhat = w·x + b, w = 1, b = 0, x = 1, 2, targets 2, 3, half-SSE mean, η = 0.1.
    document = {"graph": {"inputs": ["x"], "targets": ["t"], "parameters": {"w": "1", "b": "0"},
                          "nodes": [{"name": "yhat", "formula": "w*x + b"}]},
                "loss": {"formula": "(yhat - t)^2 / 2", "targets": [["2"], ["3"]], "reduction": "mean"},
                "data": {"inputs": [["1"], ["2"]]},
                "training": {"learning_rate": "0.1", "method": "stochastic", "steps": 1}}
    (loss, _, _), (after, _, _) = linear_by_hand(F(1), F(0), [F(1), F(2)], [F(2), F(3)], F(1, 10), 1, "stochastic")
    assert after == F("0.11765")
    graph = graph_from_mapping(document)
    claims = claims_from_document({"claims": [{"quantity": "E", "step": 1, "value": "0.11765"},
                                              {"quantity": "E", "step": 1, "value": "0.230625"}]}, graph)
    verdicts = [v.verdict for v in audit(graph, claims).verdicts]
    assert verdicts == ["ok", "error"]


def test_audit_at_an_exact_kink_after_two_steps_with_momentum():
    document = relu_network(momentum="0.9", steps=2)
    expected = relu_by_hand(F("0.17"), F("-1.19"), F(1), F(7), F(4), F("0.1"), 2, F("0.9"))
    graph = build_graph(network_from_mapping(document))
    right_w, right_e = expected[2][2], expected[2][1]
    claims = claims_from_document({"claims": [
        {"quantity": "w", "step": 2, "value": str(float(right_w))},
        {"quantity": "E", "step": 2, "value": str(float(right_e))},
        {"quantity": "w", "step": 2, "value": "0.97"},
    ]}, graph)
    verdicts = [v.verdict for v in audit(graph, claims).verdicts]
    assert verdicts[:2] == ["ok", "ok"] and verdicts[2] == "error"


# ---- 4. check: a floor that does not grow with |E|, and infinities never agree -------------
EXAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples"


def _mazur_with_target(tmp_path, target: str):
    text = (EXAMPLES / "mazur.toml").read_text().replace('targets = ["0.01", "0.99"]', f'targets = ["{target}", "0.99"]')
    path = tmp_path / "large.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("target", ["1e25", "-3e40"])
def test_check_fails_every_corrupted_gradient_when_the_loss_is_huge(tmp_path, target):
    import mpmath

    from symbackprop.engine.chain import Engine
    from symbackprop.oracle.check import check_gradients
    from symbackprop.frontends.loader import load_model

    network = load_model(_mazur_with_target(tmp_path, target))
    good = Engine(build_graph(network)).gradient_values(60)
    assert check_gradients(network, good).passed
    for name in good:
        for corrupt in (0, -good[name], good[name] * (1 + mpmath.mpf(10) ** -30), mpmath.inf, -mpmath.inf, mpmath.nan):
            analytic = dict(good, **{name: corrupt})
            assert check_gradients(network, analytic).row(name).status == "mismatch", (name, corrupt)


def test_check_cli_fails_an_analytic_zero_on_a_huge_loss(tmp_path, capsys):
    # the last-layer weights of o2 keep an O(0.02) gradient while |E| ~ 1e50
    from symbackprop.cli import main

    path = _mazur_with_target(tmp_path, "1e25")
    assert main(["check", str(path)]) == 0
    capsys.readouterr()
    assert main(["check", str(path), "--float64"]) == 2
    assert "float64" in capsys.readouterr().err


def test_check_api_infinite_analytic_is_a_mismatch():
    import mpmath

    from symbackprop.oracle.check import check_gradients
    from symbackprop.frontends.loader import load_model

    network = load_model(EXAMPLES / "mazur.toml")
    for bad in (mpmath.inf, -mpmath.inf, mpmath.nan):
        report = check_gradients(network, {**{p.name: 0 for p in network.parameters()}, "w5": bad})
        assert report.row("w5").status == "mismatch" and not report.passed


# ---- 17. every precision the CLI accepts passes a correct gradient -------------------------
@pytest.mark.parametrize("precision", [5, 50, 280, 300, 500, 995, 1000])
def test_check_passes_mazur_at_every_documented_precision(precision, capsys):
    from symbackprop.cli import main

    assert main(["check", str(EXAMPLES / "mazur.toml"), "--precision", str(precision)]) == 0
    assert "10 ok" in capsys.readouterr().out


# ---- 5. every name the engine generates is taken ------------------------------------------
def _generated_names(graph) -> set[str]:
    from symbackprop.engine.program import straight_line_program

    program = straight_line_program(graph)
    names = {symbol.name for symbol in graph.symbols.values()} | {s.name for s in graph.targets.values()}
    names |= {s.name for s in graph.deltas.values()} | {symbol.name for symbol, _ in program.backward}
    user = {q.name for q in graph.order if graph.roles[q] in ("input", "parameter")}
    user |= {q.name for q in graph.order if q.kind == "node"}
    import re

    return {name for name in names - user if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name)}


def test_every_generated_name_is_refused_as_a_parameter_name_of_a_dense_file():
    import copy

    from symbackprop.errors import InputError

    base = {"network": {"inputs": ["i1", "i2"], "layers": [
        {"units": ["h1", "h2"], "activation": "sigmoid", "weights": [["0.15", "0.25"], ["0.2", "0.3"]],
         "weight_names": [["w1", "w3"], ["w2", "w4"]], "bias": "0.35", "bias_names": "b1"},
        {"units": ["o1", "o2"], "activation": "softmax", "weights": [["0.4", "0.5"], ["0.45", "0.55"]],
         "weight_names": [["w5", "w7"], ["w6", "w8"]], "bias": "0.6", "bias_names": "b2"}]},
        "loss": {"kind": "cross_entropy", "targets": ["0", "1"]}, "data": {"inputs": ["0.05", "0.1"]}}
    generated = _generated_names(build_graph(network_from_mapping(base)))
    assert {"E_o1", "net_h1", "out_o2", "t_o1", "delta_h2"} <= generated
    for name in sorted(generated):
        document = copy.deepcopy(base)
        document["network"]["layers"][0]["weight_names"][0][0] = name
        with pytest.raises(InputError):
            build_graph(network_from_mapping(document))


def test_a_parameter_named_like_a_loss_term_is_refused_by_every_command(tmp_path, capsys):
    from symbackprop.cli import main

    text = (EXAMPLES / "mazur.toml").read_text().replace('[["w1", "w3"], ["w2", "w4"]]', '[["E_o1", "w3"], ["w2", "w4"]]')
    path = tmp_path / "collide.toml"
    path.write_text(text)
    for command in (["derive", str(path), "--wrt", "E_o1"], ["check", str(path)], ["train", str(path)],
                    ["explain", str(path)]):
        assert main(command) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "E_o1" in err[0] and "collide.toml" in err[0]


def test_a_formula_graph_refuses_taken_names_and_renames_its_own_adjoints():
    import copy

    import sympy as sp

    from symbackprop.engine.chain import Engine
    from symbackprop.errors import InputError

    base = formula_graph("sigmoid(w*x) + v", {"w": "0.5", "v": "0.1"})
    for name in ("E", "t", "x"):  # the loss, the target and the input are taken
        document = copy.deepcopy(base)
        document["graph"]["parameters"] = {name: "0.5", "v": "0.1"}
        document["graph"]["nodes"][0]["formula"] = f"sigmoid({name}*x) + v"
        with pytest.raises(InputError):
            graph_from_mapping(document)
    # the program's own adjoint names step aside for a parameter that has one of them
    document = copy.deepcopy(base)
    document["graph"]["parameters"] = {"delta_h": "0.5", "v": "0.1"}
    document["graph"]["nodes"][0]["formula"] = "sigmoid(delta_h*x) + v"
    graph = graph_from_mapping(document)
    w, v, x, t = sp.symbols("w v x t")
    loss = (1 / (1 + sp.exp(-w * x)) + v - t) ** 2 / 2
    expected = sp.diff(loss, w).subs({w: sp.Rational(1, 2), v: sp.Rational(1, 10), x: 1, t: 0})
    got = Engine(graph).gradient("delta_h").evalf(30)
    assert abs(sp.N(got - expected, 40)) < 1e-28


# ---- 6. SymPy assumptions that the values contradict ---------------------------------------
def test_assumptions_that_fold_expressions_are_refused_or_checked_against_values():
    import sympy as sp

    import symbackprop as sbp
    from symbackprop.errors import InputError

    x, t = sp.symbols("x t")
    w = sp.Symbol("w", positive=True)
    model = sbp.Model(inputs=[x], targets=[t], parameters={w: "-0.5"})
    h = model.node("h", sp.Abs(w) * x)  # SymPy has already folded Abs(w) to w
    model.loss((h - t) ** 2 / 2)
    model.data(inputs=["1"], targets=["0"])
    for use in (sbp.Engine, sbp.check_gradients):
        with pytest.raises(InputError, match="positive=True"):
            use(model)
    positive_x = sp.Symbol("x", positive=True)
    v = sp.Symbol("v")
    model = sbp.Model(inputs=[positive_x], targets=[t], parameters={v: "-0.5"})
    model.loss((model.node("h", sp.Abs(positive_x) * v) - t) ** 2 / 2)
    model.data(inputs=["-1"], targets=["0"])
    with pytest.raises(InputError, match="positive=True, but its value is -1"):
        sbp.Engine(model)
    model.data(inputs=["2"], targets=["0"])  # a value the assumption holds for: the folded formula is right
    assert sbp.Engine(model).gradient("v").exact == 4 * sp.Rational(-1, 2)  # d/dv (2v)²/2 = 4v
    real_x = sp.Symbol("x", real=True)  # real symbols fold nothing our values contradict
    model = sbp.Model(inputs=[real_x], targets=[t], parameters={v: "-0.5"})
    model.loss((model.node("h", sp.Abs(real_x) * v) - t) ** 2 / 2)
    model.data(inputs=["-1"], targets=["0"])
    assert sbp.check_gradients(model).passed and sbp.Engine(model).gradient("v").exact == sp.Rational(-1, 2)


# ---- 7-11. the auditor's reasons are earned -------------------------------------------------
MAZUR_NETWORK = (EXAMPLES / "mazur.toml").read_text()


def _audit_text(tmp_path, claims: str, network: str = MAZUR_NETWORK):
    from symbackprop.audit.claims import load_claims

    path = tmp_path / "claims.toml"
    path.write_text(network + "\n" + claims)
    graph, loaded = load_claims(path)
    return audit(graph, loaded).verdicts


def test_toml_float_claims_are_judged_as_written(tmp_path):
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "E"
value = 0.2980
[[claims]]
quantity = "dE/dw5"
value = 0.08216704056423077999999
[[claims]]
quantity = "dE/dw5"
value = 0.08216704056423077884641903355410638770526
""")
    # E = 0.298371…: 0.2980 claims four decimals and is wrong in the fourth; repr would read "0.298", ok
    assert [v.verdict for v in verdicts] == ["error", "error", "ok"]
    assert verdicts[0].claim.written == "0.2980" and verdicts[0].claim.unit == F(1, 10**4)


def test_more_than_35_written_decimals_are_all_judged(tmp_path):
    exact = "0.08216704056423077884641903355410638770526"  # ∂E/∂w5, 41 decimals (derive --digits 40)
    wrong_last = exact[:-1] + "7"
    wrong_40th = exact[:-2] + "96"
    verdicts = _audit_text(tmp_path, "".join(f'[[claims]]\nquantity = "dE/dw5"\nvalue = "{v}"\n'
                                           for v in (exact, wrong_last, wrong_40th)))
    assert [v.verdict for v in verdicts] == ["ok", "error", "error"]


def test_a_coarse_claim_excuses_no_finer_one_and_no_digit_is_flagged(tmp_path):
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "out(o1)"
value = "1"
[[claims]]
quantity = "dE/dw5"
value = "0.000000000"
[[claims]]
quantity = "E(o2)"
value = "0e50"
""")
    assert [v.verdict for v in verdicts] == ["ok", "error", "ok"]
    assert "no significant digit" in verdicts[2].reason


def test_rounding_is_not_granted_through_a_coarse_reading(tmp_path):
    # an author who writes "1" for out(o1) does not thereby round every number to whole ones
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "out(o1)"
value = "1"
[[claims]]
quantity = "E"
value = "0.000000"
""")
    assert verdicts[1].verdict == "error"


def test_propagated_only_from_a_claim_the_number_reads(tmp_path):
    # out(h1) is wrong; out(h2) is right (rounded); σ′ of h2 from the author's out(h2) reads nothing of h1
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "out(h1)"
value = "0.65"
[[claims]]
quantity = "out(h2)"
value = "0.60"
[[claims]]
quantity = "dout(h2)/dnet(h2)"
value = "0.2400"
[[claims]]
quantity = "net(o1)"
value = "0.93"
""")
    assert [v.verdict for v in verdicts[:3]] == ["error", "ok", "rounding"]
    # net(o1) = w5·out(h1) + w6·out(h2) + b2 = 0.4·0.65 + 0.45·0.60 + 0.6 = 1.13 would be propagated; 0.93 is
    # neither exact (1.1059) nor the author's: an error
    assert verdicts[3].verdict == "error"
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "out(h1)"
value = "0.65"
[[claims]]
quantity = "out(h2)"
value = "0.60"
[[claims]]
quantity = "net(o1)"
value = "1.13"
""")
    assert verdicts[2].verdict == "propagated" and verdicts[2].source == 0  # reads claim 1, inherits its error


GRADIENT_DESCENT = """
[graph]
inputs = []
[graph.parameters]
x = "1.23456"
y = "2.5"
[[graph.nodes]]
name = "f"
formula = "x^2 + y^2"
[loss]
formula = "f"
[training]
learning_rate = "0.1"
steps = 1
"""


def test_derivatives_right_from_the_authors_own_numbers_are_not_blamed_on_a_wrong_loss(tmp_path):
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "x"
value = "1.23"
[[claims]]
quantity = "E"
value = "9.0"
[[claims]]
quantity = "dE/dx"
value = "2.46"
[[claims]]
quantity = "dE/dy"
value = "5.00"
""", network=GRADIENT_DESCENT)
    assert [v.verdict for v in verdicts] == ["ok", "error", "rounding", "ok"]


# ---- 14. ties of max and min are kinks -------------------------------------------------------
TIE = """
[graph]
inputs = []
[graph.parameters]
p1 = "1"
p2 = "2"
p3 = "7"
p4 = "7"
[[graph.nodes]]
name = "m"
formula = "max(max(p1, p2), max(p3, p4))"
[loss]
formula = "m^2/2"
[training]
learning_rate = "0.1"
"""


def test_a_tie_of_max_is_a_kink_with_both_one_sided_derivatives(tmp_path):
    import mpmath

    from symbackprop.oracle.check import check_gradients

    graph = graph_from_mapping(__import__("tomllib").loads(TIE))
    report = check_gradients(graph)
    for name, (left, right) in {"p3": (0, 7), "p4": (0, 7)}.items():
        row = report.row(name)
        assert row.status == "kink" and row.kinks == ("m",)
        # by hand: E = m²/2 with m = 7: raising p3 raises m (right: m·1 = 7), lowering it leaves m (left: 0)
        assert [round(float(side), 9) for side in row.one_sided] == [left, right]
        assert row.analytic == mpmath.mpf(7) / 2  # the documented convention: the mean of the two sides
    assert report.row("p1").status == "ok" and report.passed
    # a wrong gradient at the tie is still a mismatch: outside both sides
    assert check_gradients(graph, {"p1": 0, "p2": 0, "p3": 8, "p4": 3.5}).row("p3").status == "mismatch"


def test_the_audit_accepts_either_one_sided_derivative_at_a_tie_and_names_the_convention(tmp_path):
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "dE/dp3"
value = "7"
[[claims]]
quantity = "dE/dp4"
value = "0"
[[claims]]
quantity = "dE/dp3"
value = "3.5"
[[claims]]
quantity = "dE/dp3"
value = "5"
[[claims]]
quantity = "dE/dp1"
value = "7"
""", network=TIE)
    assert [v.verdict for v in verdicts] == ["ok", "ok", "ok", "error", "error"]
    assert "from the right" in verdicts[0].reason and "from the left" in verdicts[1].reason


def test_the_audit_accepts_a_one_sided_convention_after_the_update_and_at_a_later_tie(tmp_path):
    # By hand: at p3 = p4 = 7, m = 7, E = m²/2. Framework-style sides at step 0: ∂E/∂p3 = 7 (right), ∂E/∂p4 = 0
    # (left), so new(p3) = 7 − 0.1·7 = 6.3, new(p4) = 7 and E after the step = max(6.3, 7)²/2 = 24.5; the engine's
    # halves give 6.65 for both, still a tie: at step 1 the sides are 6.65 and 0, the engine's 3.325.
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "new(p3)"
value = "6.30"
[[claims]]
quantity = "new(p4)"
value = "7.00"
[[claims]]
quantity = "E"
step = 1
value = "24.50"
[[claims]]
quantity = "dE/dp4"
step = 1
value = "7.00"
[[claims]]
quantity = "dE/dp3"
step = 1
value = "6.65"
[[claims]]
quantity = "dE/dp4"
step = 1
value = "0.00"
[[claims]]
quantity = "new(p3)"
value = "6.31"
[[claims]]
quantity = "E"
step = 1
value = "24.52"
[[claims]]
quantity = "dE/dp3"
step = 1
value = "6.66"
""", network=TIE)
    assert [v.verdict for v in verdicts] == ["ok"] * 6 + ["error"] * 3
    assert "after an update with ∂E/∂p3 from the right (" in verdicts[0].reason
    assert "at step 1" in verdicts[4].reason and "from the right" in verdicts[4].reason


@pytest.mark.parametrize("bias, excused", [("-1.19", True), ("-1.19000000000000000000000000000000000000000000000000001", False)])
def test_a_relu_met_exactly_excuses_a_one_sided_update_and_one_a_hair_away_does_not(tmp_path, bias, excused):
    # By hand: net = 0.17·7 − 1.19 = 0, y = 0, t = 4: from the right ∂E/∂w = (0 − 4)·1·7 = −28 and ∂E/∂b = −4, so
    # new(w) = 0.17 + 2.8 = 2.97, new(b) = −0.79 and then y = 2.97·7 − 0.79 = 20, E = 16²/2 = 128. With the bias 10⁻⁵³
    # lower the net is negative: the derivative is 0 from both sides, and 2.97 is simply wrong.
    verdicts = _audit_text(tmp_path, """
[[claims]]
quantity = "new(w)"
value = "2.97"
[[claims]]
quantity = "new(b)"
value = "-0.79"
[[claims]]
quantity = "new(w)"
value = "2.96"
""", network=KINK_TOML.replace('bias = "-1.19"', f'bias = "{bias}"'))
    assert [v.verdict for v in verdicts] == (["ok", "ok", "error"] if excused else ["error", "error", "error"])
    if excused:
        assert "after an update with ∂E/∂w from the right (" in verdicts[0].reason
    later = _audit_text(tmp_path, """
[[claims]]
quantity = "E"
step = 1
value = "128.0"
[[claims]]
quantity = "dE/dw"
step = 1
value = "-28.0"
[[claims]]
quantity = "dE/dw"
step = 1
value = "-27.9"
""", network=KINK_TOML.replace('bias = "-1.19"', f'bias = "{bias}"'))
    # the engine's update leaves w, b and v where they were (every gradient 0): at step 1 the kink is met again
    assert [v.verdict for v in later] == (["ok", "ok", "error"] if excused else ["error", "error", "error"])
    if excused:
        assert "at a kink met exactly at step 1" in later[1].reason


# ---- 15. undefined values: one line, exit 2, the same in every command -----------------------
UNDEFINED = __import__("pathlib").Path(__file__).resolve().parent / "undefined"
#: file -> (what every command must say, the commands whose computation meets it)
UNDEFINED_CASES = {
    "bce_neg": ("log(out_y) has no real value at these numbers (not a real number",
                ("derive", "check", "explain", "diagram", "train", "audit", "claims")),
    "ce_relu0": ("log(out_y) has no real value at these numbers (infinite, at out_y = 0)",
                 ("derive", "check", "explain", "diagram", "train", "audit", "claims")),
    "sqrt1": ("1/sqrt(w*x - 1) has no real value at these numbers (a division by 0, at w*x - 1 = 0)",
              ("derive", "check", "explain", "diagram", "train", "claims")),
    "train_00": ("has no real value at these numbers (a division by 0, at w*x - 1 = 0)",
                 ("derive", "check", "explain", "diagram", "train", "claims")),
    "train_log_out": ("after 1 step(s) of training: log(w*x) has no real value at these numbers (not a real number, "
                      "at w*x = -85.6371)", ("train",)),
    "log0": ("the formula holds zoo", ("derive", "check", "explain", "latex", "diagram", "train", "audit", "claims")),
    "sqrtneg": ("the formula holds I", ("derive", "check", "explain", "latex", "diagram", "train", "audit", "claims")),
}


@pytest.mark.parametrize("name", sorted(UNDEFINED_CASES))
def test_undefined_values_are_one_line_in_every_command(name, capsys):
    from symbackprop.cli import main

    says, commands = UNDEFINED_CASES[name]
    path = UNDEFINED / f"{name}.toml"
    for command in commands:
        code = main([command, str(path)])
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert err.count("\n") == 1 and err.startswith(f"symbackprop: {path}: ") and says in err, (command, err)
        assert not re.search(r"\b(inf|nan)\b", err), err  # never printed as a value


# ---- 19. sizes within the limits answer within a minute, never silent past 2 s -----------------
def wide_graph_text(nodes: int, reads: int) -> str:
    """Every node tanh of the mean of ``reads`` earlier ones (written here, not the benchmark's)."""
    lines = ['[graph]\ninputs = ["x"]\ntargets = ["t"]\n[graph.parameters]\nw = "0.5"',
             '[[graph.nodes]]\nname = "n0"\nformula = "w*x"']
    for k in range(1, nodes):
        picks = [f"n{(k * 7 + i * 13) % k}" for i in range(min(reads, k))]
        lines.append(f'[[graph.nodes]]\nname = "n{k}"\nformula = "tanh(w*({" + ".join(picks)})/{len(picks)})"')
    lines.append(f'[loss]\nformula = "(n{nodes - 1} - t)^2/2"\ntargets = ["0.5"]\n[data]\ninputs = ["0.3"]')
    return "\n".join(lines) + "\n"


def test_a_graph_past_the_size_limit_is_refused_before_any_derivative(tmp_path, capsys):
    import time

    from symbackprop.cli import main
    from symbackprop.graph import MAX_FORMULA_SIZE

    # 900 nodes each the mean of up to 200 (a repeated pick counts once): about 190 subexpressions a node
    path = tmp_path / "wide.toml"
    path.write_text(wide_graph_text(900, 200))
    started = time.monotonic()
    assert main(["derive", str(path)]) == 2
    assert time.monotonic() - started < 30  # reading and counting only (differentiating it takes minutes)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"at most {MAX_FORMULA_SIZE:,}" in err and "wide.toml" in err
    assert re.search(r"graph\.nodes\.n[78]\d\d\.formula", err)  # the node where the count passes the limit


def test_the_size_limit_counts_every_sample_and_holds_for_dense_files_and_models(tmp_path):
    import sympy as sp

    import symbackprop as sbp
    from symbackprop.errors import InputError
    from symbackprop.graph import MAX_FORMULA_SIZE

    width, samples = 100, 6  # a 100-100-1 dense net: 30,000 subexpressions a sample, 6 samples over the limit
    row = lambda k: [str(Fraction(i % 7 - 3, 10)) for i in range(k)]
    document = {"network": {"inputs": [f"x{i}" for i in range(width)], "layers": [
        {"units": [f"h{i}" for i in range(width)], "activation": "sigmoid", "weights": [row(width)] * width},
        {"units": ["y"], "activation": "linear", "weights": [["1"]] * width}]},
        "loss": {"kind": "half_sse", "targets": [["0.5"]] * samples}, "data": {"inputs": [row(width)] * samples}}
    with pytest.raises(InputError, match=f"at most {MAX_FORMULA_SIZE:,}") as refused:
        build_graph(network_from_mapping(document))
    assert "for each of 6 samples" in str(refused.value) and refused.value.place == "data.inputs"
    document["loss"]["targets"], document["data"]["inputs"] = [["0.5"]], [row(width)]
    assert len(build_graph(network_from_mapping(document)).parameters()) == width * width + width  # no biases given
    # a Model holds to the same limit as a file: 80 nodes each w·Σ tanh(h + k) over 500 k (2,001 subexpressions)
    x, w = sp.symbols("x w")
    model = sbp.Model(inputs=[x], parameters={w: "0.5"})
    h = model.node("h", w * x)
    block = sp.Add(*(sp.tanh(h + k) for k in range(500)))
    nodes = [model.node(f"s{k}", w * block) for k in range(80)]
    model.loss(sp.Add(*nodes) ** 2)
    with pytest.raises(InputError, match=f"at most {MAX_FORMULA_SIZE:,}"):
        model.graph()


@pytest.mark.parametrize("command", ["derive", "check", "explain", "latex", "diagram", "train", "audit", "claims"])
def test_every_command_speaks_on_stderr_past_two_seconds(command, monkeypatch, capsys):
    import time

    import symbackprop.audit
    import symbackprop.frontends.loader
    from symbackprop.cli import main

    module, reader = (symbackprop.audit, "load_claims") if command == "audit" else (symbackprop.frontends.loader, "load_model")
    slow = getattr(module, reader)

    def read_slowly(source):
        time.sleep(2.6)  # a large file: reading it takes this long
        return slow(source)

    monkeypatch.setattr(module, reader, read_slowly)
    file = EXAMPLES / ("audit/mazur_published.toml" if command == "audit" else "mazur.toml")
    assert main([command, str(file)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^symbackprop: reading the file \(2 s\)$", err, re.M), err


def _derive_stderr_stamps(path) -> list[float]:
    """The start of ``derive`` on ``path`` in a subprocess, the time of every line it writes on stderr, its end."""
    import subprocess
    import sys
    import threading
    import time

    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "symbackprop", "derive", str(path)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    stamps = [started]
    reader = threading.Thread(target=lambda: [stamps.append(time.monotonic()) for _ in process.stderr])
    reader.start()
    assert process.wait(timeout=300) == 0
    reader.join()
    return stamps + [time.monotonic()]


def test_a_long_derive_is_never_silent_for_more_than_two_seconds(tmp_path):
    # the case must run long enough to need the heartbeat (over 5 s) on whatever machine runs the tests: a faster
    # machine gets a wider graph (here about 4 s, 10 s, 15 s and 22 s; the reads a node makes cost the time)
    path = tmp_path / "wide.toml"
    for nodes, reads in ((250, 60), (400, 120), (400, 200), (600, 200)):
        path.write_text(wide_graph_text(nodes, reads))
        stamps = _derive_stderr_stamps(path)
        if stamps[-1] - stamps[0] > 5:
            break
    assert stamps[-1] - stamps[0] > 5, f"even {nodes}×{reads} took {stamps[-1] - stamps[0]:.1f} s: too short to test"
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    # start-up (Python and SymPy's import) comes before the heartbeat: 2 s of silence plus that, then 2 s at most
    # between lines (a quarter of a second for the heartbeat's own wake-up, and scheduling)
    assert gaps[0] < 5 and max(gaps[1:]) < 2.8, gaps


# ---- 20. misuse of the Python API: a sentence at the call, never a crash inside ---------------
def _model(expression=None):
    import sympy as sp

    import symbackprop as sbp

    x, w, t = sp.symbols("x w t")
    model = sbp.Model(inputs=[x], targets=[t], parameters={w: "0.5"})
    model.loss((model.node("h", w * x if expression is None else expression(x, w)) - t) ** 2 / 2)
    model.data(inputs=["1"], targets=["0"])
    return model


def test_api_misuse_is_an_input_error_at_the_call():
    import sympy as sp

    import symbackprop as sbp
    from symbackprop.errors import InputError

    calls = {
        "inputs": lambda: sbp.Model(inputs=5),
        "parameters": lambda: sbp.Model(parameters=5),
        "parameter": lambda: sbp.Engine(_model()).gradient(5),
        "network": lambda: sbp.Engine(None),
        "file": lambda: sbp.explain("no such file.toml"),
        "path": lambda: sbp.audit(None),
        "data": lambda: _model().data(5, 6),
        "check": lambda: sbp.check_gradients(5),
        "compile": lambda: sbp.compile_gradients(3.5),
    }
    for name, call in calls.items():
        with pytest.raises(InputError):
            call()
    x, w = sp.symbols("x w")
    for expression in (lambda x, w: sp.I * w, lambda x, w: sp.Integral(w * x, x), lambda x, w: sp.Sum(w, (x, 1, 3)),
                       lambda x, w: x ** 10**9 * w, lambda x, w: sp.zoo * w, lambda x, w: sp.Derivative(w * x, x)):
        with pytest.raises(InputError):
            _model(expression).graph()


def test_model_data_obeys_the_file_limits():
    import sympy as sp

    import symbackprop as sbp
    from symbackprop.errors import InputError

    x, w, t = sp.symbols("x w t")
    with pytest.raises(InputError, match="out of range"):
        sbp.Model(inputs=[x], parameters={w: "1e100"})
    model = sbp.Model(inputs=[x], targets=[t], parameters={w: "0.5"})
    model.loss((model.node("h", w * x) - t) ** 2 / 2)
    with pytest.raises(InputError, match="at most 10,000"):
        model.data([["1"]] * 10_001, [["0"]] * 10_001)


def test_compile_gradients_of_erf_runs_and_agrees_with_finite_differences():
    import numpy as np
    import sympy as sp

    import symbackprop as sbp

    model = _model(lambda x, w: sp.erf(w * x) + sp.tanh(w))
    function = sbp.compile_gradients(model)
    losses, gradient = function.loss_and_gradients(np.array([[1.0]]), np.array([[0.0]]), np.array([0.5]))
    loss = lambda w: (__import__("math").erf(w) + __import__("math").tanh(w)) ** 2 / 2  # written out here
    h = 1e-6
    assert abs(gradient[0] - (loss(0.5 + h) - loss(0.5 - h)) / (2 * h)) < 1e-8
    assert abs(losses[0] - loss(0.5)) < 1e-15


# ---- 21. smaller ones ---------------------------------------------------------------------
def test_the_skeleton_escapes_the_file_name_in_its_comment(tmp_path, capsys):
    import tomllib

    from symbackprop.cli import main

    path = tmp_path / 'a\n[[claims]]\nquantity = "E"\nvalue = "9".toml'
    path.write_text(MAZUR_NETWORK)
    assert main(["claims", str(path)]) == 0
    out = capsys.readouterr().out
    tables = tomllib.loads(out)["claims"]
    assert all(table["value"] == "" for table in tables)  # no table forged by the name
    assert out.splitlines()[0].startswith("# Claims to audit")


def test_markdown_titles_open_no_autolink_and_no_strikethrough(tmp_path, capsys):
    from markdown_it import MarkdownIt

    from symbackprop.cli import main

    title = "~~struck~~ https://evil.example/x www.evil.com mail@evil.com"
    text = (EXAMPLES / "audit" / "mazur_published.toml").read_text().replace(
        'title = "', f'title = "{title} ', 1)
    path = tmp_path / "titled.toml"
    path.write_text(text)
    main(["audit", str(path), "--format", "markdown"])
    html = MarkdownIt("gfm-like").render(capsys.readouterr().out.splitlines()[0])
    assert "<a " not in html and "<s>" not in html and "www.evil.com" in html, html


@pytest.mark.parametrize("command", [["audit"], ["claims"], ["explain"], ["diagram"], ["train", "--plot"], ["graph"]])
def test_an_output_that_is_the_input_file_is_refused_and_the_file_kept(tmp_path, capsys, command):
    from symbackprop.cli import main

    path = tmp_path / "input.toml"
    original = (EXAMPLES / "audit" / "mazur_published.toml").read_text()
    path.write_text(original)
    arguments = [command[0], str(path)] + (["--plot", str(path)] if "--plot" in command else ["-o", str(path)])
    assert main(arguments) == 2
    assert "names the input file itself" in capsys.readouterr().err
    assert path.read_text() == original


def test_a_diverging_run_plots_finite_coordinates(tmp_path):
    from symbackprop.cli import main

    path = tmp_path / "diverge.toml"
    path.write_text(formula_graph_toml("w*x", x="10", rate="1", steps=200))
    plot = tmp_path / "loss.svg"
    assert main(["train", str(path), "--plot", str(plot)]) == 0
    svg = plot.read_text()
    numbers = re.findall(r"-?\d+(?:\.\d+)?|nan|inf", svg.split("<polyline points=")[1].split('"')[1])
    assert numbers and all(n not in ("nan", "inf") for n in numbers) and "log10(E)" in svg


def formula_graph_toml(formula: str, x="1", rate="0.1", steps=1) -> str:
    return f"""[graph]
inputs = ["x"]
targets = ["t"]
[graph.parameters]
w = "1"
[[graph.nodes]]
name = "h"
formula = "{formula}"
[loss]
formula = "(h - t)^2/2"
targets = ["0"]
[data]
inputs = ["{x}"]
[training]
learning_rate = "{rate}"
steps = {steps}
"""


def test_a_full_disk_and_an_ascii_locale_are_one_line_or_fine():
    import subprocess
    import sys

    command = [sys.executable, "-m", "symbackprop", "derive", str(EXAMPLES / "mazur.toml"), "--wrt", "w5"]
    with open("/dev/full", "w") as full:
        result = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 3 and result.stderr.count("\n") == 1 and "No space left" in result.stderr
    result = subprocess.run(command, capture_output=True, timeout=120,
                            env={**__import__("os").environ, "LC_ALL": "C", "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0 and "∂E/∂w5".encode() in result.stdout, result.stderr[-300:]


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    import symbackprop.cli as cli
    import symbackprop.cli.commands as commands

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "derive", interrupted)
    assert cli.main(["derive", str(EXAMPLES / "mazur.toml")]) == 130
    assert capsys.readouterr().err == "symbackprop: interrupted\n"


def test_a_float_step_count_and_keyword_node_names_are_refused_plainly():
    from symbackprop.errors import InputError

    document = formula_graph(("w*x"), {"w": "1"})
    with pytest.raises(InputError, match="the float 2.0"):
        graph_from_mapping({**document, "training": {"learning_rate": "0.1", "steps": __import__("tomllib").loads(
            "s = 2.0", parse_float=__import__("symbackprop.numbers", fromlist=["TomlFloat"]).TomlFloat.parse)["s"]}})
    for name in ("lambda", "import", "None", "match"):
        bad = formula_graph("w*x", {"w": "1"})
        bad["graph"]["nodes"][0]["name"] = name
        with pytest.raises(InputError, match="word of the formula syntax"):
            graph_from_mapping(bad)


# ---- 16. large finite losses are computed, the same everywhere --------------------------------
SATURATED = __import__("pathlib").Path(__file__).resolve().parent / "saturated"


@pytest.mark.parametrize("name, loss, gradient", [
    # E = −ln(1 − σ(z)) = ln(1 + e^z) with z = w·x: at z = 1000, 1000 + ln(1 + e^-1000) (by hand, mpmath below);
    # ∂E/∂w = σ(z)·x ≈ 10.
    ("sigmoid_1000_binary_cross_entropy", 1000, 10),
    ("sigmoid_1e59_binary_cross_entropy", 10**59, 1),
])
def test_a_saturated_sigmoid_under_binary_cross_entropy_has_its_finite_loss_everywhere(name, loss, gradient, capsys):
    import json

    import mpmath

    from symbackprop.cli import main

    path = SATURATED / f"{name}.toml"
    mpmath.mp.dps = 60
    try:
        z = mpmath.mpf(loss)
        expected = z + mpmath.log1p(mpmath.exp(-z))  # ln(1 + e^z), arranged not to overflow
        assert main(["train", str(path), "--steps", "1", "--format", "json"]) == 0
        run = json.loads(capsys.readouterr().out)
        assert abs(mpmath.mpf(run["steps"][0]["loss"]) - expected) <= expected * mpmath.mpf(10) ** -28
    finally:
        mpmath.mp.dps = 15
    assert main(["derive", str(path), "--wrt", "w", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"\b(inf|nan)\b", out)
    value = json.loads(out)["gradients"]["w"]["value"]
    assert abs(mpmath.mpf(value) - gradient) < mpmath.mpf(10) ** -30
    assert main(["audit", str(path)]) == 0  # the claim E = 1000 (or 1e59) is right
    assert "ok" in capsys.readouterr().out
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    if loss == 1000:  # within the oracle's reach: it works at 600 more digits
        assert code == 0 and "1 ok" in out
    else:  # beyond any precision for finite differences: refused, never passed, never inf
        assert code == 1 and err.count("\n") == 1 and "no gradient is proved" in err
    assert not re.search(r"\b(inf|nan)\b", out + err)


# ---- item 13: mistakes of recurrent and attention worked examples, made by a simulated author ----------
def _written(value, places: int = 6) -> str:
    return f"{float(value):.{places}f}"  # (at six decimals a float's rounding is far below the written unit)


RNN = {"graph": {"inputs": ["x1", "x2", "x3"], "targets": ["t"],
                 "parameters": {"w": "0.5", "u": "-0.3", "b": "0.1", "v": "0.8"},
                 "nodes": [{"name": "h1", "formula": "tanh(w*x1 + b)"},
                           {"name": "h2", "formula": "tanh(w*x2 + u*h1 + b)"},
                           {"name": "h3", "formula": "tanh(w*x3 + u*h2 + b)"},
                           {"name": "y", "formula": "v*h3"}]},
       "loss": {"formula": "(y - t)^2 / 2", "targets": ["0.9"]},
       "data": {"inputs": ["1", "-0.5", "0.25"]}, "training": {"learning_rate": "0.1"}}


def _rnn_author(truncated: bool) -> list[dict]:
    """The recurrent worked example by hand (mpmath, 40 digits), its gradients through every time step or,
    as an author who ignores the earlier steps, through the last one only."""
    with mpmath.workdps(40):
        w, u, b, v = (mpmath.mpf(s) for s in ("0.5", "-0.3", "0.1", "0.8"))
        x = [mpmath.mpf(s) for s in ("1", "-0.5", "0.25")]
        t = mpmath.mpf("0.9")
        h, previous = [], mpmath.mpf(0)
        for k in range(3):
            previous = mpmath.tanh(w * x[k] + (u * previous if k else 0) + b)
            h.append(previous)
        y = v * h[2]
        dh = [mpmath.mpf(0)] * 3
        dh[2] = (y - t) * v
        grads = {"w": 0, "u": 0, "b": 0}
        for k in (2, 1, 0):
            delta = dh[k] * (1 - h[k] ** 2)
            grads["w"] += delta * x[k]
            grads["b"] += delta
            if k:
                grads["u"] += delta * h[k - 1]
                dh[k - 1] = delta * u
            if truncated:
                break
        claims = [("h1", h[0]), ("h2", h[1]), ("h3", h[2]), ("y", y), ("E", (y - t) ** 2 / 2), ("dE/dh3", dh[2]),
                  ("dE/dw", grads["w"]), ("dE/du", grads["u"]), ("dE/db", grads["b"]), ("dE/dv", (y - t) * h[2]),
                  ("new(w)", w - mpmath.mpf("0.1") * mpmath.mpf(_written(grads["w"])))]
    return [{"quantity": q, "value": _written(value)} for q, value in claims]


def _audit_graph(document, claims):
    graph = graph_from_mapping(document)
    return audit(graph, claims_from_document({**document, "claims": claims}, graph))


def test_a_recurrent_gradient_through_the_last_time_step_only_is_named_truncated_bptt():
    right = _audit_graph(RNN, _rnn_author(truncated=False))
    assert right.clean, [(v.claim.quantity, v.verdict) for v in right.verdicts]
    report = _audit_graph(RNN, _rnn_author(truncated=True))
    verdicts = {v.claim.quantity: v for v in report.verdicts}
    for name in ("h1", "h2", "h3", "y", "E", "dE/dh3", "dE/dv"):  # the forward pass and the last step are right
        assert verdicts[name].verdict == "ok", verdicts[name]
    for name in ("dE/dw", "dE/du", "dE/db"):
        names = {d.mistake for d in verdicts[name].diagnoses}
        assert verdicts[name].verdict == "error" and "truncated_bptt" in names, verdicts[name]
    assert verdicts["new(w)"].verdict == "propagated" and verdicts["new(w)"].source == 6


ATTENTION = {"graph": {"inputs": ["a1", "a2", "c1", "c2", "v1", "v2"], "targets": ["t"],
                       "parameters": {"q1": "0.6", "q2": "-0.4"},
                       "nodes": [{"name": "s1", "formula": "(q1*a1 + q2*a2)/sqrt(2)"},
                                 {"name": "s2", "formula": "(q1*c1 + q2*c2)/sqrt(2)"},
                                 {"name": "p1", "formula": "exp(s1)/(exp(s1) + exp(s2))"},
                                 {"name": "y", "formula": "p1*v1 + (1 - p1)*v2"}]},
             "loss": {"formula": "(y - t)^2 / 2", "targets": ["0.3"]},
             "data": {"inputs": ["1", "2", "-1", "0.5", "0.2", "0.9"]}}


def _attention_author(scaled: bool) -> list[dict]:
    """The attention worked example by hand, its scores divided by √d (d = 2) or, as an author who forgets
    the scale, not; every later number is computed from the written ones."""
    with mpmath.workdps(40):
        q1, q2 = mpmath.mpf("0.6"), mpmath.mpf("-0.4")
        a1, a2, c1, c2, v1, v2 = (mpmath.mpf(s) for s in ("1", "2", "-1", "0.5", "0.2", "0.9"))
        scale = 1 / mpmath.sqrt(2) if scaled else 1
        s1 = mpmath.mpf(_written((q1 * a1 + q2 * a2) * scale))
        s2 = mpmath.mpf(_written((q1 * c1 + q2 * c2) * scale))
        p1 = mpmath.mpf(_written(mpmath.exp(s1) / (mpmath.exp(s1) + mpmath.exp(s2))))
        y = mpmath.mpf(_written(p1 * v1 + (1 - p1) * v2))
        return [{"quantity": q, "value": _written(value)} for q, value in
                (("s1", s1), ("s2", s2), ("p1", p1), ("y", y), ("E", (y - mpmath.mpf("0.3")) ** 2 / 2))]


def test_attention_scores_without_the_scale_are_named():
    assert _audit_graph(ATTENTION, _attention_author(scaled=True)).clean
    report = _audit_graph(ATTENTION, _attention_author(scaled=False))
    first, second, *later = report.verdicts
    for verdict in (first, second):
        assert verdict.verdict == "error" and "attention_unscaled" in {d.mistake for d in verdict.diagnoses}, verdict
    assert [v.verdict for v in later] == ["propagated"] * 3, later
