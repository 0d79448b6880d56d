"""The Redactor: runs the recognizers, merges their findings and applies operators.

Detection pipeline for each text (see DESIGN.md, "the hot path"):

1. normalise (NFKC, zero-width removed, dashes folded) with an offset map back;
2. pattern pass: every pattern / phone / name / URL recognizer of the policy's packs;
3. NER pass: the spaCy pipeline's ``ner`` only, many texts per ``nlp.pipe`` batch;
4. merge: thresholds, allow list, overlap resolution, offsets mapped to the original;
5. operate: one operator per entity type, applied in one pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Collection, Iterable, Iterator, Sequence

import regex

from .anonymize import apply_operators
from .errors import OperatorError, PolicyError, UnknownEntityError
from .findings import Finding, resolve_overlaps
from .lists import DenyListRecognizer
from .nlp import LABELS, NerRecognizer
from .normalize import NormalizedText, normalize
from .operators import OperationContext, Operator, build_operator
from .packs import load_pack
from .policy import Policy, PolicySource, load_policy
from .recognizer import Deadline, Recognizer, ScanText
from .structured import JsonRedactionResult, JsonRules, redact_json

__all__ = ["RedactionResult", "Redactor"]

log = logging.getLogger(__name__)

_FROM_POLICY: Any = object()


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """The redacted ``text`` and the ``findings`` (offsets into the *original* text)."""

    text: str
    findings: tuple[Finding, ...]

    def counts(self) -> dict[str, int]:
        """Number of findings per entity type, e.g. ``{"EMAIL_ADDRESS": 2}``."""
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.entity_type] = out.get(f.entity_type, 0) + 1
        return out


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return text


class Redactor:
    """A loaded detection engine plus a policy; reuse one for many calls.

    Args:
        policy: a :class:`Policy`, a mapping, a YAML path or a built-in name
            (``"default"``, ``"patterns_only"``); ``None`` means ``"default"``.
        model: spaCy pipeline to use instead of the policy's ``model``
            (``None`` turns NER off: patterns only).
        extra_recognizers: more recognizers: redactor's own, or Presidio
            ``EntityRecognizer`` / ``PatternRecognizer`` instances.
        hash_key: key for the ``hash`` operator (overrides the policy's key source).

    Raises:
        PolicyError: invalid policy, or it enables an entity type no recognizer produces.
        ModelError: the spaCy pipeline cannot be loaded.
        OperatorError: an operator cannot be built (e.g. ``hash`` with no key).

    Instances are safe to share between threads.
    """

    def __init__(self, policy: PolicySource = None, *, model: str | None = _FROM_POLICY,
                 extra_recognizers: Sequence[Any] = (), hash_key: bytes | None = None) -> None:
        self.policy: Policy = load_policy(policy)
        self.model: str | None = self.policy.model if model is _FROM_POLICY else model
        self._hash_key = hash_key
        recognizers: list[Recognizer] = [r for pack in self.policy.packs for r in _load(pack)]
        if self.policy.deny:
            recognizers.append(DenyListRecognizer([(d.value, d.entity_type) for d in self.policy.deny]))
        recognizers.extend(_adapt(r) for r in extra_recognizers)
        enabled = frozenset(self.policy.entities)
        available = {t for r in recognizers for t in r.entity_types}
        if self.model is not None:
            available |= set(LABELS.values())
        unknown = sorted(enabled - available)
        if unknown:
            ner_note = "" if self.model is not None else "; NER is off (model is None)"
            raise PolicyError(f"no recognizer produces {', '.join(unknown)} (packs: "
                              f"{', '.join(self.policy.packs)}{ner_note}); "
                              f"known: {', '.join(sorted(available))}",
                              source=self.policy.name, key=f"entities.{unknown[0]}")
        self._recognizers = tuple(r for r in recognizers if r.entity_types & enabled)
        # Container types (URL) may enclose other findings instead of competing with them.
        self._containers = frozenset(r.entity_type for r in self._recognizers  # type: ignore[attr-defined]
                                     if getattr(r, "container", False))
        ner_types = enabled & set(LABELS.values())
        self._ner = NerRecognizer(self.model, ner_types) if self.model and ner_types else None
        self._operators = self._build_operators()
        self._json_rules = JsonRules(self.policy.json_rules)
        self._allow = frozenset(v.casefold() for v in self.policy.allow)
        self.entity_types = enabled

    def _build_operators(self) -> dict[str, Operator]:
        operators: dict[str, Operator] = {}
        for etype in self.policy.entities:
            spec = self.policy.operator(etype)
            try:
                operators[etype] = build_operator(spec.type, spec.params, hash_key=self._hash_key)
            except OperatorError as exc:
                raise OperatorError(f"entities.{etype}.operator: {exc}") from None
        return operators

    # -- analysis -------------------------------------------------------------------------

    def analyze(self, text: str, *, entities: Collection[str] | None = None) -> list[Finding]:
        """Findings in ``text``, sorted by ``start``, non-overlapping except URL containers.

        Args:
            text: any ``str``; offsets in the result index it (code points, end exclusive).
            entities: restrict to these entity types (each must be enabled in the policy).

        Raises:
            TypeError: ``text`` is not a ``str``.
            UnknownEntityError: ``entities`` names a type the policy does not enable.
            DetectionTimeout: a search ran past the policy's ``pattern_timeout_s``, or the
                text's detection past ``detection_budget_s`` (seconds); nothing is returned.
        """
        return self.analyze_many([text], entities=entities)[0]

    def analyze_many(self, texts: Iterable[str], *, entities: Collection[str] | None = None,
                     batch_size: int = 64) -> list[list[Finding]]:
        """:meth:`analyze` for many texts, with NER batched through one ``nlp.pipe``.

        Each text has its own time budget (the policy's ``detection_budget_s``, seconds) for
        normalisation, the pattern pass and the merge; the NER pass is not in it (its cost is
        linear in the text; the proxy bounds it with ``redaction_timeout_s``).
        """
        texts = [_check_text(t) for t in texts]
        wanted = self._wanted(entities)
        views: list[NormalizedText] = []
        raw: list[list[Finding]] = []
        deadlines: list[Deadline] = []
        for t in texts:
            deadline = Deadline(self.policy.pattern_timeout_s, self.policy.detection_budget_s)
            views.append(normalize(t, partial(deadline.check, "normalize")))
            raw.append(self._pattern_pass(views[-1], deadline))
            deadline.pause()
            deadlines.append(deadline)
        if self._ner is not None and self._ner.entity_types & wanted:
            for found, ner in zip(raw, self._ner.find_many([v.text for v in views], batch_size=batch_size)):
                found.extend(ner)
        return [self._merge(v, found, wanted, d) for v, found, d in zip(views, raw, deadlines)]

    def _wanted(self, entities: Collection[str] | None) -> frozenset[str]:
        if entities is None:
            return self.entity_types
        if isinstance(entities, str):
            entities = [entities]
        unknown = sorted(set(entities) - self.entity_types)
        if unknown:
            raise UnknownEntityError(unknown, sorted(self.entity_types))
        return frozenset(entities)

    def _pattern_pass(self, view: NormalizedText, deadline: Deadline) -> list[Finding]:
        if not view.text:
            return []
        deadline.check("normalize")
        scan = ScanText(view.text, deadline)
        found: list[Finding] = []
        for recognizer in self._recognizers:
            found.extend(recognizer.find(scan))
            # Also catches a recognizer that does not check the budget itself (Presidio's).
            deadline.check(recognizer.name)
        return found

    def _merge(self, view: NormalizedText, found: list[Finding], wanted: frozenset[str],
               deadline: Deadline) -> list[Finding]:
        deadline.resume()
        policy, allow, text = self.policy, self._allow, view.text
        kept = [f for f in found
                if f.entity_type in wanted and f.score >= policy.threshold(f.entity_type)
                and not (allow and text[f.start:f.end].casefold() in allow)]
        containers = [f for f in kept if f.entity_type in self._containers]
        others = [f for f in kept if f.entity_type not in self._containers]
        others.extend(_repeats(text, others, deadline))
        merged = resolve_overlaps(others, text) + resolve_overlaps(containers, text)
        deadline.check("merge")
        return _to_original(view, merged)

    # -- redaction ------------------------------------------------------------------------

    def redact(self, text: str, *, entities: Collection[str] | None = None) -> RedactionResult:
        """Redact ``text``: each finding is replaced by its entity type's operator output.

        Returns a :class:`RedactionResult`; ``findings`` index the original ``text``.
        Raises as :meth:`analyze`.
        """
        return self.redact_many([text], entities=entities)[0]

    def redact_many(self, texts: Iterable[str], *, entities: Collection[str] | None = None,
                    batch_size: int = 64, ctx: OperationContext | None = None) -> list[RedactionResult]:
        """:meth:`redact` for many texts, NER batched through ``nlp.pipe``.

        One call is one operator context: ``pseudonymize`` gives the same value the same
        number across all ``texts`` of the call (pass ``ctx`` to share it wider).
        """
        texts = [_check_text(t) for t in texts]
        ctx = ctx or OperationContext(hash_key=self._hash_key)
        analyses = self.analyze_many(texts, entities=entities, batch_size=batch_size)
        return [RedactionResult(self.apply(t, f, ctx), tuple(f)) for t, f in zip(texts, analyses)]

    def apply(self, text: str, findings: Sequence[Finding], ctx: OperationContext | None = None) -> str:
        """Apply the policy's operators to ``findings`` of ``text`` (from :meth:`analyze`)."""
        return apply_operators(text, findings, self._operator_for,
                               ctx or OperationContext(hash_key=self._hash_key), self._containers)

    def redact_json(self, value: Any, *, ctx: OperationContext | None = None) -> JsonRedactionResult:
        """Redact parsed JSON field by field with the policy's ``json`` rules.

        Args:
            value: what ``json.loads`` / ``orjson.loads`` returns (dict, list, str, ...).

        Returns:
            a :class:`~redactor.structured.JsonRedactionResult` with a new ``value`` of the
            same structure and ``counts`` of findings per entity type.
        """
        return redact_json(self, self._json_rules, value,
                           ctx=ctx or OperationContext(hash_key=self._hash_key))

    def operate_entity(self, value: str, entity_type: str, ctx: OperationContext) -> str:
        """Apply ``entity_type``'s operator to a whole value (JSON ``entity`` rules)."""
        return self._operator_for(entity_type).operate(value, entity_type, ctx)

    def _operator_for(self, entity_type: str) -> Operator:
        operator = self._operators.get(entity_type)
        if operator is None:  # a type named only by a JSON rule: the policy's default operator
            spec = self.policy.operator(entity_type)
            operator = self._operators[entity_type] = build_operator(
                spec.type, spec.params, hash_key=self._hash_key)
        return operator


def _repeats(text: str, findings: list[Finding], deadline: Deadline) -> list[Finding]:
    """Other occurrences of a value already found once, as findings of the same type.

    A name or number recognised in one sentence must not stay readable in the next
    ("Dana Fakesmith called. ... Dana Fakesmith said"): every whole-word repeat of a
    found value is found too (not preceded or followed by a word character).

    Linear in the text plus the occurrences: values that start with a word character are
    looked up through an index of the text's word positions, the others with ``str.find``.
    """
    if not findings:
        return []
    covered = {(f.start, f.end) for f in findings}
    best: dict[str, Finding] = {}
    for f in findings:
        value = text[f.start:f.end]
        if len(value) >= 2 and (value not in best or f.score > best[value].score):
            best[value] = f
    words: dict[str, list[int]] | None = None
    repeats: list[Finding] = []
    for value, f in best.items():
        deadline.check("repeats")
        lead = _WORD_RUN.match(value)
        if lead is not None:
            if words is None:
                words = {}
                for m in deadline.finditer(_WORD_RUN, text, "repeats"):
                    words.setdefault(m.group(), []).append(m.start())
            # The word run at an occurrence's start must be exactly the value's first word run.
            starts: Iterable[int] = words.get(lead.group(), ())
        else:
            starts = _find_all(text, value)
        for start in starts:
            end = start + len(value)
            if (start, end) in covered or not text.startswith(value, start):
                continue
            if _is_word(text, start - 1) or _is_word(text, end):
                continue
            repeats.append(replace(f, start=start, end=end, explanation="repeat"))
    # One occurrence only (the finding itself) gives no repeat.
    return repeats


_WORD_RUN = regex.compile(r"\w+")


def _is_word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and _WORD_RUN.match(text, i, i + 1) is not None


def _find_all(text: str, value: str) -> Iterator[int]:
    start = text.find(value)
    while start >= 0:
        yield start
        start = text.find(value, start + 1)


def _to_original(view: NormalizedText, findings: list[Finding]) -> list[Finding]:
    if view.source is None:
        return sorted(findings, key=lambda f: (f.start, -f.end))
    mapped: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        start, end = view.to_original(f.start, f.end)
        mapped.append(replace(f, start=start, end=end))
    return mapped


def _load(pack: str) -> tuple[Recognizer, ...]:
    return load_pack(pack)


def _adapt(recognizer: Any) -> Recognizer:
    """Use a Presidio recognizer as is, through the adapter; ours pass through."""
    if hasattr(recognizer, "find") and hasattr(recognizer, "entity_types"):
        return recognizer  # type: ignore[no-any-return]
    from .presidio_compat import PresidioRecognizerAdapter

    return PresidioRecognizerAdapter(recognizer)
