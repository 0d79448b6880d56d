"""Exceptions raised by redactor.

Every exception the package raises on purpose derives from :class:`RedactorError`,
so one ``except RedactorError`` catches them all. Messages name the thing to fix
(a file, a key, an entity type) and never contain a matched value::

    RedactorError
    ├── PolicyError            a policy file or object is invalid (file, key, line)
    │   └── PolicyOperatorError  an operator the policy sets cannot be built (e.g. ``hash``
    │                            with no key); also an OperatorError
    ├── RecognizerError        a recognizer pack is invalid, or names an unknown validator
    ├── UnknownEntityError     an entity type is not enabled in the policy (also a ValueError)
    ├── ModelError             the spaCy pipeline cannot be loaded
    ├── OperatorError          an operator cannot run (e.g. the hash key is missing)
    └── DetectionTimeout       a pattern search, or the whole detection pass of one text,
                               exceeded its time limit; the text was not redacted

Non-``str`` input raises the built-in :class:`TypeError`, naming the type received.
"""

from __future__ import annotations

__all__ = [
    "DetectionTimeout",
    "ModelError",
    "OperatorError",
    "PolicyError",
    "PolicyOperatorError",
    "RecognizerError",
    "RedactorError",
    "UnknownEntityError",
]


class RedactorError(Exception):
    """Base class of every error redactor raises on purpose."""


class PolicyError(RedactorError):
    """A policy is invalid.

    Attributes:
        source: the policy file path, or ``"<dict>"`` / ``"<builtin:NAME>"``.
        key: dotted path of the offending key, e.g. ``"entities.PERSON.threshold"``, or ``None``.
        line: 1-based line in ``source`` where the key is, when known.
        detail: the message without the location prefix.
    """

    def __init__(self, message: str, *, source: str = "<policy>", key: str | None = None,
                 line: int | None = None) -> None:
        self.source = source
        self.key = key
        self.line = line
        self.detail = message
        where = source if line is None else f"{source}:{line}"
        prefix = f"{where}: " if key is None else f"{where}: key '{key}': "
        super().__init__(prefix + message)


class RecognizerError(RedactorError):
    """A recognizer pack (``recognizers/*.yaml``) is invalid.

    Attributes:
        source: the pack file, ``recognizer``: the recognizer name when known.
    """

    def __init__(self, message: str, *, source: str = "<pack>", recognizer: str | None = None) -> None:
        self.source = source
        self.recognizer = recognizer
        self.detail = message
        where = source if recognizer is None else f"{source}: recognizer '{recognizer}'"
        super().__init__(f"{where}: {message}")


class UnknownEntityError(RedactorError, ValueError):
    """An entity type was asked for that the policy does not enable."""

    def __init__(self, unknown: list[str], known: list[str]) -> None:
        self.unknown = unknown
        self.known = known
        super().__init__(
            f"entity types not enabled in the policy: {', '.join(unknown)}; "
            f"enabled: {', '.join(known)}"
        )


class ModelError(RedactorError):
    """The spaCy pipeline named by the policy or ``Redactor(model=...)`` cannot be loaded."""


class OperatorError(RedactorError):
    """An operator cannot be built or applied (e.g. ``hash`` without a key)."""


class PolicyOperatorError(PolicyError, OperatorError):
    """An operator the policy configures cannot be built when a :class:`~redactor.Redactor`
    is made, e.g. ``hash`` with no key (``key_env`` / ``key_file`` in the policy, or
    ``Redactor(hash_key=...)``). A :class:`PolicyError` (file, key, line; the CLI exits 2)
    and, as before, an :class:`OperatorError`."""


class DetectionTimeout(RedactorError):
    """Detection ran out of time: one search, or the whole pass over one text.

    Two limits of the policy apply to each text: ``pattern_timeout_s`` bounds every
    regular-expression search (the ``regex`` module's ``timeout=``) and
    ``detection_budget_s`` bounds all recognizers together. The text is not redacted and
    nothing is returned for it: callers must fail closed.

    Attributes:
        recognizer: name of the recognizer that was running when the limit was hit.
        limit_s: the limit that was exceeded, in seconds.
        kind: ``"pattern"`` (one search) or ``"budget"`` (the whole text).
    """

    def __init__(self, recognizer: str, limit_s: float, *, kind: str = "pattern") -> None:
        self.recognizer = recognizer
        self.limit_s = limit_s
        self.kind = kind
        if kind == "budget":
            message = (f"detection of one text exceeded its {limit_s:g} s budget (in recognizer "
                       f"'{recognizer}'); raise the policy's detection_budget_s or send smaller texts")
        else:
            message = (f"recognizer '{recognizer}' exceeded its {limit_s:g} s pattern time limit; "
                       "raise the policy's pattern_timeout_s or send smaller texts")
        super().__init__(message)
