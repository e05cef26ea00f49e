"""Reports for `derive`, `check` and `train`: data in, text or JSON out (the matrix form's are in
:mod:`.matrix_results`).

Functions here turn derivations and check results into strings or plain
dicts; they never differentiate and never print.
"""
from __future__ import annotations

import json
import math
from html import escape
from typing import Iterable, Iterator, Mapping, Optional

import mpmath
import sympy as sp

from ..engine.chain import Derivation, Engine, Factor
from ..numbers import format_decimal, to_mpf
from ..oracle.check import CheckReport
from .printing import factor_latex, latex, latex_printer, latex_symbol_name, text, text_printer


FORMS = ("chain", "compact", "closed", "simplified")


def _form_expression(derivation: Derivation, form: str):
    """The one form asked for (each is computed only when asked: a closed form can be long)."""
    if form == "closed":
        return derivation.closed
    if form == "simplified":
        return derivation.simplified
    return derivation.compact


#: Longest expression written out on a line of ``derive``'s chain form; a longer one is named by its form
#: (the chain above, each δ written once, already says all of it).
MAX_WRITTEN_OUT = 400


def _nonlocal_factors(derivation: Derivation, written: Mapping[Factor, str] = {}) -> list[Factor]:
    """Every summed factor in the chain, outermost first, each once; one already ``written`` is listed
    but not opened again (its own factors were written with it)."""
    found: list[Factor] = []
    pending = [f for term in derivation.chain for f in term]
    while pending:
        factor = pending.pop(0)
        if not factor.is_local and factor not in found:
            found.append(factor)
            if factor not in written:
                pending.extend(f for term in factor.terms for f in term)
    return found


def _product_text(term: Iterable[Factor]) -> str:
    return " · ".join(str(f) for f in term)


def _name_terms(terms) -> list[str]:
    return [_product_text(term) for term in terms] or ["0"]


def _factor_terms(terms) -> list[str]:
    """A sum of products with each local factor's expression, and each summed factor (a δ) by its name."""
    return [" · ".join(str(f) if not f.is_local else f"({text(f.expression)})" for f in term)
            for term in terms] or ["0"]


def _sum_lines(head: str, pad: str, terms: list[str]) -> list[str]:
    """``head`` = the terms' sum, continued on lines under it where it would pass :data:`MAX_WRITTEN_OUT`
    (a shared weight of a recurrence sums a term per time step)."""
    lines, line = [], head
    for position, term in enumerate(terms):
        piece = term if position == 0 else f" + {term}"
        if position and len(line) + len(piece) > MAX_WRITTEN_OUT:
            lines.append(line)
            line = f"{pad}   + {term}"
        else:
            line += piece
    return lines + [line]


def _written_out(expression: sp.Expr, form: str) -> str:
    written = text(expression)
    if len(written) <= MAX_WRITTEN_OUT:
        return written
    return f"(the {form} form, {len(written):,} characters: derive --form {form} writes it out)"


def derivation_text(derivation: Derivation, form: str, digits: int, with_value: bool,
                    written: Optional[dict[Factor, str]] = None) -> str:
    """A derivation as lines a person reads in a terminal.

    In the chain form each summed factor (a δ) is written once, under the first derivation of a document
    that needs it (``written``, shared by the document, records where), and referred to by its name after:
    the text stays linear in the size of the graph.
    """
    written = {} if written is None else written
    name = str(derivation)
    pad = " " * len(name)
    lines = []
    if form == "chain":
        names, factors = _name_terms(derivation.chain), _factor_terms(derivation.chain)
        lines += _sum_lines(f"{name} = ", pad, names)
        if factors != names:
            lines += _sum_lines(f"{pad} = ", pad, factors)
        lines.append(f"{pad} = {_written_out(derivation.compact, 'compact')}")
        if derivation.simplified != derivation.compact:
            lines.append(f"{pad} = {_written_out(derivation.simplified, 'simplified')}    (simplified)")
    else:
        lines.append(f"{name} = {text(_form_expression(derivation, form))}")
    if with_value:
        lines.append(f"{pad} = {derivation.decimal(digits)}")
    if form == "chain":
        for factor in _nonlocal_factors(derivation, written):
            if factor in written:
                lines.append(f"  where {factor} is as under {written[factor]}")
                continue
            written[factor] = name
            names, factors = _name_terms(factor.terms), _factor_terms(factor.terms)
            inner = "  " + " " * (len(str(factor)) + 6)
            lines += _sum_lines(f"  where {factor} = ", inner, names)
            if factors != names:
                lines += _sum_lines(f"{inner} = ", inner, factors)
    return "\n".join(lines)


