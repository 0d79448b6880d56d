"""The PostgreSQL audit store, for several proxy replicas (psycopg 3).

``postgresql://user@host:5432/db?schema=audit``: ``schema`` (default ``public``) is ours
and is removed before connecting; every other parameter goes to libpq. Appends from any
number of processes serialise on a transaction-level advisory lock
(``pg_advisory_xact_lock``) keyed by the schema, so each reads the committed head and
appends after it; the primary key on ``seq`` backs that up. Reads run in one
``REPEATABLE READ READ ONLY`` transaction, so verify sees one consistent snapshot.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from ..chain import Checkpoint
from ..errors import AuditStoreError
from .base import (SCHEMA_VERSION, AuditStore, Head, Snapshot, StoredRow, StoreMissing,
                   Transaction)

__all__ = ["PostgresStore"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ROW_COLS = "seq, id, ts_us, actor, action, ticket_id, body, hash, mac"


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise AuditStoreError("a postgresql:// store needs psycopg: "
                              "pip install 'redactor[postgres]'") from None
    return psycopg


def _ddl(s: str) -> list[str]:
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"CREATE TABLE IF NOT EXISTS {s}.audit_meta (key text PRIMARY KEY, value text NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS {s}.audit_records (
            seq bigint PRIMARY KEY, id text NOT NULL UNIQUE, ts_us bigint NOT NULL,
            actor text, action text NOT NULL, ticket_id text,
            body bytea NOT NULL, hash bytea NOT NULL, mac bytea)""",
        f"CREATE INDEX IF NOT EXISTS audit_records_ts ON {s}.audit_records (ts_us)",
        f"""CREATE INDEX IF NOT EXISTS audit_records_access
            ON {s}.audit_records (actor, ticket_id, action, seq)""",
        f"""CREATE TABLE IF NOT EXISTS {s}.audit_checkpoints (
            seq bigint PRIMARY KEY, ts_us bigint NOT NULL, ts text NOT NULL, origin text NOT NULL,
            head bytea NOT NULL, key_id text NOT NULL, signature bytea NOT NULL)""",
    ]


def _row(r: tuple[Any, ...]) -> StoredRow:
    return StoredRow(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), bytes(r[7]),
                     None if r[8] is None else bytes(r[8]))


class _Txn(Transaction):
    def __init__(self, conn: Any, schema: str) -> None:
        self._c, self._s = conn, schema

    def head(self) -> Head | None:
        r = self._c.execute(f"SELECT seq, hash FROM {self._s}.audit_records "
                            "ORDER BY seq DESC LIMIT 1").fetchone()
        return None if r is None else Head(r[0], bytes(r[1]))

    def last_checkpoint(self) -> tuple[int, int] | None:
        r = self._c.execute(f"SELECT seq, ts_us FROM {self._s}.audit_checkpoints "
                            "ORDER BY seq DESC LIMIT 1").fetchone()
        return None if r is None else (r[0], r[1])

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        rows = self._c.execute(f"SELECT id FROM {self._s}.audit_records WHERE id = ANY(%s)",
                               (list(ids),)).fetchall()
        return {r[0] for r in rows}

    def insert(self, rows: list[StoredRow]) -> None:
        with self._c.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self._s}.audit_records ({_ROW_COLS}) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [(r.seq, r.id, r.ts_us, r.actor, r.action, r.ticket_id, r.body, r.hash, r.mac)
                 for r in rows])

    def insert_checkpoint(self, cp: Checkpoint, ts_us: int) -> None:
        self._c.execute(f"INSERT INTO {self._s}.audit_checkpoints VALUES (%s,%s,%s,%s,%s,%s,%s)",
                        (cp.sequence, ts_us, cp.ts, cp.origin, cp.head, cp.key_id, cp.signature))


