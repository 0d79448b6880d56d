"""The recognizer interface, context words, and the registry of recognizer kinds.

A recognizer finds candidate entities in (normalised) text. Packs in ``recognizers/*.yaml``
declare recognizers as data; each entry's ``kind`` names a builder in :data:`KINDS`
(``pattern``, ``phone``, ``names``, ``deny_list``...).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import regex

from .errors import DetectionTimeout, RecognizerError
from .findings import Finding
from .registry import Registry

__all__ = ["Context", "Deadline", "KINDS", "Recognizer", "ScanText"]

# Presidio's LemmaContextAwareEnhancer defaults: +0.35, at least 0.4 once context is seen.
CONTEXT_BOOST = 0.35
CONTEXT_MIN_SCORE = 0.4

_WORD = regex.compile(r"\w+")
_NON_ASCII = regex.compile(r"[^\x00-\x7f]+")
_DIGIT_RUN = regex.compile(r"\d(?:[\d .\-]*\d)?")


def _separators(run: str) -> int:
    return run.count(" ") + run.count(".") + run.count("-")


class Deadline:
    """The time limits of one text's detection pass, in seconds of ``time.monotonic``.

    * ``limit_s``: each regular-expression search (one ``finditer`` of one pattern) may take
      at most this long: the ``regex`` module's ``timeout=``, which stops a backtracking
      search from inside;
    * ``budget_s``: all recognizers together may take at most this long, counted from the
      deadline's creation, so fifty patterns that are each just under ``limit_s`` cannot add
      up to a stall. A search gets ``min(limit_s, budget left)``; code recognizers call
      :meth:`check` in their loops.

    ``None`` turns a limit off. Exceeding either raises
    :class:`~redactor.errors.DetectionTimeout` (``kind`` ``"pattern"`` or ``"budget"``).
    ``clock`` is injectable so tests can run the budget without sleeping.
    """

    __slots__ = ("limit_s", "budget_s", "_clock", "_ends", "_left", "_budget_bound")

    def __init__(self, limit_s: float | None, budget_s: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_s = limit_s
        self.budget_s = budget_s
        self._clock = clock
        self._ends = None if budget_s is None else clock() + budget_s
        self._left: float | None = None  # budget left while paused
        self._budget_bound = False  # the last remaining() was cut short by the budget

    def pause(self) -> None:
        """Stop the budget's clock (while other texts of a batch are worked on)."""
        if self._ends is not None and self._left is None:
            self._left = self._ends - self._clock()

    def resume(self) -> None:
        """Restart the budget's clock with what was left at :meth:`pause`."""
        if self._left is not None:
            self._ends, self._left = self._clock() + self._left, None

    def remaining(self, recognizer: str) -> float | None:
        """Seconds allowed for the next search (``None``: no limit).

        Raises:
            DetectionTimeout: the budget is already spent.
        """
        if self._ends is None:
            self._budget_bound = False
            return self.limit_s
        left = self._ends - self._clock()
        if left <= 0:
            raise self._exceeded(recognizer)
        self._budget_bound = self.limit_s is None or left < self.limit_s
        return left if self._budget_bound else self.limit_s

    def check(self, recognizer: str) -> None:
        """Raise :class:`DetectionTimeout` when the budget is spent (cheap: one clock read)."""
        if self._ends is not None and self._clock() >= self._ends:
            raise self._exceeded(recognizer)

    def expired(self, recognizer: str) -> DetectionTimeout:
        """The error for a search that hit the timeout :meth:`remaining` gave it."""
        if self._budget_bound:
            return self._exceeded(recognizer)
        return DetectionTimeout(recognizer, self.limit_s or 0.0, kind="pattern")

    def _exceeded(self, recognizer: str) -> DetectionTimeout:
        return DetectionTimeout(recognizer, self.budget_s or 0.0, kind="budget")

    def scan(self, pattern: Any, text: str, recognizer: str) -> Iterator[Any]:
        """The matches of one of the engine's own linear-time tokenising patterns, lazily.

        For patterns such as ``\\w+`` or a run of digits and separators, which cannot
        backtrack more than the length of a match: they run without the ``regex`` timeout,
        which costs about 0.6 microseconds per match (a word-by-word scan of 100 KB is 4x
        slower with it). The budget is checked before the first match and every 4,096
        matches instead, so a caller building a list from a 10 MB text stops on time.

        Raises:
            DetectionTimeout: the budget was spent before or during the scan.
        """
        self.check(recognizer)
        for n, match in enumerate(pattern.finditer(text), 1):
            if n % 4096 == 0:
                self.check(recognizer)
            yield match
        self.check(recognizer)

    def finditer(self, pattern: Any, text: str, recognizer: str, pos: int = 0,
                 endpos: int | None = None) -> list[Any]:
        """All matches of a compiled ``regex`` pattern, searched under this deadline.

        Raises:
            DetectionTimeout: the search ran past its time limit or the budget.
        """
        end = len(text) if endpos is None else endpos
        try:
            return list(pattern.finditer(text, pos, end, timeout=self.remaining(recognizer)))
        except TimeoutError:
            raise self.expired(recognizer) from None


