from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loan_monitoring.dates import add_months, maturity_date
from loan_monitoring.delinquency import (
    Bucket,
    Instalment,
    Payment,
    bucket_for,
    days_past_due,
    delinquency_events,
    delinquency_on,
    first_day_in_default,
    is_default,
    single_instalment_schedule,
)
from loan_monitoring.state import LoanEvent, LoanState, transition

DUE = date(2025, 9, 8)
SCHEDULE = (Instalment(DUE, Decimal("81578.08")),)


@pytest.mark.parametrize(
    "dpd, bucket, default",
    [
        (0, Bucket.CURRENT, False),
        (1, Bucket.DPD_1_30, False),
        (30, Bucket.DPD_1_30, False),
        (31, Bucket.DPD_31_60, False),
        (60, Bucket.DPD_31_60, False),
        (61, Bucket.DPD_61_90, False),
        (90, Bucket.DPD_61_90, False),
        (91, Bucket.DPD_90_PLUS, True),
    ],
)
def test_buckets_and_default_at_their_boundaries(dpd, bucket, default):
    assert bucket_for(dpd) is bucket
    assert is_default(dpd) is default


@pytest.mark.parametrize("dpd", [0, 1, 30, 31, 60, 61, 90, 91])
def test_days_past_due_count_from_the_day_after_the_due_date(dpd):
    status = delinquency_on(SCHEDULE, [], DUE + timedelta(days=dpd))
    assert status.days_past_due == dpd
    assert status.bucket is bucket_for(dpd)
    assert status.amount_past_due == (Decimal("81578.08") if dpd else 0)


def test_a_loan_paid_on_its_due_date_is_current():
    assert days_past_due(SCHEDULE, [Payment(DUE, Decimal("81578.08"))], DUE + timedelta(days=40)) == 0


def test_a_payment_after_the_as_of_date_does_not_count_yet():
    assert (
        days_past_due(
            SCHEDULE, [Payment(DUE + timedelta(days=5), Decimal("81578.08"))], DUE + timedelta(days=3)
        )
        == 3
    )


def test_a_partial_payment_leaves_the_rest_past_due():
    status = delinquency_on(SCHEDULE, [Payment(DUE, Decimal("80000.00"))], DUE + timedelta(days=2))
    assert status.days_past_due == 2 and status.amount_past_due == Decimal("1578.08")


def test_a_remainder_within_the_materiality_threshold_is_not_delinquent():
    status = delinquency_on(
        SCHEDULE,
        [Payment(DUE, Decimal("81578.00"))],
        DUE + timedelta(days=9),
        materiality_threshold=Decimal("1.00"),
    )
    assert status.days_past_due == 0 and status.bucket is Bucket.CURRENT


def test_payments_clear_the_oldest_instalment_first():
    schedule = (
        Instalment(date(2025, 1, 31), Decimal("100.00")),
        Instalment(date(2025, 2, 28), Decimal("100.00")),
        Instalment(date(2025, 3, 31), Decimal("100.00")),
    )
    status = delinquency_on(schedule, [Payment(date(2025, 3, 1), Decimal("150.00"))], date(2025, 4, 10))
    assert status.oldest_unpaid_due_on == date(2025, 2, 28)
    assert status.days_past_due == 41 and status.amount_past_due == Decimal("150.00")


# Golden dates around month ends and 29 February.
@pytest.mark.parametrize(
    "start, months, due",
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 8, 31), 1, date(2024, 9, 30)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),
    ],
)
def test_monthly_due_dates_clamp_to_the_month_end(start, months, due):
    assert add_months(start, months) == due


@pytest.mark.parametrize(
    "due, as_of, dpd, bucket",
    [
        (date(2024, 2, 29), date(2024, 3, 1), 1, Bucket.DPD_1_30),
        (date(2024, 1, 31), date(2024, 3, 1), 30, Bucket.DPD_1_30),
        (date(2023, 1, 31), date(2023, 3, 3), 31, Bucket.DPD_31_60),
        (date(2024, 2, 29), date(2024, 4, 29), 60, Bucket.DPD_31_60),
        (date(2024, 2, 29), date(2024, 5, 29), 90, Bucket.DPD_61_90),
        (date(2024, 2, 29), date(2024, 5, 30), 91, Bucket.DPD_90_PLUS),
        (date(2023, 12, 31), date(2024, 3, 31), 91, Bucket.DPD_90_PLUS),
        (date(2024, 12, 31), date(2025, 3, 31), 90, Bucket.DPD_61_90),
    ],
)
def test_golden_days_past_due_across_month_ends_and_leap_days(due, as_of, dpd, bucket):
    status = delinquency_on((Instalment(due, Decimal("1000.00")),), [], as_of)
    assert (status.days_past_due, status.bucket) == (dpd, bucket)


def test_a_thirty_day_loan_from_30_january_2024_falls_due_on_the_leap_day():
    assert maturity_date(date(2024, 1, 30), 30) == date(2024, 2, 29)
    schedule = single_instalment_schedule(date(2024, 1, 30), 30, Decimal("1000.00"))
    assert delinquency_on(schedule, [], date(2024, 5, 30)).in_default
    assert first_day_in_default(date(2024, 2, 29)) == date(2024, 5, 30)


def test_the_daily_job_moves_a_late_loan_to_overdue_then_default_and_cures_a_paid_one():
    late = delinquency_on(SCHEDULE, [], DUE + timedelta(days=1))
    defaulted = delinquency_on(SCHEDULE, [], DUE + timedelta(days=91))
    current = delinquency_on(
        SCHEDULE, [Payment(DUE + timedelta(days=5), Decimal("81578.08"))], DUE + timedelta(days=6)
    )
    assert delinquency_events(LoanState.DISBURSED, late) == (LoanEvent.FALL_OVERDUE,)
    assert delinquency_events(LoanState.OVERDUE, late) == ()
    assert delinquency_events(LoanState.OVERDUE, defaulted) == (LoanEvent.DEFAULT,)
    assert delinquency_events(LoanState.DISBURSED, defaulted) == (LoanEvent.FALL_OVERDUE, LoanEvent.DEFAULT)
    assert delinquency_events(LoanState.OVERDUE, current) == (LoanEvent.CURE,)
    assert delinquency_events(LoanState.DEFAULTED, current) == ()


@given(
    state=st.sampled_from([LoanState.DISBURSED, LoanState.OVERDUE, LoanState.RECALLED, LoanState.DEFAULTED]),
    dpd=st.integers(min_value=0, max_value=400),
)
def test_the_events_the_daily_job_applies_are_always_legal(state, dpd):
    status = delinquency_on(SCHEDULE, [], DUE + timedelta(days=dpd))
    start = state
    for event in delinquency_events(state, status):
        state = transition(state, event)
    if start is LoanState.DEFAULTED or dpd > 90:
        assert state is LoanState.DEFAULTED
    elif start is LoanState.RECALLED:
        assert state is LoanState.RECALLED
    else:
        assert state is (LoanState.OVERDUE if dpd > 0 else LoanState.DISBURSED)
