"""Trust: who may say who the agent is, and who may speak for the proxy.

One test per rule: identity headers only from trusted peers; JWT issuer, audience, expiry
and algorithm allow-list; identity never forwarded as the client sent it; reserved paths in
any spelling never forwarded; upstream responses cannot set proxy-owned headers nor point
the client into ``/_redactor``.
"""

from __future__ import annotations

import asyncio
import json
import time

import jwt
import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import fake_crm
from proxy_helpers import zendesk_policy

GATEWAY_ELSEWHERE = {"trusted_peers": ["10.9.8.0/24"]}  # the test client (loopback) is not it
SECRET = b"s" * 64


def seen_headers(upstream) -> dict[str, str]:
    return {k.lower(): v for k, v in upstream.app[fake_crm.LAST_REQUEST]["headers"]}


# -- identity headers and peers ---------------------------------------------------------------

@pytest.mark.asyncio
async def test_identity_headers_from_an_untrusted_peer_are_ignored(make_proxy, log_lines):
    client = await make_proxy(identity=GATEWAY_ELSEWHERE)
    resp = await client.get("/api/v2/tickets/1001.json",
                            headers={"X-Agent-Id": "agent-7", "X-Agent-Role": "billing"})
    assert resp.status == 401
    assert (await resp.json())["error"] == "agent identity required"
    access = [json.loads(x) for x in log_lines if '"redactor.proxy.access"' in x]
    assert access[-1]["agent_id"] is None and access[-1]["role"] is None


@pytest.mark.asyncio
async def test_untrusted_role_header_cannot_unmask(make_proxy, upstream):
    policy = zendesk_policy(proxy={"require_identity": False})
    client = await make_proxy(policy=policy, identity=GATEWAY_ELSEWHERE)
    body = orjson.loads(await (await client.get(
        "/api/v2/tickets/1001.json", headers={"X-Agent-Id": "a", "X-Agent-Role": "billing",
                                               "Accept-Encoding": "identity"})).read())
    assert body["ticket"]["description"].startswith("Hello, my card <CREDIT_CARD> was")
    await client.get("/echo", headers={"X-Agent-Id": "a", "X-Agent-Role": "billing"})
    assert "x-agent-id" not in seen_headers(upstream) and "x-agent-role" not in seen_headers(upstream)


@pytest.mark.asyncio
async def test_default_config_trusts_no_peer(make_proxy, log_lines):
    from redactor.proxy import load_config
    assert load_config(env={}, overrides={"upstream": "http://crm"}).identity.trusted_peers == []
    client = await make_proxy(identity={"trusted_peers": []})
    resp = await client.get("/api/v2/users.json", headers={"X-Agent-Id": "agent-7"})
    assert resp.status == 401
    warnings = [json.loads(x)["msg"] for x in log_lines if '"level":"warning"' in x]
    assert warnings == ["no identity.trusted_peers and no identity.jwt: every request is anonymous "
                        "and the policy requires an identity, so all will get 401"]


def test_peer_allow_list():
    from redactor.proxy.trust import PeerAllowList
    peers = PeerAllowList(["10.0.0.0/24", "192.0.2.7", "fd00::/8"])
    assert peers.allows("10.0.0.200") and peers.allows("192.0.2.7")
    assert peers.allows("::ffff:10.0.0.3")  # IPv4-mapped IPv6
    assert peers.allows("fd00::1")
    assert not peers.allows("10.0.1.1") and not peers.allows("192.0.2.8")
    assert not peers.allows(None) and not peers.allows("not-an-ip") and not peers.allows("")
    assert not PeerAllowList([]).allows("127.0.0.1")


def test_bad_trusted_peer_is_a_config_error():
    from redactor.proxy import ConfigError, load_config
    with pytest.raises(ConfigError, match=r"identity.trusted_peers.*'gateway' is not an IP"):
        load_config(env={}, overrides={"upstream": "http://crm",
                                       "identity": {"trusted_peers": ["gateway"]}})
    c = load_config(env={"REDACTOR_TRUSTED_PEERS": "10.0.0.1, 10.1.0.0/16"},
                    overrides={"upstream": "http://crm", "identity": {"agent_id_header": "X-U"}})
    assert c.identity.trusted_peers == ["10.0.0.1", "10.1.0.0/16"]
    assert c.identity.agent_id_header == "X-U"  # a flag's identity merges with the env's


@pytest.mark.asyncio
async def test_forward_upstream_sends_only_the_established_identity(make_proxy, upstream):
    client = await make_proxy(identity={"forward_upstream": True})  # loopback trusted
    await client.get("/echo", headers={"X-Agent-Id": "agent-7", "X-Agent-Role": "billing"})
    h = seen_headers(upstream)
    assert (h["x-agent-id"], h["x-agent-role"]) == ("agent-7", "billing")
    policy = zendesk_policy(proxy={"require_identity": False})
    untrusted = await make_proxy(policy=policy, identity={**GATEWAY_ELSEWHERE, "forward_upstream": True})
    await untrusted.get("/echo", headers={"X-Agent-Id": "forged", "X-Agent-Role": "billing"})
    h = seen_headers(upstream)
    assert "x-agent-id" not in h and "x-agent-role" not in h


