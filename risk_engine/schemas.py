"""Shared pydantic building blocks for request and response bodies.

Requests are strict about shape: unknown fields are refused (``extra="forbid"``). Money is a
decimal string in CNY with at most two places (``"125000.00"``; ``"125000"`` or ``125000`` are taken as
``125000.00``) and under 10 trillion; a JSON float is refused because it cannot carry an exact amount.
Values no database column can hold are refused by field, never met as a 500 on the way in: text with a
NUL character (PostgreSQL refuses it), an instant that leaves years 1-9999 once converted to UTC.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, NoReturn, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError


def _exact_decimal(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("send amounts as decimal strings (e.g. \"125000.00\"), not JSON numbers with a fraction")
    if isinstance(value, bool):
        raise ValueError("not a number")
    return value


CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    # "700000", 800000, "700000.5" and "7E+5" are exact amounts: carry each as the two-place amount it is, so
    # what a decision records and hashes is what the database gives back (NUMERIC(18, 2)) and a signed
    # report over it verifies. "-0" passes ge=0: carried as 0.00, never "-0.00", which no column gives back
    return value.quantize(CENT).copy_abs()


Money = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    # at most 13 digits before the point (under 10 trillion CNY): exact on SQLite too, whose NUMERIC keeps 15
    # significant digits
    Field(max_digits=15, decimal_places=2, ge=0, examples=["125000.00"]),
    AfterValidator(_cents),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    # described as what to send and what comes back: a decimal string (an integer is taken too)
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,13}(\.[0-9]{1,2})?$", "examples": ["125000.00"],
                    "description": "CNY amount: a decimal string with at most two places"}),
]
PositiveMoney = Annotated[Money, Field(gt=0)]
Ratio = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    Field(max_digits=12, decimal_places=6, ge=0, examples=["0.80"]),
    PlainSerializer(lambda d: format(d.normalize(), "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,6}(\.[0-9]{1,6})?$", "examples": ["0.80"],
                    "description": "a ratio or rate: a decimal string with at most six places"}),
]


def _unstorable(value: Any) -> str | None:
    """Why no database column can hold ``value`` (a plain value, or a list or dict of them), or None."""
    if isinstance(value, str):
        return "must not contain the NUL character (U+0000)" if "\x00" in value else None
    if isinstance(value, datetime):
        try:
            value.astimezone(UTC)
        except OverflowError:
            return "is outside the years 1-9999 once converted to UTC"
        return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        return next((reason for item in value if (reason := _unstorable(item))), None)
    return None


_ALWAYS_STORABLE = frozenset({bool, int, Decimal, date})


def refuse(model: BaseModel, field: str, message: str) -> NoReturn:
    """From a model validator, refuse the request naming ``field`` (``body.limit``): a plain ``ValueError``
    there would name only the whole body."""
    raise ValidationError.from_exception_data(type(model).__name__, [InitErrorDetails(
        type=PydanticCustomError("value_error", message), loc=(field,), input=getattr(model, field, None))])


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # fields holding raw items that are validated (and refused) one by one later, e.g. a batch's events
    unchecked_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _storable_values(self) -> Self:
        # one pass per object, not a validator call per field: a bulk load parses millions of events
        problems = []
        for name, value in self.__dict__.items():
            kind = type(value)
            if (kind is str and "\x00" not in value) or value is None or kind in _ALWAYS_STORABLE:
                continue
            if name in self.unchecked_fields:
                continue
            if reason := _unstorable(value):
                problems.append(InitErrorDetails(type=PydanticCustomError("value_error", reason), loc=(name,),
                                                 input=value))
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
