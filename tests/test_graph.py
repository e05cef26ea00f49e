"""The general graph: formula graphs from Python and from files, against independent oracles.

Every gradient here is compared with ``sympy.diff`` of the loss composed in ``tests/oracle.py``
(its own elementary formulas, no derivative of ours) and with the finite-difference check.
"""
from __future__ import annotations

import json
from pathlib import Path

import mpmath
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.frontends.loader import load_model, network_from_mapping
from symbackprop.frontends.formulas import graph_from_mapping

from .oracle import composed_graph_loss, diff_gradient, graph_diff_gradients

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
README_FILE = EXAMPLES / "graphs" / "readme_model.toml"


def _agree(ours, reference, digits: int = 45) -> bool:
    ours, reference = mpmath.mpf(str(ours)), mpmath.mpf(str(reference))
    return abs(ours - reference) <= mpmath.mpf(10) ** -digits * max(1, abs(reference))


def readme_model() -> sbp.Model:
    x1, x2, w1, w2, b, v, t = sp.symbols("x1 x2 w1 w2 b v t")
    m = sbp.Model(inputs=[x1, x2], targets=[t], parameters={w1: "0.15", w2: "-0.2", b: "0.35", v: "0.5"})
    h = m.node("h", sbp.sigmoid(w1 * x1 + w2 * x2 + b))
    y = m.node("y", sp.tanh(v * h) + h)
    m.loss((y - t) ** 2 / 2)
    m.data(inputs=["0.05", "0.1"], targets=["0.9"])
    return m


def test_the_readme_model_in_python_and_in_a_file_gives_the_oracles_gradients():
    in_python, in_file = sbp.Engine(readme_model()), sbp.Engine(load_model(README_FILE))
    reference = graph_diff_gradients(in_file.graph)
    assert list(reference) == ["w1", "w2", "b", "v"]
    for name, expected in reference.items():
        assert _agree(in_python.gradient(name).evalf(50), expected)
        assert _agree(in_file.gradient(name).evalf(50), expected)
    # a value published by hand: dE/dv = (y - t)·h·(1 - tanh²(v·h)), computed here in mpmath directly
    with mpmath.workdps(40):
        h = 1 / (1 + mpmath.exp(-(mpmath.mpf("0.15") * mpmath.mpf("0.05") - mpmath.mpf("0.2") * mpmath.mpf("0.1")
                                  + mpmath.mpf("0.35"))))
        y = mpmath.tanh(h / 2) + h
        assert _agree(in_file.gradient("v").evalf(40), (y - mpmath.mpf("0.9")) * h * (1 - mpmath.tanh(h / 2) ** 2), 35)


def test_local_derivatives_are_written_in_node_symbols():
    engine = sbp.Engine(load_model(README_FILE))
    h = sp.Symbol("h")
    assert engine.derivative("h", "w1").compact == sp.Symbol("x1") * h * (1 - h)  # the sigmoid's fdiff, in h
    assert engine.derivative("y", "h").compact == sp.Symbol("v") * (1 - sp.tanh(sp.Symbol("v") * h) ** 2) + 1
    assert [str(f) for term in engine.gradient("w1").chain for f in term] == ["∂E/∂h", "∂h/∂w1"]


def test_a_closed_form_lambdifies_as_it_is_and_gives_the_exact_value():
    engine = sbp.Engine(load_model(README_FILE))
    gradient = engine.gradient("w1")
    leaves = sorted(gradient.closed.free_symbols, key=str)
    function = sp.lambdify(leaves, gradient.closed, modules="mpmath")  # no rewrite needed
    with mpmath.workdps(40):
        values = {s: mpmath.mpf(v.numerator) / v.denominator for s, v in engine.graph.values.items()}
        assert _agree(function(*[values[s] for s in leaves]), gradient.evalf(40), 35)
    # and so does a dense network's closed form, softmax included
    dense = sbp.Engine(sbp.load_model(EXAMPLES / "relu_sigmoid_softmax.toml"))
    closed = dense.gradients()[0].closed
    leaves = sorted(closed.free_symbols, key=str)
    numbers = {s: float(v) for s, v in dense.graph.values.items()}
    assert abs(sp.lambdify(leaves, closed)(*[numbers[s] for s in leaves]) - float(dense.gradients()[0].evalf(20))) < 1e-12


