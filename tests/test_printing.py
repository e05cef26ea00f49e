"""Exact LaTeX strings: ∂ always, readable subscripts."""
import sympy as sp

from symbackprop import Engine, network_from_mapping
from symbackprop.reports.printing import factor_latex, latex, latex_symbol_name
from symbackprop.quantity import Quantity


def test_symbol_names():
    assert latex_symbol_name("w5") == "w_{5}"
    assert latex_symbol_name("net_h1") == r"\mathrm{net}_{h1}"
    assert latex_symbol_name("out_o1") == r"\mathrm{out}_{o1}"
    assert latex_symbol_name("delta_h2") == r"\delta_{h2}"
    assert latex_symbol_name("t_o1") == "t_{o1}"
    assert latex_symbol_name("b1") == "b_{1}"
    assert latex_symbol_name("w_1_11") == "w_{1,11}"
    assert latex_symbol_name("theta3") == r"\theta_{3}"
    assert latex_symbol_name("bias") == r"\mathrm{bias}"


def test_derivative_is_always_partial():
    x = sp.Symbol("x")
    assert latex(sp.Derivative(sp.sin(x), x)) == r"\frac{\partial}{\partial x} \sin{\left(x \right)}"
    assert sp.latex(sp.Derivative(sp.sin(x), x)).startswith(r"\frac{d}{d x}")  # what SymPy alone does


def test_generated_names_and_a_gradient():
    network = network_from_mapping({
        "network": {"inputs": ["i1", "i2"], "layers": [
            {"units": ["h1", "h2"], "activation": "sigmoid", "bias": "0"},
            {"units": ["o1"], "activation": "sigmoid", "bias": ["0"]}]},
        "loss": {"kind": "half_sse"}})
    engine = Engine(network)
    graph = engine.graph
    assert latex(sp.Symbol("w_i2_h1"), graph) == "w^{(1)}_{21}"
    assert latex(sp.Symbol("b_layer1"), graph) == "b^{(1)}"
    assert latex(sp.Symbol("b_o1"), graph) == "b^{(2)}_{1}"
    gradient = engine.gradient("w_h1_o1")
    assert latex(gradient.compact, graph) == (
        r"\mathrm{out}_{h1} \mathrm{out}_{o1} \left(1 - \mathrm{out}_{o1}\right) \left(\mathrm{out}_{o1} - t_{o1}\right)"
    )
    assert factor_latex(Quantity.loss(), Quantity.out("o1"), graph) == r"\frac{\partial E}{\partial \mathrm{out}_{o1}}"
    assert factor_latex(Quantity.net("o1"), Quantity.param("w_h1_o1"), graph) == (
        r"\frac{\partial \mathrm{net}_{o1}}{\partial w^{(2)}_{11}}"
    )


def test_column_convention_indexes_like_the_file():
    network = network_from_mapping({
        "network": {"convention": "column", "inputs": ["x1", "x2"], "layers": [
            {"units": ["h1", "h2", "h3"], "activation": "tanh"}]},
        "loss": {"kind": "sse"}})
    graph = Engine(network).graph
    # column: weights[j][i] joins input i to unit j, so w_x2_h3 is entry [3][2]
    assert latex(sp.Symbol("w_x2_h3"), graph) == "w^{(1)}_{32}"


def test_activation_latex():
    from symbackprop.functions.activations import leaky_relu, relu, sigmoid, softplus

    x = sp.Symbol("x")
    assert latex(sigmoid(x)) == r"\sigma\left(x\right)"
    assert latex(relu(x)) == r"\operatorname{ReLU}\left(x\right)"
    assert latex(softplus(x)) == r"\operatorname{softplus}\left(x\right)"
    assert latex(leaky_relu(x, sp.Rational(1, 100))) == r"\operatorname{LeakyReLU}_{\frac{1}{100}}\left(x\right)"
    assert latex(sp.Heaviside(x, 0)) == r"H\left(x\right)"


# ---- decimals: every printed digit is the value correctly rounded ----------------------------------------------
def _rounded_by_decimal(value, digits: int):
    """The value rounded to ``digits`` significant digits, half away from zero, by Python's decimal module
    at 200 digits (independent of the package's rounding)."""
    import decimal
    from fractions import Fraction

    with decimal.localcontext(decimal.Context(prec=200)):
        exact = decimal.Decimal(value.numerator) / decimal.Decimal(value.denominator)
        quantum = decimal.Decimal(1).scaleb(exact.adjusted() - digits + 1)
        return Fraction(exact.quantize(quantum, rounding=decimal.ROUND_HALF_UP))


def test_a_decimal_just_past_a_half_rounds_up_where_mpmath_nstr_rounds_it_down():
    import mpmath

    from symbackprop.numbers import format_decimal

    just_past = mpmath.mpf("0.12345000000101766")  # mpmath.nstr rounds its floor at 7 digits, 0.1234500: down
    assert mpmath.nstr(just_past, 4) == "0.1234"
    assert format_decimal(just_past, 4) == "0.1235" and format_decimal(-just_past, 4) == "-0.1235"


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**30), st.integers(1, 10**30), st.integers(-40, 40), st.integers(1, 35), st.booleans(),
       st.booleans())
def test_format_decimal_rounds_every_number_correctly(numerator, denominator, scale, digits, negative, binary):
    """Fractions and binary numbers of every size, near halves or not: the printed text is the value rounded
    by the decimal module (binary numbers compared as the exact rationals they are)."""
    from decimal import Decimal
    from fractions import Fraction

    import mpmath

    from symbackprop.numbers import format_decimal

    value = Fraction(numerator, denominator) * Fraction(10) ** scale * (-1 if negative else 1)
    if binary:
        with mpmath.workprec(200):
            number = mpmath.mpf(value.numerator) / value.denominator
        sign, mantissa, exponent, _ = number._mpf_
        value = Fraction((-1) ** sign * int(mantissa)) * Fraction(2) ** int(exponent)
        printed = format_decimal(number, digits)
    else:
        printed = format_decimal(value, digits)
    assert Fraction(Decimal(printed)) == _rounded_by_decimal(value, digits), (value, digits, printed)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**30), st.one_of(st.sampled_from([-13, -12, -11, -1, 0, 1, 28, 29, 30]), st.integers(-45, 45)),
       st.integers(1, 35), st.booleans(), st.integers(0, 3))
def test_format_decimal_lays_the_digits_out_as_mpmath_does(mantissa, lead, digits, negative, near):
    """The digits are laid out (fixed from 1e-12 to 1e29, scientific beyond, trailing zeros kept) exactly as
    mpmath's nstr lays out the same rounded decimal, at the edges of both forms and where rounding carries
    into a new digit (9.9995 at 4 digits is 10.00)."""
    from fractions import Fraction

    import mpmath

    from symbackprop.numbers import format_decimal

    if near:  # just below a power of ten: the rounding carries
        mantissa = 10**digits * 10**near - 1
    scale = lead - len(str(mantissa)) + 1  # the leading digit at 10^lead
    value = Fraction(mantissa) * Fraction(10) ** scale * (-1 if negative else 1)
    rounded = _rounded_by_decimal(value, digits)
    with mpmath.workdps(digits + 30):
        expected = mpmath.nstr(mpmath.mpf(rounded.numerator) / rounded.denominator, digits, min_fixed=-12,
                               max_fixed=30, strip_zeros=False)
    assert format_decimal(value, digits) == expected, (value, digits)
