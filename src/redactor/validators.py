"""Checksum and format validators, looked up by name from recognizer packs.

A validator takes the matched value (``str``) and returns ``True`` when the value passes
its checksum or format rules, ``False`` when it fails them (the candidate is dropped) and
``None`` when it cannot tell. It must depend on the value alone: one text asks each
validator once per distinct value (recognizers share the verdicts). Most are thin wrappers of python-stdnum; any python-stdnum
module is available as ``stdnum:<module>`` (e.g. ``stdnum:us.rtn``, ``stdnum:es.dni``),
which calls that module's ``is_valid``.
"""

from __future__ import annotations

import importlib
import ipaddress
from typing import Callable

import regex
from stdnum import iban as _iban
from stdnum import luhn as _luhn

from .errors import RecognizerError
from .registry import Registry

__all__ = ["Validator", "VALIDATORS", "get_validator"]

Validator = Callable[[str], "bool | None"]

VALIDATORS: Registry[Validator] = Registry("validator", RecognizerError)

_NON_DIGITS = regex.compile(r"\D+")


def _digits(value: str) -> str:
    return _NON_DIGITS.sub("", value)


# Issuer identification number ranges (ISO/IEC 7812-1), as (first, last, lengths),
# compared on a prefix of the same width as `first`.
_CARD_RANGES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("4", "4", (13, 16, 19)),                      # Visa
    ("51", "55", (16,)),                           # Mastercard
    ("2221", "2720", (16,)),                       # Mastercard 2-series
    ("34", "34", (15,)), ("37", "37", (15,)),      # American Express
    ("6011", "6011", (16, 17, 18, 19)),            # Discover
    ("644", "649", (16, 17, 18, 19)),              # Discover
    ("65", "65", (16, 17, 18, 19)),                # Discover / RuPay
    ("622126", "622925", (16, 17, 18, 19)),        # Discover co-branded UnionPay
    ("62", "62", (16, 17, 18, 19)),                # UnionPay
    ("81", "82", (16,)),                           # UnionPay / RuPay
    ("3528", "3589", (16, 17, 18, 19)),            # JCB
    ("300", "305", (14, 15, 16, 17, 18, 19)),      # Diners Club
    ("36", "36", (14, 15, 16, 17, 18, 19)),        # Diners Club
    ("38", "39", (16, 17, 18, 19)),                # Diners Club
    ("2200", "2204", (16, 17, 18, 19)),            # Mir
    ("50", "50", (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
    ("56", "69", (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro and others
    ("60", "60", (16,)),                           # RuPay
    ("508", "508", (16,)),                         # RuPay
    ("1", "1", (15,)),                             # UATP
    ("9792", "9792", (16,)),                       # Troy
)


def card_brand_ok(number: str) -> bool:
    """True when ``number`` (digits only) falls in a known issuer range with a valid length."""
    n = len(number)
    for first, last, lengths in _CARD_RANGES:
        if n in lengths and first <= number[: len(first)] <= last:
            return True
    return False


@VALIDATORS.register("credit_card")
def credit_card(value: str) -> bool:
    """Payment card number: 12-19 digits, a known IIN range and the Luhn check (ISO/IEC 7812-1)."""
    number = _digits(value)
    return 12 <= len(number) <= 19 and card_brand_ok(number) and _luhn.is_valid(number)


@VALIDATORS.register("luhn")
def luhn(value: str) -> bool:
    """Luhn mod-10 check digit (ISO/IEC 7812-1 Annex B) over the digits of ``value``."""
    number = _digits(value)
    return len(number) > 1 and _luhn.is_valid(number)


@VALIDATORS.register("iban")
def iban(value: str) -> bool:
    """IBAN: country length and ISO 7064 mod-97-10 check (ISO 13616), via python-stdnum."""
    return bool(_iban.is_valid(value))


@VALIDATORS.register("us_ssn")
def us_ssn(value: str) -> bool:
    """US Social Security number area/group/serial rules (SSA, after the 2011 randomisation).

    Area 000, 666 and 900-999, group 00 and serial 0000 are never issued. Unlike
    python-stdnum this keeps the publicised example numbers (078-05-1120, 219-09-9999):
    they are still SSN-shaped data an agent must not see.
    """
    number = _digits(value)
    if len(number) != 9:
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    if area in ("000", "666") or area >= "900":
        return False
    if group == "00" or serial == "0000":
        return False
    # A run of one digit (111-11-1111) is a placeholder, not a number.
    return len(set(number)) > 1


@VALIDATORS.register("ip_address")
def ip_address(value: str) -> bool:
    """IPv4 or IPv6 address (RFC 791 / RFC 4291 text forms), via :mod:`ipaddress`."""
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


@VALIDATORS.register("email")
def email(value: str) -> bool:
    """Email address shape (RFC 5321 mailbox): one @, a dotted domain, an alphabetic TLD."""
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or ".." in domain:
        return False
    tld = domain.rsplit(".", 1)[1]
    return 2 <= len(tld) <= 24 and tld.isalpha()


@VALIDATORS.register("password_like")
def password_like(value: str) -> bool:
    """Looks like a credential rather than prose after "password:": it has a digit, a symbol
    or mixed case, or it is a word that is rare in English (Zipf < 3, ``wordfreq``)."""
    if any(c.isdigit() for c in value) or not value.isalnum() or (
            not value.islower() and not value.isupper() and not value.istitle()):
        return True
    from wordfreq import zipf_frequency

    return bool(zipf_frequency(value, "en") < 3.0)


def _stdnum_validator(module_name: str) -> Validator:
    try:
        module = importlib.import_module(f"stdnum.{module_name}")
    except ImportError:
        raise RecognizerError(f"unknown validator 'stdnum:{module_name}': "
                              f"python-stdnum has no module '{module_name}'") from None
    is_valid = getattr(module, "is_valid", None)
    if is_valid is None:
        raise RecognizerError(f"validator 'stdnum:{module_name}': module has no is_valid()")

    def validate(value: str) -> bool:
        return bool(is_valid(value))

    validate.__doc__ = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None
    return validate


def get_validator(name: str) -> Validator:
    """Return the validator called ``name``; raises :class:`RecognizerError` if unknown."""
    if name.startswith("stdnum:"):
        return _stdnum_validator(name.removeprefix("stdnum:"))
    return VALIDATORS.get(name)