def derive_text(derivations: Iterable[Derivation], form: str, digits: int, with_value: bool) -> str:
    """``derive``'s text: every derivation, each δ written once (see :func:`derivation_text`)."""
    written: dict[Factor, str] = {}
    return "\n\n".join(derivation_text(d, form, digits, with_value, written) for d in derivations)


def factor_record(factor: Factor, term: int, engine: Engine, digits: Optional[int], as_text=text) -> dict:
    record = {
        "term": term,
        "factor": str(factor),
        "expression": as_text(factor.expression),
        "latex": factor_latex(factor.of, factor.wrt, engine.graph, factor.direct),
    }
    if factor.terms:
        record["sum"] = [[str(f) for f in product] for product in factor.terms]
    if digits is not None:
        record["value"] = format_decimal(engine.point.evalf(factor.expression, digits), digits)
    return record


def derivation_record(derivation: Derivation, form: str, digits: int, with_value: bool,
                      as_text=None, as_latex=None) -> dict:
    """A derivation as a JSON-ready dict (the ``derive --format json`` contract).

    ``as_text`` and ``as_latex`` are printers shared by a whole document (its gradients share δs).
    """
    engine = derivation.engine
    as_text = as_text or text_printer().doprint
    as_latex = as_latex or latex_printer(engine.graph).doprint
    value_digits = digits if with_value else None
    record: dict = {}
    if form == "chain":  # the factors only where they were asked for
        record["chain"] = [factor_record(f, t, engine, value_digits, as_text)
                           for t, term in enumerate(derivation.chain) for f in term]
    record["paths"] = derivation.path_count
    record["compact"] = as_text(derivation.compact)
    record["latex"] = formula_latex(derivation, form, as_latex)
    if form in ("closed", "simplified"):
        record[form] = as_text(_form_expression(derivation, form))
    if with_value:
        record["value"] = derivation.decimal(digits)
    return record


def derive_json(derivations: Iterable[Derivation], form: str, digits: int, with_value: bool) -> str:
    derivations = list(derivations)
    as_text = text_printer().doprint
    as_latex = latex_printer(derivations[0].engine.graph).doprint if derivations else None
    gradients = {str(d.wrt): derivation_record(d, form, digits, with_value, as_text, as_latex) for d in derivations}
    return json.dumps({"form": form, "gradients": gradients}, ensure_ascii=False, indent=2)


def chain_latex(derivation: Derivation) -> str:
    r"""The top-level chain rule as a sum of products of ∂-fractions.

    >>> from symbackprop.frontends.loader import network_from_mapping
    >>> net = network_from_mapping({"network": {"inputs": ["x"], "layers": [
    ...     {"units": ["y"], "activation": "sigmoid", "weight_names": [["w"]]}]}, "loss": {"kind": "half_sse"}})
    >>> chain_latex(Engine(net).gradient("w"))
    '\\frac{\\partial E}{\\partial \\mathrm{out}_{y}} \\frac{\\partial \\mathrm{out}_{y}}{\\partial \\mathrm{net}_{y}} \\frac{\\partial \\mathrm{net}_{y}}{\\partial w}'
    """
    graph = derivation.engine.graph
    return " + ".join(" ".join(factor_latex(f.of, f.wrt, graph, f.direct) for f in term)
                      for term in derivation.chain) or "0"


def formula_latex(derivation: Derivation, form: str, as_latex=None) -> str:
    """The right-hand side of ∂E/∂p in ``form``: the chain form names every factor (when there is a chain),
    then the compact form."""
    as_latex = as_latex or latex_printer(derivation.engine.graph).doprint
    body = as_latex(_form_expression(derivation, form))
    return f"{chain_latex(derivation)} = {body}" if form == "chain" and derivation.chain else body


def derive_latex(derivations: Iterable[Derivation], form: str) -> str:
    """One line of LaTeX per derivative: ∂E/∂p = its formula (the chain form adds the factors first)."""
    derivations = list(derivations)
    as_latex = latex_printer(derivations[0].engine.graph).doprint if derivations else None
    return "\n".join(f"{factor_latex(d.of, d.wrt, d.engine.graph)} = {formula_latex(d, form, as_latex)}"
                     for d in derivations)


