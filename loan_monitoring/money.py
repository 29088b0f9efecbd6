"""Exact money and rates for the loan-monitoring domain.

Amounts are CNY ``Decimal`` values with two places (0.01 CNY); rates and ratios are ``Decimal``
fractions (``Decimal("0.031")`` is 3.10 %). A float never enters: it would silently turn
``0.1`` into ``0.1000000000000000055…`` and break the equalities the ledger relies on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any

from risk_engine.errors import InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """``value`` rounded half-up to the cent (for computed figures such as accrued interest)."""
    if isinstance(value, float):
        raise TypeError("money must be Decimal, int or str, never float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def require_money(value: Any, field: str, *, positive: bool = False, allow_zero: bool = True) -> Decimal:
    """An input amount: a Decimal with at most two places, not negative (strictly positive if asked).

    Raises ``InvalidInput`` naming ``field`` instead of rounding: a caller who sends 100.005 CNY
    has a bug, and silently rounding it would hide the bug in the ledger.
    """
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidInput(
            f"{field} must be an exact decimal amount, not {type(value).__name__}",
            field=field,
            code="not_decimal",
        )
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(
            f"{field} is not a decimal amount: {value!r}", field=field, code="not_decimal"
        ) from None
    if not amount.is_finite():
        raise InvalidInput(f"{field} must be finite", field=field, code="not_decimal")
    if amount != amount.quantize(CENT):
        raise InvalidInput(
            f"{field} has more than two decimal places: {amount}", field=field, code="sub_cent_amount"
        )
    if amount < 0 or (positive and amount == 0) or (not allow_zero and amount == 0):
        raise InvalidInput(
            f"{field} must be {'positive' if positive else 'non-negative'}: {amount}",
            field=field,
            code="amount_out_of_range",
        )
    return amount.quantize(CENT)


def require_rate(value: Any, field: str) -> Decimal:
    """An input rate or ratio as a non-negative Decimal fraction."""
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidInput(
            f"{field} must be an exact decimal rate, not {type(value).__name__}",
            field=field,
            code="not_decimal",
        )
    try:
        rate = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(
            f"{field} is not a decimal rate: {value!r}", field=field, code="not_decimal"
        ) from None
    if not rate.is_finite() or rate < 0:
        raise InvalidInput(
            f"{field} must be a finite non-negative rate: {rate}", field=field, code="rate_out_of_range"
        )
    return rate


def percent(rate: Decimal) -> str:
    """``Decimal("0.124")`` → ``"12.40%"`` for human-readable reasons."""
    return f"{(rate * 100).quantize(CENT, rounding=ROUND_HALF_UP)}%"


def jsonable(value: Any) -> Any:
    """Evidence and explanations as JSON-safe values: Decimal → str, date/datetime → ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, str | bytes):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value
