"""The audit record: what the caller describes (:class:`AuditEvent`) and its canonical form.

A stored record is one JSON object with sorted keys and no whitespace (its *canonical
form*, the bytes that are hashed)::

    {"action":"view","actor":"agent-7","detail":{},"entities":{"EMAIL_ADDRESS":2},
     "id":"9f1c...","outcome":"ok","policy":"5e2b...","prev":"a3c0...",
     "request_id":"r-1","resource":{"method":"GET","path":"/api/v2/tickets/42",
     "ticket_id":"42"},"role":"agent","seq":17,"ts":"2026-05-09T07:35:25.123456Z","v":1}

``ts`` is UTC in RFC 3339 form with microseconds (RFC 3339 section 5.6). ``prev`` is the
hex SHA-256 leaf hash of the previous record (see :mod:`redactor.audit.chain`). A record
never holds a raw value: entity *counts* by type, opaque token ids, rule names and,
where correlation is needed, keyed hashes (:meth:`AuditTrail.correlation_id`).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Mapping

import orjson

__all__ = ["Action", "AuditEvent", "Outcome", "Resource", "canonical", "format_ts",
           "parse_ts", "to_us", "ts_to_us"]

RECORD_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DetailValue = str | int | float | bool | None
_ENTITY = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Action(str, Enum):
    """What happened. ``REVEAL`` and ``REHYDRATE`` are *fail-closed*: never spooled."""

    VIEW = "view"                    # a redacted response went to an agent
    REVEAL = "reveal"                # one value was revealed to an agent
    REVEAL_DENIED = "reveal_denied"  # a reveal was refused (detail.rule names why)
    REHYDRATE = "rehydrate"          # tokens in a request were replaced by their values
    ANOMALY = "anomaly"              # an access-anomaly flag (detail.kind)
    POLICY_LOAD = "policy_load"      # a policy was loaded (policy = its hash)
    START = "start"                  # the proxy started
    STOP = "stop"                    # the proxy stopped

    @property
    def fail_closed(self) -> bool:
        return self in (Action.REVEAL, Action.REHYDRATE)


class Outcome(str, Enum):
    OK = "ok"
    DENIED = "denied"
    ERROR = "error"
    FLAGGED = "flagged"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Resource:
    """The HTTP resource acted on. ``path`` loses its query string (queries carry PII)."""

    method: str | None = None
    path: str | None = None
    ticket_id: str | None = None

    def __post_init__(self) -> None:
        if self.path is not None and "?" in self.path:
            object.__setattr__(self, "path", self.path.split("?", 1)[0])
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())

    def as_dict(self) -> dict[str, str | None]:
        return {"method": self.method, "path": self.path, "ticket_id": self.ticket_id}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One compliance-relevant action, as the caller describes it.

    Args:
        action: an :class:`Action`.
        actor: who acted (the agent id from the auth gateway), or ``None`` for the system.
        role: the actor's role.
        resource: a :class:`Resource` (method, path without query, ticket id).
        entities: number of findings per entity type, e.g. ``{"EMAIL_ADDRESS": 2}``.
        policy_hash: :attr:`Policy.hash` of the policy in force.
        request_id: the request's correlation id.
        outcome: an :class:`Outcome`.
        detail: small facts from a fixed vocabulary (rule names, flag kinds, counts,
            opaque token ids, keyed hashes). Keys are ``snake_case``; never put a value in.
        at: when it happened, seconds since the epoch (``None``: the trail's clock).

    Raises:
        ValueError: a malformed entity type, negative count or detail key.
    """

    action: Action
    actor: str | None = None
    role: str | None = None
    resource: Resource = field(default_factory=Resource)
    entities: Mapping[str, int] = field(default_factory=dict)
    policy_hash: str | None = None
    request_id: str | None = None
    outcome: Outcome = Outcome.OK
    detail: Mapping[str, DetailValue] = field(default_factory=dict)
    at: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        for etype, count in self.entities.items():
            if not _ENTITY.match(etype) or not isinstance(count, int) or count < 0:
                raise ValueError(f"bad entity count entry for type {etype[:64]!r}")
        for key, value in self.detail.items():
            if not _DETAIL_KEY.match(key) or not isinstance(value, DetailValue):
                raise ValueError(f"bad detail key or value type for key {key[:64]!r}")

    def partial(self, ts_us: int) -> dict[str, Any]:
        """The record fields that do not depend on the chain (no ``seq``, ``prev``)."""
        return {"v": RECORD_VERSION, "id": secrets.token_hex(16), "ts": format_ts(ts_us),
                "actor": self.actor, "role": self.role, "action": self.action.value,
                "resource": self.resource.as_dict(), "entities": dict(sorted(self.entities.items())),
                "policy": self.policy_hash, "request_id": self.request_id,
                "outcome": self.outcome.value, "detail": dict(self.detail)}


def canonical(body: Mapping[str, Any]) -> bytes:
    """The canonical form: UTF-8 JSON, keys sorted, no insignificant whitespace."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def to_us(seconds: float) -> int:
    """Seconds since the epoch (float) to whole microseconds (int)."""
    return int(round(seconds * 1_000_000))


def format_ts(us: int) -> str:
    """Microseconds since the epoch to RFC 3339 UTC: ``2026-05-09T07:35:25.123456Z``."""
    seconds, micro = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micro:06d}Z"


def ts_to_us(ts: str) -> int:
    """Inverse of :func:`format_ts` (exactly that form; ``ValueError`` otherwise)."""
    if len(ts) != 27 or ts[4] != "-" or ts[10] != "T" or ts[19] != "." or ts[26] != "Z":
        raise ValueError(f"not a canonical audit timestamp: {ts[:40]!r}")
    dt = datetime(int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]),
                  int(ts[17:19]), tzinfo=timezone.utc)
    return (dt - _EPOCH) // timedelta(microseconds=1) + int(ts[20:26])


def parse_ts(text: str) -> datetime:
    """An RFC 3339 timestamp with ``Z`` or an offset to an aware UTC datetime.

    Raises:
        ValueError: not a timestamp, or no offset (a naive time is ambiguous).
    """
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset; add 'Z' or '+HH:MM'")
    return dt.astimezone(timezone.utc)
