"""The local spool: records that could not reach the store wait here, in order.

One JSON object per line: a record's fields without ``seq`` and ``prev`` (those are given
when it finally joins the chain), so it holds exactly what the store would, no raw value.
Each append is flushed and fsynced before the caller is told the record is safe. One
process owns a spool file at a time (an exclusive ``flock``); replay is idempotent because
records keep their ``id`` and ids already in the store are skipped.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from .errors import AuditStoreError

__all__ = ["Spool"]

log = logging.getLogger(__name__)


class Spool:
    """An append-only file of pending records at ``path`` (created if missing).

    Raises:
        AuditStoreError: the file cannot be opened, or another process holds it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise AuditStoreError(f"cannot open audit spool {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise AuditStoreError(f"audit spool {self.path} is in use by another process; "
                                  "give each process its own spool file") from None
        self._fd = fd

    def __len__(self) -> int:
        return len(self.read()) if os.fstat(self._fd).st_size else 0

    @property
    def pending(self) -> bool:
        return os.fstat(self._fd).st_size > 0

    def append(self, partials: list[dict[str, Any]]) -> None:
        """Append records and fsync. Raises ``OSError`` when the disk refuses."""
        data = b"".join(orjson.dumps(p) + b"\n" for p in partials)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def read(self) -> list[dict[str, Any]]:
        """The spooled records in order; a torn or unreadable line is skipped and logged."""
        os.lseek(self._fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self._fd, 1 << 20):
            chunks.append(chunk)
        out, bad = [], 0
        for line in b"".join(chunks).splitlines():
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                bad += 1
                continue
            if isinstance(item, dict) and "id" in item and "ts" in item:
                out.append(item)
            else:
                bad += 1
        if bad:
            log.warning("audit spool %s: skipped %d unreadable line(s)", self.path, bad)
        return out

    def clear(self) -> None:
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
