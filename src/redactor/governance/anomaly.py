"""Access-anomaly flags from what the proxy sees, with an injectable clock.

==============  ===============================================================
kind            raised when
==============  ===============================================================
not_assigned    a ticket assigned to *another* agent is opened (needs ``tickets.assignee``)
closed_ticket   a closed ticket is opened (needs ``tickets.status``)
off_shift       a ticket is opened outside ``anomaly.shift`` hours
volume          an agent's requests in the current bucket exceed their own baseline
reveal_burst    more than ``max_reveals`` reveal attempts within ``window_s`` seconds
==============  ===============================================================

The volume baseline is an exponentially weighted mean and variance of the agent's
requests per *active* bucket (buckets with no request are skipped, so a night off does
not make Monday morning look like a spike), updated incrementally as in T. Finch,
"Incremental calculation of weighted mean and variance" (2009)::

    diff = x - mean;  incr = alpha * diff;  mean += incr;  var = (1 - alpha) * (var + diff * incr)

A bucket is flagged once, when its count passes ``mean + threshold_sd * max(sd, min_sd)``,
``min_ratio * mean`` and ``min_count``, after ``warmup_buckets`` active buckets. State is
per process: with several replicas, route an agent to one replica (sticky sessions) or
expect each replica to see a share of that agent's traffic.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Literal
from zoneinfo import ZoneInfo

from .settings import AnomalySettings, ShiftHours

__all__ = ["AccessEvent", "AnomalyDetector", "AnomalyFlag"]

_IDLE_FORGET_S = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """One request by an agent. ``kind``: ``view`` (a ticket), ``reveal``, or ``request``.
    ``assigned``/``closed`` as in :class:`~.tickets.TicketState`; ``at`` epoch seconds."""

    actor: str
    role: str | None = None
    ticket_id: str | None = None
    kind: Literal["view", "reveal", "request"] = "request"
    assigned: bool | None = None
    closed: bool | None = None
    at: float | None = None


@dataclass(frozen=True, slots=True)
class AnomalyFlag:
    """A flag: ``kind``, who, which ticket, whether the policy blocks it, numeric ``detail``."""

    kind: str
    actor: str
    ticket_id: str | None
    blocking: bool
    detail: dict[str, float | int | str] = field(default_factory=dict)


@dataclass
class _Baseline:
    bucket: int = -1
    count: int = 0
    flagged: bool = False
    mean: float = 0.0
    var: float = 0.0
    buckets: int = 0
    last_seen: float = 0.0
    reveals: deque[float] = field(default_factory=deque)
    last_burst_flag: float = -math.inf

    def close_bucket(self, alpha: float) -> None:
        if self.count == 0:
            return
        if self.buckets == 0:
            self.mean = float(self.count)
        else:
            diff = self.count - self.mean
            incr = alpha * diff
            self.mean += incr
            self.var = (1 - alpha) * (self.var + diff * incr)
        self.buckets += 1


def in_shift(shift: ShiftHours, at: float) -> bool:
    """Whether epoch second ``at`` falls in ``shift`` (its time zone, weekdays, hours)."""
    local = datetime.fromtimestamp(at, ZoneInfo(shift.timezone))
    now, start, end = local.time(), shift.start, shift.end
    if start <= end:
        return local.isoweekday() in shift.weekdays and start <= now < end
    # overnight: the part after midnight belongs to the shift that started the day before
    if now >= start:
        return local.isoweekday() in shift.weekdays
    return now < end and (local.isoweekday() - 2) % 7 + 1 in shift.weekdays


class AnomalyDetector:
    """Observes access events and returns the flags they raise (thread-safe).

    Args:
        settings: ``governance.anomaly`` of the policy.
        clock: seconds since the epoch, used when an event has no ``at``.
    """

    def __init__(self, settings: AnomalySettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings, self._clock = settings, clock
        self._agents: dict[str, _Baseline] = {}
        self._lock = threading.Lock()
        self._last_prune = 0.0

    def observe(self, event: AccessEvent) -> list[AnomalyFlag]:
        """Record ``event``; return the flags it raises (empty when all is normal)."""
        s = self.settings
        if not s.enabled:
            return []
        at = self._clock() if event.at is None else event.at
        found: list[tuple[str, dict[str, float | int | str]]] = []
        if event.ticket_id is not None and event.kind in ("view", "reveal"):
            if s.flag_not_assigned and event.assigned is False:
                found.append(("not_assigned", {}))
            if s.flag_closed and event.closed is True:
                found.append(("closed_ticket", {}))
        if s.shift is not None and not in_shift(s.shift, at):
            found.append(("off_shift", {"local_time": datetime.fromtimestamp(
                at, ZoneInfo(s.shift.timezone)).strftime("%a %H:%M")}))
        with self._lock:
            state = self._agents.setdefault(event.actor, _Baseline())
            state.last_seen = at
            volume = self._volume(state, at)
            if volume is not None:
                found.append(("volume", volume))
            if event.kind == "reveal":
                burst = self._burst(state, at)
                if burst is not None:
                    found.append(("reveal_burst", burst))
            self._prune(at)
        return [AnomalyFlag(kind, event.actor, event.ticket_id, kind in s.block, detail)
                for kind, detail in found]

    def ticket_flags(self, actor: str, ticket_id: str, *, assigned: bool | None,
                     closed: bool | None) -> list[AnomalyFlag]:
        """``not_assigned`` / ``closed_ticket`` flags from a ticket's state as a response
        showed it, for a request :meth:`observe` has already counted (no volume change)."""
        s = self.settings
        if not s.enabled:
            return []
        kinds = []
        if s.flag_not_assigned and assigned is False:
            kinds.append("not_assigned")
        if s.flag_closed and closed is True:
            kinds.append("closed_ticket")
        return [AnomalyFlag(kind, actor, ticket_id, kind in s.block) for kind in kinds]

    def _volume(self, st: _Baseline, at: float) -> dict[str, float | int | str] | None:
        v = self.settings.volume
        if not v.enabled:
            return None
        bucket = int(at // v.bucket_s)
        if bucket != st.bucket:
            st.close_bucket(v.alpha)
            st.bucket, st.count, st.flagged = bucket, 0, False
        st.count += 1
        if st.flagged or st.buckets < v.warmup_buckets:
            return None
        sd = math.sqrt(max(st.var, 0.0))
        limit = st.mean + v.threshold_sd * max(sd, v.min_sd)
        if st.count > limit and st.count >= max(v.min_count, v.min_ratio * st.mean):
            st.flagged = True
            return {"count": st.count, "mean": round(st.mean, 2), "sd": round(sd, 2),
                    "limit": round(limit, 2), "bucket_s": v.bucket_s}
        return None

    def _burst(self, st: _Baseline, at: float) -> dict[str, float | int | str] | None:
        b = self.settings.reveal_burst
        if not b.enabled:
            return None
        st.reveals.append(at)
        while st.reveals and st.reveals[0] <= at - b.window_s:
            st.reveals.popleft()
        if len(st.reveals) > b.max_reveals and at - st.last_burst_flag >= b.window_s:
            st.last_burst_flag = at
            return {"reveals": len(st.reveals), "window_s": b.window_s}
        return None

    def _prune(self, at: float) -> None:
        if at - self._last_prune < 3600:
            return
        self._last_prune = at
        for actor in [a for a, st in self._agents.items() if at - st.last_seen > _IDLE_FORGET_S]:
            del self._agents[actor]
