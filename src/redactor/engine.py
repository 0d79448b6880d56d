"""The Redactor: runs the recognizers, merges their findings and applies operators.

Detection pipeline for each text (see DESIGN.md, "the hot path"):

0. cache: a text analysed before (same policy, same entity types) takes its findings from
   the :class:`~redactor.cache.AnalysisCache` and skips steps 1-4; equal texts of one batch
   are analysed once;
1. normalise (NFKC, zero-width removed, dashes folded) with an offset map back;
2. pattern pass: every pattern / phone / name / URL recognizer of the policy's packs;
3. NER pass: the spaCy pipeline's ``ner`` only, many texts per ``nlp.pipe`` batch (texts
   with no letter skip it); with ``workers=N`` steps 1-4 run in worker processes;
4. merge: thresholds, allow list, overlap resolution, offsets mapped to the original;
5. operate: one operator per entity type, applied in one pass.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Collection, Iterable, Iterator, Sequence

import regex

from .anonymize import apply_operators
import orjson

from .cache import AnalysisCache, PayloadCache
from .errors import OperatorError, PolicyOperatorError, UnknownEntityError
from .findings import Finding, resolve_overlaps
from .lists import DenyListRecognizer
from .nlp import LABELS, NerRecognizer
from .normalize import NormalizedText, normalize
from .operators import OperationContext, Operator, build_operator
from .packs import load_pack
from .policy import Policy, PolicySource, did_you_mean, load_policy
from .recognizer import Deadline, Recognizer, ScanText
from .structured import JsonRedactionResult, JsonRules, redact_json

__all__ = ["RedactionResult", "Redactor"]

log = logging.getLogger(__name__)

_FROM_POLICY: Any = object()

# Below this many characters to analyse, a ``workers=N`` call stays in this process: sending
# the texts to a worker and the findings back costs about what the second core saves
# (measured with workers=2, default policy: 1.02x at 340 characters a call, 1.17x at 680).
POOL_MIN_CHARS = 1000


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
            (``"default"``, ``"patterns_only"``, ``"patterns_fast"``); ``None`` means
            ``"default"``.
        model: spaCy pipeline to use instead of the policy's ``model``
            (``None`` turns NER off: patterns only).
        extra_recognizers: more recognizers: redactor's own, or Presidio
            ``EntityRecognizer`` / ``PatternRecognizer`` instances.
        hash_key: key for the ``hash`` operator (overrides the policy's key source).
        cache_size: number of analysed texts remembered (default 4096; ``0`` turns the
            cache off). The cache (:class:`~redactor.cache.AnalysisCache`) is keyed by
            HMAC-SHA256 of the text with a per-process random key and the policy hash, and
            holds *findings* (entity types and offsets), never the text or the values found;
            a hit skips detection, the operators still run. :meth:`redact_json` also keeps
            the last ``cache_size // 16`` *redacted* payloads (at most 32 MB) under a keyed
            hash of the payload (:class:`~redactor.cache.PayloadCache`), used only when no
            ``ctx`` is passed (then the result depends on the payload alone).
        payload_cache: ``False`` keeps the findings cache but not the payload cache, for a
            caller that caches whole payloads itself (the proxy caches raw bodies).

    Raises:
        PolicyError: invalid policy, or it enables an entity type no recognizer produces.
        ModelError: the spaCy pipeline cannot be loaded.
        PolicyOperatorError: an operator of the policy cannot be built (e.g. ``hash`` with
            no key); a PolicyError naming the file, key and line, and an OperatorError.

    Instances are safe to share between threads. ``workers=N`` on the batch methods runs
    detection in N worker processes (:class:`~redactor.workers.RedactorPool`, started on
    first use and kept until :meth:`close`).
    """

    def __init__(self, policy: PolicySource = None, *, model: str | None = _FROM_POLICY,
                 extra_recognizers: Sequence[Any] = (), hash_key: bytes | None = None,
                 cache_size: int = 4096, payload_cache: bool = True) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0 (0 turns the cache off), not {cache_size}")
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
            suggestion = did_you_mean(unknown[0], available).lstrip("; ")
            raise self.policy.error(f"no recognizer produces {', '.join(unknown)} (packs: "
                                    f"{', '.join(self.policy.packs)}{ner_note}); "
                                    f"{suggestion + ' ' if suggestion else ''}"
                                    f"known: {', '.join(sorted(available))}",
                                    key=f"entities.{unknown[0]}")
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
        self._extra = tuple(extra_recognizers)
        self.cache: AnalysisCache | None = AnalysisCache(cache_size) if cache_size else None
        self.payload_cache: PayloadCache | None = (PayloadCache(max(1, cache_size // 16))
                                                   if cache_size and payload_cache else None)
        self._scopes: dict[frozenset[str], bytes] = {}
        self._pools: dict[int, Any] = {}
        self._pools_lock = threading.Lock()

    def _build_operators(self) -> dict[str, Operator]:
        operators: dict[str, Operator] = {}
        for etype in self.policy.entities:
            spec = self.policy.operator(etype)
            try:
                operators[etype] = build_operator(spec.type, spec.params, hash_key=self._hash_key)
            except OperatorError as exc:  # e.g. hash without a key: the policy's setting to fix
                explicit = self.policy.entities[etype].operator is not None
                raise self.policy.error(
                    str(exc), key=f"entities.{etype}.operator" if explicit else "default_operator",
                    cls=PolicyOperatorError) from None
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
                     batch_size: int = 64, workers: int | None = None) -> list[list[Finding]]:
        """:meth:`analyze` for many texts, with NER batched through one ``nlp.pipe``.

        Args:
            texts: the texts; the result has one list of findings per text, in order.
            batch_size: texts per ``nlp.pipe`` batch.
            workers: ``None`` or 1: detection in this process. ``N`` > 1: texts not in the
                cache are split by size across this process and ``N - 1`` worker processes
                (started on first use, about 1-3 s each, then kept; see :meth:`close`), so
                ``N`` cores work on them, unless they hold fewer than ``POOL_MIN_CHARS``
                (1,000) characters in all. Same findings either way.

        Texts found in the cache are not analysed again; equal texts in one call are
        analysed once. Each text has its own time budget (the policy's
        ``detection_budget_s``, seconds) for normalisation, the pattern pass and the merge;
        the NER pass is not in it (its cost is linear in the text; the proxy bounds it with
        ``redaction_timeout_s``). Raises as :meth:`analyze`, plus ``ValueError`` for
        ``workers`` < 1.
        """
        return self._analyze_checked([_check_text(t) for t in texts], entities, batch_size, workers)

    def _analyze_checked(self, texts: list[str], entities: Collection[str] | None,
                         batch_size: int, workers: int | None) -> list[list[Finding]]:
        wanted = self._wanted(entities)
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        cache = self.cache
        if cache is None and len(texts) < 2 and (workers or 1) == 1:
            return self._analyze_uncached(texts, wanted, batch_size)
        groups: dict[str, list[int]] = {}  # equal texts (JSON enums, signatures): one analysis
        for i, text in enumerate(texts):
            groups.setdefault(text, []).append(i)
        scope = self._scope(wanted) if cache is not None else b""
        results: list[list[Finding]] = [[] for _ in texts]
        todo: list[tuple[str, bytes | None, list[int]]] = []
        for text, idx in groups.items():
            key = None
            if cache is not None:
                key = cache.key(scope, text)
                hit = cache.get(key)
                if hit is not None:
                    for i in idx:
                        results[i] = list(hit)
                    continue
            todo.append((text, key, idx))
        if todo:
            firsts = [t for t, _, _ in todo]
            if (workers is not None and workers > 1 and len(firsts) > 1
                    and sum(map(len, firsts)) >= POOL_MIN_CHARS):
                # workers=N: N-1 worker processes and this one, so N cores in all.
                found = self._pool(workers - 1).analyze_many(
                    firsts, entities=None if entities is None else sorted(wanted), batch_size=batch_size,
                    local=lambda share: self._analyze_uncached(share, wanted, batch_size))
            else:
                found = self._analyze_uncached(firsts, wanted, batch_size)
            for (_, key, idx), findings in zip(todo, found):
                if cache is not None and key is not None:
                    cache.put(key, tuple(findings))
                for i in idx:
                    results[i] = list(findings)
        return results

    def _scope(self, wanted: frozenset[str]) -> bytes:
        """Cache scope: the policy hash and the entity types asked for."""
        scope = self._scopes.get(wanted)
        if scope is None:
            scope = f"{self.policy.hash}|{','.join(sorted(wanted))}|".encode()
            self._scopes[wanted] = scope
        return scope

    def _pool(self, workers: int) -> Any:
        with self._pools_lock:
            pool = self._pools.get(workers)
            if pool is None:
                from .workers import RedactorPool

                pool = RedactorPool(self.policy, workers=workers, model=self.model,
                                    extra_recognizers=self._extra)
                self._pools[workers] = pool
                weakref.finalize(self, pool.close)
            return pool

    def close(self) -> None:
        """Stop the worker processes started by ``workers=N`` calls (idempotent).

        The Redactor stays usable; a later ``workers=N`` call starts a new pool.
        """
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def _analyze_uncached(self, texts: list[str], wanted: frozenset[str],
                          batch_size: int) -> list[list[Finding]]:
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
                    batch_size: int = 64, ctx: OperationContext | None = None,
                    workers: int | None = None) -> list[RedactionResult]:
        """:meth:`redact` for many texts, NER batched through ``nlp.pipe``.

        One call is one operator context: ``pseudonymize`` gives the same value the same
        number across all ``texts`` of the call (pass ``ctx`` to share it wider). With
        ``workers=N`` detection runs in N worker processes (see :meth:`analyze_many`); the
        operators still run here, in one context.
        """
        texts = [_check_text(t) for t in texts]
        ctx = ctx or OperationContext(hash_key=self._hash_key)
        analyses = self._analyze_checked(texts, entities, batch_size, workers)
        # Most strings of a payload hold nothing: no operator pass for them.
        return [RedactionResult(self.apply(t, f, ctx), tuple(f)) if f else RedactionResult(t, ())
                for t, f in zip(texts, analyses)]

    def apply(self, text: str, findings: Sequence[Finding], ctx: OperationContext | None = None) -> str:
        """Apply the policy's operators to ``findings`` of ``text`` (from :meth:`analyze`)."""
        return apply_operators(text, findings, self._operator_for,
                               ctx or OperationContext(hash_key=self._hash_key), self._containers)

    def redact_json(self, value: Any, *, ctx: OperationContext | None = None,
                    workers: int | None = None) -> JsonRedactionResult:
        """Redact parsed JSON field by field with the policy's ``json`` rules.

        All string fields to scan go through one :meth:`redact_many` call (one ``nlp.pipe``).

        Args:
            value: what ``json.loads`` / ``orjson.loads`` returns (dict, list, str, ...).
            workers: as in :meth:`analyze_many`: detection of the payload's strings split
                across N worker processes.

        Returns:
            a :class:`~redactor.structured.JsonRedactionResult` with a new ``value`` of the
            same structure and ``counts`` of findings per entity type.
        """
        cache = self.payload_cache if ctx is None else None  # a caller's ctx: results vary
        raw = _canonical_json(value) if cache is not None else None
        if cache is None or raw is None:
            return redact_json(self, self._json_rules, value,
                               ctx=ctx or OperationContext(hash_key=self._hash_key), workers=workers)
        key = cache.key(self._scope(self.entity_types) + b"json|", raw)
        hit = cache.get(key)
        if hit is not None:  # a fresh copy: the caller may change what it gets
            return JsonRedactionResult(orjson.loads(hit[0]), dict(hit[1]))
        result = redact_json(self, self._json_rules, value,
                             ctx=OperationContext(hash_key=self._hash_key), workers=workers)
        redacted = _canonical_json(result.value)
        if redacted is not None and orjson.loads(redacted) == result.value:  # JSON round trip
            cache.put(key, redacted, tuple(result.counts.items()))
        return result

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


