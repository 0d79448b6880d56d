"""Fixtures for the audit trail, vault and governance tests: both stores, keys, a clock.

PostgreSQL tests use the server at ``REDACTOR_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``), a fresh schema per test, dropped after.
They are skipped when the server is unreachable, except in CI (``CI=true``) or with
``REDACTOR_REQUIRE_PG=1``, where that is a failure.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .doubles import PG_URL, Clock, need_pg  # noqa: F401  (PG_URL, Clock: re-exported to the tests)

@pytest.fixture
def pg_schema() -> Iterator[str]:
    need_pg()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield schema
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Raw:
    """Raw SQL on a store's tables, to play the attacker. ``{records}``, ``{checkpoints}``
    name the tables; ``?`` is the placeholder on both databases."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:"):
            self.kind, self._prefix = "sqlite", ""
            self._conn: Any = sqlite3.connect(url[len("sqlite://"):], isolation_level=None)
        else:
            import psycopg

            self.kind = "postgresql"
            self._prefix = url.rsplit("schema=", 1)[1] + "."
            self._conn = psycopg.connect(PG_URL, autocommit=True)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        statement = statement.format(records=f"{self._prefix}audit_records",
                                     checkpoints=f"{self._prefix}audit_checkpoints",
                                     meta=f"{self._prefix}audit_meta")
        if self.kind == "postgresql":
            statement = statement.replace("?", "%s")
        cur = self._conn.execute(statement, params)
        try:
            return [tuple(bytes(c) if isinstance(c, memoryview) else c for c in r)
                    for r in cur.fetchall()]
        except Exception:
            return []

    def close(self) -> None:
        self._conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/audit.db"
    else:
        schema = request.getfixturevalue("pg_schema")
        yield f"{PG_URL}?schema={schema}"


@pytest.fixture
def raw(store_url: str) -> Iterator[Raw]:
    r = Raw(store_url)
    yield r
    r.close()


@pytest.fixture(scope="session")
def hmac_key() -> bytes:
    return bytes(range(32))


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()
