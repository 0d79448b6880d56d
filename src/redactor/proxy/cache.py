"""A bounded cache of redacted bodies, keyed by a keyed hash of the raw body.

The key is BLAKE2b keyed with a random per-process secret over (policy hash, role, kind,
charset, body), so the cache holds no raw body and its keys cannot be tested against a
guessed value from outside the process. Values are *redacted* bodies and their counts.
Eviction is least-recently-used by total bytes. Not shared between processes.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict

from .bodies import Counts

__all__ = ["BodyCache"]


class BodyCache:
    """LRU of ``key -> (redacted body, counts)`` holding at most ``max_bytes`` of bodies."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._secret = os.urandom(32)
        self._items: OrderedDict[bytes, tuple[bytes, Counts]] = OrderedDict()
        self._bytes = 0

    def key(self, *parts: str | None, body: bytes) -> bytes:
        h = hashlib.blake2b(key=self._secret, digest_size=32)
        for part in parts:
            h.update((part or "").encode("utf-8") + b"\x00")
        h.update(body)
        return h.digest()

    def get(self, key: bytes) -> tuple[bytes, Counts] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: bytes, body: bytes, counts: Counts) -> None:
        if len(body) > self.max_bytes // 8 or key in self._items:
            return
        self._items[key] = (body, dict(counts))
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, (old, _) = self._items.popitem(last=False)
            self._bytes -= len(old)
