"""`symbackprop audit` on the transcribed tutorials, its formats, exit codes and bad files."""
import json
from pathlib import Path

import pytest

from symbackprop.cli import main

AUDIT = Path(__file__).resolve().parent.parent / "examples" / "audit"


def audit_json(capsys, path, *extra):
    code = main(["audit", str(path), "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_seed_001_truncations_are_found_as_truncation_not_errors(capsys):
    code, report = audit_json(capsys, AUDIT / "balaji_seed001.toml")
    assert code == 0
    verdicts = {(c["quantity"], c["claimed"]): c for c in report["claims"]}
    for quantity, written in [("new(w5)", "0.226"), ("new(w6)", "0.267"), ("new(w1)", "0.108"), ("new(w3)", "0.309")]:
        claim = verdicts[(quantity, written)]
        assert claim["verdict"] == "rounding"
        assert [d["mistake"] for d in claim["diagnoses"]] == ["truncation"]
    assert verdicts[("new(w5)", "0.23")]["verdict"] == "ok"
    assert verdicts[("new(w5)", "0.226")]["exact"].startswith("0.22672")
    assert report["summary"] == {"ok": 16, "rounding": 4, "propagated": 0, "error": 0}


def test_a_published_correct_worked_example_audits_clean(capsys):
    """Mazur's numbers up to the hidden-layer updates: all correct to the digits he writes."""
    code, report = audit_json(capsys, AUDIT / "mazur_published.toml")
    assert code == 0
    assert report["summary"]["error"] == 0 and report["summary"]["propagated"] == 0
    assert report["summary"]["ok"] >= 26


def test_mazur_loss_after_the_update_is_an_error_reproduced_by_updated_weights(capsys):
    code, report = audit_json(capsys, AUDIT / "mazur_loss_after_update.toml")
    assert code == 1
    last = report["claims"][-1]
    assert last["quantity"] == "E" and last["step"] == 1 and last["verdict"] == "error"
    assert last["exact"].startswith("0.29102777369")
    assert last["recomputed"].startswith("0.2910277737")
    assert "updated_weight_used" in [d["mistake"] for d in last["diagnoses"]]
    assert report["summary"]["error"] == 1


def test_json_contract(capsys):
    _, report = audit_json(capsys, AUDIT / "mazur_published.toml")
    first = report["claims"][0]
    assert set(first) >= {"index", "quantity", "step", "claimed", "exact", "recomputed", "verdict", "source",
                          "diagnoses"}
    assert [c["index"] for c in report["claims"]] == list(range(len(report["claims"])))
    assert set(report["summary"]) == {"ok", "rounding", "propagated", "error"}


def test_text_and_markdown(capsys, tmp_path):
    assert main(["audit", str(AUDIT / "mazur_loss_after_update.toml")]) == 1
    text = capsys.readouterr().out
    assert "FIRST ERROR: updated_weight_used" in text and "1 error" in text.splitlines()[-1]
    out = tmp_path / "audit.md"
    assert main(["audit", str(AUDIT / "mazur_loss_after_update.toml"), "--format", "markdown", "-o", str(out)]) == 1
    markdown = out.read_text()
    assert "## #29: `E` is wrong" in markdown and "`updated_weight_used`" in markdown
    assert capsys.readouterr().out == ""


def test_an_injected_mistake_in_a_published_example_is_named(capsys, tmp_path):
    """Mazur's ∂E/∂w5 with the learning rate slipped: new(w5) written with η = 0.05 instead of 0.5."""
    text = (AUDIT / "mazur_published.toml").read_text().replace('value = "0.35891648"', 'value = "0.39589165"')
    path = tmp_path / "slip.toml"
    path.write_text(text)
    code, report = audit_json(capsys, path)
    assert code == 1
    claim = next(c for c in report["claims"] if c["quantity"] == "new(w5)")
    assert claim["verdict"] == "error"
    rates = [d for d in claim["diagnoses"] if d["mistake"] == "wrong_learning_rate"]
    assert rates and rates[0]["implied"] == "0.05"


@pytest.mark.parametrize("claims,place,message", [
    ('[[claims]]\nquantity = "dE/dw99"\nvalue = "1"\n', "claims[0].quantity", "no parameter"),
    ('[[claims]]\nquantity = "out(h9)"\nvalue = "1"\n', "claims[0].quantity", "no unit"),
    ('[[claims]]\nquantity = "speed(h1)"\nvalue = "1"\n', "claims[0].quantity", "not a quantity"),
    ('[[claims]]\nquantity = "E"\nvalue = "abc"\n', "claims[0].value", "not a number"),
    ('[[claims]]\nquantity = "E"\nvalue = "1"\nstep = 2\n', "claims[0].step", "step must be"),
    ('[[claims]]\nquantity = "E"\n', "claims[0].value", "missing"),
    ('', "claims", "needs [[claims]]"),
])
def test_bad_claims_exit_2_naming_the_place(capsys, tmp_path, claims, place, message):
    base = (AUDIT / "balaji_seed001.toml").read_text().split("[[claims]]")[0]
    path = tmp_path / "bad.toml"
    path.write_text(base + claims)
    assert main(["audit", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and place in err and message in err, err


def test_two_mistakes_at_once_are_found_as_a_pair(capsys, tmp_path):
    """E(o2) of a softmax/cross-entropy net written with log base 10 *and* the binary formula."""
    import math

    from symbackprop.audit import audit
    from symbackprop.audit.claims import claims_from_document
    from symbackprop.engine.chain import Engine
    from symbackprop.frontends.dense import build_graph
    from symbackprop.frontends.loader import network_from_mapping
    from symbackprop.quantity import Quantity

    from .test_audit_mutations import SOFTMAX_TUTORIAL

    network = network_from_mapping(SOFTMAX_TUTORIAL)
    out = float(Engine(network).point.value_of(Quantity.out("o1"), 30))  # target 0
    # Cross-entropy gives 0 here; binary alone gives −ln(1 − o); log10 alone gives 0: only the pair fits.
    both = -math.log10(1 - out)
    claims = [{"quantity": "out(o1)", "value": f"{out:.8f}"}, {"quantity": "E(o1)", "value": f"{both:.8f}"}]
    graph = build_graph(network)
    report = audit(graph, claims_from_document({**SOFTMAX_TUTORIAL, "claims": claims}, graph))
    verdict = report.verdicts[1]
    assert verdict.verdict == "error"
    assert [d.mistake for d in verdict.diagnoses] == ["log10_loss+binary_ce_for_softmax"]


def test_every_path_of_a_derivative_claim_is_reported(capsys):
    _, report = audit_json(capsys, AUDIT / "mazur_published.toml")
    claim = next(c for c in report["claims"] if c["quantity"] == "dE/dw1")
    assert claim["paths"] == [
        "∂E/∂out(o1) · ∂out(o1)/∂net(o1) · ∂net(o1)/∂out(h1) · ∂out(h1)/∂net(h1) · ∂net(h1)/∂w1",
        "∂E/∂out(o2) · ∂out(o2)/∂net(o2) · ∂net(o2)/∂out(h1) · ∂out(h1)/∂net(h1) · ∂net(h1)/∂w1",
    ]


def test_a_shown_value_follows_the_digits_a_claim_writes_in_any_notation(capsys, tmp_path):
    """12 significant digits written in e-notation: the text report shows the exact value to 12 + 4."""
    network = (AUDIT / "mazur_published.toml").read_text().split("[[claims]]")[0]
    path = tmp_path / "e_notation.toml"
    # Mazur's E = 0.298371108760... (by hand: ½(0.01 − 0.75136507)² + ½(0.99 − 0.772928465)²)
    path.write_text(network + '[[claims]]\nquantity = "E"\nvalue = "2.98371108760e-1"\n')
    assert main(["audit", str(path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("1 "))
    exact = row.split()[3]
    assert exact.startswith("0.29837110876") and len(exact.replace("0.", "", 1)) == 16, row
