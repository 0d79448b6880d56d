"""Adversarial texts for the regular-expression time limits (tests and benchmarks).

Each input is one repeated unit aimed at a backtracking weak spot of the shipped patterns:
long runs of digits, separators, ``@`` and dots, and mixes that almost make an e-mail
address, a phone number, a card, an IBAN, a URL, a JWT or a PEM block, but never quite do.
"""

from __future__ import annotations

__all__ = ["UNITS", "adversarial"]

# name -> repeated unit
UNITS: dict[str, str] = {
    "digits": "1",
    "digits_space": "1 ",
    "digits_dash": "1-",
    "digits_dot": "1.",
    "digit_groups": "1234 ",
    "digit_groups_dash": "1234-",
    "at_signs": "@",
    "dots": ".",
    "dashes": "-",
    "spaces": " ",
    "email_mix": "a.a.a.a@",
    "email_near": "a@b.",
    "email_dash": "a-@a-.",
    "phone_open": "+1 (",
    "phone_parens": "(1) ",
    "phone_ext": "1 x1 ",
    "plus_zero": "+00",
    "ipv4_like": "1.1.1.",
    "ipv6_like": "1:",
    "colons": "::a",
    "iban_like": "DE89 ",
    "upper_digits": "A1",
    "words_title": "Aa ",
    "street_like": "1 Aa Aa ",
    "street_comma": "12 Aa, ",
    "title_names": "Dr. Aa ",
    "letters": "a",
    "url_like": "http://a",
    "www_like": "www.",
    "jwt_like": "eyJaaaaaaaa.",
    "pem_open": "-----BEGIN PRIVATE KEY-----",
    "password_label": "password: ",
    "sk_dash": "sk-a-",
    "dates": "1/1/",
    "unicode_mix": "\u00e91\u200b-",
}


def adversarial(name: str, size: int = 1_000_000) -> str:
    """``UNITS[name]`` repeated to exactly ``size`` characters."""
    unit = UNITS[name]
    return (unit * (size // len(unit) + 1))[:size]
