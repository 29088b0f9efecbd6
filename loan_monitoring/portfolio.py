"""The portfolio read model: exposure of the open credit lines by grade, bank and guarantor, outstanding
order loans by delinquency bucket, open alerts by kind. ``GET /v1/portfolio`` and the console's
portfolio page both show these figures; nothing here writes or decides.

Why ``loan_monitoring``: the portfolio spans two domains — credit lines (``limits``) and order loans
and their alerts (``loan_monitoring``). ``loan_monitoring`` already builds on ``limits`` (loans move the
ledger, alerts freeze lines), so it is the one package that can read both without a new dependency;
``limits`` must not learn about loans, and ``risk_engine`` lies beneath both (``db``, ``parties``), so a
``risk_engine.portfolio`` would have to import upwards. Watching the book as a whole is also what this
package is for: delinquency and early warning of what has been lent.

Money is ``Decimal``, summed by the database in whole cents: SQLite keeps NUMERIC(18,2) values as REAL
and adds them in floating point, which is a cent out on a few trillion yuan or a million lines, while
integers add exactly on SQLite and PostgreSQL alike.

Every figure is portfolio-wide: the route is for risk officers and admins only, so there is no bank
scoping here.

``as_of`` (a Beijing business date) reads the book as it stood at the end of that day: each line's
figures after its last ledger movement before then (``credit_movement``, which records them before and
after every change), the loans' buckets as that day's delinquency run recorded them
(``loan_delinquency``), and the alerts raised before then and not yet resolved. A line's grade and a
dealer's guarantor are today's (neither is kept by date); an alert counts under its severity of today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, case, cast, func, or_, select
from sqlalchemy.orm import Session

from limits.models import CreditLineRecord, CreditMovement
from loan_monitoring.dates import BEIJING, business_date
from loan_monitoring.delinquency import Bucket
from loan_monitoring.models import Alert, DelinquencySnapshot, OrderLoan
from loan_monitoring.state import OUTSTANDING_STATES
from risk_engine.db import utcnow
from risk_engine.errors import InvalidInput
from risk_engine.parties.models import Bank, Dealer, Guarantor

Dimension = Literal["grade", "bank", "guarantor"]
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ExposureGroup:
    """The credit lines of one grade, bank or guarantor: ``lines`` and ``limit`` count the open (not
    closed) ones, ``exposure`` also what closed lines still have outstanding (their loans run off).

    ``key`` is the grade, or the bank's or guarantor's id; ``label`` what to show (the grade, the name).
    Both are ``None`` for the lines with no grade, or of dealers with no guarantor."""

    key: str | None
    label: str | None
    lines: int
    limit: Decimal
    exposure: Decimal  # reserved + utilised


@dataclass(frozen=True)
class DelinquencyBucket:
    """Outstanding order loans in one days-past-due bucket, as the daily delinquency job last set it."""

    bucket: Bucket
    loans: int
    outstanding: Decimal  # principal


@dataclass(frozen=True)
class OpenAlertsOfKind:
    """How many alerts of one kind are open, in all and per severity."""

    kind: str
    total: int
    info: int
    warning: int
    critical: int


@dataclass(frozen=True)
class Portfolio:
    as_of: datetime  # the moment the figures describe: now, or the end of a past business day (UTC)
    as_of_date: date  # the Beijing business date of that moment's book
    exposure_by_grade: list[ExposureGroup]
    exposure_by_bank: list[ExposureGroup]
    exposure_by_guarantor: list[ExposureGroup]
    delinquency_buckets: list[DelinquencyBucket]
    open_alerts_by_kind: list[OpenAlertsOfKind]


def portfolio(session: Session, as_of: date | None = None, *, now: datetime | None = None) -> Portfolio:
    """The whole portfolio: read now, or, for a past Beijing business date ``as_of``, as it stood at the
    end of that day (today's date reads now). A date after today is refused (``InvalidInput``)."""
    now = now or utcnow()
    today = business_date(now)
    if as_of is not None and as_of > today:
        raise InvalidInput(f"as_of: {as_of} is after today ({today}, Beijing)", field="query.as_of",
                           code="as_of_in_future")
    if as_of is None or as_of == today:
        return Portfolio(
            as_of=now,
            as_of_date=today,
            exposure_by_grade=exposure_by(session, "grade"),
            exposure_by_bank=exposure_by(session, "bank"),
            exposure_by_guarantor=exposure_by(session, "guarantor"),
            delinquency_buckets=delinquency_buckets(session),
            open_alerts_by_kind=open_alerts_by_kind(session),
        )
    end = end_of_business_day(as_of)
    return Portfolio(
        as_of=end,
        as_of_date=as_of,
        exposure_by_grade=exposure_by(session, "grade", before=end),
        exposure_by_bank=exposure_by(session, "bank", before=end),
        exposure_by_guarantor=exposure_by(session, "guarantor", before=end),
        delinquency_buckets=delinquency_buckets(session, on=as_of),
        open_alerts_by_kind=open_alerts_by_kind(session, before=end),
    )


def end_of_business_day(day: date) -> datetime:
    """The UTC moment the Beijing business date ``day`` ends (midnight starting the next one)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BEIJING).astimezone(UTC)


def _lines(before: datetime | None) -> Any:
    """Each credit line with its figures: as they are, or after its last movement before ``before``
    (lines with no movement by then did not exist yet)."""
    if before is None:
        line = CreditLineRecord
        return select(line.id, line.grade, line.bank_id, line.dealer_id, line.limit, line.reserved,
                      line.utilised, line.status).subquery()
    move, line = CreditMovement, CreditLineRecord
    last = (select(func.max(move.id).label("id")).where(move.at < before).group_by(move.line_id)).subquery()
    return (
        select(line.id, line.grade, line.bank_id, line.dealer_id, move.limit_after.label("limit"),
               move.reserved_after.label("reserved"), move.utilised_after.label("utilised"),
               move.status_after.label("status"))
        .select_from(move)
        .join(last, last.c.id == move.id)
        .join(line, line.id == move.line_id)
    ).subquery()


def exposure_by(session: Session, dimension: Dimension, *, before: datetime | None = None) -> list[ExposureGroup]:
    """Credit lines grouped by ``grade``, ``bank`` or ``guarantor``: open lines and their limits, and the
    exposure (reserved + utilised) of open lines and of closed ones still being repaid; largest exposure
    first, then largest limit, then by label. ``before``: the lines as they stood then."""
    lines = _lines(before)
    is_open = lines.c.status != "closed"
    if dimension == "grade":
        key, label = lines.c.grade, lines.c.grade
        statement = select(key.label("key"), label.label("label"))
    elif dimension == "bank":
        key, label = Bank.id, Bank.name
        statement = select(key.label("key"), label.label("label")).join(Bank, Bank.id == lines.c.bank_id)
    elif dimension == "guarantor":
        key, label = Guarantor.id, Guarantor.name
        statement = (
            select(key.label("key"), label.label("label"))
            .join(Dealer, Dealer.id == lines.c.dealer_id)
            .outerjoin(Guarantor, Guarantor.id == Dealer.guarantor_id)
        )
    else:
        raise ValueError(f"unknown dimension {dimension!r}")
    rows = session.execute(
        statement.add_columns(
            func.count(case((is_open, lines.c.id))).label("lines"),
            _sum_in_cents(case((is_open, lines.c.limit), else_=0)).label("limit"),
            _sum_in_cents(lines.c.reserved + lines.c.utilised).label("exposure"),
        )
        .select_from(lines)
        # a closed line's loans are still being repaid: its exposure counts until they are
        .where(or_(is_open, lines.c.reserved > 0, lines.c.utilised > 0))
        .group_by(key, label)
    )
    groups = [ExposureGroup(r.key, r.label, r.lines, _cents(r.limit), _cents(r.exposure)) for r in rows]
    return sorted(groups, key=lambda g: (-g.exposure, -g.limit, str(g.label)))


def delinquency_buckets(session: Session, *, on: date | None = None) -> list[DelinquencyBucket]:
    """Outstanding loans (disbursed, overdue, recalled, defaulted) by bucket — current, 1–30, 31–60,
    61–90, 90+ days past due — with their count and outstanding principal; every bucket, empty or not.
    ``on``: as the delinquency run of that business date recorded them."""
    source = OrderLoan if on is None else DelinquencySnapshot
    statement = (
        select(source.bucket, func.count(source.id).label("loans"),
               _sum_in_cents(source.outstanding_principal).label("outstanding"))
        .where(source.state.in_([s.value for s in OUTSTANDING_STATES]))
        .group_by(source.bucket)
    )
    if on is not None:
        statement = statement.where(DelinquencySnapshot.as_of == on)
    rows = {r.bucket: r for r in session.execute(statement)}
    return [
        DelinquencyBucket(
            bucket,
            rows[bucket].loans if bucket in rows else 0,
            _cents(rows[bucket].outstanding if bucket in rows else 0),
        )
        for bucket in Bucket
    ]


def open_alerts_by_kind(session: Session, *, before: datetime | None = None) -> list[OpenAlertsOfKind]:
    """Open alerts by kind, with how many of them are info, warning or critical; most first. ``before``:
    the alerts raised before then and not resolved by then."""
    is_open = (
        Alert.status == "open" if before is None
        else (Alert.raised_at < before) & (Alert.resolved_at.is_(None) | (Alert.resolved_at >= before))
    )
    counts: dict[str, dict[str, int]] = {}
    for row in session.execute(
        select(Alert.kind, Alert.severity, func.count(Alert.id).label("n"))
        .where(is_open)
        .group_by(Alert.kind, Alert.severity)
    ):
        counts.setdefault(row.kind, {"info": 0, "warning": 0, "critical": 0})[row.severity] = row.n
    kinds = [OpenAlertsOfKind(kind, sum(by.values()), **by) for kind, by in counts.items()]
    return sorted(kinds, key=lambda k: (-k.total, k.kind))


def _sum_in_cents(amount: ColumnElement[Any]) -> ColumnElement[Any]:
    """SUM of a money expression as an integer number of cents (each amount has exactly two places, so
    ``round(amount * 100)`` is that amount's cents even when SQLite hands over a float)."""
    return func.sum(cast(func.round(amount * 100), BigInteger))


def _cents(value: Any) -> Decimal:
    """A sum of cents (``None`` over no rows) as yuan with two places."""
    return (Decimal(int(value or 0)) / 100).quantize(CENT)
