"""`symbackprop graph FILE`: every network as a formula file, which gives the same gradients by a second route.

The exported file is read back by the formula front-end, which shares nothing with the dense one; its
gradients are compared with the source file's and with sympy.diff of the exported graph's composed loss
(tests/oracle.py), its audit verdicts and training runs with the source's.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import mpmath
import pytest
from hypothesis import HealthCheck, given, settings

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.frontends.loader import load_model, network_from_mapping

from .oracle import graph_diff_gradients
from .strategies import extended_network_documents, network_documents

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHIPPED = sorted([*EXAMPLES.glob("*.toml"), *(EXAMPLES / "graphs").glob("*.toml"), *(EXAMPLES / "audit").glob("*.toml")])
SCHEMA = json.loads((ROOT / "docs" / "graph.schema.json").read_text())
HOSTILE = sorted((Path(__file__).resolve().parent / "hostile").glob("*.toml"))


def _export(path: Path, tmp_path: Path, capsys) -> Path:
    out = tmp_path / f"{path.stem}_graph.toml"
    assert main(["graph", str(path), "-o", str(out)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    return out


def _agree(a, b, digits: int = 45) -> bool:
    a, b = mpmath.mpf(str(a)), mpmath.mpf(str(b))
    return abs(a - b) <= mpmath.mpf(10) ** -digits * max(1, abs(b))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_example_exports_to_a_formula_file_with_the_same_gradients(path, tmp_path, capsys):
    exported = _export(path, tmp_path, capsys)
    document = tomllib.loads(exported.read_text())
    claims = document.pop("claims", None)
    jsonschema.validate(document, SCHEMA)
    source, second = sbp.Engine(load_model(path)), sbp.Engine(load_model(exported))
    assert second.graph.layout is None  # read by the formula front-end, not the dense one
    assert second.graph.parameters() == source.graph.parameters()
    for name in source.graph.parameters():
        assert _agree(second.gradient(name).evalf(50), source.gradient(name).evalf(50)), name
    assert second.graph.frozen == source.graph.frozen
    assert second.graph.training == source.graph.training and second.graph.learning_rate == source.graph.learning_rate
    if claims is not None:  # the audit reads the renamed claims and judges them alike
        verdicts = []
        for file in (path, exported):
            code = main(["audit", str(file), "--format", "json"])
            report = json.loads(capsys.readouterr().out)
            verdicts.append((code, [(row["verdict"], row["claimed"], row["exact"]) for row in report["claims"]]))
        assert verdicts[0] == verdicts[1]
    # a fixed point: the formula file of a formula file is itself
    (tmp_path / "again").mkdir()
    again = _export(exported, tmp_path / "again", capsys)
    assert again.read_text() == exported.read_text()


@pytest.mark.parametrize("name", ["xor", "sadiya_2_2_2_batch", "pvreddy_3_3_1_batch"])
def test_training_the_exported_file_runs_the_same_steps(name, tmp_path, capsys):
    path = EXAMPLES / f"{name}.toml"
    exported = _export(path, tmp_path, capsys)
    runs = []
    for file in (path, exported):
        assert main(["train", str(file), "--steps", "3", "--format", "json"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[0] == runs[1]


def _check_exported(document: dict, tmp_path: Path) -> None:
    network = network_from_mapping(document)
    exported = tmp_path / "exported.toml"
    exported.write_text(sbp.formula_file(network))
    graph = load_model(exported)
    reference = graph_diff_gradients(graph, 50)
    engine = sbp.Engine(network)
    for name, expected in reference.items():
        assert _agree(engine.gradient(name).evalf(50), expected), name
    assert sbp.check_gradients(graph, digits=30).passed


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=network_documents(max_depth=3, max_width=3))
def test_random_networks_agree_with_sympy_diff_of_their_exported_graph(document, tmp_path):
    _check_exported(document, tmp_path)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=extended_network_documents())
def test_random_skips_tied_weights_and_own_functions_agree_after_export(document, tmp_path):
    _check_exported(document, tmp_path)


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.stem)
def test_the_hostile_corpus_exports_or_is_refused_in_one_line(path, capsys):
    code = main(["graph", str(path)])
    captured = capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in captured.err
    if code == 2:
        assert captured.err.count("\n") == 1 and captured.err.startswith(f"symbackprop: {path}: "), captured.err
    else:
        tomllib.loads(captured.out)  # what is written is a TOML file


def test_a_model_of_a_function_no_formula_can_call_is_refused_naming_it():
    import sympy as sp

    x, w, t = sp.symbols("x w t")
    m = sbp.Model(inputs=[x], targets=[t], parameters={w: "0.5"})
    y = m.node("y", sp.sinh(w * x))
    m.loss((y - t) ** 2 / 2)
    m.data(inputs=["1"], targets=["0"])
    with pytest.raises(sbp.InputError, match=r"the node y: cannot be written as a formula: sinh has no form"):
        sbp.formula_file(m)


def test_the_written_file_cannot_be_written_over_its_source(tmp_path, capsys):
    path = tmp_path / "m.toml"
    path.write_text((EXAMPLES / "mazur.toml").read_text())
    assert main(["graph", str(path), "-o", str(tmp_path / "missing" / "x.toml")]) == 2
    assert "cannot write" in capsys.readouterr().err
