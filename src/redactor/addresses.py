"""Street addresses across countries, including multi-line address blocks.

Declared in packs as ``kind: address``. A finding is built in three steps:

1. **Street line** (the core), one of:

   * *English order*: a house number, one to four capitalised name words and a street type
     (``221B Baker Street``, ``9 W. Elm Ave``), types from ``street_types``;
   * *prefix order*: a street prefix (``Rue``, ``Via``, ``Calle``, ``ul.``) with name words and
     particles, and a house number before or after (``Via delle Coste 41``, ``29 Rue de Tanger``);
   * *compound order*: one word ending in a street suffix (``Søndergade``, ``Koskikatu``,
     ``Rooseveltlaan``) or followed by a separate type word (``Augsburger Strasse``) and a house
     number (``Søndergade 52``). Compounds must be rare English words (``wordfreq`` Zipf
     frequency below ``rare_zipf``), so ``Spring 2024`` is not a street;
   * *military*: ``PSC 1234, Box 5678`` / ``Unit 1234 Box 5678`` and ``APO AE 09012`` (USPS
     Publication 28, section 225).

2. **Units** before or after the street line: ``Apt. 5``, ``Suite 300``, ``Flat 2``, ``#12``.

3. **Locality lines** after it, joined by a comma or a line break (a blank line and a short
   non-word line prefix such as ``> `` are allowed): a postcode, capitalised place words with an
   optional 2-3 letter region code, a known place (``places``) or a country name, e.g. ``\\n Utrecht\\n Netherlands`` or
   ``, Springfield, IL 62704``. A line of common English words (``Thanks``) ends the block.

Street types follow USPS Publication 28, appendix C1, plus common British, Irish and
Australian types; prefixes and suffixes cover the usual street words of European and Latin
American languages. The score is ``score`` for a street line and ``block_score`` when
locality lines or units follow.
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

__all__ = ["AddressRecognizer", "AddressRecognizerSpec"]


class AddressRecognizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["address"]
    entity_type: str = "STREET_ADDRESS"
    street_types: list[str] = Field(min_length=1)
    street_prefixes: list[str] = []
    street_suffixes: list[str] = []
    unit_words: list[str] = []
    particles: list[str] = []
    countries: str | None = Field(None, description="file of country names, one a line, beside the pack")
    places: str | None = Field(None, description="file of place names (cities), one a line, beside the pack")
    cues: list[str] = Field([], description="words just before a street that make a bare 'Name 12' one")
    score: float = Field(0.7, ge=0.0, le=1.0)
    block_score: float = Field(0.85, ge=0.0, le=1.0)
    rare_zipf: float = 3.0
    common_zipf: float = 4.3
    description: str | None = None


def _alt(words: list[str]) -> str:
    return "|".join(regex.escape(w) for w in sorted(set(words), key=len, reverse=True))


@lru_cache(maxsize=4096)
def _zipf(word: str) -> float:
    return float(zipf_frequency(word.lower(), "en"))


_NUM = r"\d{1,6}[A-Za-z]?(?:[/-]\d{1,4}[A-Za-z]?)?"
_CAP = r"(?:\p{Lu}[\p{L}\p{M}'’.-]*|\d{1,3}(?:st|nd|rd|th)\b)"
_ANY = r"[\p{L}\p{M}][\p{L}\p{M}'’.-]*"
_LETTER = regex.compile(r"\p{L}")
# A period after a word of four or more letters, then a capitalised word: a sentence ends
# there ("Springfield. The"), not an abbreviation inside a place name ("St. Louis", "Mt. Vernon").
_SENTENCE_END = regex.compile(r"(?<=\p{L}{4})\.(?=[ \t]+\p{Lu})")
_TAIL_MAX = 400  # characters one unit, postcode or locality line may span
_POSTCODE = (r"(?:\d{5}-\d{4}|\d{3}[ -]?\d{2}|\d{2}-\d{3}|\d{4}[ ]?[A-Z]{2}(?![\p{L}])|\d{3,6}"
             r"|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}|[A-Z]\d[A-Z][ ]?\d[A-Z]\d"
             r"|(?:[A-Z]{1,2}-)\d{4,5})")


class AddressRecognizer:
    """Street lines, units and locality lines (see the module docstring)."""

    def __init__(self, spec: AddressRecognizerSpec, source: Path) -> None:
        self.name = spec.name
        self.entity_type = spec.entity_type
        self.entity_types = frozenset([spec.entity_type])
        _zipf("the")  # load the word-frequency table now, not inside a timed pass
        self._spec = spec
        self._countries = _load_countries(source.parent / spec.countries, source) if spec.countries else ()
        self._country_set = frozenset(c.lower() for c in self._countries)
        places = _load_countries(source.parent / spec.places, source) if spec.places else ()
        self._place_set = self._country_set | frozenset(p.lower() for p in places)
        self._cores = {mode: self._core_pattern(word) for mode, word in (("cased", _CAP), ("lower", _ANY))}
        self._tails = {mode: self._tail_pattern(word) for mode, word in (("cased", _CAP), ("lower", _ANY))}
        unit = _alt(spec.unit_words)
        self._unit_before = regex.compile(
            rf"(?:(?<![\w.])(?i:{unit})\.?[ \t]*#?[ \t]*\d+[A-Za-z]?,?[ \t]+)+\Z")
        self._cue = (regex.compile(rf"(?i:\b(?:{_alt(spec.cues)}))\W{{0,3}}(?:\w+\W+){{0,2}}\Z")
                     if spec.cues else None)
        self._type_word = regex.compile(rf"(?i:[ \t](?:{_alt(spec.street_types)})\b)")
        self._suffix_re = regex.compile(rf"(?i:{_alt(spec.street_suffixes)})\Z") if spec.street_suffixes else None

    # -- patterns -------------------------------------------------------------------------

    def _core_pattern(self, word: str) -> Any:
        s = self._spec
        types, prefixes, parts = _alt(s.street_types), _alt(s.street_prefixes), _alt(s.particles)
        name = rf"(?:{word}|(?:{parts})(?=[ \t]))"
        lead = rf"(?:{_NUM}[ \t]+){{0,2}}"
        english = (rf"(?P<en>{lead}{_NUM},?[ \t]+(?:(?i:[NSEW]\.?|North|South|East|West|Old|New)[ \t]+)?"
                   rf"(?:{word}[ \t]+){{0,3}}{word}[ \t]+(?i:{types})\b\.?"
                   rf"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?)")
        prefix = (rf"(?P<pre>{lead}(?i:{prefixes})(?:(?<=\.)[ \t]*|[ \t]+){name}(?:[ \t]+{name}){{0,4}}"
                  rf"(?:,?[ \t]+{_NUM}(?![\w]))?)")
        compound = (rf"(?P<co>{lead}(?P<cw>{word})(?:[ \t]+(?i:{types})\b\.?)?(?:[ \t]+{word}){{0,2}}"
                    rf",?[ \t]+{_NUM}(?![\w.,]\d)(?!\w))")
        military = (r"(?P<mil>(?:(?:PSC|CMR|Unit)[ \t]+\d{3,5},?[ \t]+Box[ \t]+\d{3,5}"
                    r"|(?:USNS|USNV|USS|USCGC)[ \t]+\p{Lu}[\p{L}]+)"
                    r"(?:[ \t]*(?:,|\n)[ \t]*(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5})?"
                    r"|(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5})")
        # Capitalised words and a house number: a street only with an address cue before it
        # or locality lines after it (checked in find()).
        generic = (rf"(?P<gen>{lead}{word}(?:[ \t]+{name}){{0,3}},?[ \t]+{_NUM}(?!\w)"
                   rf"|{_NUM}[ \t]+{word}(?:[ \t]+{name}){{0,3}}(?=[ \t]*(?:,|\n|$)))")
        return regex.compile(rf"(?<![\w@/.-])(?:{military}|{english}|{prefix}|{compound}|{generic})")

    def _tail_pattern(self, word: str) -> Any:
        s = self._spec
        unit = _alt(s.unit_words)
        parts = _alt(s.particles)
        country = _alt(list(self._countries)) if self._countries else "(?!)"
        unit_seg = rf"(?P<unit>(?i:{unit})\.?[ \t]*#?[ \t]*\w{{1,6}}|\#[ \t]?\d{{1,6}})"
        place = rf"(?:{word}|(?:{parts})(?=[ \t]))(?:[ \t]+(?:{word}|(?:{parts})(?=[ \t])|\d{{1,2}}(?!\d))){{0,4}}"
        region = r"(?:,?[ \t]+(?:\p{Lu}{2,3}|\(\p{Lu}{2}\)))"
        locality = (rf"(?P<loc>(?:{_POSTCODE}[ \t]+)?(?:(?i:{country})|{place}){region}?"
                    rf"(?:,?[ \t]+{_POSTCODE})?(?![\w]))")
        postcode = rf"(?P<pc>{_POSTCODE}(?![\w]))"
        letter_unit = r"(?P<unit2>\p{Lu}[ \t]?\d{1,4}(?![\w]))"  # staircase / block: "B 12"
        sep = r"(?:[ \t]*,[ \t]*|[ \t]*\n(?:[ \t]*[^\w\s]{0,4}[ \t]*\n)?[ \t]*[^\w\s\n]{0,4}[ \t]*|[ \t]+)"
        return (regex.compile(rf"\G(?P<sep>{sep}){locality}"),
                regex.compile(rf"\G(?P<sep>{sep})(?:{unit_seg}|{postcode}|{letter_unit})"))

    # -- matching -------------------------------------------------------------------------

    def find(self, scan: ScanText) -> list[Finding]:
        text = scan.text
        # Every street line has a digit and a letter; the core pattern is the costliest of
        # the packs per character, so texts without either (digit runs) skip it.
        if scan.digit_count == 0 or _LETTER.search(text) is None:
            return []
        mode = "lower" if not any(c.isupper() for c in text) else "cased"
        found: list[Finding] = []
        last_end = 0
        last_newline = text.rfind("\n")
        deadline = scan.deadline
        for m in deadline.finditer(self._cores[mode], text, self.name):
            deadline.check(self.name)
            kind = self._core_kind(m)
            if kind is None:
                continue
            start, end = m.span()
            if start < last_end:
                continue  # inside the block of the previous finding
            before = self._unit_before.search(text, max(0, start - 40), start)
            if before is not None:
                start = before.start()
            core_end = end
            if kind == "generic" and last_newline < core_end and not self._cue_before(text, start):
                continue  # _generic_ok needs a line break or a cue: neither can come (saves _extend)
            end, extra = self._extend(text, end, mode)
            if kind == "generic" and not self._generic_ok(text, start, core_end, end):
                continue
            last_end = end
            score = self._spec.block_score if extra or before is not None else self._spec.score
            found.append(Finding(self.entity_type, start, end, score, self.name, False,
                                 "address block" if extra else "street line"))
        return found

    def _core_kind(self, m: Any) -> str | None:
        """``"street"`` for a sure street line, ``"generic"`` for one needing more evidence.

        Compound cores need a rare street-like word (``Koskikatu 25``) or a separate street
        type word (``Augsburger Strasse 36``); other ``Name 12`` shapes (``Windows 10``) are
        generic, like the ``gen`` alternative.
        """
        if m.group("gen") is not None:
            return "generic"
        if m.group("co") is None:
            return "street"
        word = m.group("cw")
        lowered = word.lower().rstrip(".")
        if lowered in self._country_set:
            return None
        if (self._suffix_re is not None and len(lowered) > 5 and self._suffix_re.search(lowered)
                and _zipf(lowered) < self._spec.rare_zipf):
            return "street"
        if self._type_word is not None and self._type_word.search(m.group("co")):
            return "street"
        return "generic"

    def _generic_ok(self, text: str, start: int, core_end: int, end: int) -> bool:
        """A generic core needs a line break into locality lines, or an address cue before it."""
        if "\n" in text[core_end:end] and regex.search(r"\d", text[core_end:end]):
            return True
        return self._cue_before(text, start)

    def _cue_before(self, text: str, start: int) -> bool:
        return self._cue is not None and self._cue.search(text, max(0, start - 40), start) is not None

    def _extend(self, text: str, end: int, mode: str) -> tuple[int, int]:
        """Swallow units, postcodes and locality lines after ``end``; return (end, how many)."""
        loc_re, other_re = self._tails[mode]
        n, after_postcode = 0, False
        while n < 6:
            best = None
            # An end position keeps match() from scanning the rest of the text for the
            # pattern's required characters (the regex module does): linear, not quadratic.
            stop = min(len(text), end + _TAIL_MAX)
            m = loc_re.match(text, end, stop)
            sentence_end = None
            if m is not None:
                # "Springfield. The order": a place word ends a sentence, the next one starts
                # another; the locality stops at the word (the period is the sentence's).
                cut = _SENTENCE_END.search(text, m.start("loc"), m.end())
                if cut is not None:
                    sentence_end = cut.start()
                    m = loc_re.match(text, end, sentence_end)
            if m is not None and self._locality_ok(m.group("loc")) and (
                    after_postcode or "\n" in m.group("sep") or "," in m.group("sep")):
                best = m  # a place after a plain space is the sentence going on, not a locality
            o = other_re.match(text, end, stop)
            if o is not None and (best is None or o.end() > best.end()):
                best = o
            if best is None or best.end() <= end:
                break
            after_postcode = best.groupdict().get("pc") is not None
            end, n = best.end(), n + 1
            if sentence_end is not None and end >= sentence_end:
                break  # the address ended with its sentence
        return end, n

    def _locality_ok(self, value: str) -> bool:
        if regex.search(r"\d|(?<![\p{L}])\p{Lu}{2,3}\Z", value):
            return True  # a postcode or a region code: "Washington, DC 20500"
        words = [w for w in regex.findall(r"[\p{L}\p{M}'’]+", value) if len(w) > 1]
        if not words:
            return False
        if " ".join(words).lower() in self._place_set:
            return True
        # A line of common English words ("Thanks", "Best regards") is not a place.
        return any(_zipf(w) < self._spec.common_zipf for w in words)


def _load_countries(path: Path, source: Path) -> tuple[str, ...]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise RecognizerError(f"cannot read country list {path}: {exc.strerror}", source=str(source)) from None
    return tuple(w.strip() for w in lines if w.strip() and not w.startswith("#"))


@KINDS.register("address")
def build_address(entry: dict[str, Any], source: Path) -> AddressRecognizer:
    from .packs import parse_spec

    return AddressRecognizer(parse_spec(AddressRecognizerSpec, entry, source), source)
