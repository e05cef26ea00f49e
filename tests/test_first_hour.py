"""A newcomer's first hour: each friction seen from outside, tested as a user meets it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import mpmath
import sympy as sp

import symbackprop as sbp
from symbackprop.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
AUDIT = EXAMPLES / "audit"


# ---- closed forms lambdify as they are -------------------------------------------------------
def test_closed_forms_lambdify_without_rewriting():
    """sp.lambdify(symbols, g.closed) once failed with NameError: sigmoid. Every built-in function, at a
    point, against an mpmath central difference of the loss (not the engine's number)."""
    model = sbp.load_model(EXAMPLES / "every_activation.toml")
    engine = sbp.Engine(model)
    graph = engine.graph
    leaves = {symbol: graph.values[symbol] for symbol in graph.values}
    loss_closed = engine.closed_form(graph.symbols[sbp.Quantity.loss()])
    for gradient in engine.gradients()[:6]:
        symbols = sorted(gradient.closed.free_symbols, key=str)
        function = sp.lambdify(symbols, gradient.closed)  # NumPy/math, no .rewrite(sp.exp)
        value = function(*[float(leaves[s]) for s in symbols])
        parameter = graph.symbols[gradient.wrt]
        loss = sp.lambdify(sorted(loss_closed.free_symbols, key=str), loss_closed, "mpmath")
        names = sorted(loss_closed.free_symbols, key=str)

        def at(shift, parameter=parameter, names=names, loss=loss):
            return loss(*[mpmath.mpf(leaves[s].p) / leaves[s].q + (shift if s == parameter else 0) for s in names])

        with mpmath.workdps(40):
            central = (at(mpmath.mpf("1e-12")) - at(mpmath.mpf("-1e-12"))) / mpmath.mpf("2e-12")
        assert abs(value - float(central)) <= 1e-9 * max(1.0, abs(float(central))), gradient.wrt


# ---- Python objects read as mathematics --------------------------------------------------------
def test_chain_and_paths_print_as_factors():
    gradient = sbp.Engine(sbp.load_model(EXAMPLES / "mazur.toml")).gradient("w1")
    assert repr(gradient.chain) == "∂E/∂out(h1) · ∂out(h1)/∂net(h1) · ∂net(h1)/∂w1"
    assert repr(gradient.paths()) == (
        "∂E/∂out(o1) · ∂out(o1)/∂net(o1) · ∂net(o1)/∂out(h1) · ∂out(h1)/∂net(h1) · ∂net(h1)/∂w1 + "
        "∂E/∂out(o2) · ∂out(o2)/∂net(o2) · ∂net(o2)/∂out(h1) · ∂out(h1)/∂net(h1) · ∂net(h1)/∂w1")
    assert "Factor(" not in repr(gradient) and "Quantity(" not in repr(gradient)
    assert repr(gradient).startswith("∂E/∂w1 = ∂E/∂out(h1) · ")
    assert gradient.paths()[1][0].of == sbp.Quantity.loss()  # still a tuple of factors underneath


def test_audit_is_exported_and_renders_in_a_notebook():
    report = sbp.audit(AUDIT / "mazur_loss_after_update.toml")
    assert not report.clean and report.summary["error"] == 1
    shown = report._repr_html_()
    assert "<h3>Audit: " in shown and "recomputed" in shown
    assert "The first error is #29, E" in shown


def test_explain_in_python_uses_the_files_title():
    document = sbp.explain(sbp.Engine(sbp.load_model(EXAMPLES / "mazur.toml")))
    assert document.title == "A Step by Step Backpropagation Example"


# ---- audit reports ---------------------------------------------------------------------------------
def _audit(capsys, *arguments):
    code = main(["audit", *map(str, arguments)])
    return code, capsys.readouterr().out


def test_audit_text_numbers_claims_from_one_and_gives_reasons(capsys):
    _, text = _audit(capsys, AUDIT / "mazur_published.toml")
    rows = [line for line in text.splitlines() if re.match(r"\d+ ", line)]
    assert [int(row.split()[0]) for row in rows] == list(range(1, 29))
    assert "rounding  rounding" not in text
    rounded = next(row for row in rows if " rounding " in row)
    assert "recomputed from the author's own earlier numbers" in rounded
    code, text = _audit(capsys, AUDIT / "mazur_loss_after_update.toml")
    assert code == 1 and re.search(r"^29 +E \[after step 1\] .*FIRST ERROR: updated_weight_used", text, re.M)


def test_audit_json_keeps_the_zero_based_index(capsys):
    _, text = _audit(capsys, AUDIT / "mazur_loss_after_update.toml", "--format", "json")
    claims = json.loads(text)["claims"]
    assert [c["index"] for c in claims] == list(range(len(claims)))


def test_audit_markdown_opens_with_two_lines_and_has_a_recomputed_column(capsys):
    code, markdown = _audit(capsys, AUDIT / "mazur_loss_after_update.toml", "--format", "markdown")
    lines = markdown.splitlines()
    assert lines[0].startswith("# Audit: ")
    assert lines[2].startswith("**1 wrong and 0 inheriting an error, of 29 numbers checked")
    assert "The first error is #29, E: written 0.291027924" in lines[2]
    header = next(line for line in lines if line.startswith("| # |"))
    cells = [cell.strip() for cell in header.strip("|").split("|")]
    assert cells == ["#", "quantity", "written", "correct value", "recomputed", "verdict", "note"]
    last = next(line for line in lines if line.startswith("| 29 |"))
    assert len(last.strip("|").split("|")) == len(cells) and "0.2910277737" in last
    _, clean = _audit(capsys, AUDIT / "mazur_published.toml", "--format", "markdown")
    assert clean.splitlines()[2] == ("**Every number is right: 27 exactly, 1 up to rounding, of 28 checked.** "
                                     "Nothing to correct.")


def test_check_float64_json_says_what_float64_gives(capsys):
    assert main(["check", str(EXAMPLES / "mazur.toml"), "--float64", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    row = record["gradients"]["w5"]
    significant = lambda text: len(text.lstrip("-0.").replace(".", "").split("e")[0])
    assert significant(row["analytic"]) >= 30
    assert significant(row["numeric"]) <= 17 and float(row["numeric"]) == float(row["numeric"][:19])
    assert "17 significant digits a double holds" in (ROOT / "README.md").read_text()
