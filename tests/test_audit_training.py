"""The auditor on generated worked examples over several samples and steps.

A simulated author, written here and independent of the auditor, trains a small sigmoid network by
hand in mpmath (several samples, E their mean or sum, a few full-batch steps) and writes, at every step,
each sample's output and loss, E, the gradient of every output weight and every parameter's update,
rounded to six significant digits. Correct examples must audit clean; into others one of the three
mistakes of several samples and steps is injected, and the auditor must call it an error and name it.
"""
from __future__ import annotations

import random

import mpmath
import pytest

from symbackprop.audit import audit
from symbackprop.audit.claims import claims_from_document
from symbackprop.frontends.dense import build_graph
from symbackprop.frontends.loader import network_from_mapping

EXAMPLES = 6


def _tenth(rng: random.Random) -> str:
    return f"{rng.choice([k for k in range(-9, 10) if k]) / 10:.1f}"


def tutorial(seed: int) -> dict:
    rng = random.Random(seed)
    hidden, outputs, count = rng.randint(1, 3), rng.randint(1, 2), rng.randint(2, 4)
    return {
        "network": {"inputs": ["x1", "x2"], "layers": [
            {"name": "hidden", "units": [f"h{j + 1}" for j in range(hidden)], "activation": "sigmoid",
             "weights": [[_tenth(rng) for _ in range(hidden)] for _ in range(2)],
             "bias": [_tenth(rng) for _ in range(hidden)]},
            {"name": "output", "units": [f"o{k + 1}" for k in range(outputs)], "activation": "sigmoid",
             "weights": [[_tenth(rng) for _ in range(outputs)] for _ in range(hidden)],
             "bias": [_tenth(rng) for _ in range(outputs)]}]},
        "loss": {"kind": "half_sse", "reduction": rng.choice(["mean", "sum"]),
                 "targets": [[str(rng.randint(0, 1)) for _ in range(outputs)] for _ in range(count)]},
        "data": {"inputs": [[_tenth(rng) for _ in range(2)] for _ in range(count)]},
        "training": {"learning_rate": rng.choice(["0.5", "1"]), "steps": 3},
    }


