"""The TOML guard: a file is bounded in size and nesting before the parser sees it, and any problem is one
:class:`InputError` naming the file and the line.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..numbers import TomlFloat


MAX_FILE_BYTES = 8 * 1024 * 1024


#: Dotted parts of one key, and nesting of lists and inline tables, accepted before TOML is parsed.
MAX_KEY_PARTS = 16


@dataclass(frozen=True)
class InMemoryFile:
    """A file's content already read (standard input, for ``-``), with the name messages give it."""

    name: str
    content: bytes

    def __str__(self) -> str:
        return self.name


def read_document(path: "str | Path | InMemoryFile") -> dict[str, Any]:
    """Parse a TOML file into a plain dict, with clean errors for unreadable files."""
    import tomllib

    source = str(path)
    if isinstance(path, InMemoryFile):
        raw = path.content
    else:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise InputError(f"cannot read file: {error.strerror or error}", source=source) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", source=source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (byte {error.start})", source=source) from None
    _check_nesting(text, source)
    try:
        return tomllib.loads(text, parse_float=TomlFloat.parse)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"not valid TOML: {error}", source=source) from None
    except RecursionError:
        raise InputError("not valid TOML: nested too deeply", source=source) from None
    except ValueError:  # an integer beyond Python's digit limit for int()
        raise InputError("not valid TOML: an integer of more than 4,300 digits", source=source) from None


def _check_nesting(text: str, source: str) -> None:
    """Refuse, before parsing, a key or table header of more than MAX_KEY_PARTS dotted parts: the TOML
    parser's time and memory grow far faster than the file (an 80 KB key takes gigabytes).
    Nested lists and inline tables need no scan: the parser's recursion limit stops them at once."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.count(".") > MAX_KEY_PARTS and _key_parts(line) > MAX_KEY_PARTS:
            raise InputError(f"a key with more than {MAX_KEY_PARTS} dotted parts", place=f"line {number}",
                             source=source)


def _key_parts(line: str) -> int:
    """The dots between the key parts that ``line`` starts with (``a.b = 1``, ``[a.b]``, ``[["a".b]]``), in one
    pass; a value's own dots, as in ``0.1, 0.2``, stop at the comma and count for little.

    >>> _key_parts("a.b.c = 1"), _key_parts('  [["x".y.z]]'), _key_parts('"0.1", "0.2",')
    (2, 2, 0)
    """
    position, end, dots = 0, len(line), 0
    bare = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

    def skip_space(at: int) -> int:
        while at < end and line[at] in " \t":
            at += 1
        return at

    position = skip_space(position)
    for _ in range(2):  # a table header, [a.b] or [[a.b]]
        if position < end and line[position] == "[":
            position += 1
    while True:
        position = skip_space(position)
        if position < end and line[position] in "\"'":
            close = line.find(line[position], position + 1)
            if close < 0:
                return dots
            position = close + 1
        else:
            start = position
            while position < end and line[position] in bare:
                position += 1
            if position == start:
                return dots
        position = skip_space(position)
        if position < end and line[position] == ".":
            dots += 1
            position += 1
            continue
        return dots  # what follows does not matter: the parser reads the parts first, in quadratic time
