"""``redactor proxy``: run the redacting reverse proxy.

    redactor proxy --upstream URL [--listen HOST:PORT] [--policy FILE] [--workers N]
                   [--config FILE] [--max-body-bytes N] [--trusted-peers CIDR,...]
                   [--audit-store URL] [--audit-hmac-key-file F] [--audit-signing-key-file F]
                   [--audit-witness F] [--checkpoint-every N] [--checkpoint-interval-s T]
                   [--audit-spool F]
                   [--vault-store URL] [--vault-key-file F] [--vault-key-env NAME]
                   [--tenant NAME] [--no-audit]

Governance is on by default: every redacted view, reveal, re-hydration, anomaly flag,
policy load, start and stop is recorded in the audit store (default
``sqlite:///$PWD/redactor-audit.db``); ``--no-audit`` turns it off (not for production).

Settings come from the flags, then ``REDACTOR_*`` environment variables, then the
``--config`` YAML file (see :mod:`redactor.proxy.config`). Exit status 2 on a bad setting
(store URLs included, checked before any model loads) or policy, 1 when the proxy cannot
start (port taken, a worker fails to load, a store refuses connections).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from typing import Any

__all__ = ["register", "run"]

log = logging.getLogger("redactor.proxy")


def register(subparsers: Any) -> None:
    """Add the ``proxy`` subcommand to the ``redactor`` command's subparsers."""
    p = subparsers.add_parser("proxy", help="run the redacting reverse proxy")
    p.add_argument("--upstream", help="the CRM / ticketing API base URL (REDACTOR_UPSTREAM)")
    p.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8080)")
    p.add_argument("--policy", help="policy YAML file or built-in name (default: default)")
    p.add_argument("--workers", type=int, help="redaction worker processes (0: inline)")
    p.add_argument("--config", help="YAML configuration file (REDACTOR_CONFIG)")
    p.add_argument("--max-body-bytes", type=int, dest="max_body_bytes",
                   help="largest response body redacted, in bytes (default 10 MiB)")
    p.add_argument("--log-level", dest="log_level", help="DEBUG, INFO, WARNING or ERROR")
    p.add_argument("--trusted-peers", dest="trusted_peers",
                   help="comma-separated addresses / CIDRs whose identity headers are believed "
                        "(REDACTOR_TRUSTED_PEERS; default: none)")
    g = p.add_argument_group("governance (audit trail, vault tokens, reveal)")
    g.add_argument("--audit-store", dest="audit_store",
                   help="sqlite:///ABS/PATH.db, sqlite:REL/PATH.db or postgresql://... "
                        "(default ./redactor-audit.db; the directory must exist)")
    g.add_argument("--audit-spool", dest="audit_spool",
                   help="file for records while the store is down (default: store file + .spool)")
    g.add_argument("--audit-hmac-key-file", dest="audit_hmac_key_file",
                   help="HMAC-SHA256 key sealing each record (redactor audit keygen)")
    g.add_argument("--audit-signing-key-file", dest="audit_signing_key_file",
                   help="Ed25519 private key (PEM) signing checkpoints")
    g.add_argument("--audit-witness", dest="audit_witness_file",
                   help="file that also receives every signed checkpoint (keep it off the "
                        "store's disk; redactor audit verify --witness F)")
    g.add_argument("--checkpoint-every", type=int, dest="audit_checkpoint_every",
                   help="sign a checkpoint at least every N records (default 1000)")
    g.add_argument("--checkpoint-interval-s", type=float, dest="audit_checkpoint_interval_s",
                   help="... and at least every T seconds while writing (default 60)")
    g.add_argument("--vault-store", dest="vault_store",
                   help="token vault: sqlite:///ABS/PATH.db, sqlite:REL/PATH.db or postgresql://... "
                        "(default ./redactor-vault.db; the directory must exist)")
    g.add_argument("--vault-key-file", dest="vault_key_file",
                   help="vault key file (redactor vault keygen --out FILE)")
    g.add_argument("--vault-key-env", dest="vault_key_env",
                   help="environment variable holding the vault key as hex (default REDACTOR_VAULT_KEY)")
    g.add_argument("--tenant", help="tenant name scoping vault tokens (default: default)")
    g.add_argument("--no-audit", action="store_true", dest="no_audit",
                   help="run without audit trail, vault, reveal or anomaly flags")
    p.set_defaults(handler=_command)


