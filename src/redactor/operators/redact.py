"""``redact``: the value is removed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .base import OPERATORS, OperationContext, OperatorFactory


class RedactParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Redact:
    name = "redact"
    keeps_value = False

    def __init__(self, params: RedactParams) -> None:
        pass

    def operate(self, value: str, entity_type: str, ctx: OperationContext) -> str:
        return ""


OPERATORS.register("redact")(OperatorFactory(RedactParams, Redact))
