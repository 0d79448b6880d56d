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
other regions it is at most *possible*. A valid number is marked *validated* (it wins
overlaps, e.g. against a street address) only when it is phone-shaped (``+``, parentheses,
two dashes or dots) or next to a context word.

A run that is a valid payment card in its printed groups (4-4-4-4, 4-6-5, 4-4-4-4-3; Luhn
and issuer range, ISO/IEC 7812-1) is left to the card recognizer: it is not split into
phone numbers, also when only PHONE_NUMBER is asked for.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import phonenumbers
import regex
from pydantic import BaseModel, ConfigDict, Field

from .findings import Finding
from .recognizer import KINDS, Context, Deadline, ScanText, boost
from .validators import credit_card

__all__ = ["PhoneRecognizer", "PhoneRecognizerSpec"]

# A run of phone characters; the numbers inside are found by _decompose.
_CANDIDATE = regex.compile(
    r"""
    (?=[\d(+])                                  # first: lets the engine skip to a start quickly
    (?<![\d+/]|[\d:]:)                          # not inside a longer number or an IPv6 address
    (?:(?:\+|00)(?=\d))?                        # international prefix
    [\d(][\d().\- \t]*\d                         # digits, separators, (area)
    (?:[ \t]?(?i:x|ext\.?|extension)[ \t]?\d{1,6})?  # extension
    (?!\d|:\w|\.\d)                              # not part of an IP address or a time
    """,
    regex.VERBOSE,
)
_MAX_PIECES = 6  # a phone number has at most this many space-separated groups
_EXTENSION = regex.compile(r"[A-Za-z]")
_DIGIT = regex.compile(r"\d")
# Dates and times share the shape of short phone numbers; they are never phones.
_DATE_LIKE = regex.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|(?:19|20)\d\d-(?:0[1-9]|1[0-2]))")
_TIME_AFTER = regex.compile(r"[T ]?\d{1,2}:\d{2}")
_SSN_SHAPE = regex.compile(r"\d{3}-\d{2}-\d{4}")
# IP addresses and version numbers; five dotted pairs ("01.84.17.61.18") are a French phone.
_DOTTED_QUAD = regex.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)")
_PIECE = regex.compile(r"\S+")
# A payment card written in its printed groups (4-4-4-4, Amex 4-6-5, 4-4-4-4-3): when such a
# run is also a valid card number it is the card recognizer's, not a row of phone pieces.
_CARD_GROUPS = regex.compile(r"\d{4}([ -])(?:\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{6}\1\d{5})")
_MEMO_SIZE = 4096
_UNSEEN = object()


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
        for region in self._regions:  # compile the numbering plans now, not inside a timed pass
            _plan(region)
        # phonenumbers compiles its metadata patterns with re.compile at every check; for 32
        # regions they overflow re's 512-entry cache and are compiled again and again (about
        # 10% of the pattern pass on long texts). Its own cache keeps them (phonenumbers >= 9).
        enable = getattr(phonenumbers, "enable_pattern_cache", None)
        if enable is not None:
            enable()
        # Verdicts of recent candidates: a ticket repeats its customer's number in every
        # comment, and parsing is ~70 us per region. Keyed by a keyed BLAKE2b digest so the
        # memo holds no phone number in clear.
        self._memo: dict[bytes, int | None] = {}
        self._memo_key = os.urandom(32)
        self._memo_lock = threading.Lock()

    def find(self, scan: ScanText) -> list[Finding]:
        if scan.digit_count < self._min_digits:
            return []
        text = scan.text
        found: list[Finding] = []
        deadline = scan.deadline
        for m in deadline.finditer(_CANDIDATE, text, self.name):
            deadline.check(self.name)
            # Fewer digits than any number has: no piece of the run can rank (see _rank).
            lo, hi = m.span()
            if hi - lo < self._min_digits or _digit_count(text[lo:hi]) < self._min_digits:
                continue
            if _CARD_GROUPS.fullmatch(text, lo, hi) and scan.validate(credit_card, m.group()):
                continue
            for start, end, verdict in self._decompose(text, lo, hi, deadline):
                score, why = (self._valid_score, "valid") if verdict else (self._score, "possible")
                context = self._context is not None and self._context.seen(text, start, end)
                if context:
                    score, why = boost(score), f"{why}+context"
                found.append(Finding(self.entity_type, start, end, score, self.name,
                                     verdict and (context or _phone_shaped(text[start:end])), why))
        return found

    def _decompose(self, text: str, start: int, end: int, deadline: Deadline) -> list[tuple[int, int, bool]]:
        """Phone numbers inside one candidate span, longest first from the left.

        A candidate is a whole run of phone characters (``212-555-0143 078-05-1120``
        arrives as one span), so runs of up to six space-separated pieces are tried,
        longest first, and a number next to another number is still found. One run can be
        a whole text of digit groups, so the budget is checked as pieces are tried.
        """
        pieces = [m.span() for m in _PIECE.finditer(text, start, end)]
        if len(pieces) == 1:  # the common case: the passes below would rank it once
            (lo, hi), = pieces
            r = self._rank(text, lo, hi)
            return [] if r is None else [(lo, hi, r > _POSSIBLE)]
        ranks: dict[tuple[int, int], int | None] = {}
        # Only a span written with +/00 can rank _INTERNATIONAL, and such a span never ranks
        # _HOME or _FOREIGN (see _check): spans that cannot reach the rank a pass wants are not
        # parsed in that pass, so a span inside a number found earlier is often never parsed.
        plus = [text.startswith(("+", "00"), s) for s, _ in pieces]

        def rank(i: int, j: int) -> int | None:
            if (i, j) not in ranks:
                ranks[(i, j)] = self._rank(text, pieces[i][0], pieces[j - 1][1])
            return ranks[(i, j)]

        def can(i: int, wanted: int) -> bool:
            return wanted == _POSSIBLE or plus[i] == (wanted == _INTERNATIONAL)

        def greedy(lo: int, hi: int, wanted: int) -> list[tuple[int, int]]:
            taken, i = [], lo
            while i < hi:
                deadline.check(self.name)
                j = None if not can(i, wanted) else next(
                    (j for j in range(min(hi, i + _MAX_PIECES), i, -1) if rank(i, j) == wanted), None)
                if j is None:
                    i += 1
                else:
                    taken.append((i, j))
                    i = j
            return taken

        # Strongest evidence first, anywhere in the run; weaker kinds only in the gaps left.
        chosen: list[tuple[int, int, int]] = []
        for wanted in (_INTERNATIONAL, _HOME, _FOREIGN, _POSSIBLE):
            taken = sorted(chosen)
            gaps, lo = [], 0
            for i, j, _ in taken:
                gaps.append((lo, i))
                lo = j
            gaps.append((lo, len(pieces)))
            for lo, hi in gaps:
                chosen.extend((i, j, wanted) for i, j in greedy(lo, hi, wanted))
        return sorted((pieces[i][0], pieces[j - 1][1], r > _POSSIBLE) for i, j, r in chosen)

    def _rank(self, text: str, start: int, end: int) -> int | None:
        candidate = text[start:end]
        if not self._min_digits <= _digit_count(candidate) <= self._max_digits:
            return None
        if (_DATE_LIKE.fullmatch(candidate) or _SSN_SHAPE.fullmatch(candidate)
                or _DOTTED_QUAD.search(candidate) or _TIME_AFTER.match(text, end, end + 8)):
            return None
        return self._memo_check(candidate)

    def __getstate__(self) -> dict[str, Any]:
        # Picklable (extra_recognizers go to worker processes): the memo and its lock stay.
        state = dict(self.__dict__)
        for name in ("_memo", "_memo_key", "_memo_lock"):
            state.pop(name)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._memo, self._memo_key, self._memo_lock = {}, os.urandom(32), threading.Lock()

    def _memo_check(self, candidate: str) -> int | None:
        key = hashlib.blake2b(candidate.encode("utf-8", "surrogatepass"), key=self._memo_key,
                              digest_size=16).digest()
        memo = self._memo
        verdict = memo.get(key, _UNSEEN)
        if verdict is not _UNSEEN:
            return verdict  # type: ignore[return-value]
        verdict = self._check(candidate)
        with self._memo_lock:
            if len(memo) >= _MEMO_SIZE:  # oldest first: dicts keep insertion order
                del memo[next(iter(memo))]
            memo[key] = verdict
        return verdict

    def _check(self, candidate: str) -> int | None:
        """How strongly ``candidate`` is a phone number (see the _INTERNATIONAL.. ranks)."""
        if candidate.startswith(("+", "00")):
            raw = "+" + candidate[2:] if candidate.startswith("00") else candidate
            return _verdict(_parse(raw, None), _INTERNATIONAL)
        # Only regions whose numbering plan can hold these digits are parsed (parsing is
        # the costly part), each at most once, and for validity only where the digits have
        # the shape of some number type of the region (a parse that could not be valid).
        plausible = _plausible_regions(candidate, self._regions)
        parsed: dict[str, Any] = {}

        def number(region: str) -> Any:
            if region not in parsed:
                parsed[region] = _parse(candidate, region)
            return parsed[region]

        if any(plausible[r] and _is_valid(number(r)) for r in self._home if r in plausible):
            return _HOME
        # A bare run of digits is more often an id or a timestamp than a foreign number.
        if not candidate.isdigit() and any(v and _is_valid(number(r)) for r, v in plausible.items()):
            return _FOREIGN
        return _POSSIBLE if any(_is_possible(number(r)) for r in plausible) else None


