"""The review queue over HTTP: referred decisions become cases; an officer resolves one with a reason; an
override above the threshold needs a second officer, never the maker."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from compliance.models import AuditEntry
from limits import ledger
from risk_engine.decisions.models import ReviewCase
from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import auth, make_api_key, make_bank, make_dealer

D = Decimal


@pytest.fixture
def features():
    return DictFeatureSource()


@pytest.fixture
def wired(client, features):
    client.app.state.scorer = tiny_xgb_scorer()
    client.app.state.feature_source = features
    return client


@pytest.fixture
def officers(db):
    return auth(make_api_key(db, "risk_officer", name="officer A")), auth(
        make_api_key(db, "risk_officer", name="officer B")
    )


def referred_case(client, db, features, **dealer_features) -> tuple[dict, object, object]:
    bank, dealer = make_bank(db, max_line_amount=D("3000000.00")), make_dealer(db)
    # REF_DPD_1_30; purchases that put the proposed limit under the second-approval threshold
    features.set(
        dealer.id, **({"current_days_past_due": 10, "purchase_amount_12m": 2_000_000.0} | dealer_features)
    )
    r = client.post(
        "/v1/credit-limit-requests",
        json={"dealer_id": dealer.id, "bank_id": bank.id},
        headers=auth(make_api_key(db, "platform")),
    )
    decision = r.json()
    assert decision["outcome"] == "refer", decision
    return decision, dealer, bank


def case_of(client, officer, decision_id) -> dict:
    cases = client.get("/v1/reviews", params={"status": "open"}, headers=officer).json()
    return next(c for c in cases if c["decision_id"] == decision_id)


def actions(db, case_id) -> list[str]:
    with db.session() as s:
        return list(
            s.scalars(
                select(AuditEntry.action).where(AuditEntry.subject_id == case_id).order_by(AuditEntry.seq)
            )
        )


def test_an_officer_approves_a_referred_decision_and_the_line_opens_with_the_proposed_limit(
    wired, db, features, officers
):
    a, _ = officers
    decision, dealer, bank = referred_case(wired, db, features)
    case = case_of(wired, a, decision["id"])
    assert case["proposed_limit"] == decision["limit"]
    r = wired.post(f"/v1/reviews/{case['id']}/assignment", headers=a)
    assert r.status_code == 200 and r.json()["status"] == "assigned"
    mine = wired.get("/v1/reviews", params={"assignee": "me"}, headers=a).json()
    assert [c["id"] for c in mine] == [case["id"]]
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "approve", "reason": "one late invoice, paid since; trade is steady"},
    )
    assert r.status_code == 200, r.text
    resolved = r.json()
    assert (resolved["status"], resolved["resolution"], resolved["resolved_limit"]) == (
        "resolved",
        "approve",
        decision["limit"],
    )
    with db.session() as s:
        line = ledger.find_line(s, dealer.id, bank.id)
        assert str(line.limit) == decision["limit"] and line.id == resolved["line_id"]
    assert actions(db, case["id"]) == ["review.opened", "review.assigned", "review.resolved"]
    full = wired.get(f"/v1/decisions/{decision['id']}", headers=a).json()
    assert (
        full["review"]["resolution"] == "approve" and full["outcome"] == "refer"
    )  # the record never changes


def test_a_resolution_needs_a_reason(wired, db, features, officers):
    a, _ = officers
    decision, _, _ = referred_case(wired, db, features)
    case = case_of(wired, a, decision["id"])
    for body in ({"resolution": "decline"}, {"resolution": "decline", "reason": "   "}):
        r = wired.post(f"/v1/reviews/{case['id']}/resolution", headers=a, json=body)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution", headers=a, json={"resolution": "adjust", "reason": "x"}
    )
    assert r.status_code == 422 and "limit" in r.text


def test_a_decline_closes_the_case_and_grants_nothing(wired, db, features, officers):
    a, _ = officers
    decision, dealer, bank = referred_case(wired, db, features)
    case = case_of(wired, a, decision["id"])
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "decline", "reason": "the overdue bill is disputed"},
    )
    assert r.json()["status"] == "resolved" and r.json()["resolution"] == "decline"
    with db.session() as s:
        assert ledger.find_line(s, dealer.id, bank.id) is None


def test_only_the_assignee_resolves_an_assigned_case(wired, db, features, officers):
    a, b = officers
    decision, _, _ = referred_case(wired, db, features)
    case = case_of(wired, a, decision["id"])
    wired.post(f"/v1/reviews/{case['id']}/assignment", headers=a)
    r = wired.post(f"/v1/reviews/{case['id']}/assignment", headers=b)
    assert r.status_code == 409 and r.json()["code"] == "already_assigned"
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution", headers=b, json={"resolution": "decline", "reason": "no"}
    )
    assert r.status_code == 403 and r.json()["code"] == "not_assignee"


def test_an_override_above_the_threshold_needs_a_second_officer_who_is_not_the_maker(
    wired, db, features, officers
):
    a, b = officers
    decision, dealer, bank = referred_case(wired, db, features)
    case = case_of(wired, a, decision["id"])
    above = "750000.00"  # RISK_OVERRIDE_SECOND_APPROVAL_ABOVE is 500000.00
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": above, "reason": "seasonal stock-up, guaranteed"},
    )
    assert r.status_code == 200 and r.json()["status"] == "awaiting_second_approval"
    assert r.json()["pending"]["limit"] == above
    with db.session() as s:
        assert ledger.find_line(s, dealer.id, bank.id) is None  # nothing granted yet
    r = wired.post(
        f"/v1/reviews/{case['id']}/second-approval",
        headers=a,
        json={"decision": "approve", "reason": "I am sure"},
    )
    assert r.status_code == 403 and r.json()["code"] == "maker_checker"
    r = wired.post(
        f"/v1/reviews/{case['id']}/second-approval",
        headers=b,
        json={"decision": "approve", "reason": "checked the guarantee letter"},
    )
    assert r.status_code == 200, r.text
    resolved = r.json()
    assert (resolved["status"], resolved["resolved_limit"]) == ("resolved", above)
    assert resolved["resolved_by"] != resolved["second_approver"]
    with db.session() as s:
        assert ledger.find_line(s, dealer.id, bank.id).limit == D(above)
        case_row = s.get(ReviewCase, case["id"])
        assert case_row.proposed_by != case_row.second_approver
    assert actions(db, case["id"]) == ["review.opened", "review.override_proposed", "review.resolved"]


def test_a_rejected_override_goes_back_to_its_maker(wired, db, features, officers):
    a, b = officers
    decision, _, _ = referred_case(wired, db, features)
    case = case_of(wired, a, decision["id"])
    wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": "900000.00", "reason": "big season"},
    )
    r = wired.post(
        f"/v1/reviews/{case['id']}/second-approval",
        headers=b,
        json={"decision": "reject", "reason": "purchases do not support it"},
    )
    back = r.json()
    assert (back["status"], back["pending"]) == ("assigned", None)
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "review.override_rejected")).one()
        assert json.loads(entry.payload)["rejected_limit"] == "900000.00"
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": "400000.00", "reason": "within threshold"},
    )
    assert r.json()["status"] == "resolved" and r.json()["resolved_limit"] == "400000.00"


def test_an_override_never_breaks_the_bank_products_cap(wired, db, features, officers):
    a, _ = officers
    decision, _, _ = referred_case(wired, db, features)
    case = case_of(wired, a, decision["id"])
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": "3000000.01", "reason": "x"},
    )
    assert r.status_code == 200  # above the threshold: the check happens when it takes effect
    r = wired.post(
        f"/v1/reviews/{case['id']}/second-approval",
        headers=officers[1],
        json={"decision": "approve", "reason": "ok"},
    )
    assert r.status_code == 409 and r.json()["code"] == "above_product_cap"


def test_the_review_queue_is_for_risk_officers(wired, db):
    for role in ("platform", "bank"):
        bank = make_bank(db) if role == "bank" else None
        r = wired.get("/v1/reviews", headers=auth(make_api_key(db, role, bank=bank)))
        assert r.status_code == 403


def test_an_order_loan_referral_is_carried_out_by_the_loan_domain_not_as_a_credit_line(wired, db, officers):
    from tests.loan_factories import ingest, line_figures, loan, loan_world

    a, _ = officers
    world = loan_world(db, wired.app.state.keys)
    ingest(
        db,
        {
            "type": "related_party",
            "external_id": "REL-R1",
            "dealer": world.dealer.id,
            "supplier": world.supplier.id,
            "kind": "address",
        },
    )  # a weak tie: referred
    r = wired.post(
        "/v1/order-loans",
        headers=auth(make_api_key(db, "platform")) | {"Idempotency-Key": "ol-1"},
        json={
            "dealer_id": world.dealer.id,
            "bank_id": world.bank.id,
            "order_id": world.order.id,
            "amount": "80000.00",
            "tenor_days": 90,
        },
    )
    application = r.json()
    assert application["outcome"] == "refer", application
    limit_before = line_figures(db, world.line_id)["limit"]
    case_id = application["review_case_id"]
    r = wired.post(
        f"/v1/reviews/{case_id}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": "1.00", "reason": "x"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resolution"
    r = wired.post(
        f"/v1/reviews/{case_id}/resolution",
        headers=a,
        json={"resolution": "approve", "reason": "same industrial park, no common control"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved" and r.json()["line_id"] is None
    assert loan(db, application["loan_id"]).state == "approved"
    figures = line_figures(db, world.line_id)
    assert figures["reserved"] == D("80000.00") and figures["limit"] == limit_before


def test_an_override_never_keeps_more_guarantee_than_the_guarantor_may_still_legally_give(
    wired, db, features, officers
):
    """The dealer's 150k line carries 75k of guarantee (50 % coverage) under a 100k single-client cap (10 % of
    1M). The guarantor's net assets then fall to 600k: the cap is 60k, a 120k line. Keeping 150k is an
    override the guarantor's capacity does not allow."""
    from risk_engine.parties.models import Guarantor
    from tests.factories import make_guarantor
    from tests.loan_factories import open_line

    a, _ = officers
    guarantor = make_guarantor(db, net_assets=D("1000000.00"), coverage_ratio=D("0.50"))
    bank, dealer = make_bank(db), make_dealer(db, guarantor_id=guarantor.id)
    open_line(db, dealer, bank, "150000.00")
    features.set(dealer.id, current_days_past_due=10)  # REF_DPD_1_30
    r = wired.post(
        "/v1/credit-limit-requests",
        json={"dealer_id": dealer.id, "bank_id": bank.id},
        headers=auth(make_api_key(db, "platform")),
    )
    decision = r.json()
    assert decision["outcome"] == "refer", decision
    with db.unit_of_work() as s:
        s.get(Guarantor, guarantor.id).net_assets = D("600000.00")
    case = case_of(wired, a, decision["id"])
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": "150000.00", "reason": "keep the line as it is"},
    )
    assert r.status_code == 409 and r.json()["code"] == "guarantor_over_capacity", r.text
    assert r.json()["guarantor_capacity"] == "120000.00"
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": "120000.00", "reason": "cut to the guarantor's legal share"},
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved", r.text
    with db.session() as s:
        assert ledger.find_line(s, dealer.id, bank.id).limit == D("120000.00")
