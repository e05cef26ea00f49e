"""Claims: the numbers of a worked example, as the author wrote them.

``[[claims]]`` entries name a quantity (``net(h1)``, ``out(h1)``, ``E``, ``E(o1)``, a parameter,
``new(w5)``, or ``dA/dB`` for any two of the first kinds), the value as written (a string, whose
written digits set its precision) and a step (0: initial parameters; k: after k updates).
Quantity text is matched by a small grammar; nothing is ever evaluated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from ..errors import InputError
from ..frontends.dense import build_graph
from ..frontends.loader import model_from_mapping
from ..frontends.toml import read_document
from ..graph import SymbolicGraph
from ..numbers import NumberError, exact_from_toml, written_unit
from ..quantity import Quantity, parse_quantity


ClaimKind = Literal["value", "new", "derivative"]
MAX_CLAIMS = 2000
_DERIVATIVE = re.compile(r" *[d\u2202] *(.+?) */ *[d\u2202] *(.+?) *")
_NEW = re.compile(r" *new *\( *([A-Za-z][A-Za-z0-9_]*) *\) *")


@dataclass(frozen=True, order=True)
class ClaimKey:
    """What a claim is about: a value, an updated parameter, or a derivative, at a step."""

    kind: ClaimKind
    step: int
    of: Quantity
    wrt: Optional[Quantity] = None

    def __str__(self) -> str:
        if self.kind == "derivative":
            text = f"d{self.of}/d{self.wrt}"
        elif self.kind == "new":
            text = f"new({self.of})"
        else:
            text = str(self.of)
        return text if self.step == 0 else f"{text} [step {self.step}]"


@dataclass(frozen=True)
class Claim:
    """One number of the tutorial, as written."""

    index: int
    quantity: str  # as written in the file
    key: ClaimKey
    written: str
    value: Fraction
    unit: Fraction  # one unit in the last written place; 0 for an exact fraction
    place: str

    @property
    def half_unit(self) -> Fraction:
        return self.unit / 2


def parse_claim_quantity(text: str, step: int) -> ClaimKey:
    """Read the quantity of a claim.

    >>> str(parse_claim_quantity("dE/dw5", 0)), str(parse_claim_quantity("\u2202out(o1)/\u2202net(o1)", 0))
    ('dE/dw5', 'dout(o1)/dnet(o1)')
    >>> str(parse_claim_quantity("new(w5)", 0)), str(parse_claim_quantity("E", 1))
    ('new(w5)', 'E [step 1]')
    """
    if not isinstance(text, str) or len(text) > 120:
        raise ValueError("a quantity is a short string such as \"dE/dw5\"")
    if not text.isprintable():
        raise ValueError("a quantity is one line of printable text, such as \"dE/dw5\"")
    new = _NEW.fullmatch(text)
    if new:
        return ClaimKey("new", step, Quantity.param(new[1]))
    derivative = _DERIVATIVE.fullmatch(text)
    if derivative and "/" not in derivative[1] and "/" not in derivative[2]:
        try:
            return ClaimKey("derivative", step, parse_quantity(derivative[1]), parse_quantity(derivative[2]))
        except ValueError:
            pass
    return ClaimKey("value", step, parse_quantity(text))


def claims_from_document(document: Mapping[str, Any], graph: SymbolicGraph) -> list[Claim]:
    """Validate the ``[[claims]]`` of a parsed worked-example file against its network."""
    raw = document.get("claims")
    if raw is None:
        raise InputError("a worked example needs [[claims]]: the numbers to audit", place="claims")
    if not isinstance(raw, list) or not raw:
        raise InputError("expected one or more [[claims]] tables", place="claims")
    if len(raw) > MAX_CLAIMS:
        raise InputError(f"{len(raw)} claims; at most {MAX_CLAIMS} are supported", place="claims")
    if graph.missing:
        raise InputError(f"an audit needs the tutorial's numbers; the file has no {graph.missing}", place="data")
    claims = []
    for index, table in enumerate(raw):
        place = f"claims[{index}]"
        if not isinstance(table, dict):
            raise InputError("expected a table with quantity and value", place=place)
        unknown = set(table) - {"quantity", "value", "step", "sample", "note"}
        if unknown:
            raise InputError(f"unknown key {sorted(unknown)[0]!r} (known: quantity, value, step, sample, note)",
                             place=place)
        for key in ("quantity", "value"):
            if key not in table:
                raise InputError(f"missing required key {key!r}", place=f"{place}.{key}")
        step = table.get("step", 0)
        last = max(graph.training.steps, 1)
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= last:
            raise InputError(f"step must be a whole number from 0 (the initial parameters) to {last} (after "
                             f"{'one update' if last == 1 else f'{last} updates'}: [training] steps = {last})",
                             place=f"{place}.step")
        try:
            key = parse_claim_quantity(table["quantity"], step)
        except ValueError as error:
            raise InputError(str(error), place=f"{place}.quantity") from None
        key = _validate_key(key, graph, f"{place}.quantity", _sample(table, graph, f"{place}.sample"))
        if (step == 1 or key.kind == "new") and graph.learning_rate is None:
            raise InputError("claims about the update need training.learning_rate", place=f"{place}.quantity")
        written = table["value"]
        try:
            value = exact_from_toml(written)
        except NumberError as error:
            raise InputError(str(error), place=f"{place}.value") from None
        # the digits as written: a TOML float keeps its text (0.2980 claims four decimals, not repr's 0.298)
        text = written if isinstance(written, str) else getattr(written, "text", None) or repr(written)
        quantity = table["quantity"] if "sample" not in table else f"{table['quantity']} (sample {table['sample']})"
        claims.append(Claim(index, quantity, key, text.strip(), value, written_unit(text), place))
    return claims


def _sample(table: Mapping[str, Any], graph: SymbolicGraph, place: str) -> int:
    """The claim's ``sample`` (0-based), or -1: E and ∂E/∂p of all samples, or a file of one sample."""
    if "sample" not in table:
        return -1
    sample, count = table["sample"], len(graph.samples)
    if not count:
        raise InputError("this file gives one sample; sample = S is for files with several", place=place)
    if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample < count:
        raise InputError(f"sample must be a whole number from 0 to {count - 1}, got {str(sample)[:40]}", place=place)
    return sample


