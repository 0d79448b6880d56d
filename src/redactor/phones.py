"""Phone numbers: phone-shaped candidates checked against libphonenumber metadata.

Declared in packs as ``kind: phone``::

    - name: phone
      kind: phone
      entity_type: PHONE_NUMBER
      regions: [US, GB, DE]      # tried in order for numbers without a +country prefix
      score: 0.4                 # candidate that is only *possible* for some region
      valid_score: 0.75          # candidate that is_valid_number() for some region
      context: [phone, tel, call]

A candidate is 7-15 digits with the usual separators, an optional ``+``/``00`` country
prefix, parentheses and an extension. It is parsed with the ``phonenumbers`` package
(Google's libphonenumber metadata): valid for a region gives ``valid_score``, merely
possible gives ``score`` (which usually needs context to pass a threshold).

A bare run of digits (no ``+``, separator or parenthesis) is much more often an id or a
timestamp than a phone number, so it counts as valid only for ``home_regions``; for the
other regions it is at most *possible*.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import phonenumbers
import regex
from pydantic import BaseModel, ConfigDict, Field

from .errors import DetectionTimeout
from .findings import Finding
from .recognizer import KINDS, Context, ScanText, boost

__all__ = ["PhoneRecognizer", "PhoneRecognizerSpec"]

_CANDIDATE = regex.compile(
    r"""
    (?<![\d+/])                              # not inside a longer number
    (?:(?:\+|00)\d{1,3}[\s.\-]?)?            # country code
    (?:\(\s?\d{1,5}\s?\)[\s.\-]?|\(0\)[\s.\-]?)?   # (area) or the (0) trunk hint
    \d{1,15}(?:[\s.\-]{1,2}\d{1,10}){0,5}    # digit groups
    (?:\s?(?:x|ext\.?|extension)\s?\d{1,6})? # extension
    (?![\d])
    """,
    regex.VERBOSE | regex.IGNORECASE,
)
_DIGIT = regex.compile(r"\d")
# Dates and times share the shape of short phone numbers; they are never phones.
_DATE_LIKE = regex.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|(?:19|20)\d\d-(?:0[1-9]|1[0-2]))")
_TIME_AFTER = regex.compile(r"[T ]?\d{1,2}:\d{2}")


class PhoneRecognizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["phone"]
    entity_type: str = "PHONE_NUMBER"
    regions: list[str] = Field(min_length=1)
    home_regions: list[str] = ["US"]
    score: float = Field(0.4, ge=0.0, le=1.0)
    valid_score: float = Field(0.75, ge=0.0, le=1.0)
    context: list[str] = []
    min_digits: int = Field(7, ge=5)
    max_digits: int = Field(15, le=17)
    description: str | None = None


class PhoneRecognizer:
    """Phone numbers validated with the phonenumbers package."""

    def __init__(self, spec: PhoneRecognizerSpec) -> None:
        self.name = spec.name
        self.entity_type = spec.entity_type
        self.entity_types = frozenset([spec.entity_type])
        self._regions = tuple(r.upper() for r in spec.regions)
        self._home = tuple(r.upper() for r in spec.home_regions)
        self._score = spec.score
        self._valid_score = spec.valid_score
        self._context = Context.build(spec.context)
        self._min_digits = spec.min_digits
        self._max_digits = spec.max_digits

    def find(self, scan: ScanText) -> list[Finding]:
        if scan.digit_count < self._min_digits:
            return []
        text = scan.text
        found: list[Finding] = []
        try:
            matches = list(_CANDIDATE.finditer(text, timeout=scan.deadline.remaining(self.name)))
        except TimeoutError:
            raise DetectionTimeout(self.name, scan.deadline.limit_s or 0.0) from None
        for m in matches:
            start, end = m.span()
            candidate = m.group()
            if _DATE_LIKE.fullmatch(candidate) or _TIME_AFTER.match(text, end):
                continue
            n_digits = len(_DIGIT.findall(candidate))
            if not self._min_digits <= n_digits <= self._max_digits:
                continue
            verdict = self._check(candidate)
            if verdict is None:
                continue
            score, why = (self._valid_score, "valid") if verdict else (self._score, "possible")
            if self._context is not None and self._context.seen(text, start, end):
                score, why = boost(score), f"{why}+context"
            found.append(Finding(self.entity_type, start, end, score, self.name, verdict, why))
        return found

    def _check(self, candidate: str) -> bool | None:
        """True: valid for some region; False: only possible; None: not a phone number."""
        if candidate.startswith(("+", "00")):
            regions: tuple[str | None, ...] = (None,)
        elif candidate.isdigit():
            regions = self._home
        else:
            regions = self._regions
        possible = False
        for region in regions:
            raw = "+" + candidate[2:] if candidate.startswith("00") else candidate
            try:
                number = phonenumbers.parse(raw, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                return True
            possible = possible or phonenumbers.is_possible_number(number)
        if not possible and candidate.isdigit():
            possible = any(_possible(candidate, r) for r in self._regions)
        return False if possible else None


def _possible(candidate: str, region: str) -> bool:
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(candidate, region)))
    except phonenumbers.NumberParseException:
        return False


@KINDS.register("phone")
def build_phone(entry: dict[str, Any], source: Path) -> PhoneRecognizer:
    from .packs import parse_spec

    return PhoneRecognizer(parse_spec(PhoneRecognizerSpec, entry, source))