class Author:
    """Forward and backward passes written out for the 2-H-O sigmoid network, at 50 digits."""

    def __init__(self, document: dict) -> None:
        self.document = document
        layers = document["network"]["layers"]
        self.hidden = layers[0]["units"]
        self.outputs = layers[1]["units"]
        self.rows = [[mpmath.mpf(v) for v in row] for row in document["data"]["inputs"]]
        self.targets = [[mpmath.mpf(v) for v in row] for row in document["loss"]["targets"]]
        self.mean = document["loss"]["reduction"] == "mean"
        self.rate = mpmath.mpf(document["training"]["learning_rate"])
        self.p = {}
        for i, source in enumerate(["x1", "x2"]):
            for j, unit in enumerate(self.hidden):
                self.p[f"w_{source}_{unit}"] = mpmath.mpf(layers[0]["weights"][i][j])
        for j, unit in enumerate(self.hidden):
            self.p[f"b_{unit}"] = mpmath.mpf(layers[0]["bias"][j])
            for k, out in enumerate(self.outputs):
                self.p[f"w_{unit}_{out}"] = mpmath.mpf(layers[1]["weights"][j][k])
        for k, out in enumerate(self.outputs):
            self.p[f"b_{out}"] = mpmath.mpf(layers[1]["bias"][k])

    def sample(self, p: dict, s: int):
        """(outputs, loss, gradient of the sample's own loss) at parameters p."""
        sigmoid = lambda z: 1 / (1 + mpmath.exp(-z))
        x = dict(zip(["x1", "x2"], self.rows[s]))
        h = {u: sigmoid(sum(p[f"w_{i}_{u}"] * x[i] for i in x) + p[f"b_{u}"]) for u in self.hidden}
        y = {o: sigmoid(sum(p[f"w_{u}_{o}"] * h[u] for u in self.hidden) + p[f"b_{o}"]) for o in self.outputs}
        t = dict(zip(self.outputs, self.targets[s]))
        loss = sum((y[o] - t[o]) ** 2 / 2 for o in self.outputs)
        d_y = {o: (y[o] - t[o]) * y[o] * (1 - y[o]) for o in self.outputs}
        d_h = {u: sum(d_y[o] * p[f"w_{u}_{o}"] for o in self.outputs) * h[u] * (1 - h[u]) for u in self.hidden}
        grad = {f"b_{o}": d_y[o] for o in self.outputs}
        grad.update({f"w_{u}_{o}": d_y[o] * h[u] for u in self.hidden for o in self.outputs})
        grad.update({f"b_{u}": d_h[u] for u in self.hidden})
        grad.update({f"w_{i}_{u}": d_h[u] * x[i] for i in x for u in self.hidden})
        return y, loss, grad

    def reduce(self, values: list):
        return sum(values) / len(values) if self.mean else sum(values)

    def work(self, inject: str = "", at: int = 1) -> tuple[list[dict], int]:
        """The claims, and the index of the injected one (-1 when clean)."""
        claims, injected = [], -1
        written = lambda v: mpmath.nstr(v, 6, min_fixed=-30, max_fixed=30)
        with mpmath.workdps(50):
            p, before = dict(self.p), None
            for step in range(3):
                passes = [self.sample(p, s) for s in range(len(self.rows))]
                for s, (y, loss, _) in enumerate(passes):
                    claims.append({"quantity": f"out({self.outputs[0]})", "sample": s, "step": step, "value": written(y[self.outputs[0]])})
                    claims.append({"quantity": "E", "sample": s, "step": step, "value": written(loss)})
                total = self.reduce([loss for _, loss, _ in passes])
                if inject == "stale_parameters" and step == at:
                    injected = len(claims)  # this step's E worked with the parameters of the step before
                    total = self.reduce([self.sample(before, s)[1] for s in range(len(self.rows))])
                claims.append({"quantity": "E", "step": step, "value": written(total)})
                gradient = {name: self.reduce([g[name] for _, _, g in passes]) for name in p}
                for name in [n for n in p if n.endswith(tuple(self.outputs)) and n.startswith("w_")]:
                    value = gradient[name]
                    if inject == "sum_vs_mean_samples" and step == at and injected < 0:
                        injected = len(claims)  # the samples' gradients summed where E is their mean, or averaged
                        parts = [g[name] for _, _, g in passes]
                        value = sum(parts) / len(parts) if not self.mean else sum(parts)
                    claims.append({"quantity": f"dE/d{name}", "step": step, "value": written(value)})
                before, after = p, {name: p[name] - self.rate * gradient[name] for name in p}
                for name in p:
                    value = after[name]
                    if inject == "one_sample_gradient" and step == at and injected < 0 and name.startswith("w_h"):
                        injected = len(claims)  # the batch update made with sample 0's gradient alone
                        value = p[name] - self.rate * passes[0][2][name]
                    claims.append({"quantity": f"new({name})", "step": step, "value": written(value)})
                p = after
        return claims, injected


def _audit(document: dict, claims: list[dict]):
    graph = build_graph(network_from_mapping(document))
    return audit(graph, claims_from_document({**document, "claims": claims}, graph))


def test_correct_worked_examples_over_samples_and_steps_audit_clean():
    alarms = []
    for seed in range(EXAMPLES):
        document = tutorial(seed)
        claims, _ = Author(document).work()
        report = _audit(document, claims)
        alarms += [(seed, v.claim.quantity, v.claim.key.step, v.verdict) for v in report.verdicts if v.verdict != "ok"]
    assert not alarms, alarms


@pytest.mark.parametrize("mistake", ["sum_vs_mean_samples", "stale_parameters", "one_sample_gradient"])
def test_each_mistake_of_samples_and_steps_is_an_error_and_named(mistake):
    missed, checked = [], 0
    for seed in range(EXAMPLES):
        document = tutorial(100 + seed)
        claims, injected = Author(document).work(mistake, at=1 + seed % 2)
        clean, _ = Author(document).work()
        if claims[injected]["value"] == clean[injected]["value"]:
            continue  # the mistake leaves this number unchanged at six digits: nothing to find
        checked += 1
        verdict = _audit(document, claims).verdicts[injected]
        named = {d.mistake for d in verdict.diagnoses}
        if verdict.verdict != "error" or mistake not in named:
            missed.append((seed, claims[injected], verdict.verdict, sorted(named)))
    assert checked >= EXAMPLES - 1, "the injected mistake hardly ever changed a written number"
    assert not missed, missed
