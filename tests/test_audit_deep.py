"""The auditor on deep worked examples: no error excused as rounding, no false alarm.

Generated 3–4-layer ReLU/sigmoid/softmax networks are worked by the simulated author
(tests/author.py, independent of the auditor), who writes a random subset of the numbers rounded
at 3–5 decimals or significant digits and keeps the rest exact or rounded the same way. Then one
written number is moved by 2 to 9 units of its last digit: the auditor must call it an error.
"""
from __future__ import annotations

import random
from fractions import Fraction

from symbackprop.audit import audit
from symbackprop.audit.claims import claims_from_document
from symbackprop.frontends.dense import build_graph
from symbackprop.frontends.loader import network_from_mapping

from .author import Author

INJECTIONS = 120


def deep_tutorial(rng: random.Random) -> dict:
    depth = rng.choice([3, 4])  # layers with weights
    widths = [rng.randint(2, 3) for _ in range(depth + 1)]
    hidden = [rng.choice(["relu", "sigmoid"]) for _ in range(depth - 1)]
    if "relu" not in hidden:
        hidden[0] = "relu"
    if "sigmoid" not in hidden:
        hidden[-1] = "sigmoid"
    tenth = lambda: f"{rng.choice([k for k in range(-9, 10) if k]) / 10:.1f}"
    layers = []
    for index in range(depth):
        units = [f"u{index + 1}{j + 1}" for j in range(widths[index + 1])]
        activation = hidden[index] if index < depth - 1 else "softmax"
        layers.append({"name": f"layer{index + 1}", "units": units, "activation": activation,
                       "weights": [[tenth() for _ in units] for _ in range(widths[index])],
                       "bias": [tenth() for _ in units]})
    hot = rng.randrange(widths[-1])
    return {
        "network": {"inputs": [f"x{k + 1}" for k in range(widths[0])], "layers": layers},
        "loss": {"kind": "cross_entropy", "targets": ["1" if j == hot else "0" for j in range(widths[-1])]},
        "data": {"inputs": [tenth() for _ in range(widths[0])]},
        "training": {"learning_rate": rng.choice(["0.1", "0.5"])},
    }


def worked_example(seed: int):
    rng = random.Random(seed)
    document = deep_tutorial(rng)
    network = network_from_mapping(document)
    digits, style = rng.choice([3, 4, 5]), rng.choice(["places", "significant"])
    inner = rng.choice([None, digits])  # unwritten numbers kept exact, or rounded like the written ones
    claims = Author(network, digits, style, inner, skip=rng.choice([0.3, 0.5]), seed=seed).work()
    return rng, document, claims


def run_audit(document, claims):
    graph = build_graph(network_from_mapping(document))
    return audit(graph, claims_from_document({**document, "claims": claims}, graph))


def moved(written: str, units: int) -> str:
    """``written`` moved by ``units`` of its last written digit, written with as many decimals."""
    decimals = len(written.split(".")[1]) if "." in written else 0
    scaled = Fraction(written) * 10**decimals + units
    assert scaled.denominator == 1
    digits = str(abs(scaled.numerator)).rjust(decimals + 1, "0")
    body = digits[: len(digits) - decimals] + ("." + digits[len(digits) - decimals:] if decimals else "")
    return ("-" if scaled < 0 else "") + body


def test_correct_deep_worked_examples_audit_clean():
    false_alarms = []
    for seed in range(40):
        _, document, claims = worked_example(seed)
        report = run_audit(document, claims)
        false_alarms += [(seed, v.claim.quantity, v.claim.written, v.verdict) for v in report.verdicts
                         if v.verdict in ("error", "propagated")]
    assert not false_alarms, false_alarms


def test_errors_of_two_or_more_units_are_found_in_99_percent_of_injections():
    missed = []
    for seed in range(INJECTIONS):
        rng, document, claims = worked_example(1000 + seed)
        index = rng.randrange(len(claims))
        units = rng.choice([-1, 1]) * rng.randint(2, 9)
        claims = [dict(c) for c in claims]
        claims[index]["value"] = moved(claims[index]["value"], units)
        verdict = run_audit(document, claims).verdicts[index]
        if verdict.verdict != "error":
            missed.append((seed, claims[index]["quantity"], claims[index]["value"], units, verdict.verdict, verdict.reason))
    assert len(missed) <= INJECTIONS // 100, missed
