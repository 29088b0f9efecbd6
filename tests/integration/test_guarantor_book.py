"""A guarantor's book counts what it still guarantees: a line closed while its order loans are being repaid
stays in the book for what is outstanding on it until that is repaid, so new guarantees cannot breach the
regulatory caps (融资担保公司监督管理条例 Art. 15–16) behind it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from limits import exposure, ledger
from risk_engine.decisions import service
from risk_engine.decisions.schemas import CreditLimitRequestIn
from risk_engine.parties.models import Guarantor
from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import make_bank, make_dealer, make_guarantor

D = Decimal
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CAUSE = ledger.Cause("test", "guarantor-book")


@pytest.fixture
def features():
    return DictFeatureSource()


def decide(db, dealer, bank, features):
    with db.unit_of_work() as s:
        return service.decide_credit_limit(
            s,
            CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id),
            scorer=tiny_xgb_scorer(),
            features=features,
            clock=lambda: NOW,
            actor="platform:test",
        )


def capacity_of(decision) -> dict:
    return json.loads(decision.inputs)["guarantor_capacity"]


@pytest.fixture
def near_its_cap(db, features):
    """A guarantor with 1M net assets covering half of a dealer's lines: 10 % for one client is 100k of
    guarantee, a 200k line — which the dealer's first line at bank A takes whole. The dealer then draws 150k
    (75k guaranteed) and the line is closed (expired, or closed by an officer) while the loan runs off."""
    guarantor = make_guarantor(db, net_assets=D("1000000.00"), coverage_ratio=D("0.50"))
    bank_a, bank_b = make_bank(db), make_bank(db)
    dealer = make_dealer(db, guarantor_id=guarantor.id)
    first = decide(db, dealer, bank_a, features)
    assert (first.binding_constraint, first.limit) == ("guarantor_capacity", D("200000.00"))
    with db.unit_of_work() as s:
        ledger.reserve(s, first.line_id, D("150000.00"), cause=CAUSE, actor="test")
        ledger.utilise(s, first.line_id, D("150000.00"), cause=CAUSE, actor="test")
        ledger.close(s, first.line_id, cause=CAUSE, actor="test", reason="expired")
    return guarantor, dealer, bank_a, bank_b, first.line_id


def test_a_closed_line_with_outstanding_utilisation_still_counts_in_its_guarantors_book(
    db, features, near_its_cap
):
    guarantor, dealer, _bank_a, bank_b, _line_id = near_its_cap
    decision = decide(db, dealer, bank_b, features)
    capacity = capacity_of(decision)
    assert capacity["client_outstanding"] == "75000.00"  # 150k still outstanding, half guaranteed
    assert capacity["headroom"] == "25000.00" and capacity["binding"] == "single_party"
    assert (decision.binding_constraint, decision.limit) == ("guarantor_capacity", D("50000.00"))
    with db.session() as s:
        book = exposure.guaranteed_book(s, s.get(Guarantor, guarantor.id))
    assert sorted(book) == sorted([(dealer.id, D("75000.00")), (dealer.id, D("25000.00"))])


def test_once_the_closed_lines_loans_are_repaid_it_no_longer_counts(db, features, near_its_cap):
    guarantor, dealer, _bank_a, bank_b, line_id = near_its_cap
    with db.unit_of_work() as s:
        ledger.repay(s, line_id, D("150000.00"), cause=CAUSE, actor="test")
        assert exposure.guaranteed_book(s, s.get(Guarantor, guarantor.id)) == []
    decision = decide(db, dealer, bank_b, features)
    assert capacity_of(decision)["client_outstanding"] == "0.00"
    assert (decision.binding_constraint, decision.limit) == ("guarantor_capacity", D("200000.00"))


def test_a_partly_repaid_closed_line_counts_what_is_still_outstanding(db, features, near_its_cap):
    _guarantor, dealer, _bank_a, bank_b, line_id = near_its_cap
    with db.unit_of_work() as s:
        ledger.repay(s, line_id, D("100000.00"), cause=CAUSE, actor="test")
    decision = decide(db, dealer, bank_b, features)
    assert capacity_of(decision)["client_outstanding"] == "25000.00"
    assert decision.limit == D("150000.00")


def test_the_leverage_cap_counts_closed_lines_still_outstanding(db, features):
    """Total guarantees ≤ 10× net assets (Art. 15): a guarantor whose book is full only because of closed
    lines still being repaid has no room for a new client."""
    guarantor = make_guarantor(db, net_assets=D("100000.00"), coverage_ratio=D("1.00"))
    bank = make_bank(db)
    lines = []
    dealers = [make_dealer(db, guarantor_id=guarantor.id) for _ in range(2)]
    with db.unit_of_work() as s:
        for dealer in dealers:
            lines.append(ledger.open_line(s, dealer_id=dealer.id, bank_id=bank.id, limit=D("500000.00"),
                                          cause=CAUSE, actor="test").id)
    with db.unit_of_work() as s:
        for line_id in lines:
            ledger.reserve(s, line_id, D("500000.00"), cause=CAUSE, actor="test")
            ledger.utilise(s, line_id, D("500000.00"), cause=CAUSE, actor="test")
            ledger.close(s, line_id, cause=CAUSE, actor="test", reason="expired")
    newcomer = make_dealer(db, guarantor_id=guarantor.id)
    decision = decide(db, newcomer, bank, features)
    capacity = capacity_of(decision)
    assert capacity["total_outstanding"] == "1000000.00" and capacity["binding"] == "leverage"
    assert decision.outcome == "decline" and "KO_GUARANTOR_OVER_CAPACITY" in json.loads(decision.reason_codes)


def test_reopening_a_closed_line_still_being_repaid_does_not_count_its_own_guarantee_twice(
    db, features, near_its_cap
):
    """The line's new limit covers what is still outstanding on it: its headroom is measured without its
    own guarantee, closed or not, as for a re-rating of an open line."""
    _guarantor, dealer, bank_a, _bank_b, line_id = near_its_cap
    decision = decide(db, dealer, bank_a, features)
    assert (decision.outcome, decision.binding_constraint, decision.limit) == (
        "approve", "guarantor_capacity", D("200000.00")), decision.reason_codes
    with db.session() as s:
        line = ledger.get_line(s, line_id)
        assert (line.status, line.limit, line.utilised) == ("active", D("200000.00"), D("150000.00"))


def test_an_open_line_cut_below_its_exposure_counts_its_exposure(db, features):
    """A limit cut under what is drawn leaves the loans in place: the guarantee still stands behind them."""
    guarantor = make_guarantor(db, net_assets=D("1000000.00"), coverage_ratio=D("0.50"))
    bank = make_bank(db)
    dealer = make_dealer(db, guarantor_id=guarantor.id)
    with db.unit_of_work() as s:
        line_id = ledger.open_line(s, dealer_id=dealer.id, bank_id=bank.id, limit=D("200000.00"),
                                   cause=CAUSE, actor="test").id
        ledger.reserve(s, line_id, D("180000.00"), cause=CAUSE, actor="test")
        ledger.utilise(s, line_id, D("180000.00"), cause=CAUSE, actor="test")
        ledger.adjust_limit(s, line_id, D("50000.00"), cause=CAUSE, actor="test", below_exposure=True)
    with db.session() as s:
        assert exposure.guaranteed_book(s, s.get(Guarantor, guarantor.id)) == [(dealer.id, D("90000.00"))]
