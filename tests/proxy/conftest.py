"""Fixtures for the proxy tests: a fake CRM upstream on loopback, the proxy in front of it,
worker pools shared across tests, and a log capture that fails any test whose log lines
(formatted exactly as the proxy writes them) contain a planted PII value."""

from __future__ import annotations

import logging
import sys
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_helpers import PLANTED, zendesk_policy  # noqa: E402

import fake_crm  # noqa: E402

from redactor import Policy  # noqa: E402
from redactor.proxy import WorkerPool, create_app, load_config  # noqa: E402
from redactor.proxy.logs import JsonFormatter  # noqa: E402


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "aiohttp.access":  # the test servers' own access log; the CLI turns it off
            return
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def log_lines() -> Iterator[list[str]]:
    """Every log line of the test, JSON-formatted; after the test none may hold a planted value."""
    handler = _Lines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    leaks = [line for line in handler.lines for value in PLANTED if value in line]
    assert not leaks, f"planted PII in log lines: {leaks[:3]}"


@pytest.fixture(scope="session")
def patterns_pool() -> Iterator[WorkerPool]:
    """One patterns-only worker that honours the crash / hang markers."""
    pool = WorkerPool(zendesk_policy(), workers=1, fault_markers=True, start_timeout_s=60)
    pool.start()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def ner_pool() -> Iterator[WorkerPool]:
    """Two workers with the NER (default-based) Zendesk policy."""
    pool = WorkerPool(zendesk_policy("default"), workers=2, start_timeout_s=120)
    pool.start()
    yield pool
    pool.close()


@pytest_asyncio.fixture
async def upstream(aiohttp_server: Any) -> Any:
    """The fake CRM on a loopback port."""
    return await aiohttp_server(fake_crm.make_app())


Proxy = Callable[..., Awaitable[Any]]
LOOPBACK = ["127.0.0.1", "::1"]


@pytest_asyncio.fixture
async def make_proxy(aiohttp_client: Any, upstream: Any) -> AsyncIterator[Proxy]:
    """``await make_proxy(policy=..., pool=..., **config)`` -> an aiohttp test client."""
    async def make(*, policy: Policy | None = None, pool: WorkerPool | None = None,
                   upstream_url: str | None = None, plugins: Any = (), **settings: Any) -> Any:
        settings.setdefault("workers", 0 if pool is None else pool.size)
        # the test client is the "auth gateway": its loopback address is trusted unless a
        # test says otherwise (the default config trusts no peer)
        settings["identity"] = {"trusted_peers": LOOPBACK, **settings.get("identity", {})}
        config = load_config(env={}, overrides={
            "upstream": upstream_url or str(upstream.make_url("/")), **settings})
        app = create_app(config, policy=policy or zendesk_policy(), pool=pool, plugins=plugins)
        return await aiohttp_client(app)
    yield make
