"""Typed keys of the proxy's application and request state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from ..policy import Policy
from .config import ProxyConfig
from .context import RequestBodyHook, RequestContext, RequestHook, ResponseHook
from .metrics import ProxyMetrics
from .vaulting import VaultSpec

if TYPE_CHECKING:
    from .governance import Governance
    from .pool import WorkerPool
    from .runner import RedactionRunner

__all__ = ["CONFIG", "CONTEXT", "GOVERNANCE", "METRICS", "POLICY", "POOL", "REQUEST_BODY_HOOKS",
           "REQUEST_HOOKS", "RESPONSE_HOOKS", "RUNNER", "SESSION", "VAULT_SPEC"]

CONFIG = web.AppKey("config", ProxyConfig)
POLICY = web.AppKey("policy", Policy)
METRICS = web.AppKey("metrics", ProxyMetrics)
SESSION = web.AppKey("upstream_session", aiohttp.ClientSession)
POOL: web.AppKey[WorkerPool | None] = web.AppKey("worker_pool")
RUNNER: web.AppKey[RedactionRunner] = web.AppKey("runner")
REQUEST_HOOKS: web.AppKey[list[RequestHook]] = web.AppKey("request_hooks")
REQUEST_BODY_HOOKS: web.AppKey[list[RequestBodyHook]] = web.AppKey("request_body_hooks")
RESPONSE_HOOKS: web.AppKey[list[ResponseHook]] = web.AppKey("response_hooks")
CONTEXT = web.RequestKey("context", RequestContext)
# Set by the governance plugin: the vault the redaction runner and workers issue tokens in.
VAULT_SPEC: web.AppKey[VaultSpec | None] = web.AppKey("vault_spec")
GOVERNANCE: web.AppKey[Governance] = web.AppKey("governance")
