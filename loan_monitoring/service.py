"""Order loans after the decision: cancellation, recall, entrusted-payment disbursements, repayments,
the fund flows the bank reports, and fund-usage monitoring (the loan as its readers see it: ``views``).

Services receive the session and only flush; the request's idempotent runner (or a job's unit of
work) commits the change, its ledger movements and its audit entries together. Every function that
changes a loan takes ``transitions.lock_loan`` first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import audit, fieldcrypt, pii
from compliance.keys import KeyProvider
from loan_monitoring import alerting, inputs
from loan_monitoring import fund_usage as fu
from loan_monitoring.alerts import Alert as Finding
from loan_monitoring.dates import business_date, maturity_date
from loan_monitoring.delinquency import Instalment, Payment, delinquency_on
from loan_monitoring.models import Alert, Disbursement, FundFlow, OrderLoan, Repayment
from loan_monitoring.money import jsonable
from loan_monitoring.repayment import allocate_repayment
from loan_monitoring.state import OUTSTANDING_STATES, LoanEvent, LoanState
from loan_monitoring.transitions import figures, lock_loan, move, release_principal
from loan_monitoring.views import masked
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from risk_engine.ids import new_id
from risk_engine.parties import models as parties
from risk_engine.settings import Settings

CLOCK_SKEW = timedelta(minutes=5)


def monitoring_policy(settings: Settings) -> fu.MonitoringPolicy:
    return fu.MonitoringPolicy(
        receipt_within_days=settings.loan_receipt_within_days,
        delivery_within_days=settings.loan_delivery_within_days,
        refund_within_days=settings.loan_refund_within_days,
    )


# --------------------------------------------------------------------------- visibility


def visible_loan(session: Session, loan_id: str, bank_scope: str | None) -> OrderLoan:
    """The loan, or 404 — also when a bank client (``bank_scope``) asks for another bank's loan."""
    loan = session.get(OrderLoan, loan_id)
    if loan is None or (bank_scope is not None and loan.bank_id != bank_scope):
        raise NotFound(f"no order loan {loan_id}", field="loan_id")
    return loan


def _locked_visible(session: Session, loan_id: str, bank_scope: str | None) -> OrderLoan:
    visible_loan(session, loan_id, bank_scope)
    return lock_loan(session, loan_id)


# --------------------------------------------------------------------------- accounts (personal data)


def normalise_account(account: str) -> str:
    value = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", account)).upper()
    if not re.fullmatch(r"[0-9A-Z]{6,34}", value):
        raise InvalidInput(
            "an account number is 6 to 34 letters or digits (spaces and hyphens ignored)",
            field="payee_account",
            code="bad_account_number",
        )
    return value


@dataclass(frozen=True)
class SealedAccount:
    token: str
    index: str
    last4: str


def seal_account(
    keys: KeyProvider, table: str, column: str, row_id: str, account: str, field: str
) -> SealedAccount:
    try:
        value = normalise_account(account)
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, field=field, code=exc.code) from None
    return SealedAccount(
        fieldcrypt.encrypt_field(keys, table, column, row_id, value),
        pii.account_index(keys, value),
        value[-4:],
    )


# --------------------------------------------------------------------------- cancellation


def cancel(session: Session, loan_id: str, *, reason: str | None, actor: str) -> OrderLoan:
    """Withdraw an application or an approved, undisbursed loan; its reservation returns to the line. A
    referral still with the officers is closed with it (declined, the withdrawal as its reason), so no
    officer works a dead case and the bank's resolution feed says what became of the application."""
    from risk_engine.decisions import reviews  # decisions sit below loan monitoring

    decision_id = session.scalar(select(OrderLoan.decision_id).where(OrderLoan.id == loan_id))
    case = reviews.lock_active_case_of(session, decision_id) if decision_id else None
    loan = lock_loan(session, loan_id)
    move(session, loan, LoanEvent.CANCEL, actor=actor, details={"reason": reason} if reason else None)
    if case is not None:
        withdrawn = f"the platform withdrew the application: {reason or 'no reason given'}"
        reviews.withdraw_case(session, case, reason=withdrawn, actor=actor, at=utcnow())
    return loan


