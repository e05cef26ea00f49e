"""Training over several samples and steps, against oracles written here and in numeric.py."""
from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from symbackprop.cli import main
from symbackprop.numbers import to_mpf
from symbackprop.frontends.dense import build_graph
from symbackprop.frontends.loader import load_model, network_from_mapping
from symbackprop.oracle.numeric import finite_difference
from symbackprop.training.train import batches, train

from .strategies import network_documents
from .test_engine_properties import SETTINGS, _at_kink

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


XOR_ROWS = [((0, 0), 0), ((0, 1), 1), ((1, 0), 1), ((1, 1), 0)]


def _xor_start() -> dict:
    """examples/xor.toml's parameters, at the working precision."""
    m = mpmath.mpf
    return {"w_x1_h1": m("0.5"), "w_x1_h2": m("-0.4"), "w_x2_h1": m("0.3"), "w_x2_h2": m("0.6"),
            "b_h1": m("0.1"), "b_h2": m("-0.2"), "w_h1_y": m("0.7"), "w_h2_y": m("-0.5"), "b_output": m("0.05")}


def _xor_sample(w: dict, x1, x2, t):
    """One sample of the 2-2-1 sigmoid network by hand: (½(y − t)², gradient of that loss)."""
    sigmoid = lambda z: 1 / (1 + mpmath.exp(-z))
    h1 = sigmoid(w["w_x1_h1"] * x1 + w["w_x2_h1"] * x2 + w["b_h1"])
    h2 = sigmoid(w["w_x1_h2"] * x1 + w["w_x2_h2"] * x2 + w["b_h2"])
    y = sigmoid(w["w_h1_y"] * h1 + w["w_h2_y"] * h2 + w["b_output"])
    d_y = (y - t) * y * (1 - y)
    d_h1, d_h2 = d_y * w["w_h1_y"] * h1 * (1 - h1), d_y * w["w_h2_y"] * h2 * (1 - h2)
    return (y - t) ** 2 / 2, {"w_h1_y": d_y * h1, "w_h2_y": d_y * h2, "b_output": d_y, "w_x1_h1": d_h1 * x1,
                              "w_x2_h1": d_h1 * x2, "b_h1": d_h1, "w_x1_h2": d_h2 * x1, "w_x2_h2": d_h2 * x2, "b_h2": d_h2}


def _xor_reference(steps: int, rate: str):
    """XOR by hand: a 2-2-1 sigmoid network, mean ½SSE over four samples, full-batch gradient descent,
    forward and backward written out here in mpmath at 60 digits: (loss, parameters) at each step."""
    with mpmath.workdps(60):
        w, found = _xor_start(), []
        for _ in range(steps + 1):
            passes = [_xor_sample(w, x1, x2, t) for (x1, x2), t in XOR_ROWS]
            found.append((sum(loss for loss, _ in passes) / 4, dict(w)))
            w = {name: value - mpmath.mpf(rate) * sum(g[name] for _, g in passes) / 4 for name, value in w.items()}
        return found


def test_xor_trained_a_thousand_steps_matches_a_hand_written_reference_at_30_digits():
    graph = build_graph(load_model(EXAMPLES / "xor.toml"))
    steps = train(graph, digits=30)
    reference = _xor_reference(1000, "5")
    assert len(steps) == 1001
    with mpmath.workdps(60):
        for step, (loss, parameters) in zip(steps, reference):
            assert abs(to_mpf(step.loss) - loss) <= abs(loss) * mpmath.mpf(10) ** -30, (step.step, step.loss, loss)
            for name, value in parameters.items():
                assert abs(to_mpf(step.parameters[name]) - value) <= max(abs(value), 1) * mpmath.mpf(10) ** -30, (step.step, name)
    # the loss stays on its plateau, then falls, as published XOR runs show
    assert steps[100].loss > mpmath.mpf("0.12") and steps[1000].loss < mpmath.mpf("0.002")


