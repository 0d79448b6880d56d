"""Vault tables in SQLite (default) or PostgreSQL; the same URLs as the audit store.

One table, ``vault_tokens``: (tenant, ticket, token id) is the key; (tenant, ticket,
lookup hash) is unique, so one value in one scope has one live token even when several
replicas issue it at once. Values are only ever stored encrypted. Stores are thread-safe
(one connection behind a lock); each process opens its own.
"""

from __future__ import annotations

import abc
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..dburl import parse_db_url
from ..sqlite_wal import enable_wal
from .errors import VaultStoreError

__all__ = ["VaultRow", "VaultStore", "open_vault_store"]

_COLS = "tenant, ticket, token, entity_type, lookup, nonce, ciphertext, created_us, expires_us"


@dataclass(frozen=True, slots=True)
class VaultRow:
    tenant: str
    ticket: str
    token: str
    entity_type: str
    lookup: bytes
    nonce: bytes
    ciphertext: bytes
    created_us: int
    expires_us: int


def _row(r: tuple[Any, ...]) -> VaultRow:
    return VaultRow(r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5]), bytes(r[6]), r[7], r[8])


class VaultStore(abc.ABC):
    url: str
    _p = "?"  # parameter placeholder

    @abc.abstractmethod
    def _cursor(self, write: bool) -> Any: ...

    def _table(self) -> str:
        return "vault_tokens"

    def find_by_lookup(self, tenant: str, ticket: str, lookup: bytes, now_us: int) -> VaultRow | None:
        p, t = self._p, self._table()
        with self._cursor(False) as cur:
            cur.execute(f"SELECT {_COLS} FROM {t} WHERE tenant={p} AND ticket={p} AND lookup={p} "
                        f"AND expires_us > {p}", (tenant, ticket, lookup, now_us))
            r = cur.fetchone()
        return None if r is None else _row(r)

    def insert(self, row: VaultRow, now_us: int) -> bool:
        """Insert ``row`` (dropping an expired entry for the same value first); ``False`` on
        a conflict (the value got a token meanwhile, or the token id is taken)."""
        p, t = self._p, self._table()
        with self._cursor(True) as cur:
            cur.execute(f"DELETE FROM {t} WHERE tenant={p} AND ticket={p} AND lookup={p} "
                        f"AND expires_us <= {p}", (row.tenant, row.ticket, row.lookup, now_us))
            cur.execute(f"INSERT INTO {t} ({_COLS}) VALUES ({', '.join([p] * 9)}) "
                        "ON CONFLICT DO NOTHING",
                        (row.tenant, row.ticket, row.token, row.entity_type, row.lookup, row.nonce,
                         row.ciphertext, row.created_us, row.expires_us))
            return bool(cur.rowcount == 1)

    def get_many(self, tenant: str, ticket: str, tokens: Iterable[str], now_us: int) -> dict[str, VaultRow]:
        p, t = self._p, self._table()
        out: dict[str, VaultRow] = {}
        with self._cursor(False) as cur:
            for token in set(tokens):
                cur.execute(f"SELECT {_COLS} FROM {t} WHERE tenant={p} AND ticket={p} AND token={p} "
                            f"AND expires_us > {p}", (tenant, ticket, token, now_us))
                r = cur.fetchone()
                if r is not None:
                    out[token] = _row(r)
        return out

    def purge_expired(self, now_us: int) -> int:
        with self._cursor(True) as cur:
            cur.execute(f"DELETE FROM {self._table()} WHERE expires_us <= {self._p}", (now_us,))
            return int(cur.rowcount)

    def raw_rows(self) -> list[VaultRow]:
        """Every row (tests and maintenance)."""
        with self._cursor(False) as cur:
            cur.execute(f"SELECT {_COLS} FROM {self._table()}")
            return [_row(r) for r in cur.fetchall()]

    @abc.abstractmethod
    def close(self) -> None: ...


class SqliteVaultStore(VaultStore):
    def __init__(self, path: str, *, synchronous: str = "normal") -> None:
        if synchronous.lower() not in ("normal", "full", "extra"):
            raise VaultStoreError("sqlite synchronous must be normal, full or extra")
        self.url = f"sqlite://{path}" if Path(path).is_absolute() else f"sqlite:{path}"
        self._lock = threading.Lock()
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, timeout=10,
                                         check_same_thread=False)
            enable_wal(self._conn, 10)
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS vault_tokens (tenant TEXT NOT NULL, ticket TEXT NOT NULL,"
                " token TEXT NOT NULL, entity_type TEXT NOT NULL, lookup BLOB NOT NULL,"
                " nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, created_us INTEGER NOT NULL,"
                " expires_us INTEGER NOT NULL, PRIMARY KEY (tenant, ticket, token),"
                " UNIQUE (tenant, ticket, lookup))")
        except (sqlite3.Error, OSError) as exc:
            raise VaultStoreError(f"cannot open vault {self.url}: {exc}") from None

    @contextmanager
    def _cursor(self, write: bool) -> Iterator[Any]:
        with self._lock:
            try:
                cur = self._conn.cursor()
                if write:
                    cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                except BaseException:
                    if write:
                        self._conn.rollback()
                    raise
                if write:
                    cur.execute("COMMIT")
            except sqlite3.Error as exc:
                raise VaultStoreError(f"vault {self.url}: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresVaultStore(VaultStore):
    _p = "%s"

    def __init__(self, conninfo: str, *, schema: str, display: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise VaultStoreError("a postgresql:// vault needs psycopg: "
                                  "pip install 'redactor[postgres]'") from None
        self._psycopg, self._conninfo, self._schema = psycopg, conninfo, schema
        self.url = display
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._cursor(True) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"redactor.vault:{schema}",))
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.vault_tokens (tenant text NOT NULL,"
                " ticket text NOT NULL, token text NOT NULL, entity_type text NOT NULL,"
                " lookup bytea NOT NULL, nonce bytea NOT NULL, ciphertext bytea NOT NULL,"
                " created_us bigint NOT NULL, expires_us bigint NOT NULL,"
                " PRIMARY KEY (tenant, ticket, token), UNIQUE (tenant, ticket, lookup))")

    def _table(self) -> str:
        return f"{self._schema}.vault_tokens"

    @contextmanager
    def _cursor(self, write: bool) -> Iterator[Any]:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._psycopg.connect(self._conninfo, autocommit=True,
                                                       connect_timeout=5)
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except self._psycopg.Error as exc:
                if isinstance(exc, self._psycopg.OperationalError) and self._conn is not None:
                    self._conn.close()
                first = (str(exc).strip().splitlines() or [""])[0]
                raise VaultStoreError(f"vault {self.url}: {type(exc).__name__}: {first}") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def open_vault_store(url: str) -> VaultStore:
    """The vault store at ``url`` (tables are created if missing).

    Raises:
        VaultStoreError: a bad URL, or the database cannot be opened.
    """
    parsed = parse_db_url(url, sqlite_params=frozenset({"synchronous"}), error=VaultStoreError)
    if parsed.kind == "sqlite":
        return SqliteVaultStore(parsed.target, synchronous=parsed.params.get("synchronous", "normal"))
    return PostgresVaultStore(parsed.target, schema=parsed.schema, display=parsed.display)
