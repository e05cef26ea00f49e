"""Layer kinds of the network file: conv2d, maxpool2d, avgpool2d, flatten, and dense after them.

Each is held to a convolution and a pooling written again here, by hand, in mpmath (PyTorch's
cross-correlation, zero padding); every gradient to sympy.diff of the composed loss (tests/oracle.py) and
to the finite-difference check; and to the numbers dfdx publishes for its conv2d and max-pool tests
(../shared/published: f32 values, which dfdx itself asserts to within 1e-6).
"""
from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.frontends.loader import model_from_mapping

from .oracle import graph_diff_gradients

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "layers"


def _agree(ours, reference, digits: int = 40) -> bool:
    ours, reference = mpmath.mpf(str(ours)), mpmath.mpf(str(reference))
    return abs(ours - reference) <= mpmath.mpf(10) ** -digits * max(1, abs(reference))


# ---- the oracle: a convolution and a pooling by hand ---------------------------------------------------------
def conv2d_by_hand(x, weights, bias, stride: int, padding: int):
    """y[f][i][j] = b[f] + Σ_c,a,b w[f][c][a][b] · x[c][i·s + a − p][j·s + b − p] (zero outside the image)."""
    channels, height, width = len(x), len(x[0]), len(x[0][0])
    kernel = len(weights[0][0])
    rows, columns = (height + 2 * padding - kernel) // stride + 1, (width + 2 * padding - kernel) // stride + 1

    def pixel(c, i, j):
        return x[c][i][j] if 0 <= i < height and 0 <= j < width else 0

    return [[[(bias[f] if bias else 0) + sum(weights[f][c][a][b] * pixel(c, i * stride + a - padding, j * stride + b - padding)
                                             for c in range(channels) for a in range(kernel) for b in range(kernel))
              for j in range(columns)] for i in range(rows)] for f in range(len(weights))]


def pool_by_hand(x, window: int, stride: int, kind: str):
    rows, columns = (len(x[0]) - window) // stride + 1, (len(x[0][0]) - window) // stride + 1
    pick = max if kind == "maxpool2d" else (lambda cells: sum(cells) / len(cells))
    return [[[pick([x[c][i * stride + a][j * stride + b] for a in range(window) for b in range(window)])
              for j in range(columns)] for i in range(rows)] for c in range(len(x))]


def _document(x, weights, bias, stride, padding, activation="linear", pool=None, dense=None, loss=None):
    layers = [{"name": "c", "kind": "conv2d", "filters": len(weights), "kernel": len(weights[0][0]), "stride": stride,
               "padding": padding, "activation": activation, "weights": _texts(weights)}]
    if bias is not None:
        layers[0]["bias"] = _texts(bias)
    if pool is not None:
        layers.append({"name": "p", "kind": pool[0], "window": pool[1], "stride": pool[2]})
    if dense is not None:
        layers.append(dense)
    return {"network": {"inputs": ["x"], "input_shape": [len(x), len(x[0]), len(x[0][0])], "layers": layers},
            "loss": loss or {"term": "exp(out)/n"}, "data": {"inputs": _texts(x)}, "training": {"learning_rate": "0.1"}}


def _texts(nested):
    return [_texts(item) for item in nested] if isinstance(nested, list) else str(nested)


def _value(engine, name: str) -> mpmath.mpf:
    value = engine.point.evalf(sp.Symbol(name), 40)
    return mpmath.mpf(value.numerator) / value.denominator if isinstance(value, Fraction) else mpmath.mpf(value)


