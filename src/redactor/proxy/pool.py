"""Redaction off the event loop: a pool of worker processes, each with the policy loaded once.

Workers are forked from a ``forkserver`` that loaded the policy's engine once
(:mod:`._preload`: spaCy, the packs, a warm-up), so a worker, or its replacement after a
crash, starts in milliseconds and shares the model's memory copy-on-write. Each worker
says ``ready`` with its policy hash, then answers jobs over a pipe. The event loop hands a job to a helper thread, which waits for an idle
worker, sends the job and waits for the answer:

* a worker that dies mid-job gives :class:`WorkerCrashed`; one that runs past
  ``timeout_s`` is killed and gives :class:`WorkerTimeout`. Either way the worker is
  replaced in the background and the other workers keep serving;
* no idle worker within ``wait_s`` gives :class:`Overloaded`.

:class:`WorkerPool` is independent of any event loop (tests share one across tests).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import DetectionTimeout
from ..policy import Policy, load_policy
from .bodies import Counts, RedactorSet, redact_body, redact_units
from .codecs import BodyKind
from .errors import (Overloaded, PoolClosed, ProxyError, RedactionFailed,
                     WorkerCrashed, WorkerTimeout)
from .vaulting import VaultSpec

if TYPE_CHECKING:
    from ..operators.base import TokenIssuer

__all__ = ["Job", "JobResult", "WorkerPool", "run_job"]

log = logging.getLogger(__name__)

# Fault markers, honoured only by pools built with ``fault_markers=True`` (tests).
_PRELOAD_ENV = "REDACTOR_PROXY_PRELOAD"
CRASH_MARKER = b"__redactor_test_crash__"
HANG_MARKER = b"__redactor_test_hang__"
SLEEP_MARKER = b"__redactor_test_sleep__"  # 0.5 s, then redact as usual


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of redaction: a whole body (``data``) or NDJSON / SSE ``units``.

    ``scope``: (tenant, ticket) the job's vault tokens are issued in; set by the runner
    when the policy issues vault tokens.
    """

    kind: BodyKind
    role: str | None
    data: bytes = b""
    units: tuple[bytes, ...] = ()
    charset: str = "utf-8"
    scope: tuple[str, str] | None = None

    @property
    def size(self) -> int:
        """Bytes of input (for inline-vs-worker decisions)."""
        return len(self.data) + sum(len(u) for u in self.units)


@dataclass(frozen=True, slots=True)
class JobResult:
    """Redacted ``data`` (or ``units``), ``counts`` by entity type, CPU ``seconds`` spent."""

    data: bytes = b""
    units: tuple[bytes, ...] = ()
    counts: Counts = field(default_factory=dict)
    seconds: float = 0.0


def run_job(redactors: RedactorSet, job: Job, vault: TokenIssuer | None = None) -> JobResult:
    """Run ``job`` here and now (inline or inside a worker). Raises as :func:`redact_body`;
    a vault-token policy without ``vault`` or ``job.scope`` raises ``OperatorError``."""
    from ..operators import OperationContext

    started = time.perf_counter()
    redactor = redactors.for_role(job.role)
    ctx = None
    if vault is not None and job.scope is not None:
        from ..vault import TokenScope

        ctx = OperationContext(vault=vault, scope=TokenScope(*job.scope))
    if job.kind.streamed:
        units, counts = redact_units(redactor, job.kind, list(job.units), ctx)
        return JobResult(units=tuple(units), counts=counts, seconds=time.perf_counter() - started)
    data, counts = redact_body(redactor, job.kind, job.data, job.charset, ctx)
    return JobResult(data=data, counts=counts, seconds=time.perf_counter() - started)


def _check_faults(job: Job) -> None:
    blob = job.data + b"".join(job.units)
    if CRASH_MARKER in blob:
        os._exit(3)
    if HANG_MARKER in blob:
        time.sleep(3600)
    if SLEEP_MARKER in blob:
        time.sleep(0.5)


