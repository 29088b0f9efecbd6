"""GET /v1/alerts and POST /v1/alerts/{id}/resolution: risk officers only, filters, pages, a written
reason, one resolution per alert, unfreezing what the alert froze."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from compliance.models import AuditEntry
from loan_monitoring import alerting
from loan_monitoring.alerts import Action, Alert, Severity
from tests.factories import auth, make_api_key, make_bank, make_dealer
from tests.loan_factories import line_figures, open_line


def finding(dealer_id, kind="purchase_volume_drop", severity=Severity.WARNING, bank_id=None, actions=()):
    return Alert(
        kind,
        severity,
        f"dealer:{dealer_id}:ews:{kind}" + (f":{bank_id}" if bank_id else ""),
        "中文",
        "english",
        {"metric": "-42"},
        tuple(actions),
        dealer_id=dealer_id,
        bank_id=bank_id,
    )


def raise_(db, *findings):
    with db.unit_of_work() as s:
        return alerting.raise_alerts(s, findings, source="early_warning", actor="test")


@pytest.fixture
def officer(db):
    return auth(make_api_key(db, "risk_officer"))


def test_only_risk_officers_see_alerts(db, client, officer):
    bank = make_bank(db)
    assert client.get("/v1/alerts", headers=officer).status_code == 200
    assert client.get("/v1/alerts", headers=auth(make_api_key(db, "platform"))).status_code == 403
    assert client.get("/v1/alerts", headers=auth(make_api_key(db, "bank", bank))).status_code == 403
    assert client.get("/v1/alerts").status_code == 401


def test_alerts_are_listed_newest_first_with_filters_and_pages(db, client, officer):
    a, b = make_dealer(db), make_dealer(db)
    raise_(db, finding(a.id), finding(a.id, "return_spike", Severity.CRITICAL))
    raise_(db, finding(b.id))
    body = client.get("/v1/alerts", headers=officer).json()
    assert len(body["items"]) == 3 and body["next_cursor"] is None
    only_a = client.get("/v1/alerts", headers=officer, params={"dealer_id": a.id}).json()["items"]
    assert {x["kind"] for x in only_a} == {"purchase_volume_drop", "return_spike"}
    critical = client.get("/v1/alerts", headers=officer, params={"severity": "critical"}).json()["items"]
    assert [x["kind"] for x in critical] == ["return_spike"]
    page = client.get("/v1/alerts", headers=officer, params={"limit": 2}).json()
    rest = client.get(
        "/v1/alerts", headers=officer, params={"limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {x["id"] for x in page["items"] + rest["items"]} == {x["id"] for x in body["items"]}
    assert client.get("/v1/alerts", headers=officer, params={"severity": "panic"}).status_code == 422
    assert (
        client.get("/v1/alerts", headers=officer, params={"cursor": "garbage"}).json()["code"] == "bad_cursor"
    )


def test_a_resolution_needs_a_written_reason(db, client, officer):
    dealer = make_dealer(db)
    alert_id = raise_(db, finding(dealer.id)).new[0].id
    r = client.post(
        f"/v1/alerts/{alert_id}/resolution", headers=officer, json={"resolution": "false_positive"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("reason")
    r = client.post(
        f"/v1/alerts/{alert_id}/resolution",
        headers=officer,
        json={"resolution": "false_positive", "reason": "   "},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.reason"


def test_resolving_an_alert_closes_it_once_and_lets_the_finding_be_raised_again(db, client, officer):
    dealer = make_dealer(db)
    alert_id = raise_(db, finding(dealer.id)).new[0].id
    r = client.post(
        f"/v1/alerts/{alert_id}/resolution",
        headers=officer,
        json={"resolution": "remediated", "reason": "seasonal dip, checked with the dealer"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["status"] == "resolved" and body["resolution_reason"] == "seasonal dip, checked with the dealer"
    )
    assert body["resolved_by"].startswith("risk_officer:")
    again = client.post(
        f"/v1/alerts/{alert_id}/resolution",
        headers=officer,
        json={"resolution": "remediated", "reason": "twice"},
    )
    assert again.status_code == 409 and again.json()["code"] == "alert_already_resolved"
    assert client.get("/v1/alerts", headers=officer).json()["items"] == []
    assert len(client.get("/v1/alerts", headers=officer, params={"status": "resolved"}).json()["items"]) == 1
    assert len(raise_(db, finding(dealer.id)).new) == 1  # the finding persists: a fresh alert
    with db.session() as s:
        assert s.scalar(select(AuditEntry.payload).where(AuditEntry.action == "alert.resolved")).count(
            "seasonal"
        )
    assert (
        client.post(
            "/v1/alerts/alr_nope/resolution",
            headers=officer,
            json={"resolution": "remediated", "reason": "x"},
        ).status_code
        == 404
    )


def test_resolution_can_unfreeze_the_line_the_alert_froze(db, client, officer):
    bank, dealer = make_bank(db), make_dealer(db)
    line_id = open_line(db, dealer, bank, "100000.00")
    raised = raise_(
        db, finding(dealer.id, "licence_expiring", Severity.CRITICAL, actions=(Action.FREEZE_LINE,))
    )
    assert raised.lines_frozen == [line_id] and line_figures(db, line_id)["status"] == "frozen"
    r = client.post(
        f"/v1/alerts/{raised.new[0].id}/resolution",
        headers=officer,
        json={"resolution": "remediated", "reason": "licence renewed", "unfreeze_lines": True},
    )
    assert r.status_code == 200, r.text
    assert line_figures(db, line_id)["status"] == "active"
    assert r.json()["actions_taken"][-1]["action"] == "unfreeze_line"
    assert line_figures(db, line_id)["limit"] == Decimal("100000.00")


def test_resolving_one_alert_leaves_frozen_a_line_another_open_alert_wants_frozen(db, client, officer):
    """The second freeze finds the line frozen already, so only the first alert records the freeze;
    unfreezing on the first one's resolution must not thaw a line the second, still open, calls to
    freeze — nothing would ever freeze it again while that alert stays open."""
    bank, dealer = make_bank(db), make_dealer(db)
    line_id = open_line(db, dealer, bank, "100000.00")
    licence = raise_(
        db, finding(dealer.id, "licence_expiring", Severity.CRITICAL, actions=(Action.FREEZE_LINE,))
    ).new[0]
    misuse = raise_(
        db, finding(dealer.id, "guarantee_expiring", Severity.CRITICAL, actions=(Action.FREEZE_LINE,))
    ).new[0]
    assert misuse.actions_taken == []  # the line was frozen already
    r = client.post(
        f"/v1/alerts/{licence.id}/resolution",
        headers=officer,
        json={"resolution": "remediated", "reason": "licence renewed", "unfreeze_lines": True},
    )
    assert r.status_code == 200, r.text
    assert line_figures(db, line_id)["status"] == "frozen"
    with db.session() as s:
        payload = s.scalar(select(AuditEntry.payload).where(AuditEntry.action == "alert.resolved"))
    assert misuse.id in payload and line_id in payload
    # resolving the last alert that wants it frozen thaws it
    r = client.post(
        f"/v1/alerts/{misuse.id}/resolution",
        headers=officer,
        json={"resolution": "remediated", "reason": "guarantee renewed", "unfreeze_lines": True},
    )
    assert r.status_code == 200, r.text
    assert line_figures(db, line_id)["status"] == "active"
