"""JSON redaction, field by field, with the policy's field rules.

Every string value is scanned by default, all of one payload in one NER batch. Field rules
(``json.rules`` in the policy) use a JSONPath subset:

* ``$`` the root, ``.name`` a member, ``..name`` a member at any depth, ``.*`` any member,
  ``[*]`` any list item, ``[3]`` one list item;
* ``action: entity`` replaces the whole value as ``entity_type`` (``$..email``),
  ``action: keep`` leaves it (``$..id``), ``action: scan`` runs detection on it.

The first rule that matches a value decides; otherwise ``json.default``. Integers of 7 or
more digits (phones, cards, SSNs written as numbers) are scanned as text when
``json.scan_numbers`` is on and become strings when they hold PII: a number counts as PII
when its checksum says so (a Luhn-valid card number) or when its field name is context
for the finding (``"phone": 2125550143``), so numeric ids (``"requester_id": 6012691534``)
stay numbers. Keys, list lengths and
every non-string value stay as they are. The walk is iterative, so deep nesting cannot
overflow the stack.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import regex

from .errors import PolicyError
from .operators import OperationContext

if TYPE_CHECKING:
    from .engine import Redactor
    from .policy import JsonPolicy

__all__ = ["JsonPath", "JsonRedactionResult", "JsonRules", "redact_json"]

_STEP = regex.compile(r"\.\.([^.\[\]]+)|\.([^.\[\]]+)|\[(\*|\d+)\]|\[['\"]([^'\"]+)['\"]\]")

PathKey = tuple[str | int, ...]


class JsonPath:
    """A compiled JSONPath subset expression, matched against concrete paths."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        if not expression.startswith("$"):
            raise PolicyError(f"JSON path must start with '$': {expression!r}", key="json.rules")
        steps: list[tuple[str, str | int | None]] = []
        pos = 1
        for m in _STEP.finditer(expression, 1):
            if m.start() != pos:
                break
            pos = m.end()
            if m.group(1) is not None:
                steps.append(("desc", None if m.group(1) == "*" else m.group(1)))
            elif m.group(2) is not None:
                steps.append(("child", None if m.group(2) == "*" else m.group(2)))
            elif m.group(4) is not None:
                steps.append(("child", m.group(4)))
            else:
                steps.append(("index", None if m.group(3) == "*" else int(m.group(3))))
        if pos != len(expression):
            raise PolicyError(f"unsupported JSON path syntax at character {pos}: {expression!r}",
                              key="json.rules")
        self._steps = tuple(steps)
        self.uses_index = any(kind == "index" and arg is not None for kind, arg in steps)

    def matches(self, path: PathKey) -> bool:
        return _match(self._steps, 0, path, 0)


def _step_ok(kind: str, arg: str | int | None, key: str | int) -> bool:
    if kind == "index":
        return isinstance(key, int) and (arg is None or arg == key)
    return isinstance(key, str) and (arg is None or arg == key)


def _match(steps: tuple[tuple[str, Any], ...], si: int, path: PathKey, pi: int) -> bool:
    if si == len(steps):
        return pi == len(path)
    kind, arg = steps[si]
    if kind == "desc":
        # `..name` matches `name` at this level or any deeper one.
        return any(_step_ok("child", arg, path[j]) and _match(steps, si + 1, path, j + 1)
                   for j in range(pi, len(path)))
    return pi < len(path) and _step_ok(kind, arg, path[pi]) and _match(steps, si + 1, path, pi + 1)


@dataclass(frozen=True, slots=True)
class JsonRedactionResult:
    """The redacted JSON ``value`` and the number of findings per entity type."""

    value: Any
    counts: dict[str, int]


class JsonRules:
    """The compiled field rules of one policy; decisions are cached per path shape."""

    def __init__(self, policy: JsonPolicy) -> None:
        self._rules = [(JsonPath(r.path), r.action, r.entity_type) for r in policy.rules]
        self._default = policy.default
        self._by_shape = not any(p.uses_index for p, _, _ in self._rules)
        self._decide_shape = lru_cache(maxsize=4096)(self._decide)

    def decide(self, path: PathKey) -> tuple[str, str | None]:
        if not self._rules:  # no field rules (the default policy): every value gets the default
            return self._default, None
        if self._by_shape:  # indices do not matter: cache per shape
            return self._decide_shape(tuple(-1 if isinstance(k, int) else k for k in path))
        return self._decide(path)

    def _decide(self, path: PathKey) -> tuple[str, str | None]:
        concrete = tuple(0 if k == -1 else k for k in path)
        for matcher, action, etype in self._rules:
            if matcher.matches(concrete):
                return action, etype
        return self._default, None


