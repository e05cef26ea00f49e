"""Every public object displays in a notebook, executed by nbconvert as Jupyter runs it.

The expected numbers come from outside the package: Mazur's published ∂E/∂w5 = 0.082167041 and
E_total = 0.298371109, and for the Model the gradient of ½(σ(w·x) − t)² worked by hand.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = Path(__file__).resolve().parent.parent

CELLS = {
    "model": """
import sympy as sp, symbackprop as sbp
x, t, w = sp.symbols("x t w")
model = sbp.Model(inputs=[x], targets=[t], parameters={w: "0.5"}, title="one sigmoid")
y = model.node("y", sbp.sigmoid(w * x))
model.loss((y - t)**2 / 2)
model.data(inputs=["2"], targets=["1"])
model""",
    "formula_derivation": "sbp.Engine(model).gradient('w')",
    "dense_derivation": "net = sbp.load_network('examples/mazur.toml')\nsbp.Engine(net).gradient('w5')",
    "check": "sbp.check_gradients(net)",
    "audit": "sbp.audit('examples/audit/mazur_published.toml')",
    "training": """
from symbackprop.training.train import train
train(sbp.Engine(net).graph, steps=12)""",
}


@pytest.fixture(scope="module")
def outputs() -> dict[str, dict]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source.strip())
                                               for source in CELLS.values()])
    ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(notebook, {"metadata": {"path": str(ROOT)}})
    shown = {}
    for name, cell in zip(CELLS, notebook.cells):
        assert not [o for o in cell.outputs if o.output_type == "error"], (name, cell.outputs)
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert len(results) == 1, (name, cell.outputs)
        shown[name] = results[0].data
    return shown


def _numbers(text: str) -> list[float]:
    return [float(n) for n in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@pytest.mark.parametrize("name", list(CELLS))
def test_every_object_has_a_rich_display(outputs, name):
    data = outputs[name]
    assert "text/html" in data, (name, list(data))
    assert " at 0x" not in data["text/html"]
    assert "<table>" in data["text/html"]


def test_the_model_shows_its_leaves_and_nodes(outputs):
    html = outputs["model"]["text/html"]
    assert "one sigmoid" in html and "parameter" in html and "0.5" in html
    assert r"\sigma\left(w x\right)" in html
    assert outputs["model"]["text/latex"].startswith(r"$$\begin{aligned}y &= \sigma")


def test_the_formula_derivation_shows_the_value_worked_by_hand(outputs):
    out = _sigmoid(1.0)  # σ(0.5 · 2)
    by_hand = (out - 1) * out * (1 - out) * 2
    shown = [n for n in _numbers(outputs["formula_derivation"]["text/latex"]) if abs(n - by_hand) < 1e-9]
    assert shown, outputs["formula_derivation"]["text/latex"]


def test_the_dense_derivation_shows_mazurs_published_gradient(outputs):
    assert any(abs(n - 0.082167041) < 5e-10 for n in _numbers(outputs["dense_derivation"]["text/latex"]))
    assert r"\mathrm{out}_{o1}" in outputs["dense_derivation"]["text/html"]


def test_the_check_report_shows_every_parameter_agreeing(outputs):
    html = outputs["check"]["text/html"]
    assert "every gradient agrees" in html
    assert html.count("<td>ok</td>") == 8 + 2  # Mazur's eight weights and one bias per layer


def test_the_audit_report_shows_its_verdicts(outputs):
    html = outputs["audit"]["text/html"]
    assert "<h3>Audit:" in html and "verdict" in html
    assert "0.298371109" in html  # Mazur's E_total, as written in the claims


def test_the_training_run_shows_mazurs_loss_at_step_0(outputs):
    html = outputs["training"]["text/html"]
    rows = re.findall(r"<tr><td>(\d+|…)</td><td>([^<]*)</td></tr>", html)
    assert [step for step, _ in rows] == ["0", "1", "2", "3", "4", "…", "8", "9", "10", "11", "12"]
    assert abs(float(rows[0][1]) - 0.298371109) < 5e-10
    assert "12 step(s)" in html
