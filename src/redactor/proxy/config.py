"""The proxy's configuration: parsed once, at the boundary, into a frozen typed model.

Sources, later ones winning: defaults, a YAML file (``--config``), environment variables
(``REDACTOR_UPSTREAM``, ``REDACTOR_LISTEN``, ``REDACTOR_POLICY``, ``REDACTOR_WORKERS``,
``REDACTOR_MAX_BODY_BYTES`` ... one per top-level key, upper-cased), then command-line
flags. An unknown key in the file, or a bad value anywhere, raises :class:`ConfigError`
naming the key and where it came from; nothing falls back silently.

Example file::

    upstream: https://crm.internal
    listen: 0.0.0.0:8080
    policy: /etc/redactor/zendesk.yaml
    workers: 2
    max_body_bytes: 10485760          # bytes, after decompression
    upstream_timeout_s: 30            # seconds
    client_send_timeout_s: 60         # seconds to deliver a response to a slow reader
    client_idle_timeout_s: 75         # seconds a connection may sit without a whole request
    identity: {agent_id_header: X-Agent-Id, agent_role_header: X-Agent-Role,
               trusted_peers: [10.0.0.5/32]}   # only the auth gateway's headers count
    audit_store: sqlite:///var/lib/redactor/audit.db   # or sqlite:REL/PATH.db, postgresql://...
                                                       # (the directory must exist)
    audit_hmac_key_file: /etc/redactor/audit-hmac.key
    audit_signing_key_file: /etc/redactor/audit-signing.pem
    vault_key_file: /etc/redactor/vault.key             # or REDACTOR_VAULT_KEY (hex)
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from yarl import URL

from ..dburl import missing_sqlite_dir, parse_db_url
from ..policy import did_you_mean, schema_keys_at
from .errors import ConfigError

__all__ = ["IdentityConfig", "JwtConfig", "ProxyConfig", "load_config"]

MiB = 1024 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JwtConfig(_Model):
    """Verification of a signed agent token (see :mod:`.trust`)."""

    header: str = "X-Agent-Token"  # "Authorization" reads "Bearer <token>"
    algorithms: list[str] = Field(min_length=1)
    key_file: str
    issuer: str | None = None
    audience: str | None = None
    agent_id_claim: str = "sub"
    role_claim: str = "role"
    leeway_s: float = Field(30.0, ge=0)

    @field_validator("algorithms")
    @classmethod
    def _no_none(cls, value: list[str]) -> list[str]:
        if any(a.lower() == "none" for a in value):
            raise ValueError("'none' is never allowed: tokens must be signed")
        return value


class IdentityConfig(_Model):
    """Where the agent's identity comes from.

    ``trusted_peers``: addresses / CIDRs (the auth gateway) whose identity headers are
    believed; default none, so identity headers from anyone are ignored until configured.
    ``jwt``: verify a signed token instead of (or as well as) trusting a gateway.
    ``forward_upstream``: send the identity the proxy established on to the upstream.
    """

    agent_id_header: str = "X-Agent-Id"
    agent_role_header: str = "X-Agent-Role"
    trusted_peers: list[str] = Field(default_factory=list)
    jwt: JwtConfig | None = None
    forward_upstream: bool = False

    @field_validator("trusted_peers")
    @classmethod
    def _check_peers(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return value


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


class ProxyConfig(_Model):
    """Every setting of ``redactor proxy``; units are in the names (``_s`` seconds, ``_bytes``).

    ``client_send_timeout_s``: a client that takes longer to read a response (or one
    streamed chunk) is disconnected. ``client_idle_timeout_s``: a connection that has not
    sent a whole request head within this time (from connect, or after the last response)
    is closed; both bound what a slow-loris client can hold.

    ``workers=0`` redacts everything in the event loop (only sensible for patterns-only
    policies and tests). ``inline_max_bytes``: under a patterns-only policy, bodies up to
    this size are redacted inline rather than shipped to a worker.
    """

    upstream: str
    listen: str = "127.0.0.1:8080"
    policy: str = "default"
    workers: int = Field(default_factory=_default_workers, ge=0, le=64)
    max_body_bytes: int = Field(10 * MiB, gt=0)
    max_request_bytes: int = Field(10 * MiB, gt=0)
    inline_max_bytes: int = Field(8 * 1024, ge=0)
    upstream_connect_timeout_s: float = Field(5.0, gt=0)
    upstream_timeout_s: float = Field(30.0, gt=0)
    client_send_timeout_s: float = Field(60.0, gt=0)
    client_idle_timeout_s: float = Field(75.0, gt=0)
    redaction_timeout_s: float = Field(10.0, gt=0)
    worker_wait_s: float = Field(10.0, gt=0)
    upstream_connections: int = Field(100, ge=1)
    cache_bytes: int = Field(32 * MiB, ge=0)
    identity: IdentityConfig = IdentityConfig()
    ticket_id_pattern: str | None = r"/tickets/(\d+)"
    request_id_header: str = "X-Request-Id"
    log_level: str = "INFO"
    # Governance (audit trail, vault tokens, reveal, anomaly flags): read by
    # ``governance_plugin()`` (see .governance), which ``redactor proxy`` adds unless
    # ``--no-audit``; it defaults ``audit_store`` to ./redactor-audit.db.
    audit_store: str | None = None
    audit_spool: str | None = None  # default: the SQLite file + ".spool", else ./redactor-audit.spool
    audit_hmac_key_file: str | None = None
    audit_signing_key_file: str | None = None
    # every signed checkpoint is also appended here (JSON Lines): keep it outside the store's
    # reach (another disk, a log shipper) so deleting the newest records is caught too
    audit_witness_file: str | None = None
    audit_checkpoint_every: int = Field(1000, ge=1)  # records between signed checkpoints
    audit_checkpoint_interval_s: float = Field(60.0, gt=0)  # seconds between checkpoints
    vault_store: str | None = None  # default: ./redactor-vault.db (when the policy uses tokens)
    vault_key_file: str | None = None
    vault_key_env: str = "REDACTOR_VAULT_KEY"  # the variable holding the key as hex
    tenant: str = Field("default", min_length=1, max_length=200)

    @field_validator("upstream")
    @classmethod
    def _check_upstream(cls, value: str) -> str:
        url = URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        if url.query_string or url.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")

    @field_validator("audit_store", "vault_store")
    @classmethod
    def _check_store(cls, value: str | None) -> str | None:
        # Checked here, before the model loads, not when the store first opens.
        if value is not None:
            db = parse_db_url(value, sqlite_params=frozenset({"synchronous"}), error=ValueError)
            missing = missing_sqlite_dir(db)
            if missing is not None:
                raise ValueError(f"directory {missing} does not exist (it is not created); "
                                 "create it or choose another path")
        return value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @field_validator("ticket_id_pattern")
    @classmethod
    def _check_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                if re.compile(value).groups < 1:
                    raise ValueError("needs one capturing group: the ticket id")
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]") or "0.0.0.0"

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def upstream_url(self) -> URL:
        return URL(self.upstream)


_ENV_PREFIX = "REDACTOR_"
_ENV_KEYS = tuple(k for k, f in ProxyConfig.model_fields.items() if k != "identity")


def _from_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file: {exc.strerror}", source=path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", source=path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("a configuration file is a YAML mapping", source=path)
    return data


def _merge(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[key]``; two mappings (``identity`` from a file and from a flag) merge."""
    if isinstance(value, Mapping) and isinstance(data.get(key), Mapping):
        data[key] = {**data[key], **value}
    else:
        data[key] = value


