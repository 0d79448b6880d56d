"""Applying operators to findings: the text is rebuilt in one left-to-right pass.

Findings come from :func:`redactor.findings.resolve_overlaps` (non-overlapping) plus
container findings (URLs) that may enclose others. Findings whose operator keeps the value
are set aside first, so a kept URL never shields the card number inside it; a container
that *is* operated on absorbs whatever lies inside it.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import replace
from typing import Callable, Sequence

from .findings import Finding
from .operators import OperationContext, Operator

__all__ = ["apply_operators"]


def _absorb(active: list[Finding], containers: frozenset[str]) -> list[Finding]:
    outer = sorted((f for f in active if f.entity_type in containers), key=lambda f: f.start)
    if not outer:
        return active
    # Containers are looked up by bisection: those starting before a finding's end, from
    # the first whose running maximum end passes its start (O(n log n), not O(n * urls)).
    starts = [c.start for c in outer]
    reach = list(itertools.accumulate((c.end for c in outer), max))
    result = list(outer)
    for f in active:
        if f.entity_type in containers:
            continue
        pieces = [f]
        lo, hi = bisect.bisect_right(reach, f.start), bisect.bisect_left(starts, f.end)
        for c in outer[lo:hi]:
            next_pieces = []
            for p in pieces:
                if not p.overlaps(c):
                    next_pieces.append(p)
                    continue
                if p.start < c.start:
                    next_pieces.append(replace(p, end=c.start))
                if p.end > c.end:
                    next_pieces.append(replace(p, start=c.end))
            pieces = next_pieces
        result.extend(pieces)
    # Overlapping containers: keep the earliest-starting longest, trim the rest.
    result.sort(key=lambda f: (f.start, -f.end))
    flat: list[Finding] = []
    for f in result:
        if flat and f.start < flat[-1].end:
            if f.end <= flat[-1].end:
                continue
            f = replace(f, start=flat[-1].end)
        flat.append(f)
    return flat


def apply_operators(text: str, findings: Sequence[Finding],
                    operator_for: Callable[[str], Operator], ctx: OperationContext,
                    containers: frozenset[str] = frozenset()) -> str:
    """Return ``text`` with each finding's characters replaced by its operator's output.

    Args:
        text: the original text; finding offsets index it.
        findings: non-overlapping findings, except containers which may enclose others.
        operator_for: maps an entity type to its operator.
        ctx: per-call operator state (pseudonym numbers, hash key).
        containers: entity types that may enclose other findings (``URL``).
    """
    active = [f for f in findings if not operator_for(f.entity_type).keeps_value]
    if not active:
        return text
    active = _absorb(active, containers) if containers else sorted(active, key=lambda f: f.start)
    out: list[str] = []
    pos = 0
    for f in active:
        out.append(text[pos:f.start])
        out.append(operator_for(f.entity_type).operate(text[f.start:f.end], f.entity_type, ctx))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
