"""Activation functions: one registry, each rule written next to its forward formula.

Each elementwise activation is a SymPy :class:`~sympy.Function` with its own
``fdiff`` (so ``diff`` gives ``σ(x)(1 - σ(x))``, not a tower of exponentials)
and its own LaTeX. The registry entry adds:

* ``derivative``: ∂out/∂net from SymPy, written back in the unit's own node
  symbols (``out·(1 − out)`` for the sigmoid);
* ``explicit``: the elementary formula (each function's ``_explicit``);
* ``numeric``: the definition lambdified for mpmath (the finite-difference oracle's forward).

Adding an activation is one :func:`register_activation` call with its SymPy
definition.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> sp.diff(sigmoid(2 * x), x)
2*(1 - sigmoid(2*x))*sigmoid(2*x)
>>> ACTIVATIONS["sigmoid"].derivative(sp.Symbol("net"), sp.Symbol("out"), None)
out*(1 - out)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Optional

import mpmath
import sympy as sp
from sympy.core.function import ArgumentIndexError


def _evalf_by_rewrite(function: sp.Function, prec: int):
    """Numeric value of an activation through its explicit formula (prec in bits)."""
    explicit = function._explicit()
    return explicit.evalf(mpmath.libmp.prec_to_dps(prec))


def _step(x, at_zero=0):
    """The step function of numbers: mpmath's for mpmath numbers, NumPy's for anything else."""
    if isinstance(x, mpmath.mpf):
        return mpmath.mpf(1) if x > 0 else mpmath.mpf(at_zero) if x == 0 else mpmath.mpf(0)
    import numpy as np

    return np.heaviside(np.asarray(x, dtype=float), float(at_zero))


class Heaviside(sp.Heaviside):
    """SymPy's step function, as the derivative of a ReLU, that lambdifies as itself.

    SymPy's code printers rewrite a Heaviside to a Piecewise and simplify its condition, which takes
    minutes when the argument is a closed form of the layers below; this one is called, not rewritten.

    >>> x = sp.Symbol("x")
    >>> float(sp.lambdify(x, relu(x).diff(x) + Heaviside(x, 0))(2.0))
    2.0
    """

    _imp_ = staticmethod(_step)

    def __new__(cls, arg, H0=sp.S.Half, **options):  # SymPy's own __new__ recurses for a subclass
        return sp.Function.__new__(cls, arg, H0, **options)


class sigmoid(sp.Function):
    r"""The logistic function σ(x) = 1/(1 + e^(−x))."""

    nargs = 1

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return self * (1 - self)

    def _explicit(self):
        return 1 / (1 + sp.exp(-self.args[0]))

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_evalf(self, prec):
        return _evalf_by_rewrite(self, prec)

    def _latex(self, printer, exp=None):
        body = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


class relu(sp.Function):
    r"""max(0, x); its derivative at 0 is taken as 0 (the convention of the common frameworks)."""

    nargs = 1

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return Heaviside(self.args[0], 0)

    def _explicit(self):
        x = self.args[0]
        return sp.Piecewise((x, x > 0), (0, True))

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sp.Max(0, x)

    def _eval_rewrite_as_Piecewise(self, x, **kwargs):
        return self._explicit()

    def _eval_evalf(self, prec):
        return _evalf_by_rewrite(self, prec)

    def _latex(self, printer, exp=None):
        body = r"\operatorname{ReLU}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


class leaky_relu(sp.Function):
    r"""x for x > 0, αx otherwise; the derivative at 0 is taken as α (the left derivative, like relu)."""

    nargs = 2

    def fdiff(self, argindex=1):
        x, alpha = self.args
        if argindex == 1:
            return Heaviside(x, 0) + alpha * Heaviside(-x, 1)
        if argindex == 2:
            return x * Heaviside(-x, 1)
        raise ArgumentIndexError(self, argindex)

    def _explicit(self):
        x, alpha = self.args
        return sp.Piecewise((x, x > 0), (alpha * x, True))

    def _eval_rewrite_as_Piecewise(self, x, alpha, **kwargs):
        return sp.Piecewise((x, x > 0), (alpha * x, True))

    def _eval_evalf(self, prec):
        return _evalf_by_rewrite(self, prec)

    def _latex(self, printer, exp=None):
        x, alpha = self.args
        body = r"\operatorname{LeakyReLU}_{%s}\left(%s\right)" % (printer._print(alpha), printer._print(x))
        return body if exp is None else r"%s^{%s}" % (body, exp)


class softplus(sp.Function):
    r"""ln(1 + e^x); its derivative is σ(x)."""

    nargs = 1

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])

    def _explicit(self):
        return sp.log(1 + sp.exp(self.args[0]))

    def _eval_rewrite_as_log(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_evalf(self, prec):
        return _evalf_by_rewrite(self, prec)

    def _latex(self, printer, exp=None):
        body = r"\operatorname{softplus}\left(%s\right)" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


class Absolute(sp.Function):
    r"""|x| for a formula; its derivative is sign(x) (0 at x = 0, the usual convention), for any symbol.

    SymPy's own ``Abs`` differentiates a symbol not declared real through its real and imaginary
    parts; a network's values are real, so formulas use this one.

    >>> x = sp.Symbol("x")
    >>> sp.diff(Absolute(2 * x), x), Absolute(sp.Rational(-3, 2))
    (2*sign(x), 3/2)
    """

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return abs(x)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sp.sign(self.args[0])

    def _explicit(self):
        x = self.args[0]
        return sp.Piecewise((x, x > 0), (-x, True))

    def _eval_rewrite_as_Abs(self, x, **kwargs):
        return sp.Abs(x)

    def _eval_evalf(self, prec):
        return sp.Abs(self.args[0])._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        body = r"\left|%s\right|" % printer._print(self.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)


Absolute.__name__ = "abs"  # prints as abs(x), as formulas write it


Alpha = Optional[sp.Expr]

_X, _ALPHA = sp.Symbol("x"), sp.Symbol("alpha")


def explicit_form(expression: sp.Expr) -> sp.Expr:
    """``expression`` with every activation of this module written in elementary functions.

    >>> explicit_form(sigmoid(sp.Symbol("z")))
    1/(1 + exp(-z))
    """
    return expression.replace(lambda e: hasattr(e, "_explicit"), lambda e: e._explicit())


@functools.lru_cache(maxsize=None)
def _mpmath_function(expression: sp.Expr, variables: tuple[sp.Symbol, ...]):
    # Our own expressions over our own symbols, never file text: lambdify is safe here.
    return sp.lambdify(variables, explicit_form(expression), modules="mpmath")


@dataclass(frozen=True)
class Activation:
    """A registry entry: the one SymPy definition of an activation; every other form is derived from it.

    ``forward(net, alpha)`` is the definition. The derivative comes from SymPy (through each
    function's ``fdiff``), written back in the unit's own output symbol where it appears
    (``out·(1 − out)`` for the sigmoid); the mpmath forms are lambdified from the definition.

    >>> ACTIVATIONS["tanh"].derivative(sp.Symbol("net"), sp.Symbol("out"), None)
    1 - out**2
    """

    name: str
    forward: Callable[[sp.Expr, Alpha], sp.Expr]
    elementwise: bool = True

    def _definition(self) -> sp.Expr:
        return self.forward(_X, _ALPHA)

    def derivative(self, net: sp.Expr, out: sp.Expr, alpha: Alpha) -> sp.Expr:
        """∂out/∂net, in ``out`` wherever the definition itself appears."""
        definition = self._definition()
        rule = sp.diff(definition, _X)
        if not definition.is_Symbol:
            rule = rule.xreplace({definition: _OUT})
        return rule.xreplace({_X: net, _ALPHA: alpha if alpha is not None else _ALPHA, _OUT: out})

    def explicit(self, x: sp.Expr, alpha: Alpha) -> sp.Expr:
        """The definition in elementary functions (Piecewise for the kinked ones)."""
        return explicit_form(self.forward(x, alpha))

    def numeric(self, x, alpha=None):
        """The definition evaluated in mpmath."""
        return _mpmath_function(self._definition(), (_X, _ALPHA))(x, alpha if alpha is not None else 0)

    def numeric_derivative(self, net, out, alpha=None):
        """∂out/∂net evaluated in mpmath (from the same derived rule)."""
        rule = self.derivative(_X, _OUT, _ALPHA)
        return _mpmath_function(rule, (_X, _OUT, _ALPHA))(net, out, alpha if alpha is not None else 0)


_OUT = sp.Symbol("out")


class softmax(sp.Function):
    r"""Output ``k`` (0-based, the first argument) of a softmax over the remaining arguments.

    An n-ary function of its layer's nets: its ``fdiff`` gives the Jacobian,
    ∂softmax_k/∂net_j = softmax_k·(δ_kj − softmax_j), so a graph writes it back in
    the layer's output symbols.

    >>> a, b = sp.symbols("a b")
    >>> sp.diff(softmax(0, a, b), b)
    -softmax([a, b], 1)*softmax([a, b], 2)
    """

    def fdiff(self, argindex=1):
        if argindex == 1:
            raise ArgumentIndexError(self, argindex)
        k, nets = int(self.args[0]), self.args[1:]
        j = argindex - 2
        same = self if j == k else softmax(j, *nets)
        return self * (1 - same) if j == k else -self * same

    def _explicit(self):
        k, nets = int(self.args[0]), self.args[1:]
        return sp.exp(nets[k]) / sp.Add(*[sp.exp(net) for net in nets])

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return self._explicit()

    def _eval_evalf(self, prec):
        return _evalf_by_rewrite(self, prec)

    def _latex(self, printer, exp=None):
        k, nets = int(self.args[0]), self.args[1:]
        body = r"\operatorname{softmax}_{%d}\left(%s\right)" % (k + 1, ", ".join(printer._print(n) for n in nets))
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def _sympystr(self, printer):
        # as a formula file writes it: the vector, then the component counted from 1 (as LaTeX's softmax₂)
        k, nets = int(self.args[0]), self.args[1:]
        return "softmax([%s], %d)" % (", ".join(printer._print(n) for n in nets), k + 1)


def softmax_outputs(nets: list[sp.Expr]) -> list[sp.Expr]:
    """The outputs of a softmax layer, one n-ary function each."""
    return [softmax(k, *nets) for k in range(len(nets))]


def softmax_derivative(out_k: sp.Expr, out_j: sp.Expr, same_unit: bool) -> sp.Expr:
    """∂out_k/∂net_j of a softmax layer, from ``softmax.fdiff``, written in the given outputs."""
    nets = sp.symbols("n0 n1")
    j = 0 if same_unit else 1
    rule = softmax(0, *nets).fdiff(j + 2)
    return rule.xreplace({softmax(0, *nets): out_k, softmax(1, *nets): out_j})


def softmax_numeric(nets: list) -> list:
    """Softmax in mpmath, shifted by the largest net for range safety (the same function, stably)."""
    top = max(nets)
    exps = [mpmath.exp(net - top) for net in nets]
    total = mpmath.fsum(exps)
    return [e / total for e in exps]


@functools.lru_cache(maxsize=None)
def _lambdified(function: type, arity: int, module: str):
    variables = sp.symbols(f"a0:{arity}")
    return sp.lambdify(variables, explicit_form(function(*variables)), modules=module)


def _implementation(function: type, array_form: Optional[Callable] = None):
    """What ``sympy.lambdify`` calls for ``function`` (before any module it is given): its explicit formula,
    in mpmath for mpmath numbers, and in NumPy for anything else (floats, arrays), or ``array_form`` where
    the explicit formula would overflow in float64. So closed forms lambdify as they are."""

    def implementation(*args):
        if any(isinstance(a, (mpmath.mpf, mpmath.mpc)) for a in args):
            return _lambdified(function, len(args), "mpmath")(*args)
        return array_form(*args) if array_form is not None else _lambdified(function, len(args), "numpy")(*args)

    return staticmethod(implementation)


def _softplus_array(x):
    """log(1 + eˣ) as NumPy's logaddexp(0, x): the same formula, arranged not to overflow (x = 800 gives 800).

    >>> float(_softplus_array(800.0)), round(float(_softplus_array(0.0)), 6)
    (800.0, 0.693147)
    """
    import numpy as np

    return np.logaddexp(0.0, x)


for _function in (sigmoid, relu, leaky_relu, Absolute):
    _function._imp_ = _implementation(_function)
softplus._imp_ = _implementation(softplus, _softplus_array)


def _softmax_implementation(k, *nets):
    """softmax_k of numbers: mpmath's or NumPy's exp, shifted by the largest net (the same formula, stably)."""
    if any(isinstance(n, mpmath.mpf) for n in nets):
        return softmax_numeric(list(nets))[int(k)]
    import numpy as np

    return softmax_array(np.stack(np.broadcast_arrays(*[np.asarray(n, dtype=float) for n in nets])))[int(k)]


def softmax_array(nets, axis: int = 0):
    """Every softmax output of a NumPy array of nets along ``axis``, shifted by the largest net.

    >>> import numpy as np
    >>> softmax_array(np.array([[0.0, 0.0], [1000.0, 0.0]]), axis=1).round(3).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    import numpy as np

    exps = np.exp(nets - nets.max(axis=axis, keepdims=True))
    return exps / exps.sum(axis=axis, keepdims=True)


softmax._imp_ = staticmethod(_softmax_implementation)

ACTIVATIONS: dict[str, Activation] = {}


def register_activation(name: str, forward: Callable[[sp.Expr, Alpha], sp.Expr]) -> Activation:
    """Add an activation: its one SymPy definition is all it needs.

    >>> swish = register_activation("swish_doc", lambda x, alpha: x * sigmoid(x))
    >>> swish.derivative(sp.Symbol("net"), sp.Symbol("out"), None)
    net*(1 - sigmoid(net))*sigmoid(net) + sigmoid(net)
    >>> del ACTIVATIONS["swish_doc"]
    """
    entry = Activation(name, forward)
    ACTIVATIONS[name] = entry
    return entry


register_activation("linear", lambda net, alpha: net)
register_activation("sigmoid", lambda net, alpha: sigmoid(net))
register_activation("tanh", lambda net, alpha: sp.tanh(net))
register_activation("relu", lambda net, alpha: relu(net))
register_activation("leaky_relu", lambda net, alpha: leaky_relu(net, alpha))
register_activation("softplus", lambda net, alpha: softplus(net))
# Softmax acts on the whole layer: the graph builds it from softmax_outputs.
ACTIVATIONS["softmax"] = Activation("softmax", lambda net, alpha: _layerwise("softmax"), elementwise=False)


def _layerwise(name: str):
    raise TypeError(f"{name} acts on a whole layer; use softmax_outputs / softmax_derivative")


def activation(name: str) -> Activation:
    """The registry entry for ``name``; an unknown name fails loudly.

    >>> activation("swish")
    Traceback (most recent call last):
    ...
    KeyError: "no activation 'swish' in the registry (known: linear, sigmoid, tanh, relu, leaky_relu, softplus, softmax)"
    """
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise KeyError(f"no activation {name!r} in the registry (known: {', '.join(ACTIVATIONS)})") from None