def _digit_count(s: str) -> int:
    """Characters of ``s`` that ``\\d`` matches (ten C-level counts for ASCII text)."""
    if s.isascii():
        return sum(map(s.count, "0123456789"))
    return len(_DIGIT.findall(s))


def _phone_shaped(candidate: str) -> bool:
    """Punctuation only phone numbers have: ``+44 ...``, ``(212) ...``, ``212-555-0143``.

    A number valid for some region but written without these ("19607 107", a house and a
    street number) wins overlaps as *validated* only next to a phone context word.
    """
    return (candidate.startswith(("+", "00")) or "(" in candidate
            or candidate.count("-") >= 2 or candidate.count(".") >= 2)


# Evidence that a candidate is a phone number, strongest first.
_INTERNATIONAL, _HOME, _FOREIGN, _POSSIBLE = 3, 2, 1, 0


@lru_cache(maxsize=None)
def _plan(region: str) -> tuple[frozenset[int], Any, Any]:
    """A region's possible national-number lengths, number pattern and trunk prefix."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return frozenset(), None, None
    prefix = meta.national_prefix_for_parsing
    return (frozenset(meta.general_desc.possible_length or ()),
            regex.compile(meta.general_desc.national_number_pattern),
            regex.compile(prefix) if prefix else None)


def _plausible_regions(candidate: str, regions: tuple[str, ...]) -> dict[str, bool]:
    """The regions for which ``parse(candidate, region)`` can possibly succeed, in order,
    each with whether the parsed number can be *valid* there.

    Cheap necessary conditions, from libphonenumber metadata: the digits, with or without
    the region's trunk prefix, have one of the region's possible lengths and match its
    general number pattern; to be valid they must also match the pattern of one number type
    (fixed line, mobile, toll free, ...) of a region with the same calling code. Candidates
    with an extension, or that may be rewritten when parsed (an international dialling
    prefix, a prefix transform rule), are parsed for every region.
    """
    if _EXTENSION.search(candidate):
        return dict.fromkeys(regions, True)
    digits = "".join(_DIGIT.findall(candidate))
    plans = _plans(regions)
    forms: dict[str, list[str]] = {}
    for region, pattern in plans.by_length.get(len(digits), ()):
        if pattern.fullmatch(digits) is not None:
            forms[region] = [digits]
    for prefix, members in plans.by_prefix:  # each distinct trunk prefix is tried once
        m = prefix.match(digits)
        if m is None or m.end() == 0:
            continue
        rest = digits[m.end():]
        for region, lengths, pattern in members:
            if len(rest) in lengths and pattern.fullmatch(rest) is not None:
                forms.setdefault(region, []).append(rest)
    fits: dict[str, bool] = {}
    for region in regions:  # in the caller's order
        if region in plans.unknown:
            fits[region] = True
        elif region in forms:
            valid, idd = plans.valid[region]
            fits[region] = (valid is None or (idd is not None and idd.match(digits) is not None)
                            or any(valid.fullmatch(f) is not None for f in forms[region]))
    return fits


# The number types is_valid_number() accepts (phonenumberutil._number_type_helper).
_NUMBER_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
                 "personal_number", "voip", "pager", "uan", "voicemail")


@lru_cache(maxsize=None)
def _valid_shapes(region: str) -> tuple[Any, Any]:
    """One regex of the national numbers of every type of every region sharing ``region``'s
    calling code (``is_valid_number`` accepts a number valid for any of them), and the
    region's international dialling prefix (a number after it is parsed as international).
    ``(None, None)`` when parsing may rewrite the digits (a prefix transform rule)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.national_prefix_transform_rule or meta.country_code is None:
        return None, None  # (parsing applies only the parsing region's own transform rule)
    shapes: list[str] = []
    for other in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, (region,)):
        m = phonenumbers.PhoneMetadata.metadata_for_region(other)
        if m is None:
            return None, None
        shapes.extend(d.national_number_pattern for d in (getattr(m, t) for t in _NUMBER_TYPES)
                      if d is not None and d.national_number_pattern)
    if not shapes:
        return None, None
    idd = regex.compile(meta.international_prefix) if meta.international_prefix else None
    return regex.compile("|".join(f"(?:{s})" for s in shapes)), idd


