"""Bad input: one line on stderr naming the file, the place and the problem; exit code 2; never a traceback."""
import copy
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import InputError, network_from_mapping
from symbackprop.cli import main

GOOD = """
[network]
inputs = ["i1", "i2"]

[[network.layers]]
name = "hidden"
units = ["h1", "h2"]
activation = "sigmoid"
weights = [["0.15", "0.25"], ["0.20", "0.30"]]
bias = "0.35"

[[network.layers]]
name = "output"
units = ["o1", "o2"]
activation = "sigmoid"
weights = [["0.40", "0.50"], ["0.45", "0.55"]]
bias = "0.60"

[loss]
kind = "half_sse"
targets = ["0.01", "0.99"]

[data]
inputs = ["0.05", "0.10"]
"""


def run(tmp_path, capsys, text, *extra, command="check"):
    path = tmp_path / "net.toml"
    path.write_text(text, encoding="utf-8")
    code = main([command, str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.err, path


CASES = [
    ("unreadable TOML", ("[network", "[network]\n[network"), "", "not valid TOML"),
    ("unknown activation", ('activation = "sigmoid"\nweights = [["0.40"', 'activation = "swish"\nweights = [["0.40"'),
     "network.layers[1].activation", "unknown activation 'swish'"),
    ("unknown loss", ('kind = "half_sse"', 'kind = "hinge"'), "loss.kind", "unknown loss 'hinge'"),
    ("too many rows", ('[["0.40", "0.50"], ["0.45", "0.55"]]', '[["0.40", "0.50"], ["0.45", "0.55"], ["1", "2"]]'),
     "network.layers[1].weights", "expected 2 rows"),
    ("short row", ('[["0.40", "0.50"], ["0.45", "0.55"]]', '[["0.40", "0.50"], ["0.45"]]'),
     "network.layers[1].weights[1]", "expected 2 entries"),
    ("not a number", ('[["0.40", "0.50"], ["0.45", "0.55"]]', '[["0.40", "abc"], ["0.45", "0.55"]]'),
     "network.layers[1].weights[0][1]", "'abc' is not a number"),
    ("NaN string", ('bias = "0.35"', 'bias = "NaN"'), "network.layers[0].bias", "not a finite number"),
    ("NaN number", ('bias = "0.35"', "bias = nan"), "network.layers[0].bias", "not a finite number"),
    ("infinity", ('bias = "0.60"', "bias = inf"), "network.layers[1].bias", "not a finite number"),
    ("huge exponent", ('inputs = ["0.05", "0.10"]', 'inputs = ["0.05", "1e1000000000"]'), "data.inputs[1]", "out of range"),
    ("huge TOML exponent", ('inputs = ["0.05", "0.10"]', 'inputs = ["0.05", 1e300]'), "data.inputs[1]", "out of range"),
    ("duplicate name", ('units = ["o1", "o2"]', 'units = ["o1", "h1"]'), "network.layers[1].units[1]", "used twice"),
    ("reserved name", ('units = ["h1", "h2"]', 'units = ["h1", "E"]'), "network.layers[0].units[1]", "reserved"),
    ("bad name", ('units = ["h1", "h2"]', 'units = ["h1", "2h"]'), "network.layers[0].units[1]", "not a valid name"),
    ("target count", ('targets = ["0.01", "0.99"]', 'targets = ["0.01"]'), "loss.targets", "expected 2 numbers"),
    ("not a distribution", ('kind = "half_sse"\ntargets = ["0.01", "0.99"]', 'kind = "cross_entropy"\ntargets = ["0.5", "0.6"]'),
     "loss.targets", "must be a distribution"),
    ("decimal comma", ('bias = "0.35"', 'bias = "0,35"'), "network.layers[0].bias", "decimal comma"),
    ("data count", ('inputs = ["0.05", "0.10"]', 'inputs = ["0.05"]'), "data.inputs", "expected 2 numbers"),
    ("unknown key", ('activation = "sigmoid"\nweights = [["0.15"', 'activaton = "sigmoid"\nweights = [["0.15"'),
     "network.layers[0].activaton", "did you mean 'activation'"),
    ("weight names shape", ('bias = "0.35"', 'bias = "0.35"\nweight_names = [["a", "b"]]'),
     "network.layers[0].weight_names", "expected 2 rows"),
    ("name collides with a node symbol", ('units = ["o1", "o2"]\n', 'units = ["o1", "o2"]\nweight_names = [["net_h1", "a"], ["b", "c"]]\n'),
     "network.layers[1].weight_names", "collides"),
]


@pytest.mark.parametrize("label,edit,place,message", CASES, ids=[c[0] for c in CASES])
def test_each_bad_input_exits_2_naming_file_and_place(tmp_path, capsys, label, edit, place, message):
    old, new = edit
    assert old in GOOD, label
    code, err, path = run(tmp_path, capsys, GOOD.replace(old, new, 1))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(path) in err and place in err and message in err, err


def test_the_good_file_is_good(tmp_path, capsys):
    code, err, _ = run(tmp_path, capsys, GOOD)
    assert code == 0 and err == ""


def test_unicode_minus_from_web_pages_is_accepted(tmp_path, capsys):
    code, err, _ = run(tmp_path, capsys, GOOD.replace('bias = "0.35"', 'bias = "\u22120.35"'))
    assert code == 0, err


def test_missing_file(tmp_path, capsys):
    code = main(["check", str(tmp_path / "nope.toml")])
    err = capsys.readouterr().err
    assert code == 2 and "nope.toml" in err and "cannot read file" in err


def test_unknown_wrt(tmp_path, capsys):
    code, err, _ = run(tmp_path, capsys, GOOD, "--wrt", "w99", command="derive")
    assert code == 2 and "--wrt w99" in err and "no parameter" in err


def test_millions_of_units_are_refused_quickly():
    document = {"network": {"inputs": ["x"], "layers": [{"units": [f"u{i}" for i in range(2_000_000)],
                                                          "activation": "linear"}]},
                "loss": {"kind": "sse"}}
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"at most 1024 per layer") as caught:
        network_from_mapping(document)
    assert time.perf_counter() - start < 1.0
    assert caught.value.place == "network.layers[0].units"


def test_a_file_of_a_million_units_is_refused_quickly(tmp_path, capsys):
    names = ", ".join(f'"u{i}"' for i in range(200_000))
    text = GOOD.replace('units = ["h1", "h2"]', f"units = [{names}]")
    start = time.perf_counter()
    code, err, _ = run(tmp_path, capsys, text)
    assert code == 2 and "network.layers[0].units" in err
    assert time.perf_counter() - start < 5.0


def test_undefined_loss_is_a_clean_error(tmp_path, capsys):
    text = GOOD.replace('activation = "sigmoid"\nweights = [["0.40"', 'activation = "linear"\nweights = [["0.40"')
    text = text.replace('kind = "half_sse"\ntargets = ["0.01", "0.99"]', 'kind = "cross_entropy"\ntargets = ["0", "1"]')
    text = text.replace('bias = "0.60"', 'bias = "-5"')  # outputs negative: ln(o) undefined
    code, err, _ = run(tmp_path, capsys, text, command="derive")
    assert code == 2 and "undefined" in err and "Traceback" not in err


# ---- fuzzing ------------------------------------------------------------------------------------
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12))
documents = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["network", "layers", "units", "inputs", "weights", "bias", "loss", "kind", "targets",
                         "data", "activation", "convention", "training", "learning_rate", "x"]), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_fuzz_random_documents_give_only_clean_errors(document):
    try:
        network_from_mapping(document)
    except InputError as error:
        assert str(error)


