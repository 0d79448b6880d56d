"""Headers both ways, redirects, cookies, identity, roles and hooks."""

from __future__ import annotations

import orjson
import pytest
from aiohttp import web

import fake_crm
from proxy_helpers import zendesk_policy

pytestmark = pytest.mark.asyncio

AGENT = {"X-Agent-Id": "agent-7", "Accept-Encoding": "identity"}


def last_request(upstream) -> dict:
    return upstream.app[fake_crm.LAST_REQUEST]


async def test_request_headers_forwarded_and_cleaned(make_proxy, upstream):
    client = await make_proxy()
    resp = await client.post("/echo?q=1&b=%20x", data=b'{"comment": "hi"}', headers={
        "X-Agent-Id": "agent-7", "X-Agent-Role": "billing",
        "Authorization": "Bearer tok-123", "Cookie": "session=abc; theme=dark",
        "Connection": "keep-alive, X-Private", "X-Private": "secret-hop", "Keep-Alive": "timeout=5",
        "TE": "trailers", "Proxy-Authorization": "Basic Zm9v", "Trailer": "X-T",
        "X-Forwarded-For": "198.51.100.7", "Range": "bytes=0-10", "X-Custom": "kept",
        "Content-Type": "application/json"})
    assert resp.status == 200
    seen = last_request(upstream)
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert seen["method"] == "POST" and seen["path"] == "/echo?q=1&b=%20x"
    assert seen["body"] == b'{"comment": "hi"}'
    assert headers["authorization"] == "Bearer tok-123"
    assert headers["cookie"] == "session=abc; theme=dark"
    assert headers["x-custom"] == "kept"
    for hop in ("x-private", "keep-alive", "te", "proxy-authorization", "trailer"):
        assert hop not in headers, hop
    assert headers["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == client.make_url("/").raw_authority
    assert headers["host"] == upstream.make_url("/").raw_authority
    assert "range" not in headers  # /echo may be redactable: no partial bodies
    assert "x-agent-id" not in headers and "x-agent-role" not in headers
    assert len(headers["x-request-id"]) == 32
    assert headers["accept-encoding"] == "gzip, deflate, br"


async def test_range_kept_for_passthrough_media(make_proxy, upstream):
    client = await make_proxy()
    resp = await client.get("/echo/logo.png", headers={**AGENT, "Range": "bytes=0-10"})
    assert resp.status == 200
    assert ("Range", "bytes=0-10") in last_request(upstream)["headers"]
    await client.get("/echo/ticket.json", headers={**AGENT, "Range": "bytes=0-10"})
    assert "range" not in {k.lower() for k, _ in last_request(upstream)["headers"]}
    from redactor.proxy.forwarding import range_allowed
    assert range_allowed("/attachments/logo.png", ["image/*"])
    assert not range_allowed("/api/v2/tickets/1.json", ["image/*"])


async def test_upstream_connections_are_kept_alive(make_proxy, upstream):
    client = await make_proxy()
    peers = set()
    for _ in range(3):
        await client.get("/echo", headers=AGENT)
        peers.add(tuple(last_request(upstream)["peer"]))
    assert len(peers) == 1  # one pooled connection reused


async def test_incoming_request_id_kept(make_proxy, upstream):
    client = await make_proxy()
    resp = await client.get("/echo", headers={**AGENT, "X-Request-Id": "req-12345678"})
    assert resp.headers["X-Request-Id"] == "req-12345678"
    headers = {k.lower(): v for k, v in last_request(upstream)["headers"]}
    assert headers["x-request-id"] == "req-12345678"
    resp = await client.get("/echo", headers={**AGENT, "X-Request-Id": "bad id with spaces"})
    assert resp.headers["X-Request-Id"] != "bad id with spaces"


async def test_redirect_location_rewritten(make_proxy):
    client = await make_proxy()
    resp = await client.get("/redirect", headers=AGENT, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == str(client.make_url("/api/v2/tickets/1001.json?x=1"))


async def test_response_cookies_pass_and_hop_headers_dropped(make_proxy, aiohttp_server):
    async def handler(request):
        resp = web.json_response({"ok": True})
        resp.set_cookie("session", "abc123", httponly=True)
        resp.headers["Proxy-Authenticate"] = "Basic"
        resp.headers["X-Upstream"] = "yes"
        resp.headers["Trailer"] = "X-T"
        return resp
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = await aiohttp_server(app)
    client = await make_proxy(upstream_url=str(server.make_url("/")))
    resp = await client.get("/cookie", headers=AGENT)
    assert resp.status == 200
    assert "session=abc123" in resp.headers["Set-Cookie"]
    assert resp.headers["X-Upstream"] == "yes"
    assert "Proxy-Authenticate" not in resp.headers and "Trailer" not in resp.headers


async def test_upstream_with_path_prefix(make_proxy, aiohttp_server):
    async def handler(request):
        return web.json_response({"path": request.path},
                                 headers={"Location": f"http://{request.host}/crm/next"})
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = await aiohttp_server(app)
    client = await make_proxy(upstream_url=str(server.make_url("/crm")))
    resp = await client.get("/api/x", headers=AGENT)
    assert (await resp.json())["path"] == "/crm/api/x"
    assert resp.headers["Location"] == str(client.make_url("/next"))


async def test_identity_required(make_proxy):
    client = await make_proxy()
    resp = await client.get("/api/v2/tickets/1001.json")
    assert resp.status == 401
    doc = await resp.json()
    assert doc == {"error": "agent identity required", "request_id": resp.headers["X-Request-Id"]}
    resp = await client.get("/api/v2/tickets/1001.json", headers=AGENT)
    assert resp.status == 200


async def test_identity_optional_when_policy_allows(make_proxy):
    policy = zendesk_policy(proxy={"require_identity": False})
    client = await make_proxy(policy=policy)
    assert (await client.get("/api/v2/users.json")).status == 200


async def test_custom_identity_headers(make_proxy):
    client = await make_proxy(identity={"agent_id_header": "X-Gw-User", "agent_role_header": "X-Gw-Role"})
    assert (await client.get("/api/v2/users.json", headers={"X-Agent-Id": "a"})).status == 401
    resp = await client.get("/api/v2/tickets/1001.json",
                            headers={"X-Gw-User": "a", "X-Gw-Role": "billing"})
    assert b"**** **** **** 1111" in await resp.read()


async def test_roles_see_different_redactions(make_proxy):
    client = await make_proxy()
    plain = orjson.loads(await (await client.get("/api/v2/tickets/1001.json", headers=AGENT)).read())
    billing = orjson.loads(await (await client.get(
        "/api/v2/tickets/1001.json", headers={**AGENT, "X-Agent-Role": "billing"})).read())
    assert plain["ticket"]["description"].startswith("Hello, my card <CREDIT_CARD> was")
    assert billing["ticket"]["description"].startswith("Hello, my card **** **** **** 1111 was")
    assert billing["ticket"]["custom_fields"][2]["value"] == "************1111"
    # everything else is redacted the same way for both roles
    assert billing["ticket"]["via"] == plain["ticket"]["via"]
    unknown = orjson.loads(await (await client.get(
        "/api/v2/tickets/1001.json", headers={**AGENT, "X-Agent-Role": "intern"})).read())
    assert unknown == plain


async def test_hooks_see_context_and_can_refuse(make_proxy):
    from redactor.proxy import REQUEST_HOOKS, RESPONSE_HOOKS
    client = await make_proxy()
    seen = []

    async def on_response(ctx, response):
        seen.append((ctx.request_id, ctx.agent_id, ctx.role, ctx.ticket_id, response.kind.value,
                     response.counts, response.body is not None))

    async def on_request(ctx, request):
        if ctx.ticket_id == "666":
            raise web.HTTPForbidden(text='{"error": "blocked"}', content_type="application/json")

    client.server.app[RESPONSE_HOOKS].append(on_response)
    client.server.app[REQUEST_HOOKS].append(on_request)
    resp = await client.get("/api/v2/tickets/1001.json", headers={**AGENT, "X-Agent-Role": "billing"})
    assert resp.status == 200
    rid = resp.headers["X-Request-Id"]
    assert seen == [(rid, "agent-7", "billing", "1001", "json",
                     {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 3, "PERSON": 1, "PHONE_NUMBER": 1,
                      "US_SSN": 1}, True)]
    assert (await client.get("/api/v2/tickets/666.json", headers=AGENT)).status == 403


async def test_blocked_request_is_logged_with_its_status(make_proxy, log_lines):
    import json
    from redactor.proxy import REQUEST_HOOKS
    client = await make_proxy()

    async def block(ctx, request):
        raise web.HTTPForbidden()
    client.server.app[REQUEST_HOOKS].append(block)
    resp = await client.get("/api/v2/tickets/1.json", headers=AGENT)
    assert resp.status == 403 and "X-Request-Id" in resp.headers
    access = [json.loads(x) for x in log_lines if '"redactor.proxy.access"' in x]
    assert access[-1]["status"] == 403 and access[-1]["route"] == "/api/v2/tickets/{id}"


async def test_json_in_another_charset_is_sent_as_utf8(make_proxy, aiohttp_server):
    async def latin(request):
        body = '{"note": "caf\u00e9 for maria.gonzalez@example.com"}'.encode("latin-1")
        return web.Response(body=body, headers={"Content-Type": "application/json; charset=iso-8859-1"})
    app = web.Application()
    app.router.add_get("/{tail:.*}", latin)
    server = await aiohttp_server(app)
    client = await make_proxy(upstream_url=str(server.make_url("/")))
    resp = await client.get("/x", headers=AGENT)
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await resp.read() == '{"note":"caf\u00e9 for <EMAIL_ADDRESS>"}'.encode("utf-8")


async def test_failing_response_hook_fails_closed(make_proxy):
    from redactor.proxy import RESPONSE_HOOKS
    client = await make_proxy()

    async def broken(ctx, response):
        raise RuntimeError("audit store down")
    client.server.app[RESPONSE_HOOKS].append(broken)
    resp = await client.get("/api/v2/tickets/1001.json", headers=AGENT)
    assert resp.status == 502
    assert b"<EMAIL_ADDRESS>" not in await resp.read()


async def test_reserved_paths_not_forwarded(make_proxy, upstream):
    client = await make_proxy()
    resp = await client.get("/_redactor/nope")
    assert resp.status == 404
    assert last_request(upstream) == {}


async def test_head_and_no_content(make_proxy, aiohttp_server):
    async def nothing(request):
        return web.Response(status=204, headers={"ETag": '"v1"', "Content-Type": "application/json"})

    async def not_modified(request):
        return web.Response(status=304, headers={"ETag": '"v1"'})
    app = web.Application()
    app.router.add_route("*", "/empty", nothing)
    app.router.add_get("/cached", not_modified)
    server = await aiohttp_server(app)
    client = await make_proxy(upstream_url=str(server.make_url("/")))
    resp = await client.delete("/empty", headers=AGENT)
    assert resp.status == 204 and await resp.read() == b""
    assert "ETag" not in resp.headers  # a JSON resource: its validators describe unredacted bytes
    resp = await client.get("/cached", headers={**AGENT, "If-None-Match": '"v1"'})
    assert resp.status == 304 and await resp.read() == b""


async def test_head_request(make_proxy):
    client = await make_proxy()
    resp = await client.head("/api/v2/tickets/1001.json", headers=AGENT)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "ETag" not in resp.headers
    assert await resp.read() == b""


async def test_body_hook_rewrites_request_and_plugin_adds_endpoint(make_proxy, upstream):
    from redactor.proxy import RESERVED_PREFIX, REQUEST_BODY_HOOKS

    async def rehydrate(ctx, request, body):
        assert ctx.policy_hash and ctx.ticket_id is None
        return body.replace(b"<PERSON_1>", b"Dana") if body else body

    async def reveal(request):
        return web.json_response({"revealed": False})

    def plugin(app):
        app[REQUEST_BODY_HOOKS].append(rehydrate)
        app.router.add_post(RESERVED_PREFIX + "reveal", reveal)

    client = await make_proxy(plugins=[plugin])
    resp = await client.post("/echo", data=b'{"body": "Dear <PERSON_1>"}', headers=AGENT)
    assert resp.status == 200
    assert last_request(upstream)["body"] == b'{"body": "Dear Dana"}'
    resp = await client.post("/_redactor/reveal", json={}, headers=AGENT)  # reveal needs the agent
    assert resp.status == 200 and await resp.json() == {"revealed": False}
    assert (await client.post("/_redactor/reveal", json={})).status == 401


async def test_redacted_views_are_private_to_the_agent(make_proxy, aiohttp_server):
    async def cached(request):
        return web.json_response({"mail": "maria.gonzalez@example.com"},
                                 headers={"Cache-Control": "public, max-age=60, s-maxage=600",
                                          "Vary": "Accept"})
    app = web.Application()
    app.router.add_get("/{tail:.*}", cached)
    server = await aiohttp_server(app)
    client = await make_proxy(upstream_url=str(server.make_url("/")))
    resp = await client.get("/x", headers={"X-Agent-Id": "a", "Accept-Encoding": "gzip"})
    assert resp.headers["Cache-Control"] == "private, max-age=60"
    assert resp.headers["Vary"] == "Accept, X-Agent-Role"
