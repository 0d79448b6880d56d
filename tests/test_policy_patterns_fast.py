"""The built-in ``patterns_fast`` policy: validated pattern types and secrets, nothing else."""

from __future__ import annotations

import redactor
from redactor import Redactor, load_policy
from redactor.policy import BUILTIN_POLICIES

TEXT = ("Jane Roe (jane.roe@example.com, +44 20 7946 0958) paid with 4111 1111 1111 1111 from "
        "10.0.0.12; IBAN GB82 WEST 1234 5698 7654 32, SSN 078-05-1120, see https://example.com/a?x=1 "
        "at 221B Baker Street, London.")


def test_patterns_fast_is_a_builtin_without_ner() -> None:
    assert BUILTIN_POLICIES == ("default", "patterns_only", "patterns_fast")
    policy = load_policy("patterns_fast")
    assert (policy.name, policy.model, policy.packs) == ("patterns_fast", None, ["core", "secrets"])
    assert sorted(policy.entities) == ["CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS",
                                       "PHONE_NUMBER", "SECRET", "URL", "US_SSN"]


def test_patterns_fast_redacts_pattern_types_and_leaves_names_and_places() -> None:
    result = Redactor("patterns_fast", cache_size=0).redact(TEXT)
    assert result.text == (
        "Jane Roe (<EMAIL_ADDRESS>, <PHONE_NUMBER>) paid with <CREDIT_CARD> from <IP_ADDRESS>; "
        "IBAN <IBAN_CODE>, SSN <US_SSN>, see https://example.com/a?x=1 at 221B Baker Street, London.")
    assert [(f.entity_type, f.start, f.end, f.recognizer, f.validated) for f in result.findings] == [
        ("EMAIL_ADDRESS", 10, 30, "email", True),
        ("PHONE_NUMBER", 32, 48, "phone", True),
        ("CREDIT_CARD", 60, 79, "credit_card", True),
        ("IP_ADDRESS", 85, 94, "ip_address", True),
        ("IBAN_CODE", 101, 128, "iban", True),
        ("US_SSN", 134, 145, "us_ssn", True),
        ("URL", 151, 176, "url", False),
    ]
    assert redactor.redact(TEXT, policy="patterns_fast") == result.text


def test_patterns_fast_finds_secrets_and_nothing_in_plain_prose() -> None:
    r = Redactor("patterns_fast", cache_size=0)
    key = "AKIA" + "ABCDEFGHIJKLMNOP"
    assert r.redact(f"aws key {key} leaked").text == "aws key <SECRET> leaked"
    prose = "Maria Garcia moved to 12 Rue de Rivoli, Paris on Monday."
    assert r.redact(prose).text == prose
    assert r.analyze(prose) == []