def test_a_dense_network_with_a_skip_a_tied_weight_and_its_own_activation_equals_its_formula_twin():
    dense = network_from_mapping({
        "activations": {"swish": {"formula": "x*sigmoid(x)"}},
        "network": {"inputs": ["x1", "x2"], "layers": [
            {"units": ["h1", "h2"], "activation": "swish", "weights": [["0.1", "0.2"], ["-0.3", "0.4"]],
             "weight_names": [["a", "b"], ["c", "d"]]},
            {"units": ["o1"], "activation": "tanh", "sources": ["h1", "h2", "x1"],
             "weights": [["0.1"], ["0.6"], ["0.2"]], "weight_names": [["a"], ["e"], ["f"]], "bias": ["0.05"]}]},
        "loss": {"term": "(out - t)^2 + 0.1*abs(out - t)", "targets": ["0.3"]},
        "data": {"inputs": ["0.7", "-0.2"]}})
    assert [p.name for p in dense.parameters()] == ["a", "b", "c", "d", "e", "f", "b_o1"]  # a is one parameter
    twin = graph_from_mapping({
        "graph": {"inputs": ["x1", "x2"], "targets": ["t"],
                  "parameters": {"a": "0.1", "b": "0.2", "c": "-0.3", "d": "0.4", "e": "0.6", "f": "0.2", "b_o1": "0.05"},
                  "nodes": [{"name": "h1", "formula": "(a*x1 + c*x2) * sigmoid(a*x1 + c*x2)"},
                            {"name": "h2", "formula": "(b*x1 + d*x2) * sigmoid(b*x1 + d*x2)"},
                            {"name": "o1", "formula": "tanh(a*h1 + e*h2 + f*x1 + b_o1)"}]},
        "loss": {"formula": "(o1 - t)^2 + 0.1*abs(o1 - t)", "targets": ["0.3"]},
        "data": {"inputs": ["0.7", "-0.2"]}})
    ours, theirs = sbp.Engine(dense), sbp.Engine(twin)
    for name in twin.parameters():
        value = ours.gradient(name).evalf(50)
        assert _agree(value, theirs.gradient(name).evalf(50))
        assert _agree(value, diff_gradient(dense, name, 50))
    # the tied weight sums both of its uses, and says so
    assert ours.gradient("a").path_count == 2  # into net(h1), and into net(o1) directly
    report = sbp.check_gradients(dense)
    assert report.passed and {row.status for row in report.rows} == {"ok"}


def test_an_activation_registered_in_a_test_gets_every_command(tmp_path, capsys, monkeypatch):
    from symbackprop.functions import activations

    monkeypatch.setitem(activations.ACTIVATIONS, "cube_tanh", activations.Activation(
        "cube_tanh", lambda net, alpha: sp.tanh(net) ** 3))
    path = tmp_path / "cube.toml"
    path.write_text("""
[network]
inputs = ["x"]
[[network.layers]]
units = ["h"]
activation = "cube_tanh"
weights = [["0.7"]]
weight_names = [["w"]]
[[network.layers]]
units = ["y"]
activation = "linear"
weights = [["1.5"]]
weight_names = [["v"]]
[loss]
kind = "half_sse"
targets = ["0.2"]
[data]
inputs = ["0.9"]
[training]
learning_rate = "0.1"
""")
    network = sbp.load_network(path)
    engine = sbp.Engine(network)
    net_h = sp.Symbol("net_h")
    assert engine.derivative("out(h)", "net(h)").compact == sp.diff(sp.tanh(net_h) ** 3, net_h)  # from SymPy
    assert _agree(engine.gradient("w").evalf(50), diff_gradient_with_formula(network), 45)
    for command in (["derive"], ["check"], ["explain"], ["latex"], ["diagram"], ["derive", "--format", "json"]):
        assert main([command[0], str(path), *command[1:]]) == 0, command
    capsys.readouterr()
    # the auditor too: tanh(0.63)³ = 0.17379…, written right and written wrong
    audited = tmp_path / "cube_audit.toml"
    audited.write_text(path.read_text() + '[[claims]]\nquantity = "out(h)"\nvalue = "0.1738"\n'
                       '[[claims]]\nquantity = "out(h)"\nvalue = "0.1838"\n')
    assert main(["audit", str(audited), "--format", "json"]) == 1
    verdicts = [c["verdict"] for c in json.loads(capsys.readouterr().out)["claims"]]
    assert verdicts == ["ok", "error"], verdicts
    function = sbp.compile_gradients(network)
    loss, gradient = function.loss_and_gradients([[0.9]], [[0.2]], function.vector({"w": 0.7, "v": 1.5}))
    assert abs(gradient[0] - float(engine.gradient("w").evalf(20))) < 1e-12


