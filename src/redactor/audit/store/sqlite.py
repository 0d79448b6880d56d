"""The SQLite audit store (the default): one file, WAL mode, stdlib ``sqlite3``.

``sqlite:///abs/path.db`` or ``sqlite:rel/path.db``. ``?synchronous=`` sets the level of
*durable* transactions (default ``full``: the WAL is fsynced at commit); others run at
``normal`` (written to the OS at commit, fsynced at the next WAL checkpoint), so a view
record survives a crash of the proxy but maybe not a power cut in the same moment. Several processes may append to one file: each append
is a ``BEGIN IMMEDIATE`` transaction that re-reads the head under SQLite's write lock.
"""

from __future__ import annotations

import base64
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from ...sqlite_wal import enable_wal
from ..chain import Checkpoint
from ..errors import AuditStoreError
from .base import (SCHEMA_VERSION, AuditStore, Head, Snapshot, StoredRow, StoreMissing,
                   Transaction)

__all__ = ["SqliteStore"]

_DDL = """
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, ts_us INTEGER NOT NULL,
    actor TEXT, action TEXT NOT NULL, ticket_id TEXT,
    body BLOB NOT NULL, hash BLOB NOT NULL, mac BLOB);
CREATE INDEX IF NOT EXISTS audit_records_ts ON audit_records (ts_us);
CREATE INDEX IF NOT EXISTS audit_records_access ON audit_records (actor, ticket_id, action, seq);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, ts TEXT NOT NULL, origin TEXT NOT NULL,
    head BLOB NOT NULL, key_id TEXT NOT NULL, signature BLOB NOT NULL);
"""
_ROW_COLS = "seq, id, ts_us, actor, action, ticket_id, body, hash, mac"
_SYNC = {"off", "normal", "full", "extra"}


