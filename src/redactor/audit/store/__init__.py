"""Audit stores by URL: ``sqlite:///abs/path.db``, ``sqlite:rel/path.db``, ``postgresql://...``."""

from __future__ import annotations

from ...dburl import mask_url, parse_db_url
from ..errors import AuditStoreError
from .base import AuditStore, Head, Snapshot, StoredRow, StoreMissing, Transaction

__all__ = ["AuditStore", "Head", "Snapshot", "StoreMissing", "StoredRow", "Transaction",
           "mask_url", "open_store"]


def open_store(url: str) -> AuditStore:
    """The store at ``url`` (nothing is created until :meth:`AuditStore.create`).

    ``sqlite:`` takes ``?synchronous=full|normal`` (default ``full``: fsync per commit);
    ``postgresql:`` takes ``?schema=NAME`` (default ``public``) plus any libpq parameter.

    Raises:
        AuditStoreError: an unknown scheme or a malformed URL (the message shows the forms).
    """
    parsed = parse_db_url(url, sqlite_params=frozenset({"synchronous"}), error=AuditStoreError)
    if parsed.kind == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(parsed.target, synchronous=parsed.params.get("synchronous", "full"))
    from .postgres import PostgresStore

    return PostgresStore(parsed.target, schema=parsed.schema, display=parsed.display)