def diff_gradient_with_formula(network) -> sp.Float:
    """∂E/∂w of the cube-tanh network, composed by hand: E = ½(v·tanh³(w·x) − t)²."""
    w = sp.Symbol("w")
    loss = (sp.Rational(3, 2) * sp.tanh(w * sp.Rational(9, 10)) ** 3 - sp.Rational(1, 5)) ** 2 / 2
    return sp.diff(loss, w).evalf(50, subs={w: sp.Rational(7, 10)})


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_local_derivatives_are_exactly_what_sympy_diff_gives(data):
    """The graph's direct rules (graph.partial) build the very expression sympy.diff builds."""
    from symbackprop.frontends.formula import parse_formula
    from symbackprop.graph import partial

    names = {name: sp.Symbol(name) for name in ("a", "b", "c")}
    template = data.draw(st.sampled_from(TEMPLATES))
    picks = {key: data.draw(st.sampled_from(list(names))) for key in "abc"}
    expression = parse_formula(template.format(**picks), names)
    for symbol in expression.free_symbols:
        assert partial(expression, symbol) == sp.diff(expression, symbol), (expression, symbol)


def test_a_model_takes_any_elementary_sympy_function():
    x, w, t = sp.symbols("x w t")
    m = sbp.Model(inputs=[x], targets=[t], parameters={w: "0.3"})
    h = m.node("h", sp.atan(w * x) + sp.cosh(w) * sp.asinh(x) + sp.erfc(w * x) + sp.sqrt(1 + w**2))
    g = m.node("g", sp.gamma(2 + h) * sp.acos(w / 2) + sp.atanh(w / 2) + sp.exp(-h) * sp.log(1 + h**2))
    m.loss((g - t) ** 2 / 2 + sp.Rational(1, 100) * w**2)
    m.data(inputs=["0.7"], targets=["1.5"])
    graph = sbp.Engine(m).graph
    report = sbp.check_gradients(m)
    assert report.passed and report.row("w").status == "ok"
    assert _agree(sbp.Engine(m).gradient("w").evalf(50), graph_diff_gradients(graph, 50)["w"])


def test_a_model_refuses_floats_unknown_symbols_and_functions_without_a_numeric_rule():
    x, w, z = sp.symbols("x w z")
    m = sbp.Model(inputs=[x], parameters={w: "0.5"})
    with pytest.raises(sbp.InputError, match="float"):
        m.node("h", 0.1 * x)
    with pytest.raises(sbp.InputError, match="not an input, target, parameter or earlier node"):
        m.node("h", w * z)
    with pytest.raises(sbp.InputError, match="no numeric rule"):
        m.node("h", sp.besselj(0, x))
    with pytest.raises(sbp.InputError, match="float"):
        sbp.Model(inputs=[x], parameters={w: 0.5})
    with pytest.raises(sbp.InputError, match="no loss"):
        sbp.Engine(m)


