"""Amending a bank's terms, a guarantor's terms and a dealer's guarantor: each moved term recorded from → to
in one audit entry, nothing recorded when nothing moves, the law's checks before a guarantor takes on a
dealer, and the next decision working under the new terms."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from compliance import audit
from compliance.models import AuditEntry
from risk_engine.decisions import service
from risk_engine.decisions.schemas import CreditLimitRequestIn
from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import auth, make_api_key, make_bank, make_dealer, make_guarantor
from tests.loan_factories import open_line

D = Decimal


@pytest.fixture
def admin(db):
    return auth(make_api_key(db, "admin"))


def entries(db, action):
    with db.session() as s:
        return [json.loads(e.payload) for e in s.query(AuditEntry).filter(AuditEntry.action == action)]


def post(client, headers, path, body, key=None):
    return client.post(path, json=body, headers=headers | ({"Idempotency-Key": key} if key else {}))


# --------------------------------------------------------------------------- banks


def test_a_quota_raise_is_recorded_from_and_to_with_its_reason_and_shows_the_remaining_quota(client, db, admin):
    bank = make_bank(db, quota=D("10000000.00"))
    open_line(db, make_dealer(db), bank, "4000000.00")
    r = post(client, admin, f"/v1/banks/{bank.id}/amendments",
             {"quota": "25000000.00", "apr": "0.0600", "reason": "bank letter 2026-11-20: appetite raised"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] is True and body["remaining_quota"] == "21000000.00"
    assert body["changes"] == {"quota": {"from": "10000000.00", "to": "25000000.00"},
                               "apr": {"from": "0.065", "to": "0.06"}}
    assert client.get(f"/v1/banks/{bank.id}", headers=admin).json()["quota"] == "25000000.00"
    (payload,) = entries(db, "bank.amended")
    assert payload["changes"] == body["changes"] and payload["reason"].startswith("bank letter")
    with db.session() as s:
        assert audit.verify(s).intact


def test_an_amendment_that_moves_nothing_records_nothing(client, db, admin):
    bank = make_bank(db, quota=D("10000000.00"))
    r = post(client, admin, f"/v1/banks/{bank.id}/amendments", {"quota": "10000000.00", "reason": "confirmed"})
    assert r.status_code == 200 and r.json()["changed"] is False and r.json()["audit_seq"] is None
    assert entries(db, "bank.amended") == []


def test_a_quota_lowered_below_what_lines_hold_is_accepted_and_the_next_limit_gets_nothing(client, db, admin):
    bank = make_bank(db, quota=D("10000000.00"))
    open_line(db, make_dealer(db), bank, "4000000.00")
    r = post(client, admin, f"/v1/banks/{bank.id}/amendments", {"quota": "3000000.00", "reason": "cut back"})
    assert r.status_code == 200 and r.json()["remaining_quota"] == "-1000000.00"
    dealer = make_dealer(db)
    with db.unit_of_work() as s:
        decision = service.decide_credit_limit(
            s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=tiny_xgb_scorer(),
            features=DictFeatureSource(), actor="platform:test")
        assert decision.outcome == "decline" and decision.binding_constraint == "bank_quota"


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": "nothing named"}, "body"),
    ({"min_tenor_days": 200, "reason": "longer"}, "body.min_tenor_days"),  # above the bank's max of 180
    ({"quota": None, "reason": "no quota"}, "body.quota"),
    ({"quota": "-1.00", "reason": "negative"}, "body.quota"),
    ({"quota": "1.00"}, "body.reason"),
    ({"quota": "1.00", "reason": "x", "colour": "red"}, "body.colour"),
])
def test_a_bad_bank_amendment_names_the_field_and_changes_nothing(client, db, admin, body, field):
    bank = make_bank(db)
    r = post(client, admin, f"/v1/banks/{bank.id}/amendments", body)
    assert r.status_code in (400, 422), r.text
    assert field in [e["field"] for e in r.json()["errors"]] or r.json().get("field") == field, r.json()
    assert client.get(f"/v1/banks/{bank.id}", headers=admin).json()["quota"] == "10000000.00"
    assert entries(db, "bank.amended") == []


def test_only_admins_amend_and_a_bank_reads_only_its_own_history(client, db, admin):
    bank, other = make_bank(db), make_bank(db)
    platform = auth(make_api_key(db, "platform"))
    bank_client = auth(make_api_key(db, "bank", bank=bank))
    assert post(client, platform, f"/v1/banks/{bank.id}/amendments",
                {"quota": "1.00", "reason": "mine"}).status_code == 403
    assert post(client, bank_client, f"/v1/banks/{bank.id}/amendments",
                {"quota": "1.00", "reason": "mine"}).status_code == 403
    post(client, admin, f"/v1/banks/{bank.id}/amendments", {"quota": "20000000.00", "reason": "raised"})
    history = client.get(f"/v1/banks/{bank.id}/amendments", headers=bank_client)
    assert history.status_code == 200
    assert [h["changes"]["quota"]["to"] for h in history.json()] == ["20000000.00"]
    assert history.json()[0]["actor"].startswith("admin:")
    assert client.get(f"/v1/banks/{other.id}/amendments", headers=bank_client).status_code == 404


def test_a_retried_amendment_is_answered_once_and_recorded_once(client, db, admin):
    bank = make_bank(db)
    body = {"quota": "12000000.00", "reason": "raised"}
    first = post(client, admin, f"/v1/banks/{bank.id}/amendments", body, key="amend-1")
    again = post(client, admin, f"/v1/banks/{bank.id}/amendments", body, key="amend-1")
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(entries(db, "bank.amended")) == 1


# --------------------------------------------------------------------------- guarantors


def test_net_assets_that_fell_are_recorded_and_the_book_names_the_dealers_now_over_their_share(client, db, admin):
    guarantor = make_guarantor(db, net_assets=D("100000000.00"))  # 10 % per client: 10,000,000
    big, small = make_dealer(db, guarantor_id=guarantor.id), make_dealer(db, guarantor_id=guarantor.id)
    roomy_bank = make_bank(db, quota=D("50000000.00"), max_line_amount=D("20000000.00"))
    open_line(db, big, roomy_bank, "12000000.00")  # half guaranteed: 6,000,000
    open_line(db, small, make_bank(db), "2000000.00")  # 1,000,000
    r = post(client, admin, f"/v1/guarantors/{guarantor.id}/amendments",
             {"net_assets": "50000000.00", "reason": "audited accounts 2025: net assets 50m"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changes"] == {"net_assets": {"from": "100000000.00", "to": "50000000.00"}}
    assert body["book"] == {
        "total_guaranteed": "7000000.00", "leverage_capacity": "500000000.00", "leverage_headroom": "493000000.00",
        "dealers_over_single_client_cap": [big.id], "controlling_parties_guaranteed": [],
    }
    history = client.get(f"/v1/guarantors/{guarantor.id}/amendments", headers=admin).json()
    assert [h["reason"] for h in history] == ["audited accounts 2025: net assets 50m"]


def test_serving_small_firms_raises_the_leverage_cap_to_fifteen_times(client, db, admin):
    guarantor = make_guarantor(db)
    r = post(client, admin, f"/v1/guarantors/{guarantor.id}/amendments",
             {"serves_small_firms": True, "reason": "regulator's designation 2026"})
    assert r.json()["changes"] == {"serves_small_firms": {"from": False, "to": True},
                                   "leverage_cap": {"from": "10", "to": "15"}}
    assert client.get(f"/v1/guarantors/{guarantor.id}", headers=admin).json()["leverage_cap"] == "15"


def test_a_renewed_guarantee_backs_limits_again(client, db, admin):
    from sqlalchemy import update

    from risk_engine.parties.models import Guarantor

    guarantor = make_guarantor(db)
    with db.unit_of_work() as s:  # lapsed yesterday
        s.execute(update(Guarantor).where(Guarantor.id == guarantor.id)
                  .values(guarantee_expires_on=date.today() - timedelta(days=1)))
    renewed = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
    r = post(client, admin, f"/v1/guarantors/{guarantor.id}/amendments",
             {"guarantee_expires_on": renewed, "reason": "agreement renewed for 2027"})
    assert r.status_code == 200 and r.json()["changes"]["guarantee_expires_on"]["to"] == renewed
    past = post(client, admin, f"/v1/guarantors/{guarantor.id}/amendments",
                {"guarantee_expires_on": "2020-01-01", "reason": "typo"})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "body.guarantee_expires_on"


@pytest.mark.parametrize(("body", "field"), [
    ({"single_client_cap": "0.20", "reason": "above the related cap of 0.15"}, "body.single_client_cap"),
    ({"controlling_parties": ["9144030071526726XA"], "reason": "bad check char"}, "body.controlling_parties[0]"),
    ({"net_assets": None, "reason": "none"}, "body.net_assets"),
])
def test_a_bad_guarantor_amendment_names_the_field(client, db, admin, body, field):
    guarantor = make_guarantor(db)
    r = post(client, admin, f"/v1/guarantors/{guarantor.id}/amendments", body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert entries(db, "guarantor.amended") == []


def test_a_dealer_named_a_controlling_party_shows_in_the_book(client, db, admin):
    guarantor = make_guarantor(db)
    dealer = make_dealer(db, guarantor_id=guarantor.id)
    open_line(db, dealer, make_bank(db), "100000.00")
    r = post(client, admin, f"/v1/guarantors/{guarantor.id}/amendments",
             {"controlling_parties": [dealer.credit_code], "reason": "change of control filed"})
    assert r.json()["book"]["controlling_parties_guaranteed"] == [dealer.id]


# --------------------------------------------------------------------------- a dealer's guarantor


def test_a_guarantor_with_room_takes_on_the_dealers_open_lines(client, db, admin):
    old, new = make_guarantor(db), make_guarantor(db)
    dealer = make_dealer(db, guarantor_id=old.id)
    line = open_line(db, dealer, make_bank(db), "300000.00")
    r = post(client, admin, f"/v1/dealers/{dealer.id}/guarantor-assignments",
             {"guarantor_id": new.id, "reason": "dealer signed with the new guarantor"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changes"] == {"guarantor_id": {"from": old.id, "to": new.id}}
    assert body["open_lines"] == [line] and body["guaranteed"] == "150000.00"
    assert client.get(f"/v1/dealers/{dealer.id}", headers=admin).json()["guarantor_id"] == new.id
    history = client.get(f"/v1/dealers/{dealer.id}/guarantor-assignments", headers=admin).json()
    assert [h["changes"]["guarantor_id"]["to"] for h in history] == [new.id]


def test_a_guarantor_without_room_for_the_dealers_lines_is_refused_and_nothing_changes(client, db, admin):
    new = make_guarantor(db, net_assets=D("1000000.00"))  # one client: 100,000
    dealer = make_dealer(db)
    open_line(db, dealer, make_bank(db), "300000.00")  # half guaranteed: 150,000
    r = post(client, admin, f"/v1/dealers/{dealer.id}/guarantor-assignments",
             {"guarantor_id": new.id, "reason": "try"})
    assert r.status_code == 409 and r.json()["code"] == "guarantor_over_capacity", r.text
    assert r.json()["needed"] == "150000.00" and r.json()["headroom"] == "100000.00"
    assert client.get(f"/v1/dealers/{dealer.id}", headers=admin).json()["guarantor_id"] is None
    assert entries(db, "dealer.guarantor_assigned") == []


def test_a_guarantor_may_not_take_on_its_controlling_party(client, db, admin):
    dealer = make_dealer(db)
    guarantor = make_guarantor(db, controlling_parties=[dealer.credit_code])
    r = post(client, admin, f"/v1/dealers/{dealer.id}/guarantor-assignments",
             {"guarantor_id": guarantor.id, "reason": "try"})
    assert r.status_code == 409 and r.json()["code"] == "controlling_party"


def test_removing_the_guarantor_lists_the_lines_left_without_one(client, db, admin):
    guarantor = make_guarantor(db)
    dealer = make_dealer(db, guarantor_id=guarantor.id)
    line = open_line(db, dealer, make_bank(db), "100000.00")
    r = post(client, admin, f"/v1/dealers/{dealer.id}/guarantor-assignments",
             {"guarantor_id": None, "reason": "guarantee agreement terminated"})
    assert r.status_code == 200 and r.json()["unguaranteed_lines"] == [line]
    assert r.json()["changes"] == {"guarantor_id": {"from": guarantor.id, "to": None}}


def test_an_unknown_guarantor_or_dealer_is_404(client, db, admin):
    dealer = make_dealer(db)
    r = post(client, admin, f"/v1/dealers/{dealer.id}/guarantor-assignments",
             {"guarantor_id": "gua_nope", "reason": "try"})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "body.guarantor_id"
    assert post(client, admin, "/v1/dealers/dlr_nope/guarantor-assignments",
                {"guarantor_id": None, "reason": "try"}).status_code == 404


# --------------------------------------------------------------------------- amendments that waited for another


def _wait_until_blocked_on_a_guarantor_lock(db, thread, timeout=10.0):
    """Until ``thread`` waits to lock a guarantor row (PostgreSQL), or has ended."""
    import time

    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%FROM guarantor%FOR UPDATE%'")).scalar()
            conn.rollback()  # a new transaction sees a new snapshot of pg_stat_activity
            if waiting:
                return
            time.sleep(0.02)


@pytest.mark.postgres
def test_a_guarantor_assignment_that_waited_for_another_records_the_guarantor_it_replaced(pg_db):
    """Two assignments for one dealer at the same moment: the second reads the dealer, waits for the first's
    guarantor locks, and must then record (and lock) the guarantor the first one put in — not the one it
    read before waiting."""
    import threading

    from risk_engine.parties import terms
    from risk_engine.parties.schemas import GuarantorAssignmentIn

    first, second, third = make_guarantor(pg_db), make_guarantor(pg_db), make_guarantor(pg_db)
    dealer = make_dealer(pg_db, guarantor_id=first.id)
    today = date.today()
    outcome = {}

    def assign_third():
        with pg_db.unit_of_work() as s:  # an exception here leaves "done" unset: the assertion below fails
            outcome["done"] = terms.assign_guarantor(
                s, dealer.id, GuarantorAssignmentIn(guarantor_id=third.id, reason="moved again"), actor="b",
                today=today)

    with pg_db.unit_of_work() as s:  # first -> second, holding its locks until the block ends
        terms.assign_guarantor(s, dealer.id, GuarantorAssignmentIn(guarantor_id=second.id, reason="moved"),
                               actor="a", today=today)
        later = threading.Thread(target=assign_third)
        later.start()
        _wait_until_blocked_on_a_guarantor_lock(pg_db, later)
    later.join(timeout=30)
    assert outcome["done"].changes == {"guarantor_id": {"from": second.id, "to": third.id}}
    history = [p["changes"]["guarantor_id"] for p in entries(pg_db, "dealer.guarantor_assigned")]
    assert sorted(history, key=lambda h: h["from"] != first.id) == [
        {"from": first.id, "to": second.id}, {"from": second.id, "to": third.id}]


def test_guarantors_are_listed_by_name_for_admins_officers_and_the_platform_not_banks(client, db, admin):
    make_guarantor(db, name="Zhujiang Guarantee"), make_guarantor(db, name="Anhe Guarantee")
    listed = client.get("/v1/guarantors", headers=admin)
    assert listed.status_code == 200 and [g["name"] for g in listed.json()] == ["Anhe Guarantee", "Zhujiang Guarantee"]
    assert listed.json()[0]["net_assets"] == "100000000.00"
    bank_key = auth(make_api_key(db, "bank", bank=make_bank(db)))
    assert client.get("/v1/guarantors", headers=bank_key).status_code == 403
