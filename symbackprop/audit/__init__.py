"""Audit a hand-worked backpropagation example: a verdict for every number, mistakes named.

Data flow: worked-example file → :mod:`.claims` (parsed, validated) → :mod:`.world`
(the computation re-run numerically, from exact values or from the author's numbers,
with or without a mistake) → :mod:`.mistakes` (the library of changed computations) →
:mod:`.verdict` (ok | rounding | propagated | error, with diagnoses) → :mod:`.report`.
"""
import sys
import types
from pathlib import Path

from .claims import Claim, ClaimKey, load_claims, claims_from_document
from .verdict import AuditReport, ClaimVerdict, audit

__all__ = ["AuditReport", "Claim", "ClaimKey", "ClaimVerdict", "audit", "audit_file", "claims_from_document",
           "load_claims"]


def audit_file(path: "str | Path", progress=None) -> AuditReport:
    """Audit a worked-example file: its network and its ``[[claims]]``; the report renders in notebooks.

    >>> report = audit_file("examples/audit/mazur_published.toml")
    >>> report.clean, len(report.verdicts)
    (True, 28)
    """
    return audit(*load_claims(path), progress=progress)


class _CallablePackage(types.ModuleType):
    """``symbackprop.audit`` is this package, and ``symbackprop.audit(path)`` audits a file."""

    def __call__(self, path: "str | Path", progress=None) -> AuditReport:
        return audit_file(path, progress)


sys.modules[__name__].__class__ = _CallablePackage
