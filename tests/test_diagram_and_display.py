"""The network diagram, the latex command, and notebook display."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.reports.diagram import GraphvizMissing, network_dot, render

ROOT = Path(__file__).resolve().parent.parent
MAZUR = str(ROOT / "examples" / "mazur.toml")
SOFTMAX = str(ROOT / "examples" / "softmax_classifier.toml")


def _dot() -> str:
    program = shutil.which("dot")
    if program is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's dot is missing: .ci/run installs graphviz")
        pytest.skip("Graphviz not installed here (CI installs it; apt-get install graphviz)")
    return program


def test_dot_has_every_unit_and_every_weight_with_its_value_and_gradient():
    network = sbp.load_network(MAZUR)
    engine = sbp.Engine(network)
    dot = network_dot(network, engine)
    for unit in ("i1", "i2", "h1", "h2", "o1", "o2"):
        assert f'"{unit}" [label=' in dot
    # Mazur's published gradients: ∂E/∂w5 = 0.082167041, ∂E/∂w1 = 0.000438568
    assert '"h1" -> "o1" [label="w5 = 0.4\\n∂E/∂w5 = 0.08217"];' in dot
    assert '"i1" -> "h1" [label="w1 = 0.15\\n∂E/∂w1 = 0.0004386"];' in dot
    drawn = [line for line in dot.splitlines() if " -> " in line and "style=invis" not in line]
    assert len(drawn) == 8 + 4 + 2  # weights, bias edges, outputs to the loss
    assert '"E" [label="E = 0.2984"' in dot


def test_dot_without_numbers_names_the_weights_only():
    network = sbp.network_from_mapping({"network": {"inputs": ["a", "b"], "layers": [
        {"units": ["y"], "activation": "tanh", "weight_names": [["p"], ["q"]]}]}, "loss": {"kind": "sse"}})
    dot = network_dot(network, None)
    assert '"a" -> "y" [label="p"];' in dot and '"b" -> "y" [label="q"];' in dot and "∂E" not in dot


def test_diagram_command_writes_dot_svg_and_png(tmp_path, capsys):
    assert main(["diagram", MAZUR]) == 0
    assert capsys.readouterr().out.startswith("digraph network {")
    assert main(["diagram", MAZUR, "-o", str(tmp_path / "net.dot")]) == 0
    assert (tmp_path / "net.dot").read_text().startswith("digraph")
    _dot()
    assert main(["diagram", MAZUR, "-o", str(tmp_path / "net.svg")]) == 0
    svg = (tmp_path / "net.svg").read_text()
    assert "<svg" in svg and "w5 = 0.4" in svg
    assert main(["diagram", SOFTMAX, "-o", str(tmp_path / "net.png")]) == 0
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_graphviz_svg_gets_one_clear_line_and_dot_still_works(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program anywhere on it
    with pytest.raises(GraphvizMissing):
        render("digraph { a -> b }", "svg")
    assert main(["diagram", MAZUR, "-o", str(tmp_path / "net.svg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Graphviz" in err and "net.dot" in err
    assert not (tmp_path / "net.svg").exists()
    assert main(["diagram", MAZUR, "-o", str(tmp_path / "net.dot")]) == 0


def test_diagram_refuses_an_unknown_extension(tmp_path, capsys):
    assert main(["diagram", MAZUR, "-o", str(tmp_path / "net.pdf")]) == 2
    assert "name it .dot, .gv, .svg or .png" in capsys.readouterr().err


def test_latex_command_prints_pinned_gradient_formulas(capsys):
    assert main(["latex", MAZUR, "--wrt", "w5", "--wrt", "b2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        r"\frac{\partial E}{\partial w_{5}} = \mathrm{out}_{h1} \mathrm{out}_{o1} \left(1 - \mathrm{out}_{o1}\right) "
        r"\left(\mathrm{out}_{o1} - t_{o1}\right)",
        r"\frac{\partial E}{\partial b_{2}} = \mathrm{out}_{o1} \left(1 - \mathrm{out}_{o1}\right) \left(\mathrm{out}_{o1} "
        r"- t_{o1}\right) + \mathrm{out}_{o2} \left(1 - \mathrm{out}_{o2}\right) \left(\mathrm{out}_{o2} - t_{o2}\right)",
    ]


def test_latex_command_simplified_form_collapses_softmax_cross_entropy(capsys):
    assert main(["latex", SOFTMAX, "--wrt", "w_h1_c2", "--form", "simplified"]) == 0
    assert capsys.readouterr().out.strip() == (
        r"\frac{\partial E}{\partial w^{(2)}_{21}} = \mathrm{out}_{h1} \left(\mathrm{out}_{c2} - t_{c2}\right)")


def test_latex_command_names_an_unknown_parameter(capsys):
    assert main(["latex", MAZUR, "--wrt", "w99"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "w99" in err


def test_notebook_display_of_a_gradient_a_check_and_an_audit():
    network = sbp.load_network(MAZUR)
    gradient = sbp.Engine(network).gradient("w5")
    latex = gradient._repr_latex_()
    assert latex.startswith(r"$\displaystyle \frac{\partial E}{\partial w_{5}} = ") and latex.endswith("$")
    assert r"\approx 0.08216704056" in latex  # Mazur: 0.082167041
    html = gradient._repr_html_()
    assert "<table>" in html and r"\(\frac{\partial \mathrm{out}_{o1}}{\partial \mathrm{net}_{o1}}\)" in html
    assert "0.1868156018" in html  # Mazur: ∂out_o1/∂net_o1 = 0.186815602
    check = sbp.check_gradients(network, digits=30)
    assert check._repr_html_().count("<tr>") == 1 + len(network.parameters())
    assert r"\begin{array}" in check._repr_latex_()
    from symbackprop.audit import audit, load_claims

    report = audit(*load_claims(ROOT / "examples" / "audit" / "mazur_loss_after_update.toml"))
    html = report._repr_html_()
    assert "ERROR" in html and "updated_weight_used" in html
    from symbackprop.reports.document import Document, Paragraph

    assert Document("t", (Paragraph(("x",)),))._repr_markdown_().startswith("# t")


def test_a_formula_graph_and_a_model_display_in_a_notebook_with_the_oracles_values():
    import sympy as sp

    graph = sbp.load_model(ROOT / "examples" / "graphs" / "readme_model.toml")
    check = sbp.check_gradients(graph, digits=30)  # the independent finite differences
    x1, x2, t, w1, w2, b, v = sp.symbols("x1 x2 t w1 w2 b v")
    model = sbp.Model(inputs=[x1, x2], targets=[t], parameters={w1: "0.15", w2: "-0.2", b: "0.35", v: "0.5"})
    h = model.node("h", sbp.sigmoid(w1 * x1 + w2 * x2 + b))  # the README's model
    y = model.node("y", sp.tanh(v * h) + h)
    model.loss((y - t) ** 2 / 2)
    model.data(inputs=["0.05", "0.1"], targets=["0.9"])
    for source in (graph, model):
        engine = sbp.Engine(source)
        for name in ("w1", "v"):
            gradient = engine.gradient(name)
            latex, html = gradient._repr_latex_(), gradient._repr_html_()
            shown = re.search(r"\\approx (-?[\d.]+(e-?\d+)?)\$$", latex)
            assert shown, latex
            assert abs(float(shown.group(1)) - float(check.row(name).numeric)) <= 1e-9 * abs(float(check.row(name).numeric))
            assert "<table>" in html and shown.group(1) in html


def test_the_engine_imports_no_printer():
    """One-way data flow: computing a gradient loads neither the printers nor the display module."""
    code = ("import sys, symbackprop.engine.chain as c, symbackprop.frontends.loader as l; "
            "e = c.Engine(l.load_network(sys.argv[1])); e.gradient('w5').compact; "
            "print(sorted(m for m in sys.modules if m.startswith('symbackprop.')))")
    result = subprocess.run([sys.executable, "-c", code, MAZUR], capture_output=True, text=True, cwd=ROOT)
    loaded = set(re.findall(r"'(symbackprop(?:\.\w+)+)'", result.stdout))
    assert "symbackprop.engine.chain" in loaded, result.stderr
    # the stages after the engine's: nothing of the report layer, the command line, the audit or training
    later = {m for m in loaded if m.split(".")[1] in ("reports", "cli", "audit", "training", "oracle")}
    assert not later, later
