"""AuditTrail: the one object a proxy (or any caller) uses to write the audit trail.

>>> trail = AuditTrail.open("sqlite:///var/lib/redactor/audit.db",
...                         hmac_key_file="keys/audit-hmac.key",
...                         signing_key_file="keys/audit-signing.pem",
...                         spool_path="/var/lib/redactor/audit.spool")   # doctest: +SKIP
>>> trail.record_view(actor="agent-7", role="agent", method="GET", path="/api/tickets/42",
...                   ticket_id="42", entities={"EMAIL_ADDRESS": 2}, policy_hash=p.hash)
...                                                                    # doctest: +SKIP

Writes go through a background thread (group commit). ``record_view``, ``record_anomaly``,
``record_policy_load`` and ``record_lifecycle`` return a
:class:`~concurrent.futures.Future` at once (about 20 µs): a proxy may answer without
waiting, or ``await trail.arecord(event)`` to answer only once the record is committed
(about 0.1-0.6 ms, see ``benchmarks/audit_append.py``). View batches commit without an
fsync; if the store is down they go to the spool. Reveals and re-hydrations *block*
until the record is committed durably (fsync) and raise
:class:`~redactor.audit.errors.AuditWriteError` otherwise: the caller must then not
reveal, or not forward. Denied reveals are recorded like views (nothing was revealed).

What can still be lost: records submitted but not yet committed when the process is
killed (not on ``close()``, which drains the queue), and on a power cut, view batches of
the last moments (unless ``durable_views=True``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .append import CheckpointPolicy, Pending, Receipt
from .errors import AuditError, AuditWriteError
from .keys import load_hmac_key, load_private_key
from .record import Action, AuditEvent, DetailValue, Outcome, Resource, to_us, ts_to_us
from .spool import Spool
from .store import AuditStore, open_store
from .writer import Writer

__all__ = ["AuditTrail", "ViewFact"]

log = logging.getLogger(__name__)
StoreSource = str | Callable[[], AuditStore]


@dataclass(frozen=True, slots=True)
class ViewFact:
    """An agent's latest view of a ticket: when (epoch seconds) and the ticket's state then
    (``assigned`` to that agent, ``closed``; ``None`` when the policy names no field)."""

    at: float
    assigned: bool | None
    closed: bool | None


class AuditTrail:
    """Append-only, hash-chained audit trail over one store.

    Args:
        store: a store URL (``sqlite:///path``, ``postgresql://...``) or a factory that
            returns a new :class:`AuditStore` (called twice: writer and lookups).
        hmac_key: HMAC-SHA256 key (>= 32 bytes) sealing each record; ``None``: no HMAC.
        signing_key: Ed25519 key signing checkpoints; ``None``: no checkpoints.
        checkpoint_every: sign the head at least every this many records.
        checkpoint_interval_s: ... and at least every this many seconds while writing.
        spool_path: file for records the store could not take (one per process);
            ``None``: no spool, a failed write raises from the future instead.
        witness_path: a file that also receives every signed checkpoint (JSON Lines), to
            keep outside the store's reach; pass it to :func:`verify` as ``witness``.
        correlation_key: key for :meth:`correlation_id` (keyed hashes of values).
        scrub: redacts free text (a reveal's reason) before it is stored; without it
            only the reason's length is recorded.
        clock: seconds since the epoch; injectable for tests.
        batch_max: most records per transaction.
        retry_s: seconds between attempts while the store is down.
        durable_views: commit every batch durably (fsync), not only those with a reveal
            or re-hydration; slower, and safe against a power cut as well.

    Raises:
        AuditStoreError: the store cannot be opened or created, or the spool is taken.
    """

    def __init__(self, store: StoreSource, *, hmac_key: bytes | None = None,
                 signing_key: Ed25519PrivateKey | None = None, checkpoint_every: int = 1000,
                 checkpoint_interval_s: float = 60.0, spool_path: str | os.PathLike[str] | None = None,
                 witness_path: str | os.PathLike[str] | None = None,
                 correlation_key: bytes | None = None, scrub: Callable[[str], str] | None = None,
                 clock: Callable[[], float] = time.time, batch_max: int = 512,
                 retry_s: float = 1.0, durable_views: bool = False) -> None:
        factory: Callable[[], AuditStore] = (lambda: open_store(store)) if isinstance(store, str) \
            else store
        writer_store = factory()
        self.url = writer_store.url
        try:
            origin = writer_store.create()
            self._lookup_store = factory()
            self._spool = Spool(spool_path) if spool_path is not None else None
        except BaseException:
            writer_store.close()
            if hasattr(self, "_lookup_store"):
                self._lookup_store.close()
            raise
        self._lookup_lock = threading.Lock()
        checkpoints = None if signing_key is None else CheckpointPolicy(
            signing_key, max(1, checkpoint_every), checkpoint_interval_s)
        self._writer = Writer(writer_store, origin=origin, hmac_key=hmac_key,
                              checkpoints=checkpoints, spool=self._spool,
                              witness_path=None if witness_path is None else Path(witness_path),
                              clock=clock, batch_max=batch_max, retry_s=retry_s,
                              durable_all=durable_views)
        self._clock, self._scrub, self._corr = clock, scrub, correlation_key
        self._views: OrderedDict[tuple[str, str], ViewFact] = OrderedDict()
        self._views_lock = threading.Lock()
        self._closed = False
        self._writer.start()

    @classmethod
    def open(cls, url: str, *, hmac_key_file: str | os.PathLike[str] | None = None,
             signing_key_file: str | os.PathLike[str] | None = None,
             **kwargs: object) -> AuditTrail:
        """:class:`AuditTrail` with keys read from files (see :mod:`redactor.audit.keys`).

        Raises:
            AuditKeyError: a key file is missing or malformed.
            AuditStoreError: as the constructor.
        """
        hmac_key = None if hmac_key_file is None else load_hmac_key(hmac_key_file)
        signing = None if signing_key_file is None else load_private_key(signing_key_file)
        return cls(url, hmac_key=hmac_key, signing_key=signing, **kwargs)  # type: ignore[arg-type]

    # -- generic --------------------------------------------------------------------------

    def submit(self, event: AuditEvent) -> Future[Receipt]:
        """Queue ``event``; the future gives its :class:`Receipt` or an AuditWriteError."""
        if self._closed:
            raise AuditWriteError("the audit trail is closed")
        at = self._clock() if event.at is None else event.at
        ts_us = to_us(at)
        pending = Pending(event.partial(ts_us), fail_closed=event.action.fail_closed, ts_us=ts_us)
        if event.action is Action.VIEW and event.actor and event.resource.ticket_id:
            self._remember_view(event, at)
        return self._writer.submit(pending)

    def record(self, event: AuditEvent, *, timeout_s: float = 5.0) -> Receipt:
        """Write ``event`` and wait until it is committed (or spooled).

        Raises:
            AuditWriteError: not written within ``timeout_s`` seconds, or it failed.
        """
        try:
            return self.submit(event).result(timeout=timeout_s)
        except FutureTimeout:
            raise AuditWriteError(f"audit write not confirmed within {timeout_s:g} s") from None

    async def arecord(self, event: AuditEvent, *, timeout_s: float = 5.0) -> Receipt:
        """:meth:`record` for asyncio code: awaits without blocking the event loop."""
        try:
            return await asyncio.wait_for(asyncio.wrap_future(self.submit(event)), timeout_s)
        except asyncio.TimeoutError:
            raise AuditWriteError(f"audit write not confirmed within {timeout_s:g} s") from None

    # -- the actions ----------------------------------------------------------------------

    def record_view(self, *, actor: str, role: str | None, method: str, path: str,
                    ticket_id: str | None, entities: Mapping[str, int], policy_hash: str | None,
                    request_id: str | None = None, outcome: Outcome = Outcome.OK,
                    assigned: bool | None = None, closed: bool | None = None,
                    at: float | None = None) -> Future[Receipt]:
        """A redacted response was sent. ``assigned``/``closed``: the ticket's state then."""
        return self.submit(AuditEvent(
            action=Action.VIEW, actor=actor, role=role, resource=Resource(method, path, ticket_id),
            entities=entities, policy_hash=policy_hash, request_id=request_id, outcome=outcome,
            detail={"assigned": assigned, "closed": closed}, at=at))

    def record_reveal(self, *, actor: str, role: str | None, ticket_id: str, token: str,
                      entity_type: str | None, reason: str, allowed: bool, rule: str | None = None,
                      policy_hash: str | None = None, request_id: str | None = None,
                      method: str = "POST", path: str = "/_redactor/reveal",
                      timeout_s: float = 5.0) -> Receipt:
        """A reveal was allowed (``rule=None``) or denied (``rule`` names why).

        Blocks until committed. Raises :class:`AuditWriteError` if an *allowed* reveal
        cannot be recorded: the value must then not be returned.
        """
        detail: dict[str, DetailValue] = {"token": token[:80], "entity_type": entity_type,
                                          "rule": rule, "reason_chars": len(reason.strip())}
        if self._scrub is not None:
            detail["reason"] = self._scrub(reason)[:500]
        event = AuditEvent(action=Action.REVEAL if allowed else Action.REVEAL_DENIED,
                           actor=actor, role=role, resource=Resource(method, path, ticket_id),
                           entities={entity_type: 1} if allowed and entity_type else {},
                           policy_hash=policy_hash, request_id=request_id,
                           outcome=Outcome.OK if allowed else Outcome.DENIED, detail=detail)
        return self.record(event, timeout_s=timeout_s)

    def record_rehydration(self, *, actor: str, role: str | None, method: str, path: str,
                           ticket_id: str | None, entities: Mapping[str, int],
                           unresolved: int = 0, policy_hash: str | None = None,
                           request_id: str | None = None, timeout_s: float = 5.0) -> Receipt:
        """Tokens in a request were replaced by their values (``entities``: counts by type).

        Blocks until committed. Raises :class:`AuditWriteError`: do not forward then.
        """
        return self.record(AuditEvent(
            action=Action.REHYDRATE, actor=actor, role=role,
            resource=Resource(method, path, ticket_id), entities=entities,
            policy_hash=policy_hash, request_id=request_id,
            detail={"unresolved": unresolved}), timeout_s=timeout_s)

    def record_anomaly(self, *, kind: str, actor: str, role: str | None, ticket_id: str | None,
                       detail: Mapping[str, DetailValue] | None = None, blocked: bool = False,
                       method: str | None = None, path: str | None = None,
                       request_id: str | None = None, policy_hash: str | None = None) -> Future[Receipt]:
        """An access-anomaly flag (``kind``, e.g. ``"volume"``) with numeric ``detail``."""
        return self.submit(AuditEvent(
            action=Action.ANOMALY, actor=actor, role=role,
            resource=Resource(method, path, ticket_id), policy_hash=policy_hash,
            request_id=request_id, outcome=Outcome.BLOCKED if blocked else Outcome.FLAGGED,
            detail={"kind": kind, **(detail or {})}))

    def record_policy_load(self, *, policy_hash: str, name: str | None = None) -> Future[Receipt]:
        return self.submit(AuditEvent(action=Action.POLICY_LOAD, policy_hash=policy_hash,
                                      detail={"name": name}))

    def record_lifecycle(self, action: Action, **detail: DetailValue) -> Future[Receipt]:
        """``Action.START`` or ``Action.STOP`` of the proxy, with small facts (version...)."""
        if action not in (Action.START, Action.STOP):
            raise ValueError("record_lifecycle takes Action.START or Action.STOP")
        return self.submit(AuditEvent(action=action, detail=detail))

    # -- lookups and helpers --------------------------------------------------------------

    def correlation_id(self, value: str) -> str:
        """Keyed hash of ``value`` (HMAC-SHA256, 32 hex digits) to correlate without storing it.

        Raises:
            AuditError: no ``correlation_key`` was configured.
        """
        if self._corr is None:
            raise AuditError("correlation_id needs AuditTrail(correlation_key=...)")
        return hmac.new(self._corr, value.encode(), hashlib.sha256).hexdigest()[:32]

    def last_view(self, *, actor: str, ticket_id: str) -> ViewFact | None:
        """``actor``'s newest view of ``ticket_id`` (this process or, through the store, any).

        Raises:
            AuditStoreError: the store cannot be read (callers deciding a reveal: deny).
        """
        with self._views_lock:
            local = self._views.get((actor, ticket_id))
        with self._lookup_lock:
            with self._lookup_store.snapshot() as snap:
                body = snap.last_body(actor=actor, ticket_id=ticket_id, action=Action.VIEW.value)
        stored = None if body is None else _view_fact(body)
        if local is None or (stored is not None and stored.at > local.at):
            return stored
        return local

    def _remember_view(self, event: AuditEvent, at: float) -> None:
        key = (event.actor or "", event.resource.ticket_id or "")
        fact = ViewFact(at, _opt_bool(event.detail.get("assigned")),
                        _opt_bool(event.detail.get("closed")))
        with self._views_lock:
            self._views[key] = fact
            self._views.move_to_end(key)
            while len(self._views) > 10_000:
                self._views.popitem(last=False)

    def flush(self, *, timeout_s: float = 10.0) -> None:
        """Wait until everything submitted so far is written or spooled."""
        self._writer.flush().result(timeout=timeout_s)

    def close(self, *, timeout_s: float = 10.0) -> None:
        """Write what is queued, sign a final checkpoint, release the store and spool."""
        if self._closed:
            return
        self._closed = True
        self._writer.stop()
        self._writer.join(timeout_s)
        if self._writer.is_alive():  # still writing: leave it the spool, say so
            log.warning("audit writer did not finish within %g s; records may remain queued",
                        timeout_s)
        elif self._spool is not None:
            self._spool.close()
        with self._lookup_lock:
            self._lookup_store.close()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _opt_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _view_fact(body: bytes) -> ViewFact | None:
    try:
        record = orjson.loads(body)
        detail = record.get("detail") or {}
        return ViewFact(ts_to_us(record["ts"]) / 1_000_000, _opt_bool(detail.get("assigned")),
                        _opt_bool(detail.get("closed")))
    except (orjson.JSONDecodeError, KeyError, ValueError, AttributeError):
        log.warning("unreadable view record in the audit store")
        return None
