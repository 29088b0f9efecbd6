"""Entrusted payment (受托支付) and fund-usage monitoring: do the four flows agree (四流合一)?

The bank pays the order's supplier itself and reports each disbursement; ``check_disbursement``
judges one report. ``monitor_fund_usage`` then matches the loan against what happened to the
money and the goods — supplier receipts (funds), deliveries (goods), invoices (invoice) and the
order itself (information) — and returns an ``Alert`` with its evidence for each misuse pattern:

=============================  ====================================================================
kind                           raised when
=============================  ====================================================================
funds_to_other_account         a disbursement was paid to an account that is not the supplier's
disbursement_exceeds_approval  disbursements add up to more than the approved amount
amount_mismatch                the supplier's receipts do not add up to what was disbursed, once
                               ``receipt_within_days`` have passed
order_cancelled_no_refund      the order was cancelled after disbursement and the money has not
                               come back within ``refund_within_days``
order_returned_no_refund       goods were returned after disbursement and the financed share of
                               their value has not come back within ``refund_within_days``
no_delivery                    nothing delivered ``delivery_within_days`` after disbursement
                               (走单不走货; the evidence says whether invoices exist anyway)
invoice_contradicts_order      an invoice's amount, buyer or seller code, or date contradicts the
                               order (``trade.invoice_contradictions``)
duplicate_financing            the order or an invoice is financed by another loan, here or at
                               another bank, found after approval
circular_trade                 dealer and supplier are related, or money paid to the supplier
                               comes back to the dealer through a chain of transfers
=============================  ====================================================================

``refunds`` are money that came back to the loan because the trade unwound: a supplier refund to
the loan account or an early repayment made for that reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

from loan_monitoring.alerts import Action, Alert, Severity
from loan_monitoring.dates import business_date, require_aware
from loan_monitoring.money import CENT, ZERO, jsonable, require_money
from loan_monitoring.parties import Dealer, RelatedPartyLink, Supplier, normalise_account, relationship
from loan_monitoring.state import LoanEvent, LoanState, step
from loan_monitoring.trade import (
    ExistingFinancing,
    Invoice,
    InvoiceStatus,
    OrderStatus,
    PurchaseOrder,
    duplicate_evidence,
    duplicate_financings,
    invoice_contradictions,
)
from risk_engine.errors import Conflict


class FundUsageAlertKind(StrEnum):
    FUNDS_TO_OTHER_ACCOUNT = "funds_to_other_account"
    DISBURSEMENT_EXCEEDS_APPROVAL = "disbursement_exceeds_approval"
    AMOUNT_MISMATCH = "amount_mismatch"
    ORDER_CANCELLED_NO_REFUND = "order_cancelled_no_refund"
    ORDER_RETURNED_NO_REFUND = "order_returned_no_refund"
    NO_DELIVERY = "no_delivery"
    INVOICE_CONTRADICTS_ORDER = "invoice_contradicts_order"
    DUPLICATE_FINANCING = "duplicate_financing"
    CIRCULAR_TRADE = "circular_trade"


K = FundUsageAlertKind


@dataclass(frozen=True)
class FinancedLoan:
    loan_id: str
    bank_id: str
    dealer_id: str
    order_id: str
    supplier_id: str
    approved_amount: Decimal
    state: LoanState
    invoice_keys: frozenset[str] = frozenset()  # trade.Invoice.key of the invoices it finances


@dataclass(frozen=True)
class Disbursement:
    disbursement_id: str
    amount: Decimal
    payee_account: str
    paid_at: datetime


@dataclass(frozen=True)
class SupplierReceipt:
    receipt_id: str
    account: str  # the supplier account that received the money
    amount: Decimal
    received_at: datetime


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    delivered_at: datetime

    @property
    def delivered_on(self) -> date:
        return business_date(self.delivered_at)


@dataclass(frozen=True)
class OrderReturn:
    return_id: str
    returned_at: datetime
    amount: Decimal  # value of the goods returned

    @property
    def returned_on(self) -> date:
        return business_date(self.returned_at)


@dataclass(frozen=True)
class Refund:
    refund_id: str
    refunded_at: datetime
    amount: Decimal

    @property
    def refunded_on(self) -> date:
        return business_date(self.refunded_at)


@dataclass(frozen=True)
class AccountTransfer:
    """One movement in the account-flow records the bank keeps for entrusted payment."""

    from_account: str
    to_account: str
    amount: Decimal
    transferred_at: datetime


@dataclass(frozen=True)
class MonitoringPolicy:
    receipt_within_days: int = 3
    delivery_within_days: int = 30
    refund_within_days: int = 7
    amount_tolerance: Decimal = ZERO
    round_trip_within_days: int = 30
    round_trip_min_share: Decimal = Decimal("0.5")  # of the tranche, for a transfer to count
    round_trip_max_hops: int = 3
    severities: Mapping[FundUsageAlertKind, Severity] = dataclass_field(
        default_factory=lambda: {
            K.FUNDS_TO_OTHER_ACCOUNT: Severity.CRITICAL,
            K.DISBURSEMENT_EXCEEDS_APPROVAL: Severity.CRITICAL,
            K.AMOUNT_MISMATCH: Severity.WARNING,
            K.ORDER_CANCELLED_NO_REFUND: Severity.CRITICAL,
            K.ORDER_RETURNED_NO_REFUND: Severity.WARNING,
            K.NO_DELIVERY: Severity.WARNING,
            K.INVOICE_CONTRADICTS_ORDER: Severity.WARNING,
            K.DUPLICATE_FINANCING: Severity.CRITICAL,
            K.CIRCULAR_TRADE: Severity.CRITICAL,
        }
    )
    actions: Mapping[FundUsageAlertKind, tuple[Action, ...]] = dataclass_field(
        default_factory=lambda: {
            K.FUNDS_TO_OTHER_ACCOUNT: (Action.FREEZE_LINE,),
            K.ORDER_CANCELLED_NO_REFUND: (Action.FREEZE_LINE,),
            K.DUPLICATE_FINANCING: (Action.FREEZE_LINE, Action.RECALL),
            K.CIRCULAR_TRADE: (Action.FREEZE_LINE,),
        }
    )


_MESSAGES: dict[FundUsageAlertKind, tuple[str, str]] = {
    K.FUNDS_TO_OTHER_ACCOUNT: (
        "贷款资金支付至非供应商账户",
        "loan funds were paid to an account other than the supplier's",
    ),
    K.DISBURSEMENT_EXCEEDS_APPROVAL: ("累计放款超过批准金额", "disbursements exceed the approved amount"),
    K.AMOUNT_MISMATCH: ("供应商收款与放款金额不符", "the supplier's receipts do not match the disbursements"),
    K.ORDER_CANCELLED_NO_REFUND: (
        "放款后订单取消但资金未退回",
        "the order was cancelled after disbursement and the funds have not come back",
    ),
    K.ORDER_RETURNED_NO_REFUND: (
        "放款后发生退货但资金未退回",
        "goods were returned after disbursement and the funds have not come back",
    ),
    K.NO_DELIVERY: (
        "放款后规定期限内未发货",
        "nothing was delivered within the agreed days after disbursement",
    ),
    K.INVOICE_CONTRADICTS_ORDER: ("发票与订单不一致", "an invoice contradicts the order"),
    K.DUPLICATE_FINANCING: ("订单或发票存在重复融资", "the order or an invoice is financed more than once"),
    K.CIRCULAR_TRADE: (
        "关联方循环交易（疑似自融）",
        "circular trade among related parties (possible self-financing)",
    ),
}


def _alert(
    kind: FundUsageAlertKind,
    loan: FinancedLoan,
    policy: MonitoringPolicy,
    discriminator: str = "",
    severity: Severity | None = None,
    **evidence: Any,
) -> Alert:
    zh, en = _MESSAGES[kind]
    key = f"loan:{loan.loan_id}:{kind.value}" + (f":{discriminator}" if discriminator else "")
    return Alert(
        kind.value,
        severity or policy.severities[kind],
        key,
        zh,
        en,
        jsonable(evidence),
        policy.actions.get(kind, ()),
        loan.dealer_id,
        loan.loan_id,
        loan.bank_id,
    )


@dataclass(frozen=True)
class DisbursementCheck:
    accepted: bool  # False: the report would exceed the approval and is refused
    alerts: tuple[Alert, ...]
    disbursed_total: Decimal  # including this disbursement when accepted
    remaining_approved: Decimal

    def raise_if_refused(self) -> None:
        if not self.accepted:
            raise Conflict(
                "the disbursement would exceed the approved amount",
                field="amount",
                code="disbursement_exceeds_approval",
                extra={"alerts": [a.as_dict() for a in self.alerts]},
            )


def _to_supplier(disbursement: Disbursement, supplier: Supplier) -> bool:
    return normalise_account(disbursement.payee_account) in {
        normalise_account(a) for a in supplier.settlement_accounts
    }


def check_disbursement(
    loan: FinancedLoan,
    supplier: Supplier,
    disbursement: Disbursement,
    previous: Sequence[Disbursement],
    policy: MonitoringPolicy = MonitoringPolicy(),
) -> DisbursementCheck:
    """Judge one disbursement report under entrusted payment.

    A report that would take disbursements past the approval is refused (the bank must correct it).
    A payment to an account that is not the supplier's is accepted — it happened, and the trace
    must show it — but raises a critical alert.
    """
    step(loan.state, LoanEvent.DISBURSE)  # IllegalTransition unless approved or disbursed
    amount = require_money(disbursement.amount, "amount", positive=True)
    require_aware(disbursement.paid_at, "paid_at")
    if supplier.supplier_id != loan.supplier_id:
        raise Conflict(
            "the supplier given is not the loan's supplier", field="supplier_id", code="supplier_mismatch"
        )
    if any(p.disbursement_id == disbursement.disbursement_id for p in previous):
        raise Conflict(
            f"disbursement {disbursement.disbursement_id} was already reported",
            field="disbursement_id",
            code="duplicate_disbursement",
        )
    before = sum((p.amount for p in previous), ZERO)
    alerts = []
    if before + amount > loan.approved_amount:
        alerts.append(
            _alert(
                K.DISBURSEMENT_EXCEEDS_APPROVAL,
                loan,
                policy,
                disbursement.disbursement_id,
                approved_amount=loan.approved_amount,
                disbursed_before=before,
                reported=amount,
                excess=before + amount - loan.approved_amount,
            )
        )
        return DisbursementCheck(False, tuple(alerts), before, loan.approved_amount - before)
    if not _to_supplier(disbursement, supplier):
        alerts.append(_funds_elsewhere(loan, supplier, disbursement, policy))
    total = before + amount
    return DisbursementCheck(True, tuple(alerts), total, loan.approved_amount - total)


def _funds_elsewhere(
    loan: FinancedLoan, supplier: Supplier, disbursement: Disbursement, policy: MonitoringPolicy
) -> Alert:
    return _alert(
        K.FUNDS_TO_OTHER_ACCOUNT,
        loan,
        policy,
        disbursement.disbursement_id,
        disbursement_id=disbursement.disbursement_id,
        amount=disbursement.amount,
        payee_account=disbursement.payee_account,
        paid_at=disbursement.paid_at,
        supplier_accounts=sorted(supplier.settlement_accounts),
    )


@dataclass(frozen=True)
class FundFlows:
    """Everything known about one financed order, as of the monitoring run."""

    loan: FinancedLoan
    order: PurchaseOrder
    dealer: Dealer
    supplier: Supplier
    disbursements: Sequence[Disbursement]
    receipts: Sequence[SupplierReceipt] = ()
    deliveries: Sequence[Delivery] = ()
    invoices: Sequence[Invoice] = ()
    returns: Sequence[OrderReturn] = ()
    refunds: Sequence[Refund] = ()
    other_financings: Sequence[ExistingFinancing] = ()
    related_links: Sequence[RelatedPartyLink] = ()
    transfers: Sequence[AccountTransfer] = ()

    @property
    def disbursed_total(self) -> Decimal:
        return sum((d.amount for d in self.disbursements), ZERO)

    @property
    def first_disbursed_on(self) -> date | None:
        return min((business_date(d.paid_at) for d in self.disbursements), default=None)


def monitor_fund_usage(
    flows: FundFlows, as_of: datetime, policy: MonitoringPolicy = MonitoringPolicy()
) -> tuple[Alert, ...]:
    """Every fund-usage alert the loan's flows justify on ``as_of`` (deduplicate before raising)."""
    require_aware(as_of, "as_of")
    today = business_date(as_of)
    alerts: list[Alert] = []
    loan, supplier = flows.loan, flows.supplier
    alerts += [
        _funds_elsewhere(loan, supplier, d, policy)
        for d in flows.disbursements
        if not _to_supplier(d, supplier)
    ]
    if flows.disbursed_total > loan.approved_amount:
        alerts.append(
            _alert(
                K.DISBURSEMENT_EXCEEDS_APPROVAL,
                loan,
                policy,
                "total",
                approved_amount=loan.approved_amount,
                disbursed_total=flows.disbursed_total,
            )
        )
    alerts += _receipt_mismatch(flows, today, policy)
    alerts += _unwound_without_refund(flows, today, policy)
    alerts += _no_delivery(flows, today, policy)
    alerts += _invoice_contradictions(flows, policy)
    alerts += _duplicates(flows, policy)
    alerts += _circular_trade(flows, policy)
    return tuple(alerts)


