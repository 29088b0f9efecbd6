"""The review queue and the decision page through the console: the same service calls and the same audit
entries as the API; maker-checker holds; errors come back as sentences on the page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from compliance.models import AuditEntry
from limits import ledger
from risk_engine.decisions.models import ReviewCase
from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import auth, make_api_key, make_bank, make_dealer
from tests.integration.test_console_access import csrf_of, log_in

D = Decimal


@pytest.fixture
def features():
    return DictFeatureSource()


@pytest.fixture
def wired(client, features):
    client.app.state.scorer = tiny_xgb_scorer()
    client.app.state.feature_source = features
    return client


def referred(client, db, features, **changes) -> dict:
    bank, dealer = make_bank(db, max_line_amount=D("3000000.00")), make_dealer(db)
    features.set(dealer.id, **({"current_days_past_due": 10, "purchase_amount_12m": 2_000_000.0} | changes))
    r = client.post(
        "/v1/credit-limit-requests",
        json={"dealer_id": dealer.id, "bank_id": bank.id},
        headers=auth(make_api_key(db, "platform")),
    )
    assert r.json()["outcome"] == "refer", r.text
    return r.json()


def case_id(db, decision_id: str) -> str:
    with db.session() as s:
        return s.scalars(select(ReviewCase.id).where(ReviewCase.decision_id == decision_id)).one()


def audit_actions(db, subject_id: str) -> list[tuple[str, str]]:
    with db.session() as s:
        return [
            (a, actor)
            for a, actor in s.execute(
                select(AuditEntry.action, AuditEntry.actor)
                .where(AuditEntry.subject_id == subject_id)
                .order_by(AuditEntry.seq)
            )
        ]


def officer(db, name: str) -> tuple[str, str]:
    key = make_api_key(db, "risk_officer", name=name)
    from api.clients import hash_key
    from api.models import ApiClient

    with db.session() as s:
        client = s.scalars(select(ApiClient).where(ApiClient.key_hash == hash_key(key))).one()
        return key, f"risk_officer:{client.id}"


def test_the_queue_lists_referred_decisions_with_grade_pd_and_proposed_limit(wired, db, features):
    decision = referred(wired, db, features)
    key, _ = officer(db, "Officer Wang")
    log_in(wired, key)
    page = wired.get("/console/reviews")
    assert page.status_code == 200
    assert decision["id"] in page.text and case_id(db, decision["id"]) in page.text
    amount = f"{D(decision['limit']):,.2f}"
    assert amount in page.text
    assert wired.get("/console/reviews", params={"status": "resolved"}).text.count("data-case=") == 0


def test_the_decision_page_shows_outcome_limit_rules_versions_and_the_waterfall(wired, db, features):
    decision = referred(wired, db, features)
    key, _ = officer(db, "Officer Wang")
    log_in(wired, key)
    page = wired.get(f"/console/decisions/{decision['id']}")
    assert page.status_code == 200
    html = page.text
    assert 'id="outcome"' in html and "refer" in html
    assert "REF_DPD_1_30" in html  # the rule that fired
    assert decision["model"]["version"] in html
    assert "<svg" in html and 'class="waterfall-step"' in html and "Base value E[f(x)]" in html
    assert "current_days_past_due" in html
    assert f"{D(decision['limit']):,.2f}" in html
    assert 'name="csrf_token"' in html and 'id="resolve-form"' in html


def test_assign_then_resolve_writes_the_same_audit_entries_as_the_api(wired, db, features):
    decision = referred(wired, db, features)
    cid = case_id(db, decision["id"])
    key, actor = officer(db, "Officer Wang")
    log_in(wired, key)
    page = wired.get("/console/reviews")
    r = wired.post(
        f"/console/reviews/{cid}/assignment",
        data={"csrf_token": csrf_of(page.text), "next": "/console/reviews?assignee=me"},
        follow_redirects=False,
    )
    assert (
        r.status_code == 303 and r.headers["location"] == "/console/reviews?assignee=me&done=resolve.assigned"
    )
    page = wired.get(r.headers["location"])
    assert "The case is assigned to you." in page.text and cid in page.text
    r = wired.post(
        f"/console/reviews/{cid}/resolution",
        data={
            "csrf_token": csrf_of(page.text),
            "resolution": "approve",
            "reason": "one late invoice, paid since",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200
    assert "The case is resolved." in r.text and "one late invoice, paid since" in r.text
    assert audit_actions(db, cid) == [
        ("review.opened", audit_actions(db, cid)[0][1]),
        ("review.assigned", actor),
        ("review.resolved", actor),
    ]
    with db.session() as s:
        assert str(ledger.find_line(s, decision["dealer_id"], decision["bank_id"]).limit) == decision["limit"]


def test_a_resolution_without_a_reason_is_refused_on_the_page_and_changes_nothing(wired, db, features):
    decision = referred(wired, db, features)
    cid = case_id(db, decision["id"])
    key, _ = officer(db, "Officer Wang")
    log_in(wired, key)
    page = wired.get(f"/console/decisions/{decision['id']}")
    r = wired.post(
        f"/console/reviews/{cid}/resolution",
        data={"csrf_token": csrf_of(page.text), "resolution": "adjust", "limit": "abc", "reason": "x"},
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "Give the limit as an amount" in r.text
    r = wired.post(
        f"/console/reviews/{cid}/resolution",
        data={"csrf_token": csrf_of(page.text), "resolution": "decline", "reason": "   "},
    )
    assert r.status_code == 422 and "reason" in r.text
    assert [a for a, _ in audit_actions(db, cid)] == ["review.opened"]


def test_an_override_above_the_threshold_needs_a_second_officer_never_the_maker(wired, db, features):
    decision = referred(wired, db, features)
    cid = case_id(db, decision["id"])
    maker_key, maker = officer(db, "Officer Wang")
    checker_key, checker = officer(db, "Officer Li")
    log_in(wired, maker_key)
    page = wired.get(f"/console/decisions/{decision['id']}")
    r = wired.post(
        f"/console/reviews/{cid}/resolution",
        data={
            "csrf_token": csrf_of(page.text),
            "resolution": "adjust",
            "limit": "1,200,000.00",
            "reason": "strong collateral from the guarantor",
        },
        follow_redirects=True,
    )
    assert "waits for a second officer" in r.text and 'id="own-override"' in r.text
    forged = wired.post(
        f"/console/reviews/{cid}/second-approval",
        data={"csrf_token": csrf_of(r.text), "decision": "approve", "reason": "me again"},
    )
    assert forged.status_code == 403 and "may not also approve" in forged.text

    wired.cookies.clear()
    log_in(wired, checker_key)
    page = wired.get(f"/console/decisions/{decision['id']}")
    assert 'id="second-approval-form"' in page.text
    r = wired.post(
        f"/console/reviews/{cid}/second-approval",
        data={"csrf_token": csrf_of(page.text), "decision": "approve", "reason": "checked the guarantee"},
        follow_redirects=True,
    )
    assert "The override is approved and in force." in r.text
    assert [a for a, _ in audit_actions(db, cid)][-2:] == ["review.override_proposed", "review.resolved"]
    assert audit_actions(db, cid)[-1][1] == checker and audit_actions(db, cid)[-2][1] == maker
    with db.session() as s:
        assert ledger.find_line(s, decision["dealer_id"], decision["bank_id"]).limit == D("1200000.00")


def test_the_queue_sorts_across_statuses_not_status_by_status(wired, db, features):
    first, second, third = (referred(wired, db, features) for _ in range(3))
    cases = [case_id(db, d["id"]) for d in (first, second, third)]
    key, actor = officer(db, "Officer Wang")
    with db.session() as s:  # the oldest is assigned, the newest has the largest proposed limit
        for i, cid in enumerate(cases):
            case = s.get(ReviewCase, cid)
            case.opened_at = case.opened_at.replace(year=2020, month=1, day=1 + i)
            case.proposed_limit = D("100000.00") * (i + 1)
        s.get(ReviewCase, cases[0]).status = "assigned"
        s.get(ReviewCase, cases[0]).assignee = actor
        s.commit()
    log_in(wired, key)

    def queue(sort: str) -> list[str]:
        html = wired.get("/console/reviews", params={"sort": sort}).text
        return [c for c in re.findall(r'data-case="([^"]+)"', html) if c in cases]

    assert queue("opened_at") == cases
    assert queue("-opened_at") == cases[::-1]
    assert queue("-proposed_limit") == cases[::-1]
    assert queue("proposed_limit") == cases


def test_a_superseded_case_leaves_the_active_queue_and_its_page_names_the_newer_decision(wired, db, features):
    first = referred(wired, db, features)
    old = case_id(db, first["id"])
    r = wired.post(
        "/v1/credit-limit-requests",
        json={"dealer_id": first["dealer_id"], "bank_id": first["bank_id"]},
        headers=auth(make_api_key(db, "platform")),
    )
    second = r.json()
    key, _ = officer(db, "Officer Wang")
    log_in(wired, key)
    active = wired.get("/console/reviews").text
    assert old not in active and second["review"]["id"] in active
    closed = wired.get("/console/reviews", params={"status": "superseded"}).text
    assert f'data-case="{old}"' in closed and '<span class="badge superseded">superseded</span>' in closed
    page = wired.get(f"/console/decisions/{first['id']}")
    assert 'id="superseded-summary"' in page.text and f'href="/console/decisions/{second["id"]}"' in page.text
    assert 'id="resolve-form"' not in page.text
    r = wired.post(
        f"/console/reviews/{old}/resolution",
        data={"csrf_token": csrf_of(page.text), "resolution": "approve", "reason": "the old proposal"},
    )
    assert r.status_code == 409 and second["id"] in r.text
    assert [a for a, _ in audit_actions(db, old)] == ["review.opened", "review.superseded"]
    with db.session() as s:
        assert ledger.find_line(s, first["dealer_id"], first["bank_id"]) is None


def test_an_approval_refused_for_a_revoked_consent_shows_on_the_page_with_the_case_and_the_form(
    wired, db, features
):
    decision = referred(wired, db, features)
    cid = case_id(db, decision["id"])
    platform = auth(make_api_key(db, "platform"))
    dealer_id = decision["dealer_id"]
    (sharing,) = [c for c in wired.get(f"/v1/dealers/{dealer_id}/consents", headers=platform).json()
                  if c["purpose"] == "data_sharing_with_bank"]
    r = wired.post(f"/v1/dealers/{dealer_id}/consents/{sharing['id']}/revocation", headers=platform,
                   json={"reason": "withdrawn by letter"})
    assert r.status_code < 300, r.text
    key, _ = officer(db, "Officer Wang")
    log_in(wired, key)
    page = wired.get(f"/console/decisions/{decision['id']}")
    r = wired.post(
        f"/console/reviews/{cid}/resolution",
        data={"csrf_token": csrf_of(page.text), "resolution": "approve", "reason": "paid since"},
    )
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert 'class="flash error" role="alert"' in r.text and "data_sharing_with_bank" in r.text
    assert 'id="review-status"' in r.text and 'id="resolve-form"' in r.text
    assert 'value="approve" required checked' in r.text and "paid since" in r.text
    assert [a for a, _ in audit_actions(db, cid)] == ["review.opened"]
    r = wired.post(
        f"/console/reviews/{cid}/resolution",
        data={"csrf_token": csrf_of(r.text), "resolution": "decline", "reason": "consent withdrawn"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "The case is resolved." in r.text


def test_a_case_the_platform_withdrew_shows_resolved_with_the_withdrawal_as_its_reason(wired, db):
    from tests.integration.test_reviews import referred_order_loan

    _, application = referred_order_loan(wired, db)
    cid = application["review_case_id"]
    key, _ = officer(db, "Officer Wang")
    log_in(wired, key)
    opened = wired.get(f"/console/reviews/{cid}", follow_redirects=True)  # the officer has the case open
    assert 'id="resolve-form"' in opened.text
    platform = auth(make_api_key(db, "platform"))
    r = wired.post(f"/v1/order-loans/{application['loan_id']}/cancel", headers=platform,
                   json={"reason": "the dealer bought elsewhere"})
    assert r.status_code == 200, r.text
    late = wired.post(
        f"/console/reviews/{cid}/resolution",
        data={"csrf_token": csrf_of(opened.text), "resolution": "approve", "reason": "order looks fine"},
    )
    assert late.status_code == 409 and late.headers["content-type"].startswith("text/html")
    assert 'class="flash error" role="alert"' in late.text and 'id="resolution-summary"' in late.text
    assert "the platform withdrew the application: the dealer bought elsewhere" in late.text
    assert f'data-case="{cid}"' not in wired.get("/console/reviews").text
    resolved = wired.get("/console/reviews", params={"status": "resolved"})
    assert resolved.status_code == 200 and f'data-case="{cid}"' in resolved.text
    page = wired.get(f"/console/reviews/{cid}", follow_redirects=True)
    assert page.status_code == 200
    assert 'id="resolution-summary"' in page.text
    assert "the platform withdrew the application: the dealer bought elsewhere" in page.text
    assert 'id="resolve-form"' not in page.text


def test_a_checker_whose_approval_is_refused_for_a_revoked_consent_keeps_the_override_and_the_form(
    wired, db, features
):
    decision = referred(wired, db, features)
    cid = case_id(db, decision["id"])
    maker_key, _ = officer(db, "Officer Wang")
    checker_key, _ = officer(db, "Officer Li")
    log_in(wired, maker_key)
    page = wired.get(f"/console/decisions/{decision['id']}")
    wired.post(
        f"/console/reviews/{cid}/resolution",
        data={"csrf_token": csrf_of(page.text), "resolution": "adjust", "limit": "1,200,000.00",
              "reason": "strong collateral from the guarantor"},
    )
    platform = auth(make_api_key(db, "platform"))
    dealer_id = decision["dealer_id"]
    (sharing,) = [c for c in wired.get(f"/v1/dealers/{dealer_id}/consents", headers=platform).json()
                  if c["purpose"] == "data_sharing_with_bank"]
    wired.post(f"/v1/dealers/{dealer_id}/consents/{sharing['id']}/revocation", headers=platform,
               json={"reason": "withdrawn by letter"})
    wired.cookies.clear()
    log_in(wired, checker_key)
    page = wired.get(f"/console/decisions/{decision['id']}")
    r = wired.post(
        f"/console/reviews/{cid}/second-approval",
        data={"csrf_token": csrf_of(page.text), "decision": "approve", "reason": "checked the guarantee"},
    )
    assert r.status_code == 403 and 'role="alert"' in r.text and "data_sharing_with_bank" in r.text
    assert 'id="second-approval-form"' in r.text and "checked the guarantee" in r.text
    assert 'value="approve" required checked' in r.text
    assert [a for a, _ in audit_actions(db, cid)][-1] == "review.override_proposed"
