"""Each content type and encoding through the real proxy, asserting exact redacted bodies.

The upstream is the fake CRM (tests/fixtures/fake_crm.py); the policy is the example
Zendesk policy on the patterns-only base, so the bodies are deterministic.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from proxy_helpers import PLANTED

pytestmark = pytest.mark.asyncio

AGENT = {"X-Agent-Id": "agent-7", "Accept-Encoding": "identity"}

TICKET = (
    b'{"ticket":{"id":1001,"url":"https://acme.zendesk.example/api/v2/tickets/1001.json",'
    b'"external_id":null,"created_at":"2024-03-04T09:15:22Z","updated_at":"2024-03-04T11:02:07Z",'
    b'"type":"incident","subject":"Charged twice, please refund","description":"Hello, my card '
    b'<CREDIT_CARD> was charged twice. Reach me at <EMAIL_ADDRESS> or <PHONE_NUMBER>.",'
    b'"priority":"high","status":"open","recipient":"support@acme-support.example",'
    b'"requester_id":20001,"submitter_id":20001,"assignee_id":30001,"group_id":50001,'
    b'"collaborator_ids":[],"tags":["billing","refund"],"via":{"channel":"email","source":'
    b'{"from":{"address":"<EMAIL_ADDRESS>","name":"<PERSON>"},"to":{"address":"<EMAIL_ADDRESS>",'
    b'"name":"Acme Support"},"rel":null}},"custom_fields":[{"id":360001,"value":"order-5521"},'
    b'{"id":360002,"value":"SSN on file: <US_SSN>"},{"id":360003,"value":"<CREDIT_CARD>"}],'
    b'"satisfaction_rating":null,"is_public":true,"due_at":null}}')

COMMENTS = (
    '{"comments":[{"id":7001,"type":"Comment","author_id":20001,"body":"My new phone is '
    '<PHONE_NUMBER>, IP <IP_ADDRESS> \u2014 \u00fcn\u00efc\u00f6d\u00e9 \u201cquotes\u201d and a '
    'tab\\there.","html_body":"<div class=\\"zd-comment\\"><p>Mail <a href=\\"mailto:'
    '<EMAIL_ADDRESS>\\">me</a></p></div>","public":true,"attachments":[],"created_at":'
    '"2024-03-04T09:15:22Z"},{"id":7002,"type":"Comment","author_id":30001,"body":"Refund issued '
    'to card ending 1111. Escaped: \\"<EMAIL_ADDRESS>\\" \\\\ \u00e9","public":false,"attachments":'
    '[{"id":8001,"file_name":"receipt.png","content_type":"image/png","size":68,"content_url":'
    '"https://acme.zendesk.example/attachments/receipt.png"}],"created_at":"2024-03-04T11:02:07Z"}],'
    '"next_page":null,"count":2}').encode("utf-8")

USERS = (
    b'[{"id":20001,"name":"<PERSON>","email":"<EMAIL_ADDRESS>","phone":"<PHONE_NUMBER>",'
    b'"role":"end-user","verified":true},{"id":20002,"name":"<PERSON>","email":"<EMAIL_ADDRESS>",'
    b'"phone":null,"role":"end-user","verified":false},{"id":30001,"name":"<PERSON> Agent",'
    b'"email":"<EMAIL_ADDRESS>","phone":"<PHONE_NUMBER>","role":"agent","verified":true}]')

HTML = (
    b'<!DOCTYPE html><html lang="en"><head><title>Ticket #1001 from &lt;EMAIL_ADDRESS&gt;</title>\n'
    b'<style>.pii { color: red; } /* <EMAIL_ADDRESS> */</style>\n'
    b'<script type="application/json" id="ticket-data">{"requester":{"email":"<EMAIL_ADDRESS>"},'
    b'"id":1001}</script>\n'
    b'<script>var requester = "<EMAIL_ADDRESS>"; var n = 1001;</script>\n'
    b'</head>\n<body>\n<h1 class="subject">Charged twice</h1>\n'
    b'<p data-requester="&lt;EMAIL_ADDRESS&gt;" title="Requester">Card &lt;CREDIT_CARD&gt; &amp; '
    b'phone &lt;PHONE_NUMBER&gt;.</p>\n\n<img src="/attachments/receipt.png" alt="receipt">\n\n\n'
    b'</body></html>')

CSV = (b'id,name,email,phone\n20001,<PERSON>,<EMAIL_ADDRESS>,<PHONE_NUMBER>\n'
       b'20002,<PERSON>,<EMAIL_ADDRESS>,\n')  # the cell "Becker, Tom": surname, first name

TEXT = b'Call notes for ticket 1001.\nCustomer confirmed email <EMAIL_ADDRESS> and SSN <US_SSN>.\n'

NDJSON = (b'{"id":1001,"requester_email":"<EMAIL_ADDRESS>","status":"open"}\n'
          b'{"id":1002,"requester_email":"<EMAIL_ADDRESS>","status":"pending"}\n\n'
          b'{"id":1003,"note":"card <CREDIT_CARD>"}\n')

SSE = (b'event: ticket.updated\nid: 1\ndata: {"ticket_id":1001,"email":"<EMAIL_ADDRESS>"}\n\n'
       b': keep-alive\n\nevent: note\ndata: call <PHONE_NUMBER>\ndata: second line\n\n')


def no_planted(body: bytes) -> None:
    for value in PLANTED:
        assert value.encode() not in body, value


@pytest.mark.parametrize("path, content_type, expected", [
    ("/api/v2/tickets/1001.json", "application/json; charset=utf-8", TICKET),
    ("/api/v2/tickets/1001/comments.json", "application/json", COMMENTS),
    ("/api/v2/users.json", "application/json", USERS),
    ("/tickets/1001/print", "text/html; charset=utf-8", HTML),
    ("/api/v2/exports/users.csv", "text/csv", CSV),
    ("/api/v2/tickets/1001/notes.txt", "text/plain; charset=utf-8", TEXT),
])
async def test_buffered_types_exact(make_proxy, path, content_type, expected):
    client = await make_proxy()
    resp = await client.get(path, headers=AGENT)
    body = await resp.read()
    assert resp.status == 200
    assert body == expected
    assert resp.headers["Content-Type"] == content_type
    assert resp.headers["Content-Length"] == str(len(body))
    assert "ETag" not in resp.headers and "Content-MD5" not in resp.headers
    assert "Content-Encoding" not in resp.headers
    no_planted(body)


async def test_json_output_keeps_structure(make_proxy):
    client = await make_proxy()
    resp = await client.get("/api/v2/tickets/1001/comments.json", headers=AGENT)
    value = orjson.loads(await resp.read())
    assert list(value) == ["comments", "next_page", "count"]
    assert [c["id"] for c in value["comments"]] == [7001, 7002]
    assert value["comments"][1]["attachments"][0]["size"] == 68


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate"])
async def test_encodings_decoded_and_reencoded(make_proxy, coding):
    client = await make_proxy()
    url = client.make_url("/api/v2/tickets/1001.json")
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        async with raw.get(url, headers={"X-Agent-Id": "a", "Accept-Encoding": coding}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Encoding"] == coding
            encoded = await resp.read()
            assert resp.headers["Content-Length"] == str(len(encoded))
    from redactor.proxy.codecs import decode_body
    assert decode_body(encoded, coding, limit=1 << 20) == TICKET


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate"])
async def test_encoded_upstream_sent_identity_when_client_accepts_none(make_proxy, coding):
    client = await make_proxy()
    resp = await client.get(f"/api/v2/tickets/1001.json?encoding={coding}", headers=AGENT)
    assert resp.status == 200
    assert "Content-Encoding" not in resp.headers
    assert await resp.read() == TICKET


async def test_ndjson_exact(make_proxy):
    client = await make_proxy()
    resp = await client.get("/api/v2/incremental/tickets.ndjson", headers=AGENT)
    assert resp.status == 200
    assert await resp.read() == NDJSON
    assert "Content-Length" not in resp.headers  # streamed


async def test_ndjson_gzip_stream(make_proxy):
    client = await make_proxy()
    resp = await client.get("/api/v2/incremental/tickets.ndjson?encoding=gzip", headers=AGENT)
    assert await resp.read() == NDJSON


async def test_sse_exact_and_streamed(make_proxy):
    client = await make_proxy()
    started = time.perf_counter()
    resp = await client.get("/api/v2/stream?delay=0.4", headers=AGENT)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    first = await resp.content.readuntil(b"\n\n")
    first_at = time.perf_counter() - started
    rest = await resp.content.read()
    total = time.perf_counter() - started
    assert first + rest == SSE
    assert first_at < 0.35 and total >= 1.0  # the first event came before the stream ended


async def test_image_passes_unchanged(make_proxy):
    client = await make_proxy()
    resp = await client.get("/attachments/receipt.png", headers=AGENT)
    from proxy_helpers import ROOT
    assert resp.status == 200
    assert await resp.read() == (ROOT / "tests/fixtures/zendesk/receipt.png").read_bytes()
    assert resp.headers["ETag"] == '"fixture-etag"'  # not redacted: validators stay
    assert resp.headers["Content-Type"] == "image/png"


async def test_pdf_refused_naming_rule(make_proxy):
    client = await make_proxy()
    resp = await client.get("/attachments/invoice.pdf", headers=AGENT)
    assert resp.status == 403
    body = await resp.json()
    assert body["rule"] == "proxy.passthrough_types does not list application/pdf"
    assert body["request_id"] == resp.headers["X-Request-Id"]
    assert set(body) == {"error", "request_id", "rule"}


async def test_pdf_passes_when_policy_lists_it(make_proxy):
    from proxy_helpers import zendesk_policy
    policy = zendesk_policy(proxy={"passthrough_types": ["image/*", "application/pdf"],
                                   "require_identity": False})
    client = await make_proxy(policy=policy)
    resp = await client.get("/attachments/invoice.pdf")
    assert resp.status == 200
    assert (await resp.read()).startswith(b"%PDF-1.4")


async def test_deep_nesting(make_proxy):
    client = await make_proxy()
    resp = await client.get("/deep.json?depth=500", headers=AGENT)
    assert resp.status == 200
    assert await resp.read() == b'{"a":' * 500 + b'"<EMAIL_ADDRESS>"' + b"}" * 500


async def test_generated_tickets_in_parallel(make_proxy):
    client = await make_proxy()

    async def one(i: int) -> bytes:
        resp = await client.get(f"/api/v2/tickets/{2000 + i}.json", headers=AGENT)
        assert resp.status == 200
        return await resp.read()

    bodies = await asyncio.gather(*(one(i) for i in range(24)))
    for body in bodies:
        assert b"@example.com" not in body
        assert orjson.loads(body)["ticket"]["requester"]["email"] == "<EMAIL_ADDRESS>"


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate"])
@pytest.mark.parametrize("path, expected", [
    ("/api/v2/users.json", USERS),
    ("/tickets/1001/print", HTML),
    ("/api/v2/exports/users.csv", CSV),
    ("/api/v2/tickets/1001/notes.txt", TEXT),
])
async def test_every_type_in_every_encoding(make_proxy, coding, path, expected):
    from redactor.proxy.codecs import decode_body
    client = await make_proxy()
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        async with raw.get(client.make_url(path),
                           headers={"X-Agent-Id": "a", "Accept-Encoding": coding}) as resp:
            assert resp.status == 200 and resp.headers["Content-Encoding"] == coding
            assert "Accept-Encoding" in resp.headers["Vary"]
            body = decode_body(await resp.read(), coding, limit=1 << 20)
    assert body == expected
