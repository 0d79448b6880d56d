"""Governance wired into the proxy: audit trail, vault tokens, re-hydration, anomaly flags.

``create_app(config, plugins=[governance_plugin()])`` (``redactor proxy`` does this unless
``--no-audit``) adds, for a config with ``audit_store`` set:

* a request hook: the ticket id from the policy's ``governance.tickets.path_patterns``,
  then volume and shift-hours anomaly flags (a blocking flag: 403 before the upstream);
* a request-body hook: on the policy's ``governance.rehydrate.routes``, vault tokens of
  *that* ticket in a JSON or text body become their values before it goes upstream. The
  re-hydration record is committed first; if it cannot be, or the vault fails: 503 and
  nothing is forwarded;
* a response hook: one ``view`` record per redacted response (and, with no counts, per
  pass-through body such as an image attachment) (queued, not awaited: the
  writer thread commits it, or spools it while the store is down), plus ``not_assigned``
  / ``closed_ticket`` flags from the ticket's state in the payload (blocking: 403, the
  redacted body is not sent either);
* ``POST /_redactor/reveal`` (:mod:`.reveal`);
* ``start``, ``policy_load`` and ``stop`` records around the app's life.

Every record holds counts by entity type, ids, rule names and route templates, never a
value. The ticket's state is read from the *redacted* payload, so the policy must keep the
assignee and status fields (``$..assignee_id``, ``$..status``: ``action: keep``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

import orjson
from aiohttp import web

from ..governance import (AccessEvent, AnomalyDetector, AnomalyFlag, RevealPolicy, Revealer,
                          TicketState, rehydrate_ticket, ticket_id_from_path, ticket_state)
from ..governance.settings import AnomalySettings
from .codecs import BodyKind, parse_content_type
from .config import ProxyConfig
from .context import RedactedResponse, RequestContext
from .errors import ConfigError
from .keys import (CONFIG, CONTEXT, GOVERNANCE, METRICS, POLICY, REQUEST_BODY_HOOKS, REQUEST_HOOKS,
                   RESPONSE_HOOKS, VAULT_SPEC)
from .metrics import GovernanceMetrics
from .vaulting import VaultSpec, load_vault_spec, policy_uses_vault

if TYPE_CHECKING:
    from ..audit import AuditStore, AuditTrail, Receipt
    from ..policy import Policy
    from ..vault import Vault

__all__ = ["Governance", "default_audit_store", "governance_plugin"]

log = logging.getLogger(__name__)

Plugin = Callable[[web.Application], None]
_STATES_MAX = 10_000


def default_audit_store(cwd: str | os.PathLike[str] | None = None) -> str:
    """``sqlite:///<cwd>/redactor-audit.db``: the CLI's default audit store."""
    return f"sqlite:///{Path(cwd or os.getcwd()).resolve() / 'redactor-audit.db'}"


def _default_vault_store() -> str:
    return f"sqlite:///{Path.cwd().resolve() / 'redactor-vault.db'}"


def _spool_path(config: ProxyConfig) -> str:
    from ..audit.errors import AuditStoreError
    from ..dburl import parse_db_url

    if config.audit_spool:
        return config.audit_spool
    assert config.audit_store is not None
    parsed = parse_db_url(config.audit_store, sqlite_params=frozenset({"synchronous"}),
                          error=AuditStoreError)
    if parsed.kind == "sqlite":
        return parsed.target + ".spool"
    return str(Path.cwd() / "redactor-audit.spool")


def _json(status: int, ctx: RequestContext, message: str, **extra: Any) -> web.HTTPException:
    """An HTTP error a hook raises (the proxy's short JSON error shape)."""
    body = orjson.dumps({"error": message, "request_id": ctx.request_id, **extra}).decode()
    cls: type[web.HTTPException] = {403: web.HTTPForbidden, 415: web.HTTPUnsupportedMediaType,
                                    503: web.HTTPServiceUnavailable}[status]
    return cls(text=body, content_type="application/json")


class MeteredDetector(AnomalyDetector):
    """An :class:`AnomalyDetector` that also counts its flags in the proxy's metrics."""

    def __init__(self, settings: AnomalySettings, metrics: GovernanceMetrics, *,
                 clock: Callable[[], float]) -> None:
        super().__init__(settings, clock=clock)
        self._metrics = metrics

    def count(self, flags: list[AnomalyFlag]) -> list[AnomalyFlag]:
        for flag in flags:
            self._metrics.anomaly_flags.labels(flag.kind, str(flag.blocking).lower()).inc()
        return flags

    def observe(self, event: AccessEvent) -> list[AnomalyFlag]:
        return self.count(super().observe(event))

    def ticket_flags(self, actor: str, ticket_id: str, *, assigned: bool | None,
                     closed: bool | None) -> list[AnomalyFlag]:
        return self.count(super().ticket_flags(actor, ticket_id, assigned=assigned, closed=closed))


