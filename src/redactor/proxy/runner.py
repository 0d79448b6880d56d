"""Where a redaction job runs: the payload cache, inline in the event loop, or a worker.

With a vault (:class:`~.vaulting.VaultSpec`) every job carries its (tenant, ticket) scope:
vault tokens are issued per ticket, and the payload cache keys on the scope too, so a
body cached for one ticket is never served with another ticket's tokens.

Inline runs happen only when the policy has no NER model (patterns only) and the job is at
most ``inline_max_bytes``, or when the proxy has no workers at all (``workers: 0``). Every
other job goes to the :class:`~.pool.WorkerPool`, so one large ticket never stalls the loop.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

from ..errors import DetectionTimeout, OperatorError
from ..policy import Policy
from ..vault.errors import VaultError
from .bodies import RedactorSet
from .cache import BodyCache
from .config import ProxyConfig
from .context import RequestContext
from .errors import PoolClosed, RedactionFailed
from .metrics import ProxyMetrics
from .pool import Job, JobResult, WorkerPool, run_job
from .vaulting import NO_TICKET, VaultSpec

if TYPE_CHECKING:
    from ..vault import Vault

__all__ = ["RedactionRunner"]

log = logging.getLogger(__name__)


class RedactionRunner:
    """Runs jobs for one app. ``pool`` may be ``None`` only when ``config.workers == 0``.
    ``vault``: where vault tokens go (the pool's workers must have the same spec)."""

    def __init__(self, policy: Policy, config: ProxyConfig, metrics: ProxyMetrics,
                 pool: WorkerPool | None, vault: VaultSpec | None = None) -> None:
        self.policy = policy
        self.config = config
        self.metrics = metrics
        self.pool = pool
        inline = policy.model is None or config.workers == 0
        if policy.model is not None and config.workers == 0:
            log.warning("workers=0 with an NER policy: every redaction runs in the event loop")
        self.inline: RedactorSet | None = RedactorSet(policy) if inline else None
        self.cache = BodyCache(config.cache_bytes) if config.cache_bytes else None
        self.vault_spec = vault
        self._vault: Vault | None = None
        if vault is not None and self.inline is not None:
            self._vault = vault.open()

    def close(self) -> None:
        """Release the inline vault connection (if any)."""
        if self._vault is not None:
            self._vault.close()
            self._vault = None

    def _inline_ok(self, job: Job) -> bool:
        if self.inline is None:
            return False
        return self.pool is None or job.size <= self.config.inline_max_bytes

    async def run(self, job: Job, ctx: RequestContext) -> JobResult:
        """Redact ``job`` for ``ctx``; the result's counts are added to ``ctx``.

        Raises:
            FailClosed: any failure (parse, pattern timeout, worker crash or timeout).
        """
        if self.vault_spec is not None:
            job = dataclasses.replace(job, scope=(self.vault_spec.tenant, ctx.ticket_id or NO_TICKET))
        key = None
        if self.cache is not None and not job.kind.streamed:
            scope = job.scope or ("", "")
            key = self.cache.key(self.policy.hash, job.role, job.kind.value, job.charset, *scope,
                                 body=job.data)
            hit = self.cache.get(key)
            if hit is not None:
                ctx.cache_hit = True
                self.metrics.cache_hits.inc()
                return JobResult(data=hit[0], counts=dict(hit[1]))
        started = time.perf_counter()
        if self._inline_ok(job):
            assert self.inline is not None
            try:
                result = run_job(self.inline, job, self._vault)
            except DetectionTimeout:
                raise RedactionFailed("a pattern ran out of time") from None
            except (OperatorError, VaultError) as exc:  # the vault store failed: fail closed
                raise RedactionFailed(f"vault tokens could not be issued ({type(exc).__name__})") from None
        elif self.pool is None:
            raise PoolClosed("no worker pool")
        else:
            result = await self.pool.run(job, timeout_s=self.config.redaction_timeout_s,
                                         wait_s=self.config.worker_wait_s)
        elapsed = time.perf_counter() - started
        ctx.redaction_s = (ctx.redaction_s or 0.0) + elapsed
        self.metrics.redaction_seconds.labels(job.kind.value).observe(elapsed)
        if key is not None and self.cache is not None:
            self.cache.put(key, result.data, result.counts)
        return result
