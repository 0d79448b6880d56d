"""Person names the statistical NER misses: all-caps, lowercase, titles, particles.

Declared in packs as ``kind: names``. Two rules, both case-aware:

* **title rule**: an honorific (``Dr``, ``Mrs``...) followed by one to four capitalised
  words, with name particles between them (``Dr. Anneke van der Fakel``);
* **gazetteer rule**: a known first name, an optional middle initial and particles, then a
  surname-like word of the same case (``MARIELA FAKESTONE``, ``mariela fakestone``). A
  surname-like word is rare in English (word frequency from the ``wordfreq`` package, Zipf
  scale) or a known surname. First names that are also common English words ("will",
  "may") only count in Title Case;
* **cue rule**: one to four name words right after a phrase that introduces a name
  (``my name is``, ``Name:``, ``Hi``, ``Dear``, ``called``; the ``cues`` list), e.g.
  ``Hi Alice,`` or ``my name is vitoria``. The first word must be a known first name or
  surname, or rare in English, so ``Hi Team`` and ``I'm Sorry`` stay;
* **single-name rule** (when ``single_score`` > 0): one known first name on its own in Title
  Case (``thanks to Rudy``). At the start of a sentence it must be rare in English (Zipf
  below ``single_start_zipf``: ``Will you...`` stays), elsewhere below ``single_zipf``;
* **email rule**: capitalised name words right before an address in angle brackets
  (``Rachel <rachel@example.com>``), the first of them a known name.

The name lists are the US Census Bureau 1990 name files (public domain).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field
from wordfreq import zipf_frequency

from .errors import RecognizerError
from .findings import Finding
from .recognizer import KINDS, Deadline, ScanText

__all__ = ["NameRecognizer", "NameRecognizerSpec"]

_TOKEN = regex.compile(r"\p{L}+(?:-\p{L}+)*(?:['’](?![sS]\b)\p{L}+)?")
# Characters that glue a word into an email address, handle, path or file name.
_JOINERS = frozenset("@._/\\:#")
# Between two words of one name: spaces, or an initial's period and spaces.
_COMMA_GAP = regex.compile(r",[ \t]?")
_GAP = regex.compile(r"\.?[ \t]{1,3}")
_EMAIL_MAX = 330  # spaces, '<', an RFC 5321 address (254) and '>'; bounds one look-ahead


class NameRecognizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["names"]
    entity_type: str = "PERSON"
    first_names: str
    surnames: str
    places: str | None = Field(None, description="place names that are never a name's parts")
    titles: list[str]
    particles: list[str]
    stop_words: list[str] = []
    cues: list[str] = []
    cue_score: float = Field(0.75, ge=0.0, le=1.0)
    single_score: float = Field(0.0, ge=0.0, le=1.0, description="0 turns the single-name rule off")
    single_zipf: float = 5.0
    single_start_zipf: float = 4.0
    single_lower_zipf: float = Field(0.0, description="lower-case first names below this Zipf count; 0: off")
    single_surname_zipf: float = Field(0.0, description="Title Case surnames mid-sentence below this Zipf; 0: off")
    title_score: float = Field(0.85, ge=0.0, le=1.0)
    name_score: float = Field(0.7, ge=0.0, le=1.0)
    rare_zipf: float = Field(3.0, description="Zipf frequency below which a word counts as rare")
    common_zipf: float = Field(4.5, description="Zipf frequency above which a word is common")
    description: str | None = None


@lru_cache(maxsize=64)
def _zipf(word: str) -> float:
    return float(zipf_frequency(word, "en"))


@lru_cache(maxsize=65536)  # called for every token by several rules; words repeat
def _case(token: str) -> str:
    if token.isupper() and len(token) > 1:
        return "upper"
    if token.islower():
        return "lower"
    if token[0].isupper() and (len(token) == 1 or not token[1:].isupper()):
        return "title"
    return "other"


def _load_words(path: Path, source: Path) -> frozenset[str]:
    try:
        return frozenset(w.strip().lower() for w in path.read_text("utf-8").splitlines() if w.strip())
    except OSError as exc:
        raise RecognizerError(f"cannot read name list {path}: {exc.strerror}", source=str(source)) from None


class NameRecognizer:
    """Title and gazetteer rules for person names (see the module docstring)."""

    def __init__(self, spec: NameRecognizerSpec, source: Path) -> None:
        self.name = spec.name
        self.entity_type = spec.entity_type
        self.entity_types = frozenset([spec.entity_type])
        base = source.parent
        self._first = _load_words(base / spec.first_names, source)
        self._last = _load_words(base / spec.surnames, source)
        self._known = self._first | self._last  # built once: a union per lookup is O(list size)
        self._places = frozenset() if spec.places is None else _load_words(base / spec.places, source)
        self._titles = frozenset(t.lower().rstrip(".") for t in spec.titles)
        self._particles = frozenset(p.lower() for p in spec.particles)
        self._stop = frozenset(w.lower() for w in spec.stop_words)
        _zipf("the")  # load the word-frequency table now, not inside a timed pass
        self._spec = spec
        # "Rachel <rachel@example.com>": a name right before an address in angle brackets.
        self._before_email = regex.compile(r"[ \t]*<[^<>\s@]+@[^<>\s]+>")
        self._cue = self._cue_pattern(spec.cues)

    @staticmethod
    def _cue_pattern(cues: list[str]) -> Any:
        """Cue phrases; one written with a trailing ``:`` (``user:``) needs the colon."""
        def alt(words: list[str]) -> str:
            return "|".join(regex.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))
        loose = [c for c in cues if not c.endswith(":")]
        strict = [c.rstrip(":") for c in cues if c.endswith(":")]
        parts = []
        if loose:
            parts.append(rf"(?i:{alt(loose)})(?:[ \t]*[:,?][ \t]*\n?|[ \t]+)")
        if strict:
            parts.append(rf"(?i:{alt(strict)})[ \t]*:[ \t]*\n?")
        return regex.compile(rf"(?<![\w'])(?:{'|'.join(parts)})[ \t]*") if parts else None

    def find(self, scan: ScanText) -> list[Finding]:
        text, deadline = scan.text, scan.deadline
        tokens = [(m.start(), m.end(), m.group()) for m in deadline.scan(_TOKEN, text, self.name)]
        found: list[Finding] = self._cue_rule(text, tokens, deadline)
        deadline.check(self.name)
        emails = self._email_rule(text, tokens, deadline)
        if emails:
            found += [f for f in emails if not any(f.overlaps(g) for g in found)]
        found += self._inverted_rule(text, tokens)
        deadline.check(self.name)
        if self._spec.single_score > 0:
            found += self._single_rule(text, tokens)
            deadline.check(self.name)
        i = 0
        while i < len(tokens):
            if i % 256 == 0:
                deadline.check(self.name)
            span = self._title_rule(text, tokens, i) or self._gazetteer_rule(text, tokens, i)
            if span is None:
                i += 1
                continue
            j, score, why = span
            found.append(Finding(self.entity_type, tokens[i if why == "gazetteer" else i + 1][0],
                                 tokens[j][1], score, self.name, False, why))
            i = j + 1
        return _outermost(found)

    def _cue_rule(self, text: str, tokens: list[tuple[int, int, str]], deadline: Deadline) -> list[Finding]:
        if self._cue is None:
            return []
        starts = {t[0]: i for i, t in enumerate(tokens)}
        found = []
        for m in deadline.finditer(self._cue, text, self.name):
            i = starts.get(m.end())
            if i is None:
                continue
            first = tokens[i][2]
            case = _case(first)
            lowered = first.lower()
            if case == "other" or lowered in self._stop or lowered in self._titles:
                continue
            known = lowered in self._first or lowered in self._last
            if not (known or (case != "upper" and _zipf(lowered) < self._spec.rare_zipf)):
                continue  # an acronym after a cue ("Customer SSN") is not a name
            if case == "lower" and _zipf(lowered) >= (self._spec.common_zipf if known else self._spec.rare_zipf):
                continue
            j = i
            while j + 1 < len(tokens) and j - i < 3 and self._adjacent(text, tokens[j], tokens[j + 1]):
                word = tokens[j + 1][2]
                if word.lower() in self._stop or _case(word) not in (case, "upper" if case == "title" else case):
                    break
                if case == "lower" and not (word.lower() in self._last or _zipf(word.lower()) < self._spec.rare_zipf):
                    break
                j += 1
            found.append(Finding(self.entity_type, tokens[i][0], tokens[j][1], self._spec.cue_score,
                                 self.name, False, "cue"))
        return found

    def _single_rule(self, text: str, tokens: list[tuple[int, int, str]]) -> list[Finding]:
        spec, found = self._spec, []
        first, last = self._first, self._last
        for start, end, word in tokens:
            lowered = word.lower()
            if len(word) < 3 or (lowered not in first and lowered not in last) or lowered in self._stop:
                continue
            case = _case(word)
            if case not in ("title", "lower"):
                continue
            zipf = _zipf(lowered)
            if case == "lower":
                if text[end:end + 1] in _JOINERS or text[start - 1:start] in _JOINERS:
                    continue  # part of an address, handle or path: "emma@", "jeremy.doe"
                ok = lowered in self._first and zipf < spec.single_lower_zipf
            else:
                before = text[max(0, start - 3):start].rstrip(" \t\"'(“‘*-")
                sentence_start = not before or before[-1] in ".!?:\n"
                ok = lowered in self._first and zipf < (spec.single_start_zipf if sentence_start
                                                        else spec.single_zipf)
                ok = ok or (not sentence_start and lowered in self._last and zipf < spec.single_surname_zipf)
            if ok:
                found.append(Finding(self.entity_type, start, end, spec.single_score, self.name,
                                     False, "single name"))
        return found

    def _email_rule(self, text: str, tokens: list[tuple[int, int, str]], deadline: Deadline) -> list[Finding]:
        """One to three capitalised words, the first a known name, before ``<address@...>``."""
        if "<" not in text or "@" not in text:
            return []
        found = []
        for j, (_, end, _) in enumerate(tokens):
            if not self._email_follows(text, end):
                continue
            deadline.check(self.name)
            i = j
            while i > 0 and j - i < 2 and self._adjacent(text, tokens[i - 1], tokens[i]) \
                    and _case(tokens[i - 1][2]) in ("title", "upper"):
                i -= 1
            while i <= j and tokens[i][2].lower() not in self._known:
                i += 1
            if i <= j and all(_case(t[2]) in ("title", "upper") for t in tokens[i:j + 1]):
                found.append(Finding(self.entity_type, tokens[i][0], end, self._spec.cue_score,
                                     self.name, False, "name before email"))
        return found

    def _email_follows(self, text: str, end: int) -> bool:
        """``_before_email.match(text, end)``, bounded to where a match can be.

        The pattern needs ``<`` after spaces and ends at the first ``>``; giving ``match`` that
        window keeps the ``regex`` module from scanning the rest of the text for its
        required characters at every token (quadratic on a 100 KB text).
        """
        j = end
        while j < len(text) and text[j] in " \t":
            j += 1
        if j >= len(text) or text[j] != "<":
            return False
        close = text.find(">", j, j + _EMAIL_MAX)  # bounded: "a <b <c ..." stays linear
        return close >= 0 and self._before_email.match(text, end, close + 1) is not None

    def _inverted_rule(self, text: str, tokens: list[tuple[int, int, str]]) -> list[Finding]:
        """``Becker, Tom`` / ``BECKER, TOM``: a surname, a comma, then a known first name.

        The "Last, First" order of CRM exports and CSV files; both words share their case.
        """
        found = []
        for i in range(len(tokens) - 1):
            (s_start, s_end, surname), (f_start, f_end, first) = tokens[i], tokens[i + 1]
            case = _case(surname)
            if case not in ("title", "upper") or _case(first) != case:
                continue
            if _COMMA_GAP.fullmatch(text, s_end, f_start) is None:
                continue
            if first.lower() not in self._first or first.lower() in self._stop:
                continue
            if first.lower() in self._places or surname.lower() in self._places:
                continue  # "Paris, France", "Georgia, Jordan"
            if not self._surname_like(surname, case):
                continue
            found.append(Finding(self.entity_type, s_start, f_end, self._spec.name_score,
                                 self.name, False, "surname, first name"))
        return found

    def _adjacent(self, text: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
        return _GAP.fullmatch(text, a[1], b[0]) is not None

    def _title_rule(self, text: str, tokens: list[tuple[int, int, str]],
                    i: int) -> tuple[int, float, str] | None:
        if tokens[i][2].lower() not in self._titles or _case(tokens[i][2]) == "lower":
            return None
        last, j = None, i + 1
        while j < len(tokens) and j - i <= 5 and self._adjacent(text, tokens[j - 1], tokens[j]):
            word = tokens[j][2]
            if _case(word) in ("title", "upper") and word.lower() not in self._stop:
                last = j
            elif word.lower() not in self._particles:
                break
            j += 1
        return None if last is None else (last, self._spec.title_score, "title")

    def _gazetteer_rule(self, text: str, tokens: list[tuple[int, int, str]],
                        i: int) -> tuple[int, float, str] | None:
        first = tokens[i][2]
        case = _case(first)
        lowered = first.lower()
        if lowered not in self._first or case == "other" or (case != "title" and lowered in self._stop):
            return None
        if case != "title" and _zipf(lowered) > self._spec.common_zipf:
            return None
        j = i + 1
        while j < len(tokens) and self._adjacent(text, tokens[j - 1], tokens[j]):
            word = tokens[j][2]
            if len(word) == 1 and word.isupper() or word.lower() in self._particles:
                j += 1
                continue
            if self._surname_like(word, case):
                return j, self._spec.name_score, "gazetteer"
            return None
        return None

    def _surname_like(self, word: str, case: str) -> bool:
        lowered = word.lower()
        if len(word) < 2 or lowered in self._stop or _case(word) != case:
            return False
        zipf = _zipf(lowered)
        if zipf < self._spec.rare_zipf:
            return True
        return lowered in self._last and (case == "title" or zipf < self._spec.common_zipf - 0.5)


def _outermost(found: list[Finding]) -> list[Finding]:
    """Drop findings inside another one (two rules often find the same name)."""
    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if not kept or not kept[-1].contains(f):
            kept.append(f)
    return kept


@KINDS.register("names")
def build_names(entry: dict[str, Any], source: Path) -> NameRecognizer:
    from .packs import parse_spec

    return NameRecognizer(parse_spec(NameRecognizerSpec, entry, source), source)
