"""The trade behind a loan: purchase orders, invoices, and the loans already financing them.

Shared by the application checks (before approval) and fund-usage monitoring (after), so an
invoice that contradicts its order, or an order financed twice (一女多嫁), is judged the same way
at both moments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from loan_monitoring.dates import business_date
from loan_monitoring.money import ZERO
from loan_monitoring.parties import Dealer, Supplier
from loan_monitoring.state import LoanState


class OrderStatus(StrEnum):
    """The platform's order statuses (``risk_engine.trade.models.ORDER_STATUSES``)."""

    PLACED = "placed"  # not yet confirmed by the supplier
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"  # goods sent back in full


# Confirmed and not yet paid (``PurchaseOrder.settled``). Shipped or delivered orders are financeable
# too: the dealer still owes the supplier, and many suppliers ship on confirmation.
FINANCEABLE_ORDER_STATUSES = frozenset({OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.DELIVERED})


@dataclass(frozen=True)
class PurchaseOrder:
    order_id: str
    dealer_id: str
    supplier_id: str
    amount: Decimal  # what the dealer owes for the order, VAT included, CNY
    status: OrderStatus
    placed_at: datetime
    settled: bool = False  # the order's bill is paid in full: nothing left to finance
    cancelled_at: datetime | None = None
    returned_at: datetime | None = None

    @property
    def placed_on(self) -> date:
        return business_date(self.placed_at)


class InvoiceStatus(StrEnum):
    VALID = "valid"
    VOID = "void"  # 作废
    REVERSED = "reversed"  # 红冲: a red-letter invoice cancelled it


@dataclass(frozen=True)
class Invoice:
    """A VAT invoice. ``invoice_code`` + ``invoice_number`` identify it nationwide (a fully digital
    invoice has a 20-digit number and no code); ``key`` is that identity as one string."""

    invoice_code: str
    invoice_number: str
    order_id: str | None
    seller_credit_code: str
    buyer_credit_code: str
    amount: Decimal  # excluding VAT
    tax: Decimal
    issued_on: date
    status: InvoiceStatus = InvoiceStatus.VALID

    @property
    def key(self) -> str:
        return invoice_key(self.invoice_code, self.invoice_number)

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


def invoice_key(invoice_code: str | None, invoice_number: str) -> str:
    """``"0310012300/00112345"``, or the bare number of a digital invoice: the identity that
    duplicate-financing checks compare (``ExistingFinancing.invoice_keys``)."""
    code, number = (invoice_code or "").strip().upper(), invoice_number.strip().upper()
    return f"{code}/{number}" if code else number


@dataclass(frozen=True)
class ExistingFinancing:
    """A loan or application, at any bank, that finances an order and/or invoices."""

    loan_id: str
    bank_id: str
    order_id: str | None
    invoice_keys: frozenset[str]  # Invoice.key of each invoice it finances
    state: LoanState


# A loan that never went ahead does not finance anything; every other state does (a repaid loan
# already financed the order: financing it again would double-count the same goods).
_NOT_FINANCING = frozenset({LoanState.CANCELLED, LoanState.DECLINED})


@dataclass(frozen=True)
class DuplicateFinancing:
    financing: ExistingFinancing
    same_bank: bool
    shared_order: bool
    shared_invoices: frozenset[str]


def duplicate_financings(
    *,
    bank_id: str,
    order_id: str | None,
    invoice_keys: Iterable[str],
    financings: Iterable[ExistingFinancing],
    exclude_loan_id: str | None = None,
) -> list[DuplicateFinancing]:
    """Live financings of the same order or any of the same invoices, at this bank or another."""
    invoices = frozenset(k.strip().upper() for k in invoice_keys)
    found = []
    for financing in financings:
        if financing.loan_id == exclude_loan_id or financing.state in _NOT_FINANCING:
            continue
        shared_order = order_id is not None and financing.order_id == order_id
        shared_invoices = invoices & frozenset(k.strip().upper() for k in financing.invoice_keys)
        if shared_order or shared_invoices:
            found.append(
                DuplicateFinancing(financing, financing.bank_id == bank_id, shared_order, shared_invoices)
            )
    return found


def duplicate_evidence(duplicates: list[DuplicateFinancing]) -> dict[str, object]:
    """What the asking bank may see: its own loan ids, and only a count for other banks'."""
    return {
        "at_this_bank": sorted(d.financing.loan_id for d in duplicates if d.same_bank),
        "at_other_banks": sum(1 for d in duplicates if not d.same_bank),
        "shared_order": any(d.shared_order for d in duplicates),
        "shared_invoices": sorted(set().union(*(d.shared_invoices for d in duplicates))),
    }


@dataclass(frozen=True)
class Contradiction:
    field: str
    invoice_value: object
    order_value: object


def invoice_contradictions(
    invoice: Invoice,
    order: PurchaseOrder,
    dealer: Dealer,
    supplier: Supplier,
    *,
    tolerance: Decimal = ZERO,
) -> list[Contradiction]:
    """Where an invoice contradicts the order it claims to bill.

    Over-invoicing is a contradiction (the classic way to inflate financing); an invoice for part of
    the order is not, because orders are often invoiced per shipment. The invoice's total (VAT
    included) is compared with the order amount; its date with the order's Beijing date.
    """
    found = []
    if invoice.status is not InvoiceStatus.VALID:
        found.append(Contradiction("status", invoice.status.value, InvoiceStatus.VALID.value))
    if invoice.order_id is not None and invoice.order_id != order.order_id:
        found.append(Contradiction("order_id", invoice.order_id, order.order_id))
    if invoice.total > order.amount + tolerance:
        found.append(Contradiction("amount", invoice.total, order.amount))
    if invoice.buyer_credit_code.strip().upper() != dealer.credit_code.strip().upper():
        found.append(Contradiction("buyer_credit_code", invoice.buyer_credit_code, dealer.credit_code))
    if invoice.seller_credit_code.strip().upper() != supplier.credit_code.strip().upper():
        found.append(Contradiction("seller_credit_code", invoice.seller_credit_code, supplier.credit_code))
    if invoice.issued_on < order.placed_on:
        found.append(Contradiction("issued_on", invoice.issued_on, order.placed_on))
    return found
