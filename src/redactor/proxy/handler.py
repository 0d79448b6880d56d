"""The forwarding handler: one request to the upstream, its response redacted or refused.

Decision per upstream response (Content-Type through :func:`~.codecs.classify`):

* no body (HEAD, 1xx, 204, 304): headers only;
* a redactable kind: read whole (capped at ``max_body_bytes`` before and after decoding),
  decode, redact, re-encode as the client accepts; NDJSON / SSE are redacted unit by unit
  and streamed;
* a pass-through type of the policy: streamed unchanged;
* anything else: 403 with a JSON error naming the policy rule; the body is not read.

Every failure raises :class:`~.errors.FailClosed` (or returns 502 / 504 for the upstream)
before a single byte of the upstream body is written.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from .codecs import BodyKind, Classification, StreamDecoder, choose_encoding, classify, \
    decode_body, encode_body, parse_content_type, parse_encodings
from .context import RedactedResponse, RequestContext
from .errors import BodyTooLarge, FailClosed, RedactionFailed
from .forwarding import add_vary, client_headers, range_allowed, upstream_headers, upstream_target
from .keys import (CONFIG, CONTEXT, METRICS, POLICY, REQUEST_BODY_HOOKS, REQUEST_HOOKS, RESPONSE_HOOKS,
                   RUNNER, SESSION)
from .pool import Job
from .trust import TRUST

__all__ = ["ClientTooSlow", "cut_connection", "error_response", "proxy_handler", "reset_connection",
           "send"]

_CHUNK = 64 * 1024
_SSE_SPLIT = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def error_response(status: int, message: str, ctx: RequestContext | None,
                   **extra: Any) -> web.Response:
    """A short JSON error: ``{"error": message, "request_id": ..., **extra}``."""
    body = {"error": message, "request_id": ctx.request_id if ctx else None, **extra}
    return web.json_response(body, status=status)


class UpstreamFailed(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


class ClientTooSlow(ConnectionResetError):
    """The client did not take a write within ``client_send_timeout_s``; its connection is
    aborted (handled like a client that went away)."""


def reset_connection(transport: asyncio.BaseTransport | None) -> None:
    """Abort ``transport`` with a TCP reset (SO_LINGER 0): the kernel drops what it still
    buffers for a client that stopped reading, instead of trickling it out as an orphan."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()  # type: ignore[attr-defined]


def cut_connection(request: web.Request, grace_s: float = 1.0) -> None:
    """Close the client connection: what is buffered gets ``grace_s`` seconds to flush (an
    SSE error event), then the socket is aborted, so a client that stops reading cannot
    hold the file descriptor."""
    transport = request.transport
    if transport is None or transport.is_closing():
        reset_connection(transport)
        return
    transport.close()
    asyncio.get_running_loop().call_later(grace_s, reset_connection, transport)


async def send(request: web.Request, response: web.StreamResponse, data: bytes) -> None:
    """``response.write(data)`` bounded by ``client_send_timeout_s`` (seconds).

    Raises:
        ClientTooSlow: the client did not read it in time (the connection is aborted).
    """
    try:
        async with asyncio.timeout(request.app[CONFIG].client_send_timeout_s):
            await response.write(data)
    except TimeoutError:
        reset_connection(request.transport)
        raise ClientTooSlow("client did not read the response in time") from None


def _gone(exc: BaseException) -> str:
    return "client_too_slow" if isinstance(exc, ClientTooSlow) else "client_disconnected"


async def _read_request_body(request: web.Request, limit: int) -> bytes | None:
    if not request.body_exists:
        return None
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


def _proxy_origin(request: web.Request) -> URL:
    return URL.build(scheme=request.scheme, authority=request.host)


async def proxy_handler(request: web.Request) -> web.StreamResponse:
    """Forward ``request`` upstream and answer with the redacted (or refused) response."""
    app, ctx = request.app, request[CONTEXT]
    config, policy = app[CONFIG], app[POLICY]
    for hook in app[REQUEST_HOOKS]:
        await hook(ctx, request)
    try:
        body = await _read_request_body(request, config.max_request_bytes)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "request body exceeds max_request_bytes", ctx)
    for body_hook in app[REQUEST_BODY_HOOKS]:
        body = await body_hook(ctx, request, body)
    drop, established = app[TRUST].upstream_identity(ctx.extra["identity"])
    headers = upstream_headers(
        request.headers, peer=request.remote, scheme=request.scheme, host=request.host,
        request_id=ctx.request_id, request_id_header=config.request_id_header, drop=drop,
        strip_range=not range_allowed(request.path, policy.proxy.passthrough_types))
    headers.update(established)  # only what the proxy established, never the client's claim
    url = upstream_target(config.upstream_url, request.rel_url.raw_path, request.rel_url.raw_query_string)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(config.upstream_timeout_s):
            upstream = await app[SESSION].request(request.method, url, headers=headers, data=body,
                                                  allow_redirects=False)
    except TimeoutError:
        raise UpstreamFailed(504, "upstream_timeout", "upstream did not answer in time") from None
    except (aiohttp.ClientError, OSError):
        raise UpstreamFailed(502, "upstream_unavailable", "upstream is unavailable") from None
    try:
        return await _respond(request, ctx, upstream, started)
    finally:
        upstream.release()


