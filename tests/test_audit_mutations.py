"""Mutation tests: correct worked examples audit clean; an injected mistake is found and named."""
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.audit import audit
from symbackprop.audit.claims import claims_from_document
from symbackprop.graph import build_graph
from symbackprop.loader import network_from_mapping

from .author import Author

HIDDEN = ["sigmoid", "tanh", "linear", "softplus", "leaky_relu"]
OUTPUT = {"half_sse": ["sigmoid", "linear"], "mse": ["sigmoid", "tanh"], "sse": ["sigmoid"],
          "cross_entropy": ["softmax"], "binary_cross_entropy": ["sigmoid"]}
decimals = st.integers(-9, 9).filter(lambda k: k != 0).map(lambda k: f"{k / 10:.1f}")


@st.composite
def tutorials(draw):
    """A small network as tutorials have them: inputs, one hidden layer, an output layer."""
    loss = draw(st.sampled_from(sorted(OUTPUT)))
    n_in, n_hidden = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    n_out = draw(st.integers(2, 3)) if loss == "cross_entropy" else draw(st.integers(1, 2))
    hidden = draw(st.sampled_from(HIDDEN))
    output = draw(st.sampled_from(OUTPUT[loss]))

    def layer(name, units, n_from, activation, bias_prefix):
        spec = {"name": name, "units": units, "activation": activation,
                "weights": [[draw(decimals) for _ in units] for _ in range(n_from)]}
        mode = draw(st.sampled_from(["shared", "per_unit", "none"]))
        if mode == "shared":
            spec["bias"] = draw(decimals)
            spec["bias_names"] = bias_prefix
        elif mode == "per_unit":
            spec["bias"] = [draw(decimals) for _ in units]
        return spec

    if loss == "cross_entropy":
        hot = draw(st.integers(0, n_out - 1))
        targets = ["1" if j == hot else "0" for j in range(n_out)]
    elif loss == "binary_cross_entropy":
        targets = [draw(st.sampled_from(["0", "1", "0.25"])) for _ in range(n_out)]
    else:
        targets = [draw(st.sampled_from(["0.01", "0.99", "0.5", "1", "0"])) for _ in range(n_out)]
    return {
        "network": {"inputs": [f"i{k + 1}" for k in range(n_in)], "layers": [
            layer("hidden", [f"h{k + 1}" for k in range(n_hidden)], n_in, hidden, "b1"),
            layer("output", [f"o{k + 1}" for k in range(n_out)], n_hidden, output, "b2")]},
        "loss": {"kind": loss, "targets": targets},
        "data": {"inputs": [draw(decimals) for _ in range(n_in)]},
        "training": {"learning_rate": draw(st.sampled_from(["0.5", "0.1", "0.05"]))},
    }


def run_audit(document, claims):
    network = network_from_mapping(document)
    graph = build_graph(network)
    parsed = claims_from_document({**document, "claims": claims}, graph)
    return audit(graph, parsed)


SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@settings(max_examples=200, **SETTINGS)
@given(tutorials(), st.integers(3, 9), st.sampled_from(["places", "significant"]),
       st.sampled_from([None, "same", 2, 3, 4]), st.sampled_from([0.0, 0.3]), st.integers(0, 1000))
def test_correct_worked_examples_audit_clean(document, digits, style, inner, skip, seed):
    if inner == "same":
        inner = digits
    elif inner is not None:
        digits = inner  # an author who rounds to 2-4 digits writes numbers at that precision too
    network = network_from_mapping(document)
    claims = Author(network, digits, style, inner, skip=skip, seed=seed).work()
    report = run_audit(document, claims)
    bad = [(v.index, v.claim.quantity, v.claim.written, float(v.exact), v.verdict) for v in report.verdicts
           if v.verdict in ("error", "propagated")]
    assert not bad, bad


def _applicable(document, digits, style):
    network = network_from_mapping(document)
    return network, Author(network, digits, style).options


@settings(max_examples=150, **SETTINGS)
@given(tutorials(), st.integers(4, 8), st.sampled_from(["places", "significant"]), st.data())
def test_an_injected_mistake_is_an_error_named_at_its_step_and_propagates(document, digits, style, data):
    network = network_from_mapping(document)
    dry = Author(network, digits, style)
    correct = dry.work()
    index, mistake = data.draw(st.sampled_from(dry.options))
    author = Author(network, digits, style, inject=(index, mistake))
    claims = author.work()
    written, right = Fraction(claims[index]["value"]), Fraction(correct[index]["value"])
    unit = Fraction(1, 10 ** digits) if style == "places" else abs(right) / 10 ** (digits - 1) if right else Fraction(1, 10**digits)
    if mistake != "truncation" and abs(written - right) <= 30 * unit:
        return  # this mistake changes nothing visible here (a sign of zero, a tenfold zero)
    report = run_audit(document, claims)
    verdict = report.verdicts[index]
    names = {part for d in verdict.diagnoses for part in d.mistake.split("+")}
    if mistake == "truncation":
        if written != right:
            assert verdict.verdict == "rounding" and "truncation" in names, verdict
        return
    assert verdict.verdict == "error", (mistake, verdict.claim.quantity, verdict)
    assert mistake in names, (mistake, verdict.claim.quantity, claims[index]["value"], [d.mistake for d in verdict.diagnoses])
    for earlier in report.verdicts[:index]:
        assert earlier.verdict in ("ok", "rounding"), earlier
    for later in report.verdicts[index + 1:]:
        assert later.verdict != "error" or later.claim.key == verdict.claim.key, (later.claim.quantity, later)
        if later.verdict == "propagated":
            assert later.source == index
