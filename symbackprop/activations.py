"""Activation functions: one registry, each rule written next to its forward formula.

Each elementwise activation is a SymPy :class:`~sympy.Function` with its own
``fdiff`` (so ``diff`` gives ``σ(x)(1 - σ(x))``, not a tower of exponentials)
and its own LaTeX. The registry entry adds:

* ``derivative``: ∂out/∂net written in the unit's own node symbols, the way a
  person writes it (``out·(1 − out)`` for the sigmoid);
* ``explicit``: the elementary formula, for tests against ``sympy.diff``;
* ``numeric``: an mpmath forward used only by the finite-difference oracle.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> sp.diff(sigmoid(2 * x), x)
2*(1 - sigmoid(2*x))*sigmoid(2*x)
>>> ACTIVATIONS["sigmoid"].derivative(sp.Symbol("net"), sp.Symbol("out"), None)
out*(1 - out)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import mpmath
import sympy as sp
from sympy.core.function import ArgumentIndexError


def _evalf_by_rewrite(function: sp.Function, prec: int):
    """Numeric value of an activation through its explicit formula (prec in bits)."""
    explicit = function._explicit()
    return explicit.evalf(mpmath.libmp.prec_to_dps(prec))


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
        return sp.Heaviside(self.args[0], 0)

    def _explicit(self):
        return sp.Max(0, self.args[0])

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return sp.Max(0, x)

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
            return sp.Heaviside(x, 0) + alpha * sp.Heaviside(-x, 1)
        if argindex == 2:
            return x * sp.Heaviside(-x, 1)
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


Alpha = Optional[sp.Expr]


@dataclass(frozen=True)
class Activation:
    """A registry entry: forward formula, derivative rule, explicit formula, numeric forward."""

    name: str
    forward: Callable[[sp.Expr, Alpha], sp.Expr]
    derivative: Callable[[sp.Expr, sp.Expr, Alpha], sp.Expr]  # (net, out, alpha) -> ∂out/∂net
    explicit: Callable[[sp.Expr, Alpha], sp.Expr]
    numeric: Callable[[mpmath.mpf, Optional[mpmath.mpf]], mpmath.mpf]
    numeric_derivative: Callable[[mpmath.mpf, mpmath.mpf, Optional[mpmath.mpf]], mpmath.mpf] = None  # (net, out, α)
    kink_at_zero: bool = False
    elementwise: bool = True


def softmax_outputs(nets: list[sp.Expr]) -> list[sp.Expr]:
    """out_k = e^(net_k) / Σ_m e^(net_m), for each k."""
    denominator = sp.Add(*[sp.exp(net) for net in nets])
    return [sp.exp(net) / denominator for net in nets]


def softmax_derivative(out_k: sp.Expr, out_j: sp.Expr, same_unit: bool) -> sp.Expr:
    """∂out_k/∂net_j of a softmax layer: out_k·(1 − out_j) when k = j, else −out_k·out_j."""
    return out_k * (1 - out_j) if same_unit else -out_k * out_j


def softmax_numeric(nets: list[mpmath.mpf]) -> list[mpmath.mpf]:
    """Softmax in mpmath, shifted by the largest net for range safety."""
    top = max(nets)
    exps = [mpmath.exp(net - top) for net in nets]
    total = mpmath.fsum(exps)
    return [e / total for e in exps]


def _relu_numeric(x, alpha=None):
    return x if x > 0 else mpmath.mpf(0)


def _leaky_numeric(x, alpha):
    return x if x > 0 else alpha * x


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(
        "linear",
        forward=lambda net, alpha: net,
        derivative=lambda net, out, alpha: sp.Integer(1),
        explicit=lambda x, alpha: x,
        numeric=lambda x, alpha: x,
        numeric_derivative=lambda net, out, alpha: mpmath.mpf(1),
    ),
    "sigmoid": Activation(
        "sigmoid",
        forward=lambda net, alpha: sigmoid(net),
        derivative=lambda net, out, alpha: out * (1 - out),
        explicit=lambda x, alpha: 1 / (1 + sp.exp(-x)),
        numeric=lambda x, alpha: 1 / (1 + mpmath.exp(-x)),
        numeric_derivative=lambda net, out, alpha: out * (1 - out),
    ),
    "tanh": Activation(
        "tanh",
        forward=lambda net, alpha: sp.tanh(net),
        derivative=lambda net, out, alpha: 1 - out**2,
        explicit=lambda x, alpha: (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x)),
        numeric=lambda x, alpha: mpmath.tanh(x),
        numeric_derivative=lambda net, out, alpha: 1 - out**2,
    ),
    "relu": Activation(
        "relu",
        forward=lambda net, alpha: relu(net),
        derivative=lambda net, out, alpha: sp.Heaviside(net, 0),
        explicit=lambda x, alpha: sp.Piecewise((x, x > 0), (0, True)),
        numeric=_relu_numeric,
        numeric_derivative=lambda net, out, alpha: mpmath.mpf(1 if net > 0 else 0),
        kink_at_zero=True,
    ),
    "leaky_relu": Activation(
        "leaky_relu",
        forward=lambda net, alpha: leaky_relu(net, alpha),
        derivative=lambda net, out, alpha: sp.Heaviside(net, 0) + alpha * sp.Heaviside(-net, 1),
        explicit=lambda x, alpha: sp.Piecewise((x, x > 0), (alpha * x, True)),
        numeric=_leaky_numeric,
        numeric_derivative=lambda net, out, alpha: mpmath.mpf(1) if net > 0 else alpha,
        kink_at_zero=True,
    ),
    "softplus": Activation(
        "softplus",
        forward=lambda net, alpha: softplus(net),
        derivative=lambda net, out, alpha: sigmoid(net),
        explicit=lambda x, alpha: sp.log(1 + sp.exp(x)),
        numeric=lambda x, alpha: mpmath.log(1 + mpmath.exp(x)),
        numeric_derivative=lambda net, out, alpha: 1 / (1 + mpmath.exp(-net)),
    ),
    "softmax": Activation(
        "softmax",
        # Softmax acts on the whole layer; see softmax_outputs and softmax_derivative.
        forward=lambda net, alpha: _layerwise("softmax"),
        derivative=lambda net, out, alpha: _layerwise("softmax"),
        explicit=lambda x, alpha: _layerwise("softmax"),
        numeric=lambda x, alpha: _layerwise("softmax"),
        elementwise=False,
    ),
}


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