def _blob(v: Any) -> bytes:
    """A BLOB column's bytes; SQLite columns are loosely typed, so an edited row may hold
    TEXT (its UTF-8 bytes are what was written) or something else (corrupt)."""
    if isinstance(v, (bytes, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8", "surrogatepass")
    raise AuditStoreError(f"a BLOB column holds {type(v).__name__}")


def _row(r: tuple[Any, ...]) -> StoredRow:
    if not isinstance(r[0], int) or not isinstance(r[2], int):
        raise AuditStoreError("a record row has a non-integer seq or ts_us")
    return StoredRow(r[0], r[1], r[2], r[3], r[4], r[5], _blob(r[6]), _blob(r[7]),
                     None if r[8] is None else _blob(r[8]))


def _cp(r: tuple[Any, ...]) -> Checkpoint:
    return Checkpoint(sequence=int(r[0]), head=_blob(r[1]), ts=str(r[2]), origin=str(r[3]),
                      key_id=str(r[4]), signature=_blob(r[5]))


class _Txn(Transaction):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def head(self) -> Head | None:
        r = self._c.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetchone()
        return None if r is None else Head(r[0], bytes(r[1]))

    def last_checkpoint(self) -> tuple[int, int] | None:
        r = self._c.execute("SELECT seq, ts_us FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
        return None if r is None else (r[0], r[1])

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for i in ids:
            if self._c.execute("SELECT 1 FROM audit_records WHERE id = ?", (i,)).fetchone():
                found.add(i)
        return found

    def insert(self, rows: list[StoredRow]) -> None:
        self._c.executemany(f"INSERT INTO audit_records ({_ROW_COLS}) VALUES (?,?,?,?,?,?,?,?,?)",
                            [(r.seq, r.id, r.ts_us, r.actor, r.action, r.ticket_id, r.body, r.hash,
                              r.mac) for r in rows])

    def insert_checkpoint(self, cp: Checkpoint, ts_us: int) -> None:
        self._c.execute("INSERT INTO audit_checkpoints VALUES (?,?,?,?,?,?,?)",
                        (cp.sequence, ts_us, cp.ts, cp.origin, cp.head, cp.key_id, cp.signature))


class _Snap(Snapshot):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def origin(self) -> str:
        try:
            r = self._c.execute("SELECT value FROM audit_meta WHERE key = 'origin'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise StoreMissing("the database has no audit tables") from None
            raise
        if r is None:
            raise StoreMissing("the audit tables have no origin (not initialised)")
        return str(r[0])

    def checkpoints(self) -> list[Checkpoint]:
        return [_cp(r) for r in self._c.execute(
            "SELECT seq, head, ts, origin, key_id, signature FROM audit_checkpoints ORDER BY seq")]

    def rows(self, *, since_us: int | None = None, until_us: int | None = None) -> Iterator[StoredRow]:
        where, args = [], []
        if since_us is not None:
            where.append("ts_us >= ?")
            args.append(since_us)
        if until_us is not None:
            where.append("ts_us < ?")
            args.append(until_us)
        sql = f"SELECT {_ROW_COLS} FROM audit_records"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        cur = self._c.execute(sql + " ORDER BY seq", args)
        for r in cur:
            yield _row(r)

    def last_body(self, *, actor: str, ticket_id: str, action: str) -> bytes | None:
        r = self._c.execute("SELECT body FROM audit_records WHERE actor = ? AND ticket_id = ? "
                            "AND action = ? ORDER BY seq DESC LIMIT 1",
                            (actor, ticket_id, action)).fetchone()
        return None if r is None else _blob(r[0])


class SqliteStore(AuditStore):
    """An audit store in the SQLite file ``path`` (created by :meth:`create` only)."""

    def __init__(self, path: str, *, synchronous: str = "full", busy_timeout_s: float = 10.0) -> None:
        if synchronous.lower() not in _SYNC:
            raise AuditStoreError(f"sqlite synchronous must be one of {', '.join(sorted(_SYNC))}")
        self.path = Path(path)
        self.url = f"sqlite://{self.path}" if self.path.is_absolute() else f"sqlite:{self.path}"
        self._sync = synchronous.lower()
        self._timeout = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._writable = False
        self._level = ""

    def _connect(self, writable: bool) -> sqlite3.Connection:
        if self._conn is not None and (self._writable or not writable):
            return self._conn
        self.close()
        if not writable and not self.path.exists():
            raise StoreMissing(f"no audit store at {self.path}")
        target = self.path.resolve().as_uri() + ("" if writable else "?mode=ro")
        try:
            conn = sqlite3.connect(target, uri=True, isolation_level=None, timeout=self._timeout,
                                   check_same_thread=False)
            if writable:
                enable_wal(conn, self._timeout)
                conn.execute(f"PRAGMA synchronous={self._sync}")
        except sqlite3.Error as exc:
            raise AuditStoreError(f"cannot open {self.url}: {exc}") from None
        self._conn, self._writable = conn, writable
        self._level = self._sync if writable else ""
        return conn

    def create(self) -> str:
        with self._guard("create"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect(writable=True)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, _DDL.split(";")):
                    conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO audit_meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                conn.execute("INSERT OR IGNORE INTO audit_meta VALUES ('origin', ?)", (_new_origin(),))
                origin = conn.execute("SELECT value FROM audit_meta WHERE key='origin'").fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.rollback()
                raise
            return str(origin)

    @contextmanager
    def locked(self, *, durable: bool = True) -> Iterator[Transaction]:
        with self._guard("append"):
            conn = self._connect(writable=True)
            level = self._sync if durable else "normal" if self._sync != "off" else "off"
            if level != self._level:
                conn.execute(f"PRAGMA synchronous={level}")
                self._level = level
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Txn(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        with self._guard("read"):
            conn = self._connect(writable=False) if self._conn is None else self._conn
            conn.execute("BEGIN")
            try:
                yield _Snap(conn)
            finally:
                conn.rollback()

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            if self._conn is not None and isinstance(exc, (sqlite3.DatabaseError,)) \
                    and not isinstance(exc, sqlite3.IntegrityError):
                self.close()  # reconnect next time (disk full, file replaced, locked...)
            raise AuditStoreError(f"{what} on {self.url} failed: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise AuditStoreError(f"{what} on {self.url} failed: {exc.strerror}") from None

    def close(self) -> None:
        if self._conn is not None:
            try:
                # The last connection to close folds the WAL into the file and deletes it
                # (SQLite does this itself), so a stopped store is one file.
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None


def _new_origin() -> str:
    import secrets

    return base64.b32encode(secrets.token_bytes(10)).decode().lower()

