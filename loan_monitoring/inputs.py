"""Reading the database into the plain values the pure checks take (``application``, ``fund_usage``,
``repayment``, ``delinquency``). No decision is taken here, and nothing is written.

Account identity: parties' and payees' bank accounts are compared by their blind index (HMAC of the
normalised number, ``compliance.pii``), never in plaintext. The pure code only tests accounts for
equality, so the index stands in for the number; ``masking`` then turns any index that reaches an
alert's evidence back into something a person can read (``****1234``, "the supplier's account").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from loan_monitoring import fund_usage as fu
from loan_monitoring import trade as pure_trade
from loan_monitoring.dates import business_date
from loan_monitoring.models import Disbursement, FundFlow, OrderLoan, Repayment
from loan_monitoring.money import ZERO
from loan_monitoring.parties import Dealer, LinkKind, RelatedPartyLink, Supplier
from loan_monitoring.repayment import DayCount, LoanPosition, LoanTerms, loan_position
from loan_monitoring.state import LoanState
from risk_engine.parties import models as parties
from risk_engine.trade import models as trade

NOT_FINANCING = (LoanState.DECLINED.value, LoanState.CANCELLED.value)


# --------------------------------------------------------------------------- parties and trade


def dealer_of(row: parties.Dealer) -> Dealer:
    accounts = (
        frozenset({row.account_number_index}) if getattr(row, "account_number_index", None) else frozenset()
    )
    return Dealer(row.id, row.credit_code, row.name, accounts=accounts)


def supplier_of(row: parties.Supplier) -> Supplier:
    accounts = (
        frozenset({row.account_number_index}) if getattr(row, "account_number_index", None) else frozenset()
    )
    return Supplier(
        row.id, row.credit_code, row.name, whitelisted=bool(row.whitelisted), settlement_accounts=accounts
    )


def order_settled(session: Session, order_id: str) -> bool:
    """The order's bills exist and are all paid in full: nothing is left to finance."""
    bills = list(session.scalars(select(trade.PaymentDue).where(trade.PaymentDue.order_id == order_id)))
    return bool(bills) and all(b.paid_amount >= b.amount for b in bills)


def purchase_order_of(session: Session, row: trade.Order) -> pure_trade.PurchaseOrder:
    return pure_trade.PurchaseOrder(
        row.id,
        row.dealer_id,
        row.supplier_id,
        row.amount,
        pure_trade.OrderStatus(row.status),
        row.placed_at,
        settled=order_settled(session, row.id),
        cancelled_at=row.cancelled_at,
        returned_at=row.returned_at,
    )


def invoice_of(row: trade.Invoice) -> pure_trade.Invoice:
    return pure_trade.Invoice(
        row.invoice_code,
        row.invoice_number,
        row.order_id,
        row.seller_credit_code,
        row.buyer_credit_code,
        row.amount,
        row.tax,
        row.issued_on,
    )


def find_invoice(session: Session, invoice_code: str | None, invoice_number: str) -> trade.Invoice | None:
    """The invoice by its national identity (code and number; a digital invoice has no code)."""
    key = pure_trade.invoice_key(invoice_code, invoice_number)
    for row in session.scalars(
        select(trade.Invoice).where(trade.Invoice.invoice_number == invoice_number.strip())
    ):
        if pure_trade.invoice_key(row.invoice_code, row.invoice_number) == key:
            return row
    return None


def related_links(session: Session, dealer_id: str, supplier_id: str | None) -> list[RelatedPartyLink]:
    """Known dealer–supplier links touching either party (links only join a dealer to a supplier, so a
    chain of two through a third party cannot exist: the direct ones are all that matter)."""
    condition = trade.RelatedPartyLink.dealer_id == dealer_id
    if supplier_id is not None:
        condition = or_(condition, trade.RelatedPartyLink.supplier_id == supplier_id)
    return [
        RelatedPartyLink(r.dealer_id, r.supplier_id, LinkKind(r.kind), r.evidence or "")
        for r in session.scalars(select(trade.RelatedPartyLink).where(condition))
    ]