def _validate_key(key: ClaimKey, graph: SymbolicGraph, place: str, sample: int = -1) -> ClaimKey:
    """The key with its quantities as the graph knows them (a formula graph's ``h`` is its node h), of the
    claim's sample where it names one."""
    if key.kind == "new":
        if sample >= 0:
            raise InputError("new(p) is a parameter after the update, the same for every sample: give no sample",
                             place=place)
        of = graph.validate(key.of, place)
        if key.step >= max(graph.training.steps, 1):
            raise InputError(f"new(p) at step {key.step} is the parameter after update {key.step + 1}; the file "
                             f"trains {max(graph.training.steps, 1)} step(s)", place=place)
        if of.kind != "param":
            raise InputError(f"new({of}) names a node; new(p) is a parameter after the update", place=place)
        return ClaimKey("new", key.step, of)
    of = graph.validate(key.of, place, sample)
    wrt = graph.validate(key.wrt, place, sample) if key.wrt is not None else None
    return ClaimKey(key.kind, key.step, of, wrt)


def load_claims(path: str | Path):
    """Read a worked-example file: its network (validated) and its claims."""
    graph, claims, _ = read_worked_example(path, claims_required=True)
    return graph, claims


def read_worked_example(path: str | Path, claims_required: bool = False):
    """A file's graph, its claims (validated; none where the file has none and none are required) and the
    document they were read from."""
    document = read_document(path)
    try:
        model = model_from_mapping(document)
        graph = model if isinstance(model, SymbolicGraph) else build_graph(model)
        has_claims = claims_required or "claims" in document
        return graph, claims_from_document(document, graph) if has_claims else [], document
    except InputError as error:
        raise error.located(str(path)) from None
