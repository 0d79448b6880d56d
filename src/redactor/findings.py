"""Findings and how overlapping findings are resolved.

A :class:`Finding` says that ``text[start:end]`` holds an entity of ``entity_type``.
Offsets are Python ``str`` indices (code points) into the caller's original text,
``end`` exclusive, whatever normalisation detection ran on.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Iterable

__all__ = ["Finding", "TRIMMED", "resolve_overlaps"]

# Suffix of the explanation of a finding that lost part of its span to another finding.
TRIMMED = " (trimmed)"


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected entity.

    Attributes:
        entity_type: Presidio-style type name, e.g. ``"EMAIL_ADDRESS"``.
        start: index of the first character in the original text.
        end: index one past the last character (``text[start:end]`` is the value).
        score: confidence in [0, 1].
        recognizer: name of the recognizer that produced it, e.g. ``"email"`` or ``"spacy_ner"``.
        validated: True when a checksum or format validator accepted the value
            (Luhn, mod-97, phone metadata...); validated findings win overlaps.
        explanation: short human-readable reason (pattern name, context word); never the value.
    """

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    validated: bool = False
    explanation: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"invalid finding offsets start={self.start} end={self.end}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"finding score {self.score} is outside [0, 1]")

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Finding) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Finding) -> bool:
        return self.start <= other.start and other.end <= self.end


def _priority(f: Finding) -> tuple[bool, float, int]:
    # A validated pattern beats an NER guess on the same characters; then score; then length.
    return (f.validated, f.score, f.length)


def _merge_same_type(findings: list[Finding]) -> list[Finding]:
    """Union overlapping or touching findings of one entity type into one span."""
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and f.start <= merged[-1].end:
            last = merged[-1]
            best = last if _priority(last) >= _priority(f) else f
            merged[-1] = replace(best, start=last.start, end=max(last.end, f.end),
                                 score=max(last.score, f.score),
                                 validated=last.validated or f.validated)
        else:
            merged.append(f)
    return merged


def resolve_overlaps(findings: Iterable[Finding], text: str | None = None) -> list[Finding]:
    """Return non-overlapping findings, sorted by ``start``, covering the same characters.

    Same-type findings that overlap or touch are merged into one span. Between types,
    the winner of an overlap is the validated one, then the higher score, then the longer
    span. The loser is dropped when the winner contains it, or when both were validated (a
    phone number parsed across an IBAN is a mis-segmentation); otherwise it is trimmed to the
    part outside the winner, so no letter or digit any finding covered is left uncovered
    (a redaction never leaves a fragment of either value). When ``text`` is given, trimmed
    remainders lose their edge spaces and punctuation, and are dropped if nothing is left.
    """
    by_type: dict[str, list[Finding]] = {}
    for f in findings:
        by_type.setdefault(f.entity_type, []).append(f)
    candidates = [m for group in by_type.values() for m in _merge_same_type(group)]
    candidates.sort(key=_priority, reverse=True)

    accepted = _Disjoint()
    pending = candidates
    while pending:
        f = pending.pop(0)
        clash = accepted.first_overlap(f)
        if clash is None:
            accepted.add(f)
            continue
        if clash.validated and f.validated:
            continue  # two validated values cannot share characters: the weaker one is wrong
        for part in _outside(f, clash):
            kept = part if text is None else _strip(part, text)
            if kept is not None:
                pending.append(kept)
        pending.sort(key=_priority, reverse=True)
    return accepted.in_order()


class _Disjoint:
    """Accepted findings (pairwise disjoint), kept sorted by start for bisection.

    :meth:`first_overlap` returns the earliest *added* finding that overlaps, as a scan of
    the list in insertion order would, in O(log n + overlaps) instead of O(n).
    """

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._items: list[tuple[int, Finding]] = []  # (insertion number, finding), by start

    def first_overlap(self, f: Finding) -> Finding | None:
        # Disjoint spans sorted by start have sorted ends too: the ones overlapping f are
        # the run just before the first start at or after f.end whose end exceeds f.start.
        i = bisect_left(self._starts, f.end) - 1
        best: tuple[int, Finding] | None = None
        while i >= 0 and self._items[i][1].end > f.start:
            if best is None or self._items[i][0] < best[0]:
                best = self._items[i]
            i -= 1
        return None if best is None else best[1]

    def add(self, f: Finding) -> None:
        i = bisect_left(self._starts, f.start)
        self._starts.insert(i, f.start)
        self._items.insert(i, (len(self._items), f))

    def in_order(self) -> list[Finding]:
        return [f for _, f in self._items]


def _strip(f: Finding, text: str) -> Finding | None:
    """Trim a remainder to its letters and digits; None when it has none."""
    start, end = f.start, f.end
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return None if start == end else replace(f, start=start, end=end)


def _outside(f: Finding, winner: Finding) -> list[Finding]:
    """The pieces of ``f`` that lie outside ``winner`` (zero, one or two)."""
    parts: list[Finding] = []
    why = f.explanation if (f.explanation or "").endswith(TRIMMED) else f"{f.explanation or ''}{TRIMMED}"
    if f.start < winner.start:
        parts.append(replace(f, end=winner.start, explanation=why))
    if f.end > winner.end:
        parts.append(replace(f, start=winner.end, explanation=why))
    return parts
