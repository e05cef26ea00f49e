"""The matrix form: dZ, dW = (1/m)·dZ·A[l−1]ᵀ, db, dA, against per-weight gradients from independent oracles."""
from __future__ import annotations

import json
from pathlib import Path

import mpmath
import pytest
import sympy as sp

from symbackprop.engine.chain import Engine
from symbackprop.cli import main
from symbackprop.frontends.loader import load_model, load_network
from symbackprop.training.matrix import matrix_form

from .oracle import diff_gradient
from .test_samples import _xor_sample_gradients

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _json(capsys, name: str, *extra: str) -> dict:
    assert main(["derive", str(EXAMPLES / name), "--form", "matrix", "--format", "json", "--digits", "30", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _close(a, b, digits: int = 25) -> bool:
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    return abs(a - b) <= mpmath.mpf(10) ** -digits * max(1, abs(b))


@pytest.mark.parametrize("name", ["mazur.toml", "softmax_classifier.toml", "relu_sigmoid_softmax.toml",
                                  "pvreddy_3_3_1.toml", "sadiya_2_2_2.toml"])
def test_every_entry_of_dw_and_db_is_the_sympy_diff_gradient_of_that_weight(name, capsys):
    """dW laid out exactly like the layer's weights in the file; each entry ∂E/∂w by sympy.diff of the
    oracle's own composed loss."""
    network = load_network(EXAMPLES / name)
    document = _json(capsys, name)
    with mpmath.workdps(40):
        for layer, record in zip(network.layers, document["layers"]):
            names = [list(row) for row in layer.weight_names]
            if network.convention == "row":
                names = [list(row) for row in zip(*names)]
            assert [len(row) for row in record["dW"]] == [len(row) for row in names]
            for row_names, row_values in zip(names, record["dW"]):
                for weight, value in zip(row_names, row_values):
                    assert _close(value, diff_gradient(network, weight, 40)), (name, weight)
            biases = list(layer.bias.names) if layer.bias.mode != "none" else []
            assert len(record["db"]) == len(biases)  # a shared bias has one db
            for bias, value in zip(biases, record["db"]):
                assert _close(value, diff_gradient(network, bias, 40), 20), (name, bias)


def test_dw_is_the_product_of_dz_and_the_previous_activations_over_four_samples():
    """XOR, mean over 4 samples: dW = (1/4)·A[l−1]ᵀ·dZ (row convention), multiplied out here; the output
    layer's dZ is each sample's δ written out by hand."""
    form = matrix_form(Engine(load_model(EXAMPLES / "xor.toml")), digits=30)
    per_sample = _xor_sample_gradients()
    with mpmath.workdps(40):
        previous = form.X
        for layer in form.layers:
            products = [[sum(layer.dZ[j][i] * previous[k][i] for i in range(4)) / 4 for j in range(len(layer.units))]
                        for k in range(len(previous))]  # source × unit, the row convention's layout
            for expected_row, row in zip(products, layer.dW):
                for expected, value in zip(expected_row, row):
                    assert _close(value, expected, 28)
            previous = layer.A
        output = form.layers[-1]
        for i in range(4):
            h1 = form.layers[0].A[0][i]
            assert _close(output.dZ[0][i] * h1, per_sample[i]["w_h1_y"], 28)


def test_the_equations_follow_the_convention_the_reduction_and_the_collapse(capsys):
    mazur = _json(capsys, "mazur.toml")["layers"]  # row convention, one sample, sigmoid + ½SSE: not collapsed
    assert mazur[1]["equations"]["dW"] == r"dW^{[2]} = A^{[1]\top} dZ^{[2]}"
    assert mazur[1]["equations"]["dZ"].startswith(r"dZ^{[2]} = \left(A^{[2]} - Y\right) \odot")
    assert mazur[1]["equations"]["dA"] == r"dA^{[1]} = dZ^{[2]} W^{[2]\top}"
    softmax = _json(capsys, "softmax_classifier.toml")["layers"]  # column convention, softmax + cross-entropy
    assert softmax[1]["equations"]["dZ"] == r"dZ^{[2]} = A^{[2]} - Y"
    assert softmax[1]["equations"]["dW"] == r"dW^{[2]} = dZ^{[2]} A^{[1]\top}"
    assert softmax[1]["equations"]["dA"] == r"dA^{[1]} = W^{[2]\top} dZ^{[2]}"
    assert softmax[0]["equations"]["dZ"] == r"dZ^{[1]} = dA^{[1]} \odot \left(1 - \left(A^{[1]}\right)^{2}\right)"
    assert softmax[1]["db"] == ["0"]  # Σ(out − t) over a softmax: exactly 0, not a rounding residue
    xor = _json(capsys, "xor.toml")["layers"]  # four samples, mean: the 1/m sits in dW and db
    assert xor[0]["equations"]["dW"] == r"dW^{[1]} = \frac{1}{4} X^{\top} dZ^{[1]}"
    assert xor[0]["equations"]["db"] == r"db^{[1]} = \frac{1}{4} \sum_{i=1}^{4} dZ^{[1](i)}"


def test_a_softmax_that_does_not_collapse_keeps_its_jacobian(tmp_path, capsys):
    text = (EXAMPLES / "softmax_classifier.toml").read_text().replace('kind = "cross_entropy"', 'kind = "half_sse"')
    path = tmp_path / "softmax_sse.toml"
    path.write_text(text)
    assert main(["derive", str(path), "--form", "matrix", "--format", "json"]) == 0
    dz = json.loads(capsys.readouterr().out)["layers"][-1]["equations"]["dZ"]
    assert dz.startswith(r"dZ^{[2]} = J^{[2]\top}") and r"A_k \left(\delta_{kj} - A_j\right)" in dz
    form = matrix_form(Engine(load_model(path)), digits=30)
    output = form.layers[-1]
    a = [row[0] for row in output.A]  # one sample: J = diag(a) − a·aᵀ, written out here
    with mpmath.workdps(40):
        for k in range(len(a)):
            for j in range(len(a)):
                assert _close(output.J[0][k][j], (a[k] if k == j else 0) - a[k] * a[j], 28)
        upstream = [a[k] - mpmath.mpf(t) for k, t in enumerate(["0", "1", "0"])]  # ½SSE: ∂E/∂A = A − Y
        for j in range(len(a)):
            assert _close(output.dZ[j][0], sum(output.J[0][k][j] * upstream[k] for k in range(len(a))), 28)
    assert main(["derive", str(path), "--form", "matrix", "--digits", "5"]) == 0
    assert "J[2]\n  [" in capsys.readouterr().out


@pytest.mark.parametrize("name, problem", [("graphs/residual.toml", "has no layers"),
                                           ("tied_autoencoder.toml", "plain chain of layers")])
def test_networks_without_a_matrix_form_are_refused(name, problem, capsys):
    assert main(["derive", str(EXAMPLES / name), "--form", "matrix"]) == 2
    error = capsys.readouterr().err
    assert problem in error and error.count("\n") == 1


def test_text_and_latex_give_every_matrix_with_its_numbers(capsys):
    assert main(["derive", str(EXAMPLES / "xor.toml"), "--form", "matrix", "--format", "latex", "--digits", "6"]) == 0
    latex = capsys.readouterr().out
    assert latex.count(r"\begin{bmatrix}") == 2 * 2 + 2 * 3 + 1  # Z, A and dZ, dW, db of two layers; dA[1]
    assert main(["derive", str(EXAMPLES / "xor.toml"), "--form", "matrix", "--digits", "6"]) == 0
    text = capsys.readouterr().out
    assert "dW[1] = (1/4) X^T dZ[1]" in text and "dZ[2] = (A[2] - Y) ⊙ (A[2] ⊙ (1 - A[2]))" in text
    assert sp.Float(text.split("dW[2] = (1/4) A[1]^T dZ[2]\n")[1].split("]")[0].strip(" ["), 10) == sp.Float(
        "0.00926442", 10)


@pytest.mark.parametrize("name", ["xor.toml", "mazur.toml", "softmax_classifier.toml", "pvreddy_3_3_1.toml"])
def test_explain_in_matrix_notation_states_every_dw_entry_as_the_per_weight_gradient(name):
    """W[l] is n[l]×n[l−1] (seeds 003 and 004): entry (j, i) of dW[l] is ∂E/∂w of the weight from source i
    into unit j, whatever the file's convention, as sympy.diff of the composed loss gives it (one sample)
    or as the mean of the samples' gradients written out by hand (XOR)."""
    from symbackprop.reports.document import to_markdown
    from symbackprop.reports.explain_matrix import explain_matrix
    from symbackprop.reports.writer import number_latex

    model = load_model(EXAMPLES / name)
    engine = Engine(model)
    text = to_markdown(explain_matrix(engine, places=6))
    network = model  # the dense file's own description: what the oracle reads
    for index, layer in enumerate(network.layers):
        line = next(line for line in text.splitlines() if line.startswith(r"dW^{[%d]} = " % (index + 1)))
        shown = line.split(r"\begin{bmatrix}")[1].split(r"\end{bmatrix}")[0]
        rows = [[cell.strip() for cell in row.split("&")] for row in shown.split(r"\\")]
        for j, unit_row in enumerate(layer.weight_names):  # weight_names[j][i]: source i into unit j
            for i, weight in enumerate(unit_row):
                if name == "xor.toml":
                    with mpmath.workdps(40):
                        expected = sum(s[weight] for s in _xor_sample_gradients()) / 4
                else:
                    expected = diff_gradient(network, weight, 40)
                assert rows[j][i] == number_latex(sp.Float(expected, 40), 6), (name, weight, rows[j][i])


def test_explain_in_matrix_notation_is_refused_for_a_graph_of_formulas(capsys):
    assert main(["explain", str(EXAMPLES / "graphs" / "residual.toml"), "--notation", "matrix"]) == 2
    assert "has no layers" in capsys.readouterr().err


MATRIX_EXAMPLES = ["xor", "pvreddy_3_3_1_batch", "sadiya_2_2_2_batch"]  # seeds 003 and 004 with three samples


@pytest.mark.parametrize("name", MATRIX_EXAMPLES)
def test_examples_keep_up_to_date_matrix_explanations(name, tmp_path):
    """Regenerate with: symbackprop explain examples/NAME.toml --notation matrix -o examples/explained/NAME_matrix.md
    (and --format latex)."""
    for suffix, arguments in ((".md", []), (".tex", ["--format", "latex"])):
        fresh = tmp_path / f"{name}_matrix{suffix}"
        assert main(["explain", str(EXAMPLES / f"{name}.toml"), "--notation", "matrix", *arguments, "-o", str(fresh)]) == 0
        kept = EXAMPLES / "explained" / f"{name}_matrix{suffix}"
        assert kept.read_text() == fresh.read_text(), f"{kept} is out of date: regenerate it"
