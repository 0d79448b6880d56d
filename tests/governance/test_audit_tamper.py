"""Tamper tests on both stores: verify catches each change and names the first bad record."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from redactor.audit import AuditTrail, Reason, VerificationError, verify
from redactor.audit.append import seal
from redactor.audit.chain import GENESIS, sign_checkpoint
from redactor.audit.record import format_ts

from .conftest import Clock, Raw

N = 12


def fill(url: str, hmac_key: bytes, signing_key: Ed25519PrivateKey, clock: Clock,
         n: int = N, every: int = 5, **kwargs: object) -> None:
    """n view records, one per transaction (record() waits). Checkpoints: at the first
    record, then every 5 (6, 11) and at close (12)."""
    with AuditTrail(url, hmac_key=hmac_key, signing_key=signing_key, checkpoint_every=every,
                    clock=clock, **kwargs) as trail:  # type: ignore[arg-type]
        for i in range(1, n + 1):
            clock.tick(1.5)
            trail.record(trail_event(i))


def trail_event(i: int):  # type: ignore[no-untyped-def]
    from redactor.audit import Action, AuditEvent, Resource

    return AuditEvent(action=Action.VIEW, actor=f"agent-{i}", role="agent",
                      resource=Resource("GET", f"/api/tickets/{i}", str(i)),
                      entities={"EMAIL_ADDRESS": i % 3}, policy_hash="p" * 64, request_id=f"r{i}")


def failure(url: str, **kwargs: object) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verify(url, **kwargs)  # type: ignore[arg-type]
    return info.value


@pytest.fixture
def filled(store_url: str, hmac_key: bytes, signing_key: Ed25519PrivateKey, clock: Clock) -> str:
    fill(store_url, hmac_key, signing_key, clock)
    return store_url


def test_intact_chain_verifies(filled: str, raw: Raw, hmac_key: bytes,
                               signing_key: Ed25519PrivateKey) -> None:
    assert [r[0] for r in raw.sql("SELECT seq FROM {checkpoints} ORDER BY seq")] == [1, 6, 11, 12]
    report = verify(filled, key=hmac_key, public_key=signing_key.public_key())
    assert report.records == N and report.checkpoints == 4
    assert report.hmac_checked and report.signatures_checked
    assert report.last_checkpoint == N and report.uncovered == 0
    assert report.summary().startswith(f"ok: {N} records (seq 1-{N})")


def test_changed_field_names_the_record(filled: str, raw: Raw, hmac_key: bytes) -> None:
    body = raw.sql("SELECT body FROM {records} WHERE seq = 5")[0][0]
    raw.sql("UPDATE {records} SET body = ? WHERE seq = 5",
            (body.replace(b'"agent-5"', b'"agent-X"'),))
    err = failure(filled, key=hmac_key)
    assert (err.sequence, err.reason) == (5, Reason.HASH_MISMATCH)
    assert failure(filled).sequence == 5  # no key needed to see this one


def test_changed_field_with_fixed_hash(filled: str, raw: Raw, hmac_key: bytes) -> None:
    """The attacker also recomputes the record's hash column: the HMAC (with the key) names
    the record; without the key the broken link to it shows at the next one."""
    from redactor.audit.chain import leaf_hash

    body = raw.sql("SELECT body FROM {records} WHERE seq = 5")[0][0].replace(b'"agent-5"', b'"agent-X"')
    raw.sql("UPDATE {records} SET body = ?, hash = ?, actor = 'agent-X' WHERE seq = 5",
            (body, leaf_hash(body)))
    err = failure(filled, key=hmac_key)
    assert (err.sequence, err.reason) == (5, Reason.HMAC_MISMATCH)
    err = failure(filled)
    assert (err.sequence, err.reason) == (6, Reason.HASH_MISMATCH)
    assert "link to record 5" in str(err)


def test_deleted_middle_record_is_a_gap(filled: str, raw: Raw, hmac_key: bytes) -> None:
    raw.sql("DELETE FROM {records} WHERE seq = 7")
    err = failure(filled, key=hmac_key)
    assert (err.sequence, err.reason) == (7, Reason.GAP)


def test_deleted_oldest_record_is_a_gap(filled: str, raw: Raw) -> None:
    raw.sql("DELETE FROM {records} WHERE seq = 1")
    err = failure(filled)
    assert (err.sequence, err.reason) == (1, Reason.GAP)


def test_deleted_newest_records_is_truncation(filled: str, raw: Raw, hmac_key: bytes,
                                              signing_key: Ed25519PrivateKey) -> None:
    raw.sql("DELETE FROM {records} WHERE seq > 9")
    err = failure(filled, key=hmac_key, public_key=signing_key.public_key())
    assert (err.sequence, err.reason) == (10, Reason.TRUNCATED)
    assert failure(filled).reason is Reason.TRUNCATED  # even without keys


def test_deleted_newest_records_and_their_checkpoints(filled: str, raw: Raw,
                                                      signing_key: Ed25519PrivateKey) -> None:
    """Delete the newest checkpoint too: the one before it (at 11) still catches the cut."""
    raw.sql("DELETE FROM {checkpoints} WHERE seq > 11")
    raw.sql("DELETE FROM {records} WHERE seq > 9")
    err = failure(filled, public_key=signing_key.public_key())
    assert (err.sequence, err.reason) == (10, Reason.TRUNCATED)


def test_reordered_records(filled: str, raw: Raw, hmac_key: bytes) -> None:
    raw.sql("UPDATE {records} SET seq = -1 WHERE seq = 3")
    raw.sql("UPDATE {records} SET seq = 3 WHERE seq = 4")
    raw.sql("UPDATE {records} SET seq = 4 WHERE seq = -1")
    err = failure(filled, key=hmac_key)
    assert (err.sequence, err.reason) == (3, Reason.REORDERED)


def rehash(raw: Raw, key: bytes | None) -> None:
    """Rewrite every record (actor changed) as a perfectly linked chain under ``key``."""
    rows = raw.sql("SELECT seq, body FROM {records} ORDER BY seq")
    import orjson

    prev = GENESIS
    raw.sql("DELETE FROM {records}")
    for seq, body in rows:
        partial = {k: v for k, v in orjson.loads(body).items() if k not in ("seq", "prev")}
        partial["actor"] = "someone-else"
        row = seal(partial, seq, prev, key)
        raw.sql("INSERT INTO {records} (seq, id, ts_us, actor, action, ticket_id, body, hash, mac) "
                "VALUES (?,?,?,?,?,?,?,?,?)", (row.seq, row.id, row.ts_us, row.actor, row.action,
                                              row.ticket_id, row.body, row.hash, row.mac))
        prev = row.hash


def test_rehashed_chain_without_the_key(filled: str, raw: Raw, hmac_key: bytes,
                                        signing_key: Ed25519PrivateKey) -> None:
    rehash(raw, key=b"attacker-key-0123456789abcdef0123")
    err = failure(filled, key=hmac_key)
    assert (err.sequence, err.reason) == (1, Reason.HMAC_MISMATCH)
    # The signed checkpoints catch it too, with only the public key.
    err = failure(filled, public_key=signing_key.public_key())
    assert (err.sequence, err.reason) == (1, Reason.HASH_MISMATCH)
    assert "signed checkpoint" in str(err)


def test_rehashed_chain_without_mac_or_checkpoints(filled: str, raw: Raw, hmac_key: bytes,
                                                   signing_key: Ed25519PrivateKey) -> None:
    rehash(raw, key=None)
    raw.sql("DELETE FROM {checkpoints}")
    err = failure(filled, key=hmac_key)
    assert (err.sequence, err.reason) == (1, Reason.HMAC_MISMATCH)
    assert "no HMAC" in str(err)
    err = failure(filled, public_key=signing_key.public_key())
    assert (err.sequence, err.reason) == (1, Reason.UNSIGNED)


def test_forged_checkpoints(filled: str, raw: Raw, signing_key: Ed25519PrivateKey) -> None:
    rehash(raw, key=None)
    origin = raw.sql("SELECT value FROM {meta} WHERE key = 'origin'")[0][0]
    forger = Ed25519PrivateKey.generate()
    raw.sql("DELETE FROM {checkpoints}")
    head = raw.sql("SELECT hash FROM {records} WHERE seq = ?", (N,))[0][0]
    cp = sign_checkpoint(forger, origin=origin, sequence=N, head=head, ts=format_ts(0))
    raw.sql("INSERT INTO {checkpoints} VALUES (?,?,?,?,?,?,?)",
            (cp.sequence, 0, cp.ts, cp.origin, cp.head, cp.key_id, cp.signature))
    err = failure(filled, public_key=signing_key.public_key())
    assert (err.sequence, err.reason) == (N, Reason.BAD_SIGNATURE)


def test_altered_checkpoint_signature(filled: str, raw: Raw, signing_key: Ed25519PrivateKey) -> None:
    sig = raw.sql("SELECT signature FROM {checkpoints} WHERE seq = 11")[0][0]
    raw.sql("UPDATE {checkpoints} SET signature = ? WHERE seq = 11", (bytes([sig[0] ^ 1]) + sig[1:],))
    err = failure(filled, public_key=signing_key.public_key())
    assert (err.sequence, err.reason) == (11, Reason.BAD_SIGNATURE)


def test_missing_and_empty_stores_are_not_valid(store_url: str, tmp_path: Path) -> None:
    err = failure(store_url)
    assert (err.sequence, err.reason) == (None, Reason.MISSING)
    AuditTrail(store_url).close()  # creates the tables, writes nothing
    err = failure(store_url)
    assert (err.sequence, err.reason) == (None, Reason.EMPTY)


def test_all_records_deleted_after_a_checkpoint(filled: str, raw: Raw) -> None:
    raw.sql("DELETE FROM {records}")
    err = failure(filled)
    assert (err.sequence, err.reason) == (1, Reason.TRUNCATED)


def test_indexed_column_tamper(filled: str, raw: Raw) -> None:
    raw.sql("UPDATE {records} SET actor = 'agent-99' WHERE seq = 4")
    err = failure(filled)
    assert (err.sequence, err.reason) == (4, Reason.HASH_MISMATCH)


def test_witness_catches_truncation_with_checkpoints_deleted(
        store_url: str, raw: Raw, hmac_key: bytes, signing_key: Ed25519PrivateKey, clock: Clock,
        tmp_path: Path) -> None:
    witness = tmp_path / "witness.jsonl"
    fill(store_url, hmac_key, signing_key, clock, witness_path=witness)
    raw.sql("DELETE FROM {checkpoints} WHERE seq > 5")
    raw.sql("DELETE FROM {records} WHERE seq > 5")
    verify(store_url, key=hmac_key, public_key=signing_key.public_key())  # the store alone: fine
    err = failure(store_url, public_key=signing_key.public_key(), witness=witness)
    assert (err.sequence, err.reason) == (6, Reason.TRUNCATED)


def test_sqlite_flipped_byte_names_the_record(tmp_path: Path, hmac_key: bytes,
                                              signing_key: Ed25519PrivateKey, clock: Clock) -> None:
    url = f"sqlite://{tmp_path}/audit.db"
    fill(url, hmac_key, signing_key, clock)
    db = tmp_path / "audit.db"
    assert not (tmp_path / "audit.db-wal").exists() or (tmp_path / "audit.db-wal").stat().st_size == 0
    data = bytearray(db.read_bytes())
    at = data.find(b'"actor":"agent-8"')
    assert at > 0
    data[at + len('"actor":"agent-')] ^= 0x01  # agent-8 -> agent-9
    db.write_bytes(bytes(data))
    err = failure(url, key=hmac_key)
    assert (err.sequence, err.reason) == (8, Reason.HASH_MISMATCH)


def test_sqlite_flipped_header_byte(tmp_path: Path, hmac_key: bytes,
                                    signing_key: Ed25519PrivateKey, clock: Clock) -> None:
    url = f"sqlite://{tmp_path}/audit.db"
    fill(url, hmac_key, signing_key, clock)
    db = tmp_path / "audit.db"
    data = bytearray(db.read_bytes())
    data[0] ^= 0x01  # "SQLite format 3" magic
    db.write_bytes(bytes(data))
    err = failure(url, key=hmac_key)
    assert err.reason is Reason.CORRUPT


def test_sqlite_retyped_columns(tmp_path: Path, hmac_key: bytes, signing_key: Ed25519PrivateKey,
                                clock: Clock) -> None:
    """SQLite columns are loosely typed: an edit may store TEXT where BLOB was."""
    url = f"sqlite://{tmp_path}/audit.db"
    fill(url, hmac_key, signing_key, clock)
    raw = Raw(url)
    raw.sql("UPDATE {records} SET body = replace(body, 'agent-3', 'agent-X') WHERE seq = 3")
    assert failure(url).sequence == 3
    raw.sql("UPDATE {records} SET body = 42 WHERE seq = 3")
    err = failure(url)
    assert (err.sequence, err.reason) == (3, Reason.CORRUPT)
    raw.close()
