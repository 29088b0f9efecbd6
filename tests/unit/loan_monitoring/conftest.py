"""A clean, approvable order-loan scenario that each test bends in one place."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from limits.credit_line import CreditLine
from loan_monitoring.application import (
    BankProduct,
    LoanCheckResult,
    OrderLoanApplication,
    check_order_loan,
)
from loan_monitoring.lpr import LprTable
from loan_monitoring.parties import Dealer, RelatedPartyLink, Supplier
from loan_monitoring.trade import ExistingFinancing, Invoice, OrderStatus, PurchaseOrder

DEALER_CODE = "9144030071526726XG"
SUPPLIER_CODE = "91310000MA1FL0000X"
SUPPLIER_ACCOUNT = "6222 0210 0000 0001"


@dataclass
class Scenario:
    application: OrderLoanApplication
    order: PurchaseOrder | None
    invoice: Invoice | None
    supplier: Supplier | None
    dealer: Dealer
    bank_product: BankProduct
    line: CreditLine | None
    existing_financings: tuple[ExistingFinancing, ...] = ()
    related_links: tuple[RelatedPartyLink, ...] = ()
    as_of: datetime = datetime(2025, 6, 10, 3, 0, tzinfo=UTC)
    lpr_table: LprTable | None = None  # None: the bundled table, confirmed through 2025-06-20

    def bend(self, **changes: Any) -> Scenario:
        return replace(self, **changes)

    def check(self, **policy: Any) -> LoanCheckResult:
        return check_order_loan(
            self.application,
            self.order,
            self.invoice,
            self.supplier,
            self.dealer,
            self.bank_product,
            self.line,
            self.existing_financings,
            self.related_links,
            self.lpr_table,
            self.as_of,
            **policy,
        )


@pytest.fixture
def scenario() -> Scenario:
    dealer = Dealer(
        "dlr_1",
        DEALER_CODE,
        "华南经销有限公司",
        owner_ids=frozenset({"person_dealer_owner"}),
        legal_representative_id="person_dealer_rep",
        registered_address="深圳市南山区科技园1号",
        accounts=frozenset({"6222 0000 1111 2222"}),
    )
    supplier = Supplier(
        "sup_1",
        SUPPLIER_CODE,
        "上海制造有限公司",
        whitelisted=True,
        settlement_accounts=frozenset({SUPPLIER_ACCOUNT}),
        owner_ids=frozenset({"person_supplier_owner"}),
        legal_representative_id="person_supplier_rep",
        registered_address="上海市浦东新区张江路100号",
    )
    order = PurchaseOrder(
        "ord_1",
        "dlr_1",
        "sup_1",
        Decimal("100000.00"),
        OrderStatus.CONFIRMED,
        datetime(2025, 6, 2, 1, 0, tzinfo=UTC),  # 09:00 in Beijing
    )
    invoice = Invoice(  # 88,495.58 + 13 % VAT = 100,000.00
        "0310012300",
        "00112345",
        "ord_1",
        SUPPLIER_CODE,
        DEALER_CODE,
        Decimal("88495.58"),
        Decimal("11504.42"),
        date(2025, 6, 3),
    )
    product = BankProduct("bank_a", apr=Decimal("0.08"))
    line = CreditLine(Decimal("500000.00"), reserved=Decimal("100000.00"), utilised=Decimal("200000.00"))
    application = OrderLoanApplication(
        "loan_new",
        "dlr_1",
        "bank_a",
        "ord_1",
        Decimal("80000.00"),
        90,
        datetime(2025, 6, 10, 2, 0, tzinfo=UTC),
        invoice_key=invoice.key,
    )
    return Scenario(application, order, invoice, supplier, dealer, product, line)