@st.composite
def conv_networks(draw):
    """A random conv2d (1–2 channels, a 2–5 image, kernels 1–3, stride 1–2, padding 0–1, 1–2 filters), maybe a
    pooling after it and a dense layer after that; every input value distinct (no tie in a max window)."""
    channels, height, width = draw(st.integers(1, 2)), draw(st.integers(2, 5)), draw(st.integers(2, 5))
    kernel = draw(st.integers(1, min(3, height, width)))
    stride, padding, filters = draw(st.integers(1, 2)), draw(st.integers(0, min(1, kernel - 1))), draw(st.integers(1, 2))
    count = channels * height * width
    values = draw(st.lists(st.integers(-40, 40), min_size=count, max_size=count, unique=True))
    x = [[[Fraction(values[(c * height + i) * width + j], 20) for j in range(width)] for i in range(height)]
         for c in range(channels)]
    tenth = st.integers(-9, 9).map(lambda k: Fraction(k, 10))
    weights = [[[[draw(tenth) for _ in range(kernel)] for _ in range(kernel)] for _ in range(channels)]
               for _ in range(filters)]
    bias = [draw(tenth) for _ in range(filters)] if draw(st.booleans()) else None
    activation = draw(st.sampled_from(["linear", "tanh", "sigmoid", "softplus"]))
    rows = (height + 2 * padding - kernel) // stride + 1
    columns = (width + 2 * padding - kernel) // stride + 1
    pool = None
    if min(rows, columns) >= 2 and draw(st.booleans()):
        pool = (draw(st.sampled_from(["maxpool2d", "avgpool2d"])), 2, draw(st.integers(1, 2)))
    return x, weights, bias, stride, padding, activation, pool


SMALL_CONV = ([[[Fraction(k, 10) for k in row] for row in ((3, -1, 4), (1, -5, 9), (2, 6, -5))]],
              [[[[Fraction(1, 2), Fraction(-3, 10)], [Fraction(7, 10), Fraction(1, 10)]]]], [Fraction(1, 5)], 1, 0,
              "tanh", ("maxpool2d", 2, 1))  # 16 products: the sympy.diff comparison runs on it


@settings(max_examples=30, deadline=None)
@example(case=SMALL_CONV)
@given(case=conv_networks())
def test_random_convolutions_and_pools_are_the_hand_written_ones_and_their_gradients_sympy_diffs(case):
    x, weights, bias, stride, padding, activation, pool = case
    document = _document(x, weights, bias, stride, padding, activation, pool)
    graph = model_from_mapping(document)
    engine = sbp.Engine(graph)
    with mpmath.workdps(50):
        mp = lambda v: mpmath.mpf(v.numerator) / v.denominator  # noqa: E731
        y = conv2d_by_hand([[[mp(v) for v in row] for row in channel] for channel in x],
                           [[[[mp(v) for v in row] for row in channel] for channel in f] for f in weights],
                           [mp(v) for v in bias] if bias else None, stride, padding)
        functions = {"linear": lambda v: v, "tanh": mpmath.tanh, "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)),
                     "softplus": lambda v: mpmath.log(1 + mpmath.exp(v))}
        out = [[[functions[activation](v) for v in row] for row in channel] for channel in y]
        for f, i, j in itertools.product(range(len(out)), range(len(out[0])), range(len(out[0][0]))):
            assert _agree(_value(engine, f"out_c_{f}_{i}_{j}"), out[f][i][j]), (f, i, j)
        if pool is not None:
            pooled = pool_by_hand(out, pool[1], pool[2], pool[0])
            for c, i, j in itertools.product(range(len(pooled)), range(len(pooled[0])), range(len(pooled[0][0]))):
                assert _agree(_value(engine, f"p_{c}_{i}_{j}"), pooled[c][i][j]), (c, i, j)
    # sympy.diff of the composed loss on the small ones (a 2×5×5 image under two 3×3 filters takes SymPy 13 s);
    # finite differences on all
    products = len(out) * len(out[0]) * len(out[0][0]) * len(x) * len(weights[0][0]) ** 2
    if products <= SYMPY_DIFF_PRODUCTS:
        for name, expected in graph_diff_gradients(graph, 45).items():
            assert _agree(engine.gradient(name).evalf(45), expected), name
    assert sbp.check_gradients(graph, digits=30).passed


#: The largest convolution (products of its nets in all) whose composed loss sympy.diff differentiates here.
SYMPY_DIFF_PRODUCTS = 48


def test_a_dense_layer_after_a_pool_reads_it_channel_by_channel_row_by_row():
    x = [[[Fraction(k, 10) for k in (1, -2, 3)], [Fraction(k, 10) for k in (4, 5, -6)]]]
    weights = [[[[Fraction(1, 2)]]]]
    dense = {"name": "d", "units": ["y"], "activation": "sigmoid", "weights": [["0.1"], ["0.2"]], "bias": "0.3"}
    document = _document(x, weights, None, 1, 0, pool=("maxpool2d", 2, 1), dense=dense,
                         loss={"kind": "half_sse", "targets": ["1"]})
    graph = model_from_mapping(document)
    net = graph.definitions[graph.named("net_y")]
    assert net == sp.Symbol("w_p_0_0_0_y") * sp.Symbol("p_0_0_0") + sp.Symbol("w_p_0_0_1_y") * sp.Symbol("p_0_0_1") \
        + sp.Symbol("b_d")
    for name, expected in graph_diff_gradients(graph, 45).items():
        assert _agree(sbp.Engine(graph).gradient(name).evalf(45), expected), name


