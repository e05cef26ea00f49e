"""The reverse sweep, once: every vertex before a target, last first, combining what its readers carry.

The engine's adjoints, its path counts and the straight-line program are three uses of this one walk;
they differ only in what a vertex accumulates from its readers (an expression, a count, a symbol).

>>> from symbackprop.frontends.dense import build_graph
>>> from symbackprop.frontends.loader import network_from_mapping
>>> graph = build_graph(network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["a", "b"], "activation": "sigmoid", "weight_names": [["u", "v"]]},
...     {"units": ["y"], "activation": "linear", "weight_names": [["p"], ["q"]]}]},
...     "loss": {"kind": "half_sse"}}))
>>> counts = reverse_sweep(graph, Quantity.loss(), 1, lambda vertex, readers: sum(c for _, c, _ in readers))
>>> counts[Quantity.out("x")]  # two paths from the input to E: through a and through b
2
"""
from __future__ import annotations

from typing import Callable, Optional, TypeVar

from ..graph import Edge, SymbolicGraph
from ..quantity import Quantity


Carried = TypeVar("Carried")
#: What a vertex's readers pass back: (reader, what the reader carries, ∂reader/∂vertex).
Readers = list[tuple[Quantity, Carried, object]]


def edges(graph: SymbolicGraph, target: Quantity, vertex: Quantity) -> tuple[Edge, ...]:
    """The readers of ``vertex`` on the way to ``target``, with the local derivative of each."""
    readers = graph.consumers[vertex]
    if target.kind == "loss" and target.sample < 0 and graph.one_sample is None:
        # E(o) depends on out(o) alone, so ∂E/∂out(o) = ∂E(o)/∂out(o): skip the E(o) vertex (over several
        # samples E is their mean, and the path through each sample's loss keeps its factor).
        return tuple((target, d) if u.kind == "loss_term" and vertex.kind == "out" else (u, d) for u, d in readers)
    return readers


def reverse_sweep(graph: SymbolicGraph, target: Quantity, seed: Carried,
                  combine: Callable[[Quantity, Readers], Optional[Carried]], start: int = 0,
                  skip: Callable[[Quantity], bool] = lambda vertex: False) -> dict[Quantity, Carried]:
    """What every vertex from ``graph.order[start]`` up to ``target`` carries: ``seed`` at the target, and at
    each earlier vertex ``combine(vertex, readers)`` over the readers that carry something (None: nothing).
    A vertex with no such reader, or one ``skip`` names, carries nothing."""
    carried: dict[Quantity, Carried] = {target: seed}
    for vertex in reversed(graph.order[start: graph.position[target]]):
        if skip(vertex):
            continue
        readers = [(u, carried[u], d) for u, d in edges(graph, target, vertex) if u in carried]
        if readers:
            value = combine(vertex, readers)
            if value is not None:
                carried[vertex] = value
    return carried
