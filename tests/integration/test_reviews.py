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
        assert [e["field"] for e in r.json()["errors"]] == ["body.reason"]
    for body in ({"resolution": "adjust", "reason": "x"}, {"resolution": "approve", "limit": "1.00", "reason": "x"}):
        r = wired.post(f"/v1/reviews/{case['id']}/resolution", headers=a, json=body)
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.limit"]


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


def referred_order_loan(wired, db):
    """A loan world whose order-loan application is referred (a weak tie to the supplier: a shared address)."""
    from tests.loan_factories import ingest, loan_world

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
    )
    application = wired.post(
        "/v1/order-loans",
        headers=auth(make_api_key(db, "platform")) | {"Idempotency-Key": "ol-1"},
        json={
            "dealer_id": world.dealer.id,
            "bank_id": world.bank.id,
            "order_id": world.order.id,
            "amount": "80000.00",
            "tenor_days": 90,
        },
    ).json()
    assert application["outcome"] == "refer", application
    return world, application


def test_an_order_loan_referral_is_carried_out_by_the_loan_domain_not_as_a_credit_line(wired, db, officers):
    from tests.loan_factories import line_figures, loan

    a, _ = officers
    world, application = referred_order_loan(wired, db)
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


def decide_again(client, db, dealer, bank) -> dict:
    r = client.post(
        "/v1/credit-limit-requests",
        json={"dealer_id": dealer.id, "bank_id": bank.id},
        headers=auth(make_api_key(db, "platform")),
    )
    assert r.status_code == 201, r.text
    return r.json()


def superseded_entries(db, case_id) -> list[tuple[int, dict]]:
    with db.session() as s:
        return [
            (seq, json.loads(payload))
            for seq, payload in s.execute(
                select(AuditEntry.seq, AuditEntry.payload)
                .where(AuditEntry.subject_id == case_id, AuditEntry.action == "review.superseded")
                .order_by(AuditEntry.seq)
            )
        ]


def test_a_newer_referral_supersedes_the_open_case_of_the_earlier_one_and_opens_its_own(
    wired, db, features, officers
):
    a, _ = officers
    first, dealer, bank = referred_case(wired, db, features)
    old = case_of(wired, a, first["id"])
    second = decide_again(wired, db, dealer, bank)
    assert second["outcome"] == "refer" and second["review"]["status"] == "open"
    closed = wired.get("/v1/reviews", params={"status": "superseded"}, headers=a).json()
    assert [(c["id"], c["superseded_by"]) for c in closed] == [(old["id"], second["id"])]
    assert [c["decision_id"] for c in wired.get("/v1/reviews", params={"status": "open"}, headers=a).json()] == [
        second["id"]
    ]
    assert wired.get(f"/v1/decisions/{first['id']}", headers=a).json()["review"]["status"] == "superseded"
    assert actions(db, old["id"]) == ["review.opened", "review.superseded"]
    [(seq, payload)] = superseded_entries(db, old["id"])
    assert payload["superseded_by"] == second["id"] and payload["decision_id"] == first["id"]
    assert payload["previous_status"] == "open"
    # recorded with the newer decision, between its entry and its own case's
    with db.session() as s:
        decided, opened = (
            s.scalars(select(AuditEntry.seq).where(AuditEntry.subject_id == subject, AuditEntry.action == action))
            .one()
            for subject, action in ((second["id"], "decision.credit_limit"), (second["review"]["id"], "review.opened"))
        )
    assert decided < seq < opened


def test_an_officer_can_no_longer_approve_the_outdated_limit_once_a_newer_decision_approved_a_line(
    wired, db, features, officers
):
    a, _ = officers
    first, dealer, bank = referred_case(wired, db, features)
    old = case_of(wired, a, first["id"])
    wired.post(f"/v1/reviews/{old['id']}/assignment", headers=a)
    features.set(dealer.id, current_days_past_due=0, purchase_amount_12m=600_000.0)  # paid up: approved
    second = decide_again(wired, db, dealer, bank)
    assert second["outcome"] == "approve" and second["review"] is None, second
    r = wired.post(
        f"/v1/reviews/{old['id']}/resolution",
        headers=a,
        json={"resolution": "approve", "reason": "the old proposal looked fine"},
    )
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "case_superseded" and r.json()["superseded_by"] == second["id"], r.text
    with db.session() as s:
        line = ledger.find_line(s, dealer.id, bank.id)
        assert str(line.limit) == second["limit"] and line.grade == second["grade"]
    assert superseded_entries(db, old["id"])[0][1]["previous_status"] == "assigned"
    assert actions(db, old["id"])[-1] == "review.superseded"  # the refused attempt left no trace