def _receipt_mismatch(flows: FundFlows, today: date, policy: MonitoringPolicy) -> list[Alert]:
    if not flows.disbursements:
        return []
    last_paid = max(business_date(d.paid_at) for d in flows.disbursements)
    if today <= last_paid + timedelta(days=policy.receipt_within_days):
        return []  # receipts may still be on their way
    accounts = {normalise_account(a) for a in flows.supplier.settlement_accounts}
    received = sum((r.amount for r in flows.receipts if normalise_account(r.account) in accounts), ZERO)
    # Money paid elsewhere is already its own alert (funds_to_other_account); match the rest.
    disbursed = sum((d.amount for d in flows.disbursements if _to_supplier(d, flows.supplier)), ZERO)
    if abs(received - disbursed) <= policy.amount_tolerance:
        return []
    return [
        _alert(
            K.AMOUNT_MISMATCH,
            flows.loan,
            policy,
            disbursed_to_supplier=disbursed,
            received_total=received,
            difference=disbursed - received,
            receipts=[r.receipt_id for r in flows.receipts],
        )
    ]


def _refunded_since(flows: FundFlows, since: date) -> Decimal:
    return sum((r.amount for r in flows.refunds if r.refunded_on >= since), ZERO)


def _unwound_without_refund(flows: FundFlows, today: date, policy: MonitoringPolicy) -> list[Alert]:
    first = flows.first_disbursed_on
    order, loan = flows.order, flows.loan
    if first is None:
        return []
    disbursed = flows.disbursed_total
    window = timedelta(days=policy.refund_within_days)
    if order.status is OrderStatus.CANCELLED:
        # Cancelled before or after the money went out, it must come back. An unknown cancellation
        # date starts the refund window at the first disbursement: alert early rather than never.
        cancelled_on = business_date(order.cancelled_at) if order.cancelled_at else first
        refunded = _refunded_since(flows, first)
        if today > max(cancelled_on, first) + window and refunded + policy.amount_tolerance < disbursed:
            return [
                _alert(
                    K.ORDER_CANCELLED_NO_REFUND,
                    loan,
                    policy,
                    cancelled_on=cancelled_on,
                    disbursed_total=disbursed,
                    refunded=refunded,
                    missing=disbursed - refunded,
                )
            ]
        return []
    returns = [r for r in flows.returns if r.returned_on >= first]
    if order.status is OrderStatus.RETURNED and not flows.returns:
        returned_at = order.returned_at or min(d.paid_at for d in flows.disbursements)
        returns = [OrderReturn("whole-order", returned_at, order.amount)]
    if not returns:
        return []
    last_return = max(r.returned_on for r in returns)
    returned_value = sum((r.amount for r in returns), ZERO)
    # Only the financed share of the returned goods has to come back to the bank.
    expected = min(disbursed, (returned_value * disbursed / order.amount).quantize(CENT, rounding=ROUND_DOWN))
    refunded = _refunded_since(flows, first)
    if today > last_return + window and refunded + policy.amount_tolerance < expected:
        return [
            _alert(
                K.ORDER_RETURNED_NO_REFUND,
                loan,
                policy,
                last_returned_on=last_return,
                returned_value=returned_value,
                expected_refund=expected,
                refunded=refunded,
                returns=[r.return_id for r in returns],
            )
        ]
    return []


