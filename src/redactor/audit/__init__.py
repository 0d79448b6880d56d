"""The audit trail: hash-chained, HMAC-sealed, checkpoint-signed records in SQLite or PostgreSQL.

Write with :class:`AuditTrail`; check with :func:`verify` (raises
:class:`VerificationError` naming the first bad sequence number); ship with
:func:`export` (JSON Lines). See :mod:`redactor.audit.chain` for the hashing (RFC 6962
leaf hashes, HMAC-SHA256, Ed25519 checkpoints per RFC 8032) and
:mod:`redactor.audit.record` for the record fields.
"""

from __future__ import annotations

from .append import Receipt
from .errors import (AuditError, AuditKeyError, AuditStoreError, AuditWriteError, Reason,
                     VerificationError)
from .keys import generate_keys, load_hmac_key, load_private_key, load_public_key
from .record import Action, AuditEvent, Outcome, Resource
from .store import AuditStore, open_store
from .trail import AuditTrail, ViewFact
from .verify import VerifyReport, export, read_witness, verify

__all__ = [
    "Action",
    "AuditError",
    "AuditEvent",
    "AuditKeyError",
    "AuditStore",
    "AuditStoreError",
    "AuditTrail",
    "AuditWriteError",
    "Outcome",
    "Reason",
    "Receipt",
    "Resource",
    "VerificationError",
    "VerifyReport",
    "ViewFact",
    "export",
    "generate_keys",
    "load_hmac_key",
    "load_private_key",
    "load_public_key",
    "open_store",
    "read_witness",
    "verify",
]
