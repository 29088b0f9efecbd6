"""Business dates.

Times arrive as timezone-aware UTC datetimes; the business day they fall on is the Beijing date
(UTC+8, no daylight saving since 1991), because LPR fixings, due dates and contract dates are all
Beijing dates. A fixed offset is used rather than a tz database so the result never depends on
what the host has installed.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone

from risk_engine.errors import InvalidInput

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def require_aware(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime", field=field, code="naive_datetime")
    return moment


def business_date(moment: datetime | date) -> date:
    """The Beijing calendar date of an aware datetime (a plain date is returned as is)."""
    if isinstance(moment, datetime):
        return require_aware(moment, "time").astimezone(BEIJING).date()
    return moment


def add_months(start: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def maturity_date(disbursed_on: date, tenor_days: int) -> date:
    """An order loan of ``tenor_days`` falls due ``tenor_days`` calendar days after disbursement."""
    return disbursed_on + timedelta(days=tenor_days)
