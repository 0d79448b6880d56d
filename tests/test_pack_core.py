"""Table-driven tests of the core pack: each recognizer, positive and negative, exact spans."""

from __future__ import annotations

import pytest

from redactor import Redactor

# (entity type, text, expected values found, in order)
CASES: list[tuple[str, str, list[str]]] = [
    # EMAIL_ADDRESS
    ("EMAIL_ADDRESS", "mail dana.o'hara+ticket@mail.example.co.uk now", ["dana.o'hara+ticket@mail.example.co.uk"]),
    ("EMAIL_ADDRESS", "to: <a_b@x-y.io>, cc: c@d.museum.", ["a_b@x-y.io", "c@d.museum"]),
    ("EMAIL_ADDRESS", "user@localhost and @handle and a@b.c1", []),
    # CREDIT_CARD (Luhn + issuer ranges)
    ("CREDIT_CARD", "visa 4111111111111111 amex 3782 822463 10005 mc2 2223-0031-2200-3222",
     ["4111111111111111", "3782 822463 10005", "2223-0031-2200-3222"]),
    ("CREDIT_CARD", "diners 3056 9309 0259 04 jcb 3530111333300000", ["3056 9309 0259 04", "3530111333300000"]),
    ("CREDIT_CARD", "two cards 4111111111111111 5555555555554444", ["4111111111111111", "5555555555554444"]),
    ("CREDIT_CARD", "luhn fails 4111111111111112; no issuer 9111111111111111; short 4111 1111", []),
    ("CREDIT_CARD", "order 1234567812345670 timestamp 1748501234507", []),
    # IBAN_CODE (mod 97)
    ("IBAN_CODE", "IBAN DE89 3704 0044 0532 0130 00 and GB82WEST12345698765432.",
     ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"]),
    ("IBAN_CODE", "bad check DE89 3704 0044 0532 0130 01; word DEPARTMENT12", []),
    # US_SSN
    ("US_SSN", "ssn 078-05-1120, 536 22 1234 on file", ["078-05-1120", "536 22 1234"]),
    ("US_SSN", "SSN: 219099999", ["219099999"]),
    ("US_SSN", "area 000-12-3456 666-12-3456 900-12-3456 group 123-00-4567 serial 123-45-0000", []),
    ("US_SSN", "reference 219099999 without context", []),
    # IP_ADDRESS
    ("IP_ADDRESS", "from 192.168.1.20, to 2001:db8::8a2e:370:7334 and ::1.",
     ["192.168.1.20", "2001:db8::8a2e:370:7334", "::1"]),
    ("IP_ADDRESS", "version 999.1.1.1 and time 12:30:45 and 1.2.3", []),
    # PHONE_NUMBER
    ("PHONE_NUMBER", "call (212) 555-0143 or +44 20 7946 0958 or 212.555.0143",
     ["(212) 555-0143", "+44 20 7946 0958", "212.555.0143"]),
    ("PHONE_NUMBER", "tel. 030 901820, ext: 202-555-0199 x123", ["030 901820", "202-555-0199 x123"]),
    ("PHONE_NUMBER", "dated 2016-05-18 at 2016-05-18T04:36:04Z, id 20240518, epoch 1748501234507", []),
    # DATE_OF_BIRTH (only with birth context)
    ("DATE_OF_BIRTH", "DOB: 04/07/1986; born on 12 March 1990; date of birth March 3rd, 1975",
     ["04/07/1986", "12 March 1990", "March 3rd, 1975"]),
    ("DATE_OF_BIRTH", "meeting on 04/07/1986 and 12 March 1990", []),
    # STREET_ADDRESS
    ("STREET_ADDRESS", "ship to 1600 Pennsylvania Avenue NW, or 221B Baker Street, Apt 4",
     ["1600 Pennsylvania Avenue NW", "221B Baker Street, Apt 4"]),
    ("STREET_ADDRESS", "we have 3 Main issues and 12 Open tickets", []),
    # A locality ends with its sentence (a new user saw "Springfield. The" swallowed);
    # abbreviations inside place names ("St. Louis") do not end it.
    ("STREET_ADDRESS", "I live at 29 Main Street, Springfield. The order is late.",
     ["29 Main Street, Springfield"]),
    ("STREET_ADDRESS", "I live at 29 Main Street, Springfield. Project Falcon is confidential.",
     ["29 Main Street, Springfield"]),
    ("STREET_ADDRESS", "Address: 12 Oak Road, St. Louis, MO 63101. Call me.",
     ["12 Oak Road, St. Louis, MO 63101"]),
    # URL (containers) and query-string PII
    ("URL", "see https://crm.example.site/t/42?tab=notes. and www.example.org/x)",
     ["https://crm.example.site/t/42?tab=notes", "www.example.org/x"]),
    ("PERSON", "https://x.example/lookup?first_name=Pat&last_name=Doe&page=2", ["Pat", "Doe"]),
    ("EMAIL_ADDRESS", "https://x.example/r?to=pat.doe%40example.org", ["pat.doe%40example.org"]),
    # PERSON from the title and gazetteer rules (NER off to test them alone)
    ("PERSON", "Dr. Anneke van der Fakel and MRS. JO NAKAMURA", ["Anneke van der Fakel", "JO NAKAMURA"]),
    ("PERSON", "tell mariela fakestone and MARIELA FAKESTONE", ["mariela fakestone", "MARIELA FAKESTONE"]),
    ("PERSON", "will call back, may help, mark as done, bill the client", []),
    ("PERSON", '20002,"Becker, Tom",x and BECKER, TOM J.', ["Becker, Tom", "BECKER, TOM"]),
    ("PERSON", "Smith, Jones and Brown", []),
]


@pytest.fixture(scope="module")
def patterns() -> Redactor:
    return Redactor({"packs": ["core"], "entities": {t: {} for t in {
        "EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "PHONE_NUMBER",
        "DATE_OF_BIRTH", "STREET_ADDRESS", "URL", "PERSON", "SECRET"}}}, model=None)


@pytest.mark.parametrize(("etype", "text", "expected"), CASES, ids=[f"{c[0]}:{c[1][:25]}" for c in CASES])
def test_core_recognizers(patterns: Redactor, etype: str, text: str, expected: list[str]) -> None:
    found = [text[f.start:f.end] for f in patterns.analyze(text) if f.entity_type == etype]
    assert found == expected


def test_validated_findings_are_marked(patterns: Redactor) -> None:
    [card] = patterns.analyze("card 4111 1111 1111 1111")
    assert (card.entity_type, card.start, card.end, card.score, card.validated) == (
        "CREDIT_CARD", 5, 24, 1.0, True)
    assert card.recognizer == "credit_card" and card.explanation == "card_grouped_4+validated+context"


def test_context_raises_a_possible_phone_over_the_threshold(patterns: Redactor) -> None:
    # 8 digits, only *possible* for the home region; context makes it count.
    assert patterns.analyze("ref 55501234") == []
    [f] = patterns.analyze("phone: 555 01234")
    assert (f.entity_type, f.start, f.end) == ("PHONE_NUMBER", 7, 16)


def test_surname_comma_first_name_skips_places(patterns: Redactor) -> None:
    text = "Paris, France and Georgia, Jordan"
    assert [f.explanation for f in patterns.analyze(text)
            if f.explanation == "surname, first name"] == []
