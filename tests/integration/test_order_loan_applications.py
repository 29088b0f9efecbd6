"""POST /v1/order-loans end to end: each application check through HTTP at least once, the decision
recorded like a limit decision, the reservation on approval, referrals to the review queue, and one
loan followed from application to repayment and one to default."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from compliance import audit
from loan_monitoring import jobs
from loan_monitoring.dates import BEIJING
from risk_engine.decisions.models import Decision, ReviewCase
from risk_engine.settings import Settings
from tests.factories import auth, make_api_key, make_bank, make_dealer, make_supplier
from tests.loan_factories import (
    disburse,
    ingest,
    invoice_event,
    line_figures,
    loan,
    loan_world,
    make_order,
    open_line,
)


@pytest.fixture
def world(db, client):
    return loan_world(db, client.app.state.keys)


@pytest.fixture
def platform(db):
    return auth(make_api_key(db, "platform"))


_keys = iter(range(10**6))


def apply(client, headers, world, *, bank=None, order=None, key=None, **overrides):
    body = {
        "dealer_id": world.dealer.id,
        "bank_id": (bank or world.bank).id,
        "order_id": (order or world.order).id,
        "amount": "80000.00",
        "tenor_days": 90,
    }
    body.update(overrides)
    return client.post(
        "/v1/order-loans", headers={**headers, "Idempotency-Key": key or f"apply-{next(_keys)}"}, json=body
    )


def decided(response, outcome):
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["outcome"] == outcome, body["failed_checks"]
    return body


def check(body, name):
    return next(c for c in body["checks"] if c["name"] == name)


def test_a_clean_application_is_approved_reserving_the_amount_and_recorded_as_a_decision(
    db, client, world, platform
):
    body = decided(apply(client, platform, world), "approve")
    assert body["state"] == "approved" and body["reserved"] == "80000.00" and body["failed_checks"] == []
    assert {c["status"] for c in body["checks"]} == {"passed", "skipped"}  # no invoice yet: skipped, says why
    assert check(body, "apr_within_cap")["evidence"]["apr_cap"] == body["apr_cap"]
    assert line_figures(db, world.line_id)["reserved"] == Decimal("80000.00")
    with db.session() as s:
        decision = s.get(Decision, body["decision_id"])
        assert decision.kind == "order_loan" and decision.outcome == "approve" and decision.audit_seq
        assert audit.verify(s).intact
    view = client.get(f"/v1/order-loans/{body['loan_id']}", headers=platform).json()
    assert view["state"] == "approved" and view["decision_id"] == body["decision_id"]


def test_the_idempotency_key_is_required_and_a_retry_replays_the_decision(db, client, world, platform):
    body = {
        "dealer_id": world.dealer.id,
        "bank_id": world.bank.id,
        "order_id": world.order.id,
        "amount": "80000.00",
        "tenor_days": 90,
    }
    r = client.post("/v1/order-loans", headers=platform, json=body)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_required"
    first = apply(client, platform, world, key="same")
    again = apply(client, platform, world, key="same")
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert line_figures(db, world.line_id)["reserved"] == Decimal("80000.00")


def test_duplicate_financing_of_an_order_across_two_banks_is_declined(db, client, world, platform):
    other_bank = make_bank(db, name="Second Bank")
    open_line(db, world.dealer, other_bank)
    decided(apply(client, platform, world), "approve")
    body = decided(apply(client, platform, world, bank=other_bank), "decline")
    duplicate = check(body, "order_not_already_financed")
    assert duplicate["status"] == "failed" and duplicate["field"] == "order_id"
    assert duplicate["evidence"]["at_other_banks"] == 1 and duplicate["evidence"]["at_this_bank"] == []
    assert body["state"] == "declined" and body["reserved"] == "0.00"


def test_duplicate_financing_of_an_invoice_is_declined(db, client, world, platform):
    ingest(db, invoice_event(world.order, world.dealer, world.supplier, number="77770001"))
    other_order = make_order(
        db, world.dealer, world.supplier, placed_at=datetime.now(UTC) - timedelta(days=120)
    )
    decided(apply(client, platform, world, invoice_code="044031900111", invoice_number="77770001"), "approve")
    body = decided(
        apply(
            client, platform, world, order=other_order, invoice_code="044031900111", invoice_number="77770001"
        ),
        "decline",
    )
    assert check(body, "invoice_not_already_financed")["status"] == "failed"


def test_an_invoice_of_an_order_financed_without_naming_it_is_declined_as_already_financed(
    db, client, world, platform
):
    """The first loan financed the order before its invoice existed; a second loan, on another order, that
    names that invoice finances the same trade again (一女多嫁)."""
    decided(apply(client, platform, world), "approve")
    ingest(db, invoice_event(world.order, world.dealer, world.supplier, number="77770002"))
    other_order = make_order(
        db, world.dealer, world.supplier, placed_at=datetime.now(UTC) - timedelta(days=120)
    )
    body = decided(
        apply(
            client, platform, world, order=other_order, invoice_code="044031900111", invoice_number="77770002"
        ),
        "decline",
    )
    assert check(body, "invoice_not_already_financed")["status"] == "failed"
    assert check(body, "order_not_already_financed")["status"] == "passed"


def test_a_referral_naming_an_invoice_whose_order_was_financed_meanwhile_cannot_be_approved(
    db, client, world, platform
):
    ingest(db, invoice_event(world.order, world.dealer, world.supplier, number="77770003"))
    other_order = make_order(
        db, world.dealer, world.supplier, placed_at=datetime.now(UTC) - timedelta(days=120)
    )
    referred = decided(  # the invoice bills another order: referred
        apply(
            client, platform, world, order=other_order, invoice_code="044031900111", invoice_number="77770003"
        ),
        "refer",
    )
    decided(apply(client, platform, world), "approve")  # meanwhile a loan on the invoice's own order
    officer = auth(make_api_key(db, "risk_officer"))
    r = client.post(
        f"/v1/reviews/{referred['review_case_id']}/resolution",
        headers=officer,
        json={"resolution": "approve", "reason": "the invoice was attached to the wrong order"},
    )
    assert r.status_code == 409 and r.json()["code"] == "duplicate_financing", r.text
    assert loan(db, referred["loan_id"]).state == "applied"


def test_an_amount_above_the_loan_to_order_ratio_is_declined(db, client, world, platform):
    body = decided(apply(client, platform, world, amount="80000.01"), "decline")
    failed = check(body, "amount_within_loan_to_order_ratio")
    assert failed["field"] == "amount" and failed["evidence"]["max_amount"] == "80000.00"
    assert "80.00%" in failed["reason_en"]


def test_a_supplier_off_the_whitelist_is_declined(db, client, world, platform):
    supplier = make_supplier(db, keys=client.app.state.keys, whitelisted=False)
    order = make_order(db, world.dealer, supplier, placed_at=datetime.now(UTC) - timedelta(days=10))
    body = decided(apply(client, platform, world, order=order), "decline")
    assert body["failed_checks"] == ["supplier_whitelisted"]


def test_a_tenor_outside_the_product_range_is_declined(db, client, world, platform):
    body = decided(apply(client, platform, world, tenor_days=181), "decline")
    assert body["failed_checks"] == ["tenor_within_product_range"]
    assert check(body, "tenor_within_product_range")["field"] == "tenor_days"


def test_an_all_in_apr_above_four_times_the_lpr_is_declined(db, client, platform):
    world = loan_world(db, client.app.state.keys, apr=Decimal("0.1300"))
    body = decided(apply(client, platform, world), "decline")
    capped = check(body, "apr_within_cap")
    assert capped["status"] == "failed" and capped["field"] == "apr"
    assert Decimal(capped["evidence"]["apr_cap"]) == 4 * Decimal(capped["evidence"]["lpr"])
    # fees count too: 6.5 % plus 2,000 of fees on 80,000 for 90 days is ~16.6 %
    world_ok = loan_world(db, client.app.state.keys)
    body = decided(apply(client, platform, world_ok, upfront_fees="2000.00"), "decline")
    assert body["failed_checks"] == ["apr_within_cap"]


def test_an_amount_beyond_the_available_credit_is_declined(db, client, platform):
    world = loan_world(db, client.app.state.keys, limit="50000.00")
    body = decided(apply(client, platform, world), "decline")
    assert body["failed_checks"] == ["credit_line_has_available_credit"]
    assert check(body, "credit_line_has_available_credit")["evidence"]["available"] == "50000.00"
    assert line_figures(db, world.line_id)["reserved"] == Decimal("0.00")


def test_an_unknown_order_is_declined_saying_so(db, client, world, platform):
    body = decided(apply(client, platform, world, order_id="ord_missing"), "decline")
    assert "order_exists" in body["failed_checks"]


def test_a_supplier_sharing_an_owner_with_the_dealer_is_declined(db, client, world, platform):
    ingest(
        db,
        {
            "type": "related_party",
            "external_id": "REL-1",
            "dealer": world.dealer.id,
            "supplier": world.supplier.id,
            "kind": "shared_owner",
            "evidence": "registry: same shareholder",
        },
    )
    body = decided(apply(client, platform, world), "decline")
    assert body["failed_checks"] == ["supplier_not_related_to_dealer"]


def test_a_supplier_paid_into_the_dealers_own_account_is_declined_though_the_platform_never_said(
    db, client, platform
):
    """The engine holds both settlement accounts (encrypted, with blind indexes): the same account at both
    ends of the trade is a strong tie, reported or not."""
    world = loan_world(db, client.app.state.keys)
    insider = make_dealer(db, keys=client.app.state.keys, account_number=world.supplier_account)
    open_line(db, insider, world.bank)
    order = make_order(db, insider, world.supplier, placed_at=datetime.now(UTC) - timedelta(days=120))
    body = decided(apply(client, platform, world, order=order, dealer_id=insider.id), "decline")
    assert body["failed_checks"] == ["supplier_not_related_to_dealer"]
    assert decided(apply(client, platform, world), "approve")  # the supplier's other buyer is not tied to it


def test_a_weak_tie_is_referred_to_the_review_queue_and_the_officers_approval_reserves(
    db, client, world, platform
):
    ingest(
        db,
        {"type": "related_party", "external_id": "REL-2", "dealer": world.dealer.id,
         "supplier": world.supplier.id, "kind": "address"},
    )  # fmt: skip
    body = decided(apply(client, platform, world), "refer")
    assert body["state"] == "applied" and body["review_case_id"] and body["reserved"] == "0.00"
    with db.session() as s:
        case = s.get(ReviewCase, body["review_case_id"])
        assert case.status == "open" and case.decision_id == body["decision_id"]
    officer = auth(make_api_key(db, "risk_officer"))
    r = client.post(
        f"/v1/reviews/{body['review_case_id']}/resolution",
        headers=officer,
        json={"resolution": "approve", "reason": "same industrial park, no common control"},
    )
    assert r.status_code == 200, r.text
    assert loan(db, body["loan_id"]).state == "approved"
    assert line_figures(db, world.line_id)["reserved"] == Decimal("80000.00")


def test_an_officer_declining_a_referral_declines_the_loan(db, client, world, platform):
    ingest(
        db,
        {"type": "related_party", "external_id": "REL-3", "dealer": world.dealer.id,
         "supplier": world.supplier.id, "kind": "address"},
    )  # fmt: skip
    body = decided(apply(client, platform, world), "refer")
    officer = auth(make_api_key(db, "risk_officer"))
    r = client.post(
        f"/v1/reviews/{body['review_case_id']}/resolution",
        headers=officer,
        json={"resolution": "decline", "reason": "the supplier shares the dealer's office"},
    )
    assert r.status_code == 200, r.text
    assert loan(db, body["loan_id"]).state == "declined"
    assert line_figures(db, world.line_id)["reserved"] == Decimal("0.00")


def test_an_invoice_contradicting_the_order_is_referred(db, client, world, platform):
    ingest(
        db,
        invoice_event(
            world.order, world.dealer, world.supplier, amount="95000.00", tax="12350.00", number="55550001"
        ),
    )
    body = decided(
        apply(client, platform, world, invoice_code="044031900111", invoice_number="55550001"), "refer"
    )
    contradiction = check(body, "invoice_matches_order")
    assert contradiction["evidence"]["contradictions"][0]["field"] == "amount"


def beijing(day, hour=0, minute=30):
    return datetime.combine(day, time(hour, minute), BEIJING).astimezone(UTC)


def test_a_payment_dated_before_the_approval_is_refused_even_after_a_backdated_application(
    db, client, world, platform
):
    bank = auth(make_api_key(db, "bank", world.bank))
    backdated = (datetime.now(UTC) - timedelta(days=20)).isoformat()
    loan_id = decided(apply(client, platform, world, applied_at=backdated), "approve")["loan_id"]
    r = client.post(f"/v1/order-loans/{loan_id}/disbursements", headers=bank, json={
        "reference": "PAY-EARLY", "amount": "80000.00", "payee_account": world.supplier_account,
        "paid_at": (datetime.now(UTC) - timedelta(days=10)).isoformat()})
    assert r.status_code == 422 and r.json()["code"] == "before_approval", r.text
    assert r.json()["errors"][0]["field"] == "paid_at"
    assert line_figures(db, world.line_id)["utilised"] == Decimal("0.00")


def test_one_loan_from_application_to_repayment(db, client, world, platform):
    bank = auth(make_api_key(db, "bank", world.bank))
    loan_id = decided(apply(client, platform, world, tenor_days=30), "approve")["loan_id"]
    disburse(client, bank, loan_id, amount="80000.00", payee_account=world.supplier_account,
             paid_at=datetime.now(UTC), reference="PAY-1")
    owed = client.get(f"/v1/order-loans/{loan_id}", headers=bank).json()["owed"]
    r = client.post(
        f"/v1/order-loans/{loan_id}/repayments",
        headers=bank,
        json={"reference": "RP-1", "amount": owed["total"], "paid_at": datetime.now(UTC).isoformat()},
    )
    assert r.status_code == 201, r.text
    view = client.get(f"/v1/order-loans/{loan_id}", headers=bank).json()
    assert view["state"] == "repaid" and view["outstanding_principal"] == "0.00"
    figures = line_figures(db, world.line_id)
    assert figures["reserved"] == figures["utilised"] == Decimal("0.00")
    with db.session() as s:
        assert audit.verify(s).intact


def test_one_loan_from_application_to_default(db, client, world, platform):
    bank = auth(make_api_key(db, "bank", world.bank))
    loan_id = decided(apply(client, platform, world, tenor_days=30, amount="60000.00"), "approve")["loan_id"]
    r = client.post(
        f"/v1/order-loans/{loan_id}/disbursements",
        headers=bank,
        json={
            "reference": "PAY-1",
            "amount": "50000.00",
            "payee_account": world.supplier_account,
            "paid_at": datetime.now(UTC).isoformat(),
        },
    )
    assert r.status_code == 201
    due = loan(db, loan_id).due_on
    settings = Settings(env="test")
    jobs.daily_delinquency(db, as_of=beijing(due + timedelta(days=1)), settings=settings)
    assert loan(db, loan_id).state == "overdue"
    jobs.daily_delinquency(db, as_of=beijing(due + timedelta(days=91)), settings=settings)
    row = loan(db, loan_id)
    assert row.state == "defaulted" and row.bucket == "90+"
    # the undisbursed 10,000 went back to the line when the loan defaulted; the 50,000 stays utilised
    figures = line_figures(db, world.line_id)
    assert figures["reserved"] == Decimal("0.00") and figures["utilised"] == Decimal("50000.00")


def test_the_bank_polls_and_proves_the_resolution_of_its_order_loan_referral(db, client, world, platform):
    ingest(
        db,
        {"type": "related_party", "external_id": "REL-FEED", "dealer": world.dealer.id,
         "supplier": world.supplier.id, "kind": "address"},
    )  # fmt: skip
    body = decided(apply(client, platform, world), "refer")
    officer = auth(make_api_key(db, "risk_officer"))
    r = client.post(f"/v1/reviews/{body['review_case_id']}/resolution", headers=officer,
                    json={"resolution": "approve", "reason": "same industrial park, no common control"})
    assert r.status_code == 200, r.text
    bank_key = auth(make_api_key(db, "bank", bank=world.bank))
    (seen,) = client.get("/v1/reviews/resolutions", headers=bank_key).json()
    assert (seen["decision_id"], seen["kind"], seen["resolution"], seen["limit"]) == (
        body["decision_id"], "order_loan", "approve", "80000.00")
    with db.session() as s:
        decision_seq = s.get(Decision, body["decision_id"]).audit_seq
    for seq in (decision_seq, seen["audit_seq"]):
        proof = client.get(f"/v1/audit/proofs/{seq}", headers=bank_key)
        assert proof.status_code == 200 and proof.json()["tree_size"] >= seq, proof.text
    stranger = auth(make_api_key(db, "bank", bank=make_bank(db)))
    assert client.get("/v1/reviews/resolutions", headers=stranger).json() == []
    assert client.get(f"/v1/audit/proofs/{seen['audit_seq']}", headers=stranger).status_code == 404
