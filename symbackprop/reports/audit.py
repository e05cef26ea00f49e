"""Audit reports: a terminal table, a corrected tutorial in Markdown, and JSON. Rendering only."""
from __future__ import annotations

from .printing import text

import json

import mpmath

from ..audit.digits import written_digits
from ..audit.verdict import AuditReport, ClaimVerdict
from ..numbers import format_decimal
from .document import markdown_text


MARKS = {"ok": "ok", "rounding": "rounding", "propagated": "propagated", "error": "ERROR"}


def shown_value(value, verdict: ClaimVerdict) -> str:
    """Enough digits to compare with what was written, and a few more."""
    written = written_digits(verdict.claim) or 1  # ("1.5e-3" writes 2 digits, not 4)
    if not mpmath.isfinite(value):
        return str(value)
    return format_decimal(value, max(12, written + 4), trim=True)


def diagnoses_text(verdict: ClaimVerdict) -> str:
    parts = []
    for diagnosis in verdict.diagnoses:
        implied = f" (implied {diagnosis.implied})" if diagnosis.implied else ""
        parts.append(f"{diagnosis.mistake}{implied}")
    return ", ".join(parts)


def number(index: int) -> str:
    """How a claim is numbered where people read it: from 1 (JSON keeps the 0-based ``index``)."""
    return f"#{index + 1}"


def why(verdict: ClaimVerdict, first_error: str = "first error") -> str:
    """The reason column: the first error (headed ``first_error``) and its mistakes, what a propagated number
    inherits, or how a rounded number was reproduced."""
    if verdict.verdict == "error":
        return f"{first_error}: " + (diagnoses_text(verdict) or "no known mistake reproduces it")
    if verdict.verdict == "propagated":
        return f"inherits the error of {number(verdict.source)}"
    return diagnoses_text(verdict) if verdict.diagnoses else ("" if verdict.verdict == "ok" else verdict.reason)


def headline(report: AuditReport) -> tuple[str, str]:
    """The two lines a reader sees first: the verdict, then where to look.

    >>> from symbackprop.audit import load_claims, audit
    >>> for line in headline(audit(*load_claims("examples/audit/mazur_published.toml"))):
    ...     print(line)
    Every number is right: 27 exactly, 1 up to rounding, of 28 checked.
    Nothing to correct.
    """
    s, total = report.summary, len(report.verdicts)
    if report.clean:
        return (f"Every number is right: {s['ok']} exactly, {s['rounding']} up to rounding, of {total} checked.",
                "Nothing to correct.")
    errors = [v for v in report.verdicts if v.verdict == "error"]
    first = errors[0] if errors else next(v for v in report.verdicts if v.verdict == "propagated")
    return (f"{s['error']} wrong and {s['propagated']} inheriting an error, of {total} numbers checked "
            f"({s['ok']} right, {s['rounding']} right up to rounding).",
            f"The first error is {number(first.index)}, {first.claim.quantity}: written {first.claim.written}, "
            f"correct {shown_value(first.exact, first)}.")


def audit_json(report: AuditReport) -> str:
    claims = []
    for v in report.verdicts:
        claims.append({
            "index": v.index,
            "quantity": v.claim.quantity,
            "step": v.claim.key.step,
            "claimed": v.claim.written,
            "exact": format_decimal(v.exact, 30) if mpmath.isfinite(v.exact) else str(v.exact),
            "recomputed": format_decimal(v.recomputed, 30) if mpmath.isfinite(v.recomputed) else str(v.recomputed),
            "verdict": v.verdict,
            "source": v.source,
            "diagnoses": [{"mistake": d.mistake, "explanation": d.explanation, "implied": d.implied} for d in v.diagnoses],
            "formula": formula_text(v),
            "paths": list(v.paths),
            "reason": v.reason,
            "uses": list(v.used),
        })
    return json.dumps({"claims": claims, "summary": report.summary}, ensure_ascii=False, indent=2)


def formula_text(verdict: ClaimVerdict) -> str:
    """How a claimed quantity is computed, in one line: its sides joined by "=", then the note on its paths."""
    formula = verdict.formula
    line = " = ".join(side if isinstance(side, str) else text(side) for side in formula.sides)
    return f"{line}  {formula.note}" if formula.note else line


