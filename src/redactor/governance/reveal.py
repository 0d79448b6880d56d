"""Reveal with justification: may this agent see the value behind this token, now?

:meth:`RevealPolicy.decide` is a pure function of the request, the token's entity type,
whether the vault knows the token in that ticket, the agent's latest view of the ticket
and the time. Rules run in this order; the first that fails names the denial:

==================  ===========================================================
rule                allowed only when
==================  ===========================================================
reason_required     the reason has at least ``min_reason_chars`` non-blank chars
role_may_reveal     ``reveal.roles[role]`` lists the token's type (or ``*``)
token_in_ticket     the token was issued in this tenant + ticket and is live
viewed_recently     the agent viewed the ticket within ``view_window_s`` seconds
assigned_to_agent   (``require_assigned`` and ``tickets.assignee`` set) assigned to them
ticket_open         (``require_open`` and ``tickets.status`` set) not closed
anomaly_blocked     no blocking anomaly flag (e.g. a reveal burst) on this reveal
==================  ===========================================================

:class:`Revealer` puts it together for the proxy: vault lookup, decision, anomaly check
and an audit record, failing closed when the record cannot be written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from .settings import RevealSettings, TicketFields

if TYPE_CHECKING:  # imported when used: a policy load must not pull in the crypto stack
    from ..audit import AuditTrail
    from ..vault import Vault
    from .anomaly import AnomalyDetector

__all__ = ["RevealDecision", "RevealOutcome", "RevealPolicy", "RevealRequest", "Revealer"]


class ViewLike(Protocol):
    """An agent's latest view of a ticket (:class:`redactor.audit.ViewFact` is one)."""

    @property
    def at(self) -> float: ...
    @property
    def assigned(self) -> bool | None: ...
    @property
    def closed(self) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class RevealRequest:
    """``POST /_redactor/reveal`` as parsed by the proxy, plus who asked."""

    actor: str
    role: str | None
    tenant: str
    ticket_id: str
    token: str
    reason: str


@dataclass(frozen=True, slots=True)
class RevealDecision:
    """``allowed``, or the ``rule`` that denied and a ``message`` safe to show the agent."""

    allowed: bool
    rule: str | None = None
    message: str = "allowed"

    @classmethod
    def deny(cls, rule: str, message: str) -> RevealDecision:
        return cls(False, rule, message)


class RevealPolicy:
    """The reveal rules of one policy (``governance.reveal`` and ``governance.tickets``)."""

    def __init__(self, settings: RevealSettings, tickets: TicketFields) -> None:
        self.settings, self.tickets = settings, tickets

    def decide(self, request: RevealRequest, *, entity_type: str | None, token_found: bool,
               view: ViewLike | None, now: float) -> RevealDecision:
        """Apply the rules in order (see the module docstring); ``now`` in epoch seconds."""
        s = self.settings
        if len(request.reason.strip()) < s.min_reason_chars:
            return RevealDecision.deny("reason_required", "a reason is required")
        if entity_type is None or not s.may_reveal(request.role, entity_type):
            return RevealDecision.deny("role_may_reveal",
                                       f"role {request.role!r} may not reveal this entity type")
        if not token_found:
            return RevealDecision.deny("token_in_ticket", "the token is not valid in this ticket")
        if view is None or now - view.at > s.view_window_s:
            return RevealDecision.deny("viewed_recently", f"open the ticket first (within "
                                       f"{s.view_window_s:g} s of the reveal)")
        if s.require_assigned and self.tickets.assignee is not None and view.assigned is not True:
            return RevealDecision.deny("assigned_to_agent", "the ticket is not assigned to you")
        if s.require_open and self.tickets.status is not None and view.closed is not False:
            return RevealDecision.deny("ticket_open", "the ticket is closed (or its status unknown)")
        return RevealDecision(True)


@dataclass(frozen=True, slots=True)
class RevealOutcome:
    """The decision and, only when allowed, the value (handle as PII, never log it)."""

    decision: RevealDecision
    entity_type: str | None
    value: str | None = None

    def __repr__(self) -> str:
        return f"RevealOutcome(decision={self.decision!r}, entity_type={self.entity_type!r})"


class Revealer:
    """Decides, audits and performs reveals; what the proxy's reveal endpoint calls.

    :meth:`reveal` raises :class:`~redactor.audit.AuditWriteError` (nothing revealed:
    answer 503) when an allowed reveal cannot be recorded, and
    :class:`~redactor.audit.AuditStoreError` when the agent's views cannot be read.
    """

    def __init__(self, policy: RevealPolicy, *, vault: Vault, trail: AuditTrail,
                 detector: AnomalyDetector | None = None, policy_hash: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy, self._vault, self._trail = policy, vault, trail
        self._detector, self._policy_hash, self._clock = detector, policy_hash, clock

    def reveal(self, request: RevealRequest, *, request_id: str | None = None) -> RevealOutcome:
        """Decide, record and (when allowed) return the value. Raises as the class says."""
        from ..vault import TokenNotFound, TokenScope, parse_token

        now = self._clock()
        parsed = parse_token(request.token)
        entity_type = parsed[0] if parsed else None
        value: str | None = None
        try:
            value = self._vault.resolve(request.token, TokenScope(request.tenant, request.ticket_id)).value
        except (TokenNotFound, ValueError):
            pass
        view = self._trail.last_view(actor=request.actor, ticket_id=request.ticket_id)
        decision = self.policy.decide(request, entity_type=entity_type,
                                      token_found=value is not None, view=view, now=now)
        blocked = self._anomalies(request, now, request_id) if self._detector else None
        if decision.allowed and blocked is not None:
            decision = blocked
        self._trail.record_reveal(actor=request.actor, role=request.role,
                                  ticket_id=request.ticket_id, token=request.token,
                                  entity_type=entity_type, reason=request.reason,
                                  allowed=decision.allowed, rule=decision.rule,
                                  policy_hash=self._policy_hash, request_id=request_id)
        return RevealOutcome(decision, entity_type, value if decision.allowed else None)

    def _anomalies(self, request: RevealRequest, now: float,
                   request_id: str | None) -> RevealDecision | None:
        """Observe this reveal attempt (allowed or not); a denial if a flag blocks it."""
        from .anomaly import AccessEvent

        assert self._detector is not None
        flags = self._detector.observe(AccessEvent(actor=request.actor, role=request.role,
                                                   ticket_id=request.ticket_id, kind="reveal",
                                                   at=now))
        for flag in flags:
            self._trail.record_anomaly(kind=flag.kind, actor=request.actor, role=request.role,
                                       ticket_id=request.ticket_id, detail=flag.detail,
                                       blocked=flag.blocking, request_id=request_id,
                                       policy_hash=self._policy_hash)
        blocking = [f.kind for f in flags if f.blocking]
        if blocking:
            return RevealDecision.deny("anomaly_blocked", f"blocked by anomaly flag: {blocking[0]}")
        return None