def test_a_pending_override_dies_with_its_superseded_case_and_the_checker_cannot_approve_it(
    wired, db, features, officers
):
    a, b = officers
    first, dealer, bank = referred_case(wired, db, features)
    old = case_of(wired, a, first["id"])
    r = wired.post(
        f"/v1/reviews/{old['id']}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": "750000.00", "reason": "seasonal stock-up"},
    )
    assert r.json()["status"] == "awaiting_second_approval"
    second = decide_again(wired, db, dealer, bank)
    view = wired.get(f"/v1/reviews/{old['id']}", headers=b).json()
    assert (view["status"], view["pending"], view["superseded_by"]) == ("superseded", None, second["id"])
    [(_, payload)] = superseded_entries(db, old["id"])
    assert payload["previous_status"] == "awaiting_second_approval"
    assert payload["pending"]["limit"] == "750000.00" and payload["pending"]["resolution"] == "adjust"
    for path, who, body in (
        ("second-approval", b, {"decision": "approve", "reason": "checked"}),
        ("resolution", a, {"resolution": "decline", "reason": "no"}),
        ("assignment", b, None),
    ):
        r = wired.post(f"/v1/reviews/{old['id']}/{path}", headers=who, json=body)
        assert r.status_code == 409 and r.json()["code"] == "case_superseded", (path, r.text)
    with db.session() as s:
        assert ledger.find_line(s, dealer.id, bank.id) is None


def test_a_decision_for_another_bank_leaves_the_dealers_case_open(wired, db, features, officers):
    a, _ = officers
    first, dealer, _ = referred_case(wired, db, features)
    other = make_bank(db, max_line_amount=D("3000000.00"))
    decide_again(wired, db, dealer, other)
    assert case_of(wired, a, first["id"])["status"] == "open"


def test_an_order_loan_referral_is_not_superseded_by_a_credit_limit_decision(wired, db, features, officers):
    a, _ = officers
    world, application = referred_order_loan(wired, db)
    decide_again(wired, db, world.dealer, world.bank)
    view = wired.get(f"/v1/reviews/{application['review_case_id']}", headers=a).json()
    assert view["status"] == "open" and view["superseded_by"] is None


def test_an_override_never_grants_a_line_whose_guarantee_has_expired(wired, db, features, officers):
    """The engine gives nothing for an expired guarantee (it backs nothing); an officer may not either. The
    case was referred while the guarantee stood; it expired before the officer got to it."""
    from datetime import date

    from risk_engine.parties.models import Guarantor
    from tests.factories import make_guarantor

    a, b = officers
    guarantor = make_guarantor(db, net_assets=D("10000000.00"), coverage_ratio=D("0.50"))
    bank, dealer = make_bank(db, max_line_amount=D("3000000.00")), make_dealer(db, guarantor_id=guarantor.id)
    features.set(dealer.id, current_days_past_due=10, purchase_amount_12m=2_000_000.0)  # REF_DPD_1_30
    decision = decide_again(wired, db, dealer, bank)
    assert decision["outcome"] == "refer" and D(decision["limit"]) > 0, decision
    with db.unit_of_work() as s:
        s.get(Guarantor, guarantor.id).guarantee_expires_on = date(2020, 1, 1)
    case = case_of(wired, a, decision["id"])
    for body in (
        {"resolution": "approve", "reason": "the proposal stands"},
        {"resolution": "adjust", "limit": "100000.00", "reason": "a small line will do"},
    ):
        r = wired.post(f"/v1/reviews/{case['id']}/resolution", headers=a, json=body)
        assert r.status_code == 409 and r.json()["code"] == "guarantee_expired", r.text
        assert r.json()["guarantee_expires_on"] == "2020-01-01"
    # above the threshold the checker's approval is where it would take effect: refused there too
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "adjust", "limit": "750000.00", "reason": "the guarantor will renew"},
    )
    assert r.json()["status"] == "awaiting_second_approval"
    r = wired.post(
        f"/v1/reviews/{case['id']}/second-approval", headers=b, json={"decision": "approve", "reason": "ok"}
    )
    assert r.status_code == 409 and r.json()["code"] == "guarantee_expired", r.text
    with db.session() as s:
        assert ledger.find_line(s, dealer.id, bank.id) is None
    r = wired.post(
        f"/v1/reviews/{case['id']}/second-approval", headers=b, json={"decision": "reject", "reason": "expired"}
    )
    r = wired.post(
        f"/v1/reviews/{case['id']}/resolution",
        headers=a,
        json={"resolution": "decline", "reason": "the guarantee has expired"},
    )
    assert r.status_code == 200 and r.json()["resolution"] == "decline"


