"""Access-anomaly flags with a simulated clock."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from redactor.governance import AccessEvent, AnomalyDetector, AnomalySettings, ShiftHours
from redactor.governance.anomaly import in_shift

from .conftest import Clock

UTC = ZoneInfo("UTC")


def at(text: str, tz: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def working_day(rng: random.Random, day: str, rate_per_min: float) -> list[float]:
    """Request times of one agent: 09:00-17:30 with a lunch break, bursty (a ticket view
    fans out into several API calls), quiet stretches between tickets."""
    times: list[float] = []
    t = at(f"{day}T09:00:00")
    end = at(f"{day}T17:30:00")
    while t < end:
        if at(f"{day}T12:00:00") <= t < at(f"{day}T13:00:00"):
            t = at(f"{day}T13:00:00")
        fan_out = rng.randint(1, 6)
        times.extend(t + i * 0.2 for i in range(fan_out))
        t += rng.expovariate(rate_per_min / 60 / 3.5)
    return times


@pytest.mark.parametrize("rate", [0.5, 3.0, 12.0])
def test_a_normal_week_raises_no_flag(rate: float) -> None:
    detector = AnomalyDetector(AnomalySettings())
    rng = random.Random(rate)
    flags = []
    for day in ("2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04", "2026-06-05"):
        for t in working_day(rng, day, rate):
            flags += detector.observe(AccessEvent(actor="ann", ticket_id="1", kind="view", at=t))
    assert flags == []


def test_volume_spike_is_flagged_once_per_bucket() -> None:
    detector = AnomalyDetector(AnomalySettings())
    rng = random.Random(1)
    for day in ("2026-06-01", "2026-06-02"):
        for t in working_day(rng, day, 3.0):
            assert detector.observe(AccessEvent(actor="ann", at=t)) == []
    start = at("2026-06-03T10:00:00")
    flags = [f for i in range(400)
             for f in detector.observe(AccessEvent(actor="ann", at=start + i * 0.5))]
    assert [f.kind for f in flags] == ["volume"]  # bucket 10:00-10:05 once; 10:00+200 s is in it
    detail = flags[0].detail
    assert detail["count"] > detail["limit"] and not flags[0].blocking
    # Another agent with no history is not flagged (warm-up).
    assert all(detector.observe(AccessEvent(actor="new", at=start + i)) == [] for i in range(300))


def test_window_flags_and_blocking() -> None:
    detector = AnomalyDetector(AnomalySettings(block=["closed_ticket"]))
    t = at("2026-06-02T10:00:00")
    assert detector.observe(AccessEvent(actor="a", ticket_id="1", kind="view", assigned=True,
                                        closed=False, at=t)) == []
    assert detector.observe(AccessEvent(actor="a", ticket_id="1", kind="view", assigned=None,
                                        at=t)) == []  # unassigned: triage is normal
    (flag,) = detector.observe(AccessEvent(actor="a", ticket_id="2", kind="view", assigned=False, at=t))
    assert (flag.kind, flag.blocking, flag.ticket_id) == ("not_assigned", False, "2")
    (flag,) = detector.observe(AccessEvent(actor="a", ticket_id="3", kind="view", closed=True, at=t))
    assert (flag.kind, flag.blocking) == ("closed_ticket", True)
    quiet = AnomalyDetector(AnomalySettings(flag_not_assigned=False, flag_closed=False))
    assert quiet.observe(AccessEvent(actor="a", ticket_id="2", kind="view", assigned=False,
                                     closed=True, at=t)) == []


def test_off_shift() -> None:
    shift = ShiftHours.model_validate({"start": "07:00", "end": "19:00", "timezone": "Europe/Berlin",
                                       "weekdays": [1, 2, 3, 4, 5]})
    clock = Clock(at("2026-06-02T10:00:00", "Europe/Berlin"))  # a Tuesday
    detector = AnomalyDetector(AnomalySettings(shift=shift), clock=clock)
    assert detector.observe(AccessEvent(actor="a", ticket_id="1", kind="view")) == []
    clock.now = at("2026-06-02T19:30:00", "Europe/Berlin")
    (flag,) = detector.observe(AccessEvent(actor="a", ticket_id="1", kind="view"))
    assert flag.kind == "off_shift" and flag.detail["local_time"] == "Tue 19:30"
    clock.now = at("2026-06-06T10:00:00", "Europe/Berlin")  # Saturday
    assert [f.kind for f in detector.observe(AccessEvent(actor="a"))] == ["off_shift"]


def test_overnight_shift() -> None:
    night = ShiftHours.model_validate({"start": "22:00", "end": "06:00", "weekdays": [1]})
    assert in_shift(night, at("2026-06-01T23:00:00"))       # Monday night
    assert in_shift(night, at("2026-06-02T03:00:00"))       # ... into Tuesday morning
    assert not in_shift(night, at("2026-06-01T03:00:00"))   # Monday morning: Sunday's shift
    assert not in_shift(night, at("2026-06-02T12:00:00"))


def test_reveal_burst() -> None:
    clock = Clock(at("2026-06-02T10:00:00"))
    detector = AnomalyDetector(AnomalySettings.model_validate(
        {"reveal_burst": {"max_reveals": 3, "window_s": 60}}), clock=clock)
    kinds = []
    for _ in range(8):
        clock.tick(5)
        kinds.append([f.kind for f in detector.observe(AccessEvent(actor="a", kind="reveal"))])
    assert kinds == [[], [], [], ["reveal_burst"], [], [], [], []]
    clock.tick(120)
    assert detector.observe(AccessEvent(actor="a", kind="reveal")) == []


def test_settings_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ShiftHours.model_validate({"start": "07:00", "end": "19:00", "timezone": "Mars/Olympus"})
    with pytest.raises(ValidationError):
        AnomalySettings.model_validate({"block": ["everything"]})
    with pytest.raises(ValidationError):
        AnomalySettings.model_validate({"volume": {"alpha": 0}})
    assert not AnomalyDetector(AnomalySettings(enabled=False)).observe(
        AccessEvent(actor="a", closed=True, ticket_id="1", kind="view"))
