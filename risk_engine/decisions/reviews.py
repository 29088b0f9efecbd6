"""The review queue: referred decisions, resolved by a risk officer with a reason; big overrides need a
second officer (maker-checker).

=========================== ============================== =========================================
step                        from → to                      who
=========================== ============================== =========================================
assign_to_me                open → assigned                any officer (a case assigned to someone
                                                           else is 409 ``already_assigned``)
resolve (decline, or a      open/assigned → resolved       the assignee (an open case is taken)
limit within threshold)
resolve (approve/adjust     open/assigned →                the assignee: the maker
above the threshold)        awaiting_second_approval
second_approval approve     awaiting → resolved            another officer: the checker (403
                                                           ``maker_checker`` for the maker)
second_approval reject      awaiting → assigned            the checker; the case goes back to the maker
a newer credit-limit        open/assigned/awaiting →       ``decisions.service.decide_credit_limit``
decision (dealer and bank)  superseded                     (``superseded_by`` names it)
=========================== ============================== =========================================

A superseded case is closed: its proposal is out of date, and assigning, resolving or approving it answers
409 ``case_superseded``; the newer decision (approved, declined or referred in a case of its own) stands.
A credit-limit approval takes the ledger's first locks (guarantor, bank quota) before the case's, in the
order a decision takes them before it locks the cases it supersedes: neither waits on the other in a cycle.

An override "raises exposure above the threshold" when the limit it grants is above
``RISK_OVERRIDE_SECOND_APPROVAL_ABOVE`` and above the line's current limit. Approving creates or adjusts
the credit line through the ledger (an officer may cut a line below its exposure: that is deliberate).
Overrides never break the hard limits: the bank product's cap, the bank's quota (the ledger refuses) and
the guarantor's regulatory capacity; and, as the engine, no limit at all once the dealer's guarantee has
expired (409 ``guarantee_expired``: an expired guarantee backs nothing, the engine declines). Every step is
audited in the caller's transaction.

An order-loan referral (``decision.kind == "order_loan"``) is approved or declined, not adjusted; the
verdict is carried out by ``loan_monitoring.applications.resolve_referral`` (approval reserves the loan
amount on the line); the same threshold asks a second officer for a large loan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import audit, consent
from compliance.models import AuditEntry
from limits import exposure, ledger
from limits.models import CreditLineRecord
from loan_monitoring.dates import business_date
from risk_engine.db import utcnow
from risk_engine.decisions.models import ACTIVE_REVIEW_STATUSES, Decision, ReviewCase
from risk_engine.decisions.ports import Clock
from risk_engine.decisions.service import grant_limit
from risk_engine.errors import Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied
from risk_engine.parties.models import Bank, Dealer

SORTS = {
    "opened_at": (ReviewCase.opened_at, ReviewCase.id),
    "-opened_at": (ReviewCase.opened_at.desc(), ReviewCase.id.desc()),
    "proposed_limit": (ReviewCase.proposed_limit, ReviewCase.id),
    "-proposed_limit": (ReviewCase.proposed_limit.desc(), ReviewCase.id.desc()),
}


def list_cases(
    session: Session,
    *,
    status: str | None = None,
    bank_id: str | None = None,
    assignee: str | None = None,
    sort: str = "opened_at",
    limit: int = 100,
) -> list[ReviewCase]:
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", field="sort")
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000", field="limit")
    statement = select(ReviewCase).order_by(*SORTS[sort]).limit(limit)
    for column, value in (
        (ReviewCase.status, status),
        (ReviewCase.bank_id, bank_id),
        (ReviewCase.assignee, assignee),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return list(session.scalars(statement))


def get_case(session: Session, case_id: str) -> ReviewCase:
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise NotFound(f"no review case {case_id}")
    return case


def case_view(case: ReviewCase) -> dict[str, Any]:
    return {
        "id": case.id,
        "decision_id": case.decision_id,
        "dealer_id": case.dealer_id,
        "bank_id": case.bank_id,
        "status": case.status,
        "proposed_limit": case.proposed_limit,
        "assignee": case.assignee,
        "opened_at": case.opened_at,
        "assigned_at": case.assigned_at,
        "pending": None
        if case.pending_resolution is None
        else {
            "resolution": case.pending_resolution,
            "limit": case.pending_limit,
            "reason": case.pending_reason,
            "proposed_by": case.proposed_by,
            "proposed_at": case.proposed_at,
        },
        "resolution": case.resolution,
        "resolved_limit": case.resolved_limit,
        "reason": case.reason,
        "resolved_by": case.resolved_by,
        "resolved_at": case.resolved_at,
        "second_approver": case.second_approver,
        "second_approved_at": case.second_approved_at,
        "line_id": case.line_id,
        "superseded_by": case.superseded_by,
    }


def assign_to(session: Session, case_id: str, *, officer: str, clock: Clock = utcnow) -> ReviewCase:
    case = _lock(session, case_id)
    _require_not_superseded(case)
    if case.status == "assigned" and case.assignee == officer:
        return case
    if case.status == "assigned":
        raise Conflict(f"the case is assigned to {case.assignee}", field="assignee", code="already_assigned")
    if case.status != "open":
        raise IllegalTransition(f"a case that is {case.status} cannot be assigned", field="status")
    case.status, case.assignee, case.assigned_at = "assigned", officer, clock()
    session.flush()
    audit.record(
        session,
        actor=officer,
        action="review.assigned",
        subject_type="review_case",
        subject_id=case.id,
        payload={"assignee": officer, "decision_id": case.decision_id},
    )
    return case


def resolve(
    session: Session,
    case_id: str,
    *,
    resolution: str,
    reason: str,
    limit: Decimal | None = None,
    officer: str,
    second_approval_above: Decimal,
    line_term_days: int,
    clock: Clock = utcnow,
) -> ReviewCase:
    """Decline, approve the proposed limit, or adjust it. Above the threshold the override waits for a
    second officer."""
    case = _lock(session, case_id, for_ledger=resolution in ("approve", "adjust"))
    _require_not_superseded(case)
    if case.status not in ("open", "assigned"):
        raise IllegalTransition(f"a case that is {case.status} cannot be resolved", field="status")
    if case.status == "assigned" and case.assignee != officer:
        raise PermissionDenied(
            f"the case is assigned to {case.assignee}; assign it to yourself first",
            field="assignee",
            code="not_assignee",
        )
    reason = _reason(reason)
    now = clock()
    taken = case.status == "open"  # resolving an open case takes it; said in this step's audit entry, since
    if taken:  # an entry now would come before the ledger's row locks (see limits.ledger)
        case.status, case.assignee, case.assigned_at = "assigned", officer, now
    decision = session.get(Decision, case.decision_id)
    if resolution == "decline":
        if decision.kind == "order_loan":
            _carry_out_order_loan(session, decision, approve=False, reason=reason, officer=officer)
        return _finish(
            session,
            case,
            "decline",
            None,
            reason,
            officer,
            now,
            second_approver=None,
            line_id=None,
            taken=taken,
        )
    granted = _granted_limit(case, resolution, limit)
    if decision.kind == "order_loan" and resolution == "adjust":
        raise InvalidInput("an order-loan referral is approved or declined, not adjusted", field="resolution")
    current = Decimal("0.00")
    if decision.kind == "credit_limit":
        line = ledger.find_line(session, case.dealer_id, case.bank_id)
        current = line.limit if line is not None and line.status != "closed" else Decimal("0.00")
    if granted > second_approval_above and granted > current:
        case.status = "awaiting_second_approval"
        case.pending_resolution, case.pending_limit, case.pending_reason = resolution, granted, reason
        case.proposed_by, case.proposed_at = officer, now
        session.flush()
        audit.record(
            session,
            actor=officer,
            action="review.override_proposed",
            subject_type="review_case",
            subject_id=case.id,
            payload={
                "resolution": resolution,
                "limit": granted,
                "reason": reason,
                "threshold": second_approval_above,
                "current_limit": current,
                "taken_by_resolver": taken,
            },
        )
        return case
    line_id = _apply(session, case, decision, granted, officer, now, line_term_days, reason)
    return _finish(
        session,
        case,
        resolution,
        granted,
        reason,
        officer,
        now,
        second_approver=None,
        line_id=line_id,
        taken=taken,
    )


def second_approval(
    session: Session,
    case_id: str,
    *,
    approve: bool,
    reason: str,
    officer: str,
    line_term_days: int,
    clock: Clock = utcnow,
) -> ReviewCase:
    """The checker confirms the maker's override (it takes effect) or sends it back to the maker."""
    case = _lock(session, case_id, for_ledger=approve)
    _require_not_superseded(case)
    if case.status != "awaiting_second_approval":
        raise IllegalTransition(f"the case is {case.status}, not awaiting a second approval", field="status")
    if case.proposed_by == officer:
        raise PermissionDenied(
            "the officer who proposed an override may not also approve it",
            field="approver",
            code="maker_checker",
        )
    reason = _reason(reason)
    now = clock()
    if not approve:
        maker = case.proposed_by
        payload = {
            "rejected_resolution": case.pending_resolution,
            "rejected_limit": case.pending_limit,
            "maker": maker,
            "reason": reason,
        }
        case.status, case.assignee = "assigned", maker
        case.pending_resolution = case.pending_limit = case.pending_reason = None
        case.proposed_by = case.proposed_at = None
        session.flush()
        audit.record(
            session,
            actor=officer,
            action="review.override_rejected",
            subject_type="review_case",
            subject_id=case.id,
            payload=payload,
        )
        return case
    decision = session.get(Decision, case.decision_id)
    line_id = _apply(
        session,
        case,
        decision,
        case.pending_limit,
        officer,
        now,
        line_term_days,
        case.pending_reason or reason,
    )
    return _finish(
        session,
        case,
        case.pending_resolution,
        case.pending_limit,
        case.pending_reason,
        case.proposed_by,
        now,
        second_approver=officer,
        line_id=line_id,
        checker_reason=reason,
    )


