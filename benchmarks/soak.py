"""Soak test: ``redactor proxy`` under steady concurrent load for minutes, with faults.

Starts the fake CRM (tests/fixtures/fake_crm.py) and ``redactor proxy`` (the NER policy
proxy/zendesk.yaml by default) as separate processes on loopback, then keeps
``--concurrency`` requests in flight for ``--minutes``. Normal requests fetch a different
~4 KB ticket every time (``/api/v2/tickets/{n}.json``, so the body cache never hits) and
must come back 200 with no e-mail address of the ticket in them. With ``--fault-rate R`` a
fraction R of requests are injected faults, each with the answer it must get:

* ``/malformed.json`` (502), ``/truncated.json`` (truncated gzip, 502), ``/cut.json``
  (upstream dies mid-body, 502);
* a client that disconnects after sending its request (no answer expected);
* every ``--kill-every-s`` seconds one worker process is sent SIGKILL (the requests it was
  redacting must fail closed with 502; any other answer counts as an unexpected error).

Reported per minute: requests served (200), errors (injected vs other), latency p50 / p99
in milliseconds (normal requests), the proxy process's RSS (MB), the workers' PSS (MB, the
fork server and worker processes, shared pages counted once) and the proxy's open file
descriptors. Verdict: memory growth from the end of warm-up (``--warmup-minutes``, default
3: each worker's fork-server pages turn private as it touches them, and the bounded caches
fill) to the end is under 10% for the proxy process and for the workers, and no unexpected
errors. The least-squares trend after warm-up (MB per minute) is reported too.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--concurrency 8] [--workers 2]
        [--fault-rate 0.02] [--kill-every-s 120] [--json soak.json]

Output: a Markdown table on stdout and the same figures as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
FAULTS = {"/malformed.json": 502, "/truncated.json": 502, "/cut.json": 502, "disconnect": None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_kb(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    return round(_status_kb(pid, "VmRSS") / 1024, 1)


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    return parents


def children(pid: int) -> list[int]:
    return [c for c, p in _parents().items() if p == pid]


def descendants(pid: int) -> list[int]:
    parents = _parents()
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        for child, parent in parents.items():
            if parent == p:
                out.append(child)
                frontier.append(child)
    return out


def pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def worker_pids(proxy_pid: int) -> list[int]:
    """The redaction workers: the children of the proxy's multiprocessing fork server."""
    out = []
    for child in children(proxy_pid):
        try:
            if b"forkserver" in Path(f"/proc/{child}/cmdline").read_bytes():
                out += children(child)
        except OSError:
            continue
    return out


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


@dataclass
class Minute:
    served: int = 0
    injected: int = 0
    other: int = 0
    leaks: int = 0
    kills: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    other_kinds: dict[str, int] = field(default_factory=dict)

    def other_error(self, kind: str) -> None:
        self.other += 1
        self.other_kinds[kind] = self.other_kinds.get(kind, 0) + 1


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