def financings_of(
    session: Session,
    *,
    order_ids: Iterable[str],
    invoice_keys: Iterable[str],
    exclude_loan_id: str | None = None,
) -> list[pure_trade.ExistingFinancing]:
    """Loans and live applications, at ANY bank, financing these orders or invoices."""
    order_ids, invoice_keys = set(order_ids), {k for k in invoice_keys if k}
    conditions = []
    if order_ids:
        conditions.append(OrderLoan.order_id.in_(order_ids))
    if invoice_keys:
        conditions.append(OrderLoan.invoice_key.in_(invoice_keys))
    if not conditions:
        return []
    statement = select(OrderLoan).where(or_(*conditions), OrderLoan.state.not_in(NOT_FINANCING))
    if exclude_loan_id:
        statement = statement.where(OrderLoan.id != exclude_loan_id)
    return [
        pure_trade.ExistingFinancing(
            loan.id,
            loan.bank_id,
            loan.order_id,
            frozenset({loan.invoice_key}) if loan.invoice_key else frozenset(),
            LoanState(loan.state),
        )
        for loan in session.scalars(statement)
    ]


# --------------------------------------------------------------------------- the loan's money


def loan_terms(loan: OrderLoan) -> LoanTerms:
    if loan.due_on is None:
        raise ValueError(f"order loan {loan.id} has no due date: it was never disbursed")
    return LoanTerms(
        annual_rate=loan.apr,
        maturity_date=loan.due_on,
        day_count=DayCount(loan.day_count),
        overdue_rate_cap=loan.apr_cap,
    )


def disbursements_of(session: Session, loan_id: str) -> list[Disbursement]:
    return list(
        session.scalars(
            select(Disbursement)
            .where(Disbursement.loan_id == loan_id)
            .order_by(Disbursement.paid_at, Disbursement.id)
        )
    )


def repayments_of(session: Session, loan_id: str) -> list[Repayment]:
    return list(
        session.scalars(
            select(Repayment)
            .where(Repayment.loan_id == loan_id)
            .order_by(Repayment.paid_on, Repayment.recorded_at, Repayment.id)
        )
    )


def fund_flows_of(session: Session, loan_id: str) -> list[FundFlow]:
    return list(
        session.scalars(
            select(FundFlow).where(FundFlow.loan_id == loan_id).order_by(FundFlow.occurred_at, FundFlow.id)
        )
    )


def accepted_tranches(disbursements: Iterable[Disbursement]) -> list[tuple[date, Decimal]]:
    return [(business_date(d.paid_at), d.amount) for d in disbursements]


def position_on(
    loan: OrderLoan, disbursements: list[Disbursement], repayments: list[Repayment], as_of: date
) -> LoanPosition:
    """Principal, contract and penalty interest owed on ``as_of`` (repayments up to it replayed)."""
    return loan_position(
        loan_terms(loan), accepted_tranches(disbursements), [(r.paid_on, r.amount) for r in repayments], as_of
    )


def scheduled_at_maturity(
    loan: OrderLoan, disbursements: list[Disbursement], repayments: list[Repayment]
) -> Decimal:
    """What the bullet schedule asks for on the due date: the principal plus the contract interest
    accrued up to it (interest on principal repaid early stops when it is repaid)."""
    assert loan.due_on is not None
    early = [r for r in repayments if r.paid_on <= loan.due_on]
    position = position_on(loan, disbursements, early, loan.due_on)
    principal = sum((amount for _, amount in accepted_tranches(disbursements)), ZERO)
    return principal + position.balance.interest + sum((a.to_interest for a in position.allocations), ZERO)


# --------------------------------------------------------------------------- fund flows for monitoring


def financed_loan_of(loan: OrderLoan) -> fu.FinancedLoan:
    return fu.FinancedLoan(
        loan.id,
        loan.bank_id,
        loan.dealer_id,
        loan.order_id or "",
        loan.supplier_id or "",
        loan.approved_amount,
        LoanState(loan.state),
        frozenset({loan.invoice_key}) if loan.invoice_key else frozenset(),
    )


