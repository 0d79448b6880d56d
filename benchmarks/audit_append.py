"""Audit append latency: what a proxy request pays to record one audit record.

    .venv/bin/python benchmarks/audit_append.py [--n 5000] [--pg postgresql://...]

For each store it prints per-record latency (microseconds, p50 / p99) of:

* ``submit``  : queue the record (a redacted view: the proxy does not wait);
* ``record``  : a view, written and waited for, one at a time (no other request shares
  the transaction; view batches commit without fsync);
* ``record x8``: the same from 8 threads at once (group commit shares transactions);
* ``arecord @1k/s``: 1000 requests/s on one event loop, each awaiting its view record;
* ``durable``: a re-hydration record, committed with fsync before the call returns;

and the sustained rate (records/s) of ``submit`` followed by ``flush``. Every record is
hashed, HMAC-sealed and chained; a checkpoint is signed every 1000 records.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from redactor.audit import Action, AuditEvent, AuditTrail, Resource, verify


def event(i: int) -> AuditEvent:
    return AuditEvent(action=Action.VIEW, actor=f"agent-{i % 40}", role="agent",
                      resource=Resource("GET", f"/api/v2/tickets/{i}", str(i)),
                      entities={"EMAIL_ADDRESS": 2, "PERSON": 1}, policy_hash="ab" * 32,
                      request_id=uuid.uuid4().hex)


def pct(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(q * len(samples)))] * 1e6


def bench(url: str, n: int) -> dict[str, str]:
    key, signer = os.urandom(32), Ed25519PrivateKey.generate()
    out: dict[str, str] = {}
    with AuditTrail(url, hmac_key=key, signing_key=signer, checkpoint_every=1000) as trail:
        for i in range(200):  # warm up
            trail.record(event(i))
        lat = []
        for i in range(n):
            t = time.perf_counter()
            trail.submit(event(i))
            lat.append(time.perf_counter() - t)
        t0 = time.perf_counter()
        trail.flush(timeout_s=120)
        total = time.perf_counter() - t0 + sum(lat)
        out["submit p50/p99 us"] = f"{pct(lat, .5):.1f} / {pct(lat, .99):.1f}"
        out["submit+flush rec/s"] = f"{n / total:,.0f}"
        lat = []
        for i in range(n // 5):
            t = time.perf_counter()
            trail.record(event(i))
            lat.append(time.perf_counter() - t)
        out["record p50/p99 us"] = f"{pct(lat, .5):.0f} / {pct(lat, .99):.0f}"
        lat8: list[float] = []
        lock = threading.Lock()

        def worker() -> None:
            mine = []
            for i in range(n // 20):
                t = time.perf_counter()
                trail.record(event(i))
                mine.append(time.perf_counter() - t)
            with lock:
                lat8.extend(mine)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        out["record x8 p50/p99 us"] = f"{pct(lat8, .5):.0f} / {pct(lat8, .99):.0f}"
        out["arecord @1k/s p50/p99 us"] = asyncio.run(_async(trail, 1000.0))
        lat = []
        for i in range(n // 25):
            t = time.perf_counter()
            trail.record(AuditEvent(action=Action.REHYDRATE, actor="a", entities={"PERSON": 1}))
            lat.append(time.perf_counter() - t)
        out["durable p50/p99 us"] = f"{pct(lat, .5):.0f} / {pct(lat, .99):.0f}"
    report = verify(url, key=key, public_key=signer.public_key())
    out["verified records"] = f"{report.records:,}"
    return out


async def _async(trail: AuditTrail, rate: float, seconds: float = 2.0) -> str:
    """Requests arrive on one event loop at ``rate`` per second (open loop); each handler
    awaits its view record, as a proxy that wants the record before it answers would."""
    lat: list[float] = []

    async def handler(i: int) -> None:
        t = time.perf_counter()
        await trail.arecord(event(i))
        lat.append(time.perf_counter() - t)

    loop = asyncio.get_running_loop()
    start, tasks = loop.time(), []
    for i in range(int(rate * seconds)):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(handler(i)))
    await asyncio.gather(*tasks)
    return f"{pct(lat, .5):.0f} / {pct(lat, .99):.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--pg", default=os.environ.get("REDACTOR_TEST_PG",
                                                   "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    stores = {"sqlite (synchronous=full)": f"sqlite://{tmp}/full.db",
              "sqlite (synchronous=normal)": f"sqlite://{tmp}/normal.db?synchronous=normal"}
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    if args.pg:
        stores["postgresql"] = f"{args.pg}?schema={schema}"
    rows = {}
    for name, url in stores.items():
        try:
            rows[name] = bench(url, args.n)
        except Exception as exc:  # e.g. no PostgreSQL here
            print(f"{name}: skipped ({type(exc).__name__}: {exc})")
    if args.pg:
        try:
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        except Exception:
            pass
    cols = list(next(iter(rows.values())).keys()) if rows else []
    width = max(len(n) for n in rows) if rows else 10
    print(f"{'store':<{width}}  " + "  ".join(f"{c:>22}" for c in cols))
    for name, r in rows.items():
        print(f"{name:<{width}}  " + "  ".join(f"{r[c]:>22}" for c in cols))


if __name__ == "__main__":
    main()
