"""Audit a hand-worked backpropagation example: a verdict for every number, mistakes named.

Data flow: worked-example file → :mod:`.claims` (parsed, validated) → :mod:`.world`
(the computation re-run numerically, from exact values or from the author's numbers,
with or without a mistake) → :mod:`.mistakes` (the library of changed computations) →
:mod:`.verdict` (ok | rounding | propagated | error, with diagnoses) → :mod:`.report`.
"""
from .claims import Claim, ClaimKey, load_claims, claims_from_document
from .verdict import AuditReport, ClaimVerdict, audit

__all__ = ["AuditReport", "Claim", "ClaimKey", "ClaimVerdict", "audit", "claims_from_document", "load_claims"]
