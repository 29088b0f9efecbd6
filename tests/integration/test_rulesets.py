"""Rule sets as data over HTTP: the default as version 1, drafts, maker-checker approval, activation rights
and the one-active guarantee, and the simulation of a draft over recorded decisions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from compliance import audit
from compliance.models import AuditEntry
from risk_engine.decisions.models import Decision
from risk_engine.rules import service
from risk_engine.rules.defaults import default_ruleset_json
from risk_engine.rules.models import RuleSetRecord
from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import auth, make_api_key, make_bank, make_dealer


@pytest.fixture
def admins(db):
    return auth(make_api_key(db, "admin", name="maker")), auth(make_api_key(db, "admin", name="checker"))


def new_draft(client, admin, **body) -> dict:
    r = client.post("/v1/rulesets", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def rules_with(change_code: str, **changes) -> list[dict]:
    rules = default_ruleset_json()["rules"]
    return [rule | changes if rule["code"] == change_code else rule for rule in rules]


def test_the_default_rule_set_becomes_version_1_active_and_audited(client, db, admins):
    maker, _ = admins
    assert client.get("/v1/rulesets", headers=maker).json() == []
    draft = new_draft(client, maker)  # a copy of the active set: the default is seeded first
    listed = client.get("/v1/rulesets", headers=maker).json()
    assert [(r["version"], r["status"]) for r in listed] == [(2, "draft"), (1, "active")]
    v1 = client.get("/v1/rulesets/1", headers=maker).json()
    assert v1["approver"] == "risk-committee" and len(v1["rules"]) == 24
    assert draft["based_on"] == 1 and draft["digest"] == v1["digest"] and draft["approver"] is None
    with db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "rule_set")).all()
        assert actions == ["ruleset.seeded", "ruleset.drafted"]


def test_a_draft_with_a_bad_rule_is_refused_naming_the_rule(client, admins):
    maker, _ = admins
    r = client.post(
        "/v1/rulesets", headers=maker, json={"rules": rules_with("KO_DPD_OVER_30", condition="dpd_current >")}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].startswith("rules[4].condition")
    r = client.post(
        "/v1/rulesets",
        headers=maker,
        json={"rules": rules_with("KO_DPD_OVER_30", condition="dpd_curent > 30")},
    )
    assert r.status_code == 422 and "dpd_curent" in r.json()["detail"]


def test_a_rule_whose_fields_have_the_wrong_type_is_refused_naming_the_field(client, admins):
    maker, _ = admins
    for field, value in (("reason_zh", 5), ("reason_en", ["x"]), ("code", 7), ("action", {"notches": "1"})):
        rules = rules_with("OV_HIGH_RETURN_RATE", **{field: value})
        r = client.post("/v1/rulesets", headers=maker, json={"rules": rules})
        assert r.status_code == 422, (field, r.status_code, r.text)
        assert r.json()["errors"][0]["field"].startswith(f"rules[18].{field}"), (field, r.json())


def test_the_author_may_not_approve_their_own_draft(client, admins):
    maker, checker = admins
    draft = new_draft(
        client,
        maker,
        rules=rules_with("KO_DPD_OVER_30", condition="dpd_current > 15"),
        description="stricter on arrears",
    )
    r = client.post(f"/v1/rulesets/{draft['version']}/approval", headers=maker)
    assert r.status_code == 403 and r.json()["code"] == "maker_checker"
    r = client.post(f"/v1/rulesets/{draft['version']}/approval", headers=checker)
    assert r.status_code == 200 and r.json()["approver"] != r.json()["author"]


def test_only_an_approved_draft_is_activated_and_the_previous_version_retires(client, db, admins):
    maker, checker = admins
    draft = new_draft(client, maker)
    r = client.post(f"/v1/rulesets/{draft['version']}/activation", headers=maker)
    assert r.status_code == 409 and r.json()["code"] == "not_approved"
    client.post(f"/v1/rulesets/{draft['version']}/approval", headers=checker)
    r = client.post(f"/v1/rulesets/{draft['version']}/activation", headers=maker)
    assert r.status_code == 200 and r.json()["status"] == "active"
    statuses = {r["version"]: r["status"] for r in client.get("/v1/rulesets", headers=maker).json()}
    assert statuses == {1: "retired", 2: "active"}
    r = client.post("/v1/rulesets/1/activation", headers=checker)
    assert r.status_code == 409  # a retired version stays retired


def test_rule_sets_are_for_admins_only(client, db, admins):
    maker, checker = admins
    draft = new_draft(client, maker)
    client.post(f"/v1/rulesets/{draft['version']}/approval", headers=checker)
    officer = auth(make_api_key(db, "risk_officer"))
    assert client.post(f"/v1/rulesets/{draft['version']}/activation", headers=officer).status_code == 403
    assert client.get("/v1/rulesets", headers=auth(make_api_key(db, "platform"))).status_code == 403
    assert client.post("/v1/rulesets", json={}, headers=officer).status_code == 403


def test_the_database_holds_at_most_one_active_rule_set(db):
    with db.unit_of_work() as s:
        service.seed_default_ruleset(s)
    with pytest.raises(IntegrityError), db.unit_of_work() as s:
        v1 = s.get(RuleSetRecord, 1)
        s.add(
            RuleSetRecord(
                version=2,
                status="active",
                body=v1.body,
                digest=v1.digest,
                description="",
                author="a",
                approver="b",
            )
        )
    with db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(RuleSetRecord).where(RuleSetRecord.status == "active"))
            == 1
        )


def test_a_simulation_replays_a_draft_over_recorded_decisions_and_changes_nothing(client, db, admins):
    maker, _ = admins
    features = DictFeatureSource()
    client.app.state.scorer = tiny_xgb_scorer()
    client.app.state.feature_source = features
    platform = auth(make_api_key(db, "platform"))
    bank = make_bank(db)
    outcomes = []
    for dpd in (0, 10, 20, 45):  # approve, refer, refer, decline
        dealer = make_dealer(db)
        features.set(dealer.id, current_days_past_due=dpd)
        r = client.post(
            "/v1/credit-limit-requests", json={"dealer_id": dealer.id, "bank_id": bank.id}, headers=platform
        )
        outcomes.append(r.json()["outcome"])
    assert outcomes == ["approve", "refer", "refer", "decline"]
    # the draft knocks out from 15 days past due and caps every dealer at 100k
    rules = rules_with("KO_DPD_OVER_30", condition="dpd_current > 15")
    rules = [
        r | {"action": {"limit_cap": "100000.00"}, "condition": "tenure_months > 0"}
        if r["code"] == "OV_NEW_DEALER_CAP"
        else r
        for r in rules
    ]
    draft = new_draft(client, maker, rules=rules)
    with db.session() as s:
        before = (s.scalar(select(func.count()).select_from(Decision)), audit.verify(s).entries)
    r = client.post(f"/v1/rulesets/{draft['version']}/simulation", params={"last": 10}, headers=maker)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["cases"] == 4 and report["ruleset_version"] == draft["version"]
    assert report["transitions"]["refer"]["decline"] == 1  # the 20-day case
    assert report["after"] == {"approve": 1, "refer": 1, "decline": 2}
    assert report["limits"]["decreased"] == 3  # two capped at 100k, the 20-day case declined
    assert report["rule_hits"]["KO_DPD_OVER_30"] == 2
    changed = {c["decision_id"]: (c["before"], c["after"], c["limit_after"]) for c in report["changes"]}
    assert ("approve", "approve", "100000.00") in changed.values()
    r = client.post("/v1/rulesets/1/simulation", params={"last": 10}, headers=maker)
    assert r.json()["changed"] == 0  # the active set reproduces every recorded outcome and limit exactly
    with db.session() as s:
        assert (s.scalar(select(func.count()).select_from(Decision)), audit.verify(s).entries) == before


def test_a_draft_can_copy_any_version_and_says_what_it_was_based_on(client, admins):
    maker, _ = admins
    first = new_draft(client, maker, rules=rules_with("REF_OPEN_ALERTS", condition="open_alert_count > 2"))
    copy = new_draft(client, maker, copy_of=first["version"])
    assert copy["based_on"] == first["version"] and copy["digest"] == first["digest"]
    rule = next(r for r in copy["rules"] if r["code"] == "REF_OPEN_ALERTS")
    assert json.dumps(rule["condition"]) == '"open_alert_count > 2"'
