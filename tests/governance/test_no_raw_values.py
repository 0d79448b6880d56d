"""Plant PII values, run every governance path, then grep every audit record, exported line,
spool and witness file, database file and log line for them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from redactor import Redactor, load_policy
from redactor.audit import AuditTrail, VerificationError, export, verify
from redactor.governance import (AccessEvent, AnomalyDetector, AnomalySettings, RevealPolicy,
                                 RevealRequest, RevealSettings, Revealer, TicketFields)
from redactor.operators import OperationContext
from redactor.vault import TokenScope, Vault, VaultKey

from .conftest import Clock
from .doubles import FlakyStore, Switch

EMAIL, PHONE = "zelda.quux@example.org", "+1 415 555 0142"
CARD, IBAN = "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00"
PLANTED = [EMAIL, "zelda.quux", PHONE, "4155550142", "555 0142", CARD, "4111111111111111",
           IBAN, "DE89370400440532013000"]


def test_no_planted_value_anywhere(tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    policy = load_policy({"extends": "patterns_only", "entities": {
        "EMAIL_ADDRESS": {"operator": {"type": "pseudonymize", "vault": True}},
        "PHONE_NUMBER": {"operator": {"type": "pseudonymize", "vault": True}}}})
    redactor = Redactor(policy)
    scrub = Redactor("patterns_only")
    url, spool, witness = f"sqlite://{tmp_path}/audit.db", tmp_path / "spool", tmp_path / "witness"
    switch = Switch()
    key, signer = b"h" * 32, Ed25519PrivateKey.generate()
    trail = AuditTrail(lambda: FlakyStore(url, switch), hmac_key=key, signing_key=signer,
                       checkpoint_every=3, spool_path=spool, witness_path=witness,
                       scrub=lambda s: scrub.redact(s).text, clock=clock, retry_s=1)
    vault = Vault.open(f"sqlite://{tmp_path}/vault.db", key=VaultKey(b"v" * 32), clock=clock)
    scope = TokenScope("acme", "42")
    seen: list[str] = []

    # A redacted view: tokens for email and phone, masks for the rest.
    ticket = f"From {EMAIL}, phone {PHONE}, card {CARD}, IBAN {IBAN}."
    (result,) = redactor.redact_many([ticket], ctx=OperationContext(vault=vault, scope=scope))
    seen.append(result.text)
    trail.record_view(actor="ann", role="agent", method="GET",
                      path=f"/api/tickets/42?email={EMAIL}", ticket_id="42",
                      entities=result.counts(), policy_hash=policy.hash, assigned=True, closed=False)

    # The agent replies with the tokens; the proxy re-hydrates on the way upstream.
    reply = vault.rehydrate(f"Dear customer, we wrote to {result.text}", scope)
    assert EMAIL in reply.text  # the value goes upstream, but only counts are audited
    trail.record_rehydration(actor="ann", role="agent", method="POST", path="/api/tickets/42/comments",
                             ticket_id="42", entities=reply.counts, unresolved=reply.unresolved)

    # A reveal with a reason that itself holds PII, and a denied one.
    token = result.text.split("From ", 1)[1].split(",", 1)[0]
    revealer = Revealer(RevealPolicy(RevealSettings(roles={"lead": ["*"]}), TicketFields()),
                        vault=vault, trail=trail, detector=AnomalyDetector(AnomalySettings()),
                        clock=clock)
    ok = revealer.reveal(RevealRequest("ann", "lead", "acme", "42", token,
                                       f"customer {EMAIL} asked us to call {PHONE}"))
    assert ok.value == EMAIL
    seen.append(repr(ok))
    denied = revealer.reveal(RevealRequest("bob", "agent", "acme", "42", token, f"for {EMAIL}"))
    seen.append(repr(denied))

    # Anomaly flags, then a store outage: views go to the spool.
    for flag in AnomalyDetector(AnomalySettings()).observe(
            AccessEvent(actor="ann", ticket_id="42", kind="view", closed=True, assigned=False)):
        trail.record_anomaly(kind=flag.kind, actor=flag.actor, role="agent",
                             ticket_id=flag.ticket_id, detail=flag.detail)
    switch.down = True
    assert trail.record_view(actor="ann", role="agent", method="GET", path="/api/tickets/42",
                             ticket_id="42", entities=result.counts(),
                             policy_hash=policy.hash).result(5).spooled
    seen.append(spool.read_text())
    switch.down = False
    clock.tick(2)
    trail.close()
    vault.close()

    report = verify(url, key=key, public_key=signer.public_key(), witness=witness)
    assert report.records == 7
    lines = list(export(url))
    assert len(lines) == 7 and "<EMAIL_ADDRESS>" in "".join(lines)  # the scrubbed reason
    seen += lines
    seen += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    for f in tmp_path.iterdir():
        seen.append(f.read_bytes().decode("latin-1"))

    # Error messages: a tampered store reports sequence numbers and reasons only.
    import sqlite3

    db = sqlite3.connect(url[len("sqlite://"):], isolation_level=None)
    db.execute("UPDATE audit_records SET body = replace(body, 'ann', 'eve') WHERE seq = 2")
    db.close()
    with pytest.raises(VerificationError) as info:
        verify(url, key=key)
    seen.append(str(info.value))

    blob = "\n".join(seen)
    for value in PLANTED:
        assert value not in blob, f"planted value found: {value[:4]}..."
