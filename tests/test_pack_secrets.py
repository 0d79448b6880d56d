"""Table-driven tests of the secrets pack (entity type SECRET)."""

from __future__ import annotations

import pytest

from redactor import Redactor

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n-----END RSA PRIVATE KEY-----"

CASES: list[tuple[str, list[str]]] = [
    ("key AKIAIOSFODNN7EXAMPLE in the log", ["AKIAIOSFODNN7EXAMPLE"]),
    (f"aws_secret_access_key = {AWS_SECRET}", [AWS_SECRET]),
    (f"a random 40-char string {AWS_SECRET} without context", []),
    (f"token {GH} pasted", [GH]),
    ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx ok",
     ["xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"]),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"]),
    ("google AIzaSyA-1234567890abcdefghijklmnopqrstu", ["AIzaSyA-1234567890abcdefghijklmnopqrstu"]),
    (f"Authorization: Bearer {JWT}", [JWT]),
    (f"cookie={JWT};", [JWT]),
    (f"key:\n{PEM}\nthanks", [PEM]),
    ("my password: hunter2!! and pwd=Sup3r$ecret", ["hunter2!!", "Sup3r$ecret"]),
    ("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==", ["dXNlcjpwYXNzd29yZDEyMw=="]),
    ("reset your password: click the link; passwords must be long", []),
    ("the token expired, bearer of bad news, AKIA is a prefix", []),
]


@pytest.fixture(scope="module")
def secrets() -> Redactor:
    return Redactor({"packs": ["secrets"], "entities": {"SECRET": {}}}, model=None)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:30] for c in CASES])
def test_secret_recognizers(secrets: Redactor, text: str, expected: list[str]) -> None:
    assert [text[f.start:f.end] for f in secrets.analyze(text)] == expected


def test_secrets_are_replaced_in_default_policy() -> None:
    from redactor import redact

    assert redact("use AKIAIOSFODNN7EXAMPLE please") == "use <SECRET> please"
