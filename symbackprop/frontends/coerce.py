"""The one coercion: every public function that takes a network takes it through :func:`as_graph`; and the
graph of one batch, built by the front-end that built the whole."""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Mapping, Optional, Sequence

from ..errors import InputError
from ..graph import SymbolicGraph
from ..layout import Layout
from ..quantity import Quantity
from .dense import build_graph, layout_of, network_of, training_graph
from .loader import load_model
from .model import Model, graph_of_samples
from .network import Network


def as_graph(model: object, taker: str = "this") -> SymbolicGraph:
    """The one graph of anything the public API takes: a :class:`SymbolicGraph`, a dense
    :class:`~symbackprop.frontends.network.Network`, a :class:`Model`, or the path of a network file.

    >>> as_graph(5, "an Engine")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: network: an Engine takes a Network, a Model, a SymbolicGraph or a file's path, not int
    """
    model = _loaded(model)
    if isinstance(model, Model):
        return model.graph()
    if isinstance(model, Network):
        return build_graph(model)
    if isinstance(model, SymbolicGraph):
        return model
    raise InputError(f"{taker} takes a Network, a Model, a SymbolicGraph or a file's path, not "
                     f"{type(model).__name__}", place="network")


def _loaded(model: object) -> object:
    """What a file's path names, read (anything else as it is)."""
    return load_model(model) if isinstance(model, (str, Path)) else model


def as_training_graph(model: object, taker: str = "train") -> SymbolicGraph:
    """The graph training runs on: of a dense network over several samples, the graph of one sample with
    every sample's numbers (not a copy of every node per sample); of anything else, its one graph."""
    model = _loaded(model)
    return training_graph(model) if isinstance(model, Network) else as_graph(model, taker)


def as_layout(model: object, taker: str = "this") -> Optional[Layout]:
    """How the units of anything the public API takes sit in layers (None for a graph of formulas); a dense
    :class:`~symbackprop.frontends.network.Network` gives it without building its graph."""
    if isinstance(model, Layout):
        return model
    model = _loaded(model)
    return layout_of(model) if isinstance(model, Network) else as_graph(model, taker).layout


def batch_graph(graph: SymbolicGraph, indices: Sequence[int], parameters: Mapping[str, Fraction]) -> SymbolicGraph:
    """The graph of the samples ``indices`` of ``graph`` (a graph over several samples) with its parameters
    at ``parameters``: what one update of a minibatch or stochastic step reads. A dense graph keeps its
    layers (one sample is a plain network again, with no sample index)."""
    if graph.layout is not None:
        network = network_of(graph)
        rows = [network.samples[i] for i in indices]
        if len(rows) == 1:
            (inputs, targets), = rows
            network = dataclasses.replace(network, samples=(), data=inputs,
                                          loss=dataclasses.replace(network.loss, targets=targets))
        else:
            network = dataclasses.replace(network, samples=tuple(rows))
        return build_graph(network.with_parameter_values(parameters))
    template = graph.one_sample
    values = {**template.values, **{template.symbols[Quantity.param(n)]: v for n, v in parameters.items()}}
    return graph_of_samples(dataclasses.replace(template, values=values), [graph.samples[i] for i in indices])
