"""A bounded cache of analysis results, keyed by a keyed hash of the text.

A ticket opened again, or the same signature block in every comment, is analysed once.

* **Key**: HMAC-SHA256 (RFC 2104) over ``scope || text`` (UTF-8), with a random 32-byte key
  drawn once per cache (so per process). ``scope`` is the policy hash and the entity types
  asked for. The cache holds no raw text, and its keys cannot be tested against a guessed
  value from outside the process.
* **Value**: the findings of the text, a tuple of :class:`~redactor.findings.Finding`
  (entity type, offsets into the text, score, recognizer, explanation), never the text
  and never the values found. Findings are immutable, so hits share them.
* **Bound**: at most ``max_entries`` entries, least-recently-used evicted first.

Not shared between processes (each worker process has its own, or none).
"""

from __future__ import annotations

import hmac
import os
import threading
from collections import OrderedDict
from typing import Any

from .findings import Finding

_OPENSSL_HMAC: Any
try:  # OpenSSL's HMAC object: copy / update / digest without hmac.HMAC's Python wrapper
    import _hashlib

    _OPENSSL_HMAC = _hashlib.hmac_new
except ImportError:  # pragma: no cover - CPython built without OpenSSL
    _OPENSSL_HMAC = None

__all__ = ["AnalysisCache", "PayloadCache"]


def _keyed_hmac() -> Any:
    """HMAC-SHA256 state with a fresh random 32-byte key absorbed; ``.copy()`` it per key."""
    secret = os.urandom(32)
    return (_OPENSSL_HMAC(secret, digestmod="sha256") if _OPENSSL_HMAC is not None
            else hmac.new(secret, digestmod="sha256"))


class AnalysisCache:
    """LRU of ``HMAC-SHA256(key, scope || text) -> findings``, at most ``max_entries`` entries.

    Args:
        max_entries: number of texts remembered; must be > 0 (a ``Redactor`` built with
            ``cache_size=0`` has no cache at all).

    Raises:
        ValueError: ``max_entries`` < 1.

    Thread-safe; ``hits`` and ``misses`` count lookups since creation.
    """

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        # HMAC state with the key already absorbed; copying it skips the key set-up per text.
        self._hmac: Any = _keyed_hmac()
        self._items: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def key(self, scope: bytes, text: str) -> bytes:
        """The cache key of ``text`` analysed in ``scope`` (32 bytes)."""
        h = self._hmac.copy()
        h.update(scope)
        # surrogatepass: a lone surrogate in the text must not make hashing fail.
        h.update(text.encode("utf-8", "surrogatepass"))
        digest: bytes = h.digest()
        return digest

    def get(self, key: bytes) -> tuple[Finding, ...] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: bytes, findings: tuple[Finding, ...]) -> None:
        with self._lock:
            self._items[key] = findings
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class PayloadCache:
    """LRU of ``HMAC-SHA256(key, scope || JSON bytes) -> redacted JSON bytes and counts``.

    The JSON-payload twin of :class:`AnalysisCache`, for :meth:`Redactor.redact_json`: a
    payload seen again is answered without walking it. The key is a keyed hash of the
    payload's canonical bytes (``orjson.dumps``), so the cache holds no raw payload; the
    value is the *redacted* payload (what the caller already received) and its counts.
    Bounded by ``max_entries`` entries and ``max_bytes`` of redacted bytes in all (bytes);
    least-recently-used evicted first. Thread-safe.

    Raises:
        ValueError: ``max_entries`` < 1 or ``max_bytes`` < 1.
    """

    def __init__(self, max_entries: int, max_bytes: int = 32 * 1024 * 1024) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be at least 1")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._hmac: Any = _keyed_hmac()
        self._items: OrderedDict[bytes, tuple[bytes, tuple[tuple[str, int], ...]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def key(self, scope: bytes, payload: bytes) -> bytes:
        h = self._hmac.copy()
        h.update(scope)
        h.update(payload)
        digest: bytes = h.digest()
        return digest

    def get(self, key: bytes) -> tuple[bytes, tuple[tuple[str, int], ...]] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: bytes, redacted: bytes, counts: tuple[tuple[str, int], ...]) -> None:
        if len(redacted) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0])
            self._items[key] = (redacted, counts)
            self._bytes += len(redacted)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, (gone, _) = self._items.popitem(last=False)
                self._bytes -= len(gone)

    def __len__(self) -> int:
        return len(self._items)
