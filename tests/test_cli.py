"""The command line's contracts: JSON shapes, exit codes, formats."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop.cli import main

ROOT = Path(__file__).resolve().parent.parent
MAZUR = str(ROOT / "examples" / "mazur.toml")
SOFTMAX = str(ROOT / "examples" / "softmax_classifier.toml")


def significant_digits(text: str) -> int:
    mantissa = text.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


def test_derive_json_contract(capsys):
    assert main(["derive", MAZUR, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    gradients = document["gradients"]
    assert list(gradients)[:4] == ["w1", "w2", "w3", "w4"]  # as Mazur numbers them
    w5 = gradients["w5"]
    assert [f["factor"] for f in w5["chain"]] == ["∂E/∂out(o1)", "∂out(o1)/∂net(o1)", "∂net(o1)/∂w5"]
    assert w5["compact"] == "out_h1*out_o1*(1 - out_o1)*(out_o1 - t_o1)"
    assert w5["latex"].startswith(r"\frac{\partial E}{\partial \mathrm{out}_{o1}}")  # --form chain names the factors
    assert w5["latex"].split(" = ")[-1].startswith(r"\mathrm{out}_{h1}")
    assert w5["value"].startswith("0.082167040564230778846")
    assert significant_digits(w5["value"]) >= 30


def test_derive_without_data_has_no_value(tmp_path, capsys):
    text = Path(MAZUR).read_text().split("[data]")[0]
    path = tmp_path / "symbolic.toml"
    path.write_text(text)
    assert main(["derive", str(path), "--format", "json", "--wrt", "w1"]) == 0
    w1 = json.loads(capsys.readouterr().out)["gradients"]["w1"]
    assert "value" not in w1 and w1["compact"]


@pytest.mark.parametrize("form", ["chain", "compact", "closed", "simplified"])
def test_derive_forms(capsys, form):
    assert main(["derive", SOFTMAX, "--wrt", "w_h2_c3", "--form", form]) == 0
    out = capsys.readouterr().out
    assert out.startswith("∂E/∂w_h2_c3 = ")
    if form == "simplified":
        assert "out_h2*(out_c3 - t_c3)" in out
    if form == "closed":
        assert "out_" not in out.splitlines()[0] and "tanh" in out


def test_derive_latex(capsys):
    assert main(["derive", MAZUR, "--wrt", "w5", "--format", "latex", "--form", "compact"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == (r"\frac{\partial E}{\partial w_{5}} = \mathrm{out}_{h1} \mathrm{out}_{o1} "
                   r"\left(1 - \mathrm{out}_{o1}\right) \left(\mathrm{out}_{o1} - t_{o1}\right)")


def test_check_json_contract(capsys):
    assert main(["check", SOFTMAX, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert significant_digits(document["loss"]) >= 30
    for name, row in document["gradients"].items():
        assert row["status"] == "ok"
        assert set(row) >= {"analytic", "numeric", "abs_error", "status"}
        assert significant_digits(row["analytic"]) >= 30 or row["analytic"] == "0"


def test_check_float64(capsys):
    assert main(["check", MAZUR, "--float64"]) == 0
    assert "10 ok" in capsys.readouterr().out


def test_check_exits_1_when_a_derivative_rule_is_wrong(capsys, monkeypatch):
    """Break the sigmoid's own derivative (its fdiff): the independent oracle must notice."""
    from symbackprop.functions import activations

    monkeypatch.setattr(activations.sigmoid, "fdiff", lambda self, argindex=1: self * (1 + self))
    assert main(["check", MAZUR, "--format", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)["gradients"]
    assert all(row["status"] == "mismatch" for row in rows.values())


def test_check_reports_a_relu_kink(tmp_path, capsys):
    path = tmp_path / "kink.toml"
    path.write_text("""
[network]
inputs = ["x"]
[[network.layers]]
units = ["h"]
activation = "relu"
weights = [["1"]]
bias = "-2"
[[network.layers]]
units = ["y"]
activation = "linear"
weights = [["3"]]
[loss]
kind = "half_sse"
targets = ["1"]
[data]
inputs = ["2"]
""")
    assert main(["check", str(path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["gradients"]
    assert rows["w_x_h"]["status"] == "kink" and rows["w_x_h"]["kinks"] == ["h"]
    assert rows["w_h_y"]["status"] == "ok"


def test_python_dash_m_and_help_are_fast():
    result = subprocess.run([sys.executable, "-m", "symbackprop", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "derive" in result.stdout
    result = subprocess.run([sys.executable, "-c", "import sys, symbackprop.cli; print('sympy' in sys.modules)"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "False"  # the CLI module imports SymPy only when a command runs


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["derive"])
    assert caught.value.code == 2


def test_the_installed_command_runs_every_subcommand_outside_the_checkout(tmp_path):
    """Run from elsewhere, so that the installed distribution (not this checkout) is what runs:
    a subpackage left out of the wheel fails here."""
    import os
    import shutil

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = shutil.which("symbackprop", path=os.path.dirname(sys.executable)) or shutil.which("symbackprop")
    assert command, "the console script is not installed: run the README's install command first"
    audit_file = str(ROOT / "examples" / "audit" / "balaji_seed001.toml")
    for arguments, expected in [(["derive", MAZUR, "--wrt", "w5"], 0), (["check", MAZUR, "--float64"], 0),
                                (["audit", audit_file], 0), (["explain", MAZUR, "--format", "latex"], 0),
                                (["latex", MAZUR, "--wrt", "w1"], 0), (["diagram", MAZUR], 0),
                                (["train", MAZUR, "--steps", "2"], 0)]:
        result = subprocess.run([command, *arguments], capture_output=True, text=True, cwd=tmp_path, env=env)
        assert result.returncode == expected, (arguments, result.stderr[-500:])
    probe = subprocess.run([sys.executable, "-c", "import symbackprop.audit, symbackprop; print(symbackprop.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    checkout = str(ROOT / "symbackprop" / "__init__.py")
    assert probe.returncode == 0 and probe.stdout.strip() != checkout, probe.stdout + probe.stderr


def test_version_is_printed_and_exits_0(capsys):
    import importlib.metadata

    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"symbackprop {importlib.metadata.version('symbackprop')}"


def test_the_output_comparison_covers_every_example_and_every_command():
    """scripts/compare_outputs.py is the proof of a redesign: it must reach every shipped example and command."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("compare_outputs", ROOT / "scripts" / "compare_outputs.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    cases = script.cases(ROOT)
    assert {case[1] for case in cases} == {str(p.relative_to(ROOT)) for p in (ROOT / "examples").rglob("*.toml")}
    from symbackprop.cli import _parser

    commands = set(_parser()._subparsers._group_actions[0].choices)
    assert {case[0] for case in cases} == commands