def _leaf_paths(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaf_paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaf_paths(value, path + (index,))
    yield path


def _mutated(document: dict, data, values) -> dict:
    """A copy of ``document`` with one to three of its leaves replaced by drawn values."""
    paths = [p for p in _leaf_paths(document) if p]
    mutated = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        target = mutated
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = data.draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return mutated


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_valid_documents_give_only_clean_errors(data):
    import tomllib

    mutated = _mutated(tomllib.loads(GOOD), data, json_leaves | st.lists(json_leaves, max_size=3))
    try:
        network_from_mapping(mutated)
    except InputError as error:
        assert str(error)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200) | st.sampled_from([GOOD[:n] for n in range(0, len(GOOD), 37)]))
def test_fuzz_random_file_text_through_the_cli(tmp_path, capsys, text):
    path = tmp_path / "fuzz.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    code = main(["derive", str(path), "--format", "json"])
    err = capsys.readouterr().err
    assert code in (0, 2)
    if code == 2:
        assert err.count("\n") == 1 and str(path) in err


GOOD_EXTENDED = """
[activations.swish]
formula = "x*sigmoid(x)"
[network]
inputs = ["x1", "x2"]
[[network.layers]]
units = ["h1"]
activation = "swish"
weights = [["0.1"], ["0.2"]]
weight_names = [["a"], ["b"]]
[[network.layers]]
units = ["o1"]
activation = "tanh"
sources = ["h1", "x1"]
weights = [["0.3"], ["0.1"]]
weight_names = [["c"], ["a"]]
[loss]
term = "abs(out - t)"
targets = ["0.5"]
[data]
inputs = ["1", "2"]
"""


@pytest.mark.parametrize("good", ["graph", "extended"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_mutated_graphs_and_extended_networks_give_only_clean_errors(good, data):
    import tomllib

    from symbackprop.frontends.formulas import graph_from_mapping

    text = (Path(__file__).resolve().parent.parent / "examples" / "graphs" / "residual.toml").read_text() \
        if good == "graph" else GOOD_EXTENDED
    mutated = _mutated(tomllib.loads(text), data, json_leaves | st.lists(json_leaves, max_size=3)
                       | st.sampled_from(["x +", "exp(exp(exp(99)))", "h^99", "t", "f2", "__x__"]))
    try:
        graph_from_mapping(mutated) if good == "graph" else network_from_mapping(mutated)
    except InputError as error:
        assert str(error) and "\n" not in str(error)
