"""``mask``: letters and digits become a masking character; some may stay visible.

``keep_last: 4`` on ``4111 1111 1111 1111`` gives ``**** **** **** 1111``: separators stay
(``preserve_separators``) and the count is of letters and digits, not characters.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .base import OPERATORS, OperationContext, OperatorFactory


class MaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    masking_char: str = Field("*", min_length=1, max_length=1)
    keep_last: int = Field(0, ge=0)
    keep_first: int = Field(0, ge=0)
    preserve_separators: bool = True


class Mask:
    name = "mask"
    keeps_value = False

    def __init__(self, params: MaskParams) -> None:
        self._p = params

    def operate(self, value: str, entity_type: str, ctx: OperationContext) -> str:
        p = self._p
        maskable = [i for i, c in enumerate(value) if c.isalnum() or not p.preserve_separators]
        # Never reveal more than half of a value, whatever the policy asks.
        visible_budget = len(maskable) // 2
        first = min(p.keep_first, visible_budget)
        last = min(p.keep_last, visible_budget - first)
        hidden = set(maskable[first:len(maskable) - last])
        return "".join(p.masking_char if i in hidden else c for i, c in enumerate(value))


OPERATORS.register("mask")(OperatorFactory(MaskParams, Mask))
