"""``redactor proxy``: run the redacting reverse proxy.

    redactor proxy --upstream URL [--listen HOST:PORT] [--policy FILE] [--workers N]
                   [--config FILE] [--max-body-bytes N] [--trusted-peers CIDR,...]

Settings come from the flags, then ``REDACTOR_*`` environment variables, then the
``--config`` YAML file (see :mod:`redactor.proxy.config`). Exit status 2 on a bad setting
or policy, 1 when the proxy cannot start (port taken, a worker fails to load).
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
    p.set_defaults(handler=_command)


def _command(args: argparse.Namespace) -> int:
    from ..errors import PolicyError
    from ..policy import load_policy
    from .config import load_config
    from .errors import ConfigError

    started = time.perf_counter()
    overrides = {k: getattr(args, k) for k in ("upstream", "listen", "policy", "workers",
                                                "max_body_bytes", "log_level")}
    if args.trusted_peers is not None:
        overrides["identity"] = {"trusted_peers": [p.strip() for p in args.trusted_peers.split(",")
                                                   if p.strip()]}
    try:
        config = load_config(file=args.config, overrides=overrides)
        policy = load_policy(config.policy)
    except (ConfigError, PolicyError) as exc:
        print(f"redactor: error: {exc}", file=sys.stderr)
        return 2
    return run(config, policy, started=started)


def run(config: Any, policy: Any, *, started: float | None = None) -> int:
    """Serve ``policy`` with ``config`` until SIGINT / SIGTERM. Returns the exit status
    (0 after a signal, 1 when the proxy cannot start: port taken, a worker fails to load)."""
    from ..errors import RedactorError
    from .logs import configure_logging

    configure_logging(config.log_level)
    try:
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

    from .app import create_app
    from .keys import POOL

    app = create_app(config, policy=policy)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           keepalive_timeout=config.client_idle_timeout_s)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.listen_host, config.listen_port, backlog=1024)
        await site.start()
        pool = app[POOL]
        log.info("listening", extra={"fields": {
            "event": "listening", "listen": f"http://{config.listen}", "upstream": config.upstream,
            "policy": policy.name, "policy_hash": policy.hash,
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
