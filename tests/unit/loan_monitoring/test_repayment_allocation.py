from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loan_monitoring.money import require_money
from loan_monitoring.repayment import (
    DayCount,
    LoanBalance,
    LoanTerms,
    accrue,
    allocate_repayment,
    interest_for,
    loan_position,
    settle_repayment,
)
from risk_engine.errors import InvalidInput

DISBURSED = date(2025, 6, 10)
MATURITY = date(2025, 9, 8)  # 90 days
TERMS = LoanTerms(Decimal("0.08"), MATURITY)


def test_interest_is_simple_daily_on_actual_days_over_365_by_default():
    assert interest_for(Decimal("100000.00"), Decimal("0.08"), 90, DayCount.ACT_365) == Decimal("1972.60")
    assert interest_for(Decimal("100000.00"), Decimal("0.08"), 90, DayCount.ACT_360) == Decimal("2000.00")


def test_interest_counts_the_disbursement_day_but_not_the_repayment_day():
    balance = accrue(
        LoanBalance(Decimal("36500.00"), DISBURSED), LoanTerms(Decimal("0.10"), MATURITY), date(2025, 6, 11)
    )
    assert balance.interest == Decimal("10.00")  # one day


def test_principal_unpaid_at_maturity_earns_penalty_interest_instead_of_contract_interest():
    balance = accrue(
        LoanBalance(Decimal("36500.00"), DISBURSED), LoanTerms(Decimal("0.10"), MATURITY), date(2025, 9, 18)
    )
    assert balance.interest == Decimal("900.00")  # 90 days at 10 %
    assert balance.penalty_interest == Decimal("150.00")  # 10 days at 15 %


def test_the_penalty_rate_never_exceeds_the_legal_cap():
    terms = LoanTerms(Decimal("0.10"), MATURITY, overdue_rate_cap=Decimal("0.124"))
    assert terms.overdue_rate == Decimal("0.124")
    in_360 = LoanTerms(
        Decimal("0.10"), MATURITY, day_count=DayCount.ACT_360, overdue_rate_cap=Decimal("0.1460")
    )
    assert in_360.overdue_rate == Decimal("0.144")  # 14.6 % a 365-day year is 14.4 % on a 360 basis


def test_a_repayment_pays_penalty_interest_then_interest_then_principal():
    balance = LoanBalance(
        Decimal("1000.00"), MATURITY, interest=Decimal("50.00"), penalty_interest=Decimal("7.00")
    )
    allocation = allocate_repayment(balance, Decimal("100.00"))
    assert (allocation.to_penalty_interest, allocation.to_interest, allocation.to_principal) == (
        Decimal("7.00"),
        Decimal("50.00"),
        Decimal("43.00"),
    )
    assert allocation.releases_utilised_credit == Decimal("43.00")
    assert allocation.balance_after.principal == Decimal("957.00") and not allocation.fully_repaid


def test_a_small_repayment_only_reduces_interest_and_releases_no_credit():
    balance = LoanBalance(Decimal("1000.00"), MATURITY, interest=Decimal("50.00"))
    allocation = allocate_repayment(balance, Decimal("20.00"))
    assert allocation.to_interest == Decimal("20.00") and allocation.releases_utilised_credit == 0


def test_an_overpayment_is_returned_not_applied_to_future_interest():
    balance = LoanBalance(Decimal("1000.00"), MATURITY, interest=Decimal("10.00"))
    allocation = allocate_repayment(balance, Decimal("1100.00"))
    assert allocation.overpayment == Decimal("90.00")
    assert allocation.fully_repaid and allocation.balance_after.total == 0


@pytest.mark.parametrize("payment", [Decimal("0.00"), Decimal("-5.00"), Decimal("1.001"), 1.5])
def test_a_repayment_must_be_a_positive_amount_in_cents(payment):
    with pytest.raises(InvalidInput):
        allocate_repayment(LoanBalance(Decimal("1.00"), MATURITY), payment)


def test_money_inputs_refuse_floats():
    with pytest.raises(InvalidInput, match="not float"):
        require_money(0.1, "amount")


cents = st.integers(min_value=0, max_value=10**10).map(lambda c: Decimal(c) / 100)


@given(
    principal=cents,
    interest=cents,
    penalty=cents,
    payment=st.integers(min_value=1, max_value=3 * 10**10).map(lambda c: Decimal(c) / 100),
)
def test_an_allocation_sums_to_the_payment_and_is_never_negative_or_more_than_owed(
    principal, interest, penalty, payment
):
    balance = LoanBalance(principal, MATURITY, interest=interest, penalty_interest=penalty)
    a = allocate_repayment(balance, payment)
    parts = (a.to_penalty_interest, a.to_interest, a.to_principal, a.overpayment)
    assert sum(parts) == payment
    assert all(p >= 0 for p in parts)
    assert a.to_penalty_interest <= penalty and a.to_interest <= interest and a.to_principal <= principal
    assert a.balance_after.total == balance.total - (payment - a.overpayment)
    if a.to_principal > 0:  # principal only once all interest is paid
        assert a.balance_after.interest == 0 and a.balance_after.penalty_interest == 0
    if a.overpayment > 0:
        assert a.fully_repaid


def test_a_loan_repaid_in_two_parts_releases_all_its_principal():
    tranches = [(DISBURSED, Decimal("80000.00"))]
    repayments = [(date(2025, 7, 10), Decimal("30000.00"))]
    before_payoff = loan_position(TERMS, tranches, repayments, MATURITY)
    assert before_payoff.allocations[0].to_interest == Decimal("526.03")  # 30 days on 80,000 at 8 %
    payoff = before_payoff.balance.total
    final = loan_position(TERMS, tranches, [*repayments, (MATURITY, payoff)], MATURITY)
    assert final.balance.total == 0
    assert final.principal_repaid == Decimal("80000.00")
    assert final.allocations[-1].fully_repaid and final.allocations[-1].overpayment == 0


def test_a_second_tranche_earns_interest_from_its_own_date():
    position = loan_position(
        TERMS,
        [(DISBURSED, Decimal("36500.00")), (date(2025, 6, 20), Decimal("36500.00"))],
        [],
        date(2025, 6, 30),
    )
    # 36,500 for 10 days + 73,000 for 10 days at 8 %: 80 + 160
    assert position.balance.interest == Decimal("240.00")


def test_settling_a_repayment_accrues_to_the_payment_date_first():
    allocation = settle_repayment(
        LoanBalance(Decimal("36500.00"), DISBURSED),
        LoanTerms(Decimal("0.10"), MATURITY),
        date(2025, 6, 20),
        Decimal("100.00"),
    )
    assert allocation.to_interest == Decimal("100.00") and allocation.to_principal == 0


def test_a_repayment_before_the_first_disbursement_is_rejected():
    with pytest.raises(InvalidInput):
        loan_position(TERMS, [(DISBURSED, Decimal("1.00"))], [(date(2025, 6, 1), Decimal("1.00"))], MATURITY)