def _no_delivery(flows: FundFlows, today: date, policy: MonitoringPolicy) -> list[Alert]:
    first = flows.first_disbursed_on
    if first is None or flows.order.status is OrderStatus.CANCELLED:
        return []
    deadline = first + timedelta(days=policy.delivery_within_days)
    if today <= deadline or any(d.delivered_on <= today for d in flows.deliveries):
        return []
    valid_invoices = [i.key for i in flows.invoices if i.status is InvoiceStatus.VALID]
    return [
        _alert(
            K.NO_DELIVERY,
            flows.loan,
            policy,
            first_disbursed_on=first,
            deadline=deadline,
            days_since_disbursement=(today - first).days,
            invoiced_without_delivery=bool(valid_invoices),
            invoices=valid_invoices,
        )
    ]


def _invoice_contradictions(flows: FundFlows, policy: MonitoringPolicy) -> list[Alert]:
    alerts = []
    for invoice in flows.invoices:
        found = invoice_contradictions(
            invoice, flows.order, flows.dealer, flows.supplier, tolerance=policy.amount_tolerance
        )
        if found:
            alerts.append(
                _alert(
                    K.INVOICE_CONTRADICTS_ORDER,
                    flows.loan,
                    policy,
                    invoice.key,
                    invoice_key=invoice.key,
                    contradictions=[
                        {"field": c.field, "invoice": c.invoice_value, "order": c.order_value} for c in found
                    ],
                )
            )
    valid = [i for i in flows.invoices if i.status is InvoiceStatus.VALID]
    total = sum((i.total for i in valid), ZERO)
    if len(valid) > 1 and total > flows.order.amount + policy.amount_tolerance:
        alerts.append(
            _alert(
                K.INVOICE_CONTRADICTS_ORDER,
                flows.loan,
                policy,
                "total",
                invoices=[i.key for i in valid],
                invoiced_total=total,
                order_amount=flows.order.amount,
                contradictions=[{"field": "amount", "invoice": total, "order": flows.order.amount}],
            )
        )
    return alerts


