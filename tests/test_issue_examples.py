"""Inputs that other tools get wrong (issue 2), each with its exact expected output."""

from __future__ import annotations

import pytest

from redactor import Redactor, analyze, redact

CASES = [
    ("Ticket opened by MARIELA FAKESTONE yesterday about the refund.",
     "Ticket opened by <PERSON> yesterday about the refund."),
    ("Hello. Please call mariela fakestone back about invoice 88.",
     "Hello. Please call <PERSON> back about invoice 88."),
    ("Cards on file: 2223 0031 2200 3222 and 4000000000000000006.",
     "Cards on file: <CREDIT_CARD> and <CREDIT_CARD>."),
    ("event_ts=1748501234507 batch=7 status=ok",
     "event_ts=1748501234507 batch=7 status=ok"),
    ("Attached the INTRODUCTORY GUIDE plus forms H1 and B43; the policy is public.",
     "Attached the INTRODUCTORY GUIDE plus forms H1 and B43; the policy is public."),
    ("write to jo.tester@\u200bexample.org please",
     "write to <EMAIL_ADDRESS> please"),
    ("Customer SSN 219\u201009\u20109999 on file",
     "Customer SSN <US_SSN> on file"),
    ("cards: 4012.8888.8888.1881 / 5555  5555  5555  4444",
     "cards: <CREDIT_CARD> / <CREDIT_CARD>"),
    ("contactno212-555-0143 (from web form)",
     "contactno<PHONE_NUMBER> (from web form)"),
    ("Referred by Dr. Anneke van der Fakel last week",
     "Referred by Dr. <PERSON> last week"),
    ("see https://crm.example.site/lookup?email=pat.doe@example.org&name=Pat%20Doe for details",
     "see https://crm.example.site/lookup?email=<EMAIL_ADDRESS>&name=<PERSON> for details"),
    ("Escalation list: ada.tester@example.org bo.tester@example.net cy.tester@example.com",
     "Escalation list: <EMAIL_ADDRESS> <EMAIL_ADDRESS> <EMAIL_ADDRESS>"),
    ("*    Laura Fakeley presented the plan\n*    Given Eric's notes we agreed",
     "*    <PERSON> presented the plan\n*    Given <PERSON>'s notes we agreed"),
    ("Hi, I'm Dana Fakesmith, card 4111 1111 1111 1111, mail dana@example.com",
     "Hi, I'm <PERSON>, card <CREDIT_CARD>, mail <EMAIL_ADDRESS>"),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:30] for c in CASES])
def test_exact_redaction(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_card_numbers_are_typed_credit_card() -> None:
    text = "Cards on file: 2223 0031 2200 3222 and 4000000000000000006."
    assert [(f.entity_type, f.start, f.end) for f in analyze(text)] == [
        ("CREDIT_CARD", 15, 34), ("CREDIT_CARD", 39, 58)]


def test_zero_width_email_offsets_index_the_original() -> None:
    text = "write to jo.tester@\u200bexample.org please"
    [f] = analyze(text)
    assert (f.entity_type, f.start, f.end) == ("EMAIL_ADDRESS", 9, 31)
    assert text[f.start:f.end] == "jo.tester@\u200bexample.org"


def test_unicode_dash_ssn_is_typed_us_ssn() -> None:
    text = "Customer SSN 219\u201009\u20109999 on file"
    assert [(f.entity_type, f.start, f.end) for f in analyze(text)] == [("US_SSN", 13, 24)]


def test_three_emails_are_three_findings() -> None:
    text = "Escalation list: ada.tester@example.org bo.tester@example.net cy.tester@example.com"
    assert [(f.entity_type, f.start, f.end) for f in analyze(text)] == [
        ("EMAIL_ADDRESS", 17, 39), ("EMAIL_ADDRESS", 40, 61), ("EMAIL_ADDRESS", 62, 83)]


def test_card_overlapping_a_kept_url_leaves_no_digit(redactor: Redactor) -> None:
    # The default policy keeps URLs; an explicit one that does is tested too.
    text = "Fake card number 4012 8888 8888 1881.net overlaps with a URL."
    keep_urls = Redactor({"extends": "default", "entities": {"URL": {"operator": "keep"}}})
    for r in (redactor, keep_urls):
        out = r.redact(text).text
        assert out == "Fake card number <CREDIT_CARD>.net overlaps with a URL."
        assert not any(d in out for d in "0123456789")


def test_card_inside_a_url_is_redacted_when_the_url_is_kept() -> None:
    text = "pay at https://pay.example.site/checkout?card=4111111111111111&x=1 now"
    assert redact(text) == "pay at https://pay.example.site/checkout?card=<CREDIT_CARD>&x=1 now"
