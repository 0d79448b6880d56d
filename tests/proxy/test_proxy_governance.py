"""Governance through the proxy (real HTTP on loopback): vault tokens and re-hydration,
reveal with its denial rules, anomaly flags on a simulated clock, the audit trail (verify,
spool during a store outage), and no raw value in any record, log line or metric."""

from __future__ import annotations

import gzip
import random
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from unittest.mock import ANY

import orjson
import pytest

import fake_crm
from proxy_helpers import PLANTED, governed_policy
from redactor.audit import export, load_hmac_key, load_public_key, verify
from redactor.audit.keys import HMAC_FILE, PUBLIC_FILE, generate_keys
from redactor.proxy import GOVERNANCE, governance_plugin
from redactor.vault import TOKEN_RE, VaultKeyError, generate_key_file
from tests.governance.doubles import PG_URL, Clock, FlakyStore, Switch, need_pg

pytestmark = pytest.mark.asyncio

T1001 = "/api/v2/tickets/1001.json"
AGENT = {"X-Agent-Id": "30001", "X-Agent-Role": "agent"}
OTHER_AGENT = {"X-Agent-Id": "30002", "X-Agent-Role": "agent"}
SUPERVISOR = {"X-Agent-Id": "30001", "X-Agent-Role": "supervisor"}
REASON = "customer asked to confirm the address"


