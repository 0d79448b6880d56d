"""``keep``: the value stays; the finding is still reported (and audited)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .base import OPERATORS, OperationContext, OperatorFactory


class KeepParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Keep:
    name = "keep"
    keeps_value = True

    def __init__(self, params: KeepParams) -> None:
        pass

    def operate(self, value: str, entity_type: str, ctx: OperationContext) -> str:
        return value


OPERATORS.register("keep")(OperatorFactory(KeepParams, Keep))
