"""Exceptions of the proxy, all under :class:`~redactor.errors.RedactorError`::

    RedactorError
    └── ProxyError               base of every proxy error
        ├── ConfigError          the proxy configuration is invalid (names the key and source)
        ├── FailClosed           a response must not reach the agent; carries ``reason``
        │   ├── BodyTooLarge     the (decoded) body is over ``max_body_bytes``
        │   ├── BodyDecodeError  a Content-Encoding or charset cannot be decoded
        │   ├── RedactionFailed  the body cannot be parsed or redacted
        │   ├── WorkerCrashed    the worker process died during the job (it is replaced)
        │   ├── WorkerTimeout    the job ran past ``redaction_timeout_s`` (the worker is killed)
        │   ├── Overloaded       no worker became free in time (503)
        │   └── PoolClosed       the worker pool is shut down

``FailClosed.reason`` is a short, fixed token (``"body_too_large"``, ``"worker_crash"``...)
used as a metric label and in the JSON error; messages never hold a body byte or a value.
"""

from __future__ import annotations

from ..errors import RedactorError

__all__ = ["BodyDecodeError", "BodyTooLarge", "ConfigError", "FailClosed", "Overloaded", "PoolClosed",
           "ProxyError", "RedactionFailed", "WorkerCrashed", "WorkerTimeout"]


class ProxyError(RedactorError):
    """Base class of the proxy's errors."""


class ConfigError(ProxyError):
    """The proxy configuration is invalid.

    Attributes:
        source: where the bad value came from (a file path, ``"env:REDACTOR_WORKERS"``,
            ``"<args>"``); ``key``: the configuration key, or ``None``.
    """

    def __init__(self, message: str, *, source: str = "<config>", key: str | None = None) -> None:
        self.source = source
        self.key = key
        prefix = f"{source}: " if key is None else f"{source}: key '{key}': "
        super().__init__(prefix + message)


class FailClosed(ProxyError):
    """The response cannot be delivered redacted; the agent gets an error, never the body."""

    reason = "redaction_failed"
    status = 502


class BodyTooLarge(FailClosed):
    reason = "body_too_large"


class BodyDecodeError(FailClosed):
    reason = "body_decode_error"


class RedactionFailed(FailClosed):
    reason = "redaction_failed"


class WorkerCrashed(FailClosed):
    reason = "worker_crash"


class WorkerTimeout(FailClosed):
    reason = "worker_timeout"


class Overloaded(FailClosed):
    """No worker became free within the wait limit."""

    reason = "overloaded"
    status = 503


class PoolClosed(FailClosed):
    """The worker pool was shut down while a job waited for it."""

    reason = "pool_closed"
    status = 503
