"""The dealer's order loans and alerts in the data-subject export (``compliance.privacy``).

Each loan comes whole with its disbursements, repayments and fund flows, the accounts in them decrypted
as the export decrypts all personal data (an unreadable one is ``PersonalDataUnreadable``, an incident).
Those accounts are the counterparties' — the supplier paid under entrusted payment, or wherever the money
went — and erasure keeps them: they are the account-flow record of the loan that the bank must keep and
the evidence of diverted funds. The daily delinquency snapshots, one per loan and business day, are the
complete count plus the most recent ``privacy.RECENT_ITEMS`` per loan.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from compliance import privacy
from compliance.keys import KeyProvider
from compliance.privacy import RETAINED_PSEUDONYMISED, ExportSection, record_of
from loan_monitoring.models import Alert, DelinquencySnapshot, Disbursement, FundFlow, OrderLoan, Repayment
from risk_engine.parties.models import Dealer


def _loan_ids(dealer: Dealer) -> Select[Any]:
    return select(OrderLoan.id).where(OrderLoan.dealer_id == dealer.id)


def _by_loan(session: Session, model: Any, dealer: Dealer, keys: KeyProvider,
             *order: Any) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in session.scalars(select(model).where(model.loan_id.in_(_loan_ids(dealer))).order_by(*order)):
        grouped[row.loan_id].append(record_of(row, keys))
    return grouped


def _recent_snapshots(session: Session, dealer: Dealer) -> dict[str, dict[str, Any]]:
    """Per loan: how many daily snapshots there are and the most recent ones, newest first (one query for
    the counts, one for the rows, whatever the number of loans)."""
    snap = DelinquencySnapshot
    of_dealer = snap.loan_id.in_(_loan_ids(dealer))
    counts: dict[str, int] = dict(
        session.execute(select(snap.loan_id, func.count()).where(of_dealer).group_by(snap.loan_id)).all())
    rank = func.row_number().over(partition_by=snap.loan_id, order_by=(snap.as_of.desc(), snap.id.desc()))
    ranked = select(snap.id, rank.label("rank")).where(of_dealer).subquery()
    recent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in session.scalars(select(snap).join(ranked, ranked.c.id == snap.id)
                               .where(ranked.c.rank <= privacy.RECENT_ITEMS)
                               .order_by(snap.loan_id, snap.as_of.desc(), snap.id.desc())):
        recent[row.loan_id].append(record_of(row))
    return {loan_id: {"count": count, "truncated": count > len(recent[loan_id]), "items": recent[loan_id]}
            for loan_id, count in counts.items()}


def order_loans_of(session: Session, dealer: Dealer, keys: KeyProvider) -> list[dict[str, Any]]:
    """Every order loan of the dealer, oldest first, with what happened to its money."""
    loans = session.scalars(select(OrderLoan).where(OrderLoan.dealer_id == dealer.id)
                            .order_by(OrderLoan.applied_at, OrderLoan.id))
    disbursements = _by_loan(session, Disbursement, dealer, keys, Disbursement.paid_at, Disbursement.id)
    repayments = _by_loan(session, Repayment, dealer, keys, Repayment.paid_at, Repayment.id)
    fund_flows = _by_loan(session, FundFlow, dealer, keys, FundFlow.occurred_at, FundFlow.id)
    snapshots = _recent_snapshots(session, dealer)
    no_snapshots = {"count": 0, "truncated": False, "items": []}
    return [
        {**record_of(loan), "disbursements": disbursements[loan.id], "repayments": repayments[loan.id],
         "fund_flows": fund_flows[loan.id], "delinquency": snapshots.get(loan.id, no_snapshots)}
        for loan in loans
    ]


def alerts_of(session: Session, dealer: Dealer, keys: KeyProvider) -> list[dict[str, Any]]:
    """Every alert about the dealer or one of its loans, oldest first."""
    rows = session.scalars(
        select(Alert).where(or_(Alert.dealer_id == dealer.id, Alert.loan_id.in_(_loan_ids(dealer))))
        .order_by(Alert.raised_at, Alert.id))
    return [record_of(a) for a in rows]


EXPORT_SECTIONS = (
    ExportSection("order_loans", RETAINED_PSEUDONYMISED,
                  "loan records kept for the statutory retention period, referring to the dealer only by its "
                  "random id; the payee and counterparty accounts of disbursements and fund flows are kept "
                  "with them, as the loan's account-flow record (entrusted payment, CBIRC 2022) and the "
                  "evidence of fund misuse", order_loans_of),
    ExportSection("alerts", RETAINED_PSEUDONYMISED,
                  "early-warning and fund-usage findings and their resolutions: credit-risk records kept for "
                  "the statutory retention period, referring to the dealer only by its random id", alerts_of),
)