def _command(args: argparse.Namespace) -> int:
    from ..errors import PolicyError, RedactorError
    from ..policy import check_operator_keys, load_policy
    from .config import load_config
    from .errors import ConfigError

    started = time.perf_counter()
    overrides = {k: getattr(args, k) for k in (
        "upstream", "listen", "policy", "workers", "max_body_bytes", "log_level", "audit_store",
        "audit_spool", "audit_hmac_key_file", "audit_signing_key_file", "audit_witness_file",
        "audit_checkpoint_every",
        "audit_checkpoint_interval_s", "vault_store", "vault_key_file", "vault_key_env", "tenant")}
    if args.trusted_peers is not None:
        overrides["identity"] = {"trusted_peers": [p.strip() for p in args.trusted_peers.split(",")
                                                   if p.strip()]}
    try:
        config = load_config(file=args.config, overrides=overrides)
        policy = load_policy(config.policy)
        check_operator_keys(policy)  # a hash without a key: now, not after the model loads
        if args.no_audit:
            config = config.model_copy(update={"audit_store": None})
        elif not config.audit_store:
            from .governance import default_audit_store

            config = config.model_copy(update={"audit_store": default_audit_store()})
        if config.audit_store:
            _check_governance(config, policy)
    except (ConfigError, PolicyError) as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    except RedactorError as exc:  # a missing or bad key
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    return run(config, policy, started=started)


def _check_governance(config: Any, policy: Any) -> None:
    """Fail before listening when a key the governance needs is missing or malformed.

    Raises:
        VaultKeyError, AuditKeyError: with what to configure.
    """
    from ..audit import load_hmac_key, load_private_key
    from .vaulting import load_vault_spec, policy_uses_vault

    if config.audit_hmac_key_file:
        load_hmac_key(config.audit_hmac_key_file)
    if config.audit_signing_key_file:
        load_private_key(config.audit_signing_key_file)
    if policy_uses_vault(policy):
        load_vault_spec(url=config.vault_store or "", tenant=config.tenant,
                        ttl_s=policy.governance.vault.ttl_s, key_file=config.vault_key_file,
                        key_env=config.vault_key_env)


def run(config: Any, policy: Any, *, started: float | None = None) -> int:
    """Serve ``policy`` with ``config`` until SIGINT / SIGTERM. Returns the exit status
    (0 after a signal, 1 when the proxy cannot start: port taken, a worker fails to load)."""
    from ..errors import RedactorError
    from .logs import configure_logging

    configure_logging(config.log_level)
    from ..memtune import keep_freed_memory

    try:
        keep_freed_memory()  # the proxy's own process: bodies are parsed and rebuilt per request
        asyncio.run(_serve(config, policy, time.perf_counter() if started is None else started))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        log.error("cannot listen on %s: %s", config.listen, exc.strerror)
        return 1
    except RedactorError as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


async def _serve(config: Any, policy: Any, started: float) -> None:
    from aiohttp import web

    from ..dburl import mask_url
    from .app import create_app
    from .keys import POOL

    plugins = []
    if config.audit_store:
        from .governance import governance_plugin

        plugins.append(governance_plugin())
    else:
        log.warning("running without an audit trail (--no-audit): views, reveals and "
                    "anomalies are not recorded")
    app = create_app(config, policy=policy, plugins=plugins)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           keepalive_timeout=config.client_idle_timeout_s)
    try:
        await runner.setup()
    except BaseException:
        # A failed startup hook (audit store unreachable...) must still run the cleanup
        # hooks of those that did start: the upstream client session, the worker pool.
        await runner.cleanup()
        raise
    try:
        site = web.TCPSite(runner, config.listen_host, config.listen_port, backlog=1024)
        await site.start()
        pool = app[POOL]
        log.info("listening", extra={"fields": {
            "event": "listening", "listen": f"http://{config.listen}", "upstream": config.upstream,
            "policy": policy.name, "policy_hash": policy.hash,
            "audit_store": mask_url(config.audit_store) if config.audit_store else None,
            "workers": pool.alive if pool is not None else 0,
            "startup_s": round(time.perf_counter() - started, 3)}})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping", extra={"fields": {"event": "stopping"}})
    finally:
        await runner.cleanup()
