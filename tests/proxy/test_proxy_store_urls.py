"""Audit and vault store URLs are checked with the rest of the configuration, before
the proxy loads a model: a bad one is a ConfigError naming the key and the accepted forms
(exit 2), and a SQLite file's directory must exist (it is never created)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from redactor.cli import main
from redactor.proxy import ConfigError, load_config

FORMS = "sqlite:///ABS/PATH.db, sqlite:REL/PATH.db or postgresql://USER@HOST:PORT/DB[?schema=S]"


def _bad(tmp_path: Path) -> list[tuple[str, str]]:
    return [
        ("mysql://x@db/r", f"unknown URL scheme 'mysql'; use {FORMS}"),
        ("audit.db", f"'audit.db' is not a database URL; use {FORMS}"),
        ("sqlite:/relative.db", f"malformed sqlite URL 'sqlite:/relative.db'; use {FORMS}"),
        ("sqlite://relative.db", f"malformed sqlite URL 'sqlite://relative.db'; use {FORMS}"),
        ("sqlite://u:hunter22@h/x.db", f"malformed sqlite URL 'sqlite://u:***@h/x.db'; use {FORMS}"),
        (f"sqlite:///{tmp_path}/no/such/dir/audit.db",
         f"directory {tmp_path}/no/such/dir does not exist (it is not created); "
         "create it or choose another path"),
        ("sqlite:///tmp/a.db?journal=wal", "unknown sqlite URL parameter(s): journal"),
        ("postgresql://u:hunter22@db/r?schema=A-B", "schema must match ^[a-z_][a-z0-9_]{0,62}$"),
    ]


@pytest.mark.parametrize("key", ["audit_store", "vault_store"])
def test_bad_store_urls_are_config_errors(tmp_path: Path, key: str) -> None:
    for url, message in _bad(tmp_path):
        with pytest.raises(ConfigError) as info:
            load_config(env={}, overrides={"upstream": "http://crm.internal", key: url})
        assert (str(info.value), info.value.key) == (f"<args>: key '{key}': {message}", key)
        assert "hunter22" not in str(info.value)
    assert not (tmp_path / "no").exists()  # nothing was created on the way


def test_the_file_and_env_are_named_as_sources(tmp_path: Path) -> None:
    f = tmp_path / "proxy.yaml"
    f.write_text("upstream: http://crm.internal\nvault_store: sqlite:/v.db\n")
    with pytest.raises(ConfigError) as info:
        load_config(file=str(f), env={})
    assert str(info.value) == f"{f}: key 'vault_store': malformed sqlite URL 'sqlite:/v.db'; use {FORMS}"
    with pytest.raises(ConfigError) as info:
        load_config(env={"REDACTOR_UPSTREAM": "http://x", "REDACTOR_AUDIT_STORE": "mysql://x@db/r"})
    assert str(info.value).startswith("env:REDACTOR_AUDIT_STORE: key 'audit_store': unknown URL scheme")


def test_good_store_urls_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in [f"sqlite:///{tmp_path}/a.db", f"sqlite:////{str(tmp_path).lstrip('/')}/a.db",
                "sqlite:rel.db?synchronous=normal", "postgresql://u:pw@db:5432/r?schema=audit"]:
        config = load_config(env={}, overrides={"upstream": "http://x", "audit_store": url,
                                                "vault_store": url})
        assert (config.audit_store, config.vault_store) == (url, url)
    assert list(tmp_path.iterdir()) == []  # checking a URL opens nothing


def test_proxy_command_exits_2_before_loading_anything(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["proxy", "--upstream", "http://127.0.0.1:9", "--audit-store", "mysql://x@db/r"]) == 2
    assert capsys.readouterr().err == (
        f"redactor: error: <args>: key 'audit_store': unknown URL scheme 'mysql'; use {FORMS}\n")
    assert main(["proxy", "--upstream", "http://127.0.0.1:9", "--vault-store", "sqlite:/v.db"]) == 2
    assert capsys.readouterr().err == (
        f"redactor: error: <args>: key 'vault_store': malformed sqlite URL 'sqlite:/v.db'; use {FORMS}\n")


def test_failed_startup_closes_what_it_opened(tmp_path: Path) -> None:
    """An audit store that refuses connections: one error line, no asyncio 'Unclosed' noise."""
    proc = subprocess.run(
        [sys.executable, "-m", "redactor.cli", "proxy", "--upstream", "http://127.0.0.1:9",
         "--policy", "patterns_only", "--workers", "0", "--listen", "127.0.0.1:0",
         "--audit-store", "postgresql://u:hunter22@127.0.0.1:1/db"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert '"msg":"cannot start: create on postgresql://u:***@127.0.0.1:1/db failed: ' in lines[0]
    assert "hunter22" not in proc.stderr and "Unclosed" not in proc.stderr
