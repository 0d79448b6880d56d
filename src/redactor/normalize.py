"""A normalised view of text for detection, with a map back to the original offsets.

Text that tries to slip past a recognizer (``jo@\u200bexample.org``, ``219\u201009\u20109999``,
full-width digits) is folded before detection: NFKC per character (Unicode UAX #15),
zero-width and soft-hyphen characters removed, Unicode dashes and minus signs folded to
``-``. Findings on the normalised text are mapped back so they always index the caller's
string.
"""

from __future__ import annotations

import unicodedata

import regex
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

__all__ = ["NormalizedText", "normalize"]

# Invisible characters that split a value without showing: ZWSP, ZWNJ, ZWJ, word joiner,
# BOM / ZWNBSP, soft hyphen, Mongolian vowel separator, invisible separators.
_REMOVE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064")
_NON_ASCII = regex.compile(r"[^\x00-\x7f]+")
# Dashes and minus signs (Unicode category Pd plus U+2212) that stand in for '-'.
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2e3a\u2e3b")
_SPECIAL = tuple(_REMOVE | _DASHES)
_NON_ASCII = regex.compile(r"[^\x00-\x7f]+")


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """``text`` is the normalised string; ``source[i]`` is the original index of ``text[i]``.

    ``source`` is ``None`` when the text needed no change (the common ASCII case), so the
    identity map costs nothing.
    """

    text: str
    source: tuple[int, ...] | None
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of the normalised text to the original text."""
        if self.source is None:
            return start, end
        return self.source[start], self.source[end - 1] + 1


@lru_cache(maxsize=4096)  # a table of single characters, filled as they are met
def _fold(ch: str) -> str:
    if ch in _REMOVE:
        return ""
    if ch in _DASHES:
        return "-"
    return unicodedata.normalize("NFKC", ch)


def normalize(text: str, check: Callable[[], None] | None = None) -> NormalizedText:
    """Return the normalised view of ``text`` (see the module docstring).

    Runs in O(len(text)); ASCII text is returned as is without copying, and in mixed text
    only the runs of non-ASCII characters are folded one by one. ``check`` is called every
    few thousand folded characters (the engine passes its time budget's check, which
    raises :class:`~redactor.errors.DetectionTimeout`).
    """
    if text.isascii():
        return NormalizedText(text, None, len(text))
    # Text already in NFKC has no character whose own NFKC differs (a character changed by
    # NFKC alone is changed in any context), so only removals and dashes remain to check:
    # C-level scans instead of a Python loop per character.
    if unicodedata.is_normalized("NFKC", text) and not any(c in text for c in _SPECIAL):
        return NormalizedText(text, None, len(text))
    pieces: list[str] = []
    source: list[int] = []
    changed = False
    pos = 0
    folded_count = 0  # counted across runs: single-character runs ("a\u0301a\u0301...") too
    for run in _NON_ASCII.finditer(text):
        start, end = run.span()
        if start > pos:  # an ASCII stretch: kept as is
            pieces.append(text[pos:start])
            source.extend(range(pos, start))
        for i in range(start, end):
            folded_count += 1
            if check is not None and folded_count % 4096 == 0:
                check()
            ch = text[i]
            folded = _fold(ch)
            if folded != ch:
                changed = True
            pieces.append(folded)
            source.extend([i] * len(folded))
        pos = end
    if not changed:
        return NormalizedText(text, None, len(text))
    pieces.append(text[pos:])
    source.extend(range(pos, len(text)))
    return NormalizedText("".join(pieces), tuple(source), len(text))