@dataclass(frozen=True)
class _Options:
    clock: Callable[[], float]
    store_factory: Callable[[], AuditStore] | None
    retry_s: float


class Governance:
    """The governance state of one app; built by :func:`governance_plugin`.

    ``trail``, ``vault`` and ``revealer`` exist between the app's startup and cleanup
    (``vault`` and ``revealer`` only when the policy issues vault tokens).
    """

    def __init__(self, config: ProxyConfig, policy: Policy, metrics: GovernanceMetrics,
                 vault_spec: VaultSpec | None, options: _Options) -> None:
        self.config, self.policy, self.metrics = config, policy, metrics
        self.settings = policy.governance
        self.vault_spec = vault_spec
        self.clock = options.clock
        self._options = options
        self.detector = MeteredDetector(self.settings.anomaly, metrics, clock=options.clock)
        self.trail: AuditTrail | None = None
        self.vault: Vault | None = None
        self.revealer: Revealer | None = None
        # the last known (assigned, closed) of each (agent, ticket): a comments list or a
        # reply does not carry the ticket's state, the ticket's own payload does
        self._states: OrderedDict[tuple[str, str], tuple[bool | None, bool | None]] = OrderedDict()

    # -- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        """Open the audit trail and the vault (blocking; called in a thread at startup).

        Raises:
            AuditKeyError, AuditStoreError, VaultStoreError: a key or a store cannot be used.
        """
        from ..audit import AuditTrail, load_hmac_key, load_private_key

        c = self.config
        assert c.audit_store is not None
        hmac_key = load_hmac_key(c.audit_hmac_key_file) if c.audit_hmac_key_file else None
        signing = load_private_key(c.audit_signing_key_file) if c.audit_signing_key_file else None
        store: Any = self._options.store_factory or c.audit_store
        self.trail = AuditTrail(store, hmac_key=hmac_key, signing_key=signing,
                                checkpoint_every=c.audit_checkpoint_every,
                                checkpoint_interval_s=c.audit_checkpoint_interval_s,
                                spool_path=_spool_path(c), clock=self.clock,
                                witness_path=c.audit_witness_file,
                                retry_s=self._options.retry_s, scrub=_already_redacted)
        if self.vault_spec is not None:
            try:
                self.vault = self.vault_spec.open(self.clock)
            except BaseException:
                self.trail.close()
                raise
            self.revealer = Revealer(RevealPolicy(self.settings.reveal, self.settings.tickets),
                                     vault=self.vault, trail=self.trail, detector=self.detector,
                                     policy_hash=self.policy.hash, clock=self.clock)

    def close(self) -> None:
        """Record the stop, drain the queue, sign a final checkpoint, close the stores."""
        from ..audit import Action

        if self.trail is not None:
            self._watch("stop", self.trail.record_lifecycle(Action.STOP))
            self.trail.close()
        if self.vault is not None:
            self.vault.close()

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """The app's cleanup context: open, record start and policy load; at the end, close."""
        from .. import __version__
        from ..audit import Action

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.open)
        assert self.trail is not None
        self._watch("start", self.trail.record_lifecycle(
            Action.START, version=__version__, workers=self.config.workers,
            vault=self.vault is not None))
        self._watch("policy_load", self.trail.record_policy_load(policy_hash=self.policy.hash,
                                                                 name=self.policy.name))
        yield
        await loop.run_in_executor(None, self.close)

    def _watch(self, action: str, future: Future[Receipt]) -> None:
        """Count a queued record's fate; a failure is logged (it was neither written nor spooled)."""
        def done(f: Future[Receipt]) -> None:
            exc = f.exception()
            if exc is not None:
                self.metrics.audit_records.labels(action, "failed").inc()
                log.error("audit record (%s) was neither written nor spooled: %s", action, exc)
            else:
                self.metrics.audit_records.labels(action, "spooled" if f.result().spooled
                                                  else "written").inc()
        future.add_done_callback(done)

    # -- anomaly flags ----------------------------------------------------------------------

    def _flags(self, ctx: RequestContext, flags: list[AnomalyFlag]) -> None:
        """Record ``flags``; raise 403 when one of them blocks."""
        assert self.trail is not None
        for flag in flags:
            self._watch("anomaly", self.trail.record_anomaly(
                kind=flag.kind, actor=flag.actor, role=ctx.role, ticket_id=flag.ticket_id,
                detail=flag.detail, blocked=flag.blocking, method=ctx.method, path=ctx.route,
                request_id=ctx.request_id, policy_hash=self.policy.hash))
        blocking = [f.kind for f in flags if f.blocking]
        if blocking:
            ctx.fail_reason = "anomaly_blocked"
            raise _json(403, ctx, "request blocked by the access-anomaly policy",
                        rule=f"anomaly:{blocking[0]}")

    # -- hooks ------------------------------------------------------------------------------

    async def on_request(self, ctx: RequestContext, request: web.Request) -> None:
        """Ticket id from the policy's path patterns; volume / shift flags (may block)."""
        if self.settings.tickets.path_patterns:
            ctx.ticket_id = ticket_id_from_path(self.settings.tickets, request.path)
        event = AccessEvent(actor=ctx.agent_id or "anonymous", role=ctx.role,
                            ticket_id=ctx.ticket_id, kind="view" if ctx.ticket_id else "request")
        self._flags(ctx, self.detector.observe(event))

    async def on_request_body(self, ctx: RequestContext, request: web.Request,
                              body: bytes | None) -> bytes | None:
        """Re-hydrate the tokens of the route's ticket in ``body`` (fail closed: 503)."""
        ticket = rehydrate_ticket(self.settings.rehydrate, request.method, request.path)
        if ticket is None or not body or self.vault is None:
            return body
        coding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if coding not in ("", "identity"):
            raise _json(415, ctx, "a request body to re-hydrate must not be compressed")
        if b"<" not in body:
            return body
        media, _ = parse_content_type(request.headers.get("Content-Type"))
        loop = asyncio.get_running_loop()
        try:
            new, counts, unresolved = await loop.run_in_executor(
                None, self._rehydrate, body, media, ticket)
        except ValueError:
            raise _json(415, ctx, "the request body is not valid UTF-8 JSON or text") from None
        except Exception as exc:  # the vault failed: forward nothing
            log.error("re-hydration failed (%s); request %s withheld", type(exc).__name__,
                      ctx.request_id)
            ctx.fail_reason = "vault_unavailable"
            raise _json(503, ctx, "request withheld: the token vault is unavailable") from None
        if not counts and not unresolved:
            return body
        assert self.trail is not None
        try:
            await loop.run_in_executor(None, lambda: self.trail.record_rehydration(  # type: ignore[union-attr]
                actor=ctx.agent_id or "anonymous", role=ctx.role, method=ctx.method,
                path=ctx.route, ticket_id=ticket, entities=counts, unresolved=unresolved,
                policy_hash=self.policy.hash, request_id=ctx.request_id))
        except Exception as exc:  # AuditWriteError: the value must not go upstream unrecorded
            self.metrics.audit_records.labels("rehydrate", "failed").inc()
            log.error("re-hydration not recorded (%s); request %s withheld", type(exc).__name__,
                      ctx.request_id)
            ctx.fail_reason = "audit_unavailable"
            raise _json(503, ctx, "request withheld: the audit trail is unavailable") from None
        self.metrics.audit_records.labels("rehydrate", "written").inc()
        for etype, n in counts.items():
            self.metrics.rehydrated.labels(etype).inc(n)
        return new

    def _rehydrate(self, body: bytes, media: str, ticket: str) -> tuple[bytes, dict[str, int], int]:
        """(new body, counts by type, unresolved tokens); ``ValueError`` for a bad body."""
        from ..vault import TokenScope

        assert self.vault is not None
        scope = TokenScope(self.config.tenant, ticket)
        if media == "application/json" or media.endswith("+json"):
            result = self.vault.rehydrate_json(orjson.loads(body), scope)
            return orjson.dumps(result.value), result.counts, result.unresolved
        if media.startswith("text/"):
            text = self.vault.rehydrate(body.decode("utf-8"), scope)
            return text.text.encode("utf-8"), text.counts, text.unresolved
        return body, {}, 0  # other types are forwarded as they are, tokens and all

    async def on_response(self, ctx: RequestContext, response: RedactedResponse) -> None:
        """Ticket-state flags (a blocking one: 403, the body is not sent), then the view record."""
        actor = ctx.agent_id or "anonymous"
        assigned = closed = None
        if ctx.ticket_id is not None:
            state = self._payload_state(ctx.ticket_id, actor, response)
            if state is not None:
                self._flags(ctx, self.detector.ticket_flags(
                    actor, ctx.ticket_id, assigned=state.assigned, closed=state.closed))
            assigned, closed = self._known_state(actor, ctx.ticket_id, state)
        assert self.trail is not None
        started = time.perf_counter()
        future = self.trail.record_view(
            actor=actor, role=ctx.role, method=ctx.method, path=ctx.route, ticket_id=ctx.ticket_id,
            entities=response.counts, policy_hash=self.policy.hash, request_id=ctx.request_id,
            outcome=_outcome(response.status), assigned=assigned, closed=closed)
        self.metrics.audit_append_seconds.observe(time.perf_counter() - started)
        self._watch("view", future)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """A pass-through body (an attachment, not redactable) is a view too, with no counts."""
        ctx = request.get(CONTEXT)
        if ctx is None or ctx.kind != "passthrough" or self.trail is None:
            return
        self._watch("view", self.trail.record_view(
            actor=ctx.agent_id or "anonymous", role=ctx.role, method=ctx.method, path=ctx.route,
            ticket_id=ctx.ticket_id, entities={}, policy_hash=self.policy.hash,
            request_id=ctx.request_id, outcome=_outcome(response.status)))

    def _payload_state(self, ticket_id: str, actor: str,
                       response: RedactedResponse) -> TicketState | None:
        """The ticket's state in this (redacted JSON) payload; ``None`` when it shows none."""
        fields = self.settings.tickets
        if (fields.assignee is None and fields.status is None) or response.body is None \
                or response.kind is not BodyKind.JSON or response.status >= 400:
            return None
        try:
            payload = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            return None
        state = ticket_state(fields, ticket_id, payload, actor)
        return None if state.assigned is None and state.closed is None else state

    def _known_state(self, actor: str, ticket_id: str,
                     state: TicketState | None) -> tuple[bool | None, bool | None]:
        """This payload's state, its gaps filled from the agent's last view of the ticket."""
        key = (actor, ticket_id)
        known = self._states.get(key, (None, None))
        if state is None:
            return known
        merged = (state.assigned if state.assigned is not None else known[0],
                  state.closed if state.closed is not None else known[1])
        self._states[key] = merged
        self._states.move_to_end(key)
        while len(self._states) > _STATES_MAX:
            self._states.popitem(last=False)
        return merged


