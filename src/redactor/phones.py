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
possible gives ``score`` (which usually needs context to pass a threshold). A bare run of
digits (``9498777106``) is a candidate only next to one of ``strong_context`` ("fax", "mobile");
a date or a time (``1992-02-08 20:15``) never is.
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
    \d{1,12}(?:[\s.\-]{1,2}\d{1,10}){0,5}     # digit groups
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


def _is_date(candidate: str) -> bool:
    """A date, or a date and the hour of a time (``1992-02-08 20`` of ``... 20:15:24``)."""
    m = _DATE_LIKE.match(candidate)
    return m is not None and (m.end() == len(candidate) or candidate[m.end()] in " T")


class PhoneRecognizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["phone"]
    entity_type: str = "PHONE_NUMBER"
    regions: list[str] = Field(min_length=1)
    score: float = Field(0.4, ge=0.0, le=1.0)
    valid_score: float = Field(0.75, ge=0.0, le=1.0)
    context: list[str] = []
    strong_context: list[str] = Field([], description="words that make a bare digit run a phone")
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
        self._score = spec.score
        self._valid_score = spec.valid_score
        self._context = Context.build(spec.context)
        self._strong = Context.build(spec.strong_context, 3, 2)
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
            if _is_date(candidate) or _TIME_AFTER.match(text, end) or text.startswith(":", end):
                continue  # dates and times ("1992-02-08 20:15") are never phone numbers
            plain = candidate.isdigit()
            if plain and (self._strong is None or not self._strong.seen(text, start, end)):
                continue  # a bare digit run is a phone number only next to a phone word
            n_digits = len(_DIGIT.findall(candidate))
            if not self._min_digits <= n_digits <= self._max_digits:
                continue
            verdict = self._check(candidate)
            if verdict is None:
                continue
            score, why = (self._valid_score, "valid") if verdict else (self._score, "possible")
            context = self._context is not None and self._context.seen(text, start, end)
            if context:
                score, why = boost(score), f"{why}+context"
            # Valid for one of many regions is weak evidence on its own ("19607 107" is a
            # house number and a street number too): a phone wins overlaps as *validated*
            # only with an international prefix, phone punctuation or a context word.
            strong = verdict and (context or candidate.startswith(("+", "00"))
                                  or "(" in candidate or candidate.count("-") >= 2)
            found.append(Finding(self.entity_type, start, end, score, self.name, strong, why))
        return found

    def _check(self, candidate: str) -> bool | None:
        """True: valid for some region; False: only possible; None: not a phone number."""
        regions: tuple[str | None, ...] = (None,) if candidate.startswith(("+", "00")) else self._regions
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
        return False if possible else None


@KINDS.register("phone")
def build_phone(entry: dict[str, Any], source: Path) -> PhoneRecognizer:
    from .packs import parse_spec

    return PhoneRecognizer(parse_spec(PhoneRecognizerSpec, entry, source))
