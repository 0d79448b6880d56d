"""The worker pool on its own: parallel dispatch, restarts, closing."""

from __future__ import annotations

import asyncio
import time

import pytest

from proxy_helpers import zendesk_policy
from redactor.proxy import PoolClosed, WorkerPool
from redactor.proxy.codecs import BodyKind
from redactor.proxy.pool import SLEEP_MARKER, Job

pytestmark = pytest.mark.asyncio


async def test_two_workers_run_jobs_at_the_same_time():
    pool = WorkerPool(zendesk_policy(), workers=2, fault_markers=True)
    pool.start()
    try:
        job = Job(BodyKind.TEXT, None, data=SLEEP_MARKER + b" mail maria.gonzalez@example.com")
        started = time.perf_counter()
        results = await asyncio.gather(*(pool.run(job, timeout_s=5, wait_s=5) for _ in range(4)))
        elapsed = time.perf_counter() - started
        assert all(r.data.endswith(b"mail <EMAIL_ADDRESS>") for r in results)
        assert 0.9 < elapsed < 1.9  # 4 sleeps of 0.5 s on 2 workers: two rounds (1 s), not four (2 s)
        assert pool.alive == 2 and pool.restarts == 0
    finally:
        pool.close()
    assert pool.alive == 0
    with pytest.raises(PoolClosed):
        await pool.run(job, timeout_s=1, wait_s=1)
