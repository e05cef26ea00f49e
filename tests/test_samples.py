"""Several samples: E is the mean (or sum) of the samples' losses, each sample with nodes of its own.

Every reduced gradient is compared with an oracle built independently of the per-sample graph: the
samples taken one at a time as one-sample files, each differentiated by sympy.diff of the oracle's own
composed loss, and the results averaged (or summed) here; and with finite differences (check).
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
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

from .oracle import diff_gradient, graph_diff_gradients
from .strategies import network_documents
from .test_engine_properties import SETTINGS, _at_kink
from .test_graph import _at_a_switch, graph_documents

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _rows(draw, count: int, width: int, low: int = -9, high: int = 9) -> list[list[str]]:
    return [[str(Fraction(draw(st.integers(low, high)), 10)) for _ in range(width)] for _ in range(count)]


def _close(ours, reference, digits: int = 35) -> bool:
    ours, reference = sp.Float(ours, 60), sp.Float(reference, 60)
    return abs(ours - reference) <= sp.Float(10) ** -digits * max(1, abs(reference))


@st.composite
def dense_with_samples(draw):
    document = draw(network_documents(max_depth=3, max_width=3))
    network = network_from_mapping(document)
    count = draw(st.integers(1, 5))
    inputs = _rows(draw, count, len(network.inputs))
    if network.loss.kind == "cross_entropy":
        targets = [["1" if j == draw(st.integers(0, len(network.outputs) - 1)) else "0"
                    for j in range(len(network.outputs))] for _ in range(count)]
        assume(all(row.count("1") == 1 for row in targets))
    else:
        targets = _rows(draw, count, len(network.outputs), 0, 9)
    reduction = draw(st.sampled_from(["mean", "sum"]))
    return {**document, "data": {"inputs": inputs},
            "loss": {**document["loss"], "targets": targets, "reduction": reduction}}


def _one_sample(network, inputs, targets):
    return dataclasses.replace(network, data=inputs, loss=dataclasses.replace(network.loss, targets=targets), samples=())


@settings(max_examples=25, **SETTINGS)
@given(dense_with_samples())
def test_reduced_gradients_of_random_networks_equal_the_samples_gradients_by_sympy_diff(document):
    network = network_from_mapping(document)
    singles = [_one_sample(network, inputs, targets) for inputs, targets in network.samples] or [network]
    assume(not any(_at_kink(single) for single in singles))
    engine = sbp.Engine(network)
    values = engine.gradient_values(40)
    report = sbp.check_gradients(network)
    count = len(singles)
    for name in engine.graph.parameters():
        total = sum(diff_gradient(single, name, 50) for single in singles)
        expected = total / count if count > 1 and network.training.reduction == "mean" else total
        assert _close(values[name], expected), (name, values[name], expected)
        assert _close(engine.gradient(name).evalf(45), expected), name
        assert report.row(name).status == "ok", report.row(name)


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(graph_documents(), st.data())
def test_reduced_gradients_of_random_formula_graphs_equal_the_samples_gradients_by_sympy_diff(document, data):
    count = data.draw(st.integers(2, 4))
    inputs = [[str(Fraction(data.draw(st.integers(-15, 15)), 10)) for _ in document["graph"]["inputs"]]
              for _ in range(count)]
    targets = [[str(Fraction(data.draw(st.integers(-10, 10)), 10))] for _ in range(count)]
    reduction = data.draw(st.sampled_from(["mean", "sum"]))
    several = {**document, "data": {"inputs": inputs}, "loss": {**document["loss"], "targets": targets,
                                                               "reduction": reduction}}
    singles = []
    try:
        graph = graph_from_mapping(several)
        for row, target in zip(inputs, targets):
            singles.append(graph_from_mapping({**document, "data": {"inputs": row},
                                               "loss": {**document["loss"], "targets": target}}))
    except sbp.InputError as error:
        assume("undefined" not in str(error) and "overflows" not in str(error))
        raise
    assume(not any(_at_a_switch(single) for single in singles))
    references = [graph_diff_gradients(single, 50) for single in singles]
    assume(all(value.is_Number for reference in references for value in reference.values()))
    engine = sbp.Engine(graph)
    report = sbp.check_gradients(graph)
    for name in graph.parameters():
        total = sum(reference[name] for reference in references)
        expected = total / count if reduction == "mean" else total
        assert _close(engine.gradient(name).evalf(45), expected, 30), name
        assert report.row(name).status == "ok", report.row(name)


def test_nodes_of_each_sample_have_their_own_symbols_and_latex():
    graph = sbp.Engine(load_model(EXAMPLES / "xor.toml")).graph
    assert str(graph.symbols[sbp.Quantity.out("h1", 2)]) == "out_h1[2]"
    from symbackprop.reports.printing import latex

    assert latex(graph.symbols[sbp.Quantity.out("h1", 2)], graph) == r"{\mathrm{out}_{h1}}^{(2)}"
    assert str(graph.definitions[sbp.Quantity.loss()]) == "E[0]/4 + E[1]/4 + E[2]/4 + E[3]/4"


def _xor_sample_gradients():
    """∂E[s]/∂p of XOR's four samples at the file's numbers, by a backward pass written out here."""
    with mpmath.workdps(50):
        m = mpmath.mpf
        w = {"w_x1_h1": m("0.5"), "w_x1_h2": m("-0.4"), "w_x2_h1": m("0.3"), "w_x2_h2": m("0.6"),
             "b_h1": m("0.1"), "b_h2": m("-0.2"), "w_h1_y": m("0.7"), "w_h2_y": m("-0.5"), "b_output": m("0.05")}
        sigmoid = lambda z: 1 / (1 + mpmath.exp(-z))
        found = []
        for (x1, x2), t in (((0, 0), 0), ((0, 1), 1), ((1, 0), 1), ((1, 1), 0)):
            h1 = sigmoid(w["w_x1_h1"] * x1 + w["w_x2_h1"] * x2 + w["b_h1"])
            h2 = sigmoid(w["w_x1_h2"] * x1 + w["w_x2_h2"] * x2 + w["b_h2"])
            y = sigmoid(w["w_h1_y"] * h1 + w["w_h2_y"] * h2 + w["b_output"])
            d_y = (y - t) * y * (1 - y)
            d_h1, d_h2 = d_y * w["w_h1_y"] * h1 * (1 - h1), d_y * w["w_h2_y"] * h2 * (1 - h2)
            found.append({"w_h1_y": d_y * h1, "w_h2_y": d_y * h2, "b_output": d_y, "out_y": y,
                          "w_x1_h1": d_h1 * x1, "w_x2_h1": d_h1 * x2, "b_h1": d_h1,
                          "w_x1_h2": d_h2 * x1, "w_x2_h2": d_h2 * x2, "b_h2": d_h2})
        return found


def test_derive_shows_one_samples_terms_and_the_reduced_gradient(capsys):
    import json

    per_sample = _xor_sample_gradients()
    xor = str(EXAMPLES / "xor.toml")
    assert main(["derive", xor, "--wrt", "w_h1_y", "--sample", "1"]) == 0
    assert capsys.readouterr().out.startswith("∂E[1]/∂w_h1_y = ∂E[1]/∂net(y)[1] · ∂net(y)[1]/∂w_h1_y")
    assert main(["derive", xor, "--wrt", "w_h1_y", "--sample", "1", "--format", "json", "--digits", "30"]) == 0
    value = json.loads(capsys.readouterr().out)["gradients"]["w_h1_y"]["value"]
    assert _close(value, per_sample[1]["w_h1_y"], 28), value
    assert main(["derive", xor, "--wrt", "w_h1_y", "--format", "json", "--digits", "30"]) == 0
    value = json.loads(capsys.readouterr().out)["gradients"]["w_h1_y"]["value"]
    with mpmath.workdps(50):
        mean = sum(s["w_h1_y"] for s in per_sample) / 4
    assert _close(value, mean, 28), value
    assert main(["derive", xor, "--sample", "4"]) == 2
    assert "sample 4 does not exist" in capsys.readouterr().err


def test_every_command_reads_several_samples(capsys, tmp_path):
    for command in (["check"], ["latex", "--wrt", "w_h1_y"], ["diagram"], ["explain"]):
        assert main([command[0], str(EXAMPLES / "xor.toml"), *command[1:]]) == 0, command
    capsys.readouterr()


AUDIT_CLAIMS = """
[[claims]]
quantity = "out(y)"
sample = 0
value = "{out}"
[[claims]]
quantity = "dE/dw_h1_y"
sample = 2
value = "{sample_2}"
[[claims]]
quantity = "dE/dw_h2_y"
value = "{summed}"          # summed over the samples where E is their mean
[[claims]]
quantity = "new(w_h2_y)"
value = "{one_sample}"      # the update made with sample 0's gradient alone
"""


def test_the_auditor_names_the_mistakes_several_samples_bring(tmp_path):
    per_sample = _xor_sample_gradients()
    with mpmath.workdps(50):
        summed = sum(s["w_h2_y"] for s in per_sample)
        one_sample = mpmath.mpf("-0.5") - 5 * per_sample[0]["w_h2_y"]
    path = tmp_path / "xor_claims.toml"
    path.write_text((EXAMPLES / "xor.toml").read_text() + AUDIT_CLAIMS.format(
        out=mpmath.nstr(per_sample[0]["out_y"], 5), sample_2=mpmath.nstr(per_sample[2]["w_h1_y"], 4),
        summed=mpmath.nstr(summed, 4), one_sample=mpmath.nstr(one_sample, 4)))
    from symbackprop.audit import audit, load_claims

    report = audit(*load_claims(path))
    assert [v.verdict for v in report.verdicts] == ["ok", "ok", "error", "error"], report.verdicts
    assert "sum_vs_mean_samples" in {d.mistake for d in report.verdicts[2].diagnoses}
    assert "one_sample_gradient" in {d.mistake for d in report.verdicts[3].diagnoses}


@pytest.mark.parametrize("claim, problem", [
    ('quantity = "out(y)"\nvalue = "0.5"', "has a value per sample: give sample = S"),
    ('quantity = "out(y)"\nsample = 4\nvalue = "0.5"', "sample must be a whole number from 0 to 3"),
    ('quantity = "new(w_h1_y)"\nsample = 1\nvalue = "0.5"', "give no sample"),
])
def test_claims_about_samples_are_checked(claim, problem, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text((EXAMPLES / "xor.toml").read_text() + "\n[[claims]]\n" + claim + "\n")
    assert main(["audit", str(path)]) == 2
    error = capsys.readouterr().err
    assert problem in error and error.count("\n") == 1, error