def _worker_main(conn: Connection, policy_data: dict[str, Any], fault_markers: bool,
                 vault_spec: VaultSpec | None = None) -> None:
    """Entry point of a worker process (forked from the pool's fork server)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one core per worker: the pool is the parallelism
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    try:
        from . import _preload

        policy = load_policy(policy_data)
        redactors = _preload.PRELOADED
        if redactors is None or redactors.policy.hash != policy.hash:
            redactors = RedactorSet(policy)
            try:
                redactors.for_role(None).analyze(_preload.WARM_UP)
            except DetectionTimeout:
                pass  # the warm-up only fills caches; a tight detection budget may stop it
        vault = vault_spec.open() if vault_spec is not None else None  # this process's own store
    except Exception as exc:  # reported to the parent, which fails its start
        conn.send(("failed", type(exc).__name__, str(exc)))
        return
    conn.send(("ready", policy.hash, os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if fault_markers:
            _check_faults(job)
        try:
            conn.send(("ok", run_job(redactors, job, vault)))
        except DetectionTimeout as exc:
            conn.send(("error", "detection_timeout", str(exc)))
        except RedactionFailed as exc:
            conn.send(("error", "redaction_failed", str(exc)))
        except Exception as exc:  # never the message: it might quote input
            conn.send(("error", "redaction_failed", type(exc).__name__))


_preload_lock = threading.Lock()


def _context(policy: Policy) -> Any:
    """The ``forkserver`` context, its server told (once per process) to preload ``policy``.

    The server is shared by every pool of the process and starts with the first worker;
    pools with another policy load their own engine in each worker (slower, still correct).
    """
    ctx = multiprocessing.get_context("forkserver")
    with _preload_lock:
        if _PRELOAD_ENV not in os.environ and not getattr(_context, "configured", False):
            os.environ[_PRELOAD_ENV] = orjson.dumps(policy.model_dump(mode="json", by_alias=True)).decode()
            ctx.set_forkserver_preload(["redactor.proxy._preload"])
            _context.configured = True  # type: ignore[attr-defined]
    return ctx


class _Worker:
    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(5)
        finally:
            self.conn.close()


class WorkerPool:
    """``workers`` processes redacting with ``policy``.

    Args:
        policy: the policy every worker loads (it must hash the same there).
        workers: number of processes (>= 1).
        start_timeout_s: seconds a worker may take to load before its start fails.
        fault_markers: honour the test crash / hang markers (tests only).
        vault: the vault every worker opens (policies issuing vault tokens).

    Call :meth:`start` (blocking, seconds) before :meth:`run`, and :meth:`close` at the end.
    """

    def __init__(self, policy: Policy, *, workers: int, start_timeout_s: float = 60.0,
                 fault_markers: bool = False, vault: VaultSpec | None = None) -> None:
        if workers < 1:
            raise ValueError("a WorkerPool needs at least one worker")
        self.policy = policy
        self.size = workers
        self._start_timeout_s = start_timeout_s
        self._fault_markers = fault_markers
        self.vault = vault
        self._ctx = _context(policy)
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._threads = ThreadPoolExecutor(max_workers=max(64, 8 * workers),
                                           thread_name_prefix="redactor-pool")
        self.restarts = 0
        self.started = False

    # -- lifecycle ----------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        data = self.policy.model_dump(mode="json", by_alias=True)
        process = self._ctx.Process(target=_worker_main, args=(child, data, self._fault_markers, self.vault),
                                    name="redactor-worker", daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        if not parent.poll(self._start_timeout_s):
            worker.kill()
            raise ProxyError(f"redaction worker did not start within {self._start_timeout_s:g} s")
        try:
            msg = parent.recv()
        except EOFError:
            worker.kill()
            raise ProxyError(f"redaction worker exited while starting (exit code {process.exitcode})") from None
        if msg[0] != "ready":
            worker.kill()
            raise ProxyError(f"redaction worker failed to start: {msg[1]}: {msg[2]}")
        if msg[1] != self.policy.hash:
            worker.kill()
            raise ProxyError("redaction worker loaded a policy with a different hash")
        return worker

    def start(self) -> None:
        """Start every worker and wait until all are ready (seconds: the fork server loads
        the engine once, then each worker is a fork of it).

        Raises:
            ProxyError: a worker failed to load the policy or model, or took too long.
        """
        first = self._threads.submit(self._spawn)  # starts the fork server, which preloads
        first.exception()
        os.environ.pop(_PRELOAD_ENV, None)  # only the fork server needed it
        futures = [first] + [self._threads.submit(self._spawn) for _ in range(self.size - 1)]
        workers, errors = [], []
        for f in futures:
            try:
                workers.append(f.result())
            except ProxyError as exc:
                errors.append(exc)
        for w in workers:
            self._all.add(w)
            self._idle.put(w)
        if errors:
            self.close()
            raise errors[0]
        self.started = True

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            self.restarts += 1
            if self._closed:
                return
        threading.Thread(target=self._respawn, name="redactor-respawn", daemon=True).start()

    def _respawn(self) -> None:
        delay = 0.5
        while not self._closed:
            try:
                worker = self._spawn()
            except ProxyError as exc:
                log.error("worker restart failed, retrying in %.1f s: %s", delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            with self._lock:
                if self._closed:
                    worker.kill()
                    return
                self._all.add(worker)
            self._idle.put(worker)
            log.info("redaction worker replaced (pid %d)", worker.process.pid)
            return

    def close(self) -> None:
        """Stop every worker (asks them to exit, then kills stragglers). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for _ in range(max(64, 8 * self.size)):
            self._idle.put(None)
        for w in workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            w.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)

    @property
    def alive(self) -> int:
        """Worker processes currently alive (busy or idle)."""
        with self._lock:
            return sum(1 for w in self._all if w.process.is_alive())

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all]

    # -- jobs ----------------------------------------------------------------------------------

    def _idle_worker(self, wait_s: float) -> _Worker:
        """An idle, live worker; one that died while idle is replaced, not handed out."""
        deadline = time.monotonic() + wait_s
        while True:
            if self._closed:
                raise PoolClosed("the worker pool is closed")
            try:
                worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise Overloaded(f"no redaction worker free within {wait_s:g} s") from None
            if worker is None:
                raise PoolClosed("the worker pool is closed")
            if worker.process.is_alive():
                return worker
            log.warning("redaction worker %d died while idle; replacing it", worker.process.pid)
            self._replace(worker)

    def _call(self, job: Job, timeout_s: float, wait_s: float) -> JobResult:
        worker = self._idle_worker(wait_s)
        healthy = False
        try:
            worker.conn.send(job)
            if not worker.conn.poll(timeout_s):
                raise WorkerTimeout(f"redaction took longer than {timeout_s:g} s")
            msg = worker.conn.recv()
            healthy = True
        except (EOFError, OSError):
            raise WorkerCrashed("the redaction worker exited during the job") from None
        finally:
            if healthy:
                self._idle.put(worker)
            else:
                self._replace(worker)
        if msg[0] == "ok":
            result: JobResult = msg[1]
            return result
        if msg[1] == "detection_timeout":
            raise RedactionFailed("a pattern ran out of time")
        raise RedactionFailed(str(msg[2]))

    async def run(self, job: Job, *, timeout_s: float, wait_s: float) -> JobResult:
        """Run ``job`` on a worker; ``timeout_s`` bounds the worker's time on it (seconds),
        ``wait_s`` the wait for a free worker.

        Raises:
            FailClosed: :class:`WorkerCrashed`, :class:`WorkerTimeout`,
                :class:`Overloaded`, :class:`PoolClosed` or :class:`RedactionFailed`.
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads, self._call, job, timeout_s, wait_s)
        except RuntimeError:  # the executor was shut down
            if self._closed:
                raise PoolClosed("the worker pool is closed") from None
            raise


