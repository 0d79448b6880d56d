"""The NER policy through a shared pool of two worker processes."""

from __future__ import annotations

import asyncio

import orjson
import pytest

pytestmark = pytest.mark.asyncio

AGENT = {"X-Agent-Id": "agent-7", "Accept-Encoding": "identity"}


async def test_ner_ticket(make_proxy, ner_pool):
    client = await make_proxy(pool=ner_pool, policy=ner_pool.policy)
    resp = await client.get("/api/v2/tickets/1001.json", headers=AGENT)
    assert resp.status == 200
    ticket = orjson.loads(await resp.read())["ticket"]
    assert ticket["description"] == ("Hello, my card <CREDIT_CARD> was charged twice. Reach me "
                                     "at <EMAIL_ADDRESS> or <PHONE_NUMBER>.")
    assert ticket["via"]["source"]["from"] == {"address": "<EMAIL_ADDRESS>", "name": "<PERSON>"}
    assert ticket["id"] == 1001 and ticket["tags"] == ["billing", "refund"]


async def test_ner_finds_names_patterns_miss(make_proxy, ner_pool):
    client = await make_proxy(pool=ner_pool, policy=ner_pool.policy)
    body = await (await client.get("/api/v2/exports/users.csv", headers=AGENT)).read()
    assert b"Maria" not in body and b"Tom" not in body and b"Becker" not in body
    assert body.startswith(b"id,name,email,phone\n")


async def test_ner_concurrent_requests(make_proxy, ner_pool):
    client = await make_proxy(pool=ner_pool, policy=ner_pool.policy)

    async def one(i: int) -> dict:
        resp = await client.get(f"/api/v2/tickets/{3000 + i}.json", headers=AGENT)
        assert resp.status == 200
        return orjson.loads(await resp.read())["ticket"]

    tickets = await asyncio.gather(*(one(i) for i in range(16)))
    for i, t in enumerate(tickets):
        assert t["id"] == 3000 + i
        assert t["requester"] == {"id": t["requester"]["id"], "name": "<PERSON>",
                                  "email": "<EMAIL_ADDRESS>", "phone": "<PHONE_NUMBER>"}
        for c in t["comments"]:
            assert "@example.com" not in c["body"] and "<CREDIT_CARD>" in c["body"]


async def test_large_ticket_does_not_stall_health(make_proxy, ner_pool):
    client = await make_proxy(pool=ner_pool, policy=ner_pool.policy)
    big = asyncio.create_task(client.get("/big.json?size=100000&chunked=1", headers=AGENT))
    await asyncio.sleep(0.05)
    health = await asyncio.wait_for(client.get("/_redactor/healthz"), 0.5)
    assert health.status == 200
    resp = await big
    assert resp.status == 200
    assert b"maria" not in await resp.read()
