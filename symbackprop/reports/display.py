r"""How derivations and reports look in a notebook: LaTeX and HTML, registered by class name.

Importing this module registers the renderers (see :mod:`symbackprop.notebook`).

>>> import symbackprop as sbp
>>> net = sbp.network_from_mapping({"network": {"inputs": ["x"], "layers": [
...     {"units": ["y"], "activation": "sigmoid", "weights": [["0.5"]], "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse", "targets": ["1"]}, "data": {"inputs": ["2"]}})
>>> print(sbp.Engine(net).gradient("w")._repr_latex_())
$\displaystyle \frac{\partial E}{\partial w} = \frac{\partial E}{\partial \mathrm{out}_{y}} \frac{\partial \mathrm{out}_{y}}{\partial \mathrm{net}_{y}} \frac{\partial \mathrm{net}_{y}}{\partial w} = \mathrm{out}_{y} x \left(1 - \mathrm{out}_{y}\right) \left(\mathrm{out}_{y} - t_{y}\right) \approx -0.1057541856$
"""
from __future__ import annotations

import html
from typing import Optional

from ..notebook import register
from ..numbers import format_decimal
from .audit import MARKS, headline, shown_value, why
from .printing import factor_latex, latex
from .results import formula_latex


VALUE_DIGITS = 10


def _math(tex: str) -> str:
    """Inline mathematics for HTML: MathJax/KaTeX in Jupyter typeset \\( … \\)."""
    return html.escape(r"\(%s\)" % tex)


def _table(header, rows) -> str:
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _value(derivation) -> str:
    return derivation.decimal(VALUE_DIGITS) if not derivation.engine.graph.missing else ""


@register("Derivation", "latex")
def derivation_latex(derivation) -> str:
    name = factor_latex(derivation.of, derivation.wrt, derivation.engine.graph)
    value = _value(derivation)
    return r"$\displaystyle %s = %s%s$" % (name, formula_latex(derivation, "chain"), rf" \approx {value}" if value else "")


@register("Derivation", "html")
def derivation_html(derivation) -> str:
    graph = derivation.engine.graph
    numbers = not graph.missing
    point = derivation.engine.point if numbers else None
    rows = []
    for term in derivation.chain:
        for factor in term:
            value = format_decimal(point.evalf(factor.expression, VALUE_DIGITS), VALUE_DIGITS) if numbers else ""
            rows.append((_math(factor_latex(factor.of, factor.wrt, graph, factor.direct)), _math(latex(factor.expression, graph)),
                         html.escape(value)))
    title = _math(factor_latex(derivation.of, derivation.wrt, graph) + " = " + latex(derivation.compact, graph))
    value = _value(derivation)
    summary = f"<p>{title}" + (f" &asymp; {html.escape(value)}" if value else "") + "</p>"
    paths = f"<p>{derivation.path_count} path(s) from {html.escape(str(derivation.wrt))} to {html.escape(str(derivation.of))}.</p>"
    return summary + _table(("factor", "formula", "value"), rows) + paths


@register("CheckReport", "html")
def check_html(report) -> str:
    digits = 12 if report.float64 else min(20, report.digits)
    rows = [(html.escape(row.name), format_decimal(row.analytic, digits), format_decimal(row.numeric, digits),
             format_decimal(row.rel_error, 2), html.escape(row.status)) for row in report.rows]
    verdict = "every gradient agrees" if report.passed else "MISMATCH"
    mode = "float64" if report.float64 else f"{report.digits} digits"
    return (f"<p>Finite-difference check ({mode}): {verdict}.</p>"
            + _table(("parameter", "analytic", "finite difference", "rel. error", "status"), rows))


@register("CheckReport", "latex")
def check_latex(report) -> str:
    digits = 12 if report.float64 else min(20, report.digits)
    rows = [r"\text{%s} & %s & %s & \text{%s} \\" % (row.name.replace("_", r"\_"), format_decimal(row.analytic, digits),
                                                      format_decimal(row.numeric, digits), row.status)
            for row in report.rows]
    return "$$\\begin{array}{llll}\n\\text{parameter} & \\text{analytic} & \\text{finite difference} & " \
           "\\text{status} \\\\ \\hline\n" + "\n".join(rows) + "\n\\end{array}$$"


@register("AuditReport", "html")
def audit_html(report) -> str:
    rows = []
    for verdict in report.verdicts:
        after = f" (after step {verdict.claim.key.step})" if verdict.claim.key.step else ""
        rows.append((str(verdict.index + 1), html.escape(verdict.claim.quantity + after),
                     html.escape(verdict.claim.written), html.escape(shown_value(verdict.exact, verdict)),
                     html.escape(shown_value(verdict.recomputed, verdict)), html.escape(MARKS[verdict.verdict]),
                     html.escape(why(verdict))))
    first, second = headline(report)
    title = f"<h3>Audit: {html.escape(report.graph.title)}</h3>" if report.graph.title else ""
    return (f"{title}<p><b>{html.escape(first)}</b> {html.escape(second)}</p>"
            + _table(("#", "quantity", "claimed", "exact", "recomputed", "verdict", "why"), rows))


@register("Model", "latex")
def model_latex(model) -> Optional[str]:
    rows = [rf"{latex(symbol)} &= {latex(definition)}" for symbol, definition in model.nodes]
    return r"$$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$$" if rows else None


@register("Model", "html")
def model_html(model) -> str:
    title = f"<h3>{html.escape(model.title)}</h3>" if model.title else ""
    leaves = [(_math(latex(symbol)), html.escape(role), html.escape(format_decimal(value, VALUE_DIGITS, trim=True))
               if value is not None else "") for symbol, role, value in model.leaves]
    nodes = [(_math(latex(symbol)), _math(latex(definition))) for symbol, definition in model.nodes]
    samples = f"<p>{model.sample_count} samples.</p>" if model.sample_count > 1 else ""
    return (title + samples + _table(("name", "role", "value"), leaves)
            + (_table(("node", "definition"), nodes) if nodes else "<p>No nodes yet.</p>"))


#: Steps a training run's table shows at each end; the steps between are one row of "…".
SHOWN_STEPS = 5


@register("TrainingRun", "html")
def training_html(run) -> str:
    digits = min(run.digits, 20)
    shown = list(run) if len(run) <= 2 * SHOWN_STEPS else [*run[:SHOWN_STEPS], None, *run[-SHOWN_STEPS:]]
    rows = [("…", "…") if step is None else (str(step.step), html.escape(format_decimal(step.loss, digits)))
            for step in shown]
    last = run[-1] if run else None
    summary = (f"<p>{len(run) - 1} step(s); E from {html.escape(format_decimal(run[0].loss, 6))} to "
               f"{html.escape(format_decimal(last.loss, 6))}, every digit certified.</p>") if last is not None else ""
    return summary + _table(("step", "E"), rows)
