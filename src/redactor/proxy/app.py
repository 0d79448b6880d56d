"""The application factory, its middlewares and the reserved ``/_redactor/`` endpoints.

Middlewares, outermost first, each named for what it does:

1. :func:`request_context_and_access_log`: makes the :class:`RequestContext` (request id,
   ticket id), sets ``X-Request-Id`` on the answer, counts metrics and writes one JSON log
   line per request (no raw values);
2. :func:`fail_closed`: turns any failure into a short JSON error (502 / 503 / 504) that
   holds no byte of the upstream body;
3. :func:`agent_identity`: establishes the agent id and role (:mod:`.trust`: a verified
   token, or identity headers from a trusted peer only); 401 for a rejected token, or when
   the policy requires an identity and there is none.

Upstream responses pass :func:`_scrub_upstream_headers` (no proxy-owned header names, no
Location / Link into ``/_redactor``); the catch-all route never forwards a reserved path.

State lives under typed keys (:mod:`.keys`); the one upstream ``ClientSession`` and the
worker pool are opened and closed in ``cleanup_ctx``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from typing import AsyncIterator, Awaitable, Callable, Iterable

import aiohttp
from aiohttp import web

from ..policy import Policy, load_policy
from .config import ProxyConfig
from .context import RequestContext, new_request_id
from .errors import FailClosed, ProxyError
from .handler import UpstreamFailed, error_response, proxy_handler, reset_connection
from .keys import (CONFIG, CONTEXT, METRICS, POLICY, POOL, REQUEST_BODY_HOOKS, REQUEST_HOOKS,
                   RESPONSE_HOOKS, RUNNER, SESSION, VAULT_SPEC)
from .metrics import CONTENT_TYPE_LATEST, ProxyMetrics
from .pool import WorkerPool
from .runner import RedactionRunner
from .trust import TRUST, IdentityRejected, Trust, is_reserved
from .vaulting import policy_uses_vault

__all__ = ["RESERVED_PREFIX", "create_app"]

log = logging.getLogger(__name__)
access_log = logging.getLogger("redactor.proxy.access")

RESERVED_PREFIX = "/_redactor/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_IDENTIFIED_RESERVED = frozenset({RESERVED_PREFIX + "reveal"})  # reserved endpoints that need the agent


@web.middleware
async def request_context_and_access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    config = request.app[CONFIG]
    ctx = RequestContext(new_request_id(request.headers.get(config.request_id_header)),
                         request.method, request.path, policy_hash=request.app[POLICY].hash)
    if config.ticket_id_pattern and not request.path.startswith(RESERVED_PREFIX):
        match = re.search(config.ticket_id_pattern, request.path)
        ctx.ticket_id = match.group(1) if match else None
    request[CONTEXT] = ctx
    response: web.StreamResponse | None = None
    status = 499  # the client went away before an answer
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:  # a whole body: send it here, under the client send timeout
            await _deliver(request, response, ctx)
        return response
    except web.HTTPException as exc:  # raised by a hook (e.g. a 403 block)
        status = exc.status
        raise
    finally:
        ctx.status = status
        _record(request.app[METRICS], ctx)
        logged = not request.path.startswith(RESERVED_PREFIX) or request.path in _IDENTIFIED_RESERVED
        if logged and access_log.isEnabledFor(logging.INFO):  # reveals too; not health checks
            access_log.info("request", extra={"fields": ctx.log_fields()})


async def _deliver(request: web.Request, response: web.StreamResponse, ctx: RequestContext) -> None:
    """Send a whole response within ``client_send_timeout_s``; a client reading slower
    (slow loris) has its connection aborted, so it cannot hold memory and a descriptor."""
    try:
        async with asyncio.timeout(request.app[CONFIG].client_send_timeout_s):
            await response.prepare(request)
            await response.write_eof()
    except TimeoutError:
        ctx.fail_reason = "client_too_slow"
        reset_connection(request.transport)
    except ConnectionError:
        ctx.fail_reason = "client_disconnected"


def _record(metrics: ProxyMetrics, ctx: RequestContext) -> None:
    metrics.request(str(ctx.status), ctx.kind or "none").inc()
    for etype, n in ctx.counts.items():
        metrics.finding(etype).inc(n)
    metrics.bytes_upstream.inc(ctx.bytes_upstream)
    metrics.bytes_client.inc(ctx.bytes_client)


@web.middleware
async def fail_closed(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request[CONTEXT]
    metrics = request.app[METRICS]
    try:
        return await handler(request)
    except FailClosed as exc:
        ctx.fail_reason = exc.reason
        metrics.fail_closed.labels(exc.reason).inc()
        return error_response(exc.status, _PUBLIC_MESSAGES.get(exc.reason, "response withheld"), ctx)
    except UpstreamFailed as exc:
        ctx.fail_reason = exc.reason
        metrics.fail_closed.labels(exc.reason).inc()
        return error_response(exc.status, exc.message, ctx)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug: log where, never the message (it may quote a body)
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        log.error("internal error %s at %s:%s (request %s)", type(exc).__name__,
                  frame.filename.rsplit("/", 1)[-1], frame.lineno, ctx.request_id)
        ctx.fail_reason = "internal_error"
        metrics.fail_closed.labels("internal_error").inc()
        return error_response(502, "response withheld: internal error", ctx)


_PUBLIC_MESSAGES = {
    "body_too_large": "response withheld: body exceeds the proxy's size limit",
    "body_decode_error": "response withheld: body could not be decoded",
    "redaction_failed": "response withheld: body could not be redacted",
    "worker_crash": "response withheld: redaction worker failed",
    "worker_timeout": "response withheld: redaction timed out",
    "overloaded": "proxy overloaded, retry later",
    "pool_closed": "proxy is shutting down",
}


@web.middleware
async def agent_identity(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request[CONTEXT]
    try:  # on every path, so reserved endpoints (plugins) see only an established identity
        who = request.app[TRUST].identify(request.headers, request.remote)
    except IdentityRejected as exc:
        ctx.kind = "unauthenticated"
        ctx.fail_reason = exc.reason
        return error_response(401, "agent token rejected", ctx)
    ctx.agent_id, ctx.role = who.agent_id, who.role
    ctx.extra["identity"] = who
    if request.path.startswith(RESERVED_PREFIX) and request.path not in _IDENTIFIED_RESERVED:
        return await handler(request)  # health, readiness, metrics: no agent needed
    if ctx.agent_id is None and request.app[POLICY].proxy.require_identity:
        ctx.kind = "unauthenticated"
        return error_response(401, "agent identity required", ctx)
    return await handler(request)


async def _scrub_upstream_headers(request: web.Request, response: web.StreamResponse) -> None:
    """An upstream response may not set the proxy's own headers nor point into /_redactor."""
    if is_reserved(request.rel_url.raw_path):
        return  # the proxy's own endpoint
    request.app[TRUST].scrub_response(response.headers, base_path=request.rel_url.raw_path,
                                      proxy_host=request.host)


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    ctx = request.get(CONTEXT)
    if ctx is not None:
        response.headers[request.app[CONFIG].request_id_header] = ctx.request_id


