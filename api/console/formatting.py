"""How figures are written on the console's pages: money exact with two decimals and thousands
separators, PDs as percentages, times in UTC. Pure functions, used as Jinja filters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def money(value: Any, empty: str = "—") -> str:
    """``Decimal("1234567.5")`` → ``"1,234,567.50"``. Decimals and decimal strings only: a float would
    already have lost the cents, so it is refused."""
    if value is None or value == "":
        return empty
    if isinstance(value, float):
        raise TypeError("money must be Decimal or str, never float")
    try:
        amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f}"


def percent(value: Any, places: int = 2, empty: str = "—") -> str:
    """A probability as a percentage: ``0.0123`` → ``"1.23%"``."""
    if value is None or value == "":
        return empty
    try:
        number = Decimal(str(value)) * 100
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{number:.{places}f}%"


def number(value: Any, places: int = 0, empty: str = "—") -> str:
    if value is None or value == "":
        return empty
    try:
        return f"{Decimal(str(value)):,.{places}f}"
    except (InvalidOperation, ValueError):
        return str(value)


def when(value: Any, empty: str = "—") -> str:
    """A time in UTC to the minute (``2026-11-25 09:43 UTC``); a date as ISO."""
    if value is None or value == "":
        return empty
    if isinstance(value, str):
        if len(value) == 10:  # a date: 2026-11-25
            return value
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def short_hash(value: Any, length: int = 12) -> str:
    text = "" if value is None else str(value)
    return text[:length] + "…" if len(text) > length else text


def feature_value(value: Any) -> str:
    """A model input as shown next to its contribution: compact, exact for decimals, ``missing`` for NaN."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "missing"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, Decimal | int):
        return f"{value:,}" if abs(value) >= 1000 else str(value)
    if isinstance(value, str):
        if len(value) == 10:  # a date: 2026-11-25
            return value
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            return value
        if parsed == parsed.to_integral_value() or abs(parsed) >= 1000:
            return feature_value(parsed.quantize(Decimal(1)))
        return feature_value(parsed.normalize())
    return str(value)
