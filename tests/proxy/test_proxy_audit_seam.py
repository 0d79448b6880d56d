"""The governance seam: the audit trail plugs into the proxy through a response hook.

Not the governance feature itself (issue 6 wires it in the CLI); this pins that the hook
gives the audit trail everything a view record needs, and nothing it must not hold.
"""

from __future__ import annotations

import orjson
import pytest

from proxy_helpers import PLANTED
from redactor.audit import AuditTrail, export, verify
from redactor.proxy import POLICY, RESPONSE_HOOKS

pytestmark = pytest.mark.asyncio


async def test_views_recorded_through_response_hook(make_proxy, tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    trail = AuditTrail(url, spool_path=tmp_path / "audit.spool")

    def audit_plugin(app):
        async def record_view(ctx, response):
            trail.record_view(actor=ctx.agent_id or "anonymous", role=ctx.role, method=ctx.method,
                              path=ctx.route, ticket_id=ctx.ticket_id, entities=response.counts,
                              policy_hash=ctx.policy_hash, request_id=ctx.request_id)
        app[RESPONSE_HOOKS].append(record_view)

    client = await make_proxy(plugins=[audit_plugin])
    resp = await client.get("/api/v2/tickets/1001.json",
                            headers={"X-Agent-Id": "agent-7", "X-Agent-Role": "billing"})
    assert resp.status == 200
    trail.flush()
    trail.close()
    assert verify(url).records >= 1
    records = [orjson.loads(line) for line in export(url)]
    views = [r for r in records if r.get("action") == "view"]
    assert len(views) == 1
    view = views[0]
    text = orjson.dumps(view).decode()
    assert view["request_id"] == resp.headers["X-Request-Id"]
    assert view["policy"] == client.server.app[POLICY].hash
    assert "1001" in text and "agent-7" in text and "CREDIT_CARD" in text
    for value in PLANTED:
        assert value not in text