@pytest.mark.parametrize("formula, left, right", [
    ("max(w*x + c, 0) + 0.5*w", -0.75, -3.75),   # w·x + c = 0: h' is 0.5 on the left, 2.5 on the right
    ("abs(w - 0.5) + relu(w*x + c)", 2, -6),  # two switches at once: |·| and the ReLU
    ("relu(w*x + c) + w", -1, -3),  # a ReLU takes its left derivative
])
def test_kinks_of_a_formula_graph_are_earned(formula, left, right):
    document = {"graph": {"inputs": ["x"], "targets": ["t"], "parameters": {"w": "0.5", "c": "-1"},
                          "nodes": [{"name": "h", "formula": formula}]},
                "loss": {"formula": "(h - t)^2", "targets": ["1"]}, "data": {"inputs": ["2"]}}
    graph = graph_from_mapping(document)  # at w = 0.5 every switch is exactly 0; E' = 2(h − 1)·h'
    row = sbp.check_gradients(graph).row("w")
    assert row.kinks == ("h",) and [round(float(s), 9) for s in row.one_sided] == [left, right]
    assert row.status == "kink", row
    exact = sbp.Engine(graph).gradient_values(40)["w"]
    low, high = min(left, right), max(left, right)
    for corrupted in (high + 1, high + (high - low) / 100, low - mpmath.mpf("1e-6"), -exact + 10):
        report = sbp.check_gradients(graph, analytic={"w": corrupted, "c": sbp.Engine(graph).gradient_values(40)["c"]})
        assert report.row("w").status == "mismatch", corrupted


# ---- property: random graphs of formulas ---------------------------------------------------
#: Formula templates over earlier names a, b, c: gates, skips, smooth functions, a custom-looking one.
TEMPLATES = [
    "sigmoid({a}*{b} + {c})", "tanh({a}) * {b}", "{a} + {b}*{c}", "softplus({a} - {b})", "{a}*sigmoid({a})",
    "exp(-{a}^2/2) * {b}", "log(1 + {a}^2)", "sqrt(1 + {a}^2) * {b}", "{a} / (1 + abs({b}))",
    "max({a}, {b}) * {c}", "leaky_relu({a}, 0.1) + {b}", "erf({a}) * {b}", "sin({a}) * cos({b})",
    "0.5*{a}*(1 + erf({a}/sqrt(2)))",
]


@st.composite
def graph_documents(draw):
    inputs = [f"x{i}" for i in range(draw(st.integers(1, 3)))]
    parameters = {f"p{i}": f"{draw(st.integers(-12, 12)) / 10:.1f}" for i in range(draw(st.integers(2, 5)))}
    names = inputs + list(parameters)
    nodes = []
    for index in range(draw(st.integers(2, 5))):
        template = draw(st.sampled_from(TEMPLATES))
        picks = {key: draw(st.sampled_from(names)) for key in "abc"}
        if "max(" in template:
            assume(picks["a"] != picks["b"])
        nodes.append({"name": f"n{index}", "formula": template.format(**picks)})
        names.append(f"n{index}")
    decay = draw(st.sampled_from(list(parameters)))
    loss = draw(st.sampled_from(["(n{last} - t)^2 / 2", "abs(n{last} - t) + 0.01*{decay}^2",
                                 "log(1 + exp(-t*n{last})) + 0.05*{decay}^2"]))
    return {"graph": {"inputs": inputs, "targets": ["t"], "parameters": parameters, "nodes": nodes},
            "loss": {"formula": loss.format(last=len(nodes) - 1, decay=decay),
                     "targets": [f"{draw(st.integers(-10, 10)) / 10:.1f}"]},
            "data": {"inputs": [f"{draw(st.integers(-15, 15)) / 10:.2f}" for _ in inputs]}}


def _at_a_switch(graph) -> bool:
    """Whether some |a|, max, min, ReLU or case split of the graph sits exactly at its switch."""
    from symbackprop.oracle.graphs import graph_forward, graph_values

    forward = graph_forward(graph)
    with mpmath.workdps(60):
        values = {s: sp.Float(mpmath.nstr(v, 60), 60) for s, v in graph_values(forward).items()}
    return any(abs(switch.xreplace(values).evalf(50)) < sp.Float("1e-40")
               for switches in forward.switches.values() for switch in switches)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(graph_documents())