def at(hour: int, minute: int = 0) -> float:
    """Epoch seconds on Wednesday 2026-06-03 at hour:minute UTC."""
    return datetime(2026, 6, 3, hour, minute, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock(at(10))


@pytest.fixture
def gov(tmp_path: Path) -> dict[str, Any]:
    """Settings of a governed proxy: audit store, vault store and key in ``tmp_path``."""
    generate_key_file(tmp_path / "vault.key")
    return {"audit_store": f"sqlite://{tmp_path}/audit.db",
            "vault_store": f"sqlite://{tmp_path}/vault.db",
            "vault_key_file": str(tmp_path / "vault.key")}


def records(url: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in export(url)]


def by_action(url: str, action: str) -> list[dict[str, Any]]:
    return [r for r in records(url) if r["action"] == action]


async def ticket(client: Any, path: str = T1001, headers: dict[str, str] = AGENT) -> Any:
    resp = await client.get(path, headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["ticket"]


async def reveal(client: Any, token: str, ticket_id: str = "1001", reason: str = REASON,
                 headers: dict[str, str] = AGENT) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/_redactor/reveal", headers=headers,
                             json={"token": token, "ticket_id": ticket_id, "reason": reason})
    return resp.status, await resp.json()


async def close(client: Any) -> None:
    await client.close()  # runs the app's cleanup: stop record, final drain


# -- vault tokens and re-hydration -----------------------------------------------------------

async def test_tokens_round_trip_through_a_comment_post(make_proxy, upstream, gov, clock):
    client = await make_proxy(policy=governed_policy(), plugins=[governance_plugin(clock=clock)],
                              **gov)
    t = await ticket(client)
    email, name = t["via"]["source"]["from"]["address"], t["via"]["source"]["from"]["name"]
    assert TOKEN_RE.fullmatch(email) and email.startswith("<EMAIL_ADDRESS_")
    assert TOKEN_RE.fullmatch(name) and name.startswith("<PERSON_")
    phone = t["description"].rsplit(" or ", 1)[1].rstrip(".")
    assert t["description"] == (f"Hello, my card <CREDIT_CARD> was charged twice. Reach me at "
                                f"{email} or {phone}.")  # the same value, the same token
    assert (await ticket(client))["via"]["source"]["from"]["address"] == email  # and again
    other = (await ticket(client, "/api/v2/tickets/1002.json"))["requester"]["email"]
    assert other.startswith("<EMAIL_ADDRESS_") and other != email

    reply = f"Dear customer, we wrote to {email} and will call {phone}. Not ours: {other}."
    resp = await client.post("/api/v2/tickets/1001/comments.json", headers=AGENT,
                             json={"comment": {"body": reply, "public": True}})
    assert resp.status == 201
    posted = upstream.app[fake_crm.POSTED]
    assert [p["body"] for p in posted] == [
        f"Dear customer, we wrote to maria.gonzalez@example.com and will call 415-555-0132. "
        f"Not ours: {other}."]  # another ticket's token stays a token
    assert (await resp.json())["comment"]["body"] == reply  # redacted again: the same tokens

    resp = await client.post("/api/v2/tickets/1001/comments.json", data=gzip.compress(b"{}"),
                             headers={**AGENT, "Content-Encoding": "gzip",
                                      "Content-Type": "application/json"})
    assert resp.status == 415 and len(posted) == 1  # nothing forwarded
    await close(client)

    (rehydrate,) = by_action(gov["audit_store"], "rehydrate")
    assert rehydrate["entities"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    assert rehydrate["detail"] == {"unresolved": 1}
    assert rehydrate["resource"] == {"method": "POST", "path": "/api/v2/tickets/{id}/comments.json",
                                     "ticket_id": "1001"}
    assert rehydrate["actor"] == "30001" and rehydrate["outcome"] == "ok"


async def test_tokens_are_the_same_from_every_worker_process(make_proxy, gov, clock):
    client = await make_proxy(policy=governed_policy(), plugins=[governance_plugin(clock=clock)],
                              workers=2, inline_max_bytes=0, cache_bytes=0, **gov)
    import asyncio

    bodies = await asyncio.gather(*(client.get("/api/v2/tickets/1005.json", headers=AGENT)
                                    for _ in range(6)))
    texts = {await b.text() for b in bodies}
    assert len(texts) == 1
    t = orjson.loads(texts.pop())["ticket"]
    assert t["requester"]["email"] == t["comments"][0]["via"]["source"]["from"]["address"]
    rows = client.server.app[GOVERNANCE].vault.store.raw_rows()
    assert sorted(r.entity_type for r in rows) == ["EMAIL_ADDRESS", "PERSON", "PERSON", "PHONE_NUMBER"]
    await close(client)


async def test_missing_vault_key_is_a_startup_error(make_proxy, tmp_path, monkeypatch):
    monkeypatch.delenv("REDACTOR_VAULT_KEY", raising=False)
    with pytest.raises(VaultKeyError, match="--vault-key-file FILE or set REDACTOR_VAULT_KEY"):
        await make_proxy(policy=governed_policy(), plugins=[governance_plugin()],
                         audit_store=f"sqlite://{tmp_path}/audit.db")


async def test_cli_refuses_to_start_without_the_vault_key(tmp_path, monkeypatch, capsys):
    from redactor.cli import main

    monkeypatch.delenv("REDACTOR_VAULT_KEY", raising=False)
    code = main(["proxy", "--upstream", "http://127.0.0.1:9", "--workers", "0",
                 "--policy", str(Path(__file__).parents[2] / "proxy" / "zendesk-governed.yaml"),
                 "--audit-store", f"sqlite://{tmp_path}/audit.db"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no vault key is configured" in err and "redactor vault keygen --out FILE" in err
    assert not (tmp_path / "audit.db").exists()


# -- reveal -----------------------------------------------------------------------------------

async def test_reveal_allowed_and_each_denial_rule(make_proxy, gov, clock, caplog):
    policy = governed_policy(anomaly={"block": []})  # closed tickets may be opened here
    client = await make_proxy(policy=policy, plugins=[governance_plugin(clock=clock)], **gov)
    t = await ticket(client)
    email, name = t["via"]["source"]["from"]["address"], t["via"]["source"]["from"]["name"]
    other = (await ticket(client, "/api/v2/tickets/1002.json"))["requester"]["email"]

    status, body = await reveal(client, email)
    assert status == 200
    assert body["value"] == "maria.gonzalez@example.com" and body["entity_type"] == "EMAIL_ADDRESS"
    status, body = await reveal(client, name, headers=SUPERVISOR)
    assert (status, body["value"]) == (200, "Maria Gonzalez")

    denials = []
    for kwargs in ({"token": email, "reason": "   short  "},
                   {"token": name},
                   {"token": other},
                   {"token": email, "headers": OTHER_AGENT}):
        status, body = await reveal(client, **kwargs)
        assert status == 403 and "value" not in body
        denials.append(body["rule"])
    await ticket(client, "/api/v2/tickets/1001.json", headers=OTHER_AGENT)  # not theirs
    status, body = await reveal(client, email, headers=OTHER_AGENT)
    denials.append(body["rule"])
    closed = (await ticket(client, "/api/v2/tickets/2002.json"))["requester"]["email"]
    status, body = await reveal(client, closed, ticket_id="2002")
    denials.append(body["rule"])
    clock.tick(901)  # the view of 1001 is older than view_window_s
    status, body = await reveal(client, email)
    assert body == {"error": "open the ticket first (within 900 s of the reveal)",
                    "rule": "viewed_recently", "request_id": body["request_id"]}
    denials.append(body["rule"])
    assert denials == ["reason_required", "role_may_reveal", "token_in_ticket", "viewed_recently",
                       "assigned_to_agent", "ticket_open", "viewed_recently"]

    resp = await client.post("/_redactor/reveal", headers=AGENT, json={"token": email})
    assert resp.status == 400 and (await resp.json())["error"] == \
        "missing or not a string: ticket_id, reason"
    resp = await client.post("/_redactor/reveal", json={"token": email, "ticket_id": "1001",
                                                        "reason": REASON})
    assert resp.status == 401
    status, body = await reveal(client, email, ticket_id="10/../01")
    assert (status, body["error"]) == (400, "ticket_id: 1 to 64 letters, digits, '.', '_' or '-'")
    resp = await client.post("/_redactor/reveal", headers=AGENT, data=b"[" * 20_000)
    assert (resp.status, (await resp.json())["error"]) == (400, "the request body exceeds 16384 bytes")
    # a raw value where the token belongs: refused before anything is recorded
    status, body = await reveal(client, "maria.gonzalez@example.com")
    assert (status, body["error"]) == (
        400, "token: a vault token as shown in the ticket, e.g. <EMAIL_ADDRESS_7K3P9Q>")
    await close(client)
    reveal_lines = [r.fields for r in caplog.records  # type: ignore[attr-defined]
                    if r.name == "redactor.proxy.access" and r.fields["route"] == "/_redactor/reveal"]
    assert [f["status"] for f in reveal_lines][:2] == [200, 200]  # reveals get access-log lines
    assert not any("maria" in str(f) for f in reveal_lines)
    from redactor.audit import export
    assert b"maria.gonzalez" not in b"".join(x.encode() if isinstance(x, str) else x
                                             for x in export(gov["audit_store"]))

    url = gov["audit_store"]
    assert [(r["actor"], r["role"], r["detail"]["entity_type"], r["detail"]["reason"])
            for r in by_action(url, "reveal")] == [("30001", "agent", "EMAIL_ADDRESS", REASON),
                                                   ("30001", "supervisor", "PERSON", REASON)]
    assert [r["detail"]["rule"] for r in by_action(url, "reveal_denied")] == denials
    assert all(r["outcome"] == "denied" and r["entities"] == {}
               for r in by_action(url, "reveal_denied"))


# -- anomaly flags -----------------------------------------------------------------------------

async def test_off_shift_flag_blocks_before_the_upstream(make_proxy, upstream, gov, clock):
    policy = governed_policy(anomaly={"shift": {"start": "06:00", "end": "22:00"},
                                      "block": ["off_shift"]})
    client = await make_proxy(policy=policy, plugins=[governance_plugin(clock=clock)], **gov)
    clock.now = at(3)
    resp = await client.post("/api/v2/tickets/1001/comments.json", headers=AGENT,
                             json={"comment": {"body": "night shift note"}})
    assert resp.status == 403
    assert (await resp.json())["rule"] == "anomaly:off_shift"
    assert upstream.app[fake_crm.POSTED] == []
    clock.now = at(9)
    assert (await client.post("/api/v2/tickets/1001/comments.json", headers=AGENT,
                              json={"comment": {"body": "day note"}})).status == 201
    metrics = await (await client.get("/_redactor/metrics")).text()
    assert 'redactor_proxy_anomaly_flags_total{blocked="true",kind="off_shift"} 1.0' in metrics
    await close(client)
    (flag,) = by_action(gov["audit_store"], "anomaly")
    assert flag["detail"] == {"kind": "off_shift", "local_time": "Wed 03:00"}
    assert flag["outcome"] == "blocked" and flag["resource"]["ticket_id"] == "1001"


async def test_volume_flag_against_the_agents_own_baseline(make_proxy, gov, clock):
    volume = {"bucket_s": 60, "warmup_buckets": 3, "min_count": 5, "threshold_sd": 3.0,
              "min_sd": 1.0, "min_ratio": 3.0}
    client = await make_proxy(policy=governed_policy(anomaly={"volume": volume}),
                              plugins=[governance_plugin(clock=clock)], **gov)
    clock.now = at(10)
    for _ in range(3):  # three minutes of 2 requests each: the baseline
        for _ in range(2):
            assert (await client.get("/api/v2/users.json", headers=AGENT)).status == 200
        clock.tick(60)
    for _ in range(7):  # then 7 in one minute: flagged once, at the 6th
        assert (await client.get("/api/v2/users.json", headers=AGENT)).status == 200
    await close(client)
    (flag,) = by_action(gov["audit_store"], "anomaly")
    assert flag["detail"] == {"kind": "volume", "count": 6, "mean": 2.0, "sd": 0.0, "limit": 5.0,
                              "bucket_s": 60.0}
    assert flag["outcome"] == "flagged" and flag["actor"] == "30001"


async def test_ticket_state_flags_not_assigned_and_closed(make_proxy, gov, clock):
    client = await make_proxy(policy=governed_policy(), plugins=[governance_plugin(clock=clock)],
                              **gov)
    assert (await client.get("/api/v2/tickets/2003.json", headers=AGENT)).status == 200
    resp = await client.get("/api/v2/tickets/2002.json", headers=AGENT)  # closed: blocked
    assert resp.status == 403
    body = await resp.json()
    assert set(body) == {"error", "request_id", "rule"} and body["rule"] == "anomaly:closed_ticket"
    metrics = await (await client.get("/_redactor/metrics")).text()
    assert 'redactor_proxy_anomaly_flags_total{blocked="false",kind="not_assigned"} 1.0' in metrics
    assert 'redactor_proxy_anomaly_flags_total{blocked="true",kind="closed_ticket"} 1.0' in metrics
    await close(client)
    url = gov["audit_store"]
    assert [(r["detail"]["kind"], r["resource"]["ticket_id"], r["outcome"])
            for r in by_action(url, "anomaly")] == [("not_assigned", "2003", "flagged"),
                                                    ("closed_ticket", "2002", "blocked")]
    assert [(r["resource"]["ticket_id"], r["detail"]) for r in by_action(url, "view")] == [
        ("2003", {"assigned": False, "closed": False})]  # the blocked body was not a view


async def test_reveal_burst_is_flagged_and_blocked(make_proxy, gov, clock):
    anomaly = {"reveal_burst": {"max_reveals": 2, "window_s": 600}, "block": ["reveal_burst"]}
    client = await make_proxy(policy=governed_policy(anomaly=anomaly),
                              plugins=[governance_plugin(clock=clock)], **gov)
    email = (await ticket(client))["via"]["source"]["from"]["address"]
    results = []
    for _ in range(3):
        status, body = await reveal(client, email)
        results.append((status, body.get("rule")))
        clock.tick(10)
    assert results == [(200, None), (200, None), (403, "anomaly_blocked")]
    await close(client)
    (flag,) = by_action(gov["audit_store"], "anomaly")
    assert flag["detail"] == {"kind": "reveal_burst", "reveals": 3, "window_s": 600.0}
    assert flag["outcome"] == "blocked"


async def test_a_normal_working_day_raises_no_flag(make_proxy, upstream, gov, clock):
    """One agent's day, 08:00-16:30, with the governed policy's default thresholds: ticket
    views, comment lists, replies and a few reveals, in bursts and lulls."""
    client = await make_proxy(policy=governed_policy(), plugins=[governance_plugin(clock=clock)],
                              **gov)
    rng = random.Random(7)
    clock.now = at(8)
    requests = 0
    while clock.now < at(16, 30):
        tid = rng.choice([1001] + list(range(1010, 1060)))
        t = await ticket(client, f"/api/v2/tickets/{tid}.json")
        requests += 1
        if tid == 1001:
            assert (await client.get("/api/v2/tickets/1001/comments.json", headers=AGENT)).status == 200
            requests += 1
        if rng.random() < 0.5:
            email = t["requester"]["email"] if "requester" in t else \
                t["via"]["source"]["from"]["address"]
            resp = await client.post(f"/api/v2/tickets/{tid}/comments.json", headers=AGENT,
                                     json={"comment": {"body": f"Hello {email}, done."}})
            assert resp.status == 201
            requests += 1
        if rng.random() < 0.05:
            status, _ = await reveal(client, t.get("requester", {}).get("email") or
                                     t["via"]["source"]["from"]["address"], str(tid))
            assert status == 200
            requests += 1
        clock.tick(rng.choice([20, 40, 60, 90, 180, 300, 600]))
    await close(client)
    assert requests > 150
    assert by_action(gov["audit_store"], "anomaly") == []


# -- the audit trail ---------------------------------------------------------------------------

async def test_audit_verify_passes_after_a_session(make_proxy, gov, clock, tmp_path):
    generate_keys(tmp_path / "keys")
    settings = {**gov, "audit_hmac_key_file": str(tmp_path / "keys" / HMAC_FILE),
                "audit_signing_key_file": str(tmp_path / "keys" / "audit-signing.pem"),
                "audit_checkpoint_every": 3}
    client = await make_proxy(policy=governed_policy(), plugins=[governance_plugin(clock=clock)],
                              **settings)
    t = await ticket(client)
    email = t["via"]["source"]["from"]["address"]
    assert (await client.post("/api/v2/tickets/1001/comments.json", headers=AGENT,
                              json={"comment": {"body": f"to {email}"}})).status == 201
    assert (await reveal(client, email))[0] == 200
    assert (await reveal(client, email, reason=""))[0] == 403
    await close(client)
    url = gov["audit_store"]
    report = verify(url, key=load_hmac_key(tmp_path / "keys" / HMAC_FILE),
                    public_key=load_public_key(tmp_path / "keys" / PUBLIC_FILE))
    assert report.records == 8 and report.hmac_checked and report.signatures_checked
    assert report.checkpoints >= 3 and report.last_checkpoint == 8
    assert [r["action"] for r in records(url)] == [
        "start", "policy_load", "view", "rehydrate", "view", "reveal", "reveal_denied", "stop"]
    assert [r["seq"] for r in records(url)] == list(range(1, 9))


async def test_store_outage_spools_views_and_fails_reveals_closed(make_proxy, upstream, gov, clock,
                                                                 tmp_path):
    switch = Switch()
    url = gov["audit_store"]
    plugin = governance_plugin(clock=clock, audit_store_factory=lambda: FlakyStore(url, switch))
    client = await make_proxy(policy=governed_policy(), plugins=[plugin], **gov)
    trail = client.server.app[GOVERNANCE].trail
    email = (await ticket(client))["via"]["source"]["from"]["address"]
    trail.flush()
    switch.down = True
    assert (await ticket(client))["via"]["source"]["from"]["address"] == email  # still served
    status, body = await reveal(client, email)
    assert status == 503 and "value" not in body
    assert body["error"] == "reveal withheld: the audit trail is unavailable"
    resp = await client.post("/api/v2/tickets/1001/comments.json", headers=AGENT,
                             json={"comment": {"body": f"to {email}"}})
    assert resp.status == 503 and upstream.app[fake_crm.POSTED] == []
    trail.flush()
    spool = Path(url[len("sqlite://"):] + ".spool")
    assert len(spool.read_bytes().splitlines()) == 1  # the second view waits there
    switch.down = False
    clock.tick(5)
    await ticket(client)
    trail.flush()
    assert spool.read_bytes() == b""
    metrics = await (await client.get("/_redactor/metrics")).text()
    assert 'redactor_proxy_audit_records_total{action="view",result="spooled"} 1.0' in metrics
    assert 'redactor_proxy_audit_records_total{action="rehydrate",result="failed"} 1.0' in metrics
    await close(client)
    assert verify(url).records == 6
    assert [(r["seq"], r["action"]) for r in records(url)] == [
        (1, "start"), (2, "policy_load"), (3, "view"), (4, "view"), (5, "view"), (6, "stop")]
    views = by_action(url, "view")
    assert views[1]["ts"] < views[2]["ts"]  # the spooled view kept its time and its place


async def test_no_raw_value_in_audit_records_logs_or_metrics(make_proxy, gov, clock, log_lines):
    client = await make_proxy(policy=governed_policy(), plugins=[governance_plugin(clock=clock)],
                              **gov)
    t = await ticket(client)
    email = t["via"]["source"]["from"]["address"]
    phone = t["description"].rsplit(" or ", 1)[1].rstrip(".")
    await client.get("/api/v2/tickets/1001/comments.json", headers=AGENT)
    await client.get("/tickets/1001/print", headers=AGENT)
    assert (await client.get("/attachments/receipt.png", headers=AGENT)).status == 200
    await client.post("/api/v2/tickets/1001/comments.json", headers=AGENT,
                      json={"comment": {"body": f"Dear {email}, re card 4111 1111 1111 1111"}})
    status, body = await reveal(client, email, reason="maria.gonzalez@example.com asked, 415-555-0132")
    assert status == 200 and body["value"] == "maria.gonzalez@example.com"
    await reveal(client, email, reason="Becker, Tom")
    await client.get("/api/v2/tickets/2002.json", headers=AGENT)
    metrics = await (await client.get("/_redactor/metrics")).text()
    await close(client)
    exported = "".join(export(gov["audit_store"]))
    reasons = [r["detail"]["reason"] for r in by_action(gov["audit_store"], "reveal")]
    assert reasons[0] == f"{email} asked, {phone}"  # the ticket's own tokens
    assert TOKEN_RE.fullmatch(reasons[1]) and reasons[1].startswith("<PERSON_")
    (attachment,) = [r for r in by_action(gov["audit_store"], "view")
                     if r["resource"]["path"] == "/attachments/{id}"]
    assert attachment["entities"] == {} and attachment["outcome"] == "ok"
    assert exported.count('"action":"reveal"') == 2
    for value in PLANTED:
        assert value not in exported
        assert value not in metrics
        assert not [line for line in log_lines if value in line]




@pytest.fixture
def pg_schemas() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL schemas (audit, vault), dropped after the test."""
    import psycopg

    need_pg()
    names = (f"a_{uuid.uuid4().hex[:12]}", f"v_{uuid.uuid4().hex[:12]}")
    yield names
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


async def test_postgresql_audit_and_vault_stores(make_proxy, upstream, gov, clock, tmp_path,
                                                 pg_schemas):
    audit, vault = (f"{PG_URL}?schema={s}" for s in pg_schemas)
    settings = {**gov, "audit_store": audit, "vault_store": vault,
                "audit_spool": str(tmp_path / "audit.spool")}
    client = await make_proxy(policy=governed_policy(), plugins=[governance_plugin(clock=clock)],
                              **settings)
    email = (await ticket(client))["via"]["source"]["from"]["address"]
    assert (await client.post("/api/v2/tickets/1001/comments.json", headers=AGENT,
                              json={"comment": {"body": f"to {email}"}})).status == 201
    assert upstream.app[fake_crm.POSTED][0]["body"] == "to maria.gonzalez@example.com"
    assert await reveal(client, email) == (200, {"token": email, "entity_type": "EMAIL_ADDRESS",
                                                 "value": "maria.gonzalez@example.com",
                                                 "request_id": ANY})
    await close(client)
    assert verify(audit).records == 7
    assert [r["action"] for r in records(audit)] == [
        "start", "policy_load", "view", "rehydrate", "view", "reveal", "stop"]


async def test_vault_failure_fails_rehydration_and_reveal_closed(make_proxy, upstream, gov, clock):
    client = await make_proxy(policy=governed_policy(), plugins=[governance_plugin(clock=clock)],
                              **gov)
    email = (await ticket(client))["via"]["source"]["from"]["address"]
    client.server.app[GOVERNANCE].vault.store.close()  # the vault database goes away
    resp = await client.post("/api/v2/tickets/1001/comments.json", headers=AGENT,
                             json={"comment": {"body": f"to {email}"}})
    assert resp.status == 503
    assert (await resp.json())["error"] == "request withheld: the token vault is unavailable"
    assert upstream.app[fake_crm.POSTED] == []
    status, body = await reveal(client, email)
    assert (status, body["error"]) == (503, "reveal withheld: the token vault is unavailable")
    await close(client)
    assert [r["action"] for r in records(gov["audit_store"])] == [
        "start", "policy_load", "view", "stop"]  # nothing was re-hydrated or revealed


async def test_a_vault_policy_without_governance_does_not_start(make_proxy):
    from redactor.proxy import ProxyError

    with pytest.raises(ProxyError, match="the policy issues vault tokens"):
        await make_proxy(policy=governed_policy())
