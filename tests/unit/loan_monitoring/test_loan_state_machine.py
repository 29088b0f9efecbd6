from __future__ import annotations

from decimal import Decimal
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loan_monitoring.state import (
    EVENT_TARGET,
    TERMINAL_STATES,
    TRANSITIONS,
    CreditInstruction,
    CreditMovement,
    LoanEvent,
    LoanState,
    allowed_events,
    credit_instructions,
    step,
    transition,
    transition_to,
)
from risk_engine.errors import Conflict, IllegalTransition, InvalidInput

ALLOWED_PAIRS = {(t.from_state, t.event) for t in TRANSITIONS}
ALLOWED_STATE_PAIRS = {(t.from_state, t.to_state) for t in TRANSITIONS}
ILLEGAL_PAIRS = sorted(set(product(LoanState, LoanEvent)) - ALLOWED_PAIRS)
ILLEGAL_STATE_PAIRS = sorted(set(product(LoanState, LoanState)) - ALLOWED_STATE_PAIRS)


@given(st.sampled_from(ILLEGAL_PAIRS))
def test_every_illegal_event_is_rejected_naming_the_from_and_to_states(pair):
    state, event = pair
    with pytest.raises(IllegalTransition) as raised:
        transition(state, event)
    error = raised.value
    assert error.extra == {"from": state.value, "to": EVENT_TARGET[event].value, "event": event.value}
    assert f"from {state.value} to {EVENT_TARGET[event].value}" in error.detail
    assert error.status == 409 and error.code == "illegal_transition"


@given(st.sampled_from(ILLEGAL_STATE_PAIRS))
def test_every_illegal_pair_of_states_is_rejected(pair):
    start, target = pair
    with pytest.raises(IllegalTransition, match=f"from {start.value} to {target.value}"):
        transition_to(start, target)


@given(st.sampled_from(TRANSITIONS))
def test_every_allowed_event_leads_where_the_table_says(entry):
    assert transition(entry.from_state, entry.event) is entry.to_state
    assert transition_to(entry.from_state, entry.to_state) == entry
    assert EVENT_TARGET[entry.event] is entry.to_state


def test_the_illegal_pairs_are_most_of_the_space_and_all_are_exercised():
    assert len(ILLEGAL_PAIRS) == len(LoanState) * len(LoanEvent) - len(TRANSITIONS)
    for state, event in ILLEGAL_PAIRS:  # exhaustively too: the list is small
        with pytest.raises(IllegalTransition):
            step(state, event)


def test_repaid_cancelled_and_declined_are_final():
    assert TERMINAL_STATES == {LoanState.REPAID, LoanState.CANCELLED, LoanState.DECLINED}
    assert allowed_events(LoanState.REPAID) == ()


def test_a_cancelled_loan_cannot_be_disbursed_and_the_message_says_why():
    with pytest.raises(IllegalTransition) as raised:
        transition("cancelled", "disburse")
    assert "cancelled to disbursed" in raised.value.detail and "final state" in raised.value.detail


def test_unknown_states_and_events_are_invalid_input_not_illegal_transitions():
    with pytest.raises(InvalidInput):
        transition("approved", "teleport")
    with pytest.raises(InvalidInput):
        transition("limbo", "approve")


def test_a_loan_can_travel_from_application_to_repayment():
    state = LoanState.APPLIED
    for event in ("approve", "disburse", "disburse", "fall_overdue", "cure", "repay_in_full"):
        state = transition(state, event)
    assert state is LoanState.REPAID


def test_a_loan_can_travel_from_application_to_default_and_recovery():
    state = LoanState.APPLIED
    for event in ("approve", "disburse", "fall_overdue", "default"):
        state = transition(state, event)
    assert state is LoanState.DEFAULTED
    assert transition(state, "repay_in_full") is LoanState.REPAID


def test_approval_reserves_and_cancellation_releases_the_reservation():
    approve = step(LoanState.APPLIED, LoanEvent.APPROVE)
    cancel = step(LoanState.APPROVED, LoanEvent.CANCEL)
    assert credit_instructions(
        approve, approved_amount=Decimal("80000.00"), reserved_held=Decimal(0), utilised_held=Decimal(0)
    ) == (CreditInstruction(CreditMovement.RESERVE, Decimal("80000.00")),)
    assert credit_instructions(
        cancel,
        approved_amount=Decimal("80000.00"),
        reserved_held=Decimal("80000.00"),
        utilised_held=Decimal(0),
    ) == (CreditInstruction(CreditMovement.RELEASE_RESERVATION, Decimal("80000.00")),)
    assert step(LoanState.APPLIED, LoanEvent.CANCEL).movements == ()


def test_a_tranche_moves_credit_from_reserved_to_utilised_and_may_not_exceed_the_reservation():
    disburse = step(LoanState.APPROVED, LoanEvent.DISBURSE)
    assert credit_instructions(
        disburse,
        approved_amount=Decimal(100),
        reserved_held=Decimal(100),
        utilised_held=Decimal(0),
        tranche=Decimal(60),
    ) == (CreditInstruction(CreditMovement.UTILISE_RESERVED, Decimal(60)),)
    with pytest.raises(Conflict):
        credit_instructions(
            disburse,
            approved_amount=Decimal(100),
            reserved_held=Decimal(40),
            utilised_held=Decimal(60),
            tranche=Decimal("40.01"),
        )


def test_full_repayment_releases_what_the_loan_still_holds_including_an_undisbursed_rest():
    repay = step(LoanState.DISBURSED, LoanEvent.REPAY_IN_FULL)
    moves = credit_instructions(
        repay, approved_amount=Decimal(100), reserved_held=Decimal(40), utilised_held=Decimal(0)
    )
    assert moves == (CreditInstruction(CreditMovement.RELEASE_RESERVATION, Decimal(40)),)


@pytest.mark.parametrize("state", [LoanState.DISBURSED, LoanState.OVERDUE])
def test_a_recall_stops_further_tranches_by_releasing_the_reservation(state):
    assert step(state, LoanEvent.RECALL).movements == (CreditMovement.RELEASE_RESERVATION,)