# -- JWT ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rsa_keys(tmp_path_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path_factory.mktemp("jwt") / "public.pem"
    path.write_bytes(public)
    return key, public, str(path)


def _claims(**changes):
    now = int(time.time())
    # Issued a minute ago: with leeway 0, PyJWT refuses an ``iat`` in the future, which a
    # clock step between signing here and verifying in the proxy could otherwise produce.
    claims = {"sub": "agent-42", "role": "billing", "iss": "https://sso.example", "aud": "redactor",
              "exp": now + 300, "iat": now - 60}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def _rs256_proxy(make_proxy, rsa_keys, **identity):
    jwt_cfg = {"algorithms": ["RS256"], "key_file": rsa_keys[2], "issuer": "https://sso.example",
               "audience": "redactor", "leeway_s": 0}
    return await make_proxy(identity={**GATEWAY_ELSEWHERE, "jwt": jwt_cfg, **identity})


@pytest.mark.asyncio
async def test_jwt_valid_token_gives_id_and_role_from_any_peer(make_proxy, rsa_keys, upstream, log_lines):
    client = await _rs256_proxy(make_proxy, rsa_keys)
    token = jwt.encode(_claims(), rsa_keys[0], algorithm="RS256")
    resp = await client.get("/api/v2/tickets/1001.json",
                            headers={"X-Agent-Token": token, "X-Agent-Role": "intern",
                                     "Accept-Encoding": "identity"})
    assert resp.status == 200
    body = orjson.loads(await resp.read())
    assert body["ticket"]["description"].startswith("Hello, my card **** **** **** 1111 was")
    access = [json.loads(x) for x in log_lines if '"redactor.proxy.access"' in x]
    assert (access[-1]["agent_id"], access[-1]["role"]) == ("agent-42", "billing")
    await client.get("/echo", headers={"X-Agent-Token": token})
    assert "x-agent-token" not in seen_headers(upstream)


@pytest.mark.parametrize("case", ["expired", "issuer", "audience", "no_exp", "signature", "none",
                                  "hs256_with_public_key", "garbage", "role_not_string"])
@pytest.mark.asyncio
async def test_jwt_rejections(make_proxy, rsa_keys, case):
    client = await _rs256_proxy(make_proxy, rsa_keys)
    key, public = rsa_keys[0], rsa_keys[1]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048) if case == "signature" else None
    token = {
        "expired": lambda: jwt.encode(_claims(exp=int(time.time()) - 5), key, algorithm="RS256"),
        "issuer": lambda: jwt.encode(_claims(iss="https://evil.example"), key, algorithm="RS256"),
        "audience": lambda: jwt.encode(_claims(aud="other-app"), key, algorithm="RS256"),
        "no_exp": lambda: jwt.encode(_claims(exp=None), key, algorithm="RS256"),
        "signature": lambda: jwt.encode(_claims(), other, algorithm="RS256"),
        "none": lambda: jwt.encode(_claims(), None, algorithm="none"),
        # the classic confusion: an HMAC token keyed with the (public) verification key
        "hs256_with_public_key": lambda: _hs256_forged(public),
        "garbage": lambda: "not.a.token",
        "role_not_string": lambda: jwt.encode(_claims(role=["billing", "admin"]), key, algorithm="RS256"),
    }[case]()
    resp = await client.get("/api/v2/users.json", headers={"X-Agent-Token": token, "X-Agent-Id": "a"})
    assert resp.status == 401
    assert (await resp.json())["error"] == "agent token rejected"


