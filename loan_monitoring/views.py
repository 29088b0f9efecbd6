"""Order loans as their readers see them: figures, what is owed today, tranches, repayments, the
fund-usage trace, the latest delinquency and its alerts. Account numbers appear only as ``****1234``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loan_monitoring import fund_usage as fu
from loan_monitoring import inputs
from loan_monitoring.dates import business_date
from loan_monitoring.models import Alert, DelinquencySnapshot, Disbursement, FundFlow, OrderLoan, Repayment
from loan_monitoring.money import jsonable
from loan_monitoring.state import OUTSTANDING_STATES, LoanState, allowed_events
from risk_engine.db import utcnow


def masked(last4: str | None) -> str | None:
    return f"****{last4}" if last4 else None


def loan_view(session: Session, loan: OrderLoan, *, as_of: datetime | None = None) -> dict[str, Any]:
    """The loan with its figures, what is owed today, its tranches and repayments, the fund-usage trace
    (funds, goods, invoices, returns in time order) and its alerts."""
    as_of = as_of or utcnow()
    view: dict[str, Any] = {
        "id": loan.id,
        "state": loan.state,
        "dealer_id": loan.dealer_id,
        "bank_id": loan.bank_id,
        "order_id": loan.order_id,
        "supplier_id": loan.supplier_id,
        "invoice_id": loan.invoice_id,
        "invoice_key": loan.invoice_key,
        "decision_id": loan.decision_id,
        "line_id": loan.line_id,
        "amount": loan.amount,
        "approved_amount": loan.approved_amount,
        "tenor_days": loan.tenor_days,
        "apr": loan.apr,
        "all_in_apr": loan.all_in_apr,
        "apr_cap": loan.apr_cap,
        "lpr": loan.lpr,
        "lpr_effective_date": loan.lpr_effective_date,
        "day_count": loan.day_count,
        "reserved": loan.reserved_held,
        "disbursed_amount": loan.disbursed_amount,
        "principal_repaid": loan.principal_repaid,
        "outstanding_principal": loan.outstanding_principal,
        "interest_paid": loan.interest_paid,
        "penalty_interest_paid": loan.penalty_interest_paid,
        "days_past_due": loan.days_past_due,
        "bucket": loan.bucket,
        "due_on": loan.due_on,
        "applied_at": loan.applied_at,
        "decided_at": loan.decided_at,
        "first_disbursed_at": loan.first_disbursed_at,
        "repaid_at": loan.repaid_at,
        "defaulted_at": loan.defaulted_at,
        "recalled_at": loan.recalled_at,
        "closed_at": loan.closed_at,
        "allowed_events": [e.value for e in allowed_events(loan.state)],
        "explanation": loan.explanation,
    }
    disbursements, repayments = (
        inputs.disbursements_of(session, loan.id),
        inputs.repayments_of(session, loan.id),
    )
    view["disbursements"] = [
        {
            "id": d.id,
            "reference": d.bank_reference,
            "amount": d.amount,
            "paid_at": d.paid_at,
            "payee_account": masked(d.payee_account_last4),
        }
        for d in disbursements
    ]
    view["repayments"] = [
        {
            "id": r.id,
            "reference": r.bank_reference,
            "amount": r.amount,
            "paid_at": r.paid_at,
            "to_penalty_interest": r.to_penalty_interest,
            "to_interest": r.to_interest,
            "to_principal": r.to_principal,
            "overpayment": r.overpayment,
            "principal_after": r.principal_after,
        }
        for r in repayments
    ]
    view["owed"] = None
    if disbursements and LoanState(loan.state) in OUTSTANDING_STATES:
        today = max(
            business_date(as_of), max(r.paid_on for r in repayments) if repayments else business_date(as_of)
        )
        balance = inputs.position_on(loan, disbursements, repayments, today).balance
        view["owed"] = {
            "as_of": today,
            "principal": balance.principal,
            "interest": balance.interest,
            "penalty_interest": balance.penalty_interest,
            "total": balance.total,
        }
    view["fund_usage_trace"] = []
    if loan.order_id and loan.supplier_id:
        loaded = inputs.load_fund_flows(session, loan)
        view["fund_usage_trace"] = inputs.mask(fu.fund_usage_trace(loaded.flows), loaded.masks)
    latest = session.scalars(
        select(DelinquencySnapshot)
        .where(DelinquencySnapshot.loan_id == loan.id)
        .order_by(DelinquencySnapshot.as_of.desc())
        .limit(1)
    ).first()
    view["delinquency"] = (
        None
        if latest is None
        else {
            "as_of": latest.as_of,
            "days_past_due": latest.days_past_due,
            "bucket": latest.bucket,
            "amount_past_due": latest.amount_past_due,
            "in_default": latest.in_default,
        }
    )
    view["alerts"] = [
        {"id": a.id, "kind": a.kind, "severity": a.severity, "status": a.status, "raised_at": a.raised_at}
        for a in session.scalars(
            select(Alert).where(Alert.loan_id == loan.id).order_by(Alert.raised_at, Alert.id)
        )
    ]
    return jsonable(view)


def disbursement_view(row: Disbursement) -> dict[str, Any]:
    return {
        "id": row.id,
        "loan_id": row.loan_id,
        "reference": row.bank_reference,
        "amount": row.amount,
        "paid_at": row.paid_at,
        "payee_account": masked(row.payee_account_last4),
        "recorded_at": row.recorded_at,
    }


def repayment_view(row: Repayment) -> dict[str, Any]:
    return {
        "id": row.id,
        "loan_id": row.loan_id,
        "reference": row.bank_reference,
        "amount": row.amount,
        "paid_at": row.paid_at,
        "paid_on": row.paid_on,
        "to_penalty_interest": row.to_penalty_interest,
        "to_interest": row.to_interest,
        "to_principal": row.to_principal,
        "overpayment": row.overpayment,
        "principal_after": row.principal_after,
    }


def fund_flow_view(row: FundFlow) -> dict[str, Any]:
    return {
        "id": row.id,
        "loan_id": row.loan_id,
        "kind": row.kind,
        "reference": row.bank_reference,
        "amount": row.amount,
        "occurred_at": row.occurred_at,
        "from_account": masked(row.from_account_last4),
        "to_account": masked(row.to_account_last4),
    }