def _duplicates(flows: FundFlows, policy: MonitoringPolicy) -> list[Alert]:
    loan = flows.loan
    keys = set(loan.invoice_keys) | {i.key for i in flows.invoices}
    found = duplicate_financings(
        bank_id=loan.bank_id,
        order_id=loan.order_id,
        invoice_keys=keys,
        financings=flows.other_financings,
        exclude_loan_id=loan.loan_id,
    )
    return [_alert(K.DUPLICATE_FINANCING, loan, policy, **duplicate_evidence(found))] if found else []


def _circular_trade(flows: FundFlows, policy: MonitoringPolicy) -> list[Alert]:
    alerts = []
    related = relationship(flows.dealer, flows.supplier, flows.related_links)
    if related.related:
        alerts.append(
            _alert(
                K.CIRCULAR_TRADE,
                flows.loan,
                policy,
                "related_parties",
                severity=None if related.strong else Severity.WARNING,
                ties=related.as_evidence(),
                strong=related.strong,
            )
        )
    for disbursement in flows.disbursements:
        chain = round_trip(disbursement, flows.dealer.accounts, flows.transfers, policy)
        if chain:
            alerts.append(
                _alert(
                    K.CIRCULAR_TRADE,
                    flows.loan,
                    policy,
                    f"round_trip:{disbursement.disbursement_id}",
                    disbursement_id=disbursement.disbursement_id,
                    amount=disbursement.amount,
                    chain=[
                        {
                            "from": t.from_account,
                            "to": t.to_account,
                            "amount": t.amount,
                            "at": t.transferred_at,
                        }
                        for t in chain
                    ],
                )
            )
    return alerts