def lock_active_case_of(session: Session, decision_id: str) -> ReviewCase | None:
    """The decision's review case, locked, while it is still open, assigned or awaiting its checker; None
    otherwise. Taken before the loan's lock, as an officer's resolution takes them (case, then loan)."""
    case_id = session.scalar(select(ReviewCase.id).where(ReviewCase.decision_id == decision_id))
    if case_id is None:
        return None
    case = _lock(session, case_id)
    return case if case.status in ACTIVE_REVIEW_STATUSES else None


def withdraw_case(session: Session, case: ReviewCase, *, reason: str, actor: str, at: datetime) -> ReviewCase:
    """Close an active case whose application the platform withdrew: resolved as ``decline`` with the reason,
    audited as any resolution (so the bank's resolution feed carries it), a pending override dropped."""
    return _finish(session, case, "decline", None, _reason(reason), actor, at, second_approver=None, line_id=None)


# --------------------------------------------------------------------------- machinery


def _lock(session: Session, case_id: str, *, for_ledger: bool = False) -> ReviewCase:
    """Lock the case. ``for_ledger``: the step may change a credit line, so first take the locks a
    credit-limit decision takes before it locks the cases it supersedes (guarantor, then bank quota): the
    step then waits for such a decision to finish (and finds its case superseded), never the reverse."""
    if for_ledger:
        _lock_ledger_first(session, case_id)
    case = session.scalars(
        select(ReviewCase)
        .where(ReviewCase.id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if case is None:
        raise NotFound(f"no review case {case_id}")
    return case


def _lock_ledger_first(session: Session, case_id: str) -> None:
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise NotFound(f"no review case {case_id}")
    if session.scalar(select(Decision.kind).where(Decision.id == case.decision_id)) != "credit_limit":
        return  # an order-loan case: the loan domain takes its own locks; no decision supersedes it
    guarantor_id = session.scalar(select(Dealer.guarantor_id).where(Dealer.id == case.dealer_id))
    if guarantor_id is not None:
        exposure.lock_guarantor(session, guarantor_id)
    ledger.lock_bank_quota(session, case.bank_id)


def _require_not_superseded(case: ReviewCase) -> None:
    if case.status == "superseded":
        raise IllegalTransition(
            f"the case was superseded by the newer decision {case.superseded_by}; its proposal is out of date",
            field="status",
            code="case_superseded",
            extra={"superseded_by": case.superseded_by},
        )


def _reason(reason: str) -> str:
    if not (reason or "").strip():
        raise InvalidInput("a reason is required", field="reason")
    return reason.strip()


def _granted_limit(case: ReviewCase, resolution: str, limit: Decimal | None) -> Decimal:
    if resolution == "approve":
        if limit is not None:
            raise InvalidInput(
                "approve grants the proposed limit; use adjust to grant another", field="limit"
            )
        if case.proposed_limit is None or case.proposed_limit <= 0:
            raise InvalidInput(
                "the decision proposed no limit; adjust with a limit instead", field="resolution"
            )
        return case.proposed_limit
    if resolution == "adjust":
        if limit is None:
            raise InvalidInput("adjust needs the limit to grant", field="limit")
        return limit
    raise InvalidInput("resolution must be approve, decline or adjust", field="resolution")


def _apply(
    session: Session,
    case: ReviewCase,
    decision: Decision,
    limit: Decimal,
    officer: str,
    now: datetime,
    line_term_days: int,
    reason: str = "",
) -> str | None:
    """Carry out an approval: for a credit-limit case, grant ``limit`` through the ledger within the hard
    limits (locks: guarantor, bank quota, line); for an order-loan case, approve the loan. Only under the
    dealer's consents in force now, as the engine's own decision: a dealer who revoked its consent to share
    with banks since the referral gets no approval that goes to the bank (403; an officer may decline)."""
    consent.require_consents(session, case.dealer_id, _BANK_DECISION_CONSENTS[decision.kind], now)
    if decision.kind == "order_loan":
        _carry_out_order_loan(session, decision, approve=True, reason=reason, officer=officer)
        return None
    dealer = session.get(Dealer, case.dealer_id)
    bank = session.get(Bank, case.bank_id)
    guarantor = exposure.lock_guarantor(session, dealer.guarantor_id) if dealer.guarantor_id else None
    product_cap = ledger.lock_bank(session, bank.id).max_line_amount  # as of the lock: amendments included
    line = ledger.find_line(session, dealer.id, bank.id, for_update=True)
    if limit > product_cap:
        raise Conflict(
            f"{limit} exceeds the bank product's cap of {product_cap}",
            field="limit",
            code="above_product_cap",
            extra={"product_cap": str(product_cap)},
        )
    _require_guarantor_capacity(session, guarantor, dealer.id, line, limit, now)
    return grant_limit(
        session,
        line,
        dealer_id=dealer.id,
        bank_id=bank.id,
        limit=limit,
        grade=decision.grade,
        expires_on=business_date(now) + timedelta(days=line_term_days),  # Beijing dates, as decisions
        cause=ledger.Cause("review_case", case.id),
        actor=officer,
        below_exposure=True,
    )


_BANK_DECISION_CONSENTS = {"credit_limit": consent.CREDIT_LIMIT_FOR_BANK, "order_loan": consent.ORDER_LOAN_FOR_BANK}


def _carry_out_order_loan(
    session: Session, decision: Decision, *, approve: bool, reason: str, officer: str
) -> None:
    """The order-loan domain carries out an officer's verdict on a referred application (it reserves the
    amount on approval). Imported here, not at module level: loan_monitoring builds on this module."""
    from loan_monitoring import applications

    applications.resolve_referral(session, decision, approve=approve, reason=reason, actor=officer)


def _require_guarantor_capacity(
    session: Session,
    guarantor: Any,
    dealer_id: str,
    line: CreditLineRecord | None,
    limit: Decimal,
    now: datetime,
) -> None:
    support, capacity = exposure.guarantee_support(
        session, guarantor, dealer_id, line, committed_amount=None, today=business_date(now)
    )
    if support is None:  # no guarantor
        return
    if capacity is None:  # the guarantee has expired: it backs nothing, so the engine's limit is 0 (decline)
        if limit > 0:
            raise Conflict(
                f"the dealer's guarantee expired on {guarantor.guarantee_expires_on}: it backs no limit",
                field="limit",
                code="guarantee_expired",
                extra={"guarantee_expires_on": guarantor.guarantee_expires_on.isoformat()},
            )
        return
    ceiling = ((support.in_place + capacity.headroom) / support.coverage_ratio).quantize(Decimal("0.01"))
    if limit > ceiling:
        raise Conflict(
            f"{limit} exceeds what the guarantor may still legally guarantee ({ceiling}, {capacity.binding})",
            field="limit",
            code="guarantor_over_capacity",
            extra={"guarantor_capacity": str(ceiling), "binding": capacity.binding},
        )


def _finish(
    session: Session,
    case: ReviewCase,
    resolution: str,
    limit: Decimal | None,
    reason: str,
    maker: str,
    now: datetime,
    *,
    second_approver: str | None,
    line_id: str | None,
    checker_reason: str | None = None,
    taken: bool = False,
) -> ReviewCase:
    case.status, case.resolution, case.resolved_limit, case.reason = "resolved", resolution, limit, reason
    case.resolved_by, case.resolved_at, case.line_id = maker, now, line_id
    case.second_approver = second_approver
    case.second_approved_at = now if second_approver else None
    case.pending_resolution = case.pending_limit = case.pending_reason = None
    session.flush()
    payload: dict[str, Any] = {
        "decision_id": case.decision_id,
        "resolution": resolution,
        "limit": limit,
        "reason": reason,
        "maker": maker,
        "line_id": line_id,
        "taken_by_resolver": taken,
    }
    if second_approver:
        payload |= {"second_approver": second_approver, "second_approver_reason": checker_reason}
    entry = audit.record(
        session,
        actor=second_approver or maker,
        action="review.resolved",
        subject_type="review_case",
        subject_id=case.id,
        payload=payload,
    )
    case.resolution_audit_seq = entry.seq
    session.flush()
    return case


def list_resolutions(
    session: Session, *, after_seq: int = 0, bank_id: str | None = None, limit: int = 100
) -> list[tuple[ReviewCase, AuditEntry]]:
    """Resolved cases in the order their resolutions committed (the audit sequence), after ``after_seq``,
    each with its ``review.resolved`` audit entry: a bank's polling cursor for what officers decided on
    its referred decisions, as ``GET /v1/decisions?after_seq=`` is for the decisions themselves."""
    statement = (
        select(ReviewCase, AuditEntry)
        .join(AuditEntry, AuditEntry.seq == ReviewCase.resolution_audit_seq)
        .where(ReviewCase.resolution_audit_seq > after_seq)
        .order_by(ReviewCase.resolution_audit_seq)
        .limit(limit)
    )
    if bank_id is not None:
        statement = statement.where(ReviewCase.bank_id == bank_id)
    return [(case, entry) for case, entry in session.execute(statement)]


def resolution_view(case: ReviewCase, entry: AuditEntry, decision_kind: str) -> dict[str, Any]:
    """A resolution as a bank reads it: the case's outcome, and its audit entry whole (every column the
    entry hash covers), so the bank can recompute the hash and check it against an inclusion proof
    (``GET /v1/audit/proofs/{seq}``) under a signed checkpoint, as it checks a decision report."""
    return {
        "audit_seq": case.resolution_audit_seq,
        "case_id": case.id,
        "decision_id": case.decision_id,
        "kind": decision_kind,
        "dealer_id": case.dealer_id,
        "bank_id": case.bank_id,
        "resolution": case.resolution,
        "limit": case.resolved_limit,
        "reason": case.reason,
        "resolved_by": case.resolved_by,
        "second_approver": case.second_approver,
        "resolved_at": case.resolved_at,
        "line_id": case.line_id,
        "audit_entry": audit.entry_columns(entry),
    }