def _no_body(request: web.Request, upstream: aiohttp.ClientResponse) -> bool:
    status = upstream.status
    return (request.method == "HEAD" or status < 200 or status in (204, 304)
            or upstream.content_length == 0)


async def _respond(request: web.Request, ctx: RequestContext, upstream: aiohttp.ClientResponse,
                   started: float) -> web.StreamResponse:
    app = request.app
    policy = app[POLICY]
    cls = classify(upstream.headers.get("Content-Type"), policy.proxy.passthrough_types)
    origin = _proxy_origin(request)
    if _no_body(request, upstream):
        ctx.upstream_s = time.perf_counter() - started
        ctx.kind = cls.kind.value if cls.kind else ("passthrough" if cls.passthrough else "empty")
        headers = client_headers(upstream.headers.items(), redacted=cls.kind is not None,
                                 upstream=app[CONFIG].upstream_url, proxy_origin=origin,
                                 vary=app[CONFIG].identity.agent_role_header)
        if cls.kind is None and "Content-Length" in upstream.headers:
            headers["Content-Length"] = upstream.headers["Content-Length"]
        return web.Response(status=upstream.status, headers=headers)
    if cls.passthrough:
        return await _pass_through(request, ctx, upstream, started)
    if cls.refused:
        ctx.kind = "refused"
        ctx.upstream_s = time.perf_counter() - started
        return error_response(403, "response type not allowed by policy", ctx, rule=cls.rule)
    assert cls.kind is not None
    ctx.kind = cls.kind.value
    if upstream.status == 206:
        raise RedactionFailed("a partial (206) body cannot be redacted")
    headers = client_headers(upstream.headers.items(), redacted=True,
                             upstream=app[CONFIG].upstream_url, proxy_origin=origin,
                             vary=app[CONFIG].identity.agent_role_header)
    if cls.kind.streamed:
        return await _stream_units(request, ctx, upstream, cls, headers, started)
    return await _buffered(request, ctx, upstream, cls, headers, started)


