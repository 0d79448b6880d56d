"""Hash chain, HMAC and signed checkpoints: small helpers, each checkable on its own.

* Leaf hash (RFC 6962 section 2.1, domain-separated): ``SHA-256(0x00 || canonical)``.
  The 0x00 prefix keeps a record hash from ever equalling an interior or other hash.
* Chain: each record's ``prev`` is the leaf hash of the record before it; record 1's is
  ``SHA-256("")``, the RFC 6962 hash of an empty tree. Nothing else may start a chain.
* HMAC (RFC 2104, FIPS 198-1): ``HMAC-SHA256(key, leaf_hash)``, present when a key is set.
* Checkpoint: an Ed25519 signature (RFC 8032) over a note naming the log, the head's
  sequence number and hash, like the signed checkpoints of transparency logs
  (C2SP tlog-checkpoint, as sigstore-python's ``rekor/checkpoint.py`` verifies them)::

      redactor-audit/v1 <origin>
      <sequence>
      <head hash, base64>
      <RFC 3339 time>

  A checkpoint at sequence *n* commits to records 1..n: deleting any of them, even the
  newest, no longer matches a signed head.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import Reason, VerificationError

__all__ = ["GENESIS", "Checkpoint", "key_id", "leaf_hash", "record_mac", "sign_checkpoint",
           "verify_checkpoint"]

LEAF_PREFIX = b"\x00"
GENESIS = hashlib.sha256(b"").digest()
NOTE_HEADER = "redactor-audit/v1"


def leaf_hash(canonical: bytes) -> bytes:
    """SHA-256 of ``0x00 || canonical`` (32 bytes), RFC 6962 leaf hashing."""
    return hashlib.sha256(LEAF_PREFIX + canonical).digest()


def record_mac(key: bytes, leaf: bytes) -> bytes:
    """HMAC-SHA256 of a record's leaf hash under ``key`` (32 bytes)."""
    return hmac.digest(key, leaf, "sha256")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 8 hex digits of SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed head: ``note`` (UTF-8 text, see module docstring) and its signature."""

    sequence: int
    head: bytes
    ts: str
    origin: str
    key_id: str
    signature: bytes

    @property
    def note(self) -> bytes:
        return make_note(self.origin, self.sequence, self.head, self.ts)


def make_note(origin: str, sequence: int, head: bytes, ts: str) -> bytes:
    return (f"{NOTE_HEADER} {origin}\n{sequence}\n{base64.b64encode(head).decode()}\n{ts}\n"
            ).encode()


def sign_checkpoint(private_key: Ed25519PrivateKey, *, origin: str, sequence: int,
                    head: bytes, ts: str) -> Checkpoint:
    """Sign the head ``(sequence, head)`` of log ``origin`` at time ``ts`` (RFC 3339)."""
    signature = private_key.sign(make_note(origin, sequence, head, ts))
    return Checkpoint(sequence, head, ts, origin, key_id(private_key.public_key()), signature)


def verify_checkpoint(public_key: Ed25519PublicKey, checkpoint: Checkpoint) -> None:
    """Check ``checkpoint``'s Ed25519 signature (RFC 8032) against ``public_key``.

    Raises:
        VerificationError: ``BAD_SIGNATURE`` naming the checkpoint's sequence number.
    """
    if checkpoint.key_id != key_id(public_key):
        raise VerificationError(checkpoint.sequence, Reason.BAD_SIGNATURE,
                                f"checkpoint signed by key {checkpoint.key_id[:8]}, "
                                f"not by the given public key {key_id(public_key)}")
    try:
        public_key.verify(checkpoint.signature, checkpoint.note)
    except InvalidSignature:
        raise VerificationError(checkpoint.sequence, Reason.BAD_SIGNATURE,
                                "checkpoint signature does not verify") from None
