"""Place names from a gazetteer: countries, US states and cities.

Declared in packs as ``kind: places``::

    - name: places
      kind: places
      entity_type: LOCATION
      places: data/places.txt     # one name a line, beside the pack; '#' starts a comment
      score: 0.6
      stop_words: [may, ...]      # never a place on their own

The text is split into runs of up to ``max_words`` words; the longest run that is a known
place is a finding. A word must be capitalised (``Utrecht``) or all capitals (``ESPOO``);
lower-case words count only when the whole text has no capital letter (``i live in utrecht``)
and the name is rare in English (``wordfreq`` Zipf below ``rare_zipf``), or when the word is
one of ``lowercase_places`` (countries) and below ``lowercase_zipf`` (``ireland``, not ``china``). The shipped list is
GeoNames (CC BY 4.0) cities of 15,000+ inhabitants whose names are not common English
words, US states and countries (``training/data/make_places.py``).
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
from .recognizer import KINDS, ScanText

__all__ = ["PlaceRecognizer", "PlaceRecognizerSpec"]

_WORD = regex.compile(r"[\p{L}\p{M}]+(?:['’.-][\p{L}\p{M}]+)*\.?")
_GAP = regex.compile(r"[ \t]{1,2}")


class PlaceRecognizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["places"]
    entity_type: str = "LOCATION"
    places: str
    lowercase_places: str | None = Field(None, description="names also found in lower case in mixed-case text")
    lowercase_zipf: float = 4.5
    score: float = Field(0.6, ge=0.0, le=1.0)
    max_words: int = Field(4, ge=1, le=8)
    rare_zipf: float = 3.0
    stop_words: list[str] = []
    description: str | None = None


@lru_cache(maxsize=4096)
def _zipf(word: str) -> float:
    return float(zipf_frequency(word, "en"))


class PlaceRecognizer:
    """Longest-match gazetteer lookup over capitalised word runs."""

    def __init__(self, spec: PlaceRecognizerSpec, source: Path) -> None:
        self.name = spec.name
        self.entity_type = spec.entity_type
        self.entity_types = frozenset([spec.entity_type])
        path = source.parent / spec.places
        try:
            lines = path.read_text("utf-8").splitlines()
        except OSError as exc:
            raise RecognizerError(f"cannot read place list {path}: {exc.strerror}", source=str(source)) from None
        stop = {w.lower() for w in spec.stop_words}
        self._places = frozenset(p.strip().lower() for p in lines
                                 if p.strip() and not p.startswith("#") and p.strip().lower() not in stop)
        _zipf("the")  # load the word-frequency table now, not inside a timed pass
        self._lower_ok: frozenset[str] = frozenset()
        if spec.lowercase_places:
            lower_path = source.parent / spec.lowercase_places
            try:
                self._lower_ok = frozenset(p.strip().lower() for p in lower_path.read_text("utf-8").splitlines()
                                           if p.strip() and not p.startswith("#") and p.strip().lower() not in stop)
            except OSError as exc:
                raise RecognizerError(f"cannot read place list {lower_path}: {exc.strerror}",
                                      source=str(source)) from None
        self._spec = spec

    def find(self, scan: ScanText) -> list[Finding]:
        text, deadline = scan.text, scan.deadline
        lower_text = not any(c.isupper() for c in text)
        words = [(m.start(), m.end(), m.group()) for m in deadline.scan(_WORD, text, self.name)]
        found: list[Finding] = []
        i = 0
        while i < len(words):
            if i % 256 == 0:
                deadline.check(self.name)
            if not self._can_start(words[i][2], lower_text):
                word = words[i][2].lower()
                if (word in self._lower_ok and word.islower()
                        and _zipf(word) < self._spec.lowercase_zipf):  # "moved to ireland"
                    found.append(Finding(self.entity_type, words[i][0], words[i][1], self._spec.score,
                                         self.name, False, "gazetteer"))
                i += 1
                continue
            best = None
            j = i
            while j < len(words) and j - i < self._spec.max_words:
                if j > i and _GAP.fullmatch(text, words[j - 1][1], words[j][0]) is None:
                    break
                key = text[words[i][0]:words[j][1]].lower()
                if key in self._places or key.rstrip(".") in self._places:
                    best = j
                j += 1
            if best is None:
                i += 1
                continue
            start, end = words[i][0], words[best][1]
            if text[end - 1] == "." and text[start:end].lower() not in self._places:
                end -= 1
            if not lower_text or _zipf(text[start:end].lower()) < self._spec.rare_zipf:
                found.append(Finding(self.entity_type, start, end, self._spec.score, self.name,
                                     False, "gazetteer"))
            i = best + 1
        return found

    @staticmethod
    def _can_start(word: str, lower_text: bool) -> bool:
        return word[0].isupper() or (lower_text and word[0].isalpha())


@KINDS.register("places")
def build_places(entry: dict[str, Any], source: Path) -> PlaceRecognizer:
    from .packs import parse_spec

    return PlaceRecognizer(parse_spec(PlaceRecognizerSpec, entry, source), source)
