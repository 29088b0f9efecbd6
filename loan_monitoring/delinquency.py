"""Days past due and delinquency buckets.

Days past due (DPD) on a date is the age of the oldest scheduled amount still unpaid: payments are
applied to instalments in due-date order (oldest first), and an instalment due on day D that is
unpaid at the end of D is 1 day past due on D + 1. Pass the repayments' scheduled part (interest
and principal, ``RepaymentAllocation.to_interest + to_principal``): penalty interest accrued after
the due date is recovered, not scheduled, so paying it does not cure arrears and not paying it does
not create them.

A remainder at or below ``materiality_threshold`` (policy: 0.00 CNY; Basel lets supervisors set a
materiality threshold) does not count as unpaid, so a cent of rounding cannot make a loan
delinquent.

Buckets: current (0), 1–30, 31–60, 61–90, 90+ (91 days or more). Default is *more than* 90 days
past due (Basel: "past due more than 90 days on any material credit obligation"), i.e. 91+.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from loan_monitoring.dates import maturity_date
from loan_monitoring.money import ZERO, require_money
from loan_monitoring.state import LoanEvent, LoanState

DEFAULT_AFTER_DAYS = 90


class Bucket(StrEnum):
    CURRENT = "current"
    DPD_1_30 = "1-30"
    DPD_31_60 = "31-60"
    DPD_61_90 = "61-90"
    DPD_90_PLUS = "90+"


_BUCKET_UPPER_BOUNDS = (
    (0, Bucket.CURRENT),
    (30, Bucket.DPD_1_30),
    (60, Bucket.DPD_31_60),
    (90, Bucket.DPD_61_90),
)


@dataclass(frozen=True)
class Instalment:
    due_on: date
    amount: Decimal  # principal and interest scheduled for that date


@dataclass(frozen=True)
class Payment:
    paid_on: date
    amount: Decimal


@dataclass(frozen=True)
class DelinquencyStatus:
    as_of: date
    days_past_due: int
    bucket: Bucket
    amount_past_due: Decimal
    oldest_unpaid_due_on: date | None
    in_default: bool


def bucket_for(days_past_due: int) -> Bucket:
    if days_past_due < 0:
        raise ValueError("days past due cannot be negative")
    for upper, bucket in _BUCKET_UPPER_BOUNDS:
        if days_past_due <= upper:
            return bucket
    return Bucket.DPD_90_PLUS


def is_default(days_past_due: int, *, after_days: int = DEFAULT_AFTER_DAYS) -> bool:
    return days_past_due > after_days


def single_instalment_schedule(
    disbursed_on: date, tenor_days: int, amount: Decimal
) -> tuple[Instalment, ...]:
    """An order loan's usual schedule: everything due at maturity (bullet)."""
    return (Instalment(maturity_date(disbursed_on, tenor_days), amount),)


def delinquency_on(
    schedule: Sequence[Instalment],
    payments: Sequence[Payment],
    as_of: date,
    *,
    materiality_threshold: Decimal = ZERO,
    default_after_days: int = DEFAULT_AFTER_DAYS,
) -> DelinquencyStatus:
    """DPD, bucket and arrears on ``as_of``, counting only payments made on or before it."""
    paid = sum((require_money(p.amount, "payments.amount") for p in payments if p.paid_on <= as_of), ZERO)
    oldest_unpaid: date | None = None
    past_due = ZERO
    for instalment in sorted(schedule, key=lambda i: i.due_on):
        applied = min(paid, instalment.amount)
        paid -= applied
        unpaid = instalment.amount - applied
        if instalment.due_on < as_of and unpaid > 0:
            past_due += unpaid
            if oldest_unpaid is None:
                oldest_unpaid = instalment.due_on
    if past_due <= materiality_threshold:
        oldest_unpaid, past_due = None, ZERO
    dpd = (as_of - oldest_unpaid).days if oldest_unpaid else 0
    return DelinquencyStatus(
        as_of, dpd, bucket_for(dpd), past_due, oldest_unpaid, is_default(dpd, after_days=default_after_days)
    )


def days_past_due(schedule: Sequence[Instalment], payments: Sequence[Payment], as_of: date) -> int:
    return delinquency_on(schedule, payments, as_of).days_past_due


def delinquency_events(state: LoanState, status: DelinquencyStatus) -> tuple[LoanEvent, ...]:
    """The state-machine events the daily delinquency job applies, in order (none if nothing changed).

    A loan first seen already more than 90 days past due (a missed run, a back-dated schedule)
    goes through ``overdue`` to ``defaulted`` in one run, so its history still shows both steps.
    A recalled loan stays ``recalled`` while past due and defaults the same way; an overdue loan
    with no arrears left is cured. Default is not undone by the job: only full repayment ends it.
    """
    if state is LoanState.DISBURSED and status.days_past_due > 0:
        return (LoanEvent.FALL_OVERDUE, LoanEvent.DEFAULT) if status.in_default else (LoanEvent.FALL_OVERDUE,)
    if state in (LoanState.OVERDUE, LoanState.RECALLED) and status.in_default:
        return (LoanEvent.DEFAULT,)
    if state is LoanState.OVERDUE and status.days_past_due == 0:
        return (LoanEvent.CURE,)
    return ()


def first_day_in_default(oldest_unpaid_due_on: date, *, after_days: int = DEFAULT_AFTER_DAYS) -> date:
    """The date on which an unpaid instalment due on ``oldest_unpaid_due_on`` tips into default."""
    return oldest_unpaid_due_on + timedelta(days=after_days + 1)