@dataclass(frozen=True)
class _Plans:
    """The numbering plans of a tuple of regions, indexed for :func:`_plausible_regions`."""

    by_length: dict[int, list[tuple[str, Any]]]  # national length -> (region, pattern)
    by_prefix: list[tuple[Any, list[tuple[str, frozenset[int], Any]]]]  # trunk prefix -> regions
    unknown: frozenset[str]  # regions without metadata: always parsed
    valid: dict[str, tuple[Any, Any]]  # region -> _valid_shapes(region)


@lru_cache(maxsize=None)
def _plans(regions: tuple[str, ...]) -> _Plans:
    by_length: dict[int, list[tuple[str, Any]]] = {}
    by_prefix: dict[str, tuple[Any, list[tuple[str, frozenset[int], Any]]]] = {}
    unknown = set()
    for region in regions:
        lengths, pattern, prefix = _plan(region)
        if pattern is None:
            unknown.add(region)
            continue
        for n in lengths:
            by_length.setdefault(n, []).append((region, pattern))
        if prefix is not None:
            by_prefix.setdefault(prefix.pattern, (prefix, []))[1].append((region, lengths, pattern))
    return _Plans(by_length, list(by_prefix.values()), frozenset(unknown),
                  {region: _valid_shapes(region) for region in regions})


def _parse(candidate: str, region: str | None) -> Any:
    try:
        return phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None


def _is_valid(number: Any) -> bool:
    return number is not None and bool(phonenumbers.is_valid_number(number))


def _is_possible(number: Any) -> bool:
    return number is not None and bool(phonenumbers.is_possible_number(number))


def _verdict(number: Any, valid_rank: int) -> int | None:
    if _is_valid(number):
        return valid_rank
    return _POSSIBLE if _is_possible(number) else None


@KINDS.register("phone")
def build_phone(entry: dict[str, Any], source: Path) -> PhoneRecognizer:
    from .packs import parse_spec

    return PhoneRecognizer(parse_spec(PhoneRecognizerSpec, entry, source))
