"""Sealing records into the chain: one locked transaction per batch.

:func:`append_batch` reads the head, gives each pending record the next sequence number
and the previous record's hash, hashes (and MACs) its canonical form, inserts the batch,
and signs a checkpoint when one is due, all in one transaction of
:meth:`AuditStore.locked`. Any failure rolls the whole batch back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .chain import GENESIS, Checkpoint, leaf_hash, record_mac, sign_checkpoint
from .record import canonical, format_ts, ts_to_us
from .store.base import AuditStore, StoredRow

__all__ = ["CheckpointPolicy", "Pending", "Receipt", "append_batch", "seal"]


@dataclass(frozen=True, slots=True)
class Pending:
    """A record waiting for its place in the chain (``partial`` has no ``seq``/``prev``)."""

    partial: dict[str, Any]
    fail_closed: bool = False
    from_spool: bool = False
    ts_us: int | None = None  # the partial's ``ts`` in microseconds, when known

    @property
    def id(self) -> str:
        return str(self.partial["id"])


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where a record went: its ``sequence`` and hex ``hash`` in the store, or ``spooled``."""

    sequence: int | None
    hash: str | None
    spooled: bool = False


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """Sign the head every ``every`` records or ``interval_s`` seconds, whichever is first."""

    key: Ed25519PrivateKey
    every: int = 1000
    interval_s: float = 60.0

    def due(self, head_seq: int, last: tuple[int, int] | None, now_us: int) -> bool:
        if head_seq == 0 or (last is not None and last[0] >= head_seq):
            return False
        return (last is None or head_seq - last[0] >= self.every
                or now_us - last[1] >= self.interval_s * 1_000_000)


def seal(partial: dict[str, Any], seq: int, prev: bytes, hmac_key: bytes | None,
         ts_us: int | None = None) -> StoredRow:
    """The stored row of ``partial`` at position ``seq`` after a record hashing to ``prev``."""
    body = canonical({**partial, "seq": seq, "prev": prev.hex()})
    digest = leaf_hash(body)
    resource = partial.get("resource") or {}
    return StoredRow(seq=seq, id=str(partial["id"]),
                     ts_us=ts_to_us(partial["ts"]) if ts_us is None else ts_us,
                     actor=partial.get("actor"), action=str(partial["action"]),
                     ticket_id=resource.get("ticket_id"), body=body, hash=digest,
                     mac=None if hmac_key is None else record_mac(hmac_key, digest))


def append_batch(store: AuditStore, batch: list[Pending], *, origin: str,
                 hmac_key: bytes | None, checkpoints: CheckpointPolicy | None, now_us: int,
                 force_checkpoint: bool = False,
                 durable: bool = True) -> tuple[list[Receipt], Checkpoint | None]:
    """Append ``batch`` in order; return one receipt per item and the checkpoint signed, if any.

    Records replayed from the spool whose id is already stored are skipped (their receipt
    has ``sequence=None``). ``durable``: see :meth:`AuditStore.locked`. Raises
    :class:`AuditStoreError` and writes nothing on failure.
    """
    receipts: list[Receipt] = []
    signed: Checkpoint | None = None
    with store.locked(durable=durable) as txn:
        head = txn.head()
        seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
        replayed = [p.id for p in batch if p.from_spool]
        skip = txn.existing_ids(replayed) if replayed else set()
        rows: list[StoredRow] = []
        for p in batch:
            if p.id in skip:
                receipts.append(Receipt(None, None))
                continue
            seq += 1
            row = seal(p.partial, seq, prev, hmac_key, p.ts_us)
            rows.append(row)
            prev = row.hash
            receipts.append(Receipt(seq, row.hash.hex()))
        if rows:
            txn.insert(rows)
        if checkpoints is not None:
            last = txn.last_checkpoint()
            if (force_checkpoint and seq > 0 and (last is None or last[0] < seq)) \
                    or checkpoints.due(seq, last, now_us):
                signed = sign_checkpoint(checkpoints.key, origin=origin, sequence=seq, head=prev,
                                         ts=format_ts(now_us))
                txn.insert_checkpoint(signed, now_us)
    return receipts, signed
