"""Fund-usage monitoring against the database: each misuse pattern raises its alert with evidence
(the disbursement to another account is in test_order_loan_servicing; no delivery and amount mismatch in
test_loan_monitoring_jobs)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from loan_monitoring import jobs
from loan_monitoring.models import Alert, OrderLoan
from risk_engine.ids import new_id
from risk_engine.settings import Settings
from tests.factories import account_number, auth, make_api_key, make_bank
from tests.loan_factories import (
    disbursed_loan,
    ingest,
    invoice_event,
    line_figures,
    loan,
    loan_world,
    make_approved_loan,
)

SETTINGS = Settings(env="test")
DAYS_AGO = 40


@pytest.fixture
def world(db, client):
    return loan_world(db, client.app.state.keys)


@pytest.fixture
def bank(db, world):
    return auth(make_api_key(db, "bank", world.bank))


@pytest.fixture
def disbursed(db, client, world, bank):
    """80,000 paid to the supplier 40 days ago, received by the supplier, goods delivered."""
    paid_at = datetime.now(UTC) - timedelta(days=DAYS_AGO)
    loan_id = disbursed_loan(db, client, world, bank, days_ago=DAYS_AGO)
    flow(
        client,
        bank,
        loan_id,
        "supplier_receipt",
        "80000.00",
        paid_at + timedelta(hours=1),
        to=world.supplier_account,
    )
    ingest(
        db,
        {
            "type": "delivery",
            "external_id": f"DL-{loan_id}",
            "order": world.order.id,
            "delivered_at": (paid_at + timedelta(days=2)).isoformat(),
        },
    )
    return loan_id


def flow(client, bank, loan_id, kind, amount, at, *, to=None, frm=None, ref=None):
    body = {"kind": kind, "reference": ref or new_id("ref"), "amount": amount, "occurred_at": at.isoformat()}
    if to:
        body["to_account"] = to
    if frm:
        body["from_account"] = frm
    r = client.post(f"/v1/order-loans/{loan_id}/fund-flows", headers=bank, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def monitor(db):
    return jobs.daily_fund_usage(db, as_of=datetime.now(UTC), settings=SETTINGS)


def alerts(db):
    with db.session() as s:
        return {a.kind: a for a in s.scalars(select(Alert))}


def test_a_clean_loan_raises_nothing(db, disbursed):
    assert monitor(db)["new"] == 0


def test_an_order_cancelled_after_disbursement_without_a_refund(db, client, world, bank, disbursed):
    cancelled = datetime.now(UTC) - timedelta(days=20)
    ingest(
        db,
        {
            "type": "order_status",
            "external_id": "ST-1",
            "order": world.order.id,
            "status": "cancelled",
            "at": cancelled.isoformat(),
        },
    )
    monitor(db)
    alert = alerts(db)["order_cancelled_no_refund"]
    assert alert.severity == "critical" and alert.evidence["missing"] == "80000.00"
    assert line_figures(db, world.line_id)["status"] == "frozen"
    # the money comes back: nothing new is raised
    flow(client, bank, disbursed, "refund", "80000.00", datetime.now(UTC))
    assert monitor(db)["new"] == 0


def test_goods_returned_after_disbursement_without_a_refund(db, world, disbursed):
    ingest(
        db,
        {
            "type": "return",
            "external_id": "RT-1",
            "order": world.order.id,
            "amount": "50000.00",
            "returned_at": (datetime.now(UTC) - timedelta(days=10)).isoformat(),
        },
    )
    monitor(db)
    alert = alerts(db)["order_returned_no_refund"]
    # 50,000 of a 100,000 order financed at 80 %: 40,000 should have come back
    assert alert.evidence["expected_refund"] == "40000.00" and alert.evidence["refunded"] == "0.00"


def test_an_invoice_contradicting_the_order(db, world, disbursed):
    ingest(db, invoice_event(world.order, world.dealer, world.supplier, amount="99000.00", tax="12870.00"))
    monitor(db)
    alert = alerts(db)["invoice_contradicts_order"]
    assert alert.evidence["contradictions"][0] == {
        "field": "amount",
        "invoice": "111870.00",
        "order": "100000.00",
    }


def test_duplicate_financing_found_after_approval(db, client, world, disbursed):
    ingest(db, invoice_event(world.order, world.dealer, world.supplier, number="31415926"))
    other_bank = make_bank(db, name="Elsewhere Bank")
    with db.unit_of_work() as s:  # an application at another bank naming this order's invoice
        row = loan(db, disbursed)
        s.add(
            OrderLoan(
                id=new_id("oln"),
                dealer_id=world.dealer.id,
                bank_id=other_bank.id,
                order_id=None,
                invoice_key="044031900111/31415926",
                state="applied",
                amount=Decimal("50000.00"),
                tenor_days=60,
                apr=row.apr,
                all_in_apr=row.apr,
                apr_cap=row.apr_cap,
                lpr=row.lpr,
                lpr_effective_date=row.lpr_effective_date,
                applied_at=datetime.now(UTC),
            )
        )
    monitor(db)
    alert = alerts(db)["duplicate_financing"]
    assert alert.evidence["at_other_banks"] == 1 and alert.evidence["shared_invoices"] == [
        "044031900111/31415926"
    ]
    assert set(alert.actions) == {"freeze_line", "recall"}


def test_circular_trade_among_related_parties(db, world, disbursed):
    ingest(
        db,
        {
            "type": "related_party",
            "external_id": "REL-9",
            "dealer": world.dealer.id,
            "supplier": world.supplier.id,
            "kind": "legal_representative",
            "evidence": "same legal representative",
        },
    )
    monitor(db)
    alert = alerts(db)["circular_trade"]
    assert alert.evidence["strong"] is True and alert.severity == "critical"


def test_money_going_round_back_to_the_dealer_is_circular_trade(db, client):
    dealer_account, middle = account_number(), account_number()
    world = loan_world(db, client.app.state.keys, dealer_account=dealer_account)
    bank = auth(make_api_key(db, "bank", world.bank))
    paid_at = datetime.now(UTC) - timedelta(days=5)
    loan_id = make_approved_loan(
        db, world.dealer, world.bank, world.order, world.line_id, applied_at=paid_at - timedelta(days=1)
    )
    r = client.post(
        f"/v1/order-loans/{loan_id}/disbursements",
        headers=bank,
        json={
            "reference": "D-1",
            "amount": "80000.00",
            "payee_account": world.supplier_account,
            "paid_at": paid_at.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    flow(
        client,
        bank,
        loan_id,
        "transfer",
        "79000.00",
        paid_at + timedelta(hours=3),
        frm=world.supplier_account,
        to=middle,
    )
    flow(
        client,
        bank,
        loan_id,
        "transfer",
        "78000.00",
        paid_at + timedelta(days=1),
        frm=middle,
        to=dealer_account,
    )
    kinds = alerts(db)
    assert "circular_trade" in kinds  # raised as soon as the bank reported the flows
    chain = kinds["circular_trade"].evidence["chain"]
    assert [c["to"] for c in chain] == ["****" + middle[-4:], "dealer account"]


def test_a_supplier_receipt_or_transfer_without_its_accounts_is_refused_naming_the_field(
    db, client, world, bank
):
    """A receipt with no receiving account can never be matched to the supplier (a permanent false
    amount_mismatch), and a transfer without both ends cannot be followed: refuse them, naming the field."""
    loan_id = disbursed_loan(db, client, world, bank, days_ago=10)
    at = (datetime.now(UTC) - timedelta(days=9)).isoformat()
    cases = [
        ({"kind": "supplier_receipt"}, "to_account"),
        ({"kind": "transfer", "to_account": account_number()}, "from_account"),
        ({"kind": "transfer", "from_account": world.supplier_account}, "to_account"),
    ]
    for extra, missing in cases:
        body = {"reference": new_id("ref"), "amount": "80000.00", "occurred_at": at, **extra}
        r = client.post(f"/v1/order-loans/{loan_id}/fund-flows", headers=bank, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == missing
    # a refund needs no account: the money came back to the loan
    flow(client, bank, loan_id, "refund", "100.00", datetime.now(UTC))
