"""Worker processes for multi-core batch analysis, each holding one loaded Redactor.

spaCy inference holds the GIL, so threads do not use a second core; processes do. Each
worker is started with ``spawn`` (safe with threads and on every OS), builds its Redactor
(policy, recognizers, spaCy pipeline) once in its initializer, and then answers
``analyze_many`` jobs. Workers only *analyze*: findings come back to the caller, which
applies the operators, so one call is still one operator context (pseudonym numbers stay
consistent across the whole batch) and hash keys never leave the parent.

As with any ``spawn`` pool, a script that starts workers must guard its entry point with
``if __name__ == "__main__":`` (each worker imports the main module).

Usage (normally through ``Redactor.redact_many(texts, workers=2)``, which keeps one pool
per Redactor)::

    with RedactorPool(policy, workers=2) as pool:
        findings = pool.analyze_many(texts)
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any, Callable, Collection, Sequence

from .errors import DetectionTimeout, RedactorError
from .findings import Finding
from .policy import Policy

__all__ = ["RedactorPool", "split_balanced"]

_WORKER: Any = None  # the Redactor of this worker process


def _init(policy: Policy, model: Any, extra_recognizers: Sequence[Any]) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one core per worker: the pool is the parallelism
    from .engine import Redactor

    global _WORKER
    # No cache in workers: the parent's cache answers repeats before a job is sent.
    _WORKER = Redactor(policy, model=model, extra_recognizers=extra_recognizers, cache_size=0)
    try:  # first use builds lazy tables (regex, lexemes) before real work arrives
        _WORKER.analyze("Warm-up: Jane Roe, jane@example.com, 212-555-0143.")
    except DetectionTimeout:
        pass  # a tiny pattern_timeout_s: the jobs will report it


def _ready() -> int:
    return os.getpid()


def _analyze(texts: list[str], entities: list[str] | None,
             batch_size: int) -> list[list[Finding]] | tuple[str, str, float]:
    try:
        return _WORKER.analyze_many(texts, entities=entities, batch_size=batch_size)  # type: ignore[no-any-return]
    except DetectionTimeout as exc:
        # Sent as plain values: the exception itself does not survive pickling, and an
        # unpicklable result would break the whole pool.
        return ("timeout", exc.recognizer, exc.limit_s)
    except Exception as exc:  # never the message: it might quote input
        return ("error", type(exc).__name__, 0.0)


def split_balanced(sizes: Sequence[int], parts: int) -> list[range]:
    """Cut ``range(len(sizes))`` into at most ``parts`` consecutive runs of similar total size.

    Greedy: a run is closed once it holds ``sum(sizes) / parts``. Used to give each worker
    about the same number of characters, whatever the mix of short and long texts.
    """
    if not sizes:
        return []
    target = max(1.0, sum(sizes) / max(1, parts))
    runs: list[range] = []
    start, acc = 0, 0
    for i, size in enumerate(sizes):
        acc += size
        if acc >= target and len(runs) < parts - 1:
            runs.append(range(start, i + 1))
            start, acc = i + 1, 0
    if start < len(sizes):
        runs.append(range(start, len(sizes)))
    return runs


class RedactorPool:
    """``workers`` processes, each with a Redactor built from ``policy`` and ``model``.

    Args:
        policy: the validated :class:`~redactor.policy.Policy` every worker loads.
        workers: number of processes (>= 1); one per core is the useful maximum.
        model: spaCy pipeline for the workers (as ``Redactor(model=...)``).
        extra_recognizers: passed to each worker's Redactor; must be picklable.
        start_timeout_s: seconds to wait for every worker to load its pipeline.

    Raises:
        ValueError: ``workers`` < 1.
        TimeoutError: the workers did not start within ``start_timeout_s``.
        concurrent.futures.process.BrokenProcessPool: a worker died (e.g. killed); the
            pool is then unusable and must be closed.

    :meth:`analyze_many` raises ``DetectionTimeout`` as in one process, and
    ``RedactorError`` naming only the exception type for any other worker failure.

    Starting costs one pipeline load per worker (about 1-3 seconds each); memory is one
    Redactor per worker (about 250 MB with the bundled model).
    """

    def __init__(self, policy: Policy, *, workers: int = 2, model: Any = None,
                 extra_recognizers: Sequence[Any] = (), start_timeout_s: float = 120.0) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"), initializer=_init,
            initargs=(policy, model, tuple(extra_recognizers)))
        # One job per worker at once makes the executor start every process now.
        futures = [self._executor.submit(_ready) for _ in range(workers)]
        done, pending = wait(futures, timeout=start_timeout_s)
        if pending:
            self.close()
            raise TimeoutError(f"redactor worker processes did not start within {start_timeout_s} s")
        for f in done:
            f.result()  # re-raises a worker's start error (e.g. ModelError)

    def analyze_many(self, texts: Sequence[str], *, entities: Collection[str] | None = None,
                     batch_size: int = 64, chunks_per_worker: int = 2,
                     local: Callable[[list[str]], list[list[Finding]]] | None = None,
                     ) -> list[list[Finding]]:
        """Findings for each text, the texts split by size across the workers.

        Each worker gets ``chunks_per_worker`` runs of texts of similar character count, so
        a slow run does not leave the other core idle. With ``local`` (the caller's own
        ``analyze_many``), the caller takes an equal share itself while the workers run,
        instead of waiting idle: ``workers`` processes plus the caller use that many + 1
        cores. Same result as ``Redactor.analyze_many`` in one process.
        """
        texts = list(texts)
        if not texts:
            return []
        wanted = None if entities is None else sorted(entities)
        sizes = [len(t) + 16 for t in texts]
        mine: range | None = None
        if local is not None:  # the last of workers + 1 equal shares stays here
            shares = split_balanced(sizes, self.workers + 1)
            if len(shares) > 1:
                mine = shares[-1]
                sizes = sizes[:mine.start]
        runs = split_balanced(sizes, self.workers * chunks_per_worker)
        futures = [self._executor.submit(_analyze, texts[r.start:r.stop], wanted, batch_size)
                   for r in runs]
        local_result = local(texts[mine.start:mine.stop]) if local is not None and mine else []
        out: list[list[Finding]] = []
        for f in futures:
            result = f.result()
            if isinstance(result, tuple):
                kind, name, limit_s = result
                if kind == "timeout":
                    raise DetectionTimeout(name, limit_s)
                raise RedactorError(f"a redactor worker process failed with {name}")
            out.extend(result)
        out.extend(local_result)
        return out

    def close(self) -> None:
        """Stop the workers (waits for running jobs). Idempotent."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RedactorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