def round_trip(
    disbursement: Disbursement,
    dealer_accounts: frozenset[str],
    transfers: Sequence[AccountTransfer],
    policy: MonitoringPolicy,
) -> list[AccountTransfer]:
    """A chain of transfers, each no earlier than the one before, that carries at least
    ``round_trip_min_share`` of a tranche from its payee back to one of the dealer's accounts within
    ``round_trip_within_days`` and ``round_trip_max_hops`` hops; empty if there is none."""
    targets = {normalise_account(a) for a in dealer_accounts}
    floor = disbursement.amount * policy.round_trip_min_share
    until = disbursement.paid_at + timedelta(days=policy.round_trip_within_days)
    candidates = sorted(
        (t for t in transfers if t.amount >= floor and disbursement.paid_at <= t.transferred_at <= until),
        key=lambda t: t.transferred_at,
    )
    frontier: list[tuple[str, datetime, list[AccountTransfer]]] = [
        (normalise_account(disbursement.payee_account), disbursement.paid_at, [])
    ]
    for _ in range(policy.round_trip_max_hops):
        next_frontier = []
        for account, since, chain in frontier:
            for t in candidates:
                if normalise_account(t.from_account) != account or t.transferred_at < since or t in chain:
                    continue
                path = [*chain, t]
                if normalise_account(t.to_account) in targets:
                    return path
                next_frontier.append((normalise_account(t.to_account), t.transferred_at, path))
        frontier = next_frontier
    return []


