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
import threading
from bisect import bisect_left
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, wait
from itertools import accumulate
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
             batch_size: int) -> list[list[Finding]] | tuple[str, str, float, str]:
    try:
        return _WORKER.analyze_many(texts, entities=entities, batch_size=batch_size)  # type: ignore[no-any-return]
    except DetectionTimeout as exc:
        # Sent as plain values: the exception itself does not survive pickling, and an
        # unpicklable result would break the whole pool.
        return ("timeout", exc.recognizer, exc.limit_s, exc.kind)
    except Exception as exc:  # never the message: it might quote input
        return ("error", type(exc).__name__, 0.0, "")


def split_balanced(sizes: Sequence[int], parts: int) -> list[range]:
    """Cut ``range(len(sizes))`` into at most ``parts`` consecutive, non-empty runs of similar
    total size: each worker gets about the same number of characters, whatever the mix of
    short and long texts.

    Each cut is the boundary between two items nearest to its equal share of the total, so
    six equal texts split 3 / 3; runs left empty are dropped.
    """
    n = len(sizes)
    if n == 0:
        return []
    prefix = list(accumulate(sizes, initial=0))  # prefix[j]: size of items [0, j)
    runs: list[range] = []
    start = 0
    for k in range(1, max(1, parts)):
        share = prefix[-1] * k / parts
        j = bisect_left(prefix, share, lo=start + 1, hi=n)
        if j > start + 1 and share - prefix[j - 1] <= prefix[j] - share:
            j -= 1  # the boundary before the crossing item is nearer
        if j >= n:
            break
        runs.append(range(start, j))
        start = j
    runs.append(range(start, n))
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
        # This process runs NER runs beside the workers: hold its BLAS to one thread while
        # the pool lives, so OpenBLAS threads do not spin on the workers' cores after each
        # call (see nlp.hold_one_blas_thread).
        from .nlp import hold_one_blas_thread

        hold_one_blas_thread()
        self._holding = True
        self._hold_lock = threading.Lock()
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"), initializer=_init,
            initargs=(policy, model, tuple(extra_recognizers)))
        try:
            # One job per worker at once makes the executor start every process now.
            futures = [self._executor.submit(_ready) for _ in range(workers)]
            done, pending = wait(futures, timeout=start_timeout_s)
            if pending:
                raise TimeoutError(f"redactor worker processes did not start within {start_timeout_s} s")
            for f in done:
                f.result()  # re-raises a worker's start error (e.g. ModelError)
        except BaseException:
            self.close()  # no half-started pool, and the BLAS limit is released
            raise

    def analyze_many(self, texts: Sequence[str], *, entities: Collection[str] | None = None,
                     batch_size: int = 64, chunks_per_worker: int = 1,
                     local: Callable[[list[str]], list[list[Finding]]] | None = None,
                     ) -> list[list[Finding]]:
        """Findings for each text, the texts split by size across the workers.

        The texts are cut into ``chunks_per_worker`` runs of similar character count per
        process. Each worker holds one run at a time and gets the next from the front as it
        finishes; with ``local`` (the caller's own ``analyze_many``) the caller works too
        instead of waiting idle, taking runs from the back. So ``workers`` processes plus the
        caller use that many + 1 cores. Same result as ``Redactor.analyze_many`` in one
        process.

        One run per process is the default: the NER's matrix products are faster on larger
        batches, and each run costs a round trip, which outweighs the balance finer runs give
        when the texts are many or alike (two processes over one, same batches of 128 texts:
        1.91x / 1.71x / 2.24x for short strings / ticket threads / 10 KB documents with one
        run per process, 1.75x / 1.62x / 1.62x with two, 1.38-1.68x / 1.43-1.49x / 2.03-2.08x
        with three). A few texts of very different sizes balance better with more runs.
        """
        texts = list(texts)
        if not texts:
            return []
        wanted = None if entities is None else sorted(entities)
        sizes = [len(t) + 16 for t in texts]
        processes = self.workers + (1 if local is not None else 0)
        runs = split_balanced(sizes, processes * chunks_per_worker)
        futures: dict[int, Future[Any]] = {}
        taken: dict[int, list[list[Finding]]] = {}
        lock = threading.Lock()
        ends = [0, len(runs)]  # runs [ends[0], ends[1]) are not yet handed out

        def submit(i: int) -> None:
            r = runs[i]
            futures[i] = self._executor.submit(_analyze, texts[r.start:r.stop], wanted, batch_size)

        def feed() -> None:
            """Hand the next run from the front to a worker. A run counts as handed out only
            once it is submitted, so a closed or broken pool leaves it to the caller."""
            with lock:
                if ends[0] >= ends[1]:
                    return
                submit(ends[0])
                i = ends[0]
                ends[0] += 1
            futures[i].add_done_callback(fed)

        def fed(_: object) -> None:  # a worker finished a run: give it the next one
            try:
                feed()
            except Exception:  # noqa: BLE001  (pool closed or broken: the caller's loop below copes)
                pass

        # One run in flight per worker (a pool that cannot take one raises here): the rest
        # stay here, to be shared out as runs finish.
        for _ in range(self.workers):
            feed()
        while local is not None:  # the caller takes runs from the back meanwhile
            with lock:
                if ends[0] >= ends[1]:
                    break
                ends[1] -= 1
                i = ends[1]
            taken[i] = local(texts[runs[i].start:runs[i].stop])
        out: list[list[Finding]] = []
        for i in range(len(runs)):
            if i not in taken and i not in futures:
                # Not handed out: no callback handed it yet, or the pool was closed meanwhile.
                with lock:
                    mine = i not in futures and i == ends[0]
                    if mine:
                        ends[0] += 1
                        if local is None:
                            submit(i)  # raises if the pool is closed or broken
                if mine and local is not None:
                    taken[i] = local(texts[runs[i].start:runs[i].stop])
            if i in taken:
                out.extend(taken[i])
                continue
            try:
                result = futures[i].result()
            except CancelledError:  # the pool was closed before a worker started it
                if local is None:
                    raise RedactorError("the redactor worker pool was closed during the call") from None
                out.extend(local(texts[runs[i].start:runs[i].stop]))
                continue
            if isinstance(result, tuple):
                status, name, limit_s, kind = result
                if status == "timeout":  # which limit ran out: one search, or the text's budget
                    raise DetectionTimeout(name, limit_s, kind=kind)
                raise RedactorError(f"a redactor worker process failed with {name}")
            out.extend(result)
        return out

    def close(self) -> None:
        """Stop the workers (waits for running jobs) and release this process's BLAS
        thread limit. Idempotent."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._hold_lock:
            holding, self._holding = self._holding, False
        if holding:
            from .nlp import release_one_blas_thread

            release_one_blas_thread()

    def __enter__(self) -> RedactorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
