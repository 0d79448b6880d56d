"""URLs, and the PII that hides in their query strings.

Declared in packs as ``kind: url``. Each ``http(s)://`` / ``www.`` URL is a ``URL`` finding;
URL findings are *containers*: other findings may lie inside them, and a policy that keeps
URLs (the default) still redacts what is inside. Query parameters whose key names a kind
of PII (``?email=...&name=Pat%20Doe``) make their value a finding of that type, and a
percent-encoded value that decodes to an email address is an ``EMAIL_ADDRESS`` finding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote_plus

import regex
from pydantic import BaseModel, ConfigDict, Field

from .findings import Finding
from .recognizer import KINDS, ScanText

__all__ = ["UrlRecognizer", "UrlRecognizerSpec"]

_URL = regex.compile(
    r"(?<![\w@])(?:(?:https?|ftp)://|www\.)[^\s<>\"'`{}|\\^\[\]]+", regex.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"*"
_PARAM = regex.compile(r"[?&;]([^=&;#?]+)=([^&;#]*)")
_EMAIL = regex.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}$")


class UrlRecognizerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["url"]
    entity_type: str = "URL"
    score: float = Field(0.6, ge=0.0, le=1.0)
    param_score: float = Field(0.8, ge=0.0, le=1.0)
    query_keys: dict[str, list[str]] = {}
    description: str | None = None


class UrlRecognizer:
    """URL findings (containers) plus PII-bearing query-string values."""

    container = True

    def __init__(self, spec: UrlRecognizerSpec) -> None:
        self.name = spec.name
        self.entity_type = spec.entity_type
        self._score = spec.score
        self._param_score = spec.param_score
        self._key_types = {k.lower(): etype for etype, keys in spec.query_keys.items() for k in keys}
        self.entity_types = frozenset({spec.entity_type, "EMAIL_ADDRESS", *spec.query_keys})

    def find(self, scan: ScanText) -> list[Finding]:
        text = scan.text
        if "://" not in text and "www." not in text.lower():
            return []
        found: list[Finding] = []
        deadline = scan.deadline
        for m in deadline.finditer(_URL, text, self.name):
            deadline.check(self.name)
            start, end = m.span()
            while end > start and text[end - 1] in _TRAILING:
                end -= 1
            if end - start < 5:
                continue
            found.append(Finding(self.entity_type, start, end, self._score, self.name, False, "url"))
            found.extend(self._params(text, start, end))
        return found

    def _params(self, text: str, start: int, end: int) -> list[Finding]:
        found = []
        for m in _PARAM.finditer(text, start, end):
            v_start, v_end = m.span(2)
            if v_start == v_end:
                continue
            key = unquote_plus(m.group(1)).strip().lower()
            etype = self._key_types.get(key)
            raw = m.group(2)
            if etype is None and ("%40" in raw.upper() or "@" in raw):
                if _EMAIL.match(unquote_plus(raw)):
                    etype = "EMAIL_ADDRESS"
            if etype is not None:
                found.append(Finding(etype, v_start, v_end, self._param_score, self.name, False,
                                     f"query parameter '{key}'"))
        return found


@KINDS.register("url")
def build_url(entry: dict[str, Any], source: Path) -> UrlRecognizer:
    from .packs import parse_spec

    return UrlRecognizer(parse_spec(UrlRecognizerSpec, entry, source))
