"""The worked example: every number against an independent oracle, LaTeX that compiles, the softmax terms.

The oracle here is the finite-difference evaluator and the mpmath forward pass of
``symbackprop.oracle.numeric`` (which read the Network, never the graph or the engine):
each equation of an explanation whose left side is a quantity is checked by
computing that quantity independently and rounding it to the places shown.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from symbackprop.engine.chain import Engine
from symbackprop.cli import main
from symbackprop.reports.document import Display, to_latex, to_markdown
from symbackprop.reports.explain import explain
from symbackprop.frontends.loader import load_network, network_from_mapping
from symbackprop.oracle.numeric import Ops, forward, numeric_derivative
from symbackprop.oracle.differences import _mp_number
from symbackprop.reports.printing import quantity_latex
from symbackprop.quantity import Quantity

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
LINEAR_2_2_1 = EXAMPLES / "balaji_linear.toml"
SIGMOID_2_2_2 = EXAMPLES / "mazur.toml"
RELU_SIGMOID_SOFTMAX = EXAMPLES / "relu_sigmoid_softmax.toml"
EVERY_ACTIVATION = EXAMPLES / "every_activation.toml"
THREE_NETWORKS = [LINEAR_2_2_1, SIGMOID_2_2_2, RELU_SIGMOID_SOFTMAX]

_NUMBER = r"-?\d+(?:\.\d+)?(?: \\times 10\^\{-?\d+\})?"  # an exact zero is written 0
_DECIMAL = r"-?\d+\.\d+(?: \\times 10\^\{-?\d+\})?"  # a number with its decimals, never a bare digit
_LAST_NUMBER = re.compile(rf"=\s*({_NUMBER})\s*$")
#: Finite differences at 40 digits resolve values down to about this size, no further.
ORACLE_FLOOR = 1e-30
_FRACTION = re.compile(r"^\\frac\{\\partial (.+)\}\{\\partial (.+)\}$")


def shown(value, places: int, scientific: bool = False) -> str:
    """``value`` as an explanation shows it, rounded here with the decimal module (not the package's code):
    half to even at ``places`` decimals; scientific below two significant digits or from 10¹⁶ on (or always,
    with ``scientific``: the total of a sum whose terms need it)."""
    from decimal import ROUND_HALF_EVEN, Decimal, localcontext

    with mpmath.workdps(80), localcontext() as context:
        context.prec = 200
        value = mpmath.mpf(value.numerator) / value.denominator if isinstance(value, Fraction) else mpmath.mpf(value)
        number = Decimal(mpmath.nstr(value, 60, min_fixed=-(10**6), max_fixed=10**6))
        quantum = Decimal(1).scaleb(-places)
        if number and (scientific or abs(number) < Decimal(10) ** (1 - places) or number.adjusted() >= 16):
            power = number.adjusted()
            mantissa = number.scaleb(-power).quantize(quantum, ROUND_HALF_EVEN)
            if abs(mantissa) >= 10:
                power += 1
                mantissa = number.scaleb(-power).quantize(quantum, ROUND_HALF_EVEN)
            return r"%s \times 10^{%d}" % (mantissa, power)
        text = format(number.quantize(quantum, ROUND_HALF_EVEN), "f")
        return text[1:] if text.startswith("-") and set(text[1:]) <= set("0.") else text


class Oracle:
    """Independent values of every quantity an explanation can state, rounded as it would show them."""

    def __init__(self, network, places: int):
        self.network = network
        self.places = places
        self.graph = Engine(network).graph  # names only: which LaTeX means which quantity
        self.by_latex = {quantity_latex(q, self.graph): q for q in self.graph.order}
        with mpmath.workdps(60):
            self.before = forward(network, {}, _mp_number, Ops())
            self.after = None
            if network.learning_rate is not None:
                rate = _mp_number(network.learning_rate)
                new = {}
                for p in network.parameters():
                    if p.kind == "bias" and not network.update_biases:
                        continue
                    gradient = numeric_derivative(network, Quantity.loss(), Quantity.param(p.name), 40).value
                    new[p.name] = _mp_number(p.value) - rate * gradient
                self.new_parameters = new
                self.after = forward(network, new, _mp_number, Ops())

    def value(self, lhs: str):
        """The oracle's value for an equation's left side, or None when it is not a single quantity."""
        lhs = lhs.strip()
        if lhs.endswith("^{+}"):
            inner = lhs[:-4].strip()
            inner = inner[1:-1] if inner.startswith("{") and inner.endswith("}") else inner
            quantity = self.by_latex.get(inner)
            if quantity is None or self.after is None:
                return None
            if quantity.kind == "param" and quantity.name not in self.new_parameters:
                return self.before.value(quantity)
            return self.after.value(quantity)
        match = _FRACTION.match(lhs)
        if match:
            of, wrt = self.by_latex.get(match[1]), self.by_latex.get(match[2])
            if of is None or wrt is None:
                return None
            with mpmath.workdps(60):
                return numeric_derivative(self.network, of, wrt, 40).value
        quantity = self.by_latex.get(lhs)
        return None if quantity is None else self.before.value(quantity)


def stated_values(document):
    """(left side, last number) of every display equation; aligned blocks give their first left side."""
    for block in document.blocks:
        if not isinstance(block, Display):
            continue
        text = block.latex.replace("\\begin{aligned}", "").replace("\\end{aligned}", "").strip()
        if "\\text{path" in text or text.startswith("\\begin{bmatrix}") or "W^{(" in text.split("=")[0]:
            continue
        flat = " ".join(line.strip().rstrip("\\").strip() for line in text.splitlines()).replace("&", "")
        lhs = flat.split(" = ")[0]
        match = _LAST_NUMBER.search(flat)
        if match:
            yield lhs, match[1]


def unchecked_statements(document, oracle: Oracle) -> list[str]:
    """Every stated value the oracle disagrees with, as 'lhs: shown vs oracle'."""
    wrong = []
    for lhs, number in stated_values(document):
        value = oracle.value(lhs)
        if value is None:
            continue
        expected = shown(value, oracle.places, scientific=r"\times" in number)
        if abs(value) < ORACLE_FLOOR and abs(_to_number(number)) < ORACLE_FLOOR:
            continue  # below what finite differences resolve: an exact zero and its noise look alike
        if number != expected:
            wrong.append(f"{lhs}: shown {number}, oracle {expected}")
    return wrong


def checked_count(document, oracle: Oracle) -> int:
    return sum(1 for lhs, _ in stated_values(document) if oracle.value(lhs) is not None)


@pytest.mark.parametrize("path", THREE_NETWORKS + [EVERY_ACTIVATION], ids=lambda p: p.stem)
@pytest.mark.parametrize("places", [4, 7])
def test_every_stated_value_equals_an_independent_oracle_at_the_places_shown(path, places):
    network = load_network(path)
    document = explain(Engine(network), places=places)
    oracle = Oracle(network, places)
    assert unchecked_statements(document, oracle) == []
    parameters = len(network.parameters())
    units = sum(len(layer.units) for layer in network.layers)
    # forward (net, out per unit), loss terms, every gradient, every update and outputs after it, at least
    assert checked_count(document, oracle) >= 2 * units + len(network.outputs) + 2 * parameters


def test_the_number_check_catches_a_corrupted_number():
    network = load_network(SIGMOID_2_2_2)
    document = explain(Engine(network))
    oracle = Oracle(network, 4)
    # ∂E/∂w5 = 0.0822 in Mazur's tutorial (0.082167041); change its last digit
    blocks = list(document.blocks)
    index = next(i for i, b in enumerate(blocks) if isinstance(b, Display)
                 and b.latex.startswith(r"\begin{aligned}" "\n" r"\frac{\partial E}{\partial w_{5}}"))
    assert blocks[index].latex.endswith("0.0822\n\\end{aligned}")
    blocks[index] = Display(blocks[index].latex.replace("0.0822\n\\end", "0.0823\n\\end"))
    corrupted = type(document)(document.title, tuple(blocks))
    assert unchecked_statements(corrupted, oracle) == [r"\frac{\partial E}{\partial w_{5}}: shown 0.0823, oracle 0.0822"]


def test_every_number_substituted_into_a_formula_is_a_value_stated_elsewhere():
    """The numbers in 'formula = numbers = value' lines are leaves or values the document states."""
    network = load_network(SIGMOID_2_2_2)
    document = explain(Engine(network))
    text = "\n".join(b.latex for b in document.blocks if isinstance(b, Display))
    stated = {number for _, number in stated_values(document)}
    leaves = {shown(Fraction(v), 4) for v in ("0.05", "0.10", "0.15", "0.20", "0.25", "0.30", "0.40", "0.45",
                                              "0.50", "0.55", "0.35", "0.60", "0.01", "0.99", "0.5")}
    every = set(re.findall(_DECIMAL, text))
    strays = {n for n in every - stated - leaves if not n.startswith("-") or n[1:] not in stated}
    # path products are checked by test_paths_sum_to_the_gradient; matrix entries repeat stated values
    path_text = "\n".join(b.latex for b in document.blocks if isinstance(b, Display) and "\\text{path" in b.latex)
    path_products = set(re.findall(rf"= ({_DECIMAL})", path_text))
    assert strays - path_products == set()


def test_mazur_published_numbers_appear_rounded():
    """Matt Mazur's published values: net_h1 = 0.3775, out_h1 = 0.593269992, E = 0.298371109, w5+ = 0.35891648."""
    markdown = to_markdown(explain(Engine(load_network(SIGMOID_2_2_2))))
    for fragment in [r"= 0.3775", r"e^{- 0.3775}} = 0.5933", r"E = E_{o1} + E_{o2} = 0.2748 + 0.0236 = 0.2984",
                     r"{w_{5}}^{+} = w_{5} - \eta \frac{\partial E}{\partial w_{5}} = 0.4000 - 0.5000 \cdot 0.0822 = 0.3589",
                     r"&= 4.3857 \times 10^{-4}"]:
        assert fragment in markdown, fragment


def test_exact_strings_of_small_formulas():
    """Pinned LaTeX: Mazur's ∂out_o1/∂net_o1 = 0.186815602 and ∂E/∂out_o1 = 0.74136507 (published)."""
    blocks = [b.latex for b in explain(Engine(load_network(SIGMOID_2_2_2))).blocks if isinstance(b, Display)]
    assert (r"\frac{\partial \mathrm{out}_{o1}}{\partial \mathrm{net}_{o1}} = \mathrm{out}_{o1} \left(1 - "
            r"\mathrm{out}_{o1}\right) = 0.7514 \cdot \left(1 - 0.7514\right) = 0.1868") in blocks
    assert r"\frac{\partial E}{\partial \mathrm{out}_{o1}} = \mathrm{out}_{o1} - t_{o1} = 0.7514 - 0.0100 = 0.7414" in blocks
    assert r"\frac{\partial \mathrm{net}_{o1}}{\partial w_{5}} = \mathrm{out}_{h1} = 0.5933" in blocks
    assert (r"\mathrm{out}_{h1} = \sigma\left(\mathrm{net}_{h1}\right) = \frac{1}{1 + e^{- \mathrm{net}_{h1}}} = "
            r"\frac{1}{1 + e^{- 0.3775}} = 0.5933") in blocks


def test_softmax_cross_output_terms_are_written_out_and_collapse():
    markdown = to_markdown(explain(Engine(load_network(RELU_SIGMOID_SOFTMAX))))
    # every cross term ∂out(c_k)/∂net(c_1), k ≠ 1, with its formula −out_c1·out_ck
    for k in (2, 3):
        assert r"\frac{\partial \mathrm{out}_{c%d}}{\partial \mathrm{net}_{c1}}" % k in markdown
        assert r"\left(- \mathrm{out}_{c1} \mathrm{out}_{c%d}\right)" % k in markdown
    assert "cross-output terms of the softmax collapse" in markdown
    assert (r"&= \mathrm{out}_{c1} \left(t_{c1} + t_{c2} + t_{c3}\right) - t_{c1} \\" "\n"
            r"&= \mathrm{out}_{c1} - t_{c1} \qquad \text{since } t_{c1} + t_{c2} + t_{c3} = 1") in markdown


def test_paths_sum_to_the_gradient():
    """Each listed path's product, summed, equals the gradient to within the rounding of the parts."""
    network = load_network(RELU_SIGMOID_SOFTMAX)
    document = explain(Engine(network), places=8)
    oracle = Oracle(network, 8)
    displays = [b.latex for b in document.blocks if isinstance(b, Display)]
    checked = 0
    for index, latex in enumerate(displays):
        if "\\text{path" not in latex:
            continue
        products = [_to_number(m) for m in re.findall(rf"= ({_NUMBER}) ?(?:\\\\|$)", latex, flags=re.M)]
        lhs, number = next(stated_values(type(document)("", (Display(displays[index + 1]),))))
        assert abs(sum(products) - oracle.value(lhs)) <= len(products) * 10**-8
        checked += 1
    assert checked >= 12  # every first-layer parameter of the 3-3-3-3 network has 9 or more paths


def _to_number(text: str) -> float:
    mantissa, _, power = text.partition(r" \times 10^{")
    return float(mantissa) * 10.0 ** int(power.rstrip("}") or 0)


def test_markdown_has_one_display_equation_per_math_block():
    markdown = to_markdown(explain(Engine(load_network(RELU_SIGMOID_SOFTMAX))))
    blocks = re.findall(r"```math\n(.*?)\n```", markdown, flags=re.S)
    assert len(blocks) > 100
    for block in blocks:
        assert "\n\n" not in block and "```" not in block
        assert block.count(r"\begin{aligned}") == block.count(r"\end{aligned}") <= 1
        assert block.count("{") == block.count("}")
    outside = re.sub(r"```math\n.*?\n```", "", markdown, flags=re.S)
    for line in outside.splitlines():
        assert line.count("$") % 2 == 0, line  # inline math is closed on its own line


def _pdflatex() -> str:
    program = shutil.which("pdflatex")
    if program is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing: .ci/run installs texlive-latex-base and texlive-latex-recommended")
        pytest.skip("pdflatex not installed here (CI installs it; apt-get install texlive-latex-base "
                    "texlive-latex-recommended)")
    return program


@pytest.mark.parametrize("path", THREE_NETWORKS + [EVERY_ACTIVATION, EXAMPLES / "graphs" / "lstm_3_steps.toml",
                                  EXAMPLES / "swish_gelu.toml"], ids=lambda p: p.stem)
def test_latex_compiles_with_pdflatex(path, tmp_path):
    program = _pdflatex()
    source = tmp_path / "explained.tex"
    assert main(["explain", str(path), "--format", "latex", "-o", str(source)]) == 0
    result = subprocess.run([program, "-interaction=nonstopmode", "-halt-on-error", source.name],
                            cwd=tmp_path, capture_output=True, text=True, errors="replace", timeout=300)
    log = (tmp_path / "explained.log").read_text(errors="replace")
    assert result.returncode == 0, log[-3000:]
    assert not re.search(r"^! ", log, flags=re.M), log[-3000:]
    assert (tmp_path / "explained.pdf").stat().st_size > 10_000


def test_fragment_is_the_body_only(capsys):
    assert main(["explain", str(LINEAR_2_2_1), "--format", "latex", "--fragment"]) == 0
    body = capsys.readouterr().out
    assert "\\documentclass" not in body and "\\begin{document}" not in body
    assert body.startswith("\\section*{")


def test_a_network_without_numbers_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "symbolic.toml"
    path.write_text('[network]\ninputs = ["x"]\n[[network.layers]]\nunits = ["y"]\nactivation = "sigmoid"\n'
                    '[loss]\nkind = "half_sse"\n')
    assert main(["explain", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "numbers needed" in err


def test_explain_refuses_a_network_too_big_to_write_out(tmp_path):
    from symbackprop.errors import InputError

    weights = [["0.01"] * 30 for _ in range(30)]
    net = network_from_mapping({"network": {"inputs": [f"x{i}" for i in range(30)], "layers": [
        {"units": [f"h{j}" for j in range(30)], "activation": "sigmoid", "weights": weights}]},
        "loss": {"kind": "half_sse", "targets": ["0"] * 30}, "data": {"inputs": ["1"] * 30}})
    with pytest.raises(InputError, match="parameters"):
        explain(Engine(net))


def test_bad_digits_is_a_usage_error():
    with pytest.raises(SystemExit) as caught:
        main(["explain", str(LINEAR_2_2_1), "--decimals", "0"])
    assert caught.value.code == 2


# ---- the explanations kept in examples/ ---------------------------------------------------
EXPLAINED = EXAMPLES / "explained"
SEED_NETWORKS = {
    "balaji_linear": EXAMPLES / "balaji_linear.toml",  # shared/seeds/001
    "pvreddy_3_3_1": EXAMPLES / "pvreddy_3_3_1.toml",  # shared/seeds/003 (architecture; numbers ours)
    "sadiya_2_2_2": EXAMPLES / "sadiya_2_2_2.toml",  # shared/seeds/004 (architecture; numbers ours)
    "mazur": EXAMPLES / "mazur.toml",
    "relu_sigmoid_softmax": RELU_SIGMOID_SOFTMAX,
    # the general graph: skips, tied weights, the file's own functions, formula graphs
    "tied_autoencoder": EXAMPLES / "tied_autoencoder.toml",
    "swish_gelu": EXAMPLES / "swish_gelu.toml",
    "xor": EXAMPLES / "xor.toml",  # four samples: each sample's passes, the gradients' mean
    **{path.stem: path for path in sorted((EXAMPLES / "graphs").glob("*.toml"))},
    # convolution, pooling, a recurrent cell (a pooling alone has no parameter to follow: explain refuses it)
    **{path.stem: path for path in sorted((EXAMPLES / "layers").glob("*.toml")) if "pool_dfdx" not in path.stem},
}


@pytest.mark.parametrize("name", sorted(SEED_NETWORKS))
def test_examples_keep_up_to_date_explanations(name, tmp_path):
    """Regenerate with: symbackprop explain examples/NAME.toml -o examples/explained/NAME.md (and --format latex)."""
    for suffix, arguments in ((".md", []), (".tex", ["--format", "latex"])):
        fresh = tmp_path / f"{name}{suffix}"
        assert main(["explain", str(SEED_NETWORKS[name]), *arguments, "-o", str(fresh)]) == 0
        kept = EXPLAINED / f"{name}{suffix}"
        assert kept.exists(), f"missing {kept}: regenerate it (see this test's docstring)"
        assert kept.read_text() == fresh.read_text(), f"{kept} is out of date: regenerate it"


# ---- property: random architectures, conventions, activations and losses --------------------
from hypothesis import assume, given, settings  # noqa: E402

from .strategies import network_documents  # noqa: E402
from .test_engine_properties import SETTINGS, _at_kink  # noqa: E402


@settings(max_examples=40, **SETTINGS)
@given(network_documents(max_depth=3, max_width=3))
def test_random_networks_explain_with_every_stated_value_right(document):
    network = network_from_mapping(document)
    assume(not _at_kink(network))  # at a ReLU kink finite differences see no derivative to compare
    explanation = explain(Engine(network), places=6)
    oracle = Oracle(network, 6)
    assert unchecked_statements(explanation, oracle) == []
    assert checked_count(explanation, oracle) >= len(network.parameters())
    latex = to_latex(explanation)
    assert latex.count("\\begin{aligned}") == latex.count("\\end{aligned}")


def test_softmax_terms_that_cancel_exactly_show_zero_not_float_noise():
    """Found by the property test: a softmax layer feeding a single nonzero path sums to exactly 0 here."""
    network = network_from_mapping({
        "network": {"convention": "row", "inputs": ["x1", "x2"], "layers": [
            {"units": ["u1_1", "u1_2"], "activation": "softmax", "weights": [["0.0", "0.0"], ["0.0", "0.1"]]},
            {"units": ["u2_1", "u2_2", "u2_3"], "activation": "linear",
             "weights": [["0.1", "0.0", "0.0"], ["0.1", "0.0", "0.0"]]},
            {"units": ["u3_1"], "activation": "linear", "weights": [["0.1"], ["0.0"], ["0.0"]]}]},
        "loss": {"kind": "half_sse", "targets": ["0.0"]}, "data": {"inputs": ["0.1", "0.1"]},
        "training": {"learning_rate": "0.1"}})
    document = explain(Engine(network), places=6)
    values = dict(stated_values(document))
    assert values[r"\frac{\partial E}{\partial \mathrm{net}_{u1\_1}}"] == "0.000000"
    assert "10^{-5" not in to_markdown(document)  # no 10^-54-style residue anywhere
