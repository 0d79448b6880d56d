"""Test doubles shared by the governance and proxy tests: a settable clock, a store that
can be switched off, and the PostgreSQL gate.

PostgreSQL tests use the server at ``REDACTOR_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Without a reachable server they are skipped
on a developer's machine, and fail under ``make test`` / CI (``REDACTOR_REQUIRE_PG=1`` or
``CI=true``), so CI never passes by skipping them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import pytest

from redactor.audit import AuditStore, AuditStoreError, open_store
from redactor.audit.store import Transaction

PG_URL = os.environ.get("REDACTOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_pg_ok: bool | None = None


def pg_available() -> bool:
    global _pg_ok
    if _pg_ok is None:
        try:
            import psycopg

            psycopg.connect(PG_URL, connect_timeout=2).close()
            _pg_ok = True
        except Exception:
            _pg_ok = False
    return _pg_ok


def need_pg() -> None:
    if not pg_available():
        if os.environ.get("REDACTOR_REQUIRE_PG") == "1" or os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is required here (CI or REDACTOR_REQUIRE_PG=1)")
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: start it or set REDACTOR_TEST_PG "
                    "(make test and CI fail here instead of skipping)")


class Clock:
    """A settable clock: seconds since the epoch; ``tick`` advances it."""

    def __init__(self, now: float = 1_780_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class Switch:
    down = False


class FlakyStore(AuditStore):
    """A real store whose appends fail while ``switch.down`` is set."""

    def __init__(self, url: str, switch: Switch) -> None:
        self._inner, self._switch = open_store(url), switch
        self.url = self._inner.url

    def create(self) -> str:
        return self._inner.create()

    @contextmanager
    def locked(self, *, durable: bool = True) -> Iterator[Transaction]:
        if self._switch.down:
            raise AuditStoreError("store down (test)")
        with self._inner.locked(durable=durable) as txn:
            yield txn

    def snapshot(self):  # type: ignore[no-untyped-def]
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()
