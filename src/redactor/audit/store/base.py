"""What an audit store provides, whatever the database.

A store is a table of records (sequence number, the canonical bytes, their hash and HMAC,
plus a few columns copied from the record for indexed lookups), a table of signed
checkpoints and a small meta table (schema version, the log's ``origin`` id).

* :meth:`AuditStore.locked` is one exclusive, atomic transaction: writers in any number
  of processes read the head and append after it, one at a time, so the chain has no gap
  and no duplicate sequence number.
* :meth:`AuditStore.snapshot` is one consistent read (verify, export, lookups).
* Durability is per transaction: records that gate an action (reveals, re-hydrations)
  and spool replays are committed durably; redacted-view batches may commit without
  waiting for the disk (see :meth:`AuditStore.locked`).

Every database error comes out as :class:`~redactor.audit.errors.AuditStoreError`.
A store object is used by one thread at a time.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..chain import Checkpoint
from ..errors import AuditStoreError

__all__ = ["AuditStore", "Head", "Snapshot", "StoreMissing", "StoredRow", "Transaction"]

SCHEMA_VERSION = "1"


class StoreMissing(AuditStoreError):
    """The store (file, schema or tables) does not exist and was not to be created."""


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One record row. ``body`` is the canonical form; the rest is derived or indexed."""

    seq: int
    id: str
    ts_us: int
    actor: str | None
    action: str
    ticket_id: str | None
    body: bytes
    hash: bytes
    mac: bytes | None


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: bytes


class Transaction(abc.ABC):
    """Inside :meth:`AuditStore.locked`: read the head, append, checkpoint."""

    @abc.abstractmethod
    def head(self) -> Head | None: ...

    @abc.abstractmethod
    def last_checkpoint(self) -> tuple[int, int] | None:
        """``(sequence, ts_us)`` of the newest checkpoint."""

    @abc.abstractmethod
    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of these record ids are already stored (spool replay is idempotent)."""

    @abc.abstractmethod
    def insert(self, rows: list[StoredRow]) -> None: ...

    @abc.abstractmethod
    def insert_checkpoint(self, checkpoint: Checkpoint, ts_us: int) -> None: ...


class Snapshot(abc.ABC):
    """Inside :meth:`AuditStore.snapshot`: one consistent view of the store."""

    @abc.abstractmethod
    def origin(self) -> str:
        """The log's id. Raises :class:`StoreMissing` when the store has no audit tables."""

    @abc.abstractmethod
    def checkpoints(self) -> list[Checkpoint]:
        """All checkpoints, by sequence number."""

    @abc.abstractmethod
    def rows(self, *, since_us: int | None = None, until_us: int | None = None) -> Iterator[StoredRow]:
        """Records by sequence number; ``since_us`` inclusive, ``until_us`` exclusive."""

    @abc.abstractmethod
    def last_body(self, *, actor: str, ticket_id: str, action: str) -> bytes | None:
        """Canonical form of the newest record of ``actor`` on ``ticket_id`` with ``action``."""


class AuditStore(abc.ABC):
    """A SQLite or PostgreSQL audit store; build one with :func:`open_store`."""

    url: str  # for messages: the password, if any, is masked

    @abc.abstractmethod
    def create(self) -> str:
        """Create tables if missing (safe to race from several processes); return the origin."""

    @abc.abstractmethod
    def locked(self, *, durable: bool = True) -> AbstractContextManager[Transaction]:
        """One exclusive append transaction. ``durable=False`` may commit before the
        database's log reaches the disk (SQLite ``synchronous=NORMAL``, PostgreSQL
        ``synchronous_commit=off``): safe against a crash of *this* process, not of the
        machine or the database server in the last moments."""

    @abc.abstractmethod
    def snapshot(self) -> AbstractContextManager[Snapshot]: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