#: Significant digits that round-trip a float64: all that a float64 finite difference holds.
FLOAT64_DIGITS = 17


def check_record(report: CheckReport) -> dict:
    """The check as JSON-ready data. The exact gradients always have at least 30 digits; with ``--float64``
    the finite differences and the loss are float64 numbers, given to the 17 digits a double holds."""
    exact_digits = max(30, report.digits)
    numeric_digits = FLOAT64_DIGITS if report.float64 else exact_digits
    return {
        "loss": format_decimal(report.loss, numeric_digits),
        "digits": report.digits,
        "mode": "float64" if report.float64 else "mpmath",
        "gradients": {
            row.name: {
                "analytic": format_decimal(row.analytic, exact_digits),
                "numeric": format_decimal(row.numeric, numeric_digits),
                "abs_error": format_decimal(row.abs_error, numeric_digits),
                "rel_error": format_decimal(row.rel_error, 3),
                "status": row.status,
                **({"kinks": list(row.kinks)} if row.kinks else {}),
                **({"one_sided": {"left": format_decimal(row.one_sided[0], numeric_digits),
                                  "right": format_decimal(row.one_sided[1], numeric_digits)}}
                   if row.one_sided is not None else {}),
            }
            for row in report.rows
        },
        "passed": report.passed,
    }


def check_json(report: CheckReport) -> str:
    return json.dumps(check_record(report), ensure_ascii=False, indent=2)


def check_text(report: CheckReport, shown_digits: int = 20) -> str:
    digits = min(shown_digits, report.digits) if not report.float64 else 12
    header = ("parameter", "analytic", "finite difference", "rel. error", "status")
    rows = [
        (
            row.name,
            format_decimal(row.analytic, digits),
            format_decimal(row.numeric, digits),
            format_decimal(row.rel_error, 2),
            row.status + (f" ({', '.join(row.kinks)} at 0" + (
                f"; from the left {format_decimal(row.one_sided[0], 8)}, from the right "
                f"{format_decimal(row.one_sided[1], 8)}" if row.one_sided is not None else "") + ")" if row.kinks else ""),
        )
        for row in report.rows
    ]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip() for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    mode = "float64" if report.float64 else f"{report.digits} digits"
    counts = {status: sum(r.status == status for r in report.rows) for status in ("ok", "kink", "mismatch")}
    lines.append("")
    lines.append(f"loss E = {format_decimal(report.loss, digits)}")
    lines.append(
        f"{len(report.rows)} parameters checked ({mode}): {counts['ok']} ok, {counts['kink']} kink, "
        f"{counts['mismatch']} mismatch"
    )
    return "\n".join(lines)


# ---- large networks: the straight-line program, streamed ----------------------------------
def program_json_chunks(program, values: Optional[dict], digits: int, names: Iterable[str]) -> Iterator[str]:
    """The ``derive --format json`` document for a large network, piece by piece (one gradient a piece).

    Gradients are given in δ symbols (``delta_h1*x3``) and the program that defines every δ comes
    first, so the output stays linear in the size of the network.
    """
    text = text_printer(sorted_terms=False).doprint  # one memo for the whole document
    yield '{\n  "program": {\n    "forward": '
    yield json.dumps([[str(s), text(e)] for s, e in program.forward], ensure_ascii=False)
    yield ',\n    "backward": ['
    for index, (symbol, expression) in enumerate(program.backward):  # a piece each: a δ may hold thousands of terms
        yield ", " * bool(index) + json.dumps([str(symbol), text(expression)], ensure_ascii=False)
    yield ']\n  },\n  "gradients": {'
    for index, name in enumerate(names):
        record = {
            "chain": [
                entry
                for term, (unit, delta, local) in enumerate(program.chains[name])
                for entry in (
                    {"term": term, "factor": f"∂E/∂{unit}", "expression": text(delta)},
                    {"term": term, "factor": f"∂{unit}/∂{name}", "expression": text(local)},
                )
            ],
            "compact": text(program.gradients[name]),
        }
        if values is not None:
            record["value"] = format_decimal(values[name], digits)
        separator = "," if index else ""
        yield f'{separator}\n    {json.dumps(name, ensure_ascii=False)}: {json.dumps(record, ensure_ascii=False)}'
    yield "\n  }\n}"