def recall(
    session: Session,
    loan_id: str,
    bank_scope: str | None,
    *,
    reason: str,
    actor: str,
    at: datetime | None = None,
) -> OrderLoan:
    """The bank calls the whole loan due now (a disbursed or overdue loan)."""
    loan = _locked_visible(session, loan_id, bank_scope)
    now = utcnow()
    at = at or now
    if at > now + CLOCK_SKEW:
        raise InvalidInput("the recall is dated in the future", field="at", code="time_in_future")
    first_paid = min((d.paid_at for d in inputs.disbursements_of(session, loan.id)), default=None)
    if first_paid is not None and at < first_paid:
        # The recall date becomes the due date: before the money went out it would charge penalty
        # interest from the first day and make the loan past due at once.
        raise InvalidInput(
            f"the recall is dated before the first disbursement ({first_paid.isoformat()})",
            field="at",
            code="before_disbursement",
        )
    due_on = min(loan.due_on or business_date(at), business_date(at))
    move(session, loan, LoanEvent.RECALL, actor=actor, at=at, details={"reason": reason, "due_on": due_on})
    loan.due_on = due_on
    return loan


# --------------------------------------------------------------------------- disbursements


class PayeeNotSupplierAccount(InvalidInput):
    """Entrusted payment refused: the payee is not the order's supplier account. Carries the findings,
    which ``record_refused_disbursement`` raises as alerts (committed even though the report is refused)."""

    def __init__(self, loan_id: str, findings: tuple[Finding, ...]) -> None:
        super().__init__(
            "entrusted payment: the payee must be the order's supplier settlement account; the "
            "report is refused and an alert was raised",
            field="payee_account",
            code="payee_not_supplier_account",
        )
        self.loan_id = loan_id
        self.findings = findings


def report_disbursement(
    session: Session,
    keys: KeyProvider,
    settings: Settings,
    loan_id: str,
    bank_scope: str,
    *,
    reference: str,
    amount: Decimal,
    payee_account: str,
    paid_at: datetime,
    actor: str,
) -> Disbursement:
    """Record a tranche the bank paid to the order's supplier: reservation → utilised."""
    loan = _locked_visible(session, loan_id, bank_scope)
    now = utcnow()
    if paid_at > now + CLOCK_SKEW:
        raise InvalidInput("paid_at is in the future", field="paid_at", code="time_in_future")
    if paid_at < loan.applied_at:
        raise InvalidInput("paid_at is before the application", field="paid_at", code="before_application")
    if loan.decided_at is not None and paid_at < loan.decided_at:
        # the platform's applied_at may be backdated; the engine's approval is when the loan could be paid
        raise InvalidInput(f"paid_at is before the loan was approved ({loan.decided_at.isoformat()})",
                           field="paid_at", code="before_approval")
    if session.scalar(
        select(Disbursement.id).where(
            Disbursement.loan_id == loan.id, Disbursement.bank_reference == reference
        )
    ):
        raise Conflict(
            f"disbursement {reference} was already reported for this loan",
            field="reference",
            code="duplicate_disbursement",
        )
    disbursement_id = new_id("dsb")
    sealed = seal_account(
        keys, Disbursement.__tablename__, "payee_account_enc", disbursement_id, payee_account, "payee_account"
    )
    supplier_row = session.get(parties.Supplier, loan.supplier_id)
    assert supplier_row is not None
    previous = [inputs.tranche_of(d) for d in inputs.disbursements_of(session, loan.id)]
    check = fu.check_disbursement(
        inputs.financed_loan_of(loan),
        inputs.supplier_of(supplier_row),
        fu.Disbursement(reference, amount, sealed.index, paid_at),
        previous,
        monitoring_policy(settings),
    )
    masks = {sealed.index: f"****{sealed.last4}"}
    if supplier_row.account_number_index:
        masks[supplier_row.account_number_index] = "supplier settlement account"
    findings = tuple(replace(f, evidence=inputs.mask(f.evidence, masks)) for f in check.alerts)
    if not check.accepted:
        raise Conflict(
            f"the disbursement would take the loan past its approved {loan.approved_amount} "
            f"(already disbursed {check.disbursed_total})",
            field="amount",
            code="disbursement_exceeds_approval",
            extra={
                "approved_amount": str(loan.approved_amount),
                "disbursed_amount": str(check.disbursed_total),
                "remaining": str(check.remaining_approved),
            },
        )
    if any(f.kind == fu.K.FUNDS_TO_OTHER_ACCOUNT for f in findings):
        raise PayeeNotSupplierAccount(loan.id, findings)
    row = Disbursement(
        id=disbursement_id,
        loan_id=loan.id,
        bank_reference=reference,
        amount=amount,
        paid_at=paid_at,
        payee_account_enc=sealed.token,
        payee_account_index=sealed.index,
        payee_account_last4=sealed.last4,
        to_supplier_account=True,
        reported_by=actor,
        recorded_at=now,
    )
    session.add(row)
    session.flush()
    if loan.due_on is None:
        loan.due_on = maturity_date(business_date(paid_at), loan.tenor_days)
    move(
        session,
        loan,
        LoanEvent.DISBURSE,
        actor=actor,
        at=paid_at,
        tranche=amount,
        details={
            "disbursement_id": row.id,
            "reference": reference,
            "amount": str(amount),
            "payee_account": f"****{sealed.last4}",
            "due_on": loan.due_on,
        },
    )
    return row


