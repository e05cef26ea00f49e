"""Fitting LaTeX to the page: the visible width of a line, and breaking long sums and products across lines.

>>> visible_width(r"\\frac{a}{b} + c") < visible_width("abcdefgh")
True
"""
from __future__ import annotations

import re
from typing import Iterator, Sequence


#: Widest line of a display, in the units of :func:`visible_width` (about a character of 11 pt math): what
#: fits the 2 cm margins of the LaTeX document with the left-hand side and a \quad of indent beside it.
LINE_WIDTH = 62


#: The whole width of the page's text, in the same units.
PAGE_WIDTH = 78


_MATRIX = re.compile(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", re.S)


#: Binary operators and relations, typeset with space on both sides.
_SPACED = frozenset({r"\cdot", r"\to", r"\times", r"\approx", r"\le", r"\ge", r"\qquad", r"\quad"})


def visible_width(tex: str) -> float:
    r"""About how many characters wide ``tex`` is typeset: commands count as one symbol, scripts as 0.7,
    a fraction as its wider part, an operator with its spaces as two, ``\left``/``\right``/``\mathrm`` as nothing.

    >>> visible_width(r"\frac{\partial E}{\partial \mathrm{out}_{o1}}"), visible_width(r"\left(-1.3066 \times 10^{-3}\right)")
    (6.4, 14.4)
    """
    matrices = 0.0
    for matrix in _MATRIX.findall(tex):  # a matrix is as wide as its widest row
        rows = [[visible_width(cell) for cell in row.split("&")] for row in matrix.split(r"\\")]
        matrices += max(sum(row) + 2 * len(row) for row in rows) + 2
    tex = _MATRIX.sub("", tex)
    width, index = matrices, 0
    while index < len(tex):
        if tex.startswith(r"\frac", index):
            numerator, index = _group(tex, index + 5)
            denominator, index = _group(tex, index)
            width += max(visible_width(numerator), visible_width(denominator)) + 1  # and the space beside it
            continue
        char = tex[index]
        if char in "_^":
            script, index = _group(tex, index + 1)
            width += 0.7 * visible_width(script)  # script size
            continue
        if char == "\\":
            command = re.match(r"\\([a-zA-Z]+|.)", tex[index:])[0]
            index += len(command)
            invisible = command in (r"\left", r"\right", r"\mathrm", r"\operatorname", r"\text")
            width += 0 if invisible else 2 if command in _SPACED else 1
            continue
        index += 1
        width += 0 if char in "{} " else 2 if char in "+=<>" else 1
    return width


def _group(tex: str, index: int) -> tuple[str, int]:
    """The braced group (or single character) at ``index``, and the index after it."""
    if index >= len(tex):
        return "", index
    if tex[index] != "{":
        return tex[index], index + 1
    depth = 0
    for end in range(index, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[end], 0)
        if depth == 0:
            return tex[index + 1:end], end + 1
    return tex[index + 1:], len(tex)


def _fitted(line: str, width: float) -> list[str]:
    r"""``line`` as it is, or, when it is wider than ``width``, broken before its top-level ``+`` signs (outside
    braces, brackets and matrices); with none, inside its widest parenthesis, before the signs there
    (each line closing and opening it with ``\right.`` and ``\left.``)."""
    if visible_width(line) <= width:
        return [line]
    terms = _split_terms(line, (" + ",))
    if len(terms) > 1:
        return _joined([line[a:b] for a, b in terms], "+", width)
    inner = max(_parentheses(line), key=lambda span: span[1] - span[0], default=None)
    if inner is None:
        return [line]
    start, end = inner
    signed = _split_terms(line[start:end], (" + ", " - "), keep=True)
    if len(signed) < 2:
        return [line]
    lines = _grouped([line[start + a:start + b] for a, b in signed], " ", width - visible_width(line[:start]))
    if len(lines) < 2:
        return [line]
    return ([line[:start] + lines[0] + r" \right."] + [r"\left. " + text + r" \right." for text in lines[1:-1]]
            + [r"\left. " + lines[-1] + line[end:]])


def _depths(line: str) -> Iterator[tuple[int, int]]:
    """(index, depth) of every character: braces, \\begin…\\end and \\left…\\right nest."""
    depth = 0
    for index, char in enumerate(line):
        if char == "{" or line.startswith((r"\begin", r"\left"), index):
            depth += 1
        elif char == "}" or line.startswith((r"\end", r"\right"), index):
            depth -= 1
        yield index, depth


def _split_terms(line: str, separators: tuple[str, ...], keep: bool = False) -> list[tuple[int, int]]:
    """Spans of the terms of ``line`` between top-level ``separators`` (with ``keep``, each term after the
    first starts with its sign)."""
    spans, start = [], 0
    for index, depth in _depths(line):
        if depth == 0 and index > start and line.startswith(separators, index):
            spans.append((start, index))
            start = index + (1 if keep else 3)
    return spans + [(start, len(line))]


def _parentheses(line: str) -> list[tuple[int, int]]:
    r"""Spans of the contents of the top-level ``\left( … \right)`` groups of ``line``."""
    spans, opened = [], None
    for index, depth in _depths(line):
        if depth == 1 and opened is None and line.startswith(r"\left(", index):
            opened = index + len(r"\left(")
        elif depth == 0 and opened is not None and line.startswith(r"\right)", index):
            spans.append((opened, index))
            opened = None
    return spans


def _grouped(parts: Sequence[str], separator: str, width: float) -> list[str]:
    """``parts`` joined by ``separator`` into lines, a new line before a part that would pass ``width``."""
    lines: list[list[str]] = [[]]
    for part in parts:
        if lines[-1] and visible_width(separator.join(lines[-1] + [part])) > width:
            lines.append([])
        lines[-1].append(part)
    return [separator.join(line) for line in lines]


def _joined(parts: Sequence[str], operator: str, width: float = LINE_WIDTH) -> list[str]:
    """Parts joined by ``operator`` as the lines of one side, a new line before a part that would pass
    ``width`` (:func:`visible_width`); a product too wide for a line of its own breaks at its dots."""
    pieces: list[str] = []
    for part in parts:
        if visible_width(part) > width and r" \cdot " in part:
            pieces += _joined(part.split(r" \cdot "), r"\cdot", width)
        else:
            pieces.append(part)
    joined = _grouped(pieces, f" {operator} ", width)
    return [joined[0]] + [f"{operator} {line}" for line in joined[1:]]
