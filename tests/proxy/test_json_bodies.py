"""JSON bodies in the proxy: integers past 64 bits take the stdlib parser and stay exact."""

from __future__ import annotations

import pytest

from redactor import load_policy
from redactor.proxy.bodies import RedactorSet, _has_huge_int, redact_body
from redactor.proxy.codecs import BodyKind


@pytest.mark.parametrize(("data", "expected"), [
    (b'{"n": 1234567890123456789}', False),       # 19 digits: orjson reads it exactly
    (b'{"n": 12345678901234567890}', True),       # 20 digits
    (b'{"a": "0000000000", "b": 1111111111}', False),  # two runs of 10, not one of 20
    (b'{"n": 1.5e300, "s": "x9999999999999999999y"}', False),
    ('{"n": 123456789012345678901234}', True),    # a str body (a charset other than UTF-8)
    ('{"n": 12345}', False),
])
def test_huge_int_test_finds_runs_of_twenty_digits(data: bytes | str, expected: bool) -> None:
    assert _has_huge_int(data) is expected


def test_integers_past_64_bits_come_back_exact() -> None:
    redactor = RedactorSet(load_policy("patterns_fast")).for_role(None)
    body = b'{"id":123456789012345678901234,"max":18446744073709551615,"note":"call 415-555-0183"}'
    out, counts = redact_body(redactor, BodyKind.JSON, body)
    assert out == (b'{"id":123456789012345678901234,"max":18446744073709551615,'
                   b'"note":"call <PHONE_NUMBER>"}')
    assert counts == {"PHONE_NUMBER": 1}
