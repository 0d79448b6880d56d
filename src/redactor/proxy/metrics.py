"""Prometheus metrics of one proxy app, in their own registry (several apps per process
are fine, e.g. in tests). Names, all prefixed ``redactor_proxy_``:

==============================  ==========  =================================================
requests_total                  counter     by ``status`` (HTTP code) and ``kind``
upstream_seconds                histogram   upstream time to full body (seconds)
redaction_seconds               histogram   redaction time by ``kind`` (seconds)
findings_total                  counter     by ``entity_type``
fail_closed_total               counter     by ``reason`` (``body_too_large``, ``worker_crash``...)
body_bytes_total                counter     by ``direction`` (``upstream`` in, ``client`` out)
cache_hits_total                counter     redacted bodies served from the payload cache
workers_alive                   gauge       worker processes alive
worker_restarts_total           counter     (gauge of the pool's restart count)
==============================  ==========  =================================================

With governance (:class:`GovernanceMetrics`, same registry):

==============================  ==========  =================================================
audit_records_total             counter     by ``action`` and ``result`` (written, spooled,
                                            failed)
audit_append_seconds            histogram   time a response spends queueing its view record
                                            (seconds; the commit runs on the writer thread)
anomaly_flags_total             counter     by ``kind`` and ``blocked`` (true / false)
reveals_total                   counter     by ``outcome`` (allowed, denied, error) and ``rule``
rehydrated_tokens_total         counter     tokens replaced by values, by ``entity_type``
==============================  ==========  =================================================
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "GovernanceMetrics", "ProxyMetrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ProxyMetrics:
    """The proxy's metric families; :meth:`render` gives the text exposition format."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        p = "redactor_proxy_"
        self.requests = Counter(p + "requests_total", "Requests by HTTP status and body kind",
                                ["status", "kind"], registry=r)
        self.upstream_seconds = Histogram(p + "upstream_seconds", "Upstream response time (s)",
                                          buckets=_BUCKETS, registry=r)
        self.redaction_seconds = Histogram(p + "redaction_seconds", "Redaction time (s)", ["kind"],
                                           buckets=_BUCKETS, registry=r)
        self.findings = Counter(p + "findings_total", "Findings redacted, by entity type",
                                ["entity_type"], registry=r)
        self.fail_closed = Counter(p + "fail_closed_total", "Responses refused to fail closed",
                                   ["reason"], registry=r)
        self.body_bytes = Counter(p + "body_bytes_total", "Body bytes", ["direction"], registry=r)
        self.cache_hits = Counter(p + "cache_hits_total", "Bodies served from the payload cache",
                                  registry=r)
        self.workers_alive = Gauge(p + "workers_alive", "Worker processes alive", registry=r)
        self.worker_restarts = Gauge(p + "worker_restarts_total",
                                     "Worker processes replaced since start", registry=r)

        self._children: dict[tuple[str, ...], object] = {}
        self.bytes_upstream = self.body_bytes.labels("upstream")
        self.bytes_client = self.body_bytes.labels("client")

    def request(self, status: str, kind: str) -> Counter:
        """The ``requests_total`` child for (status, kind), cached (``labels()`` is slow)."""
        key = ("r", status, kind)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(status, kind)
        return child  # type: ignore[return-value]

    def finding(self, entity_type: str) -> Counter:
        key = ("f", entity_type)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.findings.labels(entity_type)
        return child  # type: ignore[return-value]

    def render(self) -> bytes:
        return generate_latest(self.registry)


class GovernanceMetrics:
    """The governance metric families, added to a :class:`ProxyMetrics` registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        p = "redactor_proxy_"
        self.audit_records = Counter(p + "audit_records_total", "Audit records by action and result",
                                     ["action", "result"], registry=registry)
        self.audit_append_seconds = Histogram(
            p + "audit_append_seconds", "Time a response spends queueing its audit record (s)",
            buckets=(0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1),
            registry=registry)
        self.anomaly_flags = Counter(p + "anomaly_flags_total", "Access-anomaly flags",
                                     ["kind", "blocked"], registry=registry)
        self.reveals = Counter(p + "reveals_total", "Reveal requests by outcome and rule",
                               ["outcome", "rule"], registry=registry)
        self.rehydrated = Counter(p + "rehydrated_tokens_total",
                                  "Vault tokens re-hydrated in requests", ["entity_type"],
                                  registry=registry)
