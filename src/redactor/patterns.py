"""Pattern recognizers: regular expressions with a validator hook and context words.

Declared in packs as ``kind: pattern`` (the default)::

    - name: us_ssn
      entity_type: US_SSN
      patterns:
        - {name: ssn_dashed, regex: '(?<!\\d)\\d{3}-\\d{2}-\\d{4}(?!\\d)', score: 0.5}
      # a pattern's ``within: "@"`` scans only the whitespace-free runs holding an "@"
      # (every match must hold one and no whitespace): a long text is not scanned whole;
      # ``digit_run: true`` scans only the runs of digits, spaces, dots and dashes
      validator: us_ssn          # drop candidates that fail area/group/serial rules
      valid_score: 0.85          # score of a candidate the validator accepts
      context: [ssn, social security]
      requires_context: false    # true: drop candidates with no context word nearby
      requires_any: "-"          # skip the pattern unless one of these characters occurs
      requires_words: [ssn]      # ... or unless one of these occurs in the lower-cased text

Both prefilters are plain substring tests (``str.__contains__``, no regex), so a recognizer
whose anchor is absent costs about a microsecond. They must be *necessary* conditions of a
match: every match of every pattern contains one of the characters / lower-cased words.

Patterns are compiled once with the ``regex`` module; every search runs under the text's
:class:`~redactor.recognizer.Deadline` (a per-search timeout and a budget for the whole text).
A named group ``value`` narrows the finding to that group (``password: (?P<value>\\S+)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import RecognizerError
from .findings import Finding
from .recognizer import KINDS, Context, ScanText, boost
from .validators import Validator, get_validator

__all__ = ["PatternRecognizer", "PatternSpec", "PatternRecognizerSpec"]

_FLAGS = {"IGNORECASE": regex.IGNORECASE, "MULTILINE": regex.MULTILINE,
          "DOTALL": regex.DOTALL, "VERBOSE": regex.VERBOSE}


class PatternSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    regex: str
    score: float = Field(ge=0.0, le=1.0)
    # Scan only the whitespace-free runs of the text holding one of these characters: valid
    # when every match holds one of them and no whitespace (e-mail addresses, IPv6).
    within: str | None = Field(None, min_length=1)
    # A cheap regex whose first match, moved back ``anchor_lead`` characters, is at or before
    # the start of every match: no anchor, no scan; else the scan starts there (a rare
    # digit-first anchor spares a scan that would try every lowercase letter).
    anchor: str | None = Field(None, min_length=1)
    anchor_lead: int = Field(0, ge=0)
    # Every match starts and ends with a digit and holds only digits, spaces, dots and dashes
    # (lookarounds may look further): only the runs of such characters holding the
    # recognizer's ``min_digits`` are scanned (payment cards, SSNs in a long ticket).
    digit_run: bool = False

    @model_validator(mode="after")
    def _one_prefilter(self) -> PatternSpec:
        if self.digit_run and (self.within is not None or self.anchor is not None):
            raise ValueError("digit_run already limits the scan: drop 'within' and 'anchor'")
        return self


class PatternRecognizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["pattern"] = "pattern"
    entity_type: str
    patterns: list[PatternSpec] = Field(min_length=1)
    validator: str | None = None
    valid_score: float = Field(1.0, ge=0.0, le=1.0)
    context: list[str] = []
    context_before: int = Field(5, ge=0)
    context_after: int = Field(2, ge=0)
    requires_context: bool = False
    requires_any: str | None = None
    requires_words: list[str] = []
    min_digits: int = Field(0, ge=0)
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE"]] = []
    description: str | None = None


@dataclass(frozen=True, slots=True)
class _Compiled:
    name: str
    pattern: Any
    score: float
    has_value_group: bool
    within: str | None
    anchor: Any
    anchor_lead: int
    digit_run: bool


class PatternRecognizer:
    """Regex candidates, checked by a validator, scored up by context words."""

    def __init__(self, spec: PatternRecognizerSpec, source: str = "<pack>") -> None:
        self.name = spec.name
        self.entity_type = spec.entity_type
        self.entity_types = frozenset([spec.entity_type])
        flags = 0
        for flag in spec.flags:
            flags |= _FLAGS[flag]
        self._patterns = tuple(self._compile(p, flags, source) for p in spec.patterns)
        self._validator: Validator | None = (
            None if spec.validator is None else _resolve_validator(spec, source))
        self._valid_score = spec.valid_score
        self._context = Context.build(spec.context, spec.context_before, spec.context_after)
        self._requires_context = spec.requires_context
        if spec.requires_context and self._context is None:
            raise RecognizerError("requires_context is true but no context words are given",
                                  source=source, recognizer=spec.name)
        self._requires_any = spec.requires_any
        self._requires_words = tuple(w.lower() for w in spec.requires_words)
        self._min_digits = spec.min_digits

    def _compile(self, p: PatternSpec, flags: int, source: str) -> _Compiled:
        try:
            compiled = regex.compile(p.regex, flags)
            anchor = None if p.anchor is None else _anchor(p.anchor, flags)
        except regex.error as exc:
            raise RecognizerError(f"pattern '{p.name}' does not compile: {exc}",
                                  source=source, recognizer=self.name) from None
        return _Compiled(p.name, compiled, p.score, "value" in compiled.groupindex, p.within,
                         anchor, p.anchor_lead, p.digit_run)

    def find(self, scan: ScanText) -> list[Finding]:
        text = scan.text
        if self._requires_any is not None and not any(c in text for c in self._requires_any):
            return []
        if self._min_digits and scan.digit_count < self._min_digits:
            return []
        if self._requires_words and not any(w in scan.lower for w in self._requires_words):
            return []
        if self._requires_context and not self._context.anywhere(scan.lower):  # type: ignore[union-attr]
            return []
        found: list[Finding] = []
        deadline = scan.deadline
        for p in self._patterns:
            # Validators and context checks run between matches: the budget covers them too.
            try:
                spans = [(0, len(text))] if p.within is None else _runs(text, p.within)
                if p.digit_run:
                    spans = scan.digit_runs(self._min_digits, self.name)
                elif p.anchor is not None:  # patterns with the same anchor share one search
                    hit = scan.first(p.anchor, deadline.remaining(self.name))
                    spans = [] if hit < 0 else [(max(0, hit - p.anchor_lead), len(text))]
                for lo, hi in spans:
                    for m in p.pattern.finditer(text, lo, hi, timeout=deadline.remaining(self.name),
                                                overlapped=False):
                        f = self._candidate(scan, m, p)
                        if f is not None:
                            found.append(f)
                        deadline.check(self.name)
            except TimeoutError:
                raise deadline.expired(self.name) from None
        return found

    def _candidate(self, scan: ScanText, m: Any, p: _Compiled) -> Finding | None:
        text = scan.text
        start, end = m.span("value") if p.has_value_group else m.span()
        if start < 0 or start >= end:
            return None
        score, validated, why = p.score, False, p.name
        if self._validator is not None:
            verdict = scan.validate(self._validator, text[start:end])
            if verdict is False:
                return None
            if verdict:
                score, validated, why = max(score, self._valid_score), True, f"{p.name}+validated"
        if self._context is not None:
            if self._context.seen(text, start, end):
                score, why = boost(score), f"{why}+context"
            elif self._requires_context:
                return None
        return Finding(self.entity_type, start, end, score, self.name, validated, why)


@lru_cache(maxsize=None)
def _anchor(source: str, flags: int) -> Any:
    """One compiled object per anchor, so a text searches each anchor once (ScanText.first)."""
    return regex.compile(source, flags)


_RUN_END = regex.compile(r"\S*")
_RUN_START = regex.compile(r"\S*", regex.REVERSE)


def _runs(text: str, anchors: str) -> list[tuple[int, int]]:
    """The maximal whitespace-free runs of ``text`` holding one of ``anchors``, in order.

    For a pattern with ``within`` a match holds no whitespace and one anchor, so it lies in one
    such run: scanning only the runs finds the same matches as scanning the whole text
    (lookarounds at a run's edge see whitespace or the text's edge, alike for them).
    """
    hits = sorted(i for a in anchors for i in _positions(text, a))
    runs: list[tuple[int, int]] = []
    for i in hits:
        if runs and i < runs[-1][1]:
            continue
        back, ahead = _RUN_START.match(text, 0, i), _RUN_END.match(text, i)  # \S* always matches
        runs.append((back.start() if back else i, ahead.end() if ahead else i + 1))
    return runs


def _positions(text: str, char: str) -> list[int]:
    out, i = [], text.find(char)
    while i >= 0:
        out.append(i)
        i = text.find(char, i + 1)
    return out


def _resolve_validator(spec: PatternRecognizerSpec, source: str) -> Validator:
    assert spec.validator is not None
    try:
        return get_validator(spec.validator)
    except RecognizerError as exc:
        raise RecognizerError(exc.detail, source=source, recognizer=spec.name) from None


@KINDS.register("pattern")
def build_pattern(entry: dict[str, Any], source: Path) -> PatternRecognizer:
    from .packs import parse_spec

    return PatternRecognizer(parse_spec(PatternRecognizerSpec, entry, source), str(source))