def test_random_graphs_agree_with_sympy_diff_of_the_composed_loss_and_finite_differences(document):
    try:
        graph = graph_from_mapping(document)
    except sbp.InputError as error:
        assume("undefined" not in str(error) and "overflows" not in str(error))
        raise
    assume(not _at_a_switch(graph))  # |0|, max(a, a): no derivative for sympy.diff to agree with
    engine = sbp.Engine(graph)
    reference = graph_diff_gradients(graph, 50)
    assume(all(value.is_Number for value in reference.values()))
    report = sbp.check_gradients(graph)
    for name, expected in reference.items():
        row = report.row(name)
        if row.status == "kink":  # exactly at a switch: the engine's convention, confirmed one-sidedly
            continue
        assert row.status == "ok", (name, row)
        assert _agree(engine.gradient(name).evalf(50), expected), (name, engine.gradient(name).compact)


def test_the_formula_commands_agree_with_each_other(capsys):
    path = str(README_FILE)
    assert main(["derive", path, "--format", "json"]) == 0
    gradients = json.loads(capsys.readouterr().out)["gradients"]
    assert main(["check", path, "--format", "json"]) == 0
    checked = json.loads(capsys.readouterr().out)["gradients"]
    for name, record in gradients.items():
        assert _agree(record["value"], checked[name]["analytic"], 18)
    assert main(["derive", path, "--form", "closed", "--wrt", "v"]) == 0
    out = capsys.readouterr().out
    assert "sigmoid(b + w1*x1 + w2*x2)" in out and "h" not in out.split("=")[1].replace("tanh", "")
    for command in (["explain"], ["explain", "--format", "latex"], ["latex", "--form", "chain"], ["diagram"]):
        assert main([command[0], path, *command[1:]]) == 0, command
    assert "digraph formulas" in capsys.readouterr().out


def test_the_composed_loss_of_the_oracle_is_not_the_engines():
    """The oracle composes with its own formulas: no symbackprop function is left in it."""
    loss = composed_graph_loss(load_model(README_FILE))
    assert not any(type(f).__module__.startswith("symbackprop") for f in loss.atoms(sp.Function))


# ---- audit: claims name a graph's nodes directly -------------------------------------------
def _audit(extra_claims: str, base: Path = README_FILE):
    import tomllib

    from symbackprop.audit import audit, claims_from_document

    document = tomllib.loads(base.read_text() + extra_claims)
    graph = graph_from_mapping(document) if "graph" in document else sbp.build_graph(network_from_mapping(document))
    return audit(graph, claims_from_document(document, graph))


def test_an_audit_of_a_formula_graph_names_nodes_and_earns_each_verdict():
    report = _audit("""
[[claims]]
quantity = "h"
value = "0.5836"
[[claims]]
quantity = "y"
value = "0.8674"
[[claims]]
quantity = "E"
value = "0.000531"        # (0.8674 − 0.9)²/2 = 0.00053138 from the author's y: rounding, not an error
[[claims]]
quantity = "dy/dh"
value = "1.4597"
[[claims]]
quantity = "dE/dh"
value = "-0.0477"         # wrong: −0.04764
[[claims]]
quantity = "dE/dw1"
value = "-0.0005796"      # right given the author's dE/dh (−0.0477 · 0.012150): propagated
[[claims]]
quantity = "new(v)"
value = "0.5088"
[[claims]]
quantity = "dE/dw2"
value = "-0.00106"        # a slipped digit of −0.00116
""")
    verdicts = [v.verdict for v in report.verdicts]
    assert verdicts == ["ok", "ok", "rounding", "ok", "error", "propagated", "ok", "error"], verdicts
    assert report.verdicts[5].source == 4
    assert "digit_typo" in [d.mistake for d in report.verdicts[7].diagnoses]
    assert report.verdicts[0].claim.key.of == sbp.Quantity.node("h")


def test_an_audit_of_a_tied_weight_network_reads_the_graph():
    engine = sbp.Engine(sbp.load_model(EXAMPLES / "tied_autoencoder.toml"))
    right = engine.gradient("w11").decimal(4)
    report = _audit(f"""
[[claims]]
quantity = "dE/dw11"
value = "{right}"
[[claims]]
quantity = "dE/dw11"
value = "{-float(right):.4g}"
""", EXAMPLES / "tied_autoencoder.toml")
    assert [v.verdict for v in report.verdicts] == ["ok", "error"]


