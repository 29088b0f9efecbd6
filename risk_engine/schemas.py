"""Shared pydantic building blocks for request and response bodies.

Requests are strict about shape: unknown fields are refused (``extra="forbid"``). Money is a
decimal string in CNY with at most two places (``"125000.00"``); a JSON float is refused because
it cannot carry an exact amount.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer


def _exact_decimal(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("send amounts as decimal strings (e.g. \"125000.00\"), not JSON numbers with a fraction")
    if isinstance(value, bool):
        raise ValueError("not a number")
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    Field(max_digits=18, decimal_places=2, ge=0, examples=["125000.00"]),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
]
PositiveMoney = Annotated[Money, Field(gt=0)]
Ratio = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    Field(max_digits=12, decimal_places=6, ge=0, examples=["0.80"]),
    PlainSerializer(lambda d: format(d.normalize(), "f"), return_type=str, when_used="json"),
]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
