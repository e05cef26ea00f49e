"""Reading a file's tables: keys, numbers, names, and the sections both file formats share.

Every number is parsed as an exact rational (:mod:`symbackprop.numbers`), every name is matched against a
fixed pattern, and every problem names its place (``training.steps``) in one :class:`InputError`.

>>> _number("0.15", "data.inputs[0]")
Fraction(3, 20)
>>> _number(True, "x")
Traceback (most recent call last):
...
symbackprop.errors.InputError: x: expected a number, got a boolean (true)
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Mapping, Optional, Sequence

from ..errors import InputError, did_you_mean
from ..functions import activations
from ..functions import losses as loss_registry
from ..functions.update import MAX_STEPS, METHODS, REDUCTIONS, Training
from ..numbers import NumberError, TomlFloat, exact_from_toml, format_decimal
from .model import MAX_SAMPLES


RESERVED_NAMES = frozenset({"net", "out", "new", "E"})


#: Prefixes of the symbols generated for every unit; a user name may not collide with them.
NODE_PREFIXES = ("net_", "out_", "delta_", "dout_", "t_")


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


DATA_KEYS = {"inputs"}


TRAINING_KEYS = {"learning_rate", "update_biases", "steps", "method", "batch_size", "momentum", "fixed"}


def _row_or_rows(value: Any, place: str, count: int, what: str):
    """(one row, None) for a list of numbers; (None, rows) for a list of rows, one per sample."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        if len(value) > MAX_SAMPLES:
            raise InputError(f"{len(value):,} rows; at most {MAX_SAMPLES:,} samples are supported", place=place)
        return None, tuple(_numbers(row, f"{place}[{i}]", count, what) for i, row in enumerate(value))
    return _numbers(value, place, count, what), None


def _samples(data_rows, target_rows, targets_place: str) -> tuple:
    """The samples when the file gives rows: inputs and targets, the same count of each."""
    if data_rows is None and target_rows is None:
        return ()
    if data_rows is None or target_rows is None:
        given, other = ("data.inputs", targets_place) if data_rows is not None else (targets_place, "data.inputs")
        raise InputError(f"{given} gives rows (one per sample), so {other} must give a row per sample too", place=other)
    if len(data_rows) != len(target_rows):
        raise InputError(f"{len(target_rows)} rows of targets for {len(data_rows)} samples: give one row per sample",
                         place=targets_place)
    return tuple(zip(data_rows, target_rows))


def _data(document: Mapping[str, Any], inputs: tuple[str, ...]):
    """(one row, None), (None, rows) or (None, None) when the file gives no data."""
    if "data" not in document:
        return None, None
    table = document["data"]
    _require_table(table, "data", "[data]")
    _no_unknown_keys(table, DATA_KEYS, "data")
    values = _require_key(table, "inputs", "data")
    return _row_or_rows(values, "data.inputs", len(inputs), f"one per input: {_listing(inputs)}")


def _reduction(document: Mapping[str, Any]) -> str:
    table = document.get("loss", {})
    reduction = table.get("reduction", "mean") if isinstance(table, dict) else "mean"
    if reduction not in REDUCTIONS:
        raise InputError(f"unknown reduction {str(reduction)[:40]!r}; known: {', '.join(REDUCTIONS)}",
                         place="loss.reduction")
    return reduction


#: Longest ``[meta] title``: a heading, not a paragraph.
MAX_TITLE = 300


def _title(document: Mapping[str, Any]) -> str:
    """The file's ``[meta] title`` ("" when it gives none)."""
    meta = document.get("meta", {})
    title = meta.get("title", "") if isinstance(meta, dict) else ""
    if not isinstance(title, str):
        raise InputError(f"the title must be text, not {_kind(title)}", place="meta.title")
    if len(title) > MAX_TITLE:
        raise InputError(f"the title has {len(title):,} characters; at most {MAX_TITLE} are allowed", place="meta.title")
    return title


def _training(document: Mapping[str, Any], samples: int = 1) -> tuple[Optional[Fraction], bool, Training]:
    if "training" not in document:
        return None, True, Training(reduction=_reduction(document))
    table = document["training"]
    _require_table(table, "training", "[training]")
    _no_unknown_keys(table, TRAINING_KEYS, "training")
    rate = None
    if "learning_rate" in table:
        rate = _number(table["learning_rate"], "training.learning_rate")
        if rate <= 0:
            raise InputError("the learning rate must be positive", place="training.learning_rate")
    update_biases = table.get("update_biases", True)
    if not isinstance(update_biases, bool):
        raise InputError(f"expected true or false, got {_kind(update_biases)}", place="training.update_biases")
    return rate, update_biases, _plan(table, samples, _reduction(document))