def test_the_readme_python_model_runs_as_printed():
    """The README's code block, run as written, gives the values its comments show."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Any network", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README, not a file from a stranger
    g = namespace["g"]
    assert str(g.compact) == "h*x1*(1 - h)*(-t + y)*(v*(1 - tanh(h*v)**2) + 1)"
    assert g.decimal(12) == "-0.000578821163303"
    assert "g.decimal(12)                              # '-0.000578821163303'" in code


def test_a_check_too_long_for_finite_differences_is_refused_at_once(tmp_path, capsys):
    """A residual chain: every weight moves every node after it, so finite differences cost n²."""
    import time

    lines = ['[graph]\ninputs = ["x"]\ntargets = ["t"]\n[graph.parameters]']
    lines += [f'w{k} = "0.01"' for k in range(1000)]
    previous = "x"
    for k in range(1000):
        lines.append(f'[[graph.nodes]]\nname = "r{k}"\nformula = "{previous} + tanh(w{k}*{previous})"')
        previous = f"r{k}"
    lines.append(f'[loss]\nformula = "({previous} - t)^2"\ntargets = ["1"]\n[data]\ninputs = ["0.5"]')
    path = tmp_path / "chain.toml"
    path.write_text("\n".join(lines))
    started = time.monotonic()
    assert main(["check", str(path)]) == 2
    assert time.monotonic() - started < 10
    # weight k is read first by node k of 1,001 (the loss last): 10 evaluations × Σ (1001 − k) = 5,015,000
    assert "would evaluate up to 5,015,000 formulas (at most 4,000,000)" in capsys.readouterr().err
    assert main(["derive", str(path), "--wrt", "w999"]) == 0  # derive needs no such limit


# ---- explain of a graph: every stated number against an independent oracle ------------------
class GraphOracle:
    """Values an explanation of a graph may state, from the graph's forward definitions only
    (numeric.graph_values) and mpmath's own numerical differentiation — never a derivative of ours."""

    def __init__(self, graph, places: int):
        from symbackprop.oracle.graphs import graph_forward, graph_values
        from symbackprop.reports.printing import quantity_latex

        self.graph, self.places = graph, places
        self.forward, self.values = graph_forward(graph), graph_values
        self.by_latex = {quantity_latex(q, graph): q for q in graph.order}
        with mpmath.workdps(60):
            self.before = graph_values(self.forward)
            rate = mpmath.mpf(graph.learning_rate.numerator) / graph.learning_rate.denominator
            self.new = {q: self.before[graph.symbols[q]] - rate * self.derivative(sp.Symbol("E"), graph.symbols[q])
                        for q in graph.order if q.kind == "param"}

    def derivative(self, of, wrt):
        return mpmath.diff(lambda h: self.values(self.forward, (wrt, h))[of], 0)

    def value(self, lhs: str):
        from .test_explain import _FRACTION

        lhs = lhs.strip()
        with mpmath.workdps(60):
            if lhs.endswith("^{+}"):
                quantity = self.by_latex.get(lhs[:-4].strip().strip("{}"))
                if quantity is None or quantity.kind != "param":
                    return None  # a node after the update: not recomputed here
                return self.new[quantity]
            match = _FRACTION.match(lhs)
            if match:
                of, wrt = self.by_latex.get(match[1]), self.by_latex.get(match[2])
                if of is None or wrt is None:
                    return None
                return self.derivative(self.graph.symbols[of], self.graph.symbols[wrt])
            quantity = self.by_latex.get(lhs)
            return None if quantity is None else self.before[self.graph.symbols[quantity]]


@pytest.mark.parametrize("name", ["readme_model", "residual", "lstm_3_steps", "attention_head", "huber_weight_decay"])
def test_every_value_an_explained_graph_states_equals_an_independent_oracle(name):
    from symbackprop.reports.explain import explain

    from .test_explain import shown, stated_values

    graph = load_model(EXAMPLES / "graphs" / f"{name}.toml")
    document = explain(sbp.Engine(graph), places=4)
    oracle = GraphOracle(graph, 4)
    checked, wrong = 0, []
    for lhs, number in stated_values(document):
        value = oracle.value(lhs)
        if value is None:
            continue
        checked += 1
        expected = shown(value, 4, scientific=r"\times" in number)  # a sum's terms share the form it needs
        if number != expected and not (number == "0" and value == 0):
            wrong.append(f"{lhs}: shown {number}, oracle {expected}")
    assert wrong == []
    nodes = sum(1 for q in graph.order if q in graph.definitions)
    assert checked >= nodes + 2 * len(graph.parameters())  # every node, every gradient, every update


