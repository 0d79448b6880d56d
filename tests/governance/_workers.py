"""Process entry points for the multi-process tests (importable under 'spawn')."""

from __future__ import annotations

from typing import Any


def append_many(url: str, actor: str, n: int, hmac_key: bytes, signing_raw: bytes,
                start: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from redactor.audit import Action, AuditEvent, AuditTrail, Resource

    key = Ed25519PrivateKey.from_private_bytes(signing_raw)
    with AuditTrail(url, hmac_key=hmac_key, signing_key=key, checkpoint_every=40) as trail:
        start.wait(60)  # a Barrier: both writers begin together
        futures = []
        for i in range(n):
            event = AuditEvent(action=Action.VIEW, actor=actor, role="agent",
                               resource=Resource("GET", f"/t/{i}", str(i)), entities={"PERSON": 1})
            if i == 0:
                # Both first records are committed before either writer goes on, so the
                # chain interleaves the writers (X, Y, ..., X) however the OS schedules them.
                trail.record(event)
                start.wait(60)
            elif i % 7 == 0:
                trail.record(event)  # some single-record transactions, some batches
            else:
                futures.append(trail.submit(event))
        for f in futures:
            f.result(30)


def open_store(path: str, start: Any, results: Any) -> None:
    """Create (open) the SQLite audit store at ``path`` as soon as every opener is ready."""
    from redactor.audit.store.sqlite import SqliteStore

    start.wait(30)
    try:
        store = SqliteStore(path)
        store.create()
        store.close()
        results.put("ok")
    except Exception as exc:  # reported to the test, which names the type
        results.put(type(exc).__name__)