def fixed_parameters(document: Mapping[str, Any], parameters: Sequence[str]) -> frozenset[str]:
    """``training.fixed``: the parameters an update leaves alone (a formula graph's; each must be one of
    ``parameters``)."""
    table = document.get("training", {})
    if not isinstance(table, Mapping) or "fixed" not in table:
        return frozenset()
    names = table["fixed"]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise InputError(f"expected a list of parameter names, got {_kind(names)}", place="training.fixed")
    for position, name in enumerate(names):
        if name not in parameters:
            raise InputError(f"{name[:40]!r} is not a parameter (parameters: {', '.join(parameters[:20])}"
                             + (", …)" if len(parameters) > 20 else ")"), place=f"training.fixed[{position}]")
    return frozenset(names)


def _plan(table: Mapping[str, Any], samples: int, reduction: str) -> Training:
    """Steps, method, batch size and momentum, each checked before any work."""
    steps = table.get("steps", 1)
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise InputError(f"expected a whole number of steps, got {_kind(steps)}", place="training.steps")
    if not 0 <= steps <= MAX_STEPS:
        raise InputError(f"steps must lie between 0 and {MAX_STEPS:,}, got {steps:,}", place="training.steps")
    method = table.get("method", "batch")
    if method not in METHODS:
        raise InputError(f"unknown method {str(method)[:40]!r}; known: {', '.join(METHODS)}", place="training.method")
    size = table.get("batch_size")
    if method == "minibatch" and size is None:
        raise InputError("method = \"minibatch\" needs batch_size", place="training.batch_size")
    if size is not None:
        if method != "minibatch":
            raise InputError(f"batch_size applies to method = \"minibatch\", not {method!r}", place="training.batch_size")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= samples:
            raise InputError(f"batch_size must be a whole number from 1 to the {samples} sample(s), got {str(size)[:40]}",
                             place="training.batch_size")
    momentum = Fraction(0)
    if "momentum" in table:
        momentum = _number(table["momentum"], "training.momentum")
        if not 0 <= momentum < 1:
            raise InputError(f"momentum must lie in [0, 1), got {_fraction_text(momentum)}", place="training.momentum")
    return Training(steps, method, size, momentum, reduction)


def _check_name(name: Any, place: str) -> None:
    if not isinstance(name, str):
        raise InputError(f"expected a name (a string), got {_kind(name)}", place=place)
    if not _NAME.fullmatch(name):
        raise InputError(
            f"{name[:40]!r} is not a valid name: a letter, then letters, digits or underscores, at most 32 characters",
            place=place,
        )
    if name in RESERVED_NAMES:
        raise InputError(f"{name!r} is reserved ({', '.join(sorted(RESERVED_NAMES))})", place=place)


def _name_cell(value: Any, place: str) -> str:
    _check_name(value, place)
    return value


def _names(value: Any, place: str, limit: int, check=None) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InputError(f"expected a list of names, got {_kind(value)}", place=place)
    if len(value) > limit:
        raise InputError(f"{len(value)} names; at most {limit} are supported", place=place)
    for i, name in enumerate(value):
        (check or _check_name)(name, f"{place}[{i}]")
    return tuple(value)


def _number(value: Any, place: str) -> Fraction:
    try:
        return exact_from_toml(value)
    except NumberError as error:
        raise InputError(str(error), place=place) from None


def _numbers(value: Any, place: str, count: int, what: str) -> tuple[Fraction, ...]:
    if not isinstance(value, list):
        raise InputError(f"expected a list of {count} numbers ({what}), got {_kind(value)}", place=place)
    if len(value) != count:
        raise InputError(f"expected {count} numbers ({what}), found {len(value)}", place=place)
    return tuple(_number(cell, f"{place}[{i}]") for i, cell in enumerate(value))


def _require_key(table: Mapping[str, Any], key: str, place: str) -> Any:
    if key not in table:
        raise InputError(f"missing required key {key!r}", place=f"{place}.{key}" if place else key)
    return table[key]


def _require_table(value: Any, place: str, what: str) -> None:
    if not isinstance(value, dict):
        raise InputError(f"expected {what} to be a table, got {_kind(value)}", place=place)


def _no_unknown_keys(table: Mapping[str, Any], known: set[str], place: str) -> None:
    for key in table:
        if key not in known:
            hint = did_you_mean(str(key)[:80], sorted(known), quote=True) or f"; known keys: {', '.join(sorted(known))}"
            raise InputError(f"unknown key {str(key)[:40]!r}{hint}", place=f"{place}.{key}" if place else str(key)[:40])


def _kind(value: Any) -> str:
    if isinstance(value, TomlFloat):
        return f"the float {value.text}"  # as written: steps = 2.0 is a float, not "TomlFloat"
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"
    }.get(type(value), type(value).__name__)


def _listing(names: tuple[str, ...]) -> str:
    return ", ".join(names) if len(names) <= 6 else ", ".join(names[:5]) + f", … ({len(names)} in all)"


def _fraction_text(value: Fraction) -> str:
    return format_decimal(value, 12, trim=True)


def _registry(losses: bool = False):
    """The registry module: the names a file may use are the registered ones, listed nowhere else."""
    return loss_registry if losses else activations
