"""Governance settings: the ``governance:`` section of a policy (all optional).

::

    governance:
      tickets:                       # where the proxy finds a ticket and its state
        path_patterns: ['^/api/v2/tickets/(?P<ticket_id>\\d+)']
        assignee: $.ticket.assignee_id        # same identifier as the agent's identity
        status: $.ticket.status
        closed_statuses: [closed, solved]
      reveal:
        roles: {supervisor: ['*'], agent: [EMAIL_ADDRESS]}   # who may reveal which types
        view_window_s: 900            # the agent viewed the ticket within 15 minutes
      anomaly:
        shift: {start: '07:00', end: '19:00', timezone: Europe/Berlin, weekdays: [1, 2, 3, 4, 5]}
        volume: {bucket_s: 300, threshold_sd: 5.0, min_count: 100}
        reveal_burst: {max_reveals: 10, window_s: 600}
        block: [closed_ticket]        # flags that also refuse the request (403)
      rehydrate:
        routes: [{method: POST, path: '^/api/v2/tickets/(?P<ticket_id>\\d+)/comments$'}]
      vault: {ttl_s: 2592000}

Defaults fail closed where it matters: no role may reveal anything until the policy says
so; anomaly flags are recorded but block nothing; the volume baseline needs a warm-up and
an absolute floor before it flags, so a normal working day raises no flag.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["AnomalyKind", "AnomalySettings", "GovernancePolicy", "RehydrateRoute",
           "RehydrateSettings", "RevealBurstSettings", "RevealSettings", "ShiftHours",
           "TicketFields", "VaultSettings", "VolumeSettings"]

AnomalyKind = Literal["not_assigned", "closed_ticket", "off_shift", "volume", "reveal_burst"]
_JSON_PATH = r"^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])+$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(pattern: str, group: str | None) -> str:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if group is not None and group not in compiled.groupindex:
        raise ValueError(f"the pattern needs a named group (?P<{group}>...)")
    return pattern


class TicketFields(_Model):
    """How a request path names a ticket, and where a ticket payload keeps its state.

    ``assignee`` and ``status`` are JSON paths (``$.ticket.assignee_id``, ``$.data[0].status``);
    unset, the assignment / closed checks are not made (reported as unknown).
    """

    path_patterns: list[str] = []
    assignee: str | None = Field(default=None, pattern=_JSON_PATH)
    status: str | None = Field(default=None, pattern=_JSON_PATH)
    closed_statuses: list[str] = ["closed", "solved", "resolved"]

    @field_validator("path_patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return [_check_regex(p, "ticket_id") for p in v]


class RevealSettings(_Model):
    """Who may reveal what, and when (seconds)."""

    roles: dict[str, list[str]] = {}
    view_window_s: float = Field(default=900.0, gt=0)
    require_assigned: bool = True
    require_open: bool = True
    min_reason_chars: int = Field(default=1, ge=1, le=1000)

    def may_reveal(self, role: str | None, entity_type: str) -> bool:
        allowed = self.roles.get(role or "", [])
        return "*" in allowed or entity_type in allowed


class ShiftHours(_Model):
    """Working hours in ``timezone``; ``end`` before ``start`` spans midnight.
    ``weekdays``: ISO numbers, 1 = Monday ... 7 = Sunday."""

    start: time
    end: time
    timezone: str = "UTC"
    weekdays: list[int] = [1, 2, 3, 4, 5, 6, 7]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("weekdays")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if not v or any(d < 1 or d > 7 for d in v):
            raise ValueError("weekdays are ISO numbers 1 (Monday) to 7 (Sunday)")
        return v


class VolumeSettings(_Model):
    """Per-agent requests per ``bucket_s`` seconds against an exponentially weighted mean
    and variance of that agent's active buckets (smoothing ``alpha``). A bucket is flagged
    when its count exceeds ``mean + threshold_sd * max(sd, min_sd)``, is at least
    ``min_ratio`` times the mean and at least ``min_count``, after ``warmup_buckets``
    active buckets of history. (Request counts are bursty: one ticket view fans out into
    several API calls, so a plain 3-4 sd rule flags ordinary busy hours.)"""

    enabled: bool = True
    bucket_s: float = Field(default=300.0, gt=0)
    alpha: float = Field(default=0.1, gt=0, le=1)
    threshold_sd: float = Field(default=5.0, gt=0)
    min_sd: float = Field(default=5.0, ge=0)
    min_ratio: float = Field(default=3.0, ge=1)
    min_count: int = Field(default=100, ge=1)
    warmup_buckets: int = Field(default=12, ge=1)


class RevealBurstSettings(_Model):
    """More than ``max_reveals`` reveals by one agent within ``window_s`` seconds."""

    enabled: bool = True
    max_reveals: int = Field(default=10, ge=1)
    window_s: float = Field(default=600.0, gt=0)


class AnomalySettings(_Model):
    enabled: bool = True
    flag_not_assigned: bool = True
    flag_closed: bool = True
    shift: ShiftHours | None = None
    volume: VolumeSettings = VolumeSettings()
    reveal_burst: RevealBurstSettings = RevealBurstSettings()
    block: list[AnomalyKind] = []


class RehydrateRoute(_Model):
    """Requests whose method and path (a regex, with ``(?P<ticket_id>...)``) get re-hydrated."""

    method: str = "POST"
    path: str

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _check_regex(v, "ticket_id")

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        return v.upper()


class RehydrateSettings(_Model):
    routes: list[RehydrateRoute] = []


class VaultSettings(_Model):
    ttl_s: float = Field(default=30 * 24 * 3600.0, gt=0)


class GovernancePolicy(_Model):
    """The ``governance`` section of a :class:`~redactor.policy.Policy`."""

    tickets: TicketFields = TicketFields()
    reveal: RevealSettings = RevealSettings()
    anomaly: AnomalySettings = AnomalySettings()
    rehydrate: RehydrateSettings = RehydrateSettings()
    vault: VaultSettings = VaultSettings()