async def _read_capped(upstream: aiohttp.ClientResponse, limit: int, timeout_s: float) -> bytes:
    declared = upstream.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge("upstream body exceeds max_body_bytes")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge("upstream body exceeds max_body_bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise UpstreamFailed(504, "upstream_timeout", "upstream body did not arrive in time") from None
    except (aiohttp.ClientError, OSError):
        raise UpstreamFailed(502, "upstream_body_error", "upstream body was cut off") from None
    return b"".join(chunks)


async def _buffered(request: web.Request, ctx: RequestContext, upstream: aiohttp.ClientResponse,
                    cls: Classification, headers: Any, started: float) -> web.StreamResponse:
    app = request.app
    config = app[CONFIG]
    remaining = max(0.001, config.upstream_timeout_s - (time.perf_counter() - started))
    raw = await _read_capped(upstream, config.max_body_bytes, remaining)
    ctx.upstream_s = time.perf_counter() - started
    app[METRICS].upstream_seconds.observe(ctx.upstream_s)
    ctx.bytes_upstream = len(raw)
    coding = upstream.headers.get("Content-Encoding")
    data = decode_body(raw, coding, limit=config.max_body_bytes)
    assert cls.kind is not None
    result = await app[RUNNER].run(Job(cls.kind, ctx.role, data=data, charset=cls.charset), ctx)
    if cls.kind is BodyKind.JSON and cls.charset not in ("utf-8", "utf8"):  # JSON is written as UTF-8
        media, _ = parse_content_type(upstream.headers.get("Content-Type"))
        headers["Content-Type"] = f"{media}; charset=utf-8"
    ctx.add_counts(result.counts)
    for hook in app[RESPONSE_HOOKS]:
        await hook(ctx, RedactedResponse(upstream.status, cls.kind,
                                         upstream.headers.get("Content-Type", ""), result.data,
                                         dict(result.counts)))
    codings = parse_encodings(coding)
    encoding = choose_encoding(request.headers.get("Accept-Encoding"),
                               codings[-1] if len(codings) == 1 else None)
    out = encode_body(result.data, encoding)
    if encoding:
        headers["Content-Encoding"] = encoding
        add_vary(headers, "Accept-Encoding")
    ctx.bytes_client = len(out)
    return web.Response(status=upstream.status, body=out, headers=headers)


async def _pass_through(request: web.Request, ctx: RequestContext, upstream: aiohttp.ClientResponse,
                        started: float) -> web.StreamResponse:
    app = request.app
    ctx.kind = "passthrough"
    ctx.upstream_s = time.perf_counter() - started
    headers = client_headers(upstream.headers.items(), redacted=False,
                             upstream=app[CONFIG].upstream_url, proxy_origin=_proxy_origin(request))
    for name in ("Content-Length", "Content-Encoding"):
        if name in upstream.headers:
            headers[name] = upstream.headers[name]
    response = web.StreamResponse(status=upstream.status, headers=headers)
    await response.prepare(request)
    idle_s = request.app[CONFIG].upstream_timeout_s
    try:
        while True:
            async with asyncio.timeout(idle_s):  # an upstream that stalls mid-body is cut
                chunk = await upstream.content.readany()
            if not chunk:
                break
            ctx.bytes_upstream += len(chunk)
            await send(request, response, chunk)
    except ConnectionResetError as exc:  # the client went away, or would not read
        ctx.fail_reason = _gone(exc)
        return response
    except (TimeoutError, aiohttp.ClientError, OSError):
        ctx.fail_reason = "upstream_body_error"
        cut_connection(request)
        return response
    ctx.bytes_client = ctx.bytes_upstream
    await response.write_eof()
    return response


def _split_units(kind: BodyKind, buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete NDJSON lines / SSE events in ``buffer``, and the incomplete rest."""
    if kind is BodyKind.NDJSON:
        *units, rest = buffer.split(b"\n")
        return [u.rstrip(b"\r") for u in units], rest
    parts = _SSE_SPLIT.split(buffer)
    return parts[:-1], parts[-1]


async def _stream_units(request: web.Request, ctx: RequestContext, upstream: aiohttp.ClientResponse,
                        cls: Classification, headers: Any, started: float) -> web.StreamResponse:
    """Redact NDJSON / SSE unit by unit as they arrive; identity-encoded to the client."""
    app = request.app
    config, runner = app[CONFIG], app[RUNNER]
    assert cls.kind is not None
    kind, sep = cls.kind, (b"\n" if cls.kind is BodyKind.NDJSON else b"\n\n")
    decoder = StreamDecoder(upstream.headers.get("Content-Encoding"))
    response = web.StreamResponse(status=upstream.status, headers=headers)
    if kind is BodyKind.SSE and "no-cache" not in response.headers["Cache-Control"]:
        response.headers["Cache-Control"] += ", no-cache"
    buffer = b""
    first = True

    async def emit(units: list[bytes]) -> None:
        nonlocal first
        result = await runner.run(Job(kind, ctx.role, units=tuple(units)), ctx)
        ctx.add_counts(result.counts)
        if first:  # headers go out only once the first unit is safely redacted
            ctx.upstream_s = time.perf_counter() - started
            await response.prepare(request)
            first = False
        payload = b"".join(u + sep for u in result.units)
        ctx.bytes_client += len(payload)
        await send(request, response, payload)

    try:
        async for chunk in upstream.content.iter_any():
            ctx.bytes_upstream += len(chunk)
            buffer += decoder.feed(chunk)
            units, buffer = _split_units(kind, buffer)
            if len(buffer) > config.max_body_bytes:
                raise BodyTooLarge("a streamed line or event exceeds max_body_bytes")
            if units:
                await emit(units)
        decoder.finish()
        if buffer.strip():
            await emit([buffer.rstrip(b"\r\n")])
    except ConnectionResetError as exc:  # the client went away, or would not read
        ctx.fail_reason = _gone(exc)
        return response
    except (aiohttp.ClientError, OSError) as exc:
        if first:
            raise UpstreamFailed(502, "upstream_body_error", "upstream stream was cut off") from exc
        return await _abort_stream(request, ctx, response, kind, "upstream_body_error")
    except FailClosed as exc:
        if first:
            raise
        return await _abort_stream(request, ctx, response, kind, exc.reason)
    if first:
        await response.prepare(request)
    for hook in app[RESPONSE_HOOKS]:
        await hook(ctx, RedactedResponse(upstream.status, kind, upstream.headers.get("Content-Type", ""),
                                         None, dict(ctx.counts)))
    await response.write_eof()
    return response


async def _abort_stream(request: web.Request, ctx: RequestContext, response: web.StreamResponse,
                        kind: BodyKind, reason: str) -> web.StreamResponse:
    """A stream that fails after it started: an SSE error event, then the connection is cut
    (no terminating chunk), so the client sees an incomplete response, not a clean end."""
    ctx.fail_reason = reason
    request.app[METRICS].fail_closed.labels(reason).inc()
    if kind is BodyKind.SSE:
        event = f'event: redactor-error\ndata: {{"error": "{reason}", "request_id": "{ctx.request_id}"}}\n\n'
        try:
            await send(request, response, event.encode())
        except (ConnectionError, RuntimeError):
            pass
    cut_connection(request)
    return response
