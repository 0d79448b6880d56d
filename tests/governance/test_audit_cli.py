"""``redactor audit verify | export | keygen`` and ``redactor vault keygen``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from redactor.audit import AuditTrail, load_hmac_key, load_private_key
from redactor.cli import main

from .conftest import Clock
from .test_audit_tamper import trail_event


@pytest.fixture
def keyed_store(tmp_path: Path, clock: Clock) -> tuple[str, Path]:
    keys = tmp_path / "keys"
    assert main(["audit", "keygen", "--dir", str(keys)]) == 0
    url = f"sqlite://{tmp_path}/audit.db"
    with AuditTrail.open(url, hmac_key_file=keys / "audit-hmac.key",
                         signing_key_file=keys / "audit-signing.pem", checkpoint_every=4,
                         clock=clock) as trail:
        for i in range(1, 10):
            clock.tick(60)
            trail.record(trail_event(i))
    return url, keys


def verify_args(url: str, keys: Path) -> list[str]:
    return ["audit", "verify", "--store", url, "--key-file", str(keys / "audit-hmac.key"),
            "--public-key", str(keys / "audit-signing.pub.pem")]


def test_verify_ok(keyed_store: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, keys = keyed_store
    assert main(verify_args(url, keys)) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("ok: 9 records (seq 1-9)")
    assert "HMAC verified" in out and "signatures verified" in out


def test_verify_names_the_bad_record(keyed_store: tuple[str, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    url, keys = keyed_store
    db = sqlite3.connect(url[len("sqlite://"):], isolation_level=None)
    body = db.execute("SELECT body FROM audit_records WHERE seq = 6").fetchone()[0]
    db.execute("UPDATE audit_records SET body = ? WHERE seq = 6",
               (body.replace(b'"role":"agent"', b'"role":"admin"'),))
    db.close()
    assert main(verify_args(url, keys)) == 1
    assert capsys.readouterr().out.strip() == (
        "FAILED: sequence 6: hash mismatch: the record's content does not match its hash")


def test_verify_missing_store_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--store", f"sqlite://{tmp_path}/nothing.db"]) == 1
    assert "missing" in capsys.readouterr().out
    assert not (tmp_path / "nothing.db").exists()  # verify never creates a store


def test_verify_usage_errors(keyed_store: tuple[str, Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    url, keys = keyed_store
    assert main(["audit", "verify", "--store", url, "--key-file", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["audit", "verify", "--store", url, "--public-key",
                 str(keys / "audit-hmac.key")]) == 2
    assert main(["audit", "verify", "--store", "mysql://x/y"]) == 2


def test_export(keyed_store: tuple[str, Path], tmp_path: Path,
                capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = keyed_store
    assert main(["audit", "export", "--store", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [orjson.loads(x)["seq"] for x in lines] == list(range(1, 10))
    first = orjson.loads(lines[0])["ts"]
    third = orjson.loads(lines[2])["ts"]
    out = tmp_path / "out.jsonl"
    assert main(["audit", "export", "--store", url, "--since", first, "--until", third,
                 "-o", str(out)]) == 0
    assert [orjson.loads(x)["seq"] for x in out.read_text().splitlines()] == [1, 2]
    assert main(["audit", "export", "--store", url, "--since", "yesterday"]) == 2


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    assert main(["audit", "keygen", "--dir", str(tmp_path)]) == 0
    assert main(["audit", "keygen", "--dir", str(tmp_path)]) == 2
    assert (tmp_path / "audit-hmac.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "audit-signing.pem").stat().st_mode & 0o777 == 0o600
    assert len(load_hmac_key(tmp_path / "audit-hmac.key")) == 32
    load_private_key(tmp_path / "audit-signing.pem")
    assert main(["audit", "keygen", "--dir", str(tmp_path), "--force"]) == 0


def test_vault_keygen(tmp_path: Path) -> None:
    from redactor.vault import VaultKey

    assert main(["vault", "keygen", "--out", str(tmp_path / "v.key")]) == 0
    VaultKey.from_file(tmp_path / "v.key")
    assert main(["vault", "keygen", "--out", str(tmp_path / "v.key")]) == 2
