"""The shortest form of an output unit's δ: where softmax and cross-entropy meet it collapses to out − t.

The collapse uses Σ t = 1, which holds only where the graph's targets form a distribution
(:attr:`~symbackprop.graph.SymbolicGraph.targets_form_a_distribution`); code that will run on other
targets asks with ``targets_sum_to_one=False`` and gets the general form.

>>> from symbackprop.frontends.dense import build_graph
>>> from symbackprop.frontends.loader import load_network
>>> graph = build_graph(load_network("examples/softmax_classifier.toml"))
>>> from symbackprop.engine.chain import Engine
>>> general = Engine(graph).adjoints(Quantity.loss())[Quantity.net("c1")]
>>> tidier = OutputDeltas(graph)
>>> tidier.tidy(general, Quantity.net("c1"))
out_c1 - t_c1
>>> tidier.tidy(general, Quantity.net("c1"), targets_sum_to_one=False)  # what holds for any targets
out_c1*t_c2 + out_c1*t_c3 - t_c1*(1 - out_c1)
"""
from __future__ import annotations

import sympy as sp

from ..graph import SymbolicGraph
from ..quantity import Quantity


#: Most symbols in an output δ that :meth:`OutputDeltas.tidy` will try to factor.
MAX_FACTOR_SYMBOLS = 12


class OutputDeltas:
    """Tidies the output δs of one graph; every sample's δ of one form is tidied once."""

    def __init__(self, graph: SymbolicGraph) -> None:
        self.graph = graph
        self._tidied: dict[tuple, tuple] = {}

    def tidy(self, expression: sp.Expr, vertex: Quantity, targets_sum_to_one: bool = True) -> sp.Expr:
        """∂E/∂net(o) of an output unit's net ``vertex`` (of one sample, in a graph over several), in its
        shortest form."""
        if vertex.sample >= 0:
            # every sample's δ has the same form in its own symbols: tidy it once, in canonical symbols
            # (a leading "_" is no name a file or a Model may give)
            quantity_of = self.graph.quantity_of
            canonical = {symbol: sp.Symbol("_" + quantity_of[symbol].kind + "_" + quantity_of[symbol].name)
                         if symbol in quantity_of else sp.Symbol("_" + symbol.name.rsplit("[", 1)[0])
                         for symbol in expression.free_symbols}
            key = (vertex.name, targets_sum_to_one, expression.xreplace(canonical))
            if key not in self._tidied:
                self._tidied[key] = (canonical, self._shortest(expression, vertex, targets_sum_to_one))
            first, tidied = self._tidied[key]
            back = {placeholder: symbol for symbol, placeholder in canonical.items()}
            with sp.evaluate(False):  # the same form, symbol for symbol: rebuilt as it was, not re-simplified
                return tidied.xreplace({symbol: back[placeholder] for symbol, placeholder in first.items()})
        return self._shortest(expression, vertex, targets_sum_to_one)

    def _shortest(self, expression: sp.Expr, vertex: Quantity, targets_sum_to_one: bool) -> sp.Expr:
        collected = None
        graph = self.graph
        if targets_sum_to_one and graph.targets_form_a_distribution:
            # The targets of a cross-entropy are a distribution: Σ t = 1. Collecting on the unit's own
            # output alone is enough to expose Σ t, and stays cheap for a wide softmax.
            targets = graph.target_symbols(vertex.sample)
            own = graph.symbols[Quantity.out(vertex.name, vertex.sample)]
            collected = sp.collect(sp.expand(expression), [own]).subs(sp.Add(*targets), 1)
        candidates = [expression]
        # Multivariate factoring costs grow fast with the number of symbols (seconds for a
        # 24-output softmax); the collection below already collapses what wide layers need, and where it
        # leaves one operation (out − t) factoring cannot do better.
        if len(expression.free_symbols) <= MAX_FACTOR_SYMBOLS and (collected is None or sp.count_ops(collected) > 1):
            try:
                candidates.append(sp.factor(sp.cancel(expression)))
            except (sp.PolynomialError, NotImplementedError):
                pass
        if collected is not None:
            candidates.append(collected)
        return min(candidates, key=sp.count_ops)
