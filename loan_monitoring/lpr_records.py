"""The one-year LPR table the engine caps order loans with, and what operators record in it.

The table in force is the bundled fixings (``lpr_1y.csv``, confirmed through 2025-06-20), those of
``RISK_LPR_FILE`` if set, and what operators recorded in the database:

* a **fixing** (``lpr_fixing``): the one-year LPR announced to take effect on a date, as published (percent,
  e.g. ``3.00``); it also confirms the table through that date. A correction is a later record for the
  same date: the latest recorded wins.
* a **confirmation** (``lpr_confirmation``): the table is complete through a date — no announced fixing up to
  that day changed the rate beyond those it holds (the monthly fixing repeated the rate).

Each record is written with its audit entry (``lpr.fixing_recorded``, ``lpr.confirmed``) in the caller's
transaction. Nothing is recorded for a day after today (Beijing): no one can know a fixing not yet
announced.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance import audit
from loan_monitoring import lpr
from loan_monitoring.models import LprConfirmation, LprFixingRecord
from risk_engine.db import utcnow
from risk_engine.errors import InvalidInput
from risk_engine.settings import Settings

MAX_PLAUSIBLE_PERCENT = Decimal(20)  # the one-year rate has never come near it; "30" is a typing error
RECORDED_SOURCE = "operator-recorded fixings (lpr_fixing)"


def record_fixing(
    session: Session, *, effective_date: date, rate_percent: Decimal, source: str, actor: str, today: date
) -> LprFixingRecord:
    """Record the one-year LPR in force from ``effective_date`` (percent as published); flushes."""
    rate_percent = _percent(rate_percent)
    _check_date(effective_date, today, "effective_date")
    row = LprFixingRecord(
        effective_date=effective_date,
        rate=rate_percent / 100,
        source=_source(source),
        recorded_by=actor,
        recorded_at=utcnow(),
    )
    session.add(row)
    session.flush()
    row.audit_seq = audit.record(
        session,
        actor=actor,
        action="lpr.fixing_recorded",
        subject_type="lpr_fixing",
        subject_id=str(row.id),
        payload={
            "effective_date": effective_date.isoformat(),
            "one_year_lpr_percent": str(rate_percent),
            "source": row.source,
        },
    ).seq
    session.flush()
    return row


def record_confirmation(session: Session, *, through: date, source: str, actor: str, today: date) -> LprConfirmation:
    """Record that the table is complete through ``through``; flushes."""
    _check_date(through, today, "confirmed_through")
    row = LprConfirmation(confirmed_through=through, source=_source(source), recorded_by=actor, recorded_at=utcnow())
    session.add(row)
    session.flush()
    row.audit_seq = audit.record(
        session,
        actor=actor,
        action="lpr.confirmed",
        subject_type="lpr_confirmation",
        subject_id=str(row.id),
        payload={"confirmed_through": through.isoformat(), "source": row.source},
    ).seq
    session.flush()
    return row


def lpr_table(session: Session, settings: Settings) -> lpr.LprTable:
    """The table in force: bundled, ``RISK_LPR_FILE``, recorded fixings (latest record per date wins) and
    the latest confirmation."""
    table = lpr.default_lpr_table()
    if settings.lpr_file:
        table = table.overridden_by(lpr.load_lpr_table(settings.lpr_file))
    recorded = {
        row.effective_date: row.rate
        for row in session.execute(
            select(LprFixingRecord.effective_date, LprFixingRecord.rate).order_by(LprFixingRecord.id)
        )
    }
    if recorded:
        table = table.overridden_by(
            lpr.LprTable(
                tuple(lpr.LprFixing(day, rate) for day, rate in sorted(recorded.items())), source=RECORDED_SOURCE
            )
        )
    through = session.scalar(select(func.max(LprConfirmation.confirmed_through)))
    return table.confirmed(through) if through is not None else table


def table_view(session: Session, settings: Settings, *, today: date) -> dict[str, Any]:
    """The table as an operator checks it: how far it is confirmed, whether today is covered, the rate in
    force today, every fixing (with where it came from) and the records operators made."""
    table = lpr_table(session, settings)
    grace = settings.lpr_grace_days
    recorded = session.scalars(select(LprFixingRecord).order_by(LprFixingRecord.id)).all()
    confirmations = session.scalars(select(LprConfirmation).order_by(LprConfirmation.id)).all()
    bundled = {f.effective_date for f in lpr.default_lpr_table().fixings}
    from_records = {row.effective_date for row in recorded}
    today_fixing = table.fixing_on(today)
    return {
        "confirmed_through": table.known_through.isoformat(),
        "grace_days": grace,
        "current_until": table.current_until(grace).isoformat(),
        "current_today": table.is_current_on(today, grace),
        "today": today.isoformat(),
        "in_force_today": {
            "effective_date": today_fixing.effective_date.isoformat(),
            "one_year_lpr_percent": _as_percent(today_fixing.rate),
            "apr_cap_percent": _as_percent(settings.apr_cap_multiple * today_fixing.rate),
        },
        "fixings": [
            {
                "effective_date": f.effective_date.isoformat(),
                "one_year_lpr_percent": _as_percent(f.rate),
                "origin": "recorded"
                if f.effective_date in from_records
                else "bundled"
                if f.effective_date in bundled
                else "lpr_file",
            }
            for f in table.fixings
        ],
        "recorded_fixings": [
            {
                "id": row.id,
                "effective_date": row.effective_date.isoformat(),
                "one_year_lpr_percent": _as_percent(row.rate),
                "source": row.source,
                "recorded_by": row.recorded_by,
                "recorded_at": _rfc3339(row.recorded_at),
                "audit_seq": row.audit_seq,
            }
            for row in recorded
        ],
        "confirmations": [
            {
                "id": row.id,
                "confirmed_through": row.confirmed_through.isoformat(),
                "source": row.source,
                "recorded_by": row.recorded_by,
                "recorded_at": _rfc3339(row.recorded_at),
                "audit_seq": row.audit_seq,
            }
            for row in confirmations
        ],
    }


def _percent(value: Decimal) -> Decimal:
    try:
        rate = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(
            f"rate must be a percent such as 3.00, not {value!r}", field="rate_percent", code="implausible_lpr"
        ) from None
    if not rate.is_finite() or not Decimal(0) < rate < MAX_PLAUSIBLE_PERCENT:
        raise InvalidInput(
            f"implausible one-year LPR {rate} %: give the percent as published, e.g. 3.00",
            field="rate_percent",
            code="implausible_lpr",
        )
    if rate != rate.quantize(Decimal("0.01")):
        raise InvalidInput(
            f"the LPR is published with two decimals (e.g. 3.45), not {rate}",
            field="rate_percent",
            code="implausible_lpr",
        )
    return rate.quantize(Decimal("0.01"))


def _check_date(day: date, today: date, field: str) -> None:
    if day > today:
        raise InvalidInput(
            f"{day} is after today ({today}, Beijing): a fixing is known only once announced",
            field=field,
            code="time_in_future",
        )
    if day < lpr.FIRST_FIXING:
        raise InvalidInput(
            f"{day} is before the reformed LPR's first fixing on {lpr.FIRST_FIXING}",
            field=field,
            code="lpr_unavailable",
        )


def _source(source: str) -> str:
    source = (source or "").strip()
    if not source or len(source) > 200:
        raise InvalidInput("say where the rate or the confirmation comes from (1 to 200 characters)", field="source")
    return source


def _rfc3339(moment: datetime) -> str:
    """A time as the API writes every time: RFC 3339 in UTC, ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _as_percent(rate: Decimal) -> str:
    return str((rate * 100).quantize(Decimal("0.01")))