# -- reserved endpoints ------------------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    """Process up: always 200 while the event loop answers."""
    return web.json_response({"status": "ok"})


async def _upstream_reachable(app: web.Application) -> bool:
    url = app[CONFIG].upstream_url
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        async with asyncio.timeout(1.0):
            _, writer = await asyncio.open_connection(url.host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def readyz(request: web.Request) -> web.Response:
    """Ready: workers loaded (or inline redaction) and the upstream accepts connections."""
    app = request.app
    pool = app[POOL]
    reasons = []
    if pool is not None and pool.alive == 0:
        reasons.append("no redaction worker is ready")
    if not await _upstream_reachable(app):
        reasons.append("upstream is not reachable")
    body = {"status": "ready" if not reasons else "not ready", "policy_hash": app[POLICY].hash,
            "workers": pool.alive if pool is not None else 0, "reasons": reasons}
    return web.json_response(body, status=200 if not reasons else 503)


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    pool, m = app[POOL], app[METRICS]
    if pool is not None:
        m.workers_alive.set(pool.alive)
        m.worker_restarts.set(pool.restarts)
    return web.Response(body=m.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def reserved_not_found(request: web.Request) -> web.Response:
    return error_response(404, "no such proxy endpoint", request.get(CONTEXT))


async def forward(request: web.Request) -> web.StreamResponse:
    """The catch-all route: reserved paths in any spelling (``/_REDACTOR/``, ``/%5Fredactor``,
    ``//_redactor``, ``/a/../_redactor``) are answered here and never forwarded."""
    if is_reserved(request.rel_url.raw_path) or is_reserved(request.path):
        return await reserved_not_found(request)
    return await proxy_handler(request)


# -- the factory ---------------------------------------------------------------------------------

def _upstream_session(app: web.Application) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG]
        connector = aiohttp.TCPConnector(limit=config.upstream_connections, keepalive_timeout=30)
        timeout = aiohttp.ClientTimeout(total=None, connect=config.upstream_connect_timeout_s)
        app[SESSION] = aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # never mix one agent's cookies into another's
            skip_auto_headers=("User-Agent",), trust_env=False)
        yield
        await app[SESSION].close()
    return ctx


