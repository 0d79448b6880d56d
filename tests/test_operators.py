"""Every operator, built from policy data, on exact values."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from redactor import OperatorError, PolicyError, Redactor
from redactor.operators import OperationContext, build_operator

CTX = OperationContext()


@pytest.mark.parametrize(("name", "params", "value", "expected"), [
    ("replace", {}, "dana@example.com", "<EMAIL_ADDRESS>"),
    ("replace", {"new_value": "[{entity_type} removed]"}, "x", "[EMAIL_ADDRESS removed]"),
    ("redact", {}, "dana@example.com", ""),
    ("keep", {}, "dana@example.com", "dana@example.com"),
    ("mask", {}, "4111 1111 1111 1111", "**** **** **** ****"),
    ("mask", {"keep_last": 4}, "4111 1111 1111 1111", "**** **** **** 1111"),
    ("mask", {"keep_last": 4, "masking_char": "#"}, "4111-1111-1111-1111", "####-####-####-1111"),
    ("mask", {"keep_first": 1, "keep_last": 1}, "abcdef", "a****f"),
    ("mask", {"keep_last": 100}, "123456", "***456"),  # never more than half visible
    ("mask", {"preserve_separators": False}, "a-b", "***"),
])
def test_operator_output(name: str, params: dict, value: str, expected: str) -> None:
    assert build_operator(name, params).operate(value, "EMAIL_ADDRESS", CTX) == expected


def test_hash_is_keyed_hmac_sha256() -> None:
    key = b"0123456789abcdef0123"
    op = build_operator("hash", {}, hash_key=key)
    expected = hmac.new(key, b"dana@example.com", hashlib.sha256).hexdigest()
    assert op.operate("dana@example.com", "EMAIL_ADDRESS", CTX) == expected
    assert build_operator("hash", {"length": 16}, hash_key=key).operate(
        "dana@example.com", "EMAIL_ADDRESS", CTX) == expected[:16]


def test_hash_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACTOR_TEST_HASH_KEY", "k" * 20)
    op = build_operator("hash", {"key_env": "REDACTOR_TEST_HASH_KEY"})
    assert op.operate("x", "PERSON", CTX) == hmac.new(b"k" * 20, b"x", hashlib.sha256).hexdigest()


def test_hash_key_from_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "key"
    key_file.write_bytes(b"f" * 32 + b"\n")
    op = build_operator("hash", {"key_file": str(key_file)})
    assert op.operate("x", "PERSON", CTX) == hmac.new(b"f" * 32, b"x", hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("params", "message"), [
    ({}, "hash operator needs a key"),
    ({"key_env": "REDACTOR_TEST_UNSET_VAR"}, "REDACTOR_TEST_UNSET_VAR is not set"),
    ({"key_file": "/nonexistent/key"}, "cannot read key_file"),
])
def test_hash_without_a_key_is_an_error_never_an_unkeyed_hash(params: dict, message: str) -> None:
    with pytest.raises(OperatorError, match=message):
        build_operator("hash", params)


def test_hash_rejects_short_keys() -> None:
    with pytest.raises(OperatorError, match="at least 16 bytes"):
        build_operator("hash", {}, hash_key=b"short")


def test_pseudonymize_numbers_values_per_type_within_one_call() -> None:
    op = build_operator("pseudonymize", {})
    ctx = OperationContext()
    assert op.operate("Dana", "PERSON", ctx) == "<PERSON_1>"
    assert op.operate("Eric", "PERSON", ctx) == "<PERSON_2>"
    assert op.operate("DANA", "PERSON", ctx) == "<PERSON_1>"
    assert op.operate("x@y.org", "EMAIL_ADDRESS", ctx) == "<EMAIL_ADDRESS_1>"
    assert op.operate("Eric", "PERSON", OperationContext()) == "<PERSON_1>"


def test_unknown_operator_and_bad_parameters() -> None:
    with pytest.raises(OperatorError, match="unknown operator 'scramble'; known: hash, keep, mask"):
        build_operator("scramble", {})
    with pytest.raises(OperatorError, match="parameter 'masking_char'"):
        build_operator("mask", {"masking_char": "**"})
    with pytest.raises(OperatorError, match="parameter 'colour'"):
        build_operator("replace", {"colour": "red"})
    with pytest.raises(OperatorError, match="format must contain"):
        build_operator("pseudonymize", {"format": "<{entity_type}>"})


def test_policy_operators_apply_per_entity_type() -> None:
    r = Redactor({"extends": "default", "entities": {
        "CREDIT_CARD": {"operator": {"type": "mask", "keep_last": 4}},
        "EMAIL_ADDRESS": {"operator": "redact"},
        "PERSON": {"operator": "pseudonymize"},
    }})
    text = "Dana Fakesmith paid with 4111 1111 1111 1111; Dana Fakesmith wrote from dana@example.com"
    assert r.redact(text).text == ("<PERSON_1> paid with **** **** **** 1111; <PERSON_1> wrote from ")


def test_redact_many_shares_pseudonyms_across_one_call() -> None:
    r = Redactor({"extends": "default", "entities": {"EMAIL_ADDRESS": {"operator": "pseudonymize"}}})
    out = [x.text for x in r.redact_many(["a@example.com b@example.com", "b@example.com"])]
    assert out == ["<EMAIL_ADDRESS_1> <EMAIL_ADDRESS_2>", "<EMAIL_ADDRESS_2>"]


def test_policy_with_hash_and_no_key_fails_at_construction() -> None:
    with pytest.raises(OperatorError) as info:
        Redactor({"extends": "default", "entities": {"PERSON": {"operator": "hash"}}})
    assert isinstance(info.value, PolicyError)  # a policy setting to fix, as well
    assert str(info.value) == ("<dict>: key 'entities.PERSON.operator': hash operator needs a key: "
                               "set key_env or key_file in the policy, or pass Redactor(hash_key=...)")
