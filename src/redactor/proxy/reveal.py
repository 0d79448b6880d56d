"""``POST /_redactor/reveal``: one value behind a vault token, for a stated reason.

Request (JSON, at most 16 KiB)::

    {"token": "<EMAIL_ADDRESS_7K3P9Q>", "ticket_id": "1001", "reason": "customer asked ..."}

Answers (all JSON, ``Cache-Control: no-store``):

* 200 ``{"token", "entity_type", "value", "request_id"}`` when every rule of
  :class:`~redactor.governance.RevealPolicy` passes and the reveal is recorded;
* 403 ``{"error", "rule", "request_id"}``: the first rule that denied it
  (``reason_required``, ``role_may_reveal``, ``token_in_ticket``, ``viewed_recently``,
  ``assigned_to_agent``, ``ticket_open``, ``anomaly_blocked``); the denial is recorded;
* 400 a malformed request (not recorded: a ``token`` that is not token-shaped may be the
  raw value itself); 401 no agent identity; 404 the policy issues no vault tokens;
* 503 the audit trail or the vault is unavailable: nothing is revealed (fail closed).

The reason goes into the audit record *redacted* by the policy (run like a text body, in
the ticket's token scope, so a value the agent quotes appears as the ticket's token).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from ..governance import RevealRequest
from ..vault.tokens import TOKEN_RE
from .codecs import BodyKind
from .context import RequestContext
from .keys import CONTEXT, GOVERNANCE, RUNNER
from .pool import Job

__all__ = ["reveal_endpoint"]

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
_TICKET_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_NO_STORE = {"Cache-Control": "no-store"}


def _answer(status: int, ctx: RequestContext, **body: Any) -> web.Response:
    return web.json_response({**body, "request_id": ctx.request_id}, status=status,
                             headers=_NO_STORE)


def _field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and name == "ticket_id":
        return str(value)
    return value if isinstance(value, str) else None


async def _parse(request: web.Request) -> RevealRequest | str:
    """The request's fields, or what is wrong with it."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return f"the request body exceeds {MAX_BODY} bytes"
    body = b""
    while len(body) <= MAX_BODY:  # read() returns what has arrived, not the whole body
        chunk = await request.content.read(MAX_BODY + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > MAX_BODY:
        return f"the request body exceeds {MAX_BODY} bytes"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 'send JSON: {"token": ..., "ticket_id": ..., "reason": ...}'
    if not isinstance(data, dict):
        return 'send a JSON object: {"token": ..., "ticket_id": ..., "reason": ...}'
    token, ticket, reason = _field(data, "token"), _field(data, "ticket_id"), _field(data, "reason")
    missing = [n for n, v in (("token", token), ("ticket_id", ticket), ("reason", reason)) if v is None]
    if missing:
        return f"missing or not a string: {', '.join(missing)}"
    if not _TICKET_ID.match(ticket or ""):
        return "ticket_id: 1 to 64 letters, digits, '.', '_' or '-'"
    if TOKEN_RE.fullmatch((token or "").strip()) is None:
        # Not recorded: whatever was sent instead of a token may be the raw value itself.
        return "token: a vault token as shown in the ticket, e.g. <EMAIL_ADDRESS_7K3P9Q>"
    ctx = request[CONTEXT]
    gov = request.app[GOVERNANCE]
    assert token is not None and ticket is not None and reason is not None and ctx.agent_id
    return RevealRequest(actor=ctx.agent_id, role=ctx.role, tenant=gov.config.tenant,
                         ticket_id=ticket, token=token, reason=reason)


async def reveal_endpoint(request: web.Request) -> web.Response:
    """Decide, record and answer one reveal (see the module docstring)."""
    from ..audit import AuditError
    from ..vault import VaultError

    ctx = request[CONTEXT]
    ctx.kind = "reveal"
    gov = request.app[GOVERNANCE]
    if ctx.agent_id is None:
        return _answer(401, ctx, error="agent identity required")
    if gov.revealer is None:
        return _answer(404, ctx, error="this policy issues no vault tokens: nothing to reveal")
    parsed = await _parse(request)
    if isinstance(parsed, str):
        return _answer(400, ctx, error=parsed)
    ctx.ticket_id = parsed.ticket_id  # values quoted in the reason get the ticket's tokens
    redacted = await request.app[RUNNER].run(
        Job(BodyKind.TEXT, None, data=parsed.reason.encode("utf-8")), ctx)  # FailClosed: 502
    parsed = dataclasses.replace(parsed, reason=redacted.data.decode("utf-8"))
    loop = asyncio.get_running_loop()
    try:
        outcome = await loop.run_in_executor(
            None, partial(gov.revealer.reveal, parsed, request_id=ctx.request_id))
    except (AuditError, VaultError) as exc:  # unrecorded or unreadable: reveal nothing
        gov.metrics.reveals.labels("error", type(exc).__name__).inc()
        log.error("reveal withheld (%s), request %s", type(exc).__name__, ctx.request_id)
        ctx.fail_reason = "audit_unavailable" if isinstance(exc, AuditError) else "vault_unavailable"
        what = "audit trail" if isinstance(exc, AuditError) else "token vault"
        return _answer(503, ctx, error=f"reveal withheld: the {what} is unavailable")
    decision = outcome.decision
    if not decision.allowed:
        gov.metrics.reveals.labels("denied", decision.rule or "").inc()
        return _answer(403, ctx, error=decision.message, rule=decision.rule)
    gov.metrics.reveals.labels("allowed", "").inc()
    return _answer(200, ctx, token=parsed.token, entity_type=outcome.entity_type,
                   value=outcome.value)