def _hs256_forged(public: bytes) -> str:
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64(orjson.dumps(_claims()))
    sig = b64(hmac.new(public, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + sig).decode()


@pytest.mark.asyncio
async def test_jwt_hs256_in_authorization_header(make_proxy, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET + b"\n")
    client = await make_proxy(identity={"jwt": {"algorithms": ["HS256"], "key_file": str(secret),
                                                "header": "Authorization"}})
    token = jwt.encode(_claims(), SECRET, algorithm="HS256")
    assert (await client.get("/api/v2/users.json", headers={"Authorization": f"Bearer {token}"})).status == 200
    assert (await client.get("/api/v2/users.json", headers={"Authorization": f"Basic {token}"})).status == 401
    wrong_alg = jwt.encode(_claims(), SECRET, algorithm="HS512")  # not in the allow-list
    assert (await client.get("/api/v2/users.json", headers={"Authorization": f"Bearer {wrong_alg}"})).status == 401
    # no token at all: the trusted gateway's headers still count (loopback is trusted here)
    assert (await client.get("/api/v2/users.json", headers={"X-Agent-Id": "agent-7"})).status == 200


def test_jwt_config_errors(tmp_path, rsa_keys):
    from redactor.proxy import ConfigError, create_app, load_config
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    short = tmp_path / "short"
    short.write_bytes(b"tooshort")

    def build(jwt_cfg):
        config = load_config(env={}, overrides={"upstream": "http://crm", "workers": 0,
                                                "identity": {"jwt": jwt_cfg}})
        return create_app(config, policy=zendesk_policy())
    with pytest.raises(ConfigError, match="'none' is never allowed"):
        build({"algorithms": ["none"], "key_file": str(secret)})
    with pytest.raises(ConfigError, match="do not mix HS"):
        build({"algorithms": ["HS256", "RS256"], "key_file": str(secret)})
    with pytest.raises(ConfigError, match="unsupported"):
        build({"algorithms": ["XX999"], "key_file": str(secret)})
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        build({"algorithms": ["HS256"], "key_file": str(short)})
    with pytest.raises(ConfigError, match="not a PEM public key"):
        build({"algorithms": ["RS256"], "key_file": str(secret)})
    with pytest.raises(ConfigError, match="cannot read"):
        build({"algorithms": ["RS256"], "key_file": str(tmp_path / "missing.pem")})
    build({"algorithms": ["RS256", "ES256"], "key_file": rsa_keys[2]})


# -- reserved paths -----------------------------------------------------------------------------

async def _raw_get(port: int, target: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nX-Agent-Id: agent-7\r\n"
                 f"Connection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return int(data.split(b" ", 2)[1]), data


@pytest.mark.parametrize("target", ["/_redactor/nope", "/_redactor", "/_REDACTOR/metrics",
                                    "/%5Fredactor/metrics", "/%255Fredactor/x", "//_redactor/x",
                                    "/api/../_redactor/x", "/_redactor%2Fx", "/_redactor?x=1"])
@pytest.mark.asyncio
async def test_reserved_paths_in_any_spelling_are_not_forwarded(make_proxy, upstream, target):
    client = await make_proxy()
    status, data = await _raw_get(client.server.port, target)
    if target == "/%5Fredactor/metrics":  # decoded by the router: the proxy's own endpoint
        assert status == 200 and b"redactor_proxy_requests_total" in data
    else:
        assert status == 404, data
        assert b'"error": "no such proxy endpoint"' in data
    assert upstream.app[fake_crm.LAST_REQUEST] == {}


@pytest.mark.asyncio
async def test_upstream_cannot_set_proxy_headers_or_point_into_reserved(make_proxy, aiohttp_server):
    async def handler(request):
        base = f"http://{request.host}"
        headers = [("X-Agent-Id", "upstream-says"), ("X-Agent-Role", "admin"),
                   ("X-Agent-Token", "t"), ("X-Redactor-Policy", "off"), ("X-Request-Id", "forged-id-123"),
                   ("Link", "</_redactor/reveal>; rel=preload"), ("Link", "</help>; rel=help"),
                   ("Refresh", "0; url=/_redactor/reveal"), ("Content-Location", "../_redactor/x"),
                   ("Location", {"/abs": f"{base}/_redactor/reveal?id=1", "/rel": "/%5Fredactor/metrics",
                                 "/ok": f"{base}/api/v2/next"}[request.path])]
        resp = web.json_response({"ok": True}, status=302)
        for k, v in headers:
            resp.headers.add(k, v)
        return resp
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = await aiohttp_server(app)
    client = await make_proxy(upstream_url=str(server.make_url("/")))
    for path in ("/abs", "/rel"):
        resp = await client.get(path, headers={"X-Agent-Id": "agent-7"}, allow_redirects=False)
        assert resp.status == 302
        assert "Location" not in resp.headers  # nothing for the client to follow
        for name in ("X-Agent-Id", "X-Agent-Role", "X-Agent-Token", "X-Redactor-Policy",
                     "Refresh", "Content-Location"):
            assert name not in resp.headers, name
        assert resp.headers.getall("Link") == ["</help>; rel=help"]
        assert resp.headers["X-Request-Id"] != "forged-id-123" and len(resp.headers["X-Request-Id"]) == 32
    resp = await client.get("/ok", headers={"X-Agent-Id": "agent-7"}, allow_redirects=False)
    assert resp.headers["Location"] == str(client.make_url("/api/v2/next"))


def test_is_reserved_and_reserved_target():
    from redactor.proxy.trust import is_reserved, reserved_target
    assert is_reserved("/_redactor") and is_reserved("/_redactor/") and is_reserved("/a/../_Redactor/x")
    assert is_reserved("/%5F%52edactor/x") and is_reserved("//_redactor") and is_reserved("/_redactor%2fx")
    assert not is_reserved("/_redactorx") and not is_reserved("/api/_redactor/x") and not is_reserved("/")
    kw = {"base_path": "/a/b", "proxy_host": "proxy:8080"}
    assert reserved_target("../_redactor/x", **kw) and reserved_target("/_redactor", **kw)
    assert reserved_target("http://PROXY:8080/_redactor/reveal", **kw)
    assert not reserved_target("https://elsewhere.example/_redactor/x", **kw)
    assert not reserved_target("/api/v2/x", **kw)