def record_refused_disbursement(
    session: Session, settings: Settings, refused: PayeeNotSupplierAccount, *, actor: str
) -> list[Alert]:
    """Raise the alerts of a refused disbursement report and audit the refusal (the caller commits)."""
    loan = lock_loan(session, refused.loan_id)
    raised = alerting.raise_alerts(
        session, refused.findings, source="fund_usage", actor=actor, auto_actions=settings.alert_auto_actions
    )
    alerts = [*raised.new, *raised.escalated] or list(
        session.scalars(
            select(Alert).where(
                Alert.status == "open", Alert.dedup_key.in_([f.dedup_key for f in refused.findings])
            )
        )
    )
    audit.record(
        session,
        actor=actor,
        action="order_loan.disbursement_refused",
        subject_type="order_loan",
        subject_id=loan.id,
        payload={
            "code": refused.code,
            "alerts": [a.id for a in alerts],
            "evidence": [dict(f.evidence) for f in refused.findings],
        },
    )
    return alerts


# --------------------------------------------------------------------------- repayments


def report_repayment(
    session: Session,
    loan_id: str,
    bank_scope: str,
    *,
    reference: str,
    amount: Decimal,
    paid_at: datetime,
    actor: str,
) -> Repayment:
    """Allocate a repayment to penalty interest, interest, then principal; the principal part releases
    utilised credit; paid in full, the loan is repaid; arrears cleared, an overdue loan is cured."""
    loan = _locked_visible(session, loan_id, bank_scope)
    if LoanState(loan.state) not in OUTSTANDING_STATES:
        raise IllegalTransition(
            f"a {loan.state} loan takes no repayment: nothing is outstanding",
            field="state",
            code="loan_not_outstanding",
            extra={"state": loan.state},
        )
    if paid_at > utcnow() + CLOCK_SKEW:
        raise InvalidInput("paid_at is in the future", field="paid_at", code="time_in_future")
    if session.scalar(
        select(Repayment.id).where(Repayment.loan_id == loan.id, Repayment.bank_reference == reference)
    ):
        raise Conflict(
            f"repayment {reference} was already reported for this loan",
            field="reference",
            code="duplicate_repayment",
        )
    paid_on = business_date(paid_at)
    disbursements, repayments = (
        inputs.disbursements_of(session, loan.id),
        inputs.repayments_of(session, loan.id),
    )
    first = min(business_date(d.paid_at) for d in disbursements)
    last = max((r.paid_on for r in repayments), default=first)
    if paid_on < max(first, last):
        raise InvalidInput(
            f"repayments are reported in date order: this one ({paid_on}) is before {max(first, last)}",
            field="paid_at",
            code="repayment_out_of_order",
        )
    balance = inputs.position_on(loan, disbursements, repayments, paid_on).balance
    allocation = allocate_repayment(balance, amount)
    row = Repayment(
        id=new_id("rpy"),
        loan_id=loan.id,
        bank_reference=reference,
        amount=allocation.payment,
        paid_at=paid_at,
        paid_on=paid_on,
        to_penalty_interest=allocation.to_penalty_interest,
        to_interest=allocation.to_interest,
        to_principal=allocation.to_principal,
        overpayment=allocation.overpayment,
        principal_after=allocation.balance_after.principal,
        reported_by=actor,
        recorded_at=utcnow(),
    )
    session.add(row)
    release_principal(session, loan, allocation.to_principal, actor=actor)
    loan.interest_paid += allocation.to_interest
    loan.penalty_interest_paid += allocation.to_penalty_interest
    loan.version += 1
    loan.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="order_loan.repayment",
        subject_type="order_loan",
        subject_id=loan.id,
        payload={
            "repayment_id": row.id,
            "reference": reference,
            "amount": str(row.amount),
            "paid_on": paid_on,
            "to_penalty_interest": str(row.to_penalty_interest),
            "to_interest": str(row.to_interest),
            "to_principal": str(row.to_principal),
            "overpayment": str(row.overpayment),
            "balance_after": jsonable(
                {
                    "principal": allocation.balance_after.principal,
                    "interest": allocation.balance_after.interest,
                    "penalty_interest": allocation.balance_after.penalty_interest,
                }
            ),
            "figures": figures(loan),
        },
    )
    if allocation.fully_repaid:
        move(
            session, loan, LoanEvent.REPAY_IN_FULL, actor=actor, at=paid_at, details={"repayment_id": row.id}
        )
    elif loan.state == LoanState.OVERDUE.value:
        status = delinquency_status(session, loan, paid_on)
        if status.days_past_due == 0:
            move(session, loan, LoanEvent.CURE, actor=actor, at=paid_at, details={"repayment_id": row.id})
            loan.days_past_due, loan.bucket = 0, status.bucket.value
    return row


