"""Who the agent is, and which parts of a request or response may say so.

Identity comes from one of two places, checked in this order:

1. a signed token (JWT, RFC 7519) in ``identity.jwt.header`` when ``identity.jwt`` is set,
   verified with PyJWT: signature by the key file, algorithm in the allow-list (never
   ``none``; HMAC and public-key algorithms cannot be mixed, so a public key can never be
   used as an HMAC secret), ``exp`` required, ``iss`` / ``aud`` when configured. The agent
   id and role are the claims named in the config. A token that is present but fails any
   check is refused (401), never downgraded to "anonymous";
2. the identity headers (``X-Agent-Id`` / ``X-Agent-Role``), only when the TCP peer is in
   ``identity.trusted_peers`` (the auth gateway). From any other peer they are ignored, so
   an agent cannot claim an identity or a role by sending a header.

The identity headers and the token header never go upstream as the client sent them; with
``identity.forward_upstream`` the proxy sends the identity *it* established instead.

Reserved paths: :func:`is_reserved` says whether a path (as sent, percent-encoded, with
``//`` or dot segments, any case) lands in the proxy's own ``/_redactor`` namespace.
:func:`reserved_target` says whether a URL an upstream response points to (Location,
Content-Location, Link, Refresh) would send the client into that namespace.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote, urljoin, urlsplit

import jwt
from aiohttp import web

from .errors import ConfigError

__all__ = ["TRUST", "AgentIdentity", "IdentityRejected", "JwtVerifier", "PeerAllowList", "Trust",
           "is_reserved", "reserved_target"]

RESERVED_NAME = "_redactor"
_VALUE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,255}$")  # printable ASCII, <= 256 chars

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """The established agent: ``agent_id`` / ``role`` (``None`` when unknown) and where they
    came from (``"jwt"``, ``"header"`` or ``None`` for anonymous)."""

    agent_id: str | None
    role: str | None
    source: str | None


class IdentityRejected(Exception):
    """A credential was presented and failed verification; ``reason`` is a fixed token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_value(value: Any) -> str | None:
    """``value`` if it is a printable-ASCII string of 1-256 chars, else ``None``."""
    return value if isinstance(value, str) and _VALUE.match(value) else None


class PeerAllowList:
    """Addresses and networks whose identity headers are believed.

    Args:
        entries: ``"10.0.0.5"``, ``"10.0.0.0/24"``, ``"::1"`` ... An IPv4-mapped IPv6 peer
            (``::ffff:10.0.0.5``) matches the IPv4 entry.

    Raises:
        ValueError: an entry is not an address or network.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(e.strip(), strict=False)
                                                   for e in entries)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def allows(self, peer: str | None) -> bool:
        """Whether ``peer`` (the socket's remote address, never X-Forwarded-For) is trusted."""
        if not peer or not self.networks:
            return False
        try:
            addr = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False  # a Unix socket or something unexpected: not trusted
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr.version == n.version and addr in n for n in self.networks)


_HMAC = frozenset({"HS256", "HS384", "HS512"})
_PUBLIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                     "ES512", "EdDSA"})