def tranche_of(row: Disbursement) -> fu.Disbursement:
    """The bank's reference is the tranche's identity: a refused report (never stored) and its retry
    carry the same one, so their alerts share a dedup key."""
    return fu.Disbursement(row.bank_reference, row.amount, row.payee_account_index, row.paid_at)


@dataclass(frozen=True)
class LoadedFlows:
    flows: fu.FundFlows
    masks: Mapping[str, str]  # blind index -> what a person may read


def load_fund_flows(session: Session, loan: OrderLoan) -> LoadedFlows:
    """Everything known about the loan's four flows (funds, goods, invoice, order)."""
    order_row = session.get(trade.Order, loan.order_id)
    dealer_row = session.get(parties.Dealer, loan.dealer_id)
    supplier_row = session.get(parties.Supplier, loan.supplier_id)
    assert order_row is not None and dealer_row is not None and supplier_row is not None
    disbursements = disbursements_of(session, loan.id)
    flows = fund_flows_of(session, loan.id)
    invoices = [
        invoice_of(r)
        for r in session.scalars(
            select(trade.Invoice)
            .where(trade.Invoice.order_id == loan.order_id)
            .order_by(trade.Invoice.issued_on)
        )
    ]
    deliveries = [
        fu.Delivery(r.id, r.delivered_at)
        for r in session.scalars(select(trade.Delivery).where(trade.Delivery.order_id == loan.order_id))
    ]
    returns = [
        fu.OrderReturn(r.id, r.returned_at, r.amount)
        for r in session.scalars(select(trade.Return).where(trade.Return.order_id == loan.order_id))
    ]
    invoice_keys = {i.key for i in invoices} | ({loan.invoice_key} if loan.invoice_key else set())
    bundle = fu.FundFlows(
        loan=financed_loan_of(loan),
        order=purchase_order_of(session, order_row),
        dealer=dealer_of(dealer_row),
        supplier=supplier_of(supplier_row),
        disbursements=[tranche_of(d) for d in disbursements],
        receipts=[
            fu.SupplierReceipt(f.id, f.to_account_index or "", f.amount, f.occurred_at)
            for f in flows
            if f.kind == "supplier_receipt"
        ],
        deliveries=deliveries,
        invoices=invoices,
        returns=returns,
        refunds=[fu.Refund(f.id, f.occurred_at, f.amount) for f in flows if f.kind == "refund"],
        other_financings=financings_of(
            session,
            order_ids=[loan.order_id] if loan.order_id else [],
            invoice_keys=invoice_keys,
            exclude_loan_id=loan.id,
        ),
        related_links=related_links(session, loan.dealer_id, loan.supplier_id),
        transfers=[
            fu.AccountTransfer(f.from_account_index or "", f.to_account_index or "", f.amount, f.occurred_at)
            for f in flows
            if f.kind == "transfer"
        ],
    )
    masks: dict[str, str] = {}
    for d in disbursements:
        masks[d.payee_account_index] = f"****{d.payee_account_last4}"
    for f in flows:
        if f.from_account_index:
            masks[f.from_account_index] = f"****{f.from_account_last4}"
        if f.to_account_index:
            masks[f.to_account_index] = f"****{f.to_account_last4}"
    if supplier_row.account_number_index:
        masks[supplier_row.account_number_index] = "supplier settlement account"
    if dealer_row.account_number_index:
        masks[dealer_row.account_number_index] = "dealer account"
    return LoadedFlows(bundle, masks)


def mask(value: Any, masks: Mapping[str, str]) -> Any:
    """``value`` with every blind index (and its normalised upper-case form) replaced by its mask."""
    lookup = {**masks, **{k.upper(): v for k, v in masks.items()}}
    if isinstance(value, str):
        return lookup.get(value, value)
    if isinstance(value, Mapping):
        return {k: mask(v, masks) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, masks) for v in value]
    return value