async def _worker_pool(app: web.Application) -> AsyncIterator[None]:
    owned = False
    vault = app.get(VAULT_SPEC)
    if app[POOL] is None and app[CONFIG].workers > 0:
        pool = WorkerPool(app[POLICY], workers=app[CONFIG].workers, vault=vault)
        await asyncio.get_running_loop().run_in_executor(None, pool.start)
        app[POOL] = pool
        owned = True
    elif app[POOL] is not None and vault is not None and app[POOL].vault != vault:  # type: ignore[union-attr]
        raise ProxyError("the worker pool was started without this app's vault")
    if vault is None and policy_uses_vault(app[POLICY]):
        raise ProxyError("the policy issues vault tokens (pseudonymize with vault: true): "
                         "run the proxy with governance (an audit store and a vault key)")
    app[RUNNER] = RedactionRunner(app[POLICY], app[CONFIG], app[METRICS], app[POOL], vault)
    yield
    app[RUNNER].close()
    if owned and app[POOL] is not None:
        app[POOL].close()  # type: ignore[union-attr]


Plugin = Callable[[web.Application], None]


def create_app(config: ProxyConfig, *, policy: Policy | None = None,
               pool: WorkerPool | None = None, plugins: Iterable[Plugin] = ()) -> web.Application:
    """Build the proxy application.

    Args:
        config: the parsed configuration.
        policy: the policy to apply (default: ``load_policy(config.policy)``).
        pool: a started :class:`WorkerPool` to use (it is not closed with the app); when
            ``None`` and ``config.workers > 0`` the app starts and owns one.
        plugins: callables run on the app before the catch-all routes are added, so they
            can add reserved endpoints (``/_redactor/reveal``), hooks and cleanup contexts.

    Raises:
        PolicyError: the policy cannot be loaded.
    """
    policy = policy or load_policy(config.policy)
    if pool is not None and pool.policy.hash != policy.hash:
        raise ValueError("the worker pool runs a different policy")
    app = web.Application(middlewares=[request_context_and_access_log, fail_closed, agent_identity],
                          client_max_size=config.max_request_bytes)
    app[CONFIG] = config
    app[POLICY] = policy
    app[TRUST] = Trust(config.identity, config.request_id_header)
    if not app[TRUST].peers and app[TRUST].jwt is None and policy.proxy.require_identity:
        log.warning("no identity.trusted_peers and no identity.jwt: every request is anonymous "
                    "and the policy requires an identity, so all will get 401")
    app[METRICS] = ProxyMetrics()
    app[POOL] = pool
    app[REQUEST_HOOKS] = []
    app[REQUEST_BODY_HOOKS] = []
    app[RESPONSE_HOOKS] = []
    app.on_response_prepare.append(_scrub_upstream_headers)
    app.on_response_prepare.append(_add_request_id)
    app.cleanup_ctx.append(_upstream_session(app))
    app.cleanup_ctx.append(_worker_pool)
    app.router.add_get(RESERVED_PREFIX + "healthz", healthz)
    app.router.add_get(RESERVED_PREFIX + "readyz", readyz)
    app.router.add_get(RESERVED_PREFIX + "metrics", metrics)
    for plugin in plugins:
        plugin(app)
    app.router.add_route("*", RESERVED_PREFIX + "{tail:.*}", reserved_not_found)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app
