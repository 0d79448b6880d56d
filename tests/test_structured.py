"""JSON redaction field by field, with field rules."""

from __future__ import annotations

import orjson
import pytest

from redactor import PolicyError, Redactor
from tests.conftest import FIXTURES


def test_every_string_is_scanned_and_structure_kept(redactor: Redactor) -> None:
    payload = {"ticket": {"id": 42, "subject": "Call Laura Fakeley", "tags": ["vip", "dana@example.com"],
                          "open": True, "score": 0.5, "none": None},
               "comments": [{"body": "card 4111 1111 1111 1111"}, {"body": "thanks"}]}
    result = redactor.redact_json(payload)
    assert result.value == {
        "ticket": {"id": 42, "subject": "Call <PERSON>", "tags": ["vip", "<EMAIL_ADDRESS>"],
                   "open": True, "score": 0.5, "none": None},
        "comments": [{"body": "card <CREDIT_CARD>"}, {"body": "thanks"}]}
    assert result.counts == {"PERSON": 1, "EMAIL_ADDRESS": 1, "CREDIT_CARD": 1}
    assert payload["ticket"]["subject"] == "Call Laura Fakeley"  # input untouched


def test_numbers_holding_pii_become_strings(redactor: Redactor) -> None:
    payload = {"phone": 2125550143, "card": 4111111111111111, "count": 12,
               "requester_id": 6012691534, "mobile_number": 2125550143, "ssn": 219099999}
    result = redactor.redact_json(payload)
    assert result.value == {
        "phone": "<PHONE_NUMBER>", "card": "<CREDIT_CARD>", "count": 12,
        "requester_id": 6012691534, "mobile_number": "<PHONE_NUMBER>", "ssn": "<US_SSN>"}
    assert result.counts == {"PHONE_NUMBER": 2, "CREDIT_CARD": 1, "US_SSN": 1}


def test_top_level_list_unicode_and_escapes(redactor: Redactor) -> None:
    raw = '[{"n": "Zo\\u00eb \\"quoted\\" mail zoe@example.com \\ud83d\\ude00"}, "plain", 3]'
    value = orjson.loads(raw)
    out = redactor.redact_json(value).value
    assert out == [{"n": 'Zoë "quoted" mail <EMAIL_ADDRESS> 😀'}, "plain", 3]
    assert orjson.loads(orjson.dumps(out)) == out


def test_very_deep_nesting_does_not_overflow(redactor: Redactor) -> None:
    value: object = "mail deep@example.com"
    for _ in range(5000):
        value = {"a": [value]}
    out = redactor.redact_json(value).value
    for _ in range(5000):
        out = out["a"][0]  # type: ignore[index]
    assert out == "mail <EMAIL_ADDRESS>"


def test_field_rules_entity_keep_scan() -> None:
    r = Redactor({"extends": "default", "json": {"rules": [
        {"path": "$..email", "action": "entity", "entity_type": "EMAIL_ADDRESS"},
        {"path": "$..id", "action": "keep"},
        {"path": "$.requester.name", "action": "entity", "entity_type": "PERSON"},
        {"path": "$.tags[*]", "action": "keep"},
        {"path": "$.notes[1]", "action": "keep"},
    ], "default": "scan"}})
    payload = {"id": "4111111111111111", "requester": {"name": "Dummyname", "email": "not-an-email",
                                                      "id": 6012691534},
               "tags": ["dana@example.com"], "notes": ["mail a@example.com", "mail b@example.com"],
               "nested": [{"email": ""}, {"email": "x"}]}
    out = r.redact_json(payload)
    assert out.value == {"id": "4111111111111111",
                         "requester": {"name": "<PERSON>", "email": "<EMAIL_ADDRESS>", "id": 6012691534},
                         "tags": ["dana@example.com"],
                         "notes": ["mail <EMAIL_ADDRESS>", "mail b@example.com"],
                         "nested": [{"email": ""}, {"email": "<EMAIL_ADDRESS>"}]}
    assert out.counts == {"PERSON": 1, "EMAIL_ADDRESS": 3}


def test_default_keep_with_scan_rules() -> None:
    r = Redactor({"extends": "default", "json": {"rules": [
        {"path": "$..body", "action": "scan"}], "default": "keep"}})
    payload = {"body": "mail a@example.com", "other": "mail b@example.com"}
    assert r.redact_json(payload).value == {"body": "mail <EMAIL_ADDRESS>", "other": "mail b@example.com"}


@pytest.mark.parametrize("path", ["$.a..", "$[x]", "$.a[*", "$..a.b["])
def test_bad_json_paths_are_policy_errors(path: str) -> None:
    with pytest.raises(PolicyError, match="unsupported JSON path syntax"):
        Redactor({"extends": "default", "json": {"rules": [{"path": path, "action": "keep"}]}})


def test_freshdesk_ticket_fixture(redactor: Redactor) -> None:
    ticket = orjson.loads((FIXTURES / "freshdesk/v2/ticket_1.json").read_bytes())
    out = redactor.redact_json(ticket)
    assert out.value["requester"]["email"] == "<EMAIL_ADDRESS>"
    assert out.value["cc_emails"] == ["<EMAIL_ADDRESS>"]
    assert out.value["created_at"] == "2016-05-18T04:36:04Z"  # timestamps are not phone numbers
    assert out.value["requester_id"] == 6012691534
    assert out.value["requester"]["name"] == "<PERSON>"  # "Dummyname": a name field, whatever NER says
    assert out.counts == {"EMAIL_ADDRESS": 3, "PERSON": 1, "URL": 1}  # the attachment URL, kept


def test_tuples_are_arrays_and_values_json_cannot_hold_raise():
    r = Redactor("patterns_only")
    assert r.redact_json({"a": ("dana@example.com", 1)}).value == {"a": ["<EMAIL_ADDRESS>", 1]}
    with pytest.raises(TypeError) as bytes_error:
        r.redact_json({"a": b"dana@example.com"})
    assert str(bytes_error.value) == (
        "redact_json: $.a is a bytes, which JSON cannot hold; "
        "pass parsed JSON (dict, list, str, int, float, bool, None)")
    with pytest.raises(TypeError, match=r"^redact_json: \$\.a\[1\] is a set, ") as set_error:
        r.redact_json({"a": [1, {"dana@example.com"}]})
    assert "dana" not in str(set_error.value)
