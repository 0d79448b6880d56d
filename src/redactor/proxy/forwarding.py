"""Header and URL rules for forwarding, both ways.

* Hop-by-hop headers (RFC 9110 section 7.6.1: Connection, Keep-Alive, Proxy-*, TE, Trailer,
  Transfer-Encoding, Upgrade, and any header named in Connection) are dropped both ways.
* Upstream requests get X-Forwarded-For (appended), -Proto and -Host, the request id, an
  Accept-Encoding the proxy can decode, and no Host (the client library sets the upstream's).
  Cookies and Authorization pass untouched.
* Responses lose Content-Length / Content-Encoding (set again for what is sent) and, when
  the body was redacted, ETag, Content-MD5, digests and range headers that no longer match.
  Location and Content-Location pointing at the upstream are rewritten to the proxy.
"""

from __future__ import annotations

import fnmatch
import mimetypes
import posixpath
from functools import lru_cache
from typing import Iterable, Mapping

from multidict import CIMultiDict
from yarl import URL

from .codecs import upstream_accept_encoding

__all__ = ["HOP_BY_HOP", "add_vary", "client_headers", "private_cache_control", "range_allowed",
           "rewrite_location", "strip_hop_by_hop", "upstream_headers", "upstream_target"]

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "trailers", "transfer-encoding",
                        "upgrade"})
# Headers that describe the upstream's bytes, and so are wrong for a redacted body.
_REPRESENTATION = frozenset({"etag", "content-md5", "digest", "content-digest", "repr-digest",
                             "accept-ranges", "content-range"})
_PLAIN_DROP = frozenset({"content-length", "content-encoding"})
_REDACTED_DROP = _PLAIN_DROP | _REPRESENTATION


def strip_hop_by_hop(headers: Mapping[str, str] | Iterable[tuple[str, str]],
                     drop: frozenset[str] = frozenset()) -> CIMultiDict[str]:
    """A copy of ``headers`` without hop-by-hop headers, those named in Connection, and
    ``drop`` (lower-case names)."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    lowered = [(k.lower(), k, v) for k, v in items]
    skip = HOP_BY_HOP | drop
    for name, _, value in lowered:
        if name == "connection":
            skip = skip | {t.strip().lower() for t in value.split(",")}
    return CIMultiDict([(k, v) for name, k, v in lowered if name not in skip])


def range_allowed(path: str, passthrough_types: Iterable[str]) -> bool:
    """Whether a Range request may go upstream: only for paths that look like pass-through
    media (``/files/a.png`` with ``image/*`` allowed). Everything else may be redactable,
    and a partial JSON or HTML body cannot be redacted."""
    return _extension_allowed(posixpath.splitext(path)[1].lower(), tuple(passthrough_types))


@lru_cache(maxsize=1024)
def _extension_allowed(extension: str, passthrough_types: tuple[str, ...]) -> bool:
    guessed, _ = mimetypes.guess_type("x" + extension)
    if guessed is None:
        return False
    return any(fnmatch.fnmatchcase(guessed, p.lower()) for p in passthrough_types)


def upstream_headers(headers: Mapping[str, str], *, peer: str | None, scheme: str, host: str,
                     request_id: str, request_id_header: str, drop: Iterable[str] = (),
                     strip_range: bool = True) -> CIMultiDict[str]:
    """Headers for the upstream request, from the client's ``headers``."""
    dropped = {"host", "content-length", "accept-encoding", request_id_header.lower(),
               *(d.lower() for d in drop)}
    if strip_range:
        dropped |= {"range", "if-range"}
    out = strip_hop_by_hop(headers.items(), frozenset(dropped))
    forwarded_for = headers.get("X-Forwarded-For")
    if peer:
        out["X-Forwarded-For"] = f"{forwarded_for}, {peer}" if forwarded_for else peer
    out.setdefault("X-Forwarded-Proto", scheme)
    out.setdefault("X-Forwarded-Host", host)
    out[request_id_header] = request_id
    out["Accept-Encoding"] = upstream_accept_encoding(headers.get("Accept-Encoding"))
    return out


def upstream_target(base: URL, raw_path: str, raw_query: str) -> URL:
    """The upstream URL for a client's ``raw_path`` and ``raw_query`` (kept encoded as sent)."""
    prefix = base.raw_path.rstrip("/")
    return URL.build(scheme=base.scheme, authority=base.raw_authority, path=prefix + raw_path,
                     query_string=raw_query, encoded=True)


def rewrite_location(value: str, *, upstream: URL, proxy_origin: URL) -> str:
    """Point a Location at the proxy when it points at the upstream (absolute or absolute-path)."""
    prefix = upstream.raw_path.rstrip("/")
    try:
        loc = URL(value, encoded=True)
    except ValueError:
        return value
    if loc.is_absolute():
        same = (loc.scheme, loc.host, loc.port) == (upstream.scheme, upstream.host, upstream.port)
        if not same:
            return value
    elif not value.startswith("/") or value.startswith("//"):
        return value  # relative reference: resolves against the proxy already
    path = loc.raw_path
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix):] or "/"
    out = str(proxy_origin.with_path(path, encoded=True))
    if loc.raw_query_string:
        out += "?" + loc.raw_query_string
    if loc.raw_fragment:
        out += "#" + loc.raw_fragment
    return out


def add_vary(headers: CIMultiDict[str], token: str) -> None:
    """Add ``token`` to the (single, merged) Vary header unless it is already there."""
    tokens = [t.strip() for v in headers.popall("Vary", []) for t in v.split(",") if t.strip()]
    if token.lower() not in {t.lower() for t in tokens}:
        tokens.append(token)
    headers["Vary"] = ", ".join(tokens)


def private_cache_control(value: str | None) -> str:
    """Cache-Control for a redacted body: what the upstream said, but never for shared caches.

    A redacted view depends on the agent's role, so a shared cache must not hand one
    role's view to another: ``public`` and ``s-maxage`` go, ``private`` is added.
    """
    kept = [d.strip() for d in (value or "").split(",") if d.strip()]
    kept = [d for d in kept if d.lower() != "public" and not d.lower().startswith(("s-maxage", "proxy-revalidate"))]
    if not any(d.lower() in ("private", "no-store") for d in kept):
        kept.insert(0, "private")
    return ", ".join(kept)


def client_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]], *, redacted: bool,
                   upstream: URL, proxy_origin: URL, vary: str | None = None) -> CIMultiDict[str]:
    """Headers for the client, from the upstream response's ``headers``.

    For a redacted body, ``vary`` (the role header) is added to Vary and Cache-Control is
    made private (:func:`private_cache_control`).
    """
    out = strip_hop_by_hop(headers, _REDACTED_DROP if redacted else _PLAIN_DROP)
    if redacted:
        out["Cache-Control"] = private_cache_control(out.get("Cache-Control"))
        if vary:
            add_vary(out, vary)
    for name in ("location", "content-location"):
        values = out.popall(name, None)
        for v in values or ():
            out.add(name.title(), rewrite_location(v, upstream=upstream, proxy_origin=proxy_origin))
    return out
