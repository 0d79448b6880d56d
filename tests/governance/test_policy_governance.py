"""The policy's ``governance`` section: parsed, validated with file lines, part of the hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from redactor import PolicyError, load_policy
from redactor.governance import (GovernancePolicy, rehydrate_ticket, ticket_id_from_path,
                                 ticket_state)

YAML = """\
extends: patterns_only
governance:
  tickets:
    path_patterns: ['^/api/v2/tickets/(?P<ticket_id>\\d+)']
    assignee: $.ticket.assignee_id
    status: $.ticket.status
  reveal:
    roles: {lead: ['*'], agent: [EMAIL_ADDRESS]}
    view_window_s: 600
  anomaly:
    shift: {start: '07:00', end: '19:00', timezone: Europe/Berlin}
    block: [closed_ticket]
  rehydrate:
    routes: [{method: post, path: '^/api/v2/tickets/(?P<ticket_id>\\d+)/comments$'}]
"""


def test_governance_section(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(YAML)
    policy = load_policy(path)
    g = policy.governance
    assert g.reveal.may_reveal("lead", "PERSON") and not g.reveal.may_reveal("agent", "PERSON")
    assert g.anomaly.block == ["closed_ticket"] and g.rehydrate.routes[0].method == "POST"
    assert ticket_id_from_path(g.tickets, "/api/v2/tickets/42/comments?x=1") == "42"
    assert ticket_id_from_path(g.tickets, "/api/v2/users/7") is None
    assert rehydrate_ticket(g.rehydrate, "POST", "/api/v2/tickets/42/comments") == "42"
    assert rehydrate_ticket(g.rehydrate, "GET", "/api/v2/tickets/42/comments") is None
    payload = {"ticket": {"assignee_id": 17, "status": "Solved"}}
    state = ticket_state(g.tickets, "42", payload, agent="17")
    assert (state.assigned, state.closed) == (True, True)
    assert ticket_state(g.tickets, "42", {"ticket": {}}, agent="17").assigned is None
    assert policy.hash != load_policy("patterns_only").hash


@pytest.mark.parametrize("snippet, key, line", [
    ("governance:\n  reveal:\n    rolez: {}\n", "governance.reveal.rolez", 3),
    ("governance:\n  tickets:\n    path_patterns: ['/t/(\\d+)']\n", "governance.tickets.path_patterns", 3),
    ("governance:\n  tickets:\n    assignee: ticket.assignee\n", "governance.tickets.assignee", 3),
    ("governance:\n  anomaly:\n    block: [all]\n", "governance.anomaly.block", 3),
    ("governance:\n  vault: {ttl_s: 0}\n", "governance.vault.ttl_s", 2),
])
def test_bad_governance_settings_name_key_and_line(tmp_path: Path, snippet: str, key: str,
                                                   line: int) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("extends: patterns_only\n" + snippet)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.key is not None and info.value.key.startswith(key)
    assert info.value.line == line + 1


def test_defaults_are_frozen_and_closed() -> None:
    g = GovernancePolicy()
    assert g.reveal.roles == {} and g.anomaly.block == []
    with pytest.raises(Exception):
        g.reveal.view_window_s = 1  # type: ignore[misc]


def test_exported_members() -> None:
    import redactor.audit
    import redactor.governance
    import redactor.vault

    for module in (redactor.audit, redactor.governance, redactor.vault):
        assert module.__all__ == sorted(module.__all__)
        assert all(hasattr(module, name) for name in module.__all__)