def audit_text(report: AuditReport) -> str:
    header = ("#", "quantity", "claimed", "exact", "from author's numbers", "verdict", "why")
    rows = []
    for v in report.verdicts:
        quantity = v.claim.quantity + _when(v, " [sample {}]", " [after step {}]")
        rows.append((str(v.index + 1), quantity, v.claim.written, shown_value(v.exact, v),
                     shown_value(v.recomputed, v), MARKS[v.verdict], why(v, first_error="FIRST ERROR")))
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header) - 1)]
    lines = []
    for r in [header] + rows:
        cells = [cell.ljust(width) for cell, width in zip(r[:-1], widths)] + [r[-1]]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ---")
    s = report.summary
    lines.append("")
    verdict = "clean" if report.clean else "problems found"
    lines.append(f"{len(report.verdicts)} claims: {s['ok']} ok, {s['rounding']} rounding, "
                 f"{s['propagated']} propagated, {s['error']} error — {verdict}")
    return "\n".join(lines)


def _when(verdict: ClaimVerdict, sample: str, step: str) -> str:
    """A claim's sample and step, when it has them, in the report's words."""
    key = verdict.claim.key
    return (sample.format(key.of.sample) if key.of.sample >= 0 else "") + (step.format(key.step) if key.step else "")


def audit_markdown(report: AuditReport, title: str = "") -> str:
    """The corrected tutorial: a two-line verdict first, then every number, then each error worked out."""
    title = title or report.graph.title
    lines = [f"# Audit{': ' + markdown_text(title) if title else ''}", ""]
    first, second = headline(report)
    lines += [f"**{markdown_text(first)}** {markdown_text(second)}", ""]
    s = report.summary
    lines.append(f"{len(report.verdicts)} numbers checked: {s['ok']} ok, {s['rounding']} rounding, "
                 f"{s['propagated']} propagated, {s['error']} error. Every *correct value* is computed symbolically "
                 "and proved against finite differences; *recomputed* is the same quantity computed from the "
                 "author's own earlier numbers, so a number that differs only there inherits an earlier error.")
    lines += ["", "| # | quantity | written | correct value | recomputed | verdict | note |",
              "|---|---|---|---|---|---|---|"]
    for v in report.verdicts:
        quantity = f"`{v.claim.quantity}`" + _when(v, " (sample {})", " (after step {})")
        verdict = {"error": "**error**", "propagated": "*propagated*"}.get(v.verdict, v.verdict)
        note = markdown_text(why(v))
        lines.append(f"| {v.index + 1} | {quantity} | {markdown_text(v.claim.written)} | {shown_value(v.exact, v)} | "
                     f"{shown_value(v.recomputed, v)} | {verdict} | {note} |")
    errors = [v for v in report.verdicts if v.verdict == "error"]
    for v in errors:
        lines += ["", f"## {number(v.index)}: `{v.claim.quantity}` is wrong", ""]
        lines.append(f"The tutorial writes **{v.claim.written}**. The correct value is **{shown_value(v.exact, v)}**; "
                     f"from the author's own earlier numbers it is **{shown_value(v.recomputed, v)}**, so the mistake "
                     "is made at this step.")
        lines += ["", "How it is computed:", "", "```", formula_text(v)]
        if len(v.paths) > 1:
            lines += ["summed over every path:"] + [f"  {path}" for path in v.paths]
        lines += ["```"]
        if v.diagnoses:
            lines += ["", "What reproduces the written number:", ""]
            for d in v.diagnoses:
                implied = f" (implied value {d.implied})" if d.implied else ""
                lines.append(f"- `{d.mistake}`: {d.explanation}{implied}.")
        else:
            lines += ["", "No mistake model in the library reproduces the written number."]
        followers = [f.index for f in report.verdicts if f.verdict == "propagated" and f.source == v.index]
        if followers:
            lines += ["", "Numbers that inherit this error: " + ", ".join(number(i) for i in followers) + "."]
    return "\n".join(lines) + "\n"
