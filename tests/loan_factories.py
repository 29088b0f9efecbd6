"""Factories for order-loan tests: trade through the real event service, credit lines through the
ledger, loans through the persisted state machine. Each commits its own short unit of work."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from compliance.keys import KeyProvider
from limits import ledger
from loan_monitoring import lpr, lpr_records
from loan_monitoring.dates import business_date
from loan_monitoring.models import OrderLoan
from loan_monitoring.state import LoanEvent
from loan_monitoring.transitions import lock_loan, move
from risk_engine.db import Database
from risk_engine.ids import new_id
from risk_engine.parties.models import Bank, Dealer, Supplier
from risk_engine.trade import service as trade_service
from risk_engine.trade.models import Order
from tests.factories import account_number, make_bank, make_dealer, make_supplier

_ids = itertools.count(1)


def ingest(db: Database, *events: dict[str, Any]) -> dict[str, Any]:
    with db.unit_of_work() as s:
        report = trade_service.ingest_events(s, list(events), actor="test").as_dict()
    assert not report["rejected"], report["rejected"]
    return report


def make_order(
    db: Database,
    dealer: Dealer,
    supplier: Supplier,
    amount: str = "100000.00",
    *,
    status: str = "confirmed",
    placed_at: datetime | None = None,
    **milestones: Any,
) -> Order:
    placed_at = placed_at or datetime.now(UTC) - timedelta(days=2)
    external_id = f"O-{next(_ids)}"
    event = {
        "type": "order",
        "external_id": external_id,
        "dealer": dealer.id,
        "supplier": supplier.id,
        "amount": amount,
        "placed_at": placed_at.isoformat(),
        "status": status,
    }
    if status != "placed":
        event["confirmed_at"] = (placed_at + timedelta(hours=1)).isoformat()
    for name, value in milestones.items():
        event[name] = value.isoformat() if isinstance(value, datetime) else value
    ingest(db, event)
    with db.session() as s:
        return s.query(Order).filter_by(external_id=external_id).one()


def invoice_event(
    order: Order,
    dealer: Dealer,
    supplier: Supplier,
    *,
    amount: str = "80000.00",
    tax: str = "10400.00",
    issued_on: date | None = None,
    number: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    event = {
        "type": "invoice",
        "external_id": f"I-{next(_ids)}",
        "order": order.id,
        "invoice_code": "044031900111",
        "invoice_number": number or f"{next(_ids):08d}",
        "seller_credit_code": supplier.credit_code,
        "buyer_credit_code": dealer.credit_code,
        "amount": amount,
        "tax": tax,
        "issued_on": (issued_on or date.today()).isoformat(),
    }
    event.update(overrides)
    return event


def open_line(db: Database, dealer: Dealer, bank: Bank, limit: str = "500000.00") -> str:
    with db.unit_of_work() as s:
        return ledger.open_line(
            s,
            dealer_id=dealer.id,
            bank_id=bank.id,
            limit=Decimal(limit),
            cause=ledger.Cause("test", "line"),
            actor="test",
        ).id


def line_figures(db: Database, line_id: str) -> dict[str, Any]:
    with db.session() as s:
        line = ledger.get_line(s, line_id)
        return {
            "limit": line.limit,
            "reserved": line.reserved,
            "utilised": line.utilised,
            "status": line.status,
            "available": line.available,
        }


def make_approved_loan(
    db: Database,
    dealer: Dealer,
    bank: Bank,
    order: Order,
    line_id: str | None,
    *,
    amount: str = "80000.00",
    tenor_days: int = 90,
    applied_at: datetime | None = None,
) -> str:
    """An approved loan with its reservation, straight through the state machine (no checks)."""
    applied_at = applied_at or datetime.now(UTC) - timedelta(days=100)
    fixing = lpr.default_lpr_table().fixing_on(applied_at.date())
    loan = OrderLoan(
        id=new_id("oln"),
        dealer_id=dealer.id,
        bank_id=bank.id,
        order_id=order.id,
        supplier_id=order.supplier_id,
        line_id=line_id,
        state="applied",
        amount=Decimal(amount),
        tenor_days=tenor_days,
        apr=bank.apr,
        day_count="ACT/365",
        upfront_fees=Decimal("0.00"),
        all_in_apr=bank.apr,
        apr_cap=4 * fixing.rate,
        lpr=fixing.rate,
        lpr_effective_date=fixing.effective_date,
        approved_amount=Decimal("0.00"),
        reserved_held=Decimal("0.00"),
        disbursed_amount=Decimal("0.00"),
        principal_repaid=Decimal("0.00"),
        outstanding_principal=Decimal("0.00"),
        interest_paid=Decimal("0.00"),
        penalty_interest_paid=Decimal("0.00"),
        days_past_due=0,
        bucket="current",
        applied_at=applied_at,
        version=1,
    )
    with db.unit_of_work() as s:
        s.add(loan)
        s.flush()
        locked = lock_loan(s, loan.id)
        locked.approved_amount = Decimal(amount)
        move(s, locked, LoanEvent.APPROVE, actor="test", at=applied_at)  # decided when applied for
    return loan.id


@dataclass
class LoanWorld:
    """One dealer, one whitelisted supplier (with a settlement account), one bank, a line, an order."""

    dealer: Dealer
    supplier: Supplier
    supplier_account: str
    bank: Bank
    line_id: str
    order: Order


def loan_world(
    db: Database,
    keys: KeyProvider,
    *,
    limit: str = "500000.00",
    order_amount: str = "100000.00",
    bank: Bank | None = None,
    dealer_account: str | None = None,
    confirm_lpr: bool = True,
    **bank_overrides: Any,
) -> LoanWorld:
    """``confirm_lpr``: record that the LPR table is complete through today, as an operator would, so that
    applications are not referred for want of a known LPR (the bundled table ends in mid-2025)."""
    if confirm_lpr:
        confirm_lpr_table(db)
    bank = bank or make_bank(db, **bank_overrides)
    dealer = make_dealer(db, keys=keys, **({"account_number": dealer_account} if dealer_account else {}))
    account = account_number()
    supplier = make_supplier(db, keys=keys, account_number=account)
    line_id = open_line(db, dealer, bank, limit)
    order = make_order(db, dealer, supplier, order_amount, placed_at=datetime.now(UTC) - timedelta(days=120))
    return LoanWorld(dealer, supplier, account, bank, line_id, order)


def confirm_lpr_table(db: Database, through: date | None = None) -> None:
    """The table confirmed through ``through`` (default: today in Beijing) — test data, not a publication."""
    with db.unit_of_work() as s:
        lpr_records.record_confirmation(
            s,
            through=through or business_date(datetime.now(UTC)),
            source="test: the bundled rate taken as current, not a published fixing",
            actor="test",
            today=business_date(datetime.now(UTC)),
        )


def loan(db: Database, loan_id: str) -> OrderLoan:
    with db.session() as s:
        row = s.get(OrderLoan, loan_id)
        assert row is not None
        s.expunge(row)
        return row


def disburse(
    client: Any, bank_headers: dict[str, str], loan_id: str, *, amount: str, payee_account: str,
    paid_at: datetime, reference: str = "D-1",
) -> None:
    """The bank reports its entrusted payment of ``amount`` to ``payee_account`` through the API."""
    r = client.post(
        f"/v1/order-loans/{loan_id}/disbursements",
        headers=bank_headers,
        json={"reference": reference, "amount": amount, "payee_account": payee_account,
              "paid_at": paid_at.isoformat()},
    )
    assert r.status_code == 201, r.text


def disbursed_loan(
    db: Database, client: Any, world: LoanWorld, bank_headers: dict[str, str], *, amount: str = "80000.00",
    tenor_days: int = 90, days_ago: int = 200,
) -> str:
    """An approved loan on ``world``'s order, paid to its supplier ``days_ago`` days ago."""
    paid_at = datetime.now(UTC) - timedelta(days=days_ago)
    loan_id = make_approved_loan(
        db, world.dealer, world.bank, world.order, world.line_id, amount=amount, tenor_days=tenor_days,
        applied_at=paid_at - timedelta(days=1),
    )
    disburse(client, bank_headers, loan_id, amount=amount, payee_account=world.supplier_account, paid_at=paid_at)
    return loan_id