# ---- published numbers: dfdx's conv2d tests 1–4, produced with PyTorch in f32 --------------------------------
DFDX = [
    dict(stride=1, padding=0,
         weights=[[[[-0.04958433, -0.43007267], [0.01935136, 0.09778714]]], [[[0.44083858, -0.20507240], [-0.30017477, -0.10937047]]]],
         bias=[0.36406237, -0.30981010],
         x=[[[-0.86713916, 0.52773184, -0.95238322], [-0.64531374, 0.77809018, -0.49099201]]],
         y=[[[0.24369538, 0.71453357]], [[-0.69169492, -0.06172103]]],
         dx=[[[0.03936806, -0.08457474, -0.26788417], [-0.03140351, -0.04316529, 0.02424446]]],
         dw=[[[[-0.00703794, -0.31814471], [0.19160703, -0.00260070]]], [[[0.01548620, -0.15778227], [0.10209797, -0.01799832]]]],
         db=[0.82979727, 0.36021793]),
    dict(stride=2, padding=0,
         weights=[[[[0.44704646, -0.29563826], [0.29228759, -0.16575140]]], [[[-0.30488998, 0.25222939], [0.13279295, 0.38153177]]]],
         bias=[-0.44699109, 0.38371694],
         x=[[[0.37100124, -0.59504986, -1.19781005], [-0.31547278, 0.58071911, 0.86612970]]],
         y=[[[-0.29368058]], [[0.30018353]]],
         dx=[[[-0.03917716, 0.06006697, 0.], [0.19859464, 0.19576924, 0.]]],
         dw=[[[[0.13829342, -0.22180916], [-0.11759478, 0.21646728]]], [[[0.25044560, -0.40169036], [-0.21296094, 0.39201635]]]],
         db=[0.37275729, 0.67505330]),
    dict(stride=1, padding=1,
         weights=[[[[0.10215953, 0.06263646], [-0.04124039, -0.09729567]], [[-0.32656857, 0.24254093], [-0.27209827, 0.15361503]]],
                  [[[0.03449896, 0.22931078], [-0.17652659, 0.08222872]], [[-0.06016779, 0.29082409], [-0.19154115, 0.13483226]]],
                  [[[-0.14262493, 0.19654515], [0.15921101, 0.01759464]], [[0.16749159, 0.33096817], [0.28376505, -0.05524009]]]],
         bias=[-0.22854491, 0.28763595, 0.20709404],
         x=[[[-0.32224107, -0.32800716]], [[-1.13570976, 0.93713200]]],
         y=[[[-0.37165433, 0.26964033, -0.47000977], [-0.52418506, 0.3161699, -0.56809187]],
            [[0.10800815, 0.66143924, 0.16603859], [-0.11654915, 0.5421771, 0.21993488]],
            [[0.26416105, -0.22402346, 0.420797], [-0.23212466, 0.3085245, 0.41083777]]],
         dx=[[[0.010052743, 0.038219165]], [[0.0013861917, 0.096129306]]],
         dw=[[[[-0.03488452, -0.035597768], [-0.03483199, -0.036207683]], [[-0.05705857, 0.03406856], [-0.05008337, 0.024666183]]],
             [[[-0.053492695, -0.04727108], [-0.05620105, -0.055251926]], [[-0.04363727, 0.033381317], [-0.0607851, 0.030584559]]],
             [[[-0.051853612, -0.03900232], [-0.04206547, -0.037880093]], [[-0.0073834136, 0.0208545], [0.02886929, -0.040557314]]]],
         db=[0.28636602, 0.44933242, 0.40484178]),
    dict(stride=3, padding=4,  # (a padding wider than the kernel: outputs that see only padding are the bias)
         weights=[[[[-0.10252278, -0.14387409, -0.14627469], [0.28396228, -0.14590892, 0.29269591], [0.01090384, 0.14785287, 0.29242596]]],
                  [[[-0.31163597, 0.13224581, -0.20954299], [0.27902845, -0.14735751, 0.14001134], [-0.05224654, 0.16499066, -0.13981307]]]],
         bias=[-0.07123789, -0.17244765],
         x=[[[0.69103152, 0.25624934], [-0.38448590, 0.03110456], [0.83753252, 0.53786588], [1.15540242, -0.54148245]]],
         y=[[[-0.07123789, -0.07123789, -0.07123789], [-0.07123789, -0.14481398, -0.07123789], [-0.07123789, -0.59748650, -0.07123789], [-0.07123789, -0.07123789, -0.07123789]],
            [[-0.17244765, -0.17244765, -0.17244765], [-0.17244765, -0.3061839, -0.17244765], [-0.17244765, -0.42046443, -0.17244765], [-0.17244765, -0.17244765, -0.17244765]]],
         dx=[[[-0.009780421, 0.01484663], [0.010391434, 0.0062526874], [0.00032053515, -0.009087289], [-0.0073772445, 0.0105412705]]],
         dw=[[[[0.0, 0.019200183, 0.012330416], [0.0, 0.051398464, -0.003175714], [0.0, -0.013860448, 0.0011212977]]],
             [[[0.0, 0.02291844, 0.01471829], [0.0, 0.05281557, -0.0069562597], [0.0, -0.011794927, 0.00095419877]]]],
         db=[0.44699076, 0.408709]),
]


