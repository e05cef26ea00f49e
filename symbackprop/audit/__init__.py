
from pathlib import Path

from ..callable_module import make_callable
from ..errors import InputError
from .claims import Claim, ClaimKey, claims_from_document, load_claims
from .verdict import AuditReport, ClaimVerdict, audit


"""Audit a hand-worked backpropagation example: a verdict for every number, mistakes named.

Data flow: worked-example file → :mod:`.claims` (parsed, validated) → :mod:`.world`
(the computation re-run numerically, from exact values or from the author's numbers,
with or without a mistake) → :mod:`.mistakes` (the library of changed computations) →
:mod:`.verdict` (ok | rounding | propagated | error, with diagnoses) → :mod:`.report`.
"""



__all__ = ["AuditReport", "Claim", "ClaimKey", "ClaimVerdict", "audit", "audit_file", "claims_from_document",
           "load_claims"]


def audit_file(path: "str | Path", progress=None) -> AuditReport:
    """Audit a worked-example file: its network and its ``[[claims]]``; the report renders in notebooks.

    >>> report = audit_file("examples/audit/mazur_published.toml")
    >>> report.clean, len(report.verdicts)
    (True, 28)
    """
    if not isinstance(path, (str, Path)):
        raise InputError(f"audit takes the path of a worked-example file (with [[claims]]), not {type(path).__name__}",
                         place="path")
    return audit(*load_claims(path), progress=progress)


make_callable(__name__, audit_file)  # sbp.audit(path) returns the report