def test_an_approval_racing_a_newer_decision_on_postgresql_either_lands_first_or_finds_the_case_superseded(
    pg_db, features
):
    """Both take the guarantor and bank-quota locks before the case's: no deadlock, and never the outdated
    limit granted after the newer decision."""
    import threading
    from functools import partial

    from risk_engine.decisions import reviews, service
    from risk_engine.decisions.schemas import CreditLimitRequestIn
    from risk_engine.errors import IllegalTransition

    def decide(dealer, bank):
        with pg_db.unit_of_work() as s:
            return service.decide_credit_limit(
                s,
                CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id),
                scorer=tiny_xgb_scorer(),
                features=features,
                actor="platform:test",
            )

    def approve(case_id):
        with pg_db.unit_of_work() as s:
            return reviews.resolve(
                s,
                case_id,
                resolution="approve",
                reason="the proposal stands",
                officer="risk_officer:a",
                second_approval_above=D("500000.00"),
                line_term_days=365,
            ).status

    def race(work: dict) -> dict:
        start, outcomes = threading.Barrier(len(work)), {}

        def run(name):
            start.wait()
            try:
                outcomes[name] = work[name]()
            except BaseException as exc:  # noqa: BLE001 - judged below
                outcomes[name] = exc

        threads = [threading.Thread(target=run, args=(name,)) for name in work]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        return outcomes

    for _ in range(4):
        bank, dealer = make_bank(pg_db, max_line_amount=D("3000000.00")), make_dealer(pg_db)
        features.set(dealer.id, current_days_past_due=10, purchase_amount_12m=2_000_000.0)
        first = decide(dealer, bank)
        with pg_db.session() as s:
            case_id = s.scalars(select(ReviewCase.id).where(ReviewCase.decision_id == first.id)).one()
        outcomes = race({"approve": partial(approve, case_id), "decide": partial(decide, dealer, bank)})
        newer = outcomes["decide"]
        assert not isinstance(newer, BaseException), newer
        with pg_db.session() as s:
            case = s.get(ReviewCase, case_id)
            resolved_seq = s.scalar(
                select(AuditEntry.seq).where(
                    AuditEntry.subject_id == case_id, AuditEntry.action == "review.resolved"
                )
            )
        if isinstance(outcomes["approve"], IllegalTransition):
            assert outcomes["approve"].code == "case_superseded"
            assert (case.status, case.superseded_by) == ("superseded", newer.id)
        else:
            assert outcomes["approve"] == "resolved" and case.status == "resolved"
            assert resolved_seq < newer.audit_seq  # the approval came first; the newer decision stands


# --------------------------------------------------------------------------- the banks' resolution feed


