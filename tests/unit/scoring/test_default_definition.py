"""The scoring label's default is the order loans' default: *more than* 90 days past due (Basel), with
days past due counted the way ``loan_monitoring.delinquency`` counts them."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from loan_monitoring import delinquency
from scoring.features import TradeFrames, build_training_snapshots, default_days
from tests.unit.features.history import _dates, _instants

DUE = date(2025, 3, 1)
PAID_AFTER_DAYS = list(range(88, 95))  # dealer i + 1 pays the bill due on DUE this many days late
AMOUNT = Decimal("1000.00")


def _paid_on(days: int | None) -> date | None:
    return None if days is None else DUE + timedelta(days=days)


def _trade(paid_after: list[int | None], loans: pd.DataFrame | None = None) -> TradeFrames:
    n = len(paid_after)
    ids = list(range(1, n + 1))
    dealers = pd.DataFrame(
        {
            "dealer_id": ids,
            "credit_code": [f"code{i}" for i in ids],
            "industry": "auto_parts",
            "registered_on": _dates(["2015-01-01"] * n),
            "licence_expires_on": _dates([None] * n),
            "onboarded_on": _dates(["2024-01-10"] * n),
            "recorded_at": _instants(["2024-01-10 10:00"] * n),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ids,
            "dealer_id": ids,
            "supplier_id": 1,
            "amount_fen": 100_000,
            "placed_at": _instants(["2025-01-05 10:00"] * n),
            "cancelled_at": _instants([None] * n),
            "recorded_at": _instants(["2025-01-05 10:01"] * n),
        }
    )
    paid = [_paid_on(d) for d in paid_after]
    payments = pd.DataFrame(
        {
            "dealer_id": ids,
            "due_on": _dates([DUE.isoformat()] * n),
            "paid_on": _dates([None if p is None else p.isoformat() for p in paid]),
            "recorded_at": _instants(["2025-01-20 10:00"] * n),
            "paid_recorded_at": _instants([None if p is None else f"{p.isoformat()} 18:00" for p in paid]),
        }
    )
    return TradeFrames(
        dealers=dealers,
        orders=orders,
        payments=payments,
        loans=loans,
        observed_until=pd.Timestamp("2026-06-01", tz="UTC"),
    )


def _loan_monitoring_default_day(paid_on: date | None) -> date | None:
    """The first day the loan servicing's delinquency rules put the same obligation in default."""
    schedule = (delinquency.Instalment(DUE, AMOUNT),)
    payments = () if paid_on is None else (delinquency.Payment(paid_on, AMOUNT),)
    for offset in range(0, 200):
        day = DUE + timedelta(days=offset)
        if delinquency.delinquency_on(schedule, payments, day).in_default:
            return day
    return None


@pytest.mark.parametrize("paid_after", [*PAID_AFTER_DAYS, None])
def test_a_dealer_defaults_on_the_day_the_loan_rules_would_put_the_same_bill_in_default(paid_after):
    expected = _loan_monitoring_default_day(_paid_on(paid_after))
    observed = default_days(_trade([paid_after])).get(1)
    assert (None if observed is None else observed.date()) == expected


def test_ninety_days_past_due_is_not_yet_a_default_but_ninety_one_is():
    days = default_days(_trade(PAID_AFTER_DAYS))
    # paid 91 days late: at most 90 days past due (the day before payment), not more than 90
    paid_late = dict(zip(range(1, len(PAID_AFTER_DAYS) + 1), PAID_AFTER_DAYS, strict=True))
    defaulted = {paid_late[dealer] for dealer in days.index}
    assert defaulted == {92, 93, 94}
    first_day = delinquency.first_day_in_default(DUE)
    assert set(days.dt.date) == {first_day} == {DUE + timedelta(days=91)}


def test_the_training_label_uses_the_same_definition():
    _, y, meta = build_training_snapshots(_trade(PAID_AFTER_DAYS), ["2025-04-01 00:00"])
    labels = dict(zip(meta["dealer_id"], y, strict=True))
    assert {PAID_AFTER_DAYS[dealer - 1] for dealer, bad in labels.items() if bad} == {92, 93, 94}


def test_an_order_loan_repaid_ninety_one_days_late_is_not_a_default_but_ninety_two_is():
    repaid = [DUE + timedelta(days=91), DUE + timedelta(days=92)]
    loans = pd.DataFrame(
        {
            "dealer_id": [1, 2],
            "principal_fen": [800_000, 800_000],
            "disbursed_at": _instants(["2025-01-10 10:00"] * 2),
            "due_on": _dates([DUE.isoformat()] * 2),
            "repaid_on": _dates([d.isoformat() for d in repaid]),
            "recorded_at": _instants(["2025-01-10 11:00"] * 2),
            "repaid_recorded_at": _instants([f"{d.isoformat()} 18:00" for d in repaid]),
        }
    )
    days = default_days(_trade([0, 0], loans=loans))  # both pay their trade bills on time
    assert days.to_dict() == {2: pd.Timestamp(delinquency.first_day_in_default(DUE))}
