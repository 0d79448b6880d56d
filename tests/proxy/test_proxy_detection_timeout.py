"""A detection time limit hit in the proxy fails closed: 502, no byte of the upstream body."""

from __future__ import annotations

import orjson
import pytest

from proxy_helpers import PLANTED, zendesk_policy
from redactor.proxy.pool import WorkerPool

pytestmark = pytest.mark.asyncio

AGENT = {"X-Agent-Id": "agent-7", "Accept-Encoding": "identity"}


async def _assert_withheld(resp) -> None:
    body = await resp.read()
    assert resp.status == 502, body
    assert orjson.loads(body)["error"] == "response withheld: body could not be redacted"
    for value in PLANTED:
        assert value.encode() not in body


async def test_spent_budget_inline_fails_closed(make_proxy):
    client = await make_proxy(policy=zendesk_policy(detection_budget_s=1e-9))
    await _assert_withheld(await client.get("/api/v2/tickets/1001.json", headers=AGENT))


async def test_spent_budget_in_a_worker_fails_closed(make_proxy):
    policy = zendesk_policy(detection_budget_s=1e-9)
    pool = WorkerPool(policy, workers=1, start_timeout_s=60)
    pool.start()
    try:
        client = await make_proxy(policy=policy, pool=pool, inline_max_bytes=0)
        await _assert_withheld(await client.get("/api/v2/tickets/1001.json", headers=AGENT))
        assert pool.restarts == 0  # a timeout is an answer, not a crash: the worker stays
    finally:
        pool.close()
