"""Quantities: the things a derivative can be of or with respect to.

``net(u)``, ``out(u)`` (for an input, its value), a parameter's name, ``E``
(the loss) and ``E(u)`` (output u's term of the loss). This module does not
import SymPy: the numeric oracle and the file readers use it too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

QuantityKind = Literal["net", "out", "param", "loss", "loss_term", "node"]


@dataclass(frozen=True, order=True, repr=False)
class Quantity:
    """A vertex of the graph: net(u), out(u), a parameter, E(o), E, or a formula node by its name.

    >>> str(Quantity.out("h1")), str(Quantity.loss()), str(Quantity.loss_term("o1")), str(Quantity.param("w5"))
    ('out(h1)', 'E', 'E(o1)', 'w5')
    """

    kind: QuantityKind
    name: str = ""
    #: Which sample a per-sample node belongs to (0-based), in a graph over several samples; -1 otherwise.
    sample: int = -1

    @staticmethod
    def net(unit: str, sample: int = -1) -> "Quantity":
        return Quantity("net", unit, sample)

    @staticmethod
    def out(unit: str, sample: int = -1) -> "Quantity":
        return Quantity("out", unit, sample)

    @staticmethod
    def param(name: str) -> "Quantity":
        return Quantity("param", name)

    @staticmethod
    def node(name: str, sample: int = -1) -> "Quantity":
        """A named node of a formula graph (or one of its inputs)."""
        return Quantity("node", name, sample)

    @staticmethod
    def loss(sample: int = -1) -> "Quantity":
        """E; with a sample, that sample's loss (E is then their mean or sum)."""
        return Quantity("loss", "", sample)

    @staticmethod
    def loss_term(unit: str, sample: int = -1) -> "Quantity":
        return Quantity("loss_term", unit, sample)

    def __repr__(self) -> str:
        sample = f", sample={self.sample}" if self.sample >= 0 else ""
        return f"Quantity(kind={self.kind!r}, name={self.name!r}{sample})"

    def of_sample(self, sample: int) -> "Quantity":
        """The same quantity of another sample (or of none: -1)."""
        return Quantity(self.kind, self.name, sample)

    def __str__(self) -> str:
        """``out(h1)``; of sample 2 in a graph over several samples, ``out(h1)[2]``."""
        if self.kind in ("net", "out"):
            text = f"{self.kind}({self.name})"
        elif self.kind == "loss_term":
            text = f"E({self.name})"
        else:
            text = "E" if self.kind == "loss" else self.name  # a parameter or a formula node: its name
        return sampled(text, self.sample)


def sampled(name: str, sample: int) -> str:
    """A name as it is written for one sample: ``out_h1`` of sample 2 is ``out_h1[2]``.

    >>> sampled("out_h1", 2), sampled("out_h1", -1), str(Quantity.out("h1", 0))
    ('out_h1[2]', 'out_h1', 'out(h1)[0]')
    """
    return name if sample < 0 else f"{name}[{sample}]"


_QUANTITY = re.compile(r" *(?:(net|out|E) *\( *([A-Za-z][A-Za-z0-9_]*) *\)|(E)|([A-Za-z][A-Za-z0-9_]*)) *")


def parse_quantity(text: str) -> Quantity:
    """Read ``net(h1)``, ``out(h1)``, ``E``, ``E(o1)`` or a parameter name (no evaluation).

    >>> parse_quantity("out(h1)"), parse_quantity("E"), parse_quantity("w5")
    (Quantity(kind='out', name='h1'), Quantity(kind='loss', name=''), Quantity(kind='param', name='w5'))
    """
    if isinstance(text, str) and len(text) <= 200:
        text = text.strip(" ")
    match = _QUANTITY.fullmatch(text) if isinstance(text, str) and len(text) <= 80 else None
    if not match:
        if isinstance(text, str) and len(text) > 80:
            raise ValueError(f"a quantity is at most 80 characters; this one has {len(text)}")
        raise ValueError(f"{str(text)[:80]!r} is not a quantity: write net(u), out(u), E, E(u) or a parameter name")
    function, argument, bare_e, name = match.groups()
    if function == "E":
        return Quantity.loss_term(argument)
    if function:
        return Quantity(function, argument)
    if bare_e:
        return Quantity.loss()
    return Quantity.param(name)


