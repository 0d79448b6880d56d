"""redactor's reverse proxy: redacts CRM and ticketing API responses before agents see them.

Run it with ``redactor proxy --upstream URL --listen HOST:PORT [--policy FILE]``, or build
the aiohttp application yourself::

    from redactor.proxy import create_app, load_config
    app = create_app(load_config(overrides={"upstream": "http://crm.internal"}))

Extension points for other parts (audit, reveal, anomaly flags): the per-request
:class:`RequestContext`, the ``REQUEST_HOOKS`` / ``REQUEST_BODY_HOOKS`` /
``RESPONSE_HOOKS`` lists (see :mod:`redactor.proxy.context`) and ``create_app(plugins=...)``
for reserved endpoints.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real imports are lazy, so `redactor --help` works without aiohttp
    from .app import RESERVED_PREFIX, create_app
    from .codecs import BodyKind
    from .config import IdentityConfig, ProxyConfig, load_config
    from .context import (RedactedResponse, RequestBodyHook, RequestContext, RequestHook,
                          ResponseHook)
    from .errors import (BodyDecodeError, BodyTooLarge, ConfigError, FailClosed, Overloaded,
                         PoolClosed, ProxyError, RedactionFailed, WorkerCrashed, WorkerTimeout)
    from .governance import governance_plugin
    from .keys import (CONFIG, CONTEXT, GOVERNANCE, METRICS, POLICY, POOL, REQUEST_BODY_HOOKS,
                       REQUEST_HOOKS, RESPONSE_HOOKS, VAULT_SPEC)
    from .pool import WorkerPool

_WHERE = {
    "RESERVED_PREFIX": "app", "create_app": "app", "BodyKind": "codecs",
    "IdentityConfig": "config", "ProxyConfig": "config", "load_config": "config",
    "RedactedResponse": "context", "RequestContext": "context", "RequestHook": "context",
    "ResponseHook": "context", "RequestBodyHook": "context", "WorkerPool": "pool",
    "governance_plugin": "governance",
    **{name: "errors" for name in ("BodyDecodeError", "BodyTooLarge", "ConfigError", "FailClosed",
                                   "Overloaded", "PoolClosed", "ProxyError", "RedactionFailed",
                                   "WorkerCrashed", "WorkerTimeout")},
    **{name: "keys" for name in ("CONFIG", "CONTEXT", "GOVERNANCE", "METRICS", "POLICY", "POOL",
                                 "REQUEST_BODY_HOOKS", "REQUEST_HOOKS", "RESPONSE_HOOKS",
                                 "VAULT_SPEC")},
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'redactor.proxy' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BodyDecodeError",
    "BodyKind",
    "BodyTooLarge",
    "CONFIG",
    "CONTEXT",
    "ConfigError",
    "FailClosed",
    "GOVERNANCE",
    "IdentityConfig",
    "METRICS",
    "Overloaded",
    "POLICY",
    "POOL",
    "PoolClosed",
    "ProxyConfig",
    "ProxyError",
    "REQUEST_BODY_HOOKS",
    "REQUEST_HOOKS",
    "RESERVED_PREFIX",
    "RESPONSE_HOOKS",
    "RedactedResponse",
    "RedactionFailed",
    "RequestBodyHook",
    "RequestContext",
    "RequestHook",
    "ResponseHook",
    "VAULT_SPEC",
    "WorkerCrashed",
    "WorkerPool",
    "WorkerTimeout",
    "create_app",
    "governance_plugin",
    "load_config",
]
