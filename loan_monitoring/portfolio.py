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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, cast, func, select
from sqlalchemy.orm import Session

from limits.models import CreditLineRecord
from loan_monitoring.delinquency import Bucket
from loan_monitoring.models import Alert, OrderLoan
from loan_monitoring.state import OUTSTANDING_STATES
from risk_engine.db import utcnow
from risk_engine.parties.models import Bank, Dealer, Guarantor

Dimension = Literal["grade", "bank", "guarantor"]
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ExposureGroup:
    """The open (not closed) credit lines of one grade, bank or guarantor.

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
    as_of: datetime  # when the figures were read
    exposure_by_grade: list[ExposureGroup]
    exposure_by_bank: list[ExposureGroup]
    exposure_by_guarantor: list[ExposureGroup]
    delinquency_buckets: list[DelinquencyBucket]
    open_alerts_by_kind: list[OpenAlertsOfKind]


def portfolio(session: Session) -> Portfolio:
    """The whole portfolio, read now."""
    return Portfolio(
        as_of=utcnow(),
        exposure_by_grade=exposure_by(session, "grade"),
        exposure_by_bank=exposure_by(session, "bank"),
        exposure_by_guarantor=exposure_by(session, "guarantor"),
        delinquency_buckets=delinquency_buckets(session),
        open_alerts_by_kind=open_alerts_by_kind(session),
    )


def exposure_by(session: Session, dimension: Dimension) -> list[ExposureGroup]:
    """Open credit lines grouped by ``grade``, ``bank`` or ``guarantor``: lines, limits and exposure
    (reserved + utilised); largest exposure first, then largest limit, then by label."""
    if dimension == "grade":
        key, label = CreditLineRecord.grade, CreditLineRecord.grade
        statement = select(key.label("key"), label.label("label"))
    elif dimension == "bank":
        key, label = Bank.id, Bank.name
        statement = select(key.label("key"), label.label("label")).join(Bank, Bank.id == CreditLineRecord.bank_id)
    elif dimension == "guarantor":
        key, label = Guarantor.id, Guarantor.name
        statement = (
            select(key.label("key"), label.label("label"))
            .join(Dealer, Dealer.id == CreditLineRecord.dealer_id)
            .outerjoin(Guarantor, Guarantor.id == Dealer.guarantor_id)
        )
    else:
        raise ValueError(f"unknown dimension {dimension!r}")
    rows = session.execute(
        statement.add_columns(
            func.count(CreditLineRecord.id).label("lines"),
            _sum_in_cents(CreditLineRecord.limit).label("limit"),
            _sum_in_cents(CreditLineRecord.reserved + CreditLineRecord.utilised).label("exposure"),
        )
        .select_from(CreditLineRecord)
        .where(CreditLineRecord.status != "closed")
        .group_by(key, label)
    )
    groups = [ExposureGroup(r.key, r.label, r.lines, _cents(r.limit), _cents(r.exposure)) for r in rows]
    return sorted(groups, key=lambda g: (-g.exposure, -g.limit, str(g.label)))


def delinquency_buckets(session: Session) -> list[DelinquencyBucket]:
    """Outstanding loans (disbursed, overdue, recalled, defaulted) by bucket — current, 1–30, 31–60,
    61–90, 90+ days past due — with their count and outstanding principal; every bucket, empty or not."""
    rows = {
        r.bucket: r
        for r in session.execute(
            select(
                OrderLoan.bucket,
                func.count(OrderLoan.id).label("loans"),
                _sum_in_cents(OrderLoan.outstanding_principal).label("outstanding"),
            )
            .where(OrderLoan.state.in_([s.value for s in OUTSTANDING_STATES]))
            .group_by(OrderLoan.bucket)
        )
    }
    return [
        DelinquencyBucket(
            bucket,
            rows[bucket].loans if bucket in rows else 0,
            _cents(rows[bucket].outstanding if bucket in rows else 0),
        )
        for bucket in Bucket
    ]


def open_alerts_by_kind(session: Session) -> list[OpenAlertsOfKind]:
    """Open alerts by kind, with how many of them are info, warning or critical; most first."""
    counts: dict[str, dict[str, int]] = {}
    for row in session.execute(
        select(Alert.kind, Alert.severity, func.count(Alert.id).label("n"))
        .where(Alert.status == "open")
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
