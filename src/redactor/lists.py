"""Deny lists from the policy: values that are always findings of a given type."""

from __future__ import annotations

from typing import Sequence

import regex

from .findings import Finding
from .recognizer import ScanText

__all__ = ["DenyListRecognizer"]


class DenyListRecognizer:
    """Exact phrases, matched case-insensitively on word boundaries, score 1.0."""

    def __init__(self, entries: Sequence[tuple[str, str]]) -> None:
        self.name = "deny_list"
        self.entity_types = frozenset(etype for _, etype in entries)
        self._types = {value.casefold(): etype for value, etype in entries}
        alternatives = "|".join(regex.escape(v) for v in sorted(self._types, key=len, reverse=True))
        self._pattern = regex.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", regex.IGNORECASE)

    def find(self, scan: ScanText) -> list[Finding]:
        return [
            Finding(self._types[m.group().casefold()], m.start(), m.end(), 1.0, self.name, True,
                    "deny list")
            for m in scan.deadline.finditer(self._pattern, scan.text, self.name)
        ]