def _is_pii_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1_000_000


def redact_json(redactor: Redactor, rules: JsonRules, value: Any, *,
                ctx: OperationContext | None = None, workers: int | None = None) -> JsonRedactionResult:
    """Redact the parsed JSON ``value`` (dicts, lists, str, numbers, bools, None).

    Returns a new structure (the input is not modified) and counts of findings by type.
    One call is one operator context (pseudonym numbers are shared across the payload).
    Tuples are taken as JSON arrays and come back as lists. Object keys are kept as they are
    (they name fields; values are what is scanned).

    Raises:
        TypeError: a value JSON cannot hold (bytes, a set, any other object), naming its path
            and type; nothing is returned, so no unscanned value can slip through.
    """
    policy = redactor.policy.json_rules
    ctx = ctx or OperationContext()
    operate = redactor.operate_entity
    counts: dict[str, int] = {}
    scan_slots: list[tuple[Any, str | int, str]] = []  # container, key, text
    number_slots: list[tuple[Any, str | int, str, str]] = []  # container, key, digits, field name

    root: list[Any] = [None]
    stack: list[tuple[Any, Any, str | int, PathKey]] = [(value, root, 0, ())]
    while stack:
        node, parent, key, path = stack.pop()
        if isinstance(node, dict):
            copy: dict[str, Any] = {}
            parent[key] = copy
            for k, v in node.items():
                copy[k] = None
                stack.append((v, copy, k, path + (k,)))
            continue
        if isinstance(node, (list, tuple)):
            items: list[Any] = [None] * len(node)
            parent[key] = items
            for i, v in enumerate(node):
                stack.append((v, items, i, path + (i,)))
            continue
        if not _is_json_scalar(node):
            raise TypeError(f"redact_json: {_path_text(path)} is a {type(node).__name__}, which JSON "
                            "cannot hold; pass parsed JSON (dict, list, str, int, float, bool, None)")
        parent[key] = node
        is_number = policy.scan_numbers and _is_pii_number(node)
        if not (isinstance(node, str) or is_number):
            continue
        action, etype = rules.decide(path)
        if action == "keep":
            continue
        text = str(node) if is_number else node
        if action == "entity" and etype is not None:
            if text:
                parent[key] = operate(text, etype, ctx)
                counts[etype] = counts.get(etype, 0) + 1
            continue
        if is_number:
            field = next((k for k in reversed(path) if isinstance(k, str)), "")
            number_slots.append((parent, key, text, field))
        elif text.strip():
            scan_slots.append((parent, key, text))

    if scan_slots:
        results = redactor.redact_many([s[2] for s in scan_slots], ctx=ctx, workers=workers)
        for (parent, key, text), result in zip(scan_slots, results):
            if result.findings and result.text != text:
                parent[key] = result.text
            _add_counts(counts, result.findings)
    if number_slots:
        _redact_numbers(redactor, number_slots, ctx, counts)
    return JsonRedactionResult(root[0], counts)


_JSON_SCALARS = (str, int, float, bool, type(None))


def _is_json_scalar(node: Any) -> bool:
    return isinstance(node, _JSON_SCALARS)


def _path_text(path: PathKey) -> str:
    return "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path)


def _add_counts(counts: dict[str, int], findings: Any) -> None:
    for f in findings:
        counts[f.entity_type] = counts.get(f.entity_type, 0) + 1


def _redact_numbers(redactor: Redactor, slots: list[tuple[Any, str | int, str, str]],
                    ctx: OperationContext, counts: dict[str, int]) -> None:
    """Scan each number after its field name (as context); keep checksum or context hits."""
    texts = [f"{field.replace('_', ' ').replace('-', ' ')}: {digits}" for _, _, digits, field in slots]
    for (parent, key, digits, _), text, findings in zip(slots, texts, redactor.analyze_many(texts)):
        offset = len(text) - len(digits)
        hits = [replace(f, start=f.start - offset, end=f.end - offset) for f in findings
                if f.start >= offset and (f.entity_type == "CREDIT_CARD"
                                          or "context" in (f.explanation or ""))]
        if hits:
            redacted = redactor.apply(digits, hits, ctx)
            if redacted != digits:
                parent[key] = redacted
                _add_counts(counts, hits)
