"""Alerts and order loans through the console: listed with the same filters as GET /v1/alerts, resolved
with a reason through alerting.resolve_alert (audited alike); the dealer page shows its loans with the
fund-usage trace, and the portfolio counts delinquency buckets and open alerts by kind."""

from __future__ import annotations

import re

from sqlalchemy import select

from compliance.models import AuditEntry
from loan_monitoring import alerting
from loan_monitoring.alerts import Alert, Severity
from tests.factories import factory_keys, make_api_key, make_dealer
from tests.integration.test_console_access import csrf_of, log_in
from tests.loan_factories import loan_world, make_approved_loan


def finding(dealer_id: str, kind: str = "purchase_volume_drop", severity=Severity.WARNING) -> Alert:
    return Alert(
        kind,
        severity,
        f"dealer:{dealer_id}:ews:{kind}",
        "采购额下降",
        "Purchases fell 42%",
        {"metric": "-42"},
        (),
        dealer_id=dealer_id,
    )


def raise_(db, *findings) -> None:
    with db.unit_of_work() as s:
        alerting.raise_alerts(s, findings, source="early_warning", actor="test")


def test_an_officer_resolves_an_alert_with_a_reason_and_it_is_audited(client, db):
    dealer = make_dealer(db, name="Riverside Trading Co.")
    raise_(db, finding(dealer.id), finding(dealer.id, "return_spike", Severity.CRITICAL))
    log_in(client, make_api_key(db, "risk_officer", name="Officer Wang"))
    page = client.get("/console/alerts")
    assert page.status_code == 200
    assert page.text.count("data-alert=") == 2 and "Purchases fell 42%" in page.text
    only = client.get("/console/alerts", params={"severity": "critical"})
    assert only.text.count("data-alert=") == 1 and "return_spike" in only.text
    alert_id = re.search(r'data-alert="([^"]+)"', only.text).group(1)

    refused = client.post(
        f"/console/alerts/{alert_id}/resolution",
        data={"csrf_token": csrf_of(page.text), "resolution": "confirmed", "reason": " "},
    )
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    r = client.post(
        f"/console/alerts/{alert_id}/resolution",
        data={
            "csrf_token": csrf_of(page.text),
            "resolution": "false_positive",
            "reason": "seasonal returns, agreed with the supplier",
            "next": "/console/alerts",
        },
        follow_redirects=True,
    )
    assert "The alert is resolved." in r.text and r.text.count("data-alert=") == 1
    with db.session() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.subject_id == alert_id).order_by(AuditEntry.seq)
        ).all()[-1]
        assert entry.action == "alert.resolved" and "seasonal returns" in entry.payload
    again = client.post(
        f"/console/alerts/{alert_id}/resolution",
        data={"csrf_token": csrf_of(page.text), "resolution": "confirmed", "reason": "x"},
    )
    assert again.status_code == 409 and "already resolved" in again.text


def test_the_dealer_page_lists_loans_and_alerts_and_the_portfolio_counts_them(client, db):
    world = loan_world(db, factory_keys())
    loan_id = make_approved_loan(db, world.dealer, world.bank, world.order, world.line_id)
    raise_(db, finding(world.dealer.id))
    log_in(client, make_api_key(db, "risk_officer"))
    page = client.get(f"/console/dealers/{world.dealer.id}")
    assert page.status_code == 200, page.text
    assert f'data-loan="{loan_id}"' in page.text and "approved" in page.text
    assert "Purchases fell 42%" in page.text
    portfolio = client.get("/console/portfolio").text
    assert 'id="delinquency"' in portfolio and "1-30" in portfolio and "90+" in portfolio
    kinds = portfolio[portfolio.index('id="alerts-by-kind"') :]
    assert "purchase_volume_drop" in kinds