def program_text_chunks(program, values: Optional[dict], digits: int, names: Iterable[str]) -> Iterator[str]:
    """The program's δ assignments, a chunk each, then one line per gradient in δ symbols (and its value)."""
    text = text_printer(sorted_terms=False).doprint
    yield "where"
    for symbol, expression in program.backward:
        yield f"\n  {symbol} = {text(expression)}"
    for name in names:
        value = f" = {format_decimal(values[name], digits)}" if values is not None else ""
        yield f"\n∂E/∂{name} = {text(program.gradients[name])}{value}"
    yield "\n"


def program_latex_chunks(program, values: Optional[dict], digits: int, names: Iterable[str]) -> Iterator[str]:
    """The δ assignments and one line per gradient, as LaTeX."""
    for index, (symbol, expression) in enumerate(program.backward):
        yield "\n" * bool(index) + f"{latex(symbol)} = {latex(expression)}"
    for name in names:
        yield f"\n\\frac{{\\partial E}}{{\\partial {latex_symbol_name(name)}}} = {latex(program.gradients[name])}"
    yield "\n"



def training_json(steps, digits: int) -> str:
    """``{"steps": [{"step": k, "loss": "<decimal>", "parameters": {name: "<decimal>"}}, ...]}``."""
    return json.dumps({"steps": [
        {"step": step.step, "loss": format_decimal(step.loss, digits),
         "parameters": {name: format_decimal(value, digits) for name, value in step.parameters.items()}}
        for step in steps]}, indent=1)


def training_text(steps, digits: int) -> str:
    """One line per step: the loss, then every parameter, in aligned columns."""
    names = list(steps[0].parameters) if steps else []
    rows = [["step", "E"] + names]
    for step in steps:
        rows.append([str(step.step), format_decimal(step.loss, digits)]
                    + [format_decimal(step.parameters[name], digits) for name in names])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def _float_or_inf(value) -> float:
    try:
        return float(value)
    except OverflowError:  # an exact rational beyond float range
        return math.inf


def loss_svg(steps, title: str = "") -> str:
    """The loss per step as a standalone SVG line chart (no plotting library needed).

    >>> from symbackprop.training.train import TrainingStep
    >>> svg = loss_svg([TrainingStep(0, 1.0), TrainingStep(1, 0.5), TrainingStep(2, 0.25)])
    >>> svg.startswith("<svg") and "<polyline" in svg and svg.count(" L ") == 0
    True
    """
    width, height, left, right, top, bottom = 640, 400, 80, 20, 40, 50
    losses = [_float_or_inf(step.loss) for step in steps]
    axis = "E"
    if not all(math.isfinite(value) for value in losses):
        # a diverging run leaves the range of float coordinates: its loss is drawn as log10(E) instead
        axis = "log10(E)"
        logs = [float(mpmath.log10(to_mpf(step.loss))) if step.loss > 0 else None for step in steps]
        floor = min((value for value in logs if value is not None), default=0.0) - 1
        losses = [floor if value is None else value for value in logs]
    last = max(len(steps) - 1, 1)
    low, high = min(losses), max(losses)
    if high == low:
        low, high = low - 0.5 * (abs(low) or 1), high + 0.5 * (abs(high) or 1)
    x = lambda k: left + (width - left - right) * k / last
    y = lambda v: top + (height - top - bottom) * (high - v) / (high - low)
    points = " ".join(f"{x(k):.2f},{y(v):.2f}" for k, v in enumerate(losses))
    ticks = []
    for i in range(5):
        value = low + (high - low) * i / 4
        ticks.append(f'<text x="{left - 8}" y="{y(value) + 4:.2f}" text-anchor="end">{value:.4g}</text>')
        step = round(last * i / 4)
        ticks.append(f'<text x="{x(step):.2f}" y="{height - bottom + 18}" text-anchor="middle">{step}</text>')
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="12">',
        f'<title>{escape(title or "loss per step")}</title>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="14">{escape(title or "Loss per step")}</text>',
        f'<path d="M{left},{top} V{height - bottom} H{width - right}" fill="none" stroke="black"/>',
        *ticks,
        f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">step</text>',
        f'<text x="16" y="{height / 2}" text-anchor="middle" transform="rotate(-90 16 {height / 2})">{axis}</text>',
        f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="2"/>',
        "</svg>", ""])

