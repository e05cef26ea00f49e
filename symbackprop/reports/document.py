r"""A small document model, and its two renderings: GitHub Markdown and a LaTeX document.

Reports that mix prose and mathematics (the worked example of ``explain``)
are built once as a :class:`Document` and rendered by the functions here. All
mathematics is LaTeX; prose is plain text that each renderer escapes for its
own format. Nothing here knows about networks.

>>> doc = Document("Demo", (Heading("Forward"), Paragraph(("The value of ", Math("x"), " is:")),
...                         Display(r"x = 1")))
>>> print(to_markdown(doc))
# Demo
<BLANKLINE>
## Forward
<BLANKLINE>
The value of $x$ is:
<BLANKLINE>
```math
x = 1
```
<BLANKLINE>
>>> print(to_latex(doc, fragment=True))
\section*{Demo}
<BLANKLINE>
\subsection*{Forward}
<BLANKLINE>
The value of $x$ is:
<BLANKLINE>
\[
x = 1
\]
<BLANKLINE>
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from ..errors import printable


class Math(str):
    """Inline mathematics, in LaTeX."""


Span = Union[str, Math]  # a plain str is prose


@dataclass(frozen=True)
class Heading:
    text: Union[str, tuple[Span, ...]]
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Display:
    """One display equation (it may be an ``aligned`` block of several lines)."""

    latex: str


@dataclass(frozen=True)
class Table:
    header: tuple[tuple[Span, ...], ...]
    rows: tuple[tuple[tuple[Span, ...], ...], ...]


Block = Union[Heading, Paragraph, Display, Table]


@dataclass(frozen=True)
class Document:
    title: str
    blocks: tuple[Block, ...]

    def _repr_markdown_(self) -> str:  # Jupyter renders the whole worked example in place, MathJax and all
        return to_markdown(self, math="jupyter")


def _spans(value) -> tuple[Span, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


# ---- Markdown (GitHub) -------------------------------------------------------------------
# Brackets are escaped, so "(" can never follow a link text; "&" would start an entity such as &lt;; "~" a
# strikethrough; "@", "://" and "www." an autolink (an escaped character breaks the text a linkifier reads).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#$&~@])|(?<=\w)(:)(?=//)|(?<=www)(\.)", re.IGNORECASE)


def markdown_text(text: str) -> str:
    r"""Prose for Markdown: one line, and nothing in it can open a link, an HTML tag, code, a table cell, a
    strikethrough or an autolink.

    >>> markdown_text("<script>x</script> [a](javascript:b)\n| ok |")
    '\\<script\\>x\\</script\\> \\[a\\](javascript:b)\\\\n\\| ok \\|'
    >>> markdown_text("~~x~~ https://a.b www.c.d e@f.g")
    '\\~\\~x\\~\\~ https\\://a.b www\\.c.d e\\@f.g'
    """
    return _MARKDOWN_SPECIAL.sub(lambda match: "\\" + next(g for g in match.groups() if g), printable(text))


def _markdown_spans(spans) -> str:
    return "".join(f"${s}$" if isinstance(s, Math) else markdown_text(s) for s in _spans(spans))


#: How each Markdown renderer is told that a block is display mathematics: GitHub's documented fence, and the
#: ``$$`` block that Jupyter hands to MathJax (a ```` ```math ```` fence there is shown as code).
DISPLAY_MATH = {"github": ("```math", "```"), "jupyter": ("$$", "$$")}


def to_markdown(document: Document, math: str = "github") -> str:
    """Markdown with ``$…$`` inline and each display equation as ``math`` renders it: ``"github"`` (a
    ```` ```math ```` block, for files) or ``"jupyter"`` (a ``$$`` block, for notebooks).

    >>> print(to_markdown(Document("D", (Display("x = 1"),)), math="jupyter"))
    # D
    <BLANKLINE>
    $$
    x = 1
    $$
    <BLANKLINE>
    """
    opening, closing = DISPLAY_MATH[math]
    out = [f"# {_markdown_spans(document.title)}", ""]
    for block in document.blocks:
        if isinstance(block, Heading):
            out += ["#" * min(block.level, 6) + " " + _markdown_spans(block.text), ""]
        elif isinstance(block, Paragraph):
            out += [_markdown_spans(block.spans), ""]
        elif isinstance(block, Display):
            out += [opening, block.latex, closing, ""]
        elif isinstance(block, Table):
            out.append("| " + " | ".join(_markdown_spans(cell) for cell in block.header) + " |")
            out.append("|" + "---|" * len(block.header))
            for row in block.rows:
                out.append("| " + " | ".join(_markdown_spans(cell) for cell in row) + " |")
            out.append("")
    return "\n".join(out)


# ---- LaTeX -------------------------------------------------------------------------------
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
# Characters our own prose uses, and those pasted into titles, mapped to what pdflatex can typeset.
_LATEX_UNICODE = {
    "∂": r"$\partial$", "η": r"$\eta$", "σ": r"$\sigma$", "δ": r"$\delta$", "Σ": r"$\Sigma$", "→": r"$\to$",
    "·": r"$\cdot$", "−": "-", "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\dots{}",
    "×": r"$\times$", "≤": r"$\le$", "≥": r"$\ge$", "½": r"$\frac12$", "²": r"$^2$", "⁺": r"$^+$",
}
_HEADINGS = {1: "section", 2: "subsection", 3: "subsubsection"}


def latex_text(text: str) -> str:
    r"""Prose escaped for LaTeX; characters pdflatex cannot typeset become their code point.

    >>> latex_text("w_1 & 50% → ∂E ✓")
    'w\\_1 \\& 50\\% $\\to$ $\\partial$E \\texttt{U+2713}'
    """
    pieces = []
    for char in text:
        if char in _LATEX_ESCAPES:
            pieces.append(_LATEX_ESCAPES[char])
        elif char in _LATEX_UNICODE:
            pieces.append(_LATEX_UNICODE[char])
        elif char in "\t\n\r":
            pieces.append(" ")  # a line break in a title is a space, never a paragraph break
        elif 32 <= ord(char) < 127 or char.isalpha() and 0xC0 <= ord(char) < 0x100:
            pieces.append(char)  # printable ASCII and Latin-1 letters: inputenc + T1 typeset them
        else:
            pieces.append(r"\texttt{U+%04X}" % ord(char))
    return "".join(pieces)


def _latex_spans(spans) -> str:
    return "".join(f"${s}$" if isinstance(s, Math) else latex_text(s) for s in _spans(spans))


PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[utf8]{inputenc}
\usepackage[T1]{fontenc}
\usepackage{amsmath}
\usepackage[margin=2cm]{geometry}
\allowdisplaybreaks
\setlength{\emergencystretch}{3em}
\tolerance=1000
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
"""


def to_latex(document: Document, fragment: bool = False) -> str:
    """A standalone LaTeX document (article, amsmath) that pdflatex compiles; the body alone with ``fragment``."""
    out = [r"\section*{%s}" % _latex_spans(document.title), ""]
    for block in document.blocks:
        if isinstance(block, Heading):
            out += [r"\%s*{%s}" % (_HEADINGS.get(block.level, "paragraph"), _latex_spans(block.text)), ""]
        elif isinstance(block, Paragraph):
            out += [_latex_spans(block.spans), ""]
        elif isinstance(block, Display):
            out += [r"\[", block.latex, r"\]", ""]
        elif isinstance(block, Table):
            out.append(r"\begin{tabular}{%s}" % ("l" * len(block.header)))
            out.append(r"\hline")
            out.append(" & ".join(_latex_spans(cell) for cell in block.header) + r" \\ \hline")
            for row in block.rows:
                out.append(" & ".join(_latex_spans(cell) for cell in row) + r" \\")
            out += [r"\hline", r"\end{tabular}", ""]
    body = "\n".join(out)
    if fragment:
        return body
    return PREAMBLE + "\n\\begin{document}\n\n" + body + "\n\\end{document}\n"