def _canonical_json(value: Any) -> bytes | None:
    """``orjson.dumps(value)``, or None for what orjson cannot write exactly (non-str keys,
    integers over 64 bits, NaN / infinity, other types): such payloads are not cached."""
    try:
        raw = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    if b"null" in raw and _has_nonfinite(value):
        return None  # orjson writes NaN and infinity as null: two payloads, one key
    return raw


def _has_nonfinite(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return False


def _repeats(text: str, findings: list[Finding], deadline: Deadline) -> list[Finding]:
    """Other occurrences of a value already found once, as findings of the same type.

    A name or number recognised in one sentence must not stay readable in the next
    ("Dana Fakesmith called. ... Dana Fakesmith said"): every whole-word repeat of a
    found value is found too (not preceded or followed by a word character).

    Up to 16 distinct values are looked up with ``str.find``; beyond that, each word of the
    text that starts some value is looked up among the values of that first word and length,
    so the time stays linear in the text plus the occurrences. The time budget is checked as
    words are tried.
    """
    if not findings:
        return []
    covered = {(f.start, f.end) for f in findings}
    best: dict[str, Finding] = {}
    for f in findings:
        value = text[f.start:f.end]
        if len(value) >= 2 and (value not in best or f.score > best[value].score):
            best[value] = f
    # A few values: str.find (C speed) per value. Many values: those that start with a word
    # are grouped by first word and length, and each word of the text that is such a first
    # word is looked up in its group: the work is linear in the text and the occurrences
    # however many values share a first word. (One pass over the words measured faster than
    # a regex named list of the first words, or str.find per first word.)
    by_lead: dict[str, dict[int, set[str]]] = {}
    grouped: set[str] = set()  # the values looked up through by_lead
    if len(best) > _FIND_VALUES:
        for value in best:
            lead = _WORD_RUN.match(value)
            if lead is not None:
                by_lead.setdefault(lead.group(), {}).setdefault(len(value), set()).add(value)
                grouped.add(value)
    found_at: dict[str, list[int]] = {}  # value -> starts of its occurrences
    if by_lead:
        for n, m in enumerate(deadline.scan(_WORD_RUN, text, "repeats"), 1):
            if n % 1024 == 0:
                deadline.check("repeats")
            groups = by_lead.get(m.group())
            if groups is None:
                continue
            start = m.start()
            for length, values in groups.items():
                value = text[start:start + length]
                if value in values:
                    found_at.setdefault(value, []).append(start)
    repeats: list[Finding] = []
    for value, f in best.items():  # in the order of the values, as the findings came
        deadline.check("repeats")
        starts: Iterable[int] = found_at.get(value, ()) if value in grouped else _find_all(text, value)
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
_FIND_VALUES = 16


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
        # Offsets before the first folded character map to themselves: no copy needed.
        mapped.append(f if start == f.start and end == f.end else replace(f, start=start, end=end))
    return mapped


def _load(pack: str) -> tuple[Recognizer, ...]:
    return load_pack(pack)


def _adapt(recognizer: Any) -> Recognizer:
    """Use a Presidio recognizer as is, through the adapter; ours pass through."""
    if hasattr(recognizer, "find") and hasattr(recognizer, "entity_types"):
        return recognizer  # type: ignore[no-any-return]
    from .presidio_compat import PresidioRecognizerAdapter

    return PresidioRecognizerAdapter(recognizer)
