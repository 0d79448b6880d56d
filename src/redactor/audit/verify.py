"""Verifying an audit store, and exporting it as JSON Lines.

:func:`verify` walks the whole chain in one consistent snapshot and *raises*
:class:`~redactor.audit.errors.VerificationError` at the first bad sequence number; it
returns a :class:`VerifyReport` only when everything it was given keys for holds. A
missing or empty store is an error, never "valid".

Per record, in this order: the sequence number is the next one (else ``GAP``); the stored
hash is the leaf hash of the stored bytes (``HASH_MISMATCH``); the HMAC matches, when a
key is given (``HMAC_MISMATCH``); the record names its own position (``REORDERED``); its
``prev`` is the previous record's hash (``HASH_MISMATCH``). Then every checkpoint (in the
store and in the witness file): its signature, when a public key is given
(``BAD_SIGNATURE``), and the record at its sequence number hashes to its head; a
checkpoint beyond the last record means records were cut off (``TRUNCATED``).

What verify cannot see: records appended after the newest checkpoint that is still
present can be deleted together with any later checkpoints. Keep a ``witness`` file (or
the SIEM export) outside the store's reach to close that gap.
"""

from __future__ import annotations

import hmac as _hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .record import ts_to_us
from .chain import GENESIS, Checkpoint, leaf_hash, record_mac, verify_checkpoint
from .errors import AuditStoreError, Reason, VerificationError
from .store import AuditStore, StoredRow, StoreMissing, open_store