def test_a_bank_polls_the_resolutions_of_its_referrals_and_proves_each_one_in_the_signed_log(
    wired, db, features, officers
):
    """A bank read "refer" in its decision feed; what the officers then decided reaches it in commit order,
    with the audit entry whole, which it checks against an inclusion proof under a signed checkpoint."""
    from datetime import datetime

    from compliance import merkle
    from compliance.audit import entry_hash

    a, b = officers
    decision, dealer, bank = referred_case(wired, db, features)
    other_decision, _, other_bank = referred_case(wired, db, features)
    bank_key = auth(make_api_key(db, "bank", bank=bank))
    assert wired.get("/v1/reviews/resolutions", headers=bank_key).json() == []
    case = case_of(wired, a, decision["id"])
    above = "750000.00"
    wired.post(f"/v1/reviews/{case['id']}/resolution", headers=a,
               json={"resolution": "adjust", "limit": above, "reason": "seasonal stock-up, guaranteed"})
    assert wired.get("/v1/reviews/resolutions", headers=bank_key).json() == []  # not final while it waits
    wired.post(f"/v1/reviews/{case['id']}/second-approval", headers=b,
               json={"decision": "approve", "reason": "checked the guarantee letter"})
    other_case = case_of(wired, a, other_decision["id"])
    wired.post(f"/v1/reviews/{other_case['id']}/resolution", headers=a,
               json={"resolution": "decline", "reason": "not for that bank"})

    (seen,) = wired.get("/v1/reviews/resolutions", params={"after_seq": 0}, headers=bank_key).json()
    assert (seen["decision_id"], seen["kind"], seen["resolution"], seen["limit"]) == (
        decision["id"], "credit_limit", "adjust", above)
    assert seen["second_approver"] and seen["second_approver"] != seen["resolved_by"]
    assert wired.get("/v1/reviews/resolutions", params={"after_seq": seen["audit_seq"]},
                     headers=bank_key).json() == []
    officer_view = wired.get("/v1/reviews/resolutions", headers=a).json()
    assert [r["decision_id"] for r in officer_view] == [decision["id"], other_decision["id"]]

    entry = seen["audit_entry"]
    assert entry["seq"] == seen["audit_seq"] and entry["action"] == "review.resolved"
    recorded_at = datetime.fromisoformat(entry["recorded_at"].replace("Z", "+00:00"))
    columns = {k: v for k, v in entry.items() if k != "entry_hash"} | {"recorded_at": recorded_at}
    assert entry_hash(**columns) == entry["entry_hash"]
    assert json.loads(entry["payload"])["limit"] == above
    proof = wired.get(f"/v1/audit/proofs/{seen['audit_seq']}", headers=bank_key)
    assert proof.status_code == 200, proof.text
    proof = proof.json()
    assert proof["entry_hash"] == entry["entry_hash"]
    leaf = merkle.leaf_hash(bytes.fromhex(entry["entry_hash"]))
    head = merkle.verify_tree_head(proof["checkpoint"]["jws"], wired.get("/.well-known/jwks.json").json())
    assert merkle.verify_inclusion(leaf, proof["leaf_index"], head.size,
                                   [bytes.fromhex(p) for p in proof["proof"]], bytes.fromhex(proof["root_hash"]))
    assert head.size == proof["tree_size"] and head.root_hash == bytes.fromhex(proof["root_hash"])
    # another bank's resolution, or any other entry, is not this bank's to prove
    other_seq = officer_view[1]["audit_seq"]
    assert wired.get(f"/v1/audit/proofs/{other_seq}", headers=bank_key).status_code == 404
    assert wired.get("/v1/audit/proofs/1", headers=bank_key).status_code == 404
    other_bank_key = auth(make_api_key(db, "bank", bank=other_bank))
    assert [r["decision_id"] for r in wired.get("/v1/reviews/resolutions", headers=other_bank_key).json()] == [
        other_decision["id"]]


def test_after_the_dealer_revoked_its_consent_to_share_an_officer_may_decline_but_not_approve(
    wired, db, features, officers
):
    a, _ = officers
    decision, dealer, bank = referred_case(wired, db, features)
    case = case_of(wired, a, decision["id"])
    platform = auth(make_api_key(db, "platform"))
    (sharing,) = [c for c in wired.get(f"/v1/dealers/{dealer.id}/consents", headers=platform).json()
                  if c["purpose"] == "data_sharing_with_bank"]
    wired.post(f"/v1/dealers/{dealer.id}/consents/{sharing['id']}/revocation", headers=platform,
               json={"reason": "withdrawn by letter"})
    r = wired.post(f"/v1/reviews/{case['id']}/resolution", headers=a,
                   json={"resolution": "approve", "reason": "fine by me"})
    assert r.status_code == 403 and r.json()["code"] == "consent_missing", r.text
    with db.session() as s:
        assert ledger.find_line(s, dealer.id, bank.id) is None and s.get(ReviewCase, case["id"]).status == "open"
    r = wired.post(f"/v1/reviews/{case['id']}/resolution", headers=a,
                   json={"resolution": "decline", "reason": "consent withdrawn"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"


def test_a_referred_application_the_platform_withdraws_closes_its_case_and_the_bank_hears_of_it(wired, db, officers):
    from tests.loan_factories import loan

    a, _ = officers
    world, application = referred_order_loan(wired, db)
    platform = auth(make_api_key(db, "platform"))
    r = wired.post(f"/v1/order-loans/{application['loan_id']}/cancel", headers=platform,
                   json={"reason": "the dealer bought elsewhere"})
    assert r.status_code == 200, r.text
    assert loan(db, application["loan_id"]).state == "cancelled"
    with db.session() as s:
        case = s.get(ReviewCase, application["review_case_id"])
        assert (case.status, case.resolution) == ("resolved", "decline")
        assert "withdrew the application: the dealer bought elsewhere" in case.reason
    assert actions(db, application["review_case_id"])[-1] == "review.resolved"
    late = wired.post(f"/v1/reviews/{application['review_case_id']}/resolution", headers=a,
                      json={"resolution": "approve", "reason": "too late"})
    assert late.status_code == 409
    bank_key = auth(make_api_key(db, "bank", bank=world.bank))
    (seen,) = wired.get("/v1/reviews/resolutions", headers=bank_key).json()
    assert (seen["kind"], seen["resolution"]) == ("order_loan", "decline")
