"""Errors of the audit trail. All derive from :class:`redactor.errors.RedactorError`::

    RedactorError
    └── AuditError
        ├── AuditStoreError      a store URL is invalid, or the store cannot be opened or read
        ├── AuditWriteError      a record could not be written (nor spooled): fail closed
        ├── AuditKeyError        a key file is missing, unreadable or of the wrong kind
        └── VerificationError    the trail is not intact: ``.sequence`` and ``.reason`` say where, why

Messages name sequence numbers, files and reasons, never a value from a record.
"""

from __future__ import annotations

from enum import Enum

from ..errors import RedactorError

__all__ = ["AuditError", "AuditKeyError", "AuditStoreError", "AuditWriteError", "Reason",
           "VerificationError"]


class AuditError(RedactorError):
    """Base class of the audit trail's errors."""


class AuditStoreError(AuditError):
    """A store URL is invalid, or the store cannot be opened, created or read."""


class AuditWriteError(AuditError):
    """A record was neither written to the store nor spooled. Reveals and re-hydrations
    that get this error must not happen (the caller fails closed)."""


class AuditKeyError(AuditError):
    """A key (HMAC, Ed25519 signing or public key) is missing, unreadable or malformed."""


class Reason(str, Enum):
    """Why :func:`~redactor.audit.verify` rejected a trail."""

    MISSING = "missing"              # no store, or no audit tables in it
    EMPTY = "empty"                  # tables exist but hold no record
    CORRUPT = "corrupt"              # a row or the file cannot be read or parsed
    GAP = "gap"                      # a sequence number is missing
    REORDERED = "reordered"          # a record sits at another record's position
    HASH_MISMATCH = "hash mismatch"  # content, hash column and chain links disagree
    HMAC_MISMATCH = "hmac mismatch"  # the record's HMAC is absent or wrong for the key
    TRUNCATED = "truncated"          # a signed checkpoint covers records no longer there
    BAD_SIGNATURE = "bad signature"  # a checkpoint's Ed25519 signature does not verify
    UNSIGNED = "unsigned"            # a public key was given but no checkpoint exists


class VerificationError(AuditError):
    """The audit trail failed verification.

    Attributes:
        sequence: the first bad sequence number (``None`` for a missing or empty store).
        reason: a :class:`Reason`.
        detail: one sentence, without record contents.
    """

    def __init__(self, sequence: int | None, reason: Reason, detail: str) -> None:
        self.sequence = sequence
        self.reason = reason
        self.detail = detail
        where = "store" if sequence is None else f"sequence {sequence}"
        super().__init__(f"{where}: {reason.value}: {detail}")
