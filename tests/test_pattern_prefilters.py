"""Prefilters that skip work must find exactly what a full scan finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from redactor.errors import RecognizerError
from redactor.patterns import PatternRecognizer, PatternRecognizerSpec, _runs
from redactor.recognizer import Context, ScanText

EMAIL = r"(?<![\w.])\w+@\w+\.[a-z]{2,}(?![\w-])"


def _spec(within: bool, requires_any: str | None = "@") -> PatternRecognizerSpec:
    return PatternRecognizerSpec(name="mail", entity_type="EMAIL_ADDRESS", requires_any=requires_any,
                                 within_words=within, patterns=[{"name": "m", "regex": EMAIL, "score": 0.9}])


def test_runs_are_the_whitespace_free_runs_holding_an_anchor() -> None:
    text = "mail a@b.co and x y@z.org, c@d\n e @"
    assert _runs(text, "@") == [(5, 11), (18, 26), (27, 30), (34, 35)]
    assert _runs("no anchor here", "@") == []


def test_within_words_finds_what_a_full_scan_finds() -> None:
    text = "to: ann@example.org,bob@example.net\tand .x@y.com or z@q.io."
    full = PatternRecognizer(_spec(False)).find(ScanText(text))
    runs = PatternRecognizer(_spec(True)).find(ScanText(text))
    assert [(f.start, f.end) for f in runs] == [(f.start, f.end) for f in full] == [(4, 19), (20, 35), (52, 58)]


def test_within_words_needs_requires_any() -> None:
    with pytest.raises(RecognizerError, match="within_words needs requires_any"):
        PatternRecognizer(_spec(True, None), str(Path("pack.yaml")))


def test_context_anywhere_substring_prefilter() -> None:
    ctx = Context.build(["ssn", "social security"])
    assert ctx is not None
    assert ctx.anywhere("my social security number") is True
    assert ctx.anywhere("classn 1") is False  # substring present, not at a word start
    assert ctx.anywhere("nothing relevant") is False