def load_config(*, file: str | None = None, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> ProxyConfig:
    """Build the :class:`ProxyConfig` from a file, the environment and explicit overrides.

    Args:
        file: a YAML file path (``REDACTOR_CONFIG`` in ``env`` names one when this is None).
        env: environment variables (``os.environ`` when None); only ``REDACTOR_<KEY>`` for
            known top-level keys are read, and ``REDACTOR_TRUSTED_PEERS`` (comma-separated
            addresses / CIDRs) for ``identity.trusted_peers``.
        overrides: values from the command line; ``None`` values are ignored.

    Raises:
        ConfigError: a missing or invalid file, an unknown key, or a bad value; the message
            names the key and its source (file path, ``env:NAME`` or ``<args>``).
    """
    env = os.environ if env is None else env
    file = file or env.get(_ENV_PREFIX + "CONFIG") or None
    where = file or "<config>"
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if file:
        for key, value in _from_file(file).items():
            data[str(key)] = value
            sources[str(key)] = file
    for key in _ENV_KEYS:
        name = _ENV_PREFIX + key.upper()
        if env.get(name):
            data[key] = env[name]
            sources[key] = f"env:{name}"
    peers = env.get(_ENV_PREFIX + "TRUSTED_PEERS")
    if peers:
        _merge(data, "identity", {"trusted_peers": [p.strip() for p in peers.split(",") if p.strip()]})
        sources["identity"] = f"env:{_ENV_PREFIX}TRUSTED_PEERS"
    for key, value in (overrides or {}).items():
        if value is not None:
            _merge(data, key, value)
            sources[key] = "<args>"
    try:
        return ProxyConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        bad = ".".join(str(p) for p in err["loc"]) or None
        source = sources.get(str(err["loc"][0]) if err["loc"] else "", where)
        if err["type"] == "extra_forbidden":
            keys = schema_keys_at(ProxyConfig, err["loc"][:-1])
            message = "unknown key" + did_you_mean(str(err["loc"][-1]), keys)
        else:
            message = err["msg"]
        message = message.removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required (flag, REDACTOR_" + (bad or "").upper() + " or config file)"
        raise ConfigError(message, source=source, key=bad) from None