__all__ = ["VerifyReport", "export", "read_witness", "verify"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify` checked. Times are RFC 3339 strings; hashes hex."""

    url: str
    records: int
    head: str
    hmac_checked: bool
    checkpoints: int
    signatures_checked: bool
    last_checkpoint: int | None
    witness_checkpoints: int

    @property
    def uncovered(self) -> int:
        """Records after the newest checkpoint (not yet protected against truncation)."""
        return self.records - (self.last_checkpoint or 0)

    def summary(self) -> str:
        parts = [f"ok: {self.records} records (seq 1-{self.records}), head {self.head[:16]}",
                 "HMAC verified" if self.hmac_checked else "HMAC not checked (no key)"]
        if self.checkpoints:
            sig = "signatures verified" if self.signatures_checked else "signatures NOT checked"
            parts.append(f"{self.checkpoints} checkpoint(s), {sig}, last at seq "
                         f"{self.last_checkpoint} ({self.uncovered} record(s) after it)")
        else:
            parts.append("no checkpoints")
        if self.witness_checkpoints:
            parts.append(f"{self.witness_checkpoints} witness checkpoint(s) matched")
        return "; ".join(parts) + f"; store {self.url}"


def _fail(seq: int | None, reason: Reason, detail: str) -> VerificationError:
    return VerificationError(seq, reason, detail)


def _check_row(row: StoredRow, expected: int, prev: bytes, key: bytes | None) -> None:
    if row.seq != expected:
        raise _fail(expected, Reason.GAP, f"record {expected} is missing (next is {row.seq})")
    digest = leaf_hash(row.body)
    if not _hmac.compare_digest(digest, row.hash):
        raise _fail(row.seq, Reason.HASH_MISMATCH, "the record's content does not match its hash")
    if key is not None and (row.mac is None or not _hmac.compare_digest(row.mac, record_mac(key, digest))):
        raise _fail(row.seq, Reason.HMAC_MISMATCH,
                    "the record has no HMAC" if row.mac is None else "the HMAC does not match the key")
    try:
        body = orjson.loads(row.body)
        claimed, link = body["seq"], body["prev"]
        indexed = (body["id"], body["action"], body["actor"], (body["resource"] or {}).get("ticket_id"),
                   ts_to_us(body["ts"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise _fail(row.seq, Reason.CORRUPT, "the record is not a readable audit record") from None
    if claimed != row.seq:
        raise _fail(row.seq, Reason.REORDERED, f"position {row.seq} holds record {claimed}")
    if link != prev.hex():
        raise _fail(row.seq, Reason.HASH_MISMATCH,
                    f"its link to record {row.seq - 1} does not match that record's hash")
    if indexed != (row.id, row.action, row.actor, row.ticket_id, row.ts_us):
        raise _fail(row.seq, Reason.HASH_MISMATCH, "indexed columns disagree with the hashed record")


def _check_checkpoint(cp: Checkpoint, head: bytes | None, origin: str,
                      public_key: Ed25519PublicKey | None, records: int) -> None:
    if public_key is not None:
        verify_checkpoint(public_key, cp)
    if cp.origin != origin:
        raise _fail(cp.sequence, Reason.BAD_SIGNATURE, "the checkpoint belongs to another log")
    if head is None:
        raise _fail(records + 1, Reason.TRUNCATED,
                    f"a checkpoint covers records up to {cp.sequence} but the store ends at {records}")
    if not _hmac.compare_digest(cp.head, head):
        raise _fail(cp.sequence, Reason.HASH_MISMATCH, "the record does not match its signed checkpoint")


def read_witness(path: str | os.PathLike[str]) -> list[Checkpoint]:
    """The checkpoints in a witness file (JSON Lines written by :class:`AuditTrail`).

    Raises:
        VerificationError: the file is missing (``MISSING``) or a line is unreadable (``CORRUPT``).
    """
    try:
        with open(path, "rb") as f:  # closed now: a verifier may run inside a long process
            lines = f.read().splitlines()
    except OSError as exc:
        raise _fail(None, Reason.MISSING, f"cannot read witness file {os.fspath(path)}: "
                    f"{exc.strerror}") from None
    out = []
    for n, line in enumerate(filter(None, lines), 1):
        try:
            d = orjson.loads(line)
            out.append(Checkpoint(int(d["seq"]), bytes.fromhex(d["head"]), str(d["ts"]),
                                  str(d["origin"]), str(d["key_id"]), bytes.fromhex(d["signature"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise _fail(None, Reason.CORRUPT, f"witness file line {n} is unreadable") from None
    return out


def verify(store: AuditStore | str, *, key: bytes | None = None,
           public_key: Ed25519PublicKey | None = None,
           witness: str | os.PathLike[str] | None = None) -> VerifyReport:
    """Verify the whole chain in ``store`` (a URL or an open :class:`AuditStore`).

    Args:
        key: the HMAC key; when given every record must carry a matching HMAC.
        public_key: the Ed25519 public key; when given every checkpoint's signature is
            checked and a store with records but no checkpoint fails (``UNSIGNED``).
        witness: a witness file of checkpoints kept outside the store.

    Returns:
        a :class:`VerifyReport` when the trail is intact.

    Raises:
        VerificationError: the first problem, with ``.sequence`` and ``.reason``.
        AuditStoreError: the store URL is invalid or the database cannot be reached.
    """
    owned = isinstance(store, str)
    s = open_store(store) if isinstance(store, str) else store
    try:
        return _verify(s, key, public_key, read_witness(witness) if witness is not None else [])
    finally:
        if owned:
            s.close()


def _verify(store: AuditStore, key: bytes | None, public_key: Ed25519PublicKey | None,
            witness: list[Checkpoint]) -> VerifyReport:
    try:
        with store.snapshot() as snap:
            origin = snap.origin()
            checkpoints = snap.checkpoints()
            pending = sorted(checkpoints + witness, key=lambda c: c.sequence)
            prev, n = GENESIS, 0
            rows = snap.rows()
            while True:
                try:
                    row = next(rows, None)
                except AuditStoreError as exc:
                    raise _fail(n + 1, Reason.CORRUPT, f"the store cannot be read: {exc}") from None
                if row is None:
                    break
                _check_row(row, n + 1, prev, key)
                while pending and pending[0].sequence <= row.seq:
                    cp = pending.pop(0)
                    if cp.sequence != row.seq:
                        raise _fail(row.seq, Reason.CORRUPT,
                                    f"a checkpoint names impossible sequence {cp.sequence}")
                    _check_checkpoint(cp, row.hash, origin, public_key, n)
                prev, n = row.hash, row.seq
    except StoreMissing as exc:
        raise _fail(None, Reason.MISSING, str(exc)) from None
    except AuditStoreError as exc:
        raise _fail(None, Reason.CORRUPT, f"the store cannot be read: {exc}") from None
    for cp in pending:  # checkpoints past the end (or below 1)
        _check_checkpoint(cp, None, origin, public_key, n)
    if n == 0:
        raise _fail(None, Reason.EMPTY, "the store holds no audit record")
    if public_key is not None and not checkpoints:
        raise _fail(1, Reason.UNSIGNED, "a public key was given but the store has no checkpoint")
    return VerifyReport(url=store.url, records=n, head=prev.hex(), hmac_checked=key is not None,
                        checkpoints=len(checkpoints), signatures_checked=public_key is not None,
                        last_checkpoint=checkpoints[-1].sequence if checkpoints else None,
                        witness_checkpoints=len(witness))


def _us(d: datetime | None) -> int | None:
    return None if d is None else (d - _EPOCH) // timedelta(microseconds=1)


def export(store: AuditStore | str, *, since: datetime | None = None,
           until: datetime | None = None) -> Iterator[str]:
    """JSON Lines for a SIEM: one record per line (its fields plus ``hash``), by sequence.

    ``since`` is inclusive and ``until`` exclusive; both aware datetimes (naive ones are
    rejected: ``ValueError``). The lines end with ``\\n``. Export does not verify.

    Raises:
        VerificationError: ``MISSING`` store, or a record that is not readable (``CORRUPT``).
    """
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise ValueError("since/until must be timezone-aware datetimes")
    owned = isinstance(store, str)
    s = open_store(store) if isinstance(store, str) else store
    try:
        with s.snapshot() as snap:
            snap.origin()
            for row in snap.rows(since_us=_us(since), until_us=_us(until)):
                try:
                    record = orjson.loads(row.body)
                except orjson.JSONDecodeError:
                    raise _fail(row.seq, Reason.CORRUPT, "the record is not readable JSON") from None
                record["hash"] = row.hash.hex()
                yield orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode() + "\n"
    except StoreMissing as exc:
        raise _fail(None, Reason.MISSING, str(exc)) from None
    finally:
        if owned:
            s.close()