SKIP_SOFTMAX = """
[network]
inputs = ["x1", "x2"]

[[network.layers]]
name = "hidden"
units = ["h1"]
activation = "sigmoid"
weights = [["0.4"], ["0.7"]]
bias = "0.1"

[[network.layers]]
name = "output"
units = ["o1", "o2"]
sources = ["h1", "x1"]          # a skip connection: the output reads x1 as well
activation = "softmax"
weights = [["0.2", "-0.5"], ["0.9", "0.3"]]
bias = ["0.05", "-0.05"]

[loss]
kind = "cross_entropy"
targets = ["1", "0"]

[data]
inputs = ["0.5", "-0.3"]

[training]
learning_rate = "0.5"
"""


def test_the_whole_mistake_library_diagnoses_a_network_with_a_skip_connection(tmp_path):
    """The mistakes of a dense network are rewrites of its graph, so they apply beyond a plain chain.
    The mistaken numbers are worked out here by hand in mpmath, from the file's numbers."""
    path = tmp_path / "skip.toml"
    path.write_text(SKIP_SOFTMAX)
    with mpmath.workdps(30):
        x1, x2 = mpmath.mpf("0.5"), mpmath.mpf("-0.3")
        h = 1 / (1 + mpmath.exp(-(mpmath.mpf("0.4") * x1 + mpmath.mpf("0.7") * x2 + mpmath.mpf("0.1"))))
        # row convention: row i holds the weights out of source i (h1, then x1) into o1, o2
        w_h_o1, w_h_o2, w_x_o1, w_x_o2 = (mpmath.mpf(v) for v in ("0.2", "-0.5", "0.9", "0.3"))
        net1 = w_h_o1 * h + w_x_o1 * x1 + mpmath.mpf("0.05")
        net2 = w_h_o2 * h + w_x_o2 * x1 - mpmath.mpf("0.05")
        swapped = w_x_o1 * h + w_x_o1 * x1 + mpmath.mpf("0.05")  # x1's weight into o1 also read for h1's
        out1 = mpmath.exp(net1) / (mpmath.exp(net1) + mpmath.exp(net2))
        no_exp = net1 / (net1 + net2)  # softmax without exponentials
        log10_loss = -mpmath.log10(out1)
    report = _audit(f"""
[[claims]]
quantity = "out(h1)"
value = "{mpmath.nstr(h, 6)}"
[[claims]]
quantity = "net(o1)"
value = "{mpmath.nstr(swapped, 6)}"
[[claims]]
quantity = "out(o1)"
value = "{mpmath.nstr(no_exp, 6)}"
[[claims]]
quantity = "E"
value = "{mpmath.nstr(log10_loss, 6)}"
""", path)
    verdicts = [v.verdict for v in report.verdicts]
    assert verdicts == ["ok", "error", "error", "error"], verdicts
    named = [{d.mistake for d in v.diagnoses} for v in report.verdicts]
    assert "wrong_weight" in named[1] and "softmax_without_exp" in named[2] and "log10_loss" in named[3], named


from hypothesis import given, settings, strategies as st  # noqa: E402

_NAMES = st.text(alphabet="abwxyzδσ_019[]()", min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(_NAMES, _NAMES)
def test_the_fast_product_of_two_symbols_is_sympy_s_own(first, second):
    """The same arguments in the same order, the same hash and the same printed form as SymPy's a*b (the
    chain rule and every printer read them), for any two names, equal ones included."""
    from symbackprop.graph import product_of_symbols

    a, b = sp.Symbol(first), sp.Symbol(second)
    fast, slow = product_of_symbols(a, b), a * b
    assert fast == slow and fast.args == slow.args and hash(fast) == hash(slow) and str(fast) == str(slow)
    assert sp.srepr(fast) == sp.srepr(slow) and fast.func == slow.func