class _Snap(Snapshot):
    def __init__(self, conn: Any, schema: str) -> None:
        self._c, self._s = conn, schema

    def origin(self) -> str:
        psycopg = _import_psycopg()
        try:
            r = self._c.execute(f"SELECT value FROM {self._s}.audit_meta WHERE key = 'origin'").fetchone()
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            raise StoreMissing(f"no audit tables in schema {self._s}") from None
        if r is None:
            raise StoreMissing("the audit tables have no origin (not initialised)")
        return str(r[0])

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._c.execute(f"SELECT seq, head, ts, origin, key_id, signature "
                               f"FROM {self._s}.audit_checkpoints ORDER BY seq").fetchall()
        return [Checkpoint(sequence=r[0], head=bytes(r[1]), ts=r[2], origin=r[3], key_id=r[4],
                           signature=bytes(r[5])) for r in rows]

    def rows(self, *, since_us: int | None = None, until_us: int | None = None) -> Iterator[StoredRow]:
        where, args = [], []
        if since_us is not None:
            where.append("ts_us >= %s")
            args.append(since_us)
        if until_us is not None:
            where.append("ts_us < %s")
            args.append(until_us)
        sql = f"SELECT {_ROW_COLS} FROM {self._s}.audit_records"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        with self._c.cursor(name="redactor_audit_rows") as cur:
            cur.itersize = 2000
            cur.execute(sql + " ORDER BY seq", args)
            for r in cur:
                yield _row(r)

    def last_body(self, *, actor: str, ticket_id: str, action: str) -> bytes | None:
        r = self._c.execute(f"SELECT body FROM {self._s}.audit_records WHERE actor = %s AND "
                            "ticket_id = %s AND action = %s ORDER BY seq DESC LIMIT 1",
                            (actor, ticket_id, action)).fetchone()
        return None if r is None else bytes(r[0])


class PostgresStore(AuditStore):
    """An audit store in schema ``schema`` of the database at libpq ``conninfo``."""

    def __init__(self, conninfo: str, *, schema: str = "public", display: str | None = None,
                 connect_timeout_s: int = 5) -> None:
        if not _IDENT.match(schema):
            raise AuditStoreError(f"schema must match {_IDENT.pattern}")
        self._psycopg = _import_psycopg()
        self._conninfo, self.schema = conninfo, schema
        self.url = display or conninfo
        self._timeout = connect_timeout_s
        self._lock_key = int.from_bytes(hashlib.sha256(f"redactor.audit:{schema}".encode())
                                        .digest()[:8], "big", signed=True)
        self._conn: Any = None

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._psycopg.connect(self._conninfo, autocommit=True,
                                               connect_timeout=self._timeout)
        return self._conn

    def create(self) -> str:
        with self._guard("create"):
            conn = self._connect()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                for statement in _ddl(self.schema):
                    conn.execute(statement)
                meta = f"INSERT INTO {self.schema}.audit_meta VALUES (%s, %s) ON CONFLICT DO NOTHING"
                conn.execute(meta, ("schema", SCHEMA_VERSION))
                conn.execute(meta, ("origin", _new_origin()))
                r = conn.execute(f"SELECT value FROM {self.schema}.audit_meta "
                                 "WHERE key = 'origin'").fetchone()
            return str(r[0])

    @contextmanager
    def locked(self, *, durable: bool = True) -> Iterator[Transaction]:
        with self._guard("append"):
            conn = self._connect()
            with conn.transaction():
                if not durable:
                    conn.execute("SET LOCAL synchronous_commit TO off")
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                yield _Txn(conn, self.schema)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        with self._guard("read"):
            conn = self._connect()
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield _Snap(conn, self.schema)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as exc:
            if isinstance(exc, self._psycopg.OperationalError):
                self.close()  # reconnect next time
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise AuditStoreError(f"{what} on {self.url} failed: {type(exc).__name__}: {first}") from None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except self._psycopg.Error:
                pass
            self._conn = None


def _new_origin() -> str:
    import base64
    import secrets

    return base64.b32encode(secrets.token_bytes(10)).decode().lower()
