"""``pseudonymize``: ``<PERSON_1>``, ``<PERSON_2>``...; the same value keeps its number
within one call (one text, one ``redact_many`` batch, one JSON payload)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from .base import OPERATORS, OperationContext, OperatorFactory


class PseudonymizeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: str = "<{entity_type}_{n}>"

    @field_validator("format")
    @classmethod
    def _has_number(cls, v: str) -> str:
        if "{n}" not in v:
            raise ValueError("format must contain {n}")
        return v


class Pseudonymize:
    name = "pseudonymize"
    keeps_value = False

    def __init__(self, params: PseudonymizeParams) -> None:
        self._format = params.format

    def operate(self, value: str, entity_type: str, ctx: OperationContext) -> str:
        n = ctx.pseudonym_number(entity_type, value)
        return self._format.replace("{entity_type}", entity_type).replace("{n}", str(n))


OPERATORS.register("pseudonymize")(OperatorFactory(PseudonymizeParams, Pseudonymize))
