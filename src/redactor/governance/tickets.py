"""Tickets as the proxy sees them: the id from the request path, the state from the payload."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .settings import RehydrateSettings, TicketFields

__all__ = ["TicketState", "json_get", "rehydrate_ticket", "ticket_id_from_path", "ticket_state"]

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class TicketState:
    """One ticket as seen in a payload, relative to the agent who asked.

    ``assigned``: True (to this agent), False (to someone else), None (unassigned, or the
    policy names no assignee field). ``closed``: None when the status is unknown.
    """

    ticket_id: str
    assigned: bool | None
    closed: bool | None


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def json_get(value: Any, path: str) -> Any:
    """The value at ``path`` (``$.a.b[0].c``), or ``None`` when any step is missing."""
    node = value
    for m in _STEP.finditer(path, 1):
        if m.group(1) is not None:
            node = node.get(m.group(1), _MISSING) if isinstance(node, dict) else _MISSING
        else:
            i = int(m.group(2))
            node = node[i] if isinstance(node, list) and i < len(node) else _MISSING
        if node is _MISSING:
            return None
    return node


def ticket_id_from_path(fields: TicketFields, path: str) -> str | None:
    """The ``ticket_id`` group of the first pattern that matches ``path`` (query ignored)."""
    path = path.split("?", 1)[0]
    for pattern in fields.path_patterns:
        m = _compile(pattern).search(path)
        if m is not None:
            return m.group("ticket_id")
    return None


def ticket_state(fields: TicketFields, ticket_id: str, payload: Any, agent: str) -> TicketState:
    """The state of ``ticket_id`` in a (parsed JSON) response ``payload`` for ``agent``."""
    assigned: bool | None = None
    closed: bool | None = None
    if fields.assignee is not None:
        who = json_get(payload, fields.assignee)
        if who is not None and who != "":
            assigned = str(who) == agent
    if fields.status is not None:
        status = json_get(payload, fields.status)
        if isinstance(status, str):
            closed = status.casefold() in {s.casefold() for s in fields.closed_statuses}
    return TicketState(ticket_id, assigned, closed)


def rehydrate_ticket(settings: RehydrateSettings, method: str, path: str) -> str | None:
    """The ticket id when ``method path`` is a route to re-hydrate, else ``None``."""
    path = path.split("?", 1)[0]
    for route in settings.routes:
        if route.method == method.upper():
            m = _compile(route.path).search(path)
            if m is not None:
                return m.group("ticket_id")
    return None
