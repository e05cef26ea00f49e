"""The one coercion: every public function that takes a network takes it through :func:`as_graph`."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..graph import SymbolicGraph
from .dense import build_graph
from .loader import load_model
from .model import Model
from .network import Network


def as_graph(model: object, taker: str = "this") -> SymbolicGraph:
    """The one graph of anything the public API takes: a :class:`SymbolicGraph`, a dense
    :class:`~symbackprop.frontends.network.Network`, a :class:`Model`, or the path of a network file.

    >>> as_graph(5, "an Engine")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: network: an Engine takes a Network, a Model, a SymbolicGraph or a file's path, not int
    """
    if isinstance(model, (str, Path)):
        model = load_model(model)
    if isinstance(model, Model):
        return model.graph()
    if isinstance(model, Network):
        return build_graph(model)
    if isinstance(model, SymbolicGraph):
        return model
    raise InputError(f"{taker} takes a Network, a Model, a SymbolicGraph or a file's path, not "
                     f"{type(model).__name__}", place="network")