def _document_with_samples(document: dict, rows: list, reduction: str, method: str, momentum: str, steps: int) -> dict:
    network = network_from_mapping(document)
    inputs = [[str(Fraction(a, 10)) for a in row[: len(network.inputs)]] for row in rows]
    if network.loss.kind == "cross_entropy":  # each row of targets a distribution
        hot = [row[-1] % len(network.outputs) for row in rows]
        targets = [["1" if j == k else "0" for j in range(len(network.outputs))] for k in hot]
    else:
        targets = [[str(Fraction(abs(b) % 10, 10)) for b in row[len(network.inputs):][: len(network.outputs)]]
                   for row in rows]
    training = {"learning_rate": "0.5", "steps": steps, "method": method, "momentum": momentum}
    if method == "minibatch":
        training["batch_size"] = 2 if len(rows) > 1 else 1
    return {**document, "data": {"inputs": inputs}, "loss": {**document["loss"], "targets": targets, "reduction": reduction},
            "training": training}


def _independent_training(document: dict):
    """The same updates, each sample's gradient from the finite-difference oracle of a one-sample network."""
    network = network_from_mapping(document)
    training = network.training
    samples = network.samples or ((network.data, network.loss.targets),)  # one row is the one-sample form
    names = [p.name for p in network.parameters()]
    frozen = set() if network.update_biases else {p.name for p in network.parameters() if p.kind == "bias"}
    with mpmath.workdps(40):
        values = {p.name: p.value for p in network.parameters()}
        velocity = {name: mpmath.mpf(0) for name in names}
        rate, momentum = mpmath.mpf(network.learning_rate.numerator) / network.learning_rate.denominator, \
            mpmath.mpf(training.momentum.numerator) / training.momentum.denominator
        for _ in range(training.steps):
            for group in batches(len(samples), training):
                gradient = {name: mpmath.mpf(0) for name in names}
                for index in group:
                    inputs, targets = samples[index]
                    one = _one_sample(network, values, inputs, targets)
                    for name in names:
                        gradient[name] += mpmath.mpf(finite_difference(one, name, 30).value)
                scale = mpmath.mpf(1) / len(group) if training.reduction == "mean" else 1
                for name in names:
                    if name in frozen:
                        continue
                    velocity[name] = momentum * velocity[name] + gradient[name] * scale
                    values[name] = _fraction(mpmath.mpf(values[name].numerator) / values[name].denominator
                                             - rate * velocity[name])
        return values


def _fraction(value) -> Fraction:
    return Fraction(mpmath.nstr(value, 40, min_fixed=-50, max_fixed=50))


def _one_sample(network, values, inputs, targets):
    import dataclasses

    one = network.with_parameter_values(values)
    return dataclasses.replace(one, data=inputs, loss=dataclasses.replace(one.loss, targets=targets), samples=())


@settings(max_examples=15, **SETTINGS)
@given(network_documents(max_depth=2, max_width=3),
       st.lists(st.lists(st.integers(-9, 9), min_size=8, max_size=8), min_size=1, max_size=5),
       st.sampled_from(["mean", "sum"]), st.sampled_from(["batch", "stochastic", "minibatch"]),
       st.sampled_from(["0", "0.5"]))
def test_training_matches_an_update_loop_over_the_finite_difference_oracle(document, rows, reduction, method, momentum):
    document = _document_with_samples(document, rows, reduction, method, momentum, steps=2)
    network = network_from_mapping(document)
    initial = {p.name: p.value for p in network.parameters()}
    samples = network.samples or ((network.data, network.loss.targets),)
    assume(not any(_at_kink(_one_sample(network, initial, *sample)) for sample in samples))
    last = train(build_graph(network), digits=20)[-1]
    expected = _independent_training(document)
    for name, value in expected.items():
        got = to_mpf(last.parameters[name])
        assert abs(got - mpmath.mpf(value.numerator) / value.denominator) <= mpmath.mpf(10) ** -15 * max(1, abs(got)), name