class JwtVerifier:
    """Verifies agent tokens (see the module docstring for the rules).

    Args:
        algorithms: the allow-list, e.g. ``["RS256"]``; all HMAC (``HS*``) or all public-key.
        key_file: a PEM public key (public-key algorithms) or a file holding the HMAC secret
            (its bytes, one trailing newline removed; at least 32 bytes).
        issuer / audience: required ``iss`` / ``aud`` values when not ``None``.
        agent_id_claim / role_claim: the claims holding the agent id and role.
        leeway_s: seconds of clock skew allowed on ``exp`` / ``nbf`` / ``iat``.

    Raises:
        ConfigError: an empty or mixed allow-list, ``none``, an unknown algorithm, a key
            file that cannot be read or parsed.
    """

    def __init__(self, *, algorithms: Iterable[str], key_file: str, issuer: str | None,
                 audience: str | None, agent_id_claim: str, role_claim: str,
                 leeway_s: float) -> None:
        algs = list(algorithms)
        unknown = [a for a in algs if a not in _HMAC | _PUBLIC]
        if not algs or unknown:
            raise ConfigError(f"identity.jwt.algorithms: unsupported {unknown or 'empty list'}; "
                              f"choose from {sorted(_HMAC | _PUBLIC)} (never 'none')")
        hmac = set(algs) <= _HMAC
        if not hmac and set(algs) & _HMAC:
            raise ConfigError("identity.jwt.algorithms: do not mix HS* with public-key algorithms")
        try:
            raw = Path(key_file).read_bytes()
        except OSError as exc:
            raise ConfigError(f"identity.jwt.key_file: cannot read: {exc.strerror}") from None
        self.key: Any
        if hmac:
            self.key = raw[:-1] if raw.endswith(b"\n") else raw
            if len(self.key) < 32:
                raise ConfigError("identity.jwt.key_file: an HMAC secret needs at least 32 bytes")
        else:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key
            try:
                self.key = load_pem_public_key(raw)
            except ValueError:
                raise ConfigError("identity.jwt.key_file: not a PEM public key") from None
        self.algorithms = algs
        self.issuer, self.audience = issuer, audience
        self.agent_id_claim, self.role_claim = agent_id_claim, role_claim
        self.leeway_s = leeway_s
        self._required = ["exp", agent_id_claim] + (["iss"] if issuer else []) + (["aud"] if audience else [])

    def verify(self, token: str) -> AgentIdentity:
        """The identity in ``token``.

        Raises:
            IdentityRejected: bad signature, algorithm, issuer, audience, expired, or an
                agent id / role claim that is not a short printable string.
        """
        try:
            claims = jwt.decode(token, self.key, algorithms=self.algorithms, issuer=self.issuer,
                                audience=self.audience, leeway=self.leeway_s,
                                options={"require": self._required,
                                         "verify_aud": self.audience is not None})
        except jwt.ExpiredSignatureError:
            raise IdentityRejected("token_expired") from None
        except jwt.PyJWTError:
            raise IdentityRejected("token_invalid") from None
        agent_id = clean_value(claims.get(self.agent_id_claim))
        role = claims.get(self.role_claim)
        if agent_id is None or (role is not None and clean_value(role) is None):
            raise IdentityRejected("token_invalid")
        return AgentIdentity(agent_id, role, "jwt")


def _normalise(path: str) -> str:
    # decode until stable (%255F -> %5F -> _), fold case, collapse // and dot segments
    for _ in range(3):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    path = path.replace("\\", "/").lower()
    return posixpath.normpath("/" + path.lstrip("/")) if path else "/"


def is_reserved(path: str) -> bool:
    """Whether ``path`` (raw or decoded, without query) is, or is under, ``/_redactor``."""
    norm = _normalise(path.split("?", 1)[0])
    return norm == "/" + RESERVED_NAME or norm.startswith("/" + RESERVED_NAME + "/")


def reserved_target(value: str, *, base_path: str, proxy_host: str) -> bool:
    """Whether URL ``value`` (from an upstream header, already rewritten to point at the
    proxy) resolves, against ``base_path`` on the proxy, to a reserved path *on the proxy*
    (same host as ``proxy_host``, or a relative reference)."""
    try:
        parts = urlsplit(urljoin("http://" + proxy_host + base_path, value.strip()))
    except ValueError:
        return True  # unparseable: treat as unsafe
    if (parts.netloc or "").lower() != proxy_host.lower():
        return False
    return is_reserved(parts.path)


_LINK_TARGET = re.compile(r"<([^>]*)>")
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\"]*)", re.IGNORECASE)


def header_targets(name: str, value: str) -> list[str]:
    """The URLs a Location / Content-Location / Link / Refresh header value points to."""
    name = name.lower()
    if name in ("location", "content-location"):
        return [value]
    if name == "link":
        return _LINK_TARGET.findall(value)
    if name == "refresh":
        m = _REFRESH_URL.search(value)
        return [m.group(1)] if m else []
    return []


