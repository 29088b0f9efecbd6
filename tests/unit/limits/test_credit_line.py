"""The credit line value model: each movement's rule, then random sequences that keep every invariant."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from limits.credit_line import CreditLine, LineStatus, open_credit_line
from risk_engine.errors import Conflict, DomainError, IllegalTransition, InvalidInput

D = Decimal


def line(limit="100000.00", reserved="0.00", utilised="0.00", **kwargs) -> CreditLine:
    return CreditLine(D(limit), D(reserved), D(utilised), **kwargs)


def test_available_is_the_limit_less_reserved_and_utilised():
    assert line("100000.00", "20000.00", "30000.00").available == D("50000.00")


def test_a_reservation_within_available_credit_is_held():
    after = line().reserve(D("60000.00"))
    assert after.reserved == D("60000.00") and after.available == D("40000.00")


def test_a_second_reservation_beyond_the_limit_is_declined():
    first = line().reserve(D("60000.00"))
    with pytest.raises(Conflict) as caught:
        first.reserve(D("40000.01"))
    assert caught.value.code == "insufficient_credit"
    assert first.reserve(D("40000.00")).available == D("0.00")


def test_utilising_turns_a_reservation_into_a_loan():
    after = line(reserved="50000.00").utilise(D("30000.00"))
    assert (after.reserved, after.utilised, after.available) == (D("20000.00"), D("30000.00"), D("50000.00"))


def test_utilising_more_than_reserved_is_refused():
    with pytest.raises(Conflict) as caught:
        line(reserved="100.00").utilise(D("100.01"))
    assert caught.value.code == "exceeds_reserved"


def test_releasing_gives_back_a_reservation():
    assert line(reserved="500.00").release(D("500.00")).reserved == D("0.00")
    with pytest.raises(Conflict):
        line(reserved="500.00").release(D("500.01"))


def test_repaying_makes_the_line_revolve():
    after = line(utilised="100000.00").repay(D("40000.00"))
    assert after.available == D("40000.00")
    with pytest.raises(Conflict) as caught:
        after.repay(D("60000.01"))
    assert caught.value.code == "exceeds_utilised"


@pytest.mark.parametrize(
    "amount", [D("0"), D("-1.00"), D("1.001"), D("NaN"), D("Infinity"), D("1e40"), 100, 1.5, True]
)
def test_amounts_must_be_positive_exact_cny(amount):
    with pytest.raises(InvalidInput):
        line().reserve(amount)


def test_a_frozen_line_takes_no_new_reservations_but_records_everything_else():
    frozen = line(reserved="10000.00", utilised="10000.00").freeze()
    with pytest.raises(Conflict) as caught:
        frozen.reserve(D("1.00"))
    assert caught.value.code == "line_frozen"
    after = frozen.utilise(D("5000.00")).release(D("5000.00")).repay(D("15000.00"))
    assert after.exposure == D("0.00") and after.status is LineStatus.FROZEN
    assert after.unfreeze().reserve(D("1.00")).reserved == D("1.00")


def test_freeze_and_unfreeze_only_from_the_right_state():
    with pytest.raises(IllegalTransition):
        line().unfreeze()
    with pytest.raises(IllegalTransition):
        line().freeze().freeze()


def test_an_expired_line_takes_no_new_reservations():
    expiring = line(expires_on=dt.date(2025, 6, 30))
    assert expiring.reserve(D("1.00"), on=dt.date(2025, 6, 30)).reserved == D("1.00")
    with pytest.raises(Conflict) as caught:
        expiring.reserve(D("1.00"), on=dt.date(2025, 7, 1))
    assert caught.value.code == "line_expired"
    renewed = expiring.renew(dt.date(2026, 6, 30))
    assert renewed.reserve(D("1.00"), on=dt.date(2025, 7, 1)).reserved == D("1.00")


def test_raising_the_limit_adds_available_credit():
    assert line(utilised="90000.00").adjust_limit(D("150000.00")).available == D("60000.00")


def test_a_limit_below_exposure_is_refused_unless_the_cut_is_deliberate():
    busy = line(reserved="30000.00", utilised="50000.00")
    with pytest.raises(Conflict) as caught:
        busy.adjust_limit(D("79999.99"))
    assert caught.value.code == "limit_below_exposure"
    cut = busy.adjust_limit(D("20000.00"), below_exposure=True)
    assert cut.available == D("0.00") and cut.over_limit == D("60000.00")
    assert (cut.reserved, cut.utilised) == (busy.reserved, busy.utilised)
    with pytest.raises(Conflict):
        cut.reserve(D("0.01"))
    back_under = cut.release(D("30000.00")).repay(D("40000.00"))
    assert back_under.available == D("10000.00")


def test_closing_needs_reservations_cleared_and_is_final():
    with pytest.raises(Conflict) as caught:
        line(reserved="1.00").close()
    assert caught.value.code == "reservations_open"
    closed = line(utilised="500.00").close()
    assert closed.repay(D("500.00")).utilised == D("0.00")  # outstanding loans still run off
    for operation in (closed.freeze, closed.unfreeze, closed.close):
        with pytest.raises(IllegalTransition):
            operation()
    with pytest.raises(Conflict) as caught:
        closed.reserve(D("1.00"))
    assert caught.value.code == "line_closed"
    with pytest.raises(Conflict):
        closed.adjust_limit(D("1.00"))


def test_a_closed_line_reopens_with_a_fresh_limit_above_what_still_runs_off():
    closed = line(utilised="500.00").close()
    reopened = closed.reopen(D("2000.00"), dt.date(2027, 1, 1))
    assert (reopened.status, reopened.limit, reopened.available) == (
        LineStatus.ACTIVE,
        D("2000.00"),
        D("1500.00"),
    )
    assert reopened.expires_on == dt.date(2027, 1, 1)
    with pytest.raises(Conflict) as caught:
        closed.reopen(D("499.99"))
    assert caught.value.code == "limit_below_exposure"
    with pytest.raises(IllegalTransition):
        line().reopen(D("1.00"))


def test_a_line_serialises_money_as_strings():
    data = open_credit_line(D("1000.00"), dt.date(2026, 1, 1)).reserve(D("250.50")).to_json()
    assert data == {
        "limit": "1000.00",
        "reserved": "250.50",
        "utilised": "0.00",
        "available": "749.50",
        "status": "active",
        "expires_on": "2026-01-01",
    }


# --------------------------------------------------------------------------- stateful property

cents = st.integers(min_value=1, max_value=20_000_000).map(lambda n: D(n).scaleb(-2))


class CreditLineMachine(RuleBasedStateMachine):
    """Random operation sequences against the model, checked against a shadow ledger of plain sums."""

    @initialize(limit=st.integers(0, 100_000_000).map(lambda n: D(n).scaleb(-2)))
    def open_line(self, limit):
        self.line = open_credit_line(limit)
        self.reserved_in = self.released = self.utilised_in = self.repaid = D("0.00")
        self.limit = limit
        self.status = LineStatus.ACTIVE
        self.ceiling = limit

    def attempt(self, operation, *args, allowed: bool, **kwargs):
        before = self.line
        try:
            after = operation(*args, **kwargs)
        except DomainError:
            assert not allowed, f"{operation.__name__}{args} refused on {before}"
            assert self.line == before
            return False
        assert allowed, f"{operation.__name__}{args} accepted on {before}"
        self.line = after
        return True

    @rule(amount=cents)
    def reserve(self, amount):
        allowed = self.status is LineStatus.ACTIVE and amount <= self.line.limit - self.line.exposure
        if self.attempt(self.line.reserve, amount, allowed=allowed):
            self.reserved_in += amount

    @rule(amount=cents, whole=st.booleans())
    def release(self, amount, whole):
        amount = self.line.reserved if whole and self.line.reserved else amount
        if self.attempt(self.line.release, amount, allowed=amount <= self.line.reserved):
            self.released += amount

    @rule(amount=cents, whole=st.booleans())
    def utilise(self, amount, whole):
        amount = self.line.reserved if whole and self.line.reserved else amount
        if self.attempt(self.line.utilise, amount, allowed=amount <= self.line.reserved):
            self.utilised_in += amount

    @rule(amount=cents, whole=st.booleans())
    def repay(self, amount, whole):
        amount = self.line.utilised if whole and self.line.utilised else amount
        if self.attempt(self.line.repay, amount, allowed=amount <= self.line.utilised):
            self.repaid += amount

    @rule(new_limit=st.integers(0, 100_000_000).map(lambda n: D(n).scaleb(-2)), cut=st.booleans())
    def adjust_limit(self, new_limit, cut):
        allowed = self.status is not LineStatus.CLOSED and (cut or new_limit >= self.line.exposure)
        if self.attempt(self.line.adjust_limit, new_limit, below_exposure=cut, allowed=allowed):
            self.limit = new_limit

    @rule()
    def freeze(self):
        if self.attempt(self.line.freeze, allowed=self.status is LineStatus.ACTIVE):
            self.status = LineStatus.FROZEN

    @rule()
    def unfreeze(self):
        if self.attempt(self.line.unfreeze, allowed=self.status is LineStatus.FROZEN):
            self.status = LineStatus.ACTIVE

    @rule()
    def close(self):
        allowed = self.status is not LineStatus.CLOSED and self.line.reserved == 0
        if self.attempt(self.line.close, allowed=allowed):
            self.status = LineStatus.CLOSED

    @invariant()
    def available_is_never_negative(self):
        assert self.line.available >= 0
        assert self.line.available == max(self.line.limit - self.line.reserved - self.line.utilised, 0)

    @invariant()
    def balances_are_never_negative_and_exact(self):
        for amount in (self.line.limit, self.line.reserved, self.line.utilised):
            assert amount >= 0 and amount == amount.quantize(D("0.01"))

    @invariant()
    def balances_match_the_sum_of_movements(self):
        assert self.line.reserved == self.reserved_in - self.released - self.utilised_in
        assert self.line.utilised == self.utilised_in - self.repaid
        assert self.line.limit == self.limit and self.line.status is self.status

    @invariant()
    def exposure_only_exceeds_the_limit_after_a_deliberate_cut(self):
        # exposure may sit above the limit only by what was outstanding when the limit was cut
        self.ceiling = max(self.line.limit, min(self.ceiling, self.line.exposure))
        assert self.line.exposure <= self.ceiling


CreditLineMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_random_ledger_operations_keep_every_invariant = CreditLineMachine.TestCase
