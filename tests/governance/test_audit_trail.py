"""AuditTrail: records, receipts, spool and replay, fail-closed writes, concurrent writers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from redactor.audit import (Action, AuditEvent, AuditStoreError, AuditTrail,
                            AuditWriteError, Outcome, Resource, export, open_store, verify)
from redactor.audit.spool import Spool

from . import _workers
from .conftest import Clock
from .doubles import FlakyStore, Switch


def view(i: int, actor: str = "agent-1") -> AuditEvent:
    return AuditEvent(action=Action.VIEW, actor=actor, role="agent",
                      resource=Resource("GET", f"/api/tickets/{i}?q=x", str(i)),
                      entities={"EMAIL_ADDRESS": 1})


def test_record_fields_and_receipts(store_url: str, clock: Clock) -> None:
    with AuditTrail(store_url, clock=clock) as trail:
        r1 = trail.record(view(1))
        r2 = trail.record_view(actor="agent-2", role="lead", method="get", path="/api/tickets/2?email=x",
                               ticket_id="2", entities={"PHONE_NUMBER": 2}, policy_hash="ab" * 32,
                               request_id="req-2", assigned=True, closed=False).result(5)
    assert (r1.sequence, r2.sequence) == (1, 2) and not r1.spooled
    lines = [orjson.loads(line) for line in export(store_url)]
    assert [rec["seq"] for rec in lines] == [1, 2]
    rec = lines[1]
    assert rec["resource"] == {"method": "GET", "path": "/api/tickets/2", "ticket_id": "2"}
    assert rec["ts"] == "2026-05-28T20:26:40.000000Z"
    assert rec["prev"] == lines[0]["hash"] and rec["hash"] == r2.hash
    assert rec["detail"] == {"assigned": True, "closed": False}
    assert set(rec) == {"v", "id", "seq", "ts", "actor", "role", "action", "resource", "entities",
                        "policy", "request_id", "outcome", "detail", "prev", "hash"}


def test_event_validation() -> None:
    with pytest.raises(ValueError):
        AuditEvent(action=Action.VIEW, entities={"not an entity": 1})
    with pytest.raises(ValueError):
        AuditEvent(action=Action.VIEW, entities={"PERSON": -1})
    with pytest.raises(ValueError):
        AuditEvent(action=Action.VIEW, detail={"Bad Key": 1})
    with pytest.raises(ValueError):
        AuditEvent(action="nonsense")  # type: ignore[arg-type]


def test_export_since_until(tmp_path: Path, clock: Clock) -> None:
    from redactor.audit.record import parse_ts

    url = f"sqlite://{tmp_path}/a.db"
    with AuditTrail(url, clock=clock) as trail:
        for i in range(5):
            trail.record(view(i))
            clock.tick(60)
    since, until = parse_ts("2026-05-28T20:27:40Z"), parse_ts("2026-05-28T20:29:40Z")
    assert [orjson.loads(x)["seq"] for x in export(url, since=since, until=until)] == [2, 3]
    with pytest.raises(ValueError):
        parse_ts("2026-05-28T20:27:40")


def test_last_view_is_shared_through_the_store(store_url: str, clock: Clock) -> None:
    with AuditTrail(store_url, clock=clock) as a, AuditTrail(store_url, clock=clock) as b:
        a.record_view(actor="ann", role="agent", method="GET", path="/t/9", ticket_id="9",
                      entities={}, policy_hash=None, assigned=True, closed=False).result(5)
        clock.tick(10)
        fact = b.last_view(actor="ann", ticket_id="9")
        assert fact is not None and fact.at == clock.now - 10 and fact.assigned is True
        assert b.last_view(actor="bob", ticket_id="9") is None


def test_spool_while_down_then_replay_in_order(store_url: str, tmp_path: Path, clock: Clock,
                                               hmac_key: bytes, signing_key: Ed25519PrivateKey) -> None:
    switch = Switch()
    trail = AuditTrail(lambda: FlakyStore(store_url, switch), hmac_key=hmac_key,
                       signing_key=signing_key, spool_path=tmp_path / "spool", clock=clock,
                       retry_s=5)
    trail.record(view(1))
    switch.down = True
    receipts = [trail.record(view(i)) for i in (2, 3, 4)]
    assert all(r.spooled for r in receipts)
    assert len((tmp_path / "spool").read_bytes().splitlines()) == 3
    with pytest.raises(AuditWriteError):  # a reveal must not happen while the store is down
        trail.record_reveal(actor="agent-1", role="lead", ticket_id="1", token="<PERSON_ABCDEF>",
                            entity_type="PERSON", reason="asked", allowed=True)
    denied = trail.record_reveal(actor="agent-1", role="agent", ticket_id="1",
                                 token="<PERSON_ABCDEF>", entity_type="PERSON", reason="x",
                                 allowed=False, rule="role_may_reveal")
    assert denied.spooled  # a denial reveals nothing: it may wait in the spool
    switch.down = False
    clock.tick(6)  # past retry_s
    r = trail.record(view(5))
    assert r.sequence == 6 and not r.spooled
    trail.close()
    records = [orjson.loads(x) for x in export(store_url)]
    assert [(x["seq"], x["resource"]["ticket_id"], x["action"]) for x in records] == [
        (1, "1", "view"), (2, "2", "view"), (3, "3", "view"), (4, "4", "view"),
        (5, "1", "reveal_denied"), (6, "5", "view")]
    assert verify(store_url, key=hmac_key, public_key=signing_key.public_key()).records == 6
    assert (tmp_path / "spool").stat().st_size == 0


def test_spool_replays_without_new_records(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite://{tmp_path}/a.db"
    switch = Switch()
    trail = AuditTrail(lambda: FlakyStore(url, switch), spool_path=tmp_path / "spool",
                       clock=clock, retry_s=1)
    switch.down = True
    assert trail.record(view(1)).spooled
    switch.down = False
    clock.tick(2)
    trail.flush()
    assert verify(url).records == 1
    trail.close()


def test_spool_left_by_a_crash_is_replayed_once(tmp_path: Path, clock: Clock) -> None:
    """A process died after committing some spooled records but before clearing the spool:
    the next process replays the spool and skips the ids already stored."""
    url = f"sqlite://{tmp_path}/a.db"
    with AuditTrail(url, clock=clock) as trail:
        for i in range(3):
            trail.record(view(i))
    stored = [orjson.loads(x) for x in export(url)]
    partial = {k: v for k, v in stored[1].items() if k not in ("seq", "prev", "hash")}
    fresh = dict(partial, id="f" * 32)
    spool = tmp_path / "spool"
    spool.write_bytes(orjson.dumps(partial) + b"\n" + orjson.dumps(fresh) + b"\n" + b'{"torn')
    with AuditTrail(url, clock=clock, spool_path=spool) as trail:
        trail.flush()
    assert verify(url).records == 4
    assert [orjson.loads(x)["id"] for x in export(url)][-1] == "f" * 32


def test_spool_is_owned_by_one_process(tmp_path: Path) -> None:
    first = Spool(tmp_path / "spool")
    with pytest.raises(AuditStoreError, match="in use"):
        Spool(tmp_path / "spool")
    first.close()


def test_no_spool_means_view_write_fails_loudly(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite://{tmp_path}/a.db"
    switch = Switch()
    with AuditTrail(lambda: FlakyStore(url, switch), clock=clock) as trail:
        switch.down = True
        with pytest.raises(AuditWriteError):
            trail.record(view(1))


def test_time_based_checkpoint(tmp_path: Path, clock: Clock, signing_key: Ed25519PrivateKey) -> None:
    url = f"sqlite://{tmp_path}/a.db"
    with AuditTrail(url, signing_key=signing_key, checkpoint_every=1000,
                    checkpoint_interval_s=30, clock=clock) as trail:
        for i in range(4):
            trail.record(view(i))  # checkpoint at 1 (the first), none after within 30 s
        clock.tick(31)
        trail.record(view(9))
        with open_store(url).snapshot() as snap:
            assert [c.sequence for c in snap.checkpoints()] == [1, 5]


def test_anomaly_policy_and_lifecycle_records(tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite://{tmp_path}/a.db"
    with AuditTrail(url, clock=clock, correlation_key=b"k" * 32) as trail:
        trail.record_lifecycle(Action.START, version="0.1.0")
        trail.record_policy_load(policy_hash="ab" * 32, name="default")
        trail.record_anomaly(kind="volume", actor="a", role="agent", ticket_id=None,
                             detail={"count": 99, "mean": 10.5}, blocked=True)
        trail.record_rehydration(actor="a", role="agent", method="POST", path="/t/1/comments",
                                 ticket_id="1", entities={"PERSON": 2})
        trail.record_lifecycle(Action.STOP)
        cid = trail.correlation_id("dana@example.com")
    rows = [orjson.loads(x) for x in export(url)]
    assert [r["action"] for r in rows] == ["start", "policy_load", "anomaly", "rehydrate", "stop"]
    assert rows[2]["outcome"] == Outcome.BLOCKED.value and rows[2]["detail"]["kind"] == "volume"
    assert len(cid) == 32 and "dana" not in cid


def test_sqlite_writers_in_two_processes(tmp_path: Path, hmac_key: bytes,
                                         signing_key: Ed25519PrivateKey) -> None:
    _two_writers(f"sqlite://{tmp_path}/a.db", hmac_key, signing_key)


def test_postgres_writers_in_two_processes(pg_schema: str, hmac_key: bytes,
                                           signing_key: Ed25519PrivateKey) -> None:
    from .conftest import PG_URL

    _two_writers(f"{PG_URL}?schema={pg_schema}", hmac_key, signing_key)


def _two_writers(url: str, hmac_key: bytes, signing_key: Ed25519PrivateKey, n: int = 150) -> None:
    raw = signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_workers.append_many, args=(url, actor, n, hmac_key, raw, start))
             for actor in ("writer-a", "writer-b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    report = verify(url, key=hmac_key, public_key=signing_key.public_key())
    assert report.records == 2 * n
    actors = [orjson.loads(x)["actor"] for x in export(url)]
    assert actors.count("writer-a") == actors.count("writer-b") == n
    switches = sum(1 for a, b in zip(actors, actors[1:]) if a != b)
    assert switches >= 2, "the two writers did not overlap"


def test_arecord_from_asyncio(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite://{tmp_path}/a.db"

    async def handlers(trail: AuditTrail) -> list[int | None]:
        receipts = await asyncio.gather(*(trail.arecord(view(i)) for i in range(20)))
        return sorted(r.sequence for r in receipts)  # type: ignore[type-var]

    with AuditTrail(url) as trail:
        assert asyncio.run(handlers(trail)) == list(range(1, 21))


def test_postgres_connection_loss_spools_and_recovers(pg_schema: str, tmp_path: Path,
                                                      hmac_key: bytes) -> None:
    """Kill the writer's PostgreSQL connection: the next view is spooled, then replayed
    after reconnecting; a reveal in between fails closed."""
    import time

    import psycopg

    from .conftest import PG_URL

    app = f"audit_{pg_schema}"
    url = f"{PG_URL}?schema={pg_schema}&application_name={app}"
    with AuditTrail(url, hmac_key=hmac_key, spool_path=tmp_path / "spool", retry_s=0.2) as trail:
        trail.record(view(1))
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = %s", (app,))
        assert trail.record(view(2)).spooled
        with pytest.raises(AuditWriteError):
            trail.record_rehydration(actor="a", role="agent", method="POST", path="/t/1",
                                     ticket_id="1", entities={"PERSON": 1})
        time.sleep(0.3)
        assert trail.record(view(3)).sequence == 3
    assert [orjson.loads(x)["resource"]["ticket_id"] for x in export(url)] == ["1", "2", "3"]
    assert verify(url, key=hmac_key).records == 3


def test_sqlite_store_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    """Switching a new file to WAL can answer "database is locked" at once while another
    process opens it; each opener retries within its busy timeout (6 openers, 10 rounds;
    17 of 240 opens failed before the retry)."""
    ctx = multiprocessing.get_context("fork")
    outcomes = []
    for round_ in range(10):
        start, results = ctx.Barrier(6), ctx.Queue()
        path = str(tmp_path / f"race{round_}.db")
        procs = [ctx.Process(target=_workers.open_store, args=(path, start, results)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes += [results.get(timeout=10) for _ in procs]
    assert outcomes == ["ok"] * 60