def _published(value) -> mpmath.mpf:
    return mpmath.mpf(repr(value))


@pytest.mark.parametrize("case", range(len(DFDX)), ids=lambda k: f"dfdx_conv2d_test_{k + 1}")
def test_dfdx_published_convolutions_agree_to_the_1e_6_dfdx_asserts(case):
    published = DFDX[case]
    document = _document(published["x"], published["weights"], published["bias"], published["stride"],
                         published["padding"])
    graph = model_from_mapping(document)
    engine = sbp.Engine(graph)
    tolerance = mpmath.mpf("1e-6")
    for f, i, j in itertools.product(*(range(n) for n in (len(published["y"]), len(published["y"][0]),
                                                          len(published["y"][0][0])))):
        assert abs(_value(engine, f"out_c_{f}_{i}_{j}") - _published(published["y"][f][i][j])) <= tolerance
    weights = published["dw"]
    for f, c, a, b in itertools.product(*(range(n) for n in (len(weights), len(weights[0]), len(weights[0][0]),
                                                             len(weights[0][0][0])))):
        ours = mpmath.mpf(str(engine.gradient(f"w_c_{f}_{c}_{a}_{b}").evalf(30)))
        assert abs(ours - _published(weights[f][c][a][b])) <= tolerance, (f, c, a, b)
    for f, expected in enumerate(published["db"]):
        assert abs(mpmath.mpf(str(engine.gradient(f"b_c_{f}").evalf(30))) - _published(expected)) <= tolerance
    dx = published["dx"]
    for c, i, j in itertools.product(range(len(dx)), range(len(dx[0])), range(len(dx[0][0]))):
        ours = mpmath.mpf(str(engine.derivative("E", f"x_{c}_{i}_{j}").evalf(30)))
        assert abs(ours - _published(dx[c][i][j])) <= tolerance, (c, i, j)


def test_dfdx_published_max_pool_with_ties_is_a_kink_with_the_documented_half():
    """dfdx test_pool2d_3d_max2d_eq_grads: r = [1, 1, 1.2] exactly; at the tie (x00 = x01 = 1, the first window's
    maximum) the derivative is SymPy's mean of the two sides, ½ each (docs/engine.md), where dfdx gives 1 to every
    tied entry; away from the tie, dfdx's 1 for x13 is ours."""
    document = {"network": {"inputs": ["x"], "input_shape": [1, 2, 4],
                            "layers": [{"name": "p", "kind": "maxpool2d", "window": 2, "stride": 1}]},
                "loss": {"term": "out"}, "data": {"inputs": [[["1.0", "1", "0.5", "0.2"], ["0.2", "0.2", "0.5", "1.2"]]]}}
    engine = sbp.Engine(model_from_mapping(document))
    assert [engine.point.evalf(sp.Symbol(f"p_0_0_{j}"), 30) for j in range(3)] == [1, 1, Fraction(6, 5)]
    assert engine.derivative("E", "x_0_0_0").exact == sp.Rational(1, 2)
    assert engine.derivative("E", "x_0_0_1").exact == sp.Rational(3, 2)  # ½ from the tie, 1 from the second window
    assert engine.derivative("E", "x_0_1_3").exact == 1 and engine.derivative("E", "x_0_1_0").exact == 0


