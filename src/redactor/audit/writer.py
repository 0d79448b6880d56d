"""The background writer: one thread per trail, group commit, spool on failure.

Callers put records on a queue and get a :class:`concurrent.futures.Future`. The thread
takes everything queued (up to ``batch_max``) and appends it in one transaction, so many
concurrent requests share one commit. When the store fails:

* fail-closed records (reveals, re-hydrations) get :class:`AuditWriteError`;
* the others are appended to the spool (fsynced) and their futures resolve as spooled.

Durability: a batch holding a fail-closed record, a spool replay and the final checkpoint
commit durably (fsync); batches of views only commit without waiting for the disk unless
``durable_all`` (see :meth:`AuditStore.locked`).

While the spool holds records nothing else is written to the store: the next write first
replays the spool (oldest first), so order is kept. After a failure the store is retried
every ``retry_s`` seconds; meanwhile records go straight to the spool (or fail closed).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

import orjson

from .append import CheckpointPolicy, Pending, Receipt, append_batch
from .chain import Checkpoint
from .errors import AuditStoreError, AuditWriteError
from .record import to_us
from .spool import Spool
from .store.base import AuditStore

__all__ = ["Writer"]

log = logging.getLogger(__name__)

_STOP = object()
REPLAY_CHUNK = 2000


class _Flush:
    def __init__(self) -> None:
        self.future: Future[None] = Future()


class Writer(threading.Thread):
    """Appends queued records to ``store`` (used by this thread only)."""

    def __init__(self, store: AuditStore, *, origin: str, hmac_key: bytes | None,
                 checkpoints: CheckpointPolicy | None, spool: Spool | None,
                 witness_path: Path | None, clock: Callable[[], float],
                 batch_max: int = 512, retry_s: float = 1.0, durable_all: bool = False) -> None:
        super().__init__(name="redactor-audit-writer", daemon=True)
        self._store, self._origin, self._key = store, origin, hmac_key
        self._checkpoints, self._spool, self._witness = checkpoints, spool, witness_path
        self._clock, self._batch_max, self._retry_s = clock, batch_max, retry_s
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._down_until = 0.0
        self._durable_all = durable_all
        self._unsigned = False  # records written since our last checkpoint attempt

    # -- caller side ----------------------------------------------------------------------

    def submit(self, pending: Pending) -> Future[Receipt]:
        future: Future[Receipt] = Future()
        self._queue.put((pending, future))
        return future

    def flush(self) -> Future[None]:
        item = _Flush()
        self._queue.put(item)
        return item.future

    def stop(self) -> None:
        self._queue.put(_STOP)

    # -- thread side ----------------------------------------------------------------------

    def run(self) -> None:
        while True:
            try:
                items = [self._queue.get(timeout=self._wait_s())]
            except queue.Empty:
                self._idle()
                continue
            while len(items) < self._batch_max:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [i for i in items if isinstance(i, tuple)]
            if records or (self._spool is not None and self._spool.pending):
                try:
                    self._write(records)
                except Exception as exc:  # a bug must not leave callers waiting forever
                    log.exception("audit writer failed")
                    for _, f in records:
                        if not f.done():
                            f.set_exception(AuditWriteError(f"audit writer failed: {type(exc).__name__}"))
            for i in items:
                if isinstance(i, _Flush):
                    i.future.set_result(None)
            if any(i is _STOP for i in items):
                self._finish()
                return

    def _wait_s(self) -> float:
        waits = [3600.0]
        if self._checkpoints is not None and self._unsigned:
            waits.append(self._checkpoints.interval_s)
        if self._spool is not None and self._spool.pending:
            waits.append(max(self._down_until - self._clock(), 0.05))
        return max(min(waits), 0.01)

    def _idle(self) -> None:
        try:
            if self._spool is not None and self._spool.pending:
                if self._clock() >= self._down_until:
                    self._write([])
            elif self._unsigned:
                self._append([])
        except AuditStoreError as exc:
            self._down_until = self._clock() + self._retry_s
            log.warning("audit store unavailable: %s", exc)
        except Exception:
            log.exception("audit writer failed while idle")

    def _write(self, records: list[tuple[Pending, Future[Receipt]]]) -> None:
        if self._clock() < self._down_until:
            self._fallback(records, "retrying later")
            return
        try:
            self._replay()
            receipts = self._append([p for p, _ in records])
        except AuditStoreError as exc:
            self._down_until = self._clock() + self._retry_s
            log.warning("audit store unavailable, spooling: %s", exc)
            self._fallback(records, str(exc))
            return
        for (_, future), receipt in zip(records, receipts):
            future.set_result(receipt)

    def _append(self, batch: list[Pending], *, force_checkpoint: bool = False,
                durable: bool = False) -> list[Receipt]:
        durable = durable or self._durable_all or any(p.fail_closed for p in batch)
        receipts, checkpoint = append_batch(
            self._store, batch, origin=self._origin, hmac_key=self._key,
            checkpoints=self._checkpoints, now_us=to_us(self._clock()),
            force_checkpoint=force_checkpoint, durable=durable)
        if checkpoint is not None:
            self._unsigned = False
            self._witness_append(checkpoint)
        elif any(r.sequence is not None for r in receipts):
            self._unsigned = True
        return receipts

    def _replay(self) -> None:
        if self._spool is None or not self._spool.pending:
            return
        pending = [Pending(p, from_spool=True) for p in self._spool.read()]
        for start in range(0, len(pending), REPLAY_CHUNK):
            self._append(pending[start:start + REPLAY_CHUNK], durable=True)  # before clearing
        self._spool.clear()
        log.info("audit spool replayed: %d record(s)", len(pending))

    def _fallback(self, records: list[tuple[Pending, Future[Receipt]]], why: str) -> None:
        spoolable = [(p, f) for p, f in records if not p.fail_closed]
        for p, f in records:
            if p.fail_closed:
                f.set_exception(AuditWriteError(f"audit store unavailable ({why}); "
                                                "the action must not proceed"))
        if not spoolable:
            return
        if self._spool is None:
            for _, f in spoolable:
                f.set_exception(AuditWriteError(f"audit store unavailable ({why}) and no spool"))
            return
        try:
            self._spool.append([p.partial for p, _ in spoolable])
        except OSError as exc:
            for _, f in spoolable:
                f.set_exception(AuditWriteError(f"audit store unavailable and the spool "
                                                f"failed: {exc.strerror}"))
            return
        for _, f in spoolable:
            f.set_result(Receipt(None, None, spooled=True))

    def _witness_append(self, cp: Checkpoint) -> None:
        if self._witness is None:
            return
        line = orjson.dumps({"seq": cp.sequence, "head": cp.head.hex(), "ts": cp.ts,
                             "origin": cp.origin, "key_id": cp.key_id,
                             "signature": cp.signature.hex()}) + b"\n"
        try:
            with open(self._witness, "ab") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            log.warning("cannot append checkpoint to witness file %s: %s", self._witness, exc.strerror)

    def _finish(self) -> None:
        try:
            if self._spool is not None and self._spool.pending:
                self._replay()
            if self._checkpoints is not None:
                self._append([], force_checkpoint=True, durable=True)
        except AuditStoreError as exc:
            log.warning("audit store unavailable at shutdown: %s", exc)
        finally:
            self._store.close()
