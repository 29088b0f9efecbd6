"""The order-loan state machine, as an explicit table (``TRANSITIONS``).

The happy path is applied → approved → disbursed → repaid; a late loan goes disbursed → overdue
(and back by ``cure`` when the arrears are paid) → defaulted after 90 days past due; the bank may
recall a disbursed or overdue loan; an application or an approved, undisbursed loan may be
cancelled. Defaulted and recalled loans end as repaid when recovered in full.

``declined`` is a ninth, terminal state for applications the checks (or a risk officer) turned
down, so that every application has a loan record whose history explains it. A further tranche of
a partially disbursed loan is ``disburse`` from ``disbursed`` to itself. Partial repayments change
no state; they release utilised credit through ``repayment.allocate_repayment``.

Each transition names the credit-line movements it causes (``CreditMovement``) so that the ledger
acts on data, not on knowledge of the states:

* ``reserve`` — approval reserves the approved amount;
* ``utilise_reserved`` — a disbursed tranche moves from reserved to utilised;
* ``release_reservation`` — whatever this loan still holds reserved returns to available
  (cancellation; the undisbursed rest when the loan is repaid, recalled or defaults);
* ``release_utilisation`` — whatever this loan still holds utilised returns to available
  (final repayment; normally zero by then, since each repayment released its principal).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from risk_engine.errors import Conflict, IllegalTransition, InvalidInput


class LoanState(StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    DECLINED = "declined"
    DISBURSED = "disbursed"
    OVERDUE = "overdue"
    DEFAULTED = "defaulted"
    RECALLED = "recalled"
    REPAID = "repaid"
    CANCELLED = "cancelled"


class LoanEvent(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    CANCEL = "cancel"
    DISBURSE = "disburse"
    FALL_OVERDUE = "fall_overdue"
    CURE = "cure"
    DEFAULT = "default"
    RECALL = "recall"
    REPAY_IN_FULL = "repay_in_full"


class CreditMovement(StrEnum):
    RESERVE = "reserve"
    UTILISE_RESERVED = "utilise_reserved"
    RELEASE_RESERVATION = "release_reservation"
    RELEASE_UTILISATION = "release_utilisation"


@dataclass(frozen=True)
class Transition:
    from_state: LoanState
    event: LoanEvent
    to_state: LoanState
    movements: tuple[CreditMovement, ...]
    description: str


S, E, M = LoanState, LoanEvent, CreditMovement
_CLOSE = (M.RELEASE_RESERVATION, M.RELEASE_UTILISATION)

TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.APPLIED, E.APPROVE, S.APPROVED, (M.RESERVE,), "application approved; amount reserved"),
    Transition(S.APPLIED, E.DECLINE, S.DECLINED, (), "application declined"),
    Transition(S.APPLIED, E.CANCEL, S.CANCELLED, (), "application withdrawn before a decision"),
    Transition(S.APPROVED, E.DISBURSE, S.DISBURSED, (M.UTILISE_RESERVED,), "first tranche disbursed"),
    Transition(
        S.APPROVED,
        E.CANCEL,
        S.CANCELLED,
        (M.RELEASE_RESERVATION,),
        "approved loan cancelled before disbursement; reservation released",
    ),
    Transition(S.DISBURSED, E.DISBURSE, S.DISBURSED, (M.UTILISE_RESERVED,), "further tranche disbursed"),
    Transition(S.DISBURSED, E.FALL_OVERDUE, S.OVERDUE, (), "a scheduled payment is past due"),
    Transition(S.DISBURSED, E.REPAY_IN_FULL, S.REPAID, _CLOSE, "repaid in full; credit released"),
    Transition(
        S.DISBURSED,
        E.RECALL,
        S.RECALLED,
        (M.RELEASE_RESERVATION,),
        "bank recalled the loan: all of it due now",
    ),
    Transition(S.OVERDUE, E.CURE, S.DISBURSED, (), "arrears paid; back to current"),
    Transition(S.OVERDUE, E.REPAY_IN_FULL, S.REPAID, _CLOSE, "repaid in full; credit released"),
    Transition(S.OVERDUE, E.DEFAULT, S.DEFAULTED, (M.RELEASE_RESERVATION,), "more than 90 days past due"),
    Transition(
        S.OVERDUE,
        E.RECALL,
        S.RECALLED,
        (M.RELEASE_RESERVATION,),
        "bank recalled the overdue loan: all of it due now",
    ),
    Transition(S.RECALLED, E.REPAY_IN_FULL, S.REPAID, _CLOSE, "recalled loan repaid; credit released"),
    Transition(S.RECALLED, E.DEFAULT, S.DEFAULTED, (), "recalled loan more than 90 days past due"),
    Transition(S.DEFAULTED, E.REPAY_IN_FULL, S.REPAID, _CLOSE, "defaulted loan recovered in full"),
)

_BY_STATE_EVENT = {(t.from_state, t.event): t for t in TRANSITIONS}
_BY_STATES = {(t.from_state, t.to_state): t for t in TRANSITIONS}
assert len(_BY_STATES) == len(TRANSITIONS), "one event per (from, to) pair keeps transition_to unambiguous"

# Where an event leads when it is allowed; names the target in the error when it is not.
EVENT_TARGET: dict[LoanEvent, LoanState] = {
    E.APPROVE: S.APPROVED,
    E.DECLINE: S.DECLINED,
    E.CANCEL: S.CANCELLED,
    E.DISBURSE: S.DISBURSED,
    E.FALL_OVERDUE: S.OVERDUE,
    E.CURE: S.DISBURSED,
    E.DEFAULT: S.DEFAULTED,
    E.RECALL: S.RECALLED,
    E.REPAY_IN_FULL: S.REPAID,
}
TERMINAL_STATES = frozenset(s for s in LoanState if not any(t.from_state is s for t in TRANSITIONS))
# States in which the loan has money out with the borrower.
OUTSTANDING_STATES = frozenset({S.DISBURSED, S.OVERDUE, S.RECALLED, S.DEFAULTED})


def _state(value: LoanState | str, field: str) -> LoanState:
    try:
        return LoanState(value)
    except ValueError:
        raise InvalidInput(f"unknown loan state {value!r}", field=field, code="unknown_loan_state") from None


def _event(value: LoanEvent | str) -> LoanEvent:
    try:
        return LoanEvent(value)
    except ValueError:
        raise InvalidInput(
            f"unknown loan event {value!r}", field="event", code="unknown_loan_event"
        ) from None


def _illegal(from_state: LoanState, to_state: LoanState, event: LoanEvent | None) -> IllegalTransition:
    allowed = sorted(
        f"{t.event.value} → {t.to_state.value}" for t in TRANSITIONS if t.from_state is from_state
    )
    how = f" by '{event.value}'" if event else ""
    return IllegalTransition(
        f"a loan cannot go from {from_state.value} to {to_state.value}{how}; from {from_state.value} "
        + (f"the allowed moves are: {', '.join(allowed)}" if allowed else "no move is allowed (final state)"),
        field="state",
        code="illegal_transition",
        extra={"from": from_state.value, "to": to_state.value, "event": event.value if event else None},
    )


def step(loan_state: LoanState | str, event: LoanEvent | str) -> Transition:
    """The transition ``event`` causes from ``loan_state``, or ``IllegalTransition``."""
    state, ev = _state(loan_state, "state"), _event(event)
    found = _BY_STATE_EVENT.get((state, ev))
    if found is None:
        raise _illegal(state, EVENT_TARGET[ev], ev)
    return found


def transition(loan_state: LoanState | str, event: LoanEvent | str) -> LoanState:
    return step(loan_state, event).to_state


def transition_to(from_state: LoanState | str, to_state: LoanState | str) -> Transition:
    """The transition from one state to another, for callers that know the target, not the event."""
    start, target = _state(from_state, "from_state"), _state(to_state, "to_state")
    found = _BY_STATES.get((start, target))
    if found is None:
        raise _illegal(start, target, None)
    return found


def allowed_events(loan_state: LoanState | str) -> tuple[LoanEvent, ...]:
    state = _state(loan_state, "state")
    return tuple(t.event for t in TRANSITIONS if t.from_state is state)


@dataclass(frozen=True)
class CreditInstruction:
    movement: CreditMovement
    amount: Decimal


def credit_instructions(
    step_taken: Transition,
    *,
    approved_amount: Decimal,
    reserved_held: Decimal,
    utilised_held: Decimal,
    tranche: Decimal = Decimal("0.00"),
) -> tuple[CreditInstruction, ...]:
    """The amounts the ledger moves for one transition of one loan.

    ``reserved_held`` / ``utilised_held`` are what this loan currently holds on the line; ``tranche``
    is the amount disbursed by a ``disburse`` event. Zero movements are left out.
    """
    amounts = {
        M.RESERVE: approved_amount,
        M.UTILISE_RESERVED: tranche,
        M.RELEASE_RESERVATION: reserved_held,
        M.RELEASE_UTILISATION: utilised_held,
    }
    if M.UTILISE_RESERVED in step_taken.movements and tranche > reserved_held:
        raise Conflict(
            f"tranche {tranche} exceeds the {reserved_held} still reserved for this loan",
            field="amount",
            code="disbursement_exceeds_approval",
        )
    return tuple(CreditInstruction(m, amounts[m]) for m in step_taken.movements if amounts[m] > 0)