@dataclass(slots=True)
class ScanText:
    """The normalised text one detection pass runs over, with facts computed once."""

    text: str
    deadline: Deadline = field(default_factory=lambda: Deadline(None))
    _digits: int | None = None
    _lower: str | None = None
    _first: dict[Any, int] = field(default_factory=dict)
    _digit_runs: list[tuple[int, int, int]] | None = None
    _windows: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _verdicts: dict[tuple[int, str], bool | None] = field(default_factory=dict)

    def validate(self, validator: Callable[[str], bool | None], value: str) -> bool | None:
        """``validator(value)``, computed once per text: a card number is checked by the card
        recognizers and by the phone recognizer alike. The verdicts live only as long as this
        text's detection pass, so no value outlives it. Keyed by the validator's identity
        (it may be unhashable); validators are pure functions of the value."""
        key = (id(validator), value)
        verdicts = self._verdicts
        if key in verdicts:
            return verdicts[key]
        verdict = verdicts[key] = validator(value)
        return verdict

    def digit_runs(self, min_digits: int, recognizer: str) -> list[tuple[int, int]]:
        """Windows ``(start, end)`` (str indices) over the runs of digits joined by spaces,
        dots and dashes that hold at least ``min_digits`` digits, in order.

        A run starts and ends with a digit; its window ends two characters later, so a
        pattern's lookahead sees what follows the run (``(?!\\d|[.:]\\d)``). Found once
        per text.

        Raises:
            DetectionTimeout: the search ran past the deadline.
        """
        if self._digit_runs is None:
            self._digit_runs = [(m.start(), m.end(), len(m.group()) - _separators(m.group()))
                                for m in self.deadline.scan(_DIGIT_RUN, self.text, recognizer)]
        windows = self._windows.get(min_digits)
        if windows is None:
            n = len(self.text)
            windows = self._windows[min_digits] = [
                (lo, min(n, hi + 2)) for lo, hi, digits in self._digit_runs if digits >= min_digits]
        return windows

    def first(self, pattern: Any, timeout: float | None) -> int:
        """Start of ``pattern``'s first match in the text (-1: none); searched once per pattern.

        Raises ``TimeoutError`` when the search runs past ``timeout`` seconds.
        """
        hit = self._first.get(pattern)
        if hit is None:
            m = pattern.search(self.text, timeout=timeout)
            hit = self._first[pattern] = -1 if m is None else m.start()
        return hit

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    @property
    def digit_count(self) -> int:
        """Number of characters for which ``str.isdigit()`` is true."""
        if self._digits is None:
            text = self.text
            # ten C-level counts instead of a Python loop per character; only the non-ASCII
            # characters (few, in practice) are tested one by one.
            self._digits = sum(map(text.count, "0123456789"))
            if not text.isascii():
                self._digits += sum(map(str.isdigit, "".join(_NON_ASCII.findall(text))))
        return self._digits


class Recognizer(Protocol):
    """Finds entities in text. Offsets are into ``scan.text``; ``score`` in [0, 1]."""

    name: str
    entity_types: frozenset[str]

    def find(self, scan: ScanText) -> list[Finding]: ...


@dataclass(frozen=True, slots=True)
class Context:
    """Context words that raise a candidate's score when seen near it.

    Matching is case-insensitive on word prefixes ("card" matches "cards:"), over the
    ``before`` words preceding and the ``after`` words following the candidate; no
    lemmatizer is needed.
    """

    words: tuple[str, ...]
    before: int = 5
    after: int = 2
    _pattern: Any = None
    _lowered: tuple[str, ...] = ()

    @classmethod
    def build(cls, words: Sequence[str], before: int = 5, after: int = 2) -> Context | None:
        if not words:
            return None
        alternatives = "|".join(regex.escape(w.lower()) for w in sorted(words, key=len, reverse=True))
        pattern = regex.compile(rf"(?<!\w)(?:{alternatives})")
        return cls(tuple(words), before, after, pattern, tuple(w.lower() for w in words))

    def anywhere(self, lowered_text: str) -> bool:
        """True when a context word occurs anywhere in the (lower-cased) text: a prefilter."""
        # Substring tests first (C-level, no regex scan): a word-start match needs the word.
        if not any(w in lowered_text for w in self._lowered):
            return False
        return self._pattern.search(lowered_text) is not None

    def seen(self, text: str, start: int, end: int) -> bool:
        """True when a context word occurs near ``text[start:end]``."""
        words_before = _WORD.findall(text, max(0, start - 20 * self.before), start)[-self.before:]
        words_after = _WORD.findall(text, end, end + 20 * self.after)[: self.after] if self.after else []
        window = " ".join(words_before + words_after).lower()
        # Punctuation-joined phrases ("e-mail", "d.o.b") are matched on the raw window too.
        raw = text[max(0, start - 12 * self.before):start].lower()
        return self._pattern.search(window) is not None or self._pattern.search(raw) is not None


def boost(score: float) -> float:
    """Score after context is seen (Presidio's rule), rounded to 6 places so 0.3 + 0.35 is
    0.65, not 0.6499999999999999, in findings and thresholds alike."""
    return round(max(min(1.0, score + CONTEXT_BOOST), CONTEXT_MIN_SCORE), 6)


RecognizerBuilder = Callable[[dict[str, Any], Path], Recognizer]
KINDS: Registry[RecognizerBuilder] = Registry("recognizer kind", RecognizerError)
