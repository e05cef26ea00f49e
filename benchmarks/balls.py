"""Ball arithmetic (python-flint's arb) against mpmath on the straight-line program of a dense network.

A measurement for the redesign (issue 19), not yet the engine's path: every gradient of one sample is
computed once in arb, whose radius proves the digits, and twice in mpmath (at D+15 and D+35 digits, as
training certifies today). Run from the repository: ``pip install python-flint && python
benchmarks/balls.py 784-16-16-10``. Only the functions of that network (sigmoid, softmax, log) are walked.
"""
import sys
import time
from fractions import Fraction
from pathlib import Path

import mpmath
import sympy as sp
from flint import arb, ctx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]
import run  # noqa: E402  (the benchmarks' network generator)
from symbackprop.engine.program import evaluate, straight_line_program  # noqa: E402
from symbackprop.engine.values import point_of  # noqa: E402
from symbackprop.frontends.dense import build_graph  # noqa: E402
from symbackprop.frontends.loader import network_from_mapping  # noqa: E402

def ball(value):
    if isinstance(value, Fraction):
        return arb(value.numerator) / value.denominator
    if isinstance(value, sp.Rational):
        return arb(int(value.p)) / int(value.q)
    return arb(str(value))


def walk(node, values, memo):
    """The value of one expression as a ball (only what a sigmoid/softmax/cross-entropy network holds)."""
    if node in memo:
        return memo[node]
    if node.is_Symbol:
        result = values[node]
    elif node.is_Rational:
        result = arb(int(node.p)) / int(node.q)
    elif node.is_Add or node.is_Mul:
        result = arb(0) if node.is_Add else arb(1)
        for argument in node.args:
            value = walk(argument, values, memo)
            result = result + value if node.is_Add else result * value
    elif node.is_Pow:
        base, exponent = node.args
        result = walk(base, values, memo) ** (int(exponent) if exponent.is_Integer else walk(exponent, values, memo))
    else:
        name = type(node).__name__
        arguments = [walk(a, values, memo) for a in node.args]
        if name == "sigmoid":
            result = 1 / (1 + (-arguments[0]).exp())
        elif name in ("exp", "log"):
            result = getattr(arguments[0], name)()
        elif name == "softmax":
            nets = arguments[1:]
            top = max(nets, key=lambda a: a.mid())
            shifted = [(n - top).exp() for n in nets]
            total = arb(0)
            for value in shifted:
                total += value
            result = shifted[int(node.args[0])] / total
        else:
            raise NotImplementedError(name)
    memo[node] = result
    return result


def arb_gradients(program, leaves, digits: int) -> dict:
    ctx.dps = digits
    values = {symbol: ball(value) for symbol, value in leaves.items()}
    for symbol, expression in program.forward + program.backward:
        values[symbol] = walk(expression, values, {})
    return {name: walk(expression, values, {}) for name, expression in program.gradients.items()}


def measure(shape, digits: int) -> tuple[float, float, float, bool]:
    """(seconds of mpmath's two runs, seconds of arb's one run, worst relative radius, whether they agree)."""
    graph = build_graph(network_from_mapping(run.mlp(shape)))
    program = straight_line_program(graph)
    leaves = point_of(graph).leaves
    started = time.perf_counter()
    _, exact = evaluate(program, leaves, digits + 15)
    evaluate(program, leaves, digits + 35)
    mp_seconds = time.perf_counter() - started
    started = time.perf_counter()
    balls = arb_gradients(program, leaves, digits + 10)
    arb_seconds = time.perf_counter() - started
    worst = max(float(b.rad() / abs(b.mid())) if b.mid() != 0 else float(b.rad()) for b in balls.values())
    with mpmath.workdps(digits + 20):
        agree = all(abs(mpmath.mpf(b.mid().str(digits + 10, radius=False)) - exact[name])
                    <= mpmath.mpf(10) ** (-digits) * max(1, abs(exact[name])) for name, b in balls.items())
    return mp_seconds, arb_seconds, worst, agree


if __name__ == "__main__":
    shape = [int(w) for w in sys.argv[1].split("-")] if len(sys.argv) > 1 else [784, 16, 16, 10]
    for digits in (30, 50):
        mp_seconds, arb_seconds, worst, agree = measure(shape, digits)
        print(f"{'-'.join(map(str, shape))}, {digits} digits: mpmath's two runs (at {digits + 15} and {digits + 35}) "
              f"{mp_seconds:.2f} s; arb's one run at {digits + 10} {arb_seconds:.2f} s "
              f"({mp_seconds / arb_seconds:.1f}x); worst relative radius {worst:.1e}; agree to {digits} digits: {agree}")
