"""Health, readiness, metrics, structured logs, configuration and the command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import orjson
import pydantic
import pytest

from proxy_helpers import PLANTED, ROOT

AGENT = {"X-Agent-Id": "agent-7", "Accept-Encoding": "identity"}


@pytest.mark.asyncio
async def test_healthz_readyz(make_proxy, unused_tcp_port):
    client = await make_proxy()
    assert (await client.get("/_redactor/healthz")).status == 200
    resp = await client.get("/_redactor/readyz")
    doc = await resp.json()
    assert resp.status == 200 and doc["status"] == "ready" and len(doc["policy_hash"]) == 64
    down = await make_proxy(upstream_url=f"http://127.0.0.1:{unused_tcp_port}")
    resp = await down.get("/_redactor/readyz")
    assert resp.status == 503
    assert (await resp.json())["reasons"] == ["upstream is not reachable"]


@pytest.mark.asyncio
async def test_readyz_counts_workers(make_proxy, patterns_pool):
    client = await make_proxy(pool=patterns_pool)
    doc = await (await client.get("/_redactor/readyz")).json()
    assert doc["workers"] >= 0  # may be respawning after the fault tests
    assert "no redaction worker is ready" in doc["reasons"] or doc["workers"] == 1


@pytest.mark.asyncio
async def test_metrics(make_proxy):
    client = await make_proxy()
    await client.get("/api/v2/tickets/1001.json", headers=AGENT)
    await client.get("/api/v2/tickets/1001.json", headers=AGENT)  # a cache hit
    await client.get("/attachments/invoice.pdf", headers=AGENT)
    resp = await client.get("/_redactor/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'redactor_proxy_requests_total{kind="json",status="200"} 2.0' in text
    assert 'redactor_proxy_requests_total{kind="refused",status="403"} 1.0' in text
    assert 'redactor_proxy_findings_total{entity_type="EMAIL_ADDRESS"} 6.0' in text
    assert "redactor_proxy_upstream_seconds_bucket" in text
    assert 'redactor_proxy_redaction_seconds_count{kind="json"} 1.0' in text
    assert "redactor_proxy_cache_hits_total 1.0" in text
    assert 'redactor_proxy_body_bytes_total{direction="upstream"}' in text
    for value in PLANTED:
        assert value not in text


@pytest.mark.asyncio
async def test_one_json_log_line_per_request(make_proxy, log_lines):
    client = await make_proxy()
    resp = await client.get("/api/v2/tickets/1001.json?requester=maria.gonzalez@example.com",
                            headers=AGENT)
    assert resp.status == 200
    await client.get("/malformed.json", headers=AGENT)
    access = [json.loads(line) for line in log_lines if '"redactor.proxy.access"' in line]
    assert len(access) == 2
    ok, failed = access
    assert ok["request_id"] == resp.headers["X-Request-Id"]
    assert ok["route"] == "/api/v2/tickets/{id}" and ok["method"] == "GET"
    assert ok["status"] == 200 and ok["kind"] == "json" and ok["agent_id"] == "agent-7"
    assert ok["counts"] == {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 3, "PERSON": 1, "PHONE_NUMBER": 1,
                            "US_SSN": 1}
    assert ok["upstream_ms"] > 0 and ok["redaction_ms"] > 0 and ok["total_ms"] >= ok["upstream_ms"]
    assert failed["status"] == 502 and failed["fail_reason"] == "redaction_failed"


def test_path_template():
    from redactor.proxy.context import path_template
    assert path_template("/api/v2/tickets/123/comments.json") == "/api/v2/tickets/{id}/comments.json"
    assert path_template("/api/v2/users/jane@example.com") == "/api/v2/users/{id}"
    assert path_template("/search?q=jane") == "/search"
    assert path_template("/a/%4a%61ne") == "/a/{id}"
    assert path_template("/users/maria") == "/users/{id}"  # a first name
    assert path_template("/people/maria-gonzalez") == "/people/{id}"
    assert path_template("/users/Maria.Gonzalez") == "/users/{id}"
    assert path_template("/attachments/maria_gonzalez_invoice.pdf") == "/attachments/{id}"
    assert path_template("/api/v2/time_entries.json") == "/api/v2/time_entries.json"


def test_config_sources_and_errors(tmp_path):
    from redactor.proxy import ConfigError, load_config
    f = tmp_path / "proxy.yaml"
    f.write_text("upstream: http://crm.internal\nworkers: 3\nmax_body_bytes: 2048\n")
    c = load_config(file=str(f), env={"REDACTOR_WORKERS": "2"}, overrides={"listen": "0.0.0.0:9000"})
    assert (c.upstream, c.workers, c.max_body_bytes, c.listen_port) == ("http://crm.internal", 2, 2048, 9000)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        c.workers = 5  # type: ignore[misc]
    f.write_text("upstream: http://crm.internal\nmax_body_byte: 5\n")
    with pytest.raises(ConfigError, match=r"key 'max_body_byte': unknown key; did you mean 'max_body_bytes'\?"):
        load_config(file=str(f), env={})
    with pytest.raises(ConfigError, match="env:REDACTOR_WORKERS: key 'workers'"):
        load_config(env={"REDACTOR_UPSTREAM": "http://x", "REDACTOR_WORKERS": "many"})
    with pytest.raises(ConfigError, match="key 'upstream': is required"):
        load_config(env={})
    with pytest.raises(ConfigError, match="http:// or https://"):
        load_config(env={}, overrides={"upstream": "ftp://x"})
    with pytest.raises(ConfigError, match="not found"):
        load_config(file=str(tmp_path / "missing.yaml"), env={})


def test_codecs_choose_encoding():
    from redactor.proxy.codecs import choose_encoding, classify, upstream_accept_encoding
    assert choose_encoding("gzip, br", "br") == "br"
    assert choose_encoding("gzip", "br") == "gzip"
    assert choose_encoding("identity", "gzip") is None
    assert choose_encoding("gzip", None) is None
    assert choose_encoding("br;q=0, gzip;q=0.5", "br") == "gzip"
    assert upstream_accept_encoding(None) == "identity"
    assert upstream_accept_encoding("gzip, zstd") == "gzip"
    assert classify("application/vnd.api+json", ["image/*"]).kind.value == "json"
    assert classify("text/xml", ["image/*"]).refused
    assert classify(None, ["image/*"]).rule == "proxy.passthrough_types does not list (no Content-Type)"
    assert classify("application/json", ["*/*"]).kind.value == "json"  # cannot be waved through


def _proxy_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "redactor.cli", "proxy", *args]


def test_cli_bad_config_exits_2():
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDACTOR_")}
    out = subprocess.run(_proxy_command("--workers", "1"), env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2
    assert "key 'upstream': is required" in out.stderr


@pytest.mark.asyncio
async def test_cli_starts_and_redacts(upstream, unused_tcp_port, tmp_path):
    """`redactor proxy` in front of the fake CRM, as the README shows, with one worker."""
    import aiohttp
    import yaml
    policy = yaml.safe_load((ROOT / "proxy" / "zendesk.yaml").read_text())
    policy["extends"] = "patterns_only"
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDACTOR_")}
    env["REDACTOR_UPSTREAM"] = str(upstream.make_url("/")).rstrip("/")
    env["REDACTOR_TRUSTED_PEERS"] = "127.0.0.1, ::1"  # this test is the auth gateway
    from redactor.audit import generate_keys
    keys = tmp_path / "keys"
    generate_keys(keys)
    proc = await asyncio.create_subprocess_exec(
        *_proxy_command("--listen", f"127.0.0.1:{unused_tcp_port}", "--policy",
                        str(tmp_path / "policy.yaml"), "--workers", "1",
                        "--audit-store", f"sqlite://{tmp_path}/audit.db",
                        "--audit-witness", str(tmp_path / "witness.jsonl"),
                        "--audit-signing-key-file", str(keys / "audit-signing.pem")),
        env=env, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        record = orjson.loads(line)
        assert record["event"] == "listening" and record["listen"] == f"http://127.0.0.1:{unused_tcp_port}"
        assert len(record["policy_hash"]) == 64 and record["workers"] == 1
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{unused_tcp_port}/api/v2/tickets/1001.json",
                             headers={"X-Agent-Id": "a1"}) as resp:
                body = await resp.read()
        assert resp.status == 200 and b"<EMAIL_ADDRESS>" in body and b"maria" not in body
        proc.terminate()
        rest = (await asyncio.wait_for(proc.stderr.read(), 20)).decode()
        assert await proc.wait() == 0
        lines = [orjson.loads(x) for x in rest.splitlines() if x.startswith("{")]
        access = [x for x in lines if x["logger"] == "redactor.proxy.access"]
        assert len(access) == 1 and access[0]["route"] == "/api/v2/tickets/{id}"
        for value in PLANTED:
            assert value not in rest
        assert record["audit_store"] == f"sqlite://{tmp_path}/audit.db"
        from redactor.audit import export
        audit = [orjson.loads(x) for x in export(f"sqlite://{tmp_path}/audit.db")]
        assert [(r["action"], r["actor"]) for r in audit] == [
            ("start", None), ("policy_load", None), ("view", "a1"), ("stop", None)]
        assert audit[2]["resource"] == {"method": "GET", "path": "/api/v2/tickets/{id}",
                                        "ticket_id": "1001"}
        # stopped: the WAL is folded into the file, and the witness holds the last checkpoint
        wal = tmp_path / "audit.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0
        from redactor.audit import load_public_key, read_witness, verify
        witnessed = read_witness(tmp_path / "witness.jsonl")
        assert witnessed and witnessed[-1].sequence == 4
        report = verify(f"sqlite://{tmp_path}/audit.db", witness=tmp_path / "witness.jsonl",
                        public_key=load_public_key(keys / "audit-signing.pub.pem"))
        assert (report.records, report.witness_checkpoints > 0) == (4, True)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