class Soak:
    def __init__(self, args: argparse.Namespace, proxy_url: str, proxy_pid: int) -> None:
        self.args = args
        self.url = proxy_url
        self.pid = proxy_pid
        self.minutes: list[Minute] = [Minute()]
        self.ticket = 100_000
        self.rng = random.Random(7)
        self.killed_at = 0.0  # requests finishing within 1 s of a kill may fail closed (502)

    @property
    def now(self) -> Minute:
        return self.minutes[-1]

    async def one(self, session: aiohttp.ClientSession) -> None:
        fault = None
        if self.rng.random() < self.args.fault_rate:
            fault = self.rng.choice(list(FAULTS))
        if fault == "disconnect":
            await self.disconnect()
            self.now.injected += 1
            return
        self.ticket += 1
        path = fault or f"/api/v2/tickets/{self.ticket}.json"
        started = time.perf_counter()
        try:
            async with session.get(self.url + path, headers={"X-Agent-Id": "soak"}) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.now.other_error(type(exc).__name__)
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        if fault is not None:
            if status == FAULTS[fault] and b"@example.com" not in body:
                self.now.injected += 1
            else:
                self.now.other_error(f"{fault}->{status}")
            return
        if status == 200:
            if b"@example.com" in body:
                self.now.leaks += 1
                self.now.other_error("leak")
                return
            self.now.served += 1
            self.now.latencies_ms.append(elapsed_ms)
        elif status == 502 and time.monotonic() - self.killed_at < 2.0 and b"worker" in body:
            self.now.injected += 1  # the request a killed worker was redacting
        else:
            self.now.other_error(f"ticket->{status}")

    async def disconnect(self) -> None:
        host, port = self.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        self.ticket += 1
        writer.write(f"GET /api/v2/tickets/{self.ticket}.json HTTP/1.1\r\nHost: x\r\n"
                     f"X-Agent-Id: soak\r\n\r\n".encode())
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.transport.abort()

    async def client(self, session: aiohttp.ClientSession, stop: float) -> None:
        while time.monotonic() < stop:
            await self.one(session)

    async def killer(self, stop: float) -> None:
        if not self.args.kill_every_s:
            return
        while True:
            await asyncio.sleep(self.args.kill_every_s)
            if time.monotonic() >= stop:
                return
            pids = worker_pids(self.pid)
            if pids:
                self.killed_at = time.monotonic()
                os.kill(self.rng.choice(pids), signal.SIGKILL)
                self.now.kills += 1

    async def run(self) -> list[dict]:
        rows: list[dict] = []
        period = self.args.minute_s
        intervals = max(1, round(self.args.minutes * 60 / period))
        start = time.monotonic()
        stop = start + intervals * period
        connector = aiohttp.TCPConnector(limit=self.args.concurrency)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            tasks = [asyncio.create_task(self.client(session, stop)) for _ in range(self.args.concurrency)]
            tasks.append(asyncio.create_task(self.killer(stop)))
            for minute in range(1, intervals + 1):
                await asyncio.sleep(max(0.0, start + minute * period - time.monotonic()))
                m = self.now
                self.minutes.append(Minute())
                workers = worker_pids(self.pid)
                row = {"minute": minute, "served": m.served, "injected_errors": m.injected,
                       "other_errors": m.other, "other_kinds": m.other_kinds, "leaks": m.leaks,
                       "worker_kills": m.kills, "p50_ms": pct(m.latencies_ms, 0.50),
                       "p99_ms": pct(m.latencies_ms, 0.99), "proxy_rss_mb": rss_mb(self.pid),
                       "workers_pss_mb": pss_mb(descendants(self.pid)), "workers": len(workers),
                       "open_fds": open_fds(self.pid)}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
            await asyncio.gather(*tasks)
        return rows


def verdict(rows: list[dict], warmup: int) -> dict:
    base = rows[min(warmup, len(rows)) - 1]
    last = rows[-1]

    def growth(key: str) -> float:
        return round(100 * (last[key] - base[key]) / base[key], 1) if base[key] else float("nan")
    def slope(key: str) -> float:  # least-squares MB per minute after warm-up
        pts = [(r["minute"], r[key]) for r in rows if r["minute"] >= base["minute"]]
        if len(pts) < 2:
            return float("nan")
        mx = statistics.fmean(x for x, _ in pts)
        my = statistics.fmean(y for _, y in pts)
        den = sum((x - mx) ** 2 for x, _ in pts)
        return round(sum((x - mx) * (y - my) for x, y in pts) / den, 2)
    other = sum(r["other_errors"] for r in rows)
    out = {"baseline_minute": base["minute"], "proxy_rss_growth_pct": growth("proxy_rss_mb"),
           "workers_pss_growth_pct": growth("workers_pss_mb"),
           "proxy_rss_slope_mb_per_min": slope("proxy_rss_mb"),
           "workers_pss_slope_mb_per_min": slope("workers_pss_mb"), "other_errors": other,
           "served": sum(r["served"] for r in rows),
           "injected_errors": sum(r["injected_errors"] for r in rows)}
    out["pass"] = (out["proxy_rss_growth_pct"] < 10 and out["workers_pss_growth_pct"] < 10
                   and other == 0)
    return out


