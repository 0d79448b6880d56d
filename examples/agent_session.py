"""An agent session through the governed proxy, end to end, on loopback.

Starts the fake Zendesk-style CRM (tests/fixtures/fake_crm.py) and ``redactor proxy`` with
proxy/zendesk-governed.yaml in this process, then, as agent 30001:

1. opens ticket 1001: names, e-mails and phones arrive as vault tokens;
2. posts a reply that uses two tokens: the proxy re-hydrates them on the way to the CRM;
3. reveals one e-mail address, giving a reason;
4. tries to reveal the customer's name: the role ``agent`` may not (403);
5. stops the proxy and runs ``redactor audit verify``: intact;
6. changes one byte of the SQLite audit store and verifies again: the record is named.

Every step prints its request and response. The output of a real run is in
docs/agent-session.md::

    .venv/bin/python examples/agent_session.py [--patterns-only] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

import fake_crm  # noqa: E402

from redactor import load_policy  # noqa: E402
from redactor.audit import generate_keys  # noqa: E402
from redactor.cli import main as redactor_cli  # noqa: E402
from redactor.proxy import create_app, governance_plugin, load_config  # noqa: E402
from redactor.vault import generate_key_file  # noqa: E402

POLICY = ROOT / "proxy" / "zendesk-governed.yaml"
AGENT = {"X-Agent-Id": "30001", "X-Agent-Role": "agent"}
Out = Callable[[str], None]


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def _request(out: Out, method: str, path: str, headers: dict[str, str], body: Any = None) -> None:
    out(f"> {method} {path}")
    for name, value in headers.items():
        out(f"> {name}: {value}")
    if body is not None:
        out(">")
        out("\n".join("> " + line for line in _json(body).splitlines()))


async def _response(out: Out, resp: aiohttp.ClientResponse) -> Any:
    body = await resp.json()
    out(f"< HTTP {resp.status}")
    out("\n".join("< " + line for line in _json(body).splitlines()))
    return body


def _cli(out: Out, args: list[str], shown: str) -> int:
    """Run ``redactor ARGS`` in this process, printing the command and what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = redactor_cli(args)
    out(f"$ {shown}")
    out(buffer.getvalue().rstrip())
    out(f"(exit status {code})")
    return code


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def flip_one_byte(db: Path, marker: bytes) -> tuple[int, int, int]:
    """Change the last character of ``marker`` (a hex id in one record) where it sits in
    the SQLite file; returns (offset, old byte, new byte)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:  # move the WAL into the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    offset = data.find(marker)
    if offset < 0:
        raise RuntimeError("the record is not in the main database file")
    offset += len(marker) - 1
    old = data[offset]
    data[offset] = ord("0") if old != ord("0") else ord("1")
    db.write_bytes(bytes(data))
    return offset, old, data[offset]


async def session(workdir: Path, *, patterns_only: bool = False, out: Out = print) -> dict[str, Any]:
    """Run the whole session; returns what each step gave (statuses, values, exit codes)."""
    generate_key_file(workdir / "vault.key", force=True)
    generate_keys(workdir / "keys", force=True)
    for name in ("audit.db", "audit.db-wal", "audit.db-shm", "audit.db.spool", "vault.db"):
        (workdir / name).unlink(missing_ok=True)
    audit_url = f"sqlite://{workdir}/audit.db"
    data = yaml.safe_load(POLICY.read_text())
    if patterns_only:
        data["extends"] = "patterns_only"
    # The agent works within their shift whenever this runs: without this, a run outside the
    # policy's shift hours (06:00-22:00 UTC) adds an ``off_shift`` anomaly record per request
    # and the trail below would depend on the time of day.
    data["governance"]["anomaly"].pop("shift", None)
    policy = load_policy(data)

    crm = fake_crm.make_app()
    crm_runner, crm_url = await _serve(crm)
    config = load_config(env={}, overrides={
        "upstream": crm_url, "workers": 0 if patterns_only else 1, "audit_store": audit_url,
        "audit_hmac_key_file": str(workdir / "keys" / "audit-hmac.key"),
        "audit_signing_key_file": str(workdir / "keys" / "audit-signing.pem"),
        "vault_store": f"sqlite://{workdir}/vault.db", "vault_key_file": str(workdir / "vault.key"),
        # this script plays the auth gateway: only loopback's identity headers are believed
        "identity": {"trusted_peers": ["127.0.0.1/32", "::1/128"]}})
    proxy_runner, proxy_url = await _serve(create_app(config, policy=policy,
                                                      plugins=[governance_plugin()]))
    result: dict[str, Any] = {}
    out(f"# fake CRM at {crm_url}; redactor proxy at {proxy_url}, policy {policy.name} "
        f"({'patterns only' if patterns_only else 'NER + patterns, 1 worker'})\n")
    try:
        async with aiohttp.ClientSession(proxy_url) as http:
            out("## 1. The agent opens ticket 1001: PII arrives as vault tokens\n")
            path = "/api/v2/tickets/1001.json"
            _request(out, "GET", path, AGENT)
            async with http.get(path, headers=AGENT) as resp:
                ticket = (await _response(out, resp))["ticket"]
                result["view_status"] = resp.status
            email = ticket["via"]["source"]["from"]["address"]
            name = ticket["via"]["source"]["from"]["name"]
            result.update(email_token=email, name_token=name)

            out("\n## 2. The agent replies with tokens; the proxy re-hydrates them upstream\n")
            path = "/api/v2/tickets/1001/comments.json"
            reply = {"comment": {"body": f"Dear {name}, the refund is on its way. We sent the "
                                         f"receipt to {email}.", "public": True}}
            _request(out, "POST", path, AGENT, reply)
            async with http.post(path, headers=AGENT, json=reply) as resp:
                await _response(out, resp)
                result["reply_status"] = resp.status
            received = crm[fake_crm.POSTED][-1]["body"]
            out("\nWhat the CRM received (the fake CRM's record of the comment):")
            out(f"    {received}")
            result["crm_received"] = received

            out("\n## 3. The agent reveals the e-mail address, with a reason\n")
            ask = {"token": email, "ticket_id": "1001",
                   "reason": "Customer called from 415-555-0132: which address did the "
                             "receipt go to?"}
            _request(out, "POST", "/_redactor/reveal", AGENT, ask)
            async with http.post("/_redactor/reveal", headers=AGENT, json=ask) as resp:
                body = await _response(out, resp)
                result["reveal"] = (resp.status, body.get("value"))

            out("\n## 4. The agent tries to reveal the customer's name: the role may not\n")
            ask = {"token": name, "ticket_id": "1001", "reason": "Want to greet them by name"}
            _request(out, "POST", "/_redactor/reveal", AGENT, ask)
            async with http.post("/_redactor/reveal", headers=AGENT, json=ask) as resp:
                body = await _response(out, resp)
                result["denied"] = (resp.status, body.get("rule"))
    finally:
        await proxy_runner.cleanup()  # the proxy stops: stop record, final signed checkpoint
        await crm_runner.cleanup()

    out("\n## 5. The audit trail: every step is a record; verify checks the chain\n")
    _cli(out, ["audit", "export", "--store", audit_url], f"redactor audit export --store {audit_url}")
    keys = ["--key-file", str(workdir / "keys" / "audit-hmac.key"),
            "--public-key", str(workdir / "keys" / "audit-signing.pub.pem")]
    shown = (f"redactor audit verify --store {audit_url} --key-file {workdir}/keys/audit-hmac.key "
             f"--public-key {workdir}/keys/audit-signing.pub.pem")
    out("")
    result["verify_before"] = _cli(out, ["audit", "verify", "--store", audit_url, *keys], shown)

    out("\n## 6. One byte of the SQLite file changes; verify names the record\n")
    export = io.StringIO()
    with contextlib.redirect_stdout(export):
        redactor_cli(["audit", "export", "--store", audit_url])
    reveal_record = next(json.loads(line) for line in export.getvalue().splitlines()
                         if json.loads(line)["action"] == "reveal")
    reveal_id = reveal_record["request_id"]
    offset, old, new = flip_one_byte(workdir / "audit.db", reveal_id.encode())
    out(f"byte {offset} of audit.db (in the request id of the reveal record, seq "
        f"{reveal_record['seq']}): {old:#04x} {chr(old)!r} -> {new:#04x} {chr(new)!r}\n")
    result["verify_after"] = _cli(out, ["audit", "verify", "--store", audit_url, *keys], shown)
    result["tampered_seq"] = reveal_record["seq"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns-only", action="store_true",
                        help="the policy on the patterns_only base (no spaCy; faster)")
    parser.add_argument("--workdir", help="where keys and stores go (default: a temporary dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="redactor-session-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(session(workdir, patterns_only=args.patterns_only))
    ok = result["verify_before"] == 0 and result["verify_after"] == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
