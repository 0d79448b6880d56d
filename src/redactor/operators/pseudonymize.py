"""``pseudonymize``: ``<PERSON_1>``, ``<PERSON_2>``...; the same value keeps its number
within one call (one text, one ``redact_many`` batch, one JSON payload).

With ``vault: true`` it issues reversible vault tokens instead (``<PERSON_4F2A9Q>``,
see :mod:`redactor.vault`): the same value gets the same token in the same ticket scope
for the token's TTL. The call's :class:`OperationContext` must carry ``vault`` and
``scope``; without them the operator raises :class:`OperatorError` (no text is output).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ..errors import OperatorError
from .base import OPERATORS, OperationContext, OperatorFactory


class PseudonymizeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: str = "<{entity_type}_{n}>"
    vault: bool = False

    @field_validator("format")
    @classmethod
    def _has_number(cls, v: str) -> str:
        if "{n}" not in v:
            raise ValueError("format must contain {n}")
        return v

    @model_validator(mode="after")
    def _vault_has_fixed_format(self) -> PseudonymizeParams:
        if self.vault and "format" in self.model_fields_set:
            raise ValueError("format cannot be combined with vault: true (tokens look like "
                             "<ENTITY_TYPE_7K3P9Q> so they can be re-hydrated)")
        return self


class Pseudonymize:
    name = "pseudonymize"
    keeps_value = False

    def __init__(self, params: PseudonymizeParams) -> None:
        self._format = params.format
        self._vault = params.vault

    def operate(self, value: str, entity_type: str, ctx: OperationContext) -> str:
        if self._vault:
            if ctx.vault is None or ctx.scope is None:
                raise OperatorError("pseudonymize with vault: true needs a vault and a ticket "
                                    "scope in the operation context")
            return ctx.vault.issue(entity_type, value, ctx.scope)
        n = ctx.pseudonym_number(entity_type, value)
        return self._format.replace("{entity_type}", entity_type).replace("{n}", str(n))


OPERATORS.register("pseudonymize")(OperatorFactory(PseudonymizeParams, Pseudonymize))
