"""The softmax Jacobian in full: the cross-output terms that hand derivations drop."""
import mpmath
import pytest
import sympy as sp

from symbackprop import Engine, network_from_mapping
from symbackprop.oracle.numeric import finite_difference
from symbackprop.quantity import Quantity


def softmax_network(loss: str, targets):
    return network_from_mapping({
        "network": {"inputs": ["x1", "x2"], "layers": [
            {"units": ["h1", "h2"], "activation": "sigmoid", "weights": [["0.5", "-0.4"], ["0.3", "0.8"]], "bias": "0.1"},
            {"units": ["o1", "o2", "o3"], "activation": "softmax",
             "weights": [["0.2", "-0.3", "0.6"], ["0.7", "0.1", "-0.5"]], "bias": ["0.1", "0", "-0.1"]},
        ]},
        "loss": {"kind": loss, "targets": targets},
        "data": {"inputs": ["1", "-2"]},
    })


def diagonal_only(network, parameter: str) -> mpmath.mpf:
    """What a hand derivation gets when it keeps only ∂out_j/∂net_j: δ_j = ∂E/∂out_j · out_j(1 − out_j)."""
    engine = Engine(network)
    p = next(p for p in network.parameters() if p.name == parameter)
    unit = p.units[0]
    out = engine.point.value_of(Quantity.out(unit), 40)
    dE_dout = engine.derivative(Quantity.loss(), Quantity.out(unit)).evalf(40)
    source = engine.point.value_of(Quantity.out(p.source), 40)
    return dE_dout * out * (1 - out) * source


@pytest.mark.parametrize("loss,targets", [
    ("half_sse", ["0.2", "0.7", "0.1"]),
    ("binary_cross_entropy", ["0", "1", "0"]),
])
def test_full_jacobian_differs_from_diagonal_and_matches_finite_differences(loss, targets):
    network = softmax_network(loss, targets)
    engine = Engine(network)
    for name in ("w_h1_o1", "w_h2_o2", "w_h1_o3"):
        ours = engine.gradient(name).evalf(45)
        diagonal = diagonal_only(network, name)
        with mpmath.workdps(60):
            numeric = finite_difference(network, name, 50).value
            assert abs(mpmath.mpf(ours._to_mpmath(200)) - numeric) < mpmath.mpf("1e-40")
        assert abs(ours - diagonal) > sp.Float("1e-4"), "the cross-output terms changed nothing?"


def test_every_cross_output_term_is_listed():
    engine = Engine(softmax_network("half_sse", ["0.2", "0.7", "0.1"]))
    gradient = engine.gradient("w_h1_o2")
    (delta, local), = gradient.chain
    assert str(delta) == "∂E/∂net(o2)" and str(local) == "∂net(o2)/∂w_h1_o2"
    assert [[str(f) for f in term] for term in delta.terms] == [
        ["∂E/∂out(o1)", "∂out(o1)/∂net(o2)"],
        ["∂E/∂out(o2)", "∂out(o2)/∂net(o2)"],
        ["∂E/∂out(o3)", "∂out(o3)/∂net(o2)"],
    ]
    o1, o2 = sp.symbols("out_o1 out_o2")
    assert delta.terms[0][1].expression == -o1 * o2
    assert delta.terms[1][1].expression == o2 * (1 - o2)
    assert gradient.path_count == 3


def test_hidden_gradient_sums_every_downstream_unit_and_every_softmax_path():
    engine = Engine(softmax_network("half_sse", ["0.2", "0.7", "0.1"]))
    gradient = engine.gradient("w_x1_h1")
    assert gradient.path_count == 9  # 3 output nets × 3 softmax outputs each
    paths = gradient.paths()
    assert len(paths) == 9
    total = sum(sp.Mul(*[f.expression for f in path]) for path in paths)
    assert sp.expand(total - gradient.compact) == 0
