"""An order loan after approval, through HTTP: entrusted-payment disbursements, repayments, cancellation,
illegal transitions, and a bank seeing only its own loans."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from compliance import audit
from compliance.models import AuditEntry
from loan_monitoring.dates import BEIJING
from loan_monitoring.models import Alert, Disbursement
from tests.factories import account_number, auth, make_api_key, make_bank
from tests.loan_factories import line_figures, loan, loan_world, make_approved_loan, make_order


@pytest.fixture
def world(db, client):
    return loan_world(db, client.app.state.keys)


@pytest.fixture
def approved(db, world):
    return make_approved_loan(db, world.dealer, world.bank, world.order, world.line_id, amount="80000.00")


@pytest.fixture
def bank_headers(db, world):
    return auth(make_api_key(db, "bank", world.bank))


def disburse(client, headers, loan_id, account, amount="80000.00", ref="D-1", paid_at=None, key=None):
    paid_at = paid_at or datetime.now(UTC) - timedelta(hours=1)
    return client.post(
        f"/v1/order-loans/{loan_id}/disbursements",
        headers={**headers, **({"Idempotency-Key": key} if key else {})},
        json={"reference": ref, "amount": amount, "payee_account": account, "paid_at": paid_at.isoformat()},
    )


def repay(client, headers, loan_id, amount, paid_at, ref="R-1"):
    return client.post(
        f"/v1/order-loans/{loan_id}/repayments",
        headers=headers,
        json={"reference": ref, "amount": amount, "paid_at": paid_at.isoformat()},
    )


def test_approval_reserves_the_amount_on_the_line(db, world, approved):
    assert line_figures(db, world.line_id)["reserved"] == Decimal("80000.00")
    assert loan(db, approved).state == "approved"


def test_disbursement_to_the_supplier_account_moves_the_reservation_to_utilised(
    db, client, world, approved, bank_headers
):
    spaced = " ".join(world.supplier_account[i : i + 4] for i in range(0, len(world.supplier_account), 4))
    r = disburse(client, bank_headers, approved, spaced, amount="50000.00")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["amount"] == "50000.00" and body["payee_account"] == "****" + world.supplier_account[-4:]
    assert line_figures(db, world.line_id)["reserved"] == Decimal("30000.00")
    assert line_figures(db, world.line_id)["utilised"] == Decimal("50000.00")
    row = loan(db, approved)
    assert row.state == "disbursed" and row.outstanding_principal == Decimal("50000.00")
    assert row.due_on is not None
    with db.session() as s:
        stored = s.scalars(select(Disbursement)).one()
        assert world.supplier_account not in stored.payee_account_enc  # only the token, index and last 4


def test_partial_disbursements_may_not_exceed_the_approval(db, client, world, approved, bank_headers):
    assert (
        disburse(client, bank_headers, approved, world.supplier_account, "50000.00", "D-1").status_code == 201
    )
    assert (
        disburse(client, bank_headers, approved, world.supplier_account, "30000.00", "D-2").status_code == 201
    )
    r = disburse(client, bank_headers, approved, world.supplier_account, "0.01", "D-3")
    assert r.status_code == 409
    assert r.json()["code"] == "disbursement_exceeds_approval"
    assert r.json()["errors"][0]["field"] == "amount"
    assert line_figures(db, world.line_id)["utilised"] == Decimal("80000.00")


def test_disbursement_to_another_account_is_refused_and_raises_an_alert_that_freezes_the_line(
    db, client, world, approved, bank_headers
):
    other, paid_at = account_number(), datetime.now(UTC) - timedelta(hours=1)
    r = disburse(client, bank_headers, approved, other, key="disb-wrong", paid_at=paid_at)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "payee_not_supplier_account"
    assert problem["errors"][0]["field"] == "payee_account"
    assert len(problem["alert_ids"]) == 1
    with db.session() as s:
        alert = s.get(Alert, problem["alert_ids"][0])
        assert alert.kind == "funds_to_other_account" and alert.severity == "critical"
        assert alert.evidence["payee_account"] == "****" + other[-4:]
        assert other not in str(alert.evidence)
        assert alert.actions_taken[0]["action"] == "freeze_line"
        assert s.scalar(select(Disbursement.id)) is None
    figures = line_figures(db, world.line_id)
    assert figures["status"] == "frozen" and figures["utilised"] == Decimal("0.00")
    assert loan(db, approved).state == "approved"
    # the retry of the same refused report replays the refusal: no second alert, no second audit entry
    again = disburse(client, bank_headers, approved, other, key="disb-wrong", paid_at=paid_at)
    assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
    assert again.content == r.content and again.headers["content-type"] == "application/problem+json"
    with db.session() as s:
        assert len(s.scalars(select(Alert)).all()) == 1
        refusals = s.scalars(select(AuditEntry).where(AuditEntry.action == "order_loan.disbursement_refused"))
        assert len(refusals.all()) == 1
    # the same key with another body is the usual 409; a new report (new key) is a new attempt, audited
    assert disburse(client, bank_headers, approved, account_number(), key="disb-wrong",
                    paid_at=paid_at).status_code == 409
    assert disburse(client, bank_headers, approved, other, key="disb-wrong-2").status_code == 422
    with db.session() as s:
        refusals = s.scalars(select(AuditEntry).where(AuditEntry.action == "order_loan.disbursement_refused"))
        assert len(refusals.all()) == 2 and len(s.scalars(select(Alert)).all()) == 1


def test_repayment_is_allocated_to_interest_then_principal_and_releases_utilised_credit(
    db, client, world, approved, bank_headers
):
    paid = datetime.now(UTC) - timedelta(days=30)
    assert disburse(client, bank_headers, approved, world.supplier_account, paid_at=paid).status_code == 201
    r = repay(client, bank_headers, approved, "30000.00", paid + timedelta(days=20))
    assert r.status_code == 201, r.text
    allocation = r.json()
    # 80,000 at 6.5 % for 20 days, ACT/365: 284.93 interest first, the rest to principal
    assert allocation["to_interest"] == "284.93"
    assert allocation["to_penalty_interest"] == "0.00"
    assert allocation["to_principal"] == "29715.07"
    assert line_figures(db, world.line_id)["utilised"] == Decimal("50284.93")
    row = loan(db, approved)
    assert row.outstanding_principal == Decimal("50284.93") and row.state == "disbursed"
    payoff = client.get(f"/v1/order-loans/{approved}", headers=bank_headers).json()["owed"]
    r = repay(client, bank_headers, approved, payoff["total"], datetime.now(UTC), ref="R-2")
    assert r.status_code == 201, r.text
    assert loan(db, approved).state == "repaid"
    figures = line_figures(db, world.line_id)
    assert figures["utilised"] == Decimal("0.00") and figures["reserved"] == Decimal("0.00")
    assert figures["available"] == figures["limit"]


def test_cancelling_an_approved_loan_releases_its_reservation(db, client, world, approved):
    platform = auth(make_api_key(db, "platform"))
    r = client.post(f"/v1/order-loans/{approved}/cancel", headers=platform, json={"reason": "order changed"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"
    assert line_figures(db, world.line_id)["reserved"] == Decimal("0.00")
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "order_loan.cancel")).one()
        assert '"reason":"order changed"' in entry.payload
        assert audit.verify(s).intact


def test_illegal_transitions_are_409_naming_the_allowed_moves(db, client, world, approved, bank_headers):
    platform = auth(make_api_key(db, "platform"))
    assert disburse(client, bank_headers, approved, world.supplier_account).status_code == 201
    r = client.post(f"/v1/order-loans/{approved}/cancel", headers=platform)
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "illegal_transition"
    assert (
        "from disbursed to cancelled" in problem["detail"] and "repay_in_full → repaid" in problem["detail"]
    )
    assert problem["from"] == "disbursed" and problem["to"] == "cancelled"
    # a repayment on an approved, undisbursed loan
    other = make_approved_loan(
        db,
        world.dealer,
        world.bank,
        make_order(db, world.dealer, world.supplier),
        world.line_id,
        amount="1000.00",
    )
    r = repay(client, bank_headers, other, "10.00", datetime.now(UTC))
    assert r.status_code == 409 and r.json()["code"] == "loan_not_outstanding"


def test_a_bank_sees_only_its_own_loans(db, client, world, approved, bank_headers):
    other_bank = make_bank(db, name="Other Bank")
    other = auth(make_api_key(db, "bank", other_bank))
    assert client.get(f"/v1/order-loans/{approved}", headers=bank_headers).status_code == 200
    for response in (
        client.get(f"/v1/order-loans/{approved}", headers=other),
        disburse(client, other, approved, world.supplier_account),
        repay(client, other, approved, "1.00", datetime.now(UTC)),
    ):
        assert response.status_code == 404, response.text
    officer = auth(make_api_key(db, "risk_officer"))
    assert client.get(f"/v1/order-loans/{approved}", headers=officer).status_code == 200
    assert client.get("/v1/order-loans/oln_nope", headers=officer).status_code == 404


def test_the_loan_view_shows_the_fund_usage_trace(db, client, world, approved, bank_headers):
    paid = datetime.now(UTC) - timedelta(days=3)
    assert disburse(client, bank_headers, approved, world.supplier_account, paid_at=paid).status_code == 201
    r = client.post(
        f"/v1/order-loans/{approved}/fund-flows",
        headers=bank_headers,
        json={
            "kind": "supplier_receipt",
            "reference": "F-1",
            "amount": "80000.00",
            "occurred_at": (paid + timedelta(hours=2)).isoformat(),
            "to_account": world.supplier_account,
        },
    )
    assert r.status_code == 201, r.text
    view = client.get(f"/v1/order-loans/{approved}", headers=bank_headers).json()
    flows = [(e["flow"], e.get("amount")) for e in view["fund_usage_trace"]]
    assert flows == [("disbursement", "80000.00"), ("supplier_receipt", "80000.00")]
    assert view["fund_usage_trace"][1]["account"] == "supplier settlement account"
    assert view["owed"]["principal"] == "80000.00"
    assert view["alerts"] == []


def test_a_recall_dated_before_the_disbursement_or_in_the_future_is_refused(
    db, client, world, approved, bank_headers
):
    """A recall cannot make a loan due before its money went out (penalty interest from the first day,
    days past due at once) nor take effect in a future the engine has not reached."""
    paid = datetime.now(UTC) - timedelta(days=10)
    assert disburse(client, bank_headers, approved, world.supplier_account, "50000.00", paid_at=paid).status_code == 201

    def recall(at):
        return client.post(
            f"/v1/order-loans/{approved}/recall",
            headers=bank_headers,
            json={"reason": "fund misuse", "at": at.isoformat()},
        )

    for at, code in (
        (paid - timedelta(days=20), "before_disbursement"),
        (datetime.now(UTC) + timedelta(days=3), "time_in_future"),
    ):
        r = recall(at)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == code and r.json()["errors"][0]["field"] == "at"
    assert loan(db, approved).state == "disbursed"
    r = recall(paid + timedelta(days=5))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "recalled" and body["owed"]["penalty_interest"] != "0.00"
    assert body["due_on"] == (paid + timedelta(days=5)).astimezone(BEIJING).date().isoformat()
    assert line_figures(db, world.line_id)["reserved"] == Decimal("0.00")  # the undisbursed 30,000