# Response header names an upstream may never set: the proxy's own namespace and identity claims.
_OWNED_PREFIXES = ("x-redactor-", "x-agent-")


class Trust:
    """The identity rules of one app, built from :class:`~.config.IdentityConfig`.

    Raises:
        ConfigError: from :class:`JwtVerifier` (bad algorithms or key file).
    """

    def __init__(self, identity: Any, request_id_header: str) -> None:
        self.config = identity
        self.peers = PeerAllowList(identity.trusted_peers)
        jwt_cfg = identity.jwt
        self.jwt: JwtVerifier | None = None
        self.token_header: str | None = None
        if jwt_cfg is not None:
            self.jwt = JwtVerifier(algorithms=jwt_cfg.algorithms, key_file=jwt_cfg.key_file,
                                   issuer=jwt_cfg.issuer, audience=jwt_cfg.audience,
                                   agent_id_claim=jwt_cfg.agent_id_claim,
                                   role_claim=jwt_cfg.role_claim, leeway_s=jwt_cfg.leeway_s)
            self.token_header = jwt_cfg.header
        self.identity_headers = tuple(h for h in (identity.agent_id_header, identity.agent_role_header,
                                                  self.token_header) if h)
        # names an upstream response may not set (the proxy's own, or identity claims)
        self._forbidden = frozenset(h.lower() for h in (*self.identity_headers, request_id_header))

    def identify(self, headers: Any, peer: str | None) -> AgentIdentity:
        """The agent behind a request with ``headers`` from TCP peer ``peer``.

        Raises:
            IdentityRejected: a token was sent and fails verification.
        """
        if self.jwt is not None and self.token_header is not None:
            token = headers.get(self.token_header)
            if token is not None:
                if self.token_header.lower() == "authorization":
                    scheme, _, token = token.partition(" ")
                    if scheme.lower() != "bearer":
                        raise IdentityRejected("token_invalid")
                return self.jwt.verify(token.strip())
        if self.peers.allows(peer):
            agent_id = clean_value(headers.get(self.config.agent_id_header))
            if agent_id is not None:
                return AgentIdentity(agent_id, clean_value(headers.get(self.config.agent_role_header)),
                                     "header")
        return AgentIdentity(None, None, None)

    def upstream_identity(self, who: AgentIdentity) -> tuple[tuple[str, ...], dict[str, str]]:
        """Client headers to drop before going upstream, and the ones to add instead
        (the established identity, only with ``forward_upstream``)."""
        add: dict[str, str] = {}
        if self.config.forward_upstream and who.agent_id is not None:
            add[self.config.agent_id_header] = who.agent_id
            if who.role is not None:
                add[self.config.agent_role_header] = who.role
        return self.identity_headers, add

    def scrub_response(self, headers: Any, *, base_path: str, proxy_host: str) -> list[str]:
        """Remove, in place, upstream response headers that would speak for the proxy:
        identity / request-id / ``X-Redactor-*`` / ``X-Agent-*`` names, and Location, Content-Location, Link
        or Refresh values that point into the reserved namespace. Returns the removed names
        (lower case, for a metric or log; never values)."""
        removed: list[str] = []
        for name in list(headers.keys()):
            low = name.lower()
            if low in self._forbidden or low.startswith(_OWNED_PREFIXES):
                headers.popall(name, None)
                removed.append(low)
            elif low in ("location", "content-location", "link", "refresh"):
                values = headers.popall(name, [])
                kept = [v for v in values if not any(
                    reserved_target(t, base_path=base_path, proxy_host=proxy_host)
                    for t in header_targets(low, v))]
                for v in kept:
                    headers.add(name, v)
                if len(kept) != len(values):
                    removed.append(low)
        return removed


TRUST = web.AppKey("trust", Trust)