def markdown(rows: list[dict], v: dict, header: str) -> str:
    lines = [header, "",
             "| min | served | injected err | other err | kills | p50 ms | p99 ms | proxy RSS MB | workers PSS MB | workers | fds |",
             "|----:|-------:|-------------:|----------:|------:|-------:|-------:|-------------:|---------------:|--------:|----:|"]
    for r in rows:
        lines.append(f"| {r['minute']} | {r['served']} | {r['injected_errors']} | {r['other_errors']} | "
                     f"{r['worker_kills']} | {r['p50_ms']} | {r['p99_ms']} | {r['proxy_rss_mb']} | {r['workers_pss_mb']} | "
                     f"{r['workers']} | {r['open_fds']} |")
    lines += ["", f"Memory growth after warm-up (minute {v['baseline_minute']} to the end): proxy "
              f"{v['proxy_rss_growth_pct']}%, workers {v['workers_pss_growth_pct']}% (limit 10%); trend "
              f"proxy {v['proxy_rss_slope_mb_per_min']} MB/min, workers {v['workers_pss_slope_mb_per_min']} MB/min; "
              f"served {v['served']}, injected errors {v['injected_errors']}, other errors "
              f"{v['other_errors']}: **{'PASS' if v['pass'] else 'FAIL'}**"]
    return "\n".join(lines)


async def wait_ready(url: str, timeout_s: float, proxy: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proxy.poll() is not None:
                raise SystemExit(f"the proxy exited with status {proxy.returncode} (see its log above)")
            try:
                async with s.get(url + "/_redactor/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("proxy did not become ready")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--warmup-minutes", type=int, default=3,
                   help="reporting intervals of warm-up: workers' fork-server pages turn private "
                        "(copy-on-write) and the bounded caches fill")
    p.add_argument("--minute-s", type=float, default=60.0,
                   help="length of a reporting interval in seconds (shorter for a quick check)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--policy", default=str(ROOT / "proxy" / "zendesk.yaml"))
    p.add_argument("--fault-rate", type=float, default=0.0, help="fraction of requests that are faults")
    p.add_argument("--kill-every-s", type=float, default=0.0, help="SIGKILL a worker this often")
    p.add_argument("--cache-mb", type=float, default=4.0,
                   help="the proxy's body cache (MiB); bounded, so it fills during warm-up")
    p.add_argument("--json", help="write the rows and verdict here")
    args = p.parse_args(argv)

    crm_port, proxy_port = free_port(), free_port()
    tmp = tempfile.TemporaryDirectory()
    config = Path(tmp.name) / "proxy.yaml"
    config.write_text(f"cache_bytes: {int(args.cache_mb * 1024 * 1024)}\nlog_level: WARNING\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("REDACTOR_")},
           "REDACTOR_UPSTREAM": f"http://127.0.0.1:{crm_port}", "REDACTOR_TRUSTED_PEERS": "127.0.0.1"}
    crm = subprocess.Popen([PY, str(ROOT / "tests" / "fixtures" / "fake_crm.py"), "--port", str(crm_port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([PY, "-m", "redactor.cli", "proxy", "--listen", f"127.0.0.1:{proxy_port}",
                              "--policy", args.policy, "--workers", str(args.workers),
                              "--config", str(config)], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{proxy_port}"
    try:
        asyncio.run(wait_ready(url, 120, proxy))
        load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        rows = asyncio.run(Soak(args, url, proxy.pid).run())
        load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    finally:
        proxy.send_signal(signal.SIGTERM)
        crm.terminate()
        proxy.wait(30)
        crm.wait(10)
        tmp.cleanup()
    v = verdict(rows, args.warmup_minutes)
    header = (f"soak: {started}, {args.minutes:g} min, concurrency {args.concurrency}, policy "
              f"{Path(args.policy).name}, {args.workers} workers, fault rate {args.fault_rate:g}, "
              f"worker kill every {args.kill_every_s:g} s (0: none), cache {args.cache_mb:g} MiB, "
              f"warm-up {args.warmup_minutes} min, "
              f"{os.cpu_count()} CPUs shared with other jobs; load average before/after: "
              f"{load_before} / {load_after}")
    print(markdown(rows, v, header))
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "rows": rows, "verdict": v}, indent=1))
    return 0 if v["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
