"""Audit reports: a terminal table, a corrected tutorial in Markdown, and JSON. Rendering only."""
from __future__ import annotations

import json

import mpmath

from ..document import markdown_text
from ..exact import format_decimal
from .verdict import AuditReport, ClaimVerdict

MARKS = {"ok": "ok", "rounding": "rounding", "propagated": "propagated", "error": "ERROR"}


def shown_value(value, verdict: ClaimVerdict) -> str:
    """Enough digits to compare with what was written, and a few more."""
    written = len(verdict.claim.written.lstrip("+-\u2212").replace(".", "").lstrip("0")) or 1
    if not mpmath.isfinite(value):
        return str(value)
    return format_decimal(value, max(12, written + 4), trim=True)


def diagnoses_text(verdict: ClaimVerdict) -> str:
    parts = []
    for diagnosis in verdict.diagnoses:
        implied = f" (implied {diagnosis.implied})" if diagnosis.implied else ""
        parts.append(f"{diagnosis.mistake}{implied}")
    return ", ".join(parts)


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
            "formula": v.formula,
            "paths": list(v.paths),
            "reason": v.reason,
            "uses": list(v.used),
        })
    return json.dumps({"claims": claims, "summary": report.summary}, ensure_ascii=False, indent=2)


def audit_text(report: AuditReport) -> str:
    header = ("#", "quantity", "claimed", "exact", "from author's numbers", "verdict", "why")
    rows = []
    for v in report.verdicts:
        quantity = v.claim.quantity + (" [after update]" if v.claim.key.step == 1 else "")
        if v.verdict == "error":
            why = "FIRST ERROR" + (f": {diagnoses_text(v)}" if v.diagnoses else ": no known mistake reproduces it")
        elif v.verdict == "propagated":
            why = f"inherits the error of #{v.source}"
        else:
            why = diagnoses_text(v) or ("" if v.verdict == "ok" else "rounding")
        rows.append((str(v.index), quantity, v.claim.written, shown_value(v.exact, v), shown_value(v.recomputed, v),
                     MARKS[v.verdict], why))
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


def audit_markdown(report: AuditReport, title: str = "") -> str:
    lines = [f"# Audit{': ' + markdown_text(title) if title else ''}", ""]
    s = report.summary
    lines.append(f"{len(report.verdicts)} numbers checked: **{s['ok']} ok, {s['rounding']} rounding, "
                 f"{s['propagated']} propagated, {s['error']} error.** Every exact value is computed symbolically "
                 "and proved against finite differences; *recomputed* is the same quantity computed from the "
                 "author's own earlier numbers.")
    lines += ["", "| # | quantity | written | correct value | verdict | note |", "|---|---|---|---|---|---|"]
    for v in report.verdicts:
        quantity = f"`{v.claim.quantity}`" + (" (after the update)" if v.claim.key.step == 1 else "")
        if v.verdict == "error":
            note = f"first error — {diagnoses_text(v) or 'no known mistake reproduces it'}"
        elif v.verdict == "propagated":
            note = f"follows from the error in #{v.source}"
        else:
            note = diagnoses_text(v) or v.reason
        verdict = {"error": "**error**", "propagated": "*propagated*"}.get(v.verdict, v.verdict)
        lines.append(f"| {v.index} | {quantity} | {v.claim.written} | {shown_value(v.exact, v)} | {verdict} | {note} |")
    errors = [v for v in report.verdicts if v.verdict == "error"]
    for v in errors:
        lines += ["", f"## #{v.index}: `{v.claim.quantity}` is wrong", ""]
        lines.append(f"The tutorial writes **{v.claim.written}**. The correct value is **{shown_value(v.exact, v)}**; "
                     f"from the author's own earlier numbers it is **{shown_value(v.recomputed, v)}**, so the mistake "
                     "is made at this step.")
        lines += ["", "How it is computed:", "", "```", v.formula]
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
            lines += ["", "Numbers that inherit this error: " + ", ".join(f"#{i}" for i in followers) + "."]
    return "\n".join(lines) + "\n"
