"""Reveal decisions (each rule) and the Revealer end to end with a vault and an audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import orjson
import pytest

from redactor.audit import AuditTrail, AuditWriteError, ViewFact, export, verify
from redactor.governance import (AnomalyDetector, AnomalySettings, RevealPolicy, RevealRequest,
                                 RevealSettings, Revealer, TicketFields)
from redactor.vault import TokenScope, Vault, VaultKey

from .conftest import Clock

NOW = 1_780_000_000.0
TICKETS = TicketFields(assignee="$.ticket.assignee_id", status="$.ticket.status")
SETTINGS = RevealSettings(roles={"lead": ["*"], "agent": ["EMAIL_ADDRESS"]}, view_window_s=600)
TOKEN = "<EMAIL_ADDRESS_7K3P9Q>"


def request(**kw: str) -> RevealRequest:
    base = dict(actor="ann", role="agent", tenant="acme", ticket_id="42", token=TOKEN,
                reason="customer asked to confirm the address")
    base.update(kw)
    return RevealRequest(**base)  # type: ignore[arg-type]


def decide(req: RevealRequest | None = None, *, found: bool = True,
           view: ViewFact | None = ViewFact(NOW - 60, True, False),
           policy: RevealPolicy = RevealPolicy(SETTINGS, TICKETS)) -> str | None:
    req = req or request()
    etype = req.token[1:].rsplit("_", 1)[0] if req.token.startswith("<") else None
    d = policy.decide(req, entity_type=etype, token_found=found, view=view, now=NOW)
    assert d.allowed == (d.rule is None)
    return d.rule


@pytest.mark.parametrize("case, rule", [
    (dict(), None),
    (dict(reason="   "), "reason_required"),
    (dict(role="agent", token="<PERSON_7K3P9Q>"), "role_may_reveal"),
    (dict(role="intern"), "role_may_reveal"),
    (dict(token="not a token"), "role_may_reveal"),
    (dict(role="lead", token="<PERSON_7K3P9Q>"), None),
])
def test_rules_on_the_request(case: dict[str, str], rule: str | None) -> None:
    assert decide(request(**case)) == rule


def test_rules_on_the_ticket() -> None:
    assert decide(found=False) == "token_in_ticket"
    assert decide(view=None) == "viewed_recently"
    assert decide(view=ViewFact(NOW - 601, True, False)) == "viewed_recently"
    assert decide(view=ViewFact(NOW - 599, False, False)) == "assigned_to_agent"
    assert decide(view=ViewFact(NOW - 1, None, False)) == "assigned_to_agent"  # unknown: deny
    assert decide(view=ViewFact(NOW - 1, True, True)) == "ticket_open"
    assert decide(view=ViewFact(NOW - 1, True, None)) == "ticket_open"
    # Without the fields in the policy, those two checks are not made.
    lax = RevealPolicy(SETTINGS, TicketFields())
    assert decide(view=ViewFact(NOW - 1, None, None), policy=lax) is None
    off = RevealPolicy(SETTINGS.model_copy(update={"require_assigned": False,
                                                   "require_open": False}), TICKETS)
    assert decide(view=ViewFact(NOW - 1, False, True), policy=off) is None


def test_no_role_may_reveal_by_default() -> None:
    assert decide(request(role="lead"), policy=RevealPolicy(RevealSettings(), TICKETS)) == \
        "role_may_reveal"


@pytest.fixture
def setup(tmp_path: Path, clock: Clock) -> Iterator[tuple[Revealer, Vault, AuditTrail, str]]:
    vault = Vault.open(f"sqlite://{tmp_path}/vault.db", key=VaultKey(b"\x05" * 32), clock=clock)
    url = f"sqlite://{tmp_path}/audit.db"
    trail = AuditTrail(url, clock=clock)
    detector = AnomalyDetector(AnomalySettings.model_validate(
        {"reveal_burst": {"max_reveals": 3, "window_s": 600}, "block": ["reveal_burst"]}), clock=clock)
    revealer = Revealer(RevealPolicy(SETTINGS, TICKETS), vault=vault, trail=trail,
                        detector=detector, policy_hash="ab" * 32, clock=clock)
    yield revealer, vault, trail, url
    trail.close()
    vault.close()


def test_revealer_end_to_end(setup: tuple[Revealer, Vault, AuditTrail, str], clock: Clock) -> None:
    revealer, vault, trail, url = setup
    token = vault.issue("EMAIL_ADDRESS", "dana@example.org", TokenScope("acme", "42"))
    req = request(token=token)
    denied = revealer.reveal(req)  # never viewed
    assert (denied.decision.rule, denied.value) == ("viewed_recently", None)
    trail.record_view(actor="ann", role="agent", method="GET", path="/api/tickets/42",
                      ticket_id="42", entities={"EMAIL_ADDRESS": 1}, policy_hash=None,
                      assigned=True, closed=False)
    clock.tick(30)
    ok = revealer.reveal(req, request_id="r-9")
    assert ok.decision.allowed and ok.value == "dana@example.org"
    assert "dana" not in repr(ok)
    other_ticket = revealer.reveal(request(token=token, ticket_id="43"))
    assert other_ticket.decision.rule == "token_in_ticket"
    trail.flush()
    rows = [orjson.loads(x) for x in export(url)]
    assert [(r["action"], r["detail"].get("rule")) for r in rows] == [
        ("reveal_denied", "viewed_recently"), ("view", None), ("reveal", None),
        ("reveal_denied", "token_in_ticket")]
    assert rows[2]["entities"] == {"EMAIL_ADDRESS": 1} and rows[2]["request_id"] == "r-9"
    assert rows[2]["detail"]["reason_chars"] == len(req.reason) and "reason" not in rows[2]["detail"]
    verify(url)


def test_reveal_burst_blocks(setup: tuple[Revealer, Vault, AuditTrail, str], clock: Clock) -> None:
    revealer, vault, trail, url = setup
    token = vault.issue("EMAIL_ADDRESS", "dana@example.org", TokenScope("acme", "42"))
    trail.record_view(actor="ann", role="agent", method="GET", path="/t/42", ticket_id="42",
                      entities={}, policy_hash=None, assigned=True, closed=False)
    rules = []
    for _ in range(5):
        clock.tick(5)
        rules.append(revealer.reveal(request(token=token)).decision.rule)
    assert rules == [None, None, None, "anomaly_blocked", None]  # flagged once per window
    trail.flush()
    actions = [orjson.loads(x)["action"] for x in export(url)]
    assert actions.count("anomaly") == 1


def test_reveal_fails_closed_when_audit_fails(setup: tuple[Revealer, Vault, AuditTrail, str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    revealer, vault, trail, _ = setup
    token = vault.issue("EMAIL_ADDRESS", "dana@example.org", TokenScope("acme", "42"))
    trail.record_view(actor="ann", role="agent", method="GET", path="/t/42", ticket_id="42",
                      entities={}, policy_hash=None, assigned=True, closed=False)

    def broken(*a: object, **k: object) -> None:
        raise AuditWriteError("store down")

    monkeypatch.setattr(trail, "record_reveal", broken)
    with pytest.raises(AuditWriteError):
        revealer.reveal(request(token=token))
