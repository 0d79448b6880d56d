"""Vault: token round trip, same value same token, scope isolation, TTL, keys, tampering."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import pytest

from redactor import Redactor, load_policy
from redactor.errors import OperatorError, PolicyError
from redactor.operators import OperationContext
from redactor.vault import (TOKEN_RE, TokenNotFound, TokenScope, Vault, VaultError, VaultKey,
                            VaultKeyError, VaultStoreError, generate_key_file, parse_token)

from .conftest import Clock

SCOPE = TokenScope("acme", "4711")
EMAIL = "dana.quux@example.org"


@pytest.fixture
def vault_url(store_url: str) -> str:
    return store_url


@pytest.fixture
def vault(vault_url: str, clock: Clock) -> Iterator[Vault]:
    v = Vault.open(vault_url, key=VaultKey(b"\x07" * 32), ttl_s=3600, clock=clock)
    yield v
    v.close()


def test_token_shape() -> None:
    from redactor.vault.tokens import new_token_id

    ids = {new_token_id() for _ in range(200)}
    assert len(ids) > 190 and all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{6}", i) for i in ids)
    assert parse_token("<EMAIL_ADDRESS_7K3P9Q>") == ("EMAIL_ADDRESS", "7K3P9Q")
    assert parse_token("<EMAIL_ADDRESS_1>") is None and parse_token("<email_7K3P9Q>") is None
    assert parse_token("<PERSON_7K3P9I>") is None  # I is not Crockford


def test_round_trip(vault: Vault) -> None:
    token = vault.issue("EMAIL_ADDRESS", EMAIL, SCOPE)
    assert TOKEN_RE.fullmatch(token) and token.startswith("<EMAIL_ADDRESS_")
    assert vault.issue("EMAIL_ADDRESS", EMAIL, SCOPE) == token  # same value, same scope
    assert vault.issue("EMAIL_ADDRESS", "other@example.org", SCOPE) != token
    r = vault.rehydrate(f"Dear {token}, re {token} and <PERSON_ZZZZZZ>", SCOPE)
    assert r.text == f"Dear {EMAIL}, re {EMAIL} and <PERSON_ZZZZZZ>"
    assert r.counts == {"EMAIL_ADDRESS": 2} and r.unresolved == 1
    revealed = vault.resolve(token, SCOPE)
    assert (revealed.entity_type, revealed.value) == ("EMAIL_ADDRESS", EMAIL)
    assert EMAIL not in repr(revealed)


def test_scope_isolation(vault: Vault) -> None:
    token = vault.issue("EMAIL_ADDRESS", EMAIL, SCOPE)
    for other in (TokenScope("acme", "4712"), TokenScope("globex", "4711")):
        assert vault.issue("EMAIL_ADDRESS", EMAIL, other) != token
        r = vault.rehydrate(f"Dear {token}", other)
        assert r.text == f"Dear {token}" and r.unresolved == 1 and r.counts == {}
        with pytest.raises(TokenNotFound):
            vault.resolve(token, other)


def test_wrong_type_prefix_does_not_resolve(vault: Vault) -> None:
    token = vault.issue("EMAIL_ADDRESS", EMAIL, SCOPE)
    forged = token.replace("EMAIL_ADDRESS", "PERSON")
    with pytest.raises(TokenNotFound):
        vault.resolve(forged, SCOPE)
    assert vault.rehydrate(forged, SCOPE).text == forged


def test_ttl_expiry(vault: Vault, clock: Clock) -> None:
    token = vault.issue("PERSON", "Dana Quux", SCOPE)
    clock.tick(3599)
    assert vault.resolve(token, SCOPE).value == "Dana Quux"
    clock.tick(2)
    with pytest.raises(TokenNotFound):
        vault.resolve(token, SCOPE)
    assert vault.rehydrate(token, SCOPE).unresolved == 1
    fresh = vault.issue("PERSON", "Dana Quux", SCOPE)  # a new token after expiry
    assert fresh != token and vault.resolve(fresh, SCOPE).value == "Dana Quux"
    clock.tick(7200)
    assert vault.purge_expired() == 1


def test_rehydrate_json(vault: Vault) -> None:
    token = vault.issue("EMAIL_ADDRESS", EMAIL, SCOPE)
    body = {"comment": {"body": f"Hi {token}", "public": True, "tags": [token, 7]}, token: "key"}
    result = vault.rehydrate_json(body, SCOPE)
    assert result.value == {"comment": {"body": f"Hi {EMAIL}", "public": True, "tags": [EMAIL, 7]},
                            token: "key"}  # keys are not re-hydrated
    assert result.counts == {"EMAIL_ADDRESS": 2}
    assert vault.rehydrate_json(token, SCOPE).value == EMAIL


def test_values_are_stored_encrypted(vault: Vault) -> None:
    vault.issue("EMAIL_ADDRESS", EMAIL, SCOPE)
    (row,) = vault.store.raw_rows()
    assert EMAIL not in repr(row) and b"dana" not in row.ciphertext + row.lookup + row.nonce


def test_tampered_ciphertext_fails_closed(vault: Vault, vault_url: str) -> None:
    token = vault.issue("EMAIL_ADDRESS", EMAIL, SCOPE)
    other = vault.issue("EMAIL_ADDRESS", "x@example.org", SCOPE)
    rows = {r.token: r for r in vault.store.raw_rows()}
    a, b = parse_token(token)[1], parse_token(other)[1]  # type: ignore[index]
    # Move b's ciphertext into a's row: the AAD binds it to its row, so it fails.
    _sql(vault_url, "UPDATE {t} SET nonce = ?, ciphertext = ? WHERE token = ?",
         (rows[b].nonce, rows[b].ciphertext, a))
    with pytest.raises(VaultError, match="authentication"):
        vault.resolve(token, SCOPE)
    with pytest.raises(VaultError):
        vault.rehydrate(token, SCOPE)


def _sql(url: str, statement: str, params: tuple[object, ...]) -> None:
    if url.startswith("sqlite:"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite://"):], isolation_level=None)
        conn.execute(statement.format(t="vault_tokens"), params)
        conn.close()
    else:
        import psycopg

        from .conftest import PG_URL

        schema = url.rsplit("schema=", 1)[1]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(statement.format(t=f"{schema}.vault_tokens").replace("?", "%s"), params)


def test_two_vaults_share_tokens(vault_url: str, clock: Clock) -> None:
    key = VaultKey(b"\x07" * 32)
    with_a, with_b = Vault.open(vault_url, key=key, clock=clock), Vault.open(vault_url, key=key, clock=clock)
    token = with_a.issue("PHONE_NUMBER", "+1 415 555 0100", SCOPE)
    assert with_b.issue("PHONE_NUMBER", "+1 415 555 0100", SCOPE) == token
    assert with_b.resolve(token, SCOPE).value == "+1 415 555 0100"
    with_a.close()
    with_b.close()


def test_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(VaultKeyError, match="no vault key configured"):
        VaultKey.load()
    with pytest.raises(VaultKeyError, match="not found"):
        VaultKey.load(file=tmp_path / "missing.key")
    monkeypatch.delenv("TEST_VAULT_KEY", raising=False)
    with pytest.raises(VaultKeyError, match="TEST_VAULT_KEY is not set"):
        VaultKey.load(env="TEST_VAULT_KEY")
    monkeypatch.setenv("TEST_VAULT_KEY", "abcd")
    with pytest.raises(VaultKeyError, match="at least 32 bytes"):
        VaultKey.load(env="TEST_VAULT_KEY")
    monkeypatch.setenv("TEST_VAULT_KEY", "zz" * 32)
    with pytest.raises(VaultKeyError, match="hex"):
        VaultKey.load(env="TEST_VAULT_KEY")
    monkeypatch.setenv("TEST_VAULT_KEY", os.urandom(32).hex())
    VaultKey.load(env="TEST_VAULT_KEY")
    generate_key_file(tmp_path / "v.key")
    assert "secret" in repr(VaultKey.load(file=tmp_path / "v.key"))


def test_bad_url() -> None:
    with pytest.raises(VaultStoreError, match="unknown URL scheme"):
        Vault.open("redis://x", key=VaultKey(b"\x01" * 32))


# -- the operator ---------------------------------------------------------------------------

def vault_policy() -> object:
    return load_policy({"extends": "patterns_only", "entities": {
        "EMAIL_ADDRESS": {"operator": {"type": "pseudonymize", "vault": True}}}})


def test_operator_issues_vault_tokens(vault: Vault) -> None:
    redactor = Redactor(vault_policy())  # type: ignore[arg-type]
    ctx = OperationContext(vault=vault, scope=SCOPE)
    text = f"write to {EMAIL} (again: {EMAIL}), call +1 415 555 0100"
    (result,) = redactor.redact_many([text], ctx=ctx)
    token = vault.issue("EMAIL_ADDRESS", EMAIL, SCOPE)
    assert result.text == f"write to {token} (again: {token}), call <PHONE_NUMBER>"
    json_result = redactor.redact_json({"from": EMAIL}, ctx=ctx)
    assert json_result.value == {"from": token}
    assert vault.rehydrate(result.text, SCOPE).text.startswith(f"write to {EMAIL}")


def test_operator_without_vault_fails_closed() -> None:
    redactor = Redactor(vault_policy())  # type: ignore[arg-type]
    with pytest.raises(OperatorError, match="needs a vault"):
        redactor.redact(f"mail {EMAIL}")


def test_operator_vault_rejects_custom_format() -> None:
    with pytest.raises((PolicyError, OperatorError), match="format cannot be combined"):
        Redactor(load_policy({"extends": "patterns_only", "entities": {"EMAIL_ADDRESS": {
            "operator": {"type": "pseudonymize", "vault": True, "format": "[{n}]"}}}}))
