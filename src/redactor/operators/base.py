"""The operator interface and registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

from pydantic import BaseModel, ValidationError

from ..errors import OperatorError
from ..registry import Registry

if TYPE_CHECKING:
    from ..vault import TokenScope

__all__ = ["OPERATORS", "OperationContext", "Operator", "OperatorFactory", "TokenIssuer",
           "build_operator"]


class TokenIssuer(Protocol):
    """Issues reversible tokens (:class:`redactor.vault.Vault` is one)."""

    def issue(self, entity_type: str, value: str, scope: TokenScope) -> str: ...


@dataclass
class OperationContext:
    """State shared by the operators of one call (one text, one batch or one JSON payload).

    ``hash_key`` is the key for the ``hash`` operator when given in code
    (``Redactor(hash_key=...)``); ``pseudonyms`` numbers values per entity type.
    ``vault`` and ``scope`` (tenant and ticket) are what ``pseudonymize`` with
    ``vault: true`` issues tokens through; without them that operator raises.
    """

    hash_key: bytes | None = None
    vault: TokenIssuer | None = None
    scope: TokenScope | None = None
    pseudonyms: dict[tuple[str, str], int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def pseudonym_number(self, entity_type: str, value: str) -> int:
        """1, 2, 3... per entity type; the same value (case-folded) gets the same number."""
        key = (entity_type, " ".join(value.casefold().split()))
        number = self.pseudonyms.get(key)
        if number is None:
            number = self.counters.get(entity_type, 0) + 1
            self.counters[entity_type] = number
            self.pseudonyms[key] = number
        return number


class Operator(Protocol):
    """Turns one finding's value into its replacement text."""

    name: str
    keeps_value: bool  # True only for ``keep``: the characters stay as they are

    def operate(self, value: str, entity_type: str, ctx: OperationContext) -> str: ...


@dataclass(frozen=True)
class OperatorFactory:
    params: type[BaseModel]
    build: Callable[[Any], Operator]


OPERATORS: Registry[OperatorFactory] = Registry("operator", OperatorError)


def build_operator(name: str, params: dict[str, Any], *, hash_key: bytes | None = None) -> Operator:
    """Build operator ``name`` from its parameters.

    Raises:
        OperatorError: unknown operator, a bad parameter, or a missing key for ``hash``.
    """
    factory = OPERATORS.get(name)
    try:
        parsed = factory.params.model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise OperatorError(f"operator '{name}': parameter '{key}': {err['msg']}") from None
    if name == "hash":
        return factory.build((parsed, hash_key))
    return factory.build(parsed)