def fund_usage_trace(flows: FundFlows) -> list[dict[str, Any]]:
    """The loan's flows in time order, for ``GET /v1/order-loans/{id}``."""
    entries: list[tuple[date | datetime, str, dict[str, Any]]] = []
    entries += [
        (
            d.paid_at,
            "disbursement",
            {"id": d.disbursement_id, "amount": d.amount, "payee_account": d.payee_account},
        )
        for d in flows.disbursements
    ]
    entries += [
        (r.received_at, "supplier_receipt", {"id": r.receipt_id, "amount": r.amount, "account": r.account})
        for r in flows.receipts
    ]
    entries += [(d.delivered_at, "delivery", {"id": d.delivery_id}) for d in flows.deliveries]
    entries += [
        (i.issued_on, "invoice", {"id": i.key, "amount": i.total, "status": i.status}) for i in flows.invoices
    ]
    entries += [(r.returned_at, "return", {"id": r.return_id, "amount": r.amount}) for r in flows.returns]
    entries += [(r.refunded_at, "refund", {"id": r.refund_id, "amount": r.amount}) for r in flows.refunds]

    def sort_key(entry: tuple[date | datetime, str, dict[str, Any]]) -> tuple[date, str]:
        return (business_date(entry[0]), entry[0].isoformat() if isinstance(entry[0], datetime) else "")

    return [
        jsonable({"on": when, "flow": flow, **facts}) for when, flow, facts in sorted(entries, key=sort_key)
    ]