def delinquency_status(session: Session, loan: OrderLoan, as_of: Any) -> Any:
    """Days past due and bucket of a disbursed loan on a business date (bullet schedule)."""
    disbursements, repayments = (
        inputs.disbursements_of(session, loan.id),
        inputs.repayments_of(session, loan.id),
    )
    assert loan.due_on is not None
    schedule = [Instalment(loan.due_on, inputs.scheduled_at_maturity(loan, disbursements, repayments))]
    payments = [Payment(r.paid_on, r.to_interest + r.to_principal) for r in repayments]
    return delinquency_on(schedule, payments, as_of)


# --------------------------------------------------------------------------- fund flows and monitoring


_ACCOUNTS_REQUIRED = {"supplier_receipt": ("to_account",), "transfer": ("from_account", "to_account")}


def report_fund_flow(
    session: Session,
    keys: KeyProvider,
    settings: Settings,
    loan_id: str,
    bank_scope: str,
    *,
    kind: str,
    reference: str,
    amount: Decimal,
    occurred_at: datetime,
    from_account: str | None,
    to_account: str | None,
    actor: str,
) -> FundFlow:
    """Record a supplier receipt, a refund or an onward transfer from the bank's account-flow records, then
    re-run fund-usage monitoring on the loan."""
    loan = _locked_visible(session, loan_id, bank_scope)
    if LoanState(loan.state) not in (*OUTSTANDING_STATES, LoanState.REPAID, LoanState.APPROVED):
        raise IllegalTransition(
            f"a {loan.state} loan has no fund flows to follow", field="state", code="loan_not_disbursed"
        )
    if occurred_at > utcnow() + CLOCK_SKEW:
        raise InvalidInput("occurred_at is in the future", field="occurred_at", code="time_in_future")
    # Monitoring matches a receipt by the account that received it and follows a transfer from one
    # account to the next: without them the flow could only ever look like missing money.
    for side, account in (("from_account", from_account), ("to_account", to_account)):
        if not account and side in _ACCOUNTS_REQUIRED.get(kind, ()):
            raise InvalidInput(
                f"a {kind} needs its {side.replace('_', ' ')}", field=side, code="account_required"
            )
    if session.scalar(
        select(FundFlow.id).where(FundFlow.loan_id == loan.id, FundFlow.bank_reference == reference)
    ):
        raise Conflict(
            f"fund flow {reference} was already reported for this loan",
            field="reference",
            code="duplicate_fund_flow",
        )
    row = FundFlow(
        id=new_id("ffl"),
        loan_id=loan.id,
        kind=kind,
        bank_reference=reference,
        amount=amount,
        occurred_at=occurred_at,
        reported_by=actor,
        recorded_at=utcnow(),
    )
    for side, account in (("from", from_account), ("to", to_account)):
        if account:
            sealed = seal_account(
                keys, FundFlow.__tablename__, f"{side}_account_enc", row.id, account, f"{side}_account"
            )
            setattr(row, f"{side}_account_enc", sealed.token)
            setattr(row, f"{side}_account_index", sealed.index)
            setattr(row, f"{side}_account_last4", sealed.last4)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"order_loan.{kind}",
        subject_type="order_loan",
        subject_id=loan.id,
        payload={
            "fund_flow_id": row.id,
            "reference": reference,
            "amount": str(amount),
            "occurred_at": occurred_at,
            "from_account": masked(row.from_account_last4),
            "to_account": masked(row.to_account_last4),
        },
    )
    if loan.first_disbursed_at is not None:
        monitor_loan(session, settings, loan, as_of=utcnow(), actor=actor)
    return row


def monitor_loan(
    session: Session, settings: Settings, loan: OrderLoan, *, as_of: datetime, actor: str
) -> alerting.Raised:
    """Run fund-usage monitoring (the four flows) on one disbursed loan and raise what it finds."""
    loaded = inputs.load_fund_flows(session, loan)
    findings = fu.monitor_fund_usage(loaded.flows, as_of, monitoring_policy(settings))
    masked = [replace(f, evidence=inputs.mask(f.evidence, loaded.masks)) for f in findings]
    return alerting.raise_alerts(
        session,
        masked,
        source="fund_usage",
        actor=actor,
        auto_actions=settings.alert_auto_actions,
        now=utcnow(),
    )
