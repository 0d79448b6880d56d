"""SQLite's write-ahead log, switched on safely when several processes open one file."""

from __future__ import annotations

import sqlite3
import time

__all__ = ["enable_wal"]


def enable_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Put the database of ``conn`` in WAL mode (kept in the file: later opens only read it).

    Switching the mode needs the database to itself, and SQLite can answer "database is
    locked" at once, without waiting out the busy timeout, while another process opens or
    writes the same file (proxy workers opening one audit store or vault at start-up). So
    the switch is retried for up to ``timeout_s`` seconds.

    Raises:
        sqlite3.OperationalError: still locked after ``timeout_s`` seconds, or any other
            error of the switch.
    """
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)