def _already_redacted(reason: str) -> str:
    """The reveal endpoint redacts the reason (with the policy) before the trail sees it."""
    return reason


def _outcome(status: int) -> Any:
    from ..audit import Outcome

    return Outcome.OK if status < 400 else Outcome.ERROR


def governance_plugin(*, clock: Callable[[], float] = time.time,
                      audit_store_factory: Callable[[], AuditStore] | None = None,
                      retry_s: float = 1.0) -> Plugin:
    """The plugin that adds governance to ``create_app`` (see the module docstring).

    Args:
        clock: seconds since the epoch for records, tokens, reveals and flags (tests).
        audit_store_factory: builds the audit store instead of ``config.audit_store``
            (tests use it to simulate an outage); ``audit_store`` must still be set.
        retry_s: seconds between attempts to reach an audit store that is down.

    Raises (when the plugin runs, in ``create_app``):
        ConfigError: ``audit_store`` is not set.
        VaultKeyError: the policy issues vault tokens and no vault key is configured.
    """
    def install(app: web.Application) -> None:
        config, policy = app[CONFIG], app[POLICY]
        if not config.audit_store:
            raise ConfigError("governance needs an audit store (--audit-store URL)",
                              key="audit_store")
        spec = None
        if policy_uses_vault(policy):
            spec = load_vault_spec(url=config.vault_store or _default_vault_store(),
                                   tenant=config.tenant, ttl_s=policy.governance.vault.ttl_s,
                                   key_file=config.vault_key_file, key_env=config.vault_key_env)
        from .app import RESERVED_PREFIX
        from .reveal import reveal_endpoint

        gov = Governance(config, policy, GovernanceMetrics(app[METRICS].registry), spec,
                         _Options(clock, audit_store_factory, retry_s))
        app[VAULT_SPEC] = spec
        app[GOVERNANCE] = gov
        app[REQUEST_HOOKS].append(gov.on_request)
        app[REQUEST_BODY_HOOKS].append(gov.on_request_body)
        app[RESPONSE_HOOKS].append(gov.on_response)
        app.router.add_post(RESERVED_PREFIX + "reveal", reveal_endpoint)
        app.on_response_prepare.append(gov.on_prepare)
        app.cleanup_ctx.append(gov.lifecycle)
    return install
