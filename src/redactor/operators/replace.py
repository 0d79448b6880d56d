"""``replace``: the value becomes a label, ``<ENTITY_TYPE>`` by default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .base import OPERATORS, OperationContext, OperatorFactory


class ReplaceParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    new_value: str = "<{entity_type}>"


class Replace:
    name = "replace"
    keeps_value = False

    def __init__(self, params: ReplaceParams) -> None:
        self._template = params.new_value

    def operate(self, value: str, entity_type: str, ctx: OperationContext) -> str:
        return self._template.replace("{entity_type}", entity_type)


OPERATORS.register("replace")(OperatorFactory(ReplaceParams, Replace))