# ---- bad input: one line naming the layer and the numbers, before any work ------------------------------------
GOOD = {"network": {"inputs": ["x"], "input_shape": [1, 3, 3], "layers": [
    {"name": "c", "kind": "conv2d", "filters": 1, "kernel": 2, "activation": "relu",
     "weights": [[[["0.1", "0.2"], ["0.3", "0.4"]]]]}]},
    "loss": {"term": "out"}, "data": {"inputs": [[["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]]]}}


@pytest.mark.parametrize("change, place, problem", [
    (lambda d: d["network"]["layers"][0].update(kernel=4), "network.layers[0].kernel",
     "the kernel 4 is larger than the padded input (3 + 2·0 = 3)"),
    (lambda d: d["network"]["layers"][0].update(stride=0), "network.layers[0].stride",
     "stride must be a whole number from 1 to 16, got 0"),
    (lambda d: d["network"]["layers"][0].update(weights=[[[["0.1", "0.2"]]]]), "network.layers[0].weights[0][0]",
     "expected 2 kernel rows"),
    (lambda d: d["network"]["layers"][0].update(kind="conv3d"), "network.layers[0].kind", "unknown layer kind 'conv3d'"),
    (lambda d: d["network"].update(input_shape=[1, 0, 3]), "network.input_shape", "height must be from 1 to 256, got 0"),
    (lambda d: d["network"]["layers"].append({"name": "q", "kind": "maxpool2d", "window": 3}),
     "network.layers[1].window", "the window 3 is larger than the padded input (2 + 2·0 = 2)"),
    (lambda d: d["network"]["layers"].insert(0, {"name": "d", "units": ["u"], "activation": "tanh"}),
     "network.layers[1]", "a conv2d layer reads a spatial signal"),
    (lambda d: d["data"].update(inputs=[[["1", "2", "3"], ["4", "5", "6"]]]), "data.inputs",
     "expected 9 numbers (channels × height × width values), found 6"),
    (lambda d: d["network"]["layers"][0].update(filters=300), "network.layers[0].filters",
     "filters must be a whole number from 1 to 256, got 300"),
])
def test_a_layer_that_does_not_fit_is_one_line(change, place, problem, tmp_path, capsys):
    import copy
    import json

    document = copy.deepcopy(GOOD)
    change(document)
    _assert_refused(document, "derive", place, problem, tmp_path, capsys)
    json.dumps(document)  # (the document itself is plain data)


def _assert_refused(document: dict, command: str, place: str, problem: str, tmp_path, capsys) -> None:
    """``command`` on ``document`` written as a file: exit 2 and one line naming the file, the place, the problem."""
    path = tmp_path / "net.toml"
    path.write_text(_toml(document))
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"symbackprop: {path}: {place}: ") and problem in err, err


def _toml(document: dict) -> str:
    """A small TOML writer for these documents: tables of strings, whole numbers and nested lists of strings."""
    lines = []

    def value(item):
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item) + "]"
        return str(item) if isinstance(item, int) else f'"{item}"'

    network = document["network"]
    lines += ["[network]"] + [f"{k} = {value(v)}" for k, v in network.items() if k != "layers"]
    for layer in network["layers"]:
        lines += ["[[network.layers]]"] + [f"{k} = {value(v)}" for k, v in layer.items()]
    for table in ("loss", "data", "training"):
        if table in document:
            lines += [f"[{table}]"] + [f"{k} = {value(v)}" for k, v in document[table].items()]
    return "\n".join(lines) + "\n"


def test_the_shipped_layer_examples_check_and_export(tmp_path, capsys):
    for path in sorted(EXAMPLES.glob("*.toml")):
        assert main(["check", str(path)]) == 0, capsys.readouterr().err
        out = tmp_path / f"{path.stem}_graph.toml"
        assert main(["graph", str(path), "-o", str(out)]) == 0
        source, exported = sbp.Engine(sbp.load_model(path)), sbp.Engine(sbp.load_model(out))
        for name in source.graph.parameters():
            assert _agree(source.gradient(name).evalf(40), exported.gradient(name).evalf(40))
    capsys.readouterr()



def test_the_audit_accepts_a_tied_pool_gradient_from_either_side_and_nothing_between(tmp_path, capsys):
    """dfdx's 1.0 and 2.0 at the tie are the derivatives from the right (the oracle's one-sided differences of the
    input), so they are right by a named convention; 0.9, next to neither side, is an error."""
    import json

    path = EXAMPLES / "maxpool_dfdx_ties.toml"
    assert main(["audit", str(path), "--format", "json"]) == 0
    claims = json.loads(capsys.readouterr().out)["claims"]
    assert [c["verdict"] for c in claims] == ["ok"] * 9
    for index, side in ((3, "1.0"), (4, "2.0")):
        assert f"the derivative from the right ({side})" in claims[index]["reason"], claims[index]["reason"]
    for wrong in ("0.9", "1.6", "2.1"):
        corrupted = tmp_path / "corrupted.toml"
        text = path.read_text()
        quantity = "dE/dx_0_0_0" if wrong == "0.9" else "dE/dx_0_0_1"
        old = 'value = "1.0"' if wrong == "0.9" else 'value = "2.0"'
        head, tail = text.split(f'quantity = "{quantity}"\n', 1)
        corrupted.write_text(head + f'quantity = "{quantity}"\n' + tail.replace(old, f'value = "{wrong}"', 1))
        assert main(["audit", str(corrupted), "--format", "json"]) == 1
        verdicts = {c["quantity"]: c["verdict"] for c in json.loads(capsys.readouterr().out)["claims"]}
        assert verdicts[quantity] == "error", (wrong, verdicts)


def test_dfdx_f32_numbers_are_diagnosed_as_float32_arithmetic_and_a_slipped_digit_is_not(tmp_path, capsys):
    """The published conv2d outputs are float32. NumPy's float32 convolution, another order of the same operations,
    misses the exact value's 8th decimal too (the exact y[0][0][0] is 0.2436953577, NumPy's 0.24369535, PyTorch's
    published 0.24369538: a few units of float32's last place apart). The auditor names float32 for such numbers,
    not a digit typo; a digit slipped in the 6th decimal is far outside float32's noise and stays a digit typo."""
    import json

    import numpy as np

    published = DFDX[0]
    x, w, b = (np.array(published[key], dtype=np.float32) for key in ("x", "weights", "bias"))
    y00 = np.float32(b[0] + np.sum(w[0] * x[:, 0:2, 0:2], dtype=np.float32))
    unit = 2.0 ** -26  # float32's last place at 0.24
    assert f"{y00:.8f}" != "0.24369536" and abs(float(y00) - 0.24369538) <= 4 * unit
    path = EXAMPLES / "conv2d_dfdx_stride1.toml"
    assert main(["audit", str(path), "--format", "json"]) == 1
    claims = {c["quantity"]: c for c in json.loads(capsys.readouterr().out)["claims"]}
    for quantity in ("out_conv_0_0_0", "dE/dw_conv_0_0_1_1", "dE/db_conv_0"):
        assert claims[quantity]["verdict"] == "error"
        assert [d["mistake"] for d in claims[quantity]["diagnoses"]] == ["float32"], claims[quantity]["diagnoses"]
    slipped = tmp_path / "slipped.toml"
    slipped.write_text(path.read_text().replace('value = "0.24369538"', 'value = "0.24369836"'))
    assert main(["audit", str(slipped), "--format", "json"]) == 1
    first = json.loads(capsys.readouterr().out)["claims"][0]
    assert first["verdict"] == "error" and [d["mistake"] for d in first["diagnoses"]] == ["digit_typo"], first


@pytest.mark.parametrize("shape, kernel, filters, says", [
    ([1, 100, 100], 16, 1, "add 14,707 nodes and parameters"),   # once 38 s of building before the refusal
    ([1, 60, 60], 3, 4, "add 26,952 nodes and parameters"),
    ([64, 128, 128], 3, 1, "inputs: more than the 20,000 nodes"),
])
def test_a_layer_too_large_for_the_graph_is_refused_before_it_is_built(shape, kernel, filters, says):
    import time

    from symbackprop.errors import InputError

    document = {"network": {"inputs": ["x"], "input_shape": shape, "layers": [
        {"name": "c", "kind": "conv2d", "filters": filters, "kernel": kernel, "activation": "relu"}]},
        "loss": {"term": "out"}}
    started = time.monotonic()
    with pytest.raises(InputError, match=says):
        model_from_mapping(document)
    assert time.monotonic() - started < 1


# ---- a recurrent cell unrolled: h_t = f(W x_t + U h_(t-1) + b) -------------------------------------------------
def rnn_by_hand(xs, w, u, b, initial, f):
    """Every h_t of a recurrent cell, written again here (xs: a row of inputs per step; w[j][i], u[j][k])."""
    h, states = list(initial), []
    for x in xs:
        h = [f(sum(w[j][i] * x[i] for i in range(len(x))) + sum(u[j][k] * h[k] for k in range(len(h)))
               + (b[j] if b else 0)) for j in range(len(w))]
        states.append(h)
    return states


@st.composite
def rnn_networks(draw):
    steps, inputs, units = draw(st.integers(1, 4)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    tenth = st.integers(-9, 9).map(lambda k: Fraction(k, 10))
    grid = lambda rows, columns: [[draw(tenth) for _ in range(columns)] for _ in range(rows)]  # noqa: E731
    w, u = grid(units, inputs), grid(units, units)
    b = [draw(tenth) for _ in range(units)] if draw(st.booleans()) else None
    initial = [draw(tenth) for _ in range(units)] if draw(st.booleans()) else None
    xs = grid(steps, inputs)
    activation = draw(st.sampled_from(["tanh", "sigmoid", "linear"]))
    convention = draw(st.sampled_from(["row", "column"]))
    return steps, w, u, b, initial, xs, activation, convention


@settings(max_examples=25, deadline=None)
@given(case=rnn_networks())
def test_random_recurrent_cells_are_the_hand_written_ones_and_their_gradients_sympy_diffs(case):
    steps, w, u, b, initial, xs, activation, convention = case
    units = [f"h{j + 1}" for j in range(len(w))]
    inputs = [f"x{i + 1}" for i in range(len(w[0]))]

    def matrix(m):  # w[j][i] joins source i to unit j: the row convention writes a row per source
        return _texts([list(row) for row in zip(*m)] if convention == "row" else m)

    layer = {"name": "r", "kind": "rnn", "units": units, "activation": activation, "weights": matrix(w),
             "recurrent_weights": matrix(u)}
    if b is not None:
        layer["bias"] = _texts(b)
    if initial is not None:
        layer["initial"] = _texts(initial)
    document = {"network": {"inputs": inputs, "steps": steps, "convention": convention, "layers": [
        layer, {"name": "o", "units": ["y"], "activation": "linear", "weights": [["0.7"]] * len(units)
                if convention == "row" else [["0.7"] * len(units)]}]},
        "loss": {"kind": "half_sse", "targets": ["0.25"]}, "data": {"inputs": _texts(xs)},
        "training": {"learning_rate": "0.1"}}
    graph = model_from_mapping(document)
    engine = sbp.Engine(graph)
    functions = {"tanh": mpmath.tanh, "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)), "linear": lambda v: v}
    with mpmath.workdps(50):
        mp = lambda v: mpmath.mpf(v.numerator) / v.denominator  # noqa: E731
        states = rnn_by_hand([[mp(v) for v in row] for row in xs], [[mp(v) for v in row] for row in w],
                             [[mp(v) for v in row] for row in u], [mp(v) for v in b] if b else None,
                             [mp(v) for v in initial] if initial else [0] * len(units), functions[activation])
        for t, state in enumerate(states, 1):
            for unit, value in zip(units, state):
                assert _agree(_value(engine, f"{unit}_{t}"), value), (unit, t)
    for name, expected in graph_diff_gradients(graph, 45).items():
        assert _agree(engine.gradient(name).evalf(45), expected), name
    assert sbp.check_gradients(graph, digits=30).passed


def test_a_shared_recurrent_weight_sums_a_term_per_step():
    """BPTT: ∂E/∂u over three steps is Σ_t ∂E/∂net_t · h_(t−1), a term per step after the first (h_0 = 0)."""
    document = {"network": {"inputs": ["x"], "steps": 3, "layers": [
        {"name": "r", "kind": "rnn", "units": ["h"], "activation": "tanh", "weights": [["0.5"]],
         "recurrent_weights": [["0.8"]], "bias": ["0.1"]},
        {"name": "o", "units": ["y"], "activation": "linear", "weights": [["1.5"]]}]},
        "loss": {"kind": "half_sse", "targets": ["0.5"]}, "data": {"inputs": [["1"], ["-0.5"], ["2"]]}}
    engine = sbp.Engine(model_from_mapping(document))
    chain = [[str(f) for f in term] for term in engine.gradient("w_h_h").chain]
    assert chain == [["∂E/∂net_h_2", "∂net_h_2/∂w_h_h"], ["∂E/∂net_h_3", "∂net_h_3/∂w_h_h|direct"]]
    assert [str(f) for term in engine.gradient("w_x_h").chain for f in term][::2] == \
        ["∂E/∂net_h_1", "∂E/∂net_h_2", "∂E/∂net_h_3"]


@pytest.mark.parametrize("change, place, problem", [
    (lambda d: d["network"].pop("steps"), "network.layers[0]", "an rnn layer reads a sequence"),
    (lambda d: d["network"].update(steps=0), "network.steps", "steps must be a whole number from 1 to 256, got 0"),
    (lambda d: d["network"]["layers"][0].update(recurrent_weights=[["0.8", "0.1"]]),
     "network.layers[0].recurrent_weights[0]", "expected 1 entries"),
    (lambda d: d["data"].update(inputs=[["1"], ["2"]]), "data.inputs", "expected 3 rows, one per time step"),
    (lambda d: d["network"]["layers"].insert(0, {"name": "d", "units": ["u"], "activation": "tanh"}),
     "network.layers[0]", "a dense layer reads one value per input, not a sequence"),
])
def test_a_recurrent_layer_that_does_not_fit_is_one_line(change, place, problem, tmp_path, capsys):
    import copy

    document = copy.deepcopy({"network": {"inputs": ["x"], "steps": 3, "layers": [
        {"name": "r", "kind": "rnn", "units": ["h"], "activation": "tanh", "weights": [["0.5"]],
         "recurrent_weights": [["0.8"]]}]},
        "loss": {"term": "out"}, "data": {"inputs": [["1"], ["-0.5"], ["2"]]}})
    change(document)
    _assert_refused(document, "check", place, problem, tmp_path, capsys)


JUNK = st.one_of(st.integers(-10**6, 10**6), st.text(max_size=8), st.booleans(), st.floats(allow_nan=True),
                 st.lists(st.integers(-3, 3), max_size=3), st.lists(st.lists(st.text(max_size=3), max_size=2), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
RNN = {"network": {"inputs": ["x"], "steps": 2, "layers": [
    {"name": "r", "kind": "rnn", "units": ["h"], "activation": "tanh", "weights": [["0.5"]],
     "recurrent_weights": [["0.8"]], "bias": ["0.1"], "initial": ["0"]},
    {"name": "o", "units": ["y"], "activation": "linear", "weights": [["1.5"]]}]},
    "loss": {"kind": "half_sse", "targets": ["0.5"]}, "data": {"inputs": [["1"], ["2"]]}}
CONV = {"network": {"inputs": ["x"], "input_shape": [1, 3, 3], "layers": [
    {"name": "c", "kind": "conv2d", "filters": 1, "kernel": 2, "stride": 1, "padding": 0, "activation": "relu",
     "weights": [[[["0.1", "0.2"], ["0.3", "0.4"]]]], "bias": ["0.1"]},
    {"name": "p", "kind": "maxpool2d", "window": 2, "stride": 1}]},
    "loss": {"term": "out"}, "data": {"inputs": [[["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]]]}}


@settings(max_examples=150, deadline=None)
@given(base=st.sampled_from([RNN, CONV]), where=st.integers(0, 40), junk=JUNK)
def test_any_value_anywhere_in_a_layered_file_is_read_or_refused_as_bad_input(base, where, junk):
    """Each key of a layered document in turn given a value of another type or shape: the reader either builds
    the graph or raises InputError (one line at the CLI), never anything else."""
    import copy

    from symbackprop.errors import InputError

    document = copy.deepcopy(base)
    places = []

    def collect(node):
        if isinstance(node, dict):
            for key, value in node.items():
                places.append((node, key))
                collect(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                places.append((node, index))
                collect(value)

    collect(document)
    container, key = places[where % len(places)]
    container[key] = junk
    try:
        model_from_mapping(document)
    except InputError:
        pass
