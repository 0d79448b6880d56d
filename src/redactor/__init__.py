"""redactor: find and mask PII in text and JSON, in-process or as a reverse proxy.

>>> from redactor import redact
>>> redact("mail dana@example.com")
'mail <EMAIL_ADDRESS>'
"""

from __future__ import annotations

import threading
from importlib.metadata import PackageNotFoundError, version
from typing import Collection

from .engine import RedactionResult, Redactor
from .errors import (DetectionTimeout, ModelError, OperatorError, PolicyError, RecognizerError,
                     RedactorError, UnknownEntityError)
from .findings import Finding
from .policy import Policy, PolicySource, load_policy

__all__ = [
    "DetectionTimeout",
    "Finding",
    "ModelError",
    "OperatorError",
    "Policy",
    "PolicyError",
    "RecognizerError",
    "RedactionResult",
    "Redactor",
    "RedactorError",
    "UnknownEntityError",
    "__version__",
    "analyze",
    "get_redactor",
    "load_policy",
    "redact",
]

try:
    __version__ = version("redactor")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_redactors: dict[str, Redactor] = {}
_redactors_lock = threading.Lock()
_MAX_CACHED = 8


def get_redactor(policy: PolicySource = None) -> Redactor:
    """The shared :class:`Redactor` for ``policy`` (built on first use, then reused).

    Redactors are cached by policy hash (up to 8), so the module-level :func:`redact` and
    :func:`analyze` load the spaCy pipeline once. Safe to call from several threads.
    """
    if policy is None and _default is not None:
        return _default
    resolved = load_policy(policy)
    key = resolved.hash
    with _redactors_lock:
        redactor = _redactors.get(key)
        if redactor is None:
            if len(_redactors) >= _MAX_CACHED:
                _redactors.pop(next(iter(_redactors)))
            redactor = _redactors[key] = Redactor(resolved)
        if policy is None:
            _set_default(redactor)
        return redactor


_default: Redactor | None = None


def _set_default(redactor: Redactor) -> None:
    global _default
    _default = redactor


def redact(text: str, *, policy: PolicySource = None, entities: Collection[str] | None = None) -> str:
    """Return ``text`` with every finding replaced by its policy operator's output.

    With the default policy each value becomes ``<ENTITY_TYPE>`` (``<EMAIL_ADDRESS>``).

    Args:
        text: the text to redact (``str``; empty gives empty).
        policy: a :class:`Policy`, mapping, YAML path or built-in name; default ``"default"``.
        entities: only these entity types (each must be enabled in the policy).

    Raises:
        TypeError: ``text`` is not a ``str``.
        PolicyError: the policy is invalid.
        UnknownEntityError: ``entities`` names a type the policy does not enable.
        DetectionTimeout: a pattern exceeded the policy's time limit (nothing is returned).
    """
    return get_redactor(policy).redact(text, entities=entities).text


def analyze(text: str, *, policy: PolicySource = None,
            entities: Collection[str] | None = None) -> list[Finding]:
    """Return the findings in ``text``, sorted by start offset.

    Each :class:`Finding` has ``entity_type``, ``start`` and ``end`` (Python ``str``
    offsets into ``text``, end exclusive), ``score`` in [0, 1] and ``recognizer``.
    Raises as :func:`redact`.
    """
    return get_redactor(policy).analyze(text, entities=entities)
