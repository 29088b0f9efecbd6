"""The loan state machine, persisted: one function moves a loan and everything that moves with it.

``move`` asks the pure table (``loan_monitoring.state``) whether the event is allowed — an illegal
one raises ``IllegalTransition`` (409) naming the moves that are — then carries out the credit-line
movements the transition names through ``limits.ledger`` (each with its own movement row and audit
entry, caused by ``("order_loan", loan id)``), stamps the loan and appends the ``order_loan.<event>``
audit entry, all in the caller's transaction (flush, never commit).

Lock order (PostgreSQL): the loan row, then its credit line, before the first audit entry of the
transaction — the audit chain holds a transaction-wide lock, so a row locked after it could
deadlock with a writer that locked the row first and now waits for the chain. ``lock_loan`` does
both; every service and job takes it before changing a loan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import audit
from limits import ledger
from limits.models import CreditLineRecord
from loan_monitoring.models import OrderLoan
from loan_monitoring.money import ZERO
from loan_monitoring.state import CreditMovement, LoanEvent, LoanState, Transition, credit_instructions, step
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, NotFound

CAUSE_TYPE = "order_loan"


def lock_loan(session: Session, loan_id: str) -> OrderLoan:
    """The loan, locked for update, and its credit line locked after it (see the module docstring)."""
    loan = session.scalars(
        select(OrderLoan)
        .where(OrderLoan.id == loan_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if loan is None:
        raise NotFound(f"no order loan {loan_id}", field="loan_id")
    lock_lines(session, [loan.line_id] if loan.line_id else [])
    return loan


def lock_lines(session: Session, line_ids: list[str]) -> None:
    """Lock credit lines in id order (a fixed order, so two transactions never wait on each other)."""
    if line_ids:
        session.execute(
            select(CreditLineRecord.id)
            .where(CreditLineRecord.id.in_(sorted(set(line_ids))))
            .order_by(CreditLineRecord.id)
            .with_for_update()
        )


@dataclass(frozen=True)
class Moved:
    transition: Transition
    from_state: LoanState
    credit: tuple[dict[str, Any], ...]


def figures(loan: OrderLoan) -> dict[str, str]:
    return {
        "approved_amount": str(loan.approved_amount),
        "reserved_held": str(loan.reserved_held),
        "disbursed_amount": str(loan.disbursed_amount),
        "outstanding_principal": str(loan.outstanding_principal),
    }


def move(
    session: Session,
    loan: OrderLoan,
    event: LoanEvent,
    *,
    actor: str,
    at: datetime | None = None,
    tranche: Decimal = ZERO,
    details: dict[str, Any] | None = None,
) -> Moved:
    """Apply ``event`` to ``loan`` (locked by the caller), with its credit movements and audit entry."""
    at = at or utcnow()
    transition = step(loan.state, event)
    from_state = LoanState(loan.state)
    instructions = credit_instructions(
        transition,
        approved_amount=loan.approved_amount,
        reserved_held=loan.reserved_held,
        utilised_held=loan.outstanding_principal,
        tranche=tranche,
    )
    if instructions and loan.line_id is None:
        raise Conflict(
            f"order loan {loan.id} has no credit line to move", field="line_id", code="no_credit_line"
        )
    credit = []
    for instruction in instructions:
        movement = _move_credit(session, loan, instruction.movement, instruction.amount, actor)
        credit.append(
            {
                "movement": instruction.movement.value,
                "amount": str(instruction.amount),
                "credit_movement_id": movement.id,
            }
        )
    loan.state = transition.to_state.value
    _stamp(loan, transition.to_state, at)
    loan.version += 1
    loan.updated_at = utcnow()
    session.flush()
    payload = {
        "event": event.value,
        "from": from_state.value,
        "to": transition.to_state.value,
        "description": transition.description,
        "at": at,
        "credit": credit,
        "figures": figures(loan),
    }
    if details:
        payload.update(details)
    audit.record(
        session,
        actor=actor,
        action=f"order_loan.{event.value}",
        subject_type="order_loan",
        subject_id=loan.id,
        payload=payload,
    )
    return Moved(transition, from_state, tuple(credit))


def _move_credit(
    session: Session, loan: OrderLoan, movement: CreditMovement, amount: Decimal, actor: str
) -> Any:
    cause = ledger.Cause(CAUSE_TYPE, loan.id)
    assert loan.line_id is not None
    if movement is CreditMovement.RESERVE:
        done = ledger.reserve(session, loan.line_id, amount, cause=cause, actor=actor)
        loan.reserved_held += amount
    elif movement is CreditMovement.UTILISE_RESERVED:
        done = ledger.utilise(session, loan.line_id, amount, cause=cause, actor=actor)
        loan.reserved_held -= amount
        loan.outstanding_principal += amount
        loan.disbursed_amount += amount
    elif movement is CreditMovement.RELEASE_RESERVATION:
        done = ledger.release(session, loan.line_id, amount, cause=cause, actor=actor)
        loan.reserved_held -= amount
    else:  # RELEASE_UTILISATION: whatever principal is still held when the loan closes
        done = ledger.repay(session, loan.line_id, amount, cause=cause, actor=actor)
        loan.outstanding_principal -= amount
    return done


def release_principal(session: Session, loan: OrderLoan, principal: Decimal, *, actor: str) -> Any:
    """A repayment's principal part returns utilised credit to the line (no state change)."""
    if principal <= 0 or loan.line_id is None:
        return None
    done = ledger.repay(
        session, loan.line_id, principal, cause=ledger.Cause(CAUSE_TYPE, loan.id), actor=actor
    )
    loan.outstanding_principal -= principal
    loan.principal_repaid += principal
    return done


def _stamp(loan: OrderLoan, to_state: LoanState, at: datetime) -> None:
    if to_state in (LoanState.APPROVED, LoanState.DECLINED) and loan.decided_at is None:
        loan.decided_at = at
    if to_state is LoanState.DISBURSED and loan.first_disbursed_at is None:
        loan.first_disbursed_at = at
    if to_state is LoanState.DEFAULTED:
        loan.defaulted_at = at
    if to_state is LoanState.RECALLED:
        loan.recalled_at = at
    if to_state is LoanState.REPAID:
        loan.repaid_at = at
    if to_state in (LoanState.DECLINED, LoanState.CANCELLED, LoanState.REPAID):
        loan.closed_at = at
