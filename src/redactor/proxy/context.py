"""Per-request state and the extension points other parts plug into.

:class:`RequestContext` is created by the first middleware for every request and stored
under :data:`CONTEXT` in the request; it carries the request id, the agent (id, role),
the ticket id and what happened (timings, counts by entity type, status). It never holds a
raw value from a body, and its :meth:`RequestContext.log_fields` are safe to log.

Hooks (lists of async callables stored in the app; see :mod:`.app`):

* ``REQUEST_HOOKS``: ``await hook(ctx, request)`` before the request goes upstream; raise
  an ``aiohttp.web.HTTPException`` to refuse it (e.g. an access-anomaly block).
* ``REQUEST_BODY_HOOKS``: ``body = await hook(ctx, request, body)`` may rewrite the request
  body (``bytes`` or ``None``) before it goes upstream (e.g. re-hydrating vault tokens).
* ``RESPONSE_HOOKS``: ``await hook(ctx, response)`` after a body was redacted and before it
  is sent (for streams: when the stream ends); an exception fails the request closed
  (502, the body is not sent) unless the stream had already started.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from aiohttp import web

    from .codecs import BodyKind

__all__ = ["RedactedResponse", "RequestBodyHook", "RequestContext", "RequestHook", "ResponseHook",
           "new_request_id", "path_template"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_WORD = re.compile(r"^(?:[a-z][a-z_]{0,31}|v\d{1,3})$")
_EXTENSIONS = frozenset({"json", "xml", "csv", "ndjson", "jsonl", "html", "txt"})


@lru_cache(maxsize=1)
def _first_names() -> frozenset[str]:
    """The first-name gazetteer of the recognizer packs (empty if it cannot be read)."""
    try:
        from ..packs import packs_dir

        text = (packs_dir() / "data" / "first_names.txt").read_text("utf-8")
    except (OSError, ImportError):
        return frozenset()
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def _safe_segment(segment: str) -> str:
    word, dot, extension = segment.partition(".")
    if dot and extension not in _EXTENSIONS:
        return "{id}"
    if not _WORD.match(word) or any(part in _first_names() for part in word.split("_")):
        return "{id}"
    return segment


@lru_cache(maxsize=4096)
def _template(path: str) -> str:
    return "/".join(s and _safe_segment(s) for s in path.split("/"))


_OWN_ENDPOINTS = frozenset({"/_redactor/reveal"})


def path_template(path: str) -> str:
    """A loggable form of ``path``: only plain lower-case API words are kept.

    ``/api/v2/tickets/123/comments.json`` -> ``/api/v2/tickets/{id}/comments.json``. A
    segment with a digit, a capital, ``-``, ``@``, ``%``, a dot that is not a known API
    extension, or a first name (``/users/maria``) becomes ``{id}``; the query is dropped.
    A heuristic: a bare surname or handle in a path (``/users/gonzalez``) is not caught.
    """
    return _template(path.split("?", 1)[0])


def new_request_id(incoming: str | None = None) -> str:
    """The incoming id when it is a plain token (8-64 of ``[A-Za-z0-9._-]``), else a new one."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


@dataclass(slots=True)
class RequestContext:
    """What the proxy knows about one request; safe to log through :meth:`log_fields`."""

    request_id: str
    method: str
    path: str
    agent_id: str | None = None
    role: str | None = None
    ticket_id: str | None = None
    policy_hash: str | None = None
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None
    kind: str | None = None  # "json", "html", ..., "passthrough", "refused", "reserved"
    upstream_s: float | None = None
    redaction_s: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    cache_hit: bool = False
    fail_reason: str | None = None
    bytes_upstream: int = 0
    bytes_client: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # for hooks; not logged

    @property
    def route(self) -> str:
        if self.path in _OWN_ENDPOINTS:  # the proxy's own, fixed paths: nothing to hide
            return self.path
        return path_template(self.path)

    def add_counts(self, counts: dict[str, int]) -> None:
        for k, v in counts.items():
            self.counts[k] = self.counts.get(k, 0) + v

    def log_fields(self) -> dict[str, Any]:
        """The structured log record: ids, route template, status, timings in ms, counts."""
        return {
            "request_id": self.request_id, "method": self.method, "route": self.route,
            "status": self.status, "kind": self.kind, "agent_id": self.agent_id,
            "role": self.role, "total_ms": _ms(time.perf_counter() - self.started),
            "upstream_ms": _ms(self.upstream_s), "redaction_ms": _ms(self.redaction_s),
            "counts": dict(sorted(self.counts.items())), "cache_hit": self.cache_hit,
            "fail_reason": self.fail_reason, "bytes_upstream": self.bytes_upstream,
            "bytes_client": self.bytes_client,
        }


@dataclass(frozen=True, slots=True)
class RedactedResponse:
    """What a response hook sees: the status, kind, redacted (decoded) ``body`` and counts.

    ``body`` is ``None`` for streamed kinds (NDJSON, SSE); their counts are the stream's sum.
    """

    status: int
    kind: BodyKind
    content_type: str
    body: bytes | None
    counts: dict[str, int]


RequestHook = Callable[[RequestContext, "web.Request"], Awaitable[None]]
RequestBodyHook = Callable[[RequestContext, "web.Request", bytes | None], Awaitable[bytes | None]]
ResponseHook = Callable[[RequestContext, RedactedResponse], Awaitable[None]]