def test_train_json_is_the_documented_shape_with_30_digits(capsys, tmp_path):
    plot = tmp_path / "loss.svg"
    assert main(["train", str(EXAMPLES / "xor.toml"), "--steps", "2", "--format", "json", "--plot", str(plot)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [s["step"] for s in document["steps"]] == [0, 1, 2]
    first = document["steps"][0]
    assert set(first) == {"step", "loss", "parameters"} and first["parameters"]["w_x1_h1"].startswith("0.5")
    assert len(first["loss"].lstrip("-0.").replace(".", "")) >= 30
    assert plot.read_text().startswith("<svg") and "<polyline" in plot.read_text()


@pytest.mark.parametrize("problem, edit", [
    ("data.inputs[1]", ('inputs = [["0", "0"], ["0", "1"], ["1", "0"], ["1", "1"]]', 'inputs = [["0", "0"], ["1"], ["1", "0"], ["1", "1"]]')),
    ("loss.targets", ('inputs = [["0", "0"], ["0", "1"], ["1", "0"], ["1", "1"]]', 'inputs = [["0", "0"], ["0", "1"], ["1", "0"]]')),
    ("training.steps", ("steps = 1000", "steps = 1000000000")),
    ("training.batch_size", ("steps = 1000", 'steps = 1\nmethod = "minibatch"\nbatch_size = 0')),
    ("training.momentum", ("steps = 1000", 'steps = 1\nmomentum = "1"')),
    ("training.method", ("steps = 1000", 'method = "adam"')),
    ("loss.reduction", ('reduction = "mean"', 'reduction = "median"')),
])
def test_bad_training_input_is_refused_at_once_in_one_line(problem, edit, tmp_path, capsys):
    import time

    text = (EXAMPLES / "xor.toml").read_text()
    assert edit[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(edit[0], edit[1]))
    started = time.monotonic()
    assert main(["train", str(path)]) == 2
    error = capsys.readouterr().err
    assert time.monotonic() - started < 2
    assert error.count("\n") == 1 and str(path) in error and problem in error, error


def test_a_one_sample_file_trains_one_update_per_step_as_mazur_published_it():
    """Mazur's published weights after one update (learning rate 0.5)."""
    published = {"w1": "0.149780716", "w2": "0.19956143", "w3": "0.24975114", "w4": "0.29950229",
                 "w5": "0.35891648", "w6": "0.408666186", "w7": "0.511301270", "w8": "0.561370121"}
    step = train(build_graph(load_model(EXAMPLES / "mazur.toml")), steps=1, digits=30)[1]
    for name, value in published.items():
        places = len(value.split(".")[1])
        assert abs(to_mpf(step.parameters[name]) - mpmath.mpf(value)) <= mpmath.mpf(10) ** -places / 2, name


GRAPH_MINIBATCH = """
[graph]
inputs = ["x"]
targets = ["t"]
[graph.parameters]
w = "0.5"
b = "0"
[[graph.nodes]]
name = "y"
formula = "tanh(w*x + b)"
[loss]
formula = "(y - t)^2 / 2"
targets = [["0.5"], ["-0.25"], ["0"]]
reduction = "sum"
[data]
inputs = [["1"], ["-0.5"], ["0.2"]]
[training]
learning_rate = "0.1"
steps = 3
method = "minibatch"
batch_size = 2
momentum = "0.9"
"""


def test_a_formula_graph_trains_in_minibatches_with_momentum_as_a_hand_written_loop(tmp_path):
    path = tmp_path / "graph.toml"
    path.write_text(GRAPH_MINIBATCH)
    steps = train(load_model(path), digits=30)
    with mpmath.workdps(60):
        m = mpmath.mpf
        rows = [(m(1), m("0.5")), (m("-0.5"), m("-0.25")), (m("0.2"), m(0))]
        w, b, vw, vb = m("0.5"), m(0), m(0), m(0)
        for step in range(4):
            loss = sum((mpmath.tanh(w * x + b) - t) ** 2 / 2 for x, t in rows)  # summed, not averaged
            assert abs(steps[step].loss - loss) < m(10) ** -30
            assert abs(to_mpf(steps[step].parameters["w"]) - w) < m(10) ** -30 and abs(to_mpf(steps[step].parameters["b"]) - b) < m(10) ** -30
            for batch in (rows[:2], rows[2:]):
                gw = gb = m(0)
                for x, t in batch:
                    y = mpmath.tanh(w * x + b)
                    gw += (y - t) * (1 - y ** 2) * x
                    gb += (y - t) * (1 - y ** 2)
                vw, vb = m("0.9") * vw + gw, m("0.9") * vb + gb
                w, b = w - m("0.1") * vw, b - m("0.1") * vb


def test_claims_at_later_steps_are_judged_and_a_stale_step_is_named(tmp_path):
    """Claims at step k are about the parameters after k updates; E at step 3 worked with the
    parameters of step 2 is the stale_parameters mistake. Values from the hand-written XOR run."""
    from symbackprop.audit import audit, load_claims

    reference = _xor_reference(3, "5")
    loss_2, params_2 = reference[2]
    loss_3, params_3 = reference[3]
    claims = f"""
[[claims]]
quantity = "E"
step = 3
value = "{mpmath.nstr(loss_3, 6)}"
[[claims]]
quantity = "w_h1_y"
step = 2
value = "{mpmath.nstr(params_2['w_h1_y'], 6)}"
[[claims]]
quantity = "new(w_h1_y)"
step = 2
value = "{mpmath.nstr(params_3['w_h1_y'], 6)}"
[[claims]]
quantity = "E"
step = 3
value = "{mpmath.nstr(loss_2, 6)}"     # the parameters of step 2 used again: the update not applied
"""
    path = tmp_path / "xor_steps.toml"
    path.write_text((EXAMPLES / "xor.toml").read_text() + claims)
    report = audit(*load_claims(path))
    assert [v.verdict for v in report.verdicts] == ["ok", "ok", "ok", "error"], report.verdicts
    assert "stale_parameters" in {d.mistake for d in report.verdicts[3].diagnoses}, report.verdicts[3].diagnoses


def test_a_claim_beyond_the_files_steps_is_refused(tmp_path, capsys):
    path = tmp_path / "late.toml"
    path.write_text((EXAMPLES / "xor.toml").read_text() + '\n[[claims]]\nquantity = "E"\nstep = 1001\nvalue = "0.1"\n')
    assert main(["audit", str(path)]) == 2
    error = capsys.readouterr().err
    assert "step must be a whole number from 0" in error and "1000" in error and error.count("\n") == 1


def test_explain_writes_each_step_in_turn_from_where_the_last_one_left():
    """Three steps of Mazur's example: each step's loss as train gives it, and the second is the one Mazur
    published after his first update (0.291027924)."""
    from symbackprop.reports.document import to_markdown
    from symbackprop.reports.steps import explain_steps
    from symbackprop.reports.writer import number_latex

    graph = build_graph(load_model(EXAMPLES / "mazur.toml"))
    text = to_markdown(explain_steps(graph, 3, places=6))
    totals = [line.rsplit("= ", 1)[1] for line in text.splitlines() if line.startswith("E = E_{o1} + E_{o2}")]
    losses = [step.loss for step in train(graph, steps=2, digits=30)]
    assert totals == [number_latex(sp.Float(loss, 30), 6) for loss in losses]
    assert totals[1] == "0.291028"
    assert [line for line in text.splitlines() if line.startswith("## ")] == ["## Step 1", "## Step 2", "## Step 3"]


def _xor_minibatch_reference(passes: int):
    """XOR in minibatches of two (samples 0–1, then 2–3), each update from its batch's mean gradient,
    written out here at 60 digits: (loss over all four, parameters) after each pass."""
    with mpmath.workdps(60):
        w, found = _xor_start(), []
        for _ in range(passes + 1):
            found.append((sum(_xor_sample(w, x1, x2, t)[0] for (x1, x2), t in XOR_ROWS) / 4, dict(w)))
            for batch in (XOR_ROWS[:2], XOR_ROWS[2:]):
                grads = [_xor_sample(w, x1, x2, t)[1] for (x1, x2), t in batch]
                w = {name: value - 5 * (grads[0][name] + grads[1][name]) / 2 for name, value in w.items()}
        return found


def test_claims_of_a_minibatch_tutorial_are_judged_pass_by_pass(tmp_path):
    """A step of minibatch training is a pass of two updates: claims at step k are after k passes, new(p)
    at step k after pass k + 1; a step computed with the parameters of the pass before is named."""
    from symbackprop.audit import audit, load_claims

    reference = _xor_minibatch_reference(3)
    text = (EXAMPLES / "xor.toml").read_text().replace("steps = 1000", 'steps = 3\nmethod = "minibatch"\nbatch_size = 2')
    claims = f"""
[[claims]]
quantity = "E"
step = 2
value = "{mpmath.nstr(reference[2][0], 6)}"
[[claims]]
quantity = "new(w_x1_h1)"
step = 1
value = "{mpmath.nstr(reference[2][1]['w_x1_h1'], 6)}"
[[claims]]
quantity = "E"
step = 3
value = "{mpmath.nstr(reference[2][0], 6)}"     # the parameters of pass 2 used again
"""
    path = tmp_path / "xor_minibatch.toml"
    path.write_text(text + claims)
    report = audit(*load_claims(path))
    assert [v.verdict for v in report.verdicts] == ["ok", "ok", "error"], report.verdicts
    assert "stale_parameters" in {d.mistake for d in report.verdicts[2].diagnoses}


def test_explain_writes_a_minibatch_step_as_one_worked_update_per_batch(tmp_path):
    """Each pass of minibatch training is two worked updates, each from its batch's mean loss; the
    parameters each leaves are those of the hand-written run."""
    from symbackprop.reports.document import to_markdown
    from symbackprop.reports.steps import explain_steps
    from symbackprop.reports.writer import number_latex

    path = tmp_path / "xor_minibatch.toml"
    path.write_text((EXAMPLES / "xor.toml").read_text().replace(
        "steps = 1000", 'steps = 2\nmethod = "minibatch"\nbatch_size = 2'))
    text = to_markdown(explain_steps(build_graph(load_model(path)), 2, places=6))
    assert [line for line in text.splitlines() if line.startswith("### Update")] == [
        "### Update 1: samples 0, 1", "### Update 2: samples 2, 3"] * 2
    updated = [line.rsplit("= ", 1)[1] for line in text.splitlines() if line.startswith("{w^{(2)}_{11}}^{+}")]
    reference = _xor_minibatch_reference(2)
    assert updated[1] == number_latex(sp.Float(reference[1][1]["w_h1_y"], 40), 6)
    assert updated[3] == number_latex(sp.Float(reference[2][1]["w_h1_y"], 40), 6)


def test_explain_writes_steps_with_momentum_as_the_hand_written_run():
    """Momentum 0.9: each worked update shows v⁺ = μ·v + ∂E/∂p and p⁺ = p − η·v⁺, and the parameters after
    each step are train's (which the property test above holds against an independent update loop over
    the finite-difference oracle, momentum included)."""
    from symbackprop.reports.document import to_markdown
    from symbackprop.reports.steps import explain_steps
    from symbackprop.reports.writer import number_latex

    graph = build_graph(load_model(EXAMPLES / "mazur.toml"))
    graph = dataclasses.replace(graph, training=dataclasses.replace(graph.training, momentum=Fraction(9, 10)))
    text = to_markdown(explain_steps(graph, 3, places=6))
    updated = [line.rsplit("= ", 1)[1] for line in text.splitlines() if line.startswith("{w_{5}}^{+}")]
    shown = [number_latex(sp.Float(to_mpf(step.parameters["w5"], 40), 40), 6) for step in train(graph, steps=3, digits=40)[1:]]
    assert updated == shown, (updated, shown)
    assert r"v^{+}_{w_{5}} = \mu v_{w_{5}} + \frac{\partial E}{\partial w_{5}}" in text


def test_explain_writes_a_formula_graphs_minibatch_steps_with_momentum(tmp_path):
    """The graph file of minibatches with momentum: each update a worked example of its batch; the
    parameters each pass leaves are the hand-written loop's (test above)."""
    from symbackprop.reports.document import to_markdown
    from symbackprop.reports.steps import explain_steps
    from symbackprop.reports.writer import number_latex

    path = tmp_path / "graph.toml"
    path.write_text(GRAPH_MINIBATCH)
    text = to_markdown(explain_steps(load_model(path), 2, places=6))
    assert [line for line in text.splitlines() if line.startswith("### Update")] == [
        "### Update 1: samples 0, 1", "### Update 2: sample 2"] * 2
    after = [line.rsplit("= ", 1)[1] for line in text.splitlines() if line.startswith("{w}^{+}")]
    steps = train(load_model(path), digits=30)
    assert [after[1], after[3]] == [number_latex(sp.Float(to_mpf(steps[k].parameters["w"], 30), 30), 6) for k in (1, 2)]
