"""GET /v1/portfolio?as_of=YYYY-MM-DD: the book as it stood at the end of that Beijing business day; a
date that is not one, or lies ahead, is a problem naming ``as_of``; ``as_of`` is answered as every time
of the API is (RFC 3339 UTC, ``Z``) with the business date beside it. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from limits import ledger
from limits.models import CreditMovement
from loan_monitoring import alerting, portfolio
from loan_monitoring.alerts import Alert as Finding
from loan_monitoring.alerts import Severity
from loan_monitoring.dates import business_date
from loan_monitoring.models import Alert
from risk_engine.db import utcnow
from tests.factories import auth, make_api_key, make_bank, make_dealer

D = Decimal
CAUSE = ledger.Cause("test", "portfolio-as-of")


@pytest.fixture
def officer(db):
    return auth(make_api_key(db, "risk_officer"))


def backdate_movements(db, line_id: str, at: datetime) -> None:
    with db.unit_of_work() as s:
        s.execute(update(CreditMovement).where(CreditMovement.line_id == line_id).values(at=at))


def test_a_portfolio_without_as_of_is_read_now_and_says_so_in_rfc3339_utc(client, db, officer):
    before = utcnow()
    body = client.get("/v1/portfolio", headers=officer).json()
    assert body["as_of"].endswith("Z")
    assert before <= datetime.fromisoformat(body["as_of"]) <= utcnow()
    assert body["as_of_date"] == business_date(datetime.fromisoformat(body["as_of"])).isoformat()


@pytest.mark.parametrize("garbage", ["yesterday", "2026-13-01", "2026-02-30", "20260301x", ""])
def test_an_as_of_that_is_not_an_iso_date_is_a_problem_naming_as_of(client, db, officer, garbage):
    r = client.get("/v1/portfolio", params={"as_of": garbage}, headers=officer)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["query.as_of"]


def test_an_as_of_in_the_future_is_a_problem_naming_as_of(client, db, officer):
    tomorrow = business_date(utcnow()) + timedelta(days=1)
    r = client.get("/v1/portfolio", params={"as_of": tomorrow.isoformat()}, headers=officer)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.as_of"


def test_as_of_today_is_the_book_read_now(client, db, officer):
    today = business_date(utcnow())
    body = client.get("/v1/portfolio", params={"as_of": today.isoformat()}, headers=officer).json()
    assert body["as_of_date"] == today.isoformat()
    assert datetime.fromisoformat(body["as_of"]) <= utcnow()


def test_a_past_as_of_shows_the_lines_as_they_stood_at_the_end_of_that_beijing_day(client, db, officer):
    bank = make_bank(db, name="North Bank")
    old_dealer, new_dealer = make_dealer(db), make_dealer(db)
    with db.unit_of_work() as s:
        old = ledger.open_line(s, dealer_id=old_dealer.id, bank_id=bank.id, limit=D("300000.00"), grade="A",
                               cause=CAUSE, actor="test")
        ledger.reserve(s, old.id, D("1000.10"), cause=CAUSE, actor="test")
        new = ledger.open_line(s, dealer_id=new_dealer.id, bank_id=bank.id, limit=D("50000.00"), grade="A",
                               cause=CAUSE, actor="test")
        old_id, new_id = old.id, new.id
    # the old line was opened and reserved on 1 March (Beijing), the new one on 3 March
    backdate_movements(db, old_id, datetime(2026, 3, 1, 15, 59, tzinfo=UTC))  # 23:59 on 1 March in Beijing
    backdate_movements(db, new_id, datetime(2026, 3, 2, 16, 0, tzinfo=UTC))   # 00:00 on 3 March in Beijing
    with db.unit_of_work() as s:  # today: more reserved on the old line
        ledger.reserve(s, old_id, D("5000.00"), cause=CAUSE, actor="test")

    past = client.get("/v1/portfolio", params={"as_of": "2026-03-02"}, headers=officer).json()
    assert past["as_of_date"] == "2026-03-02"
    assert past["as_of"] == "2026-03-02T16:00:00Z"  # the end of 2 March in Beijing
    assert past["exposure_by_grade"] == [
        {"key": "A", "label": "A", "lines": 1, "limit": "300000.00", "exposure": "1000.10"}]
    assert past["exposure_by_bank"] == [
        {"key": bank.id, "label": "North Bank", "lines": 1, "limit": "300000.00", "exposure": "1000.10"}]

    before_any = client.get("/v1/portfolio", params={"as_of": "2026-02-28"}, headers=officer).json()
    assert before_any["exposure_by_grade"] == [] and before_any["exposure_by_bank"] == []

    now = client.get("/v1/portfolio", headers=officer).json()
    assert now["exposure_by_grade"] == [
        {"key": "A", "label": "A", "lines": 2, "limit": "350000.00", "exposure": "6000.10"}]


def test_a_past_as_of_counts_the_alerts_that_were_open_at_the_end_of_that_day(db):
    dealer = make_dealer(db)
    with db.unit_of_work() as s:
        alerting.raise_alerts(
            s, [Finding("return_spike", Severity.WARNING, f"dealer:{dealer.id}:return_spike:{i}", "提示",
                        "a finding", {}, (), dealer_id=dealer.id) for i in range(2)],
            source="early_warning", actor="test")
    with db.unit_of_work() as s:
        first, second = s.query(Alert).order_by(Alert.id).all()
        first.raised_at = second.raised_at = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
        s.flush()
        alerting.resolve_alert(s, first.id, resolution="remediated", reason="explained", actor="test")
        first.resolved_at = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    with db.session() as s:
        on_the_2nd = portfolio.portfolio(s, as_of=date(2026, 3, 2))
        on_the_3rd = portfolio.portfolio(s, as_of=date(2026, 3, 3))
        on_feb_28 = portfolio.portfolio(s, as_of=date(2026, 2, 28))
    assert [(k.kind, k.total) for k in on_the_2nd.open_alerts_by_kind] == [("return_spike", 2)]
    assert [(k.kind, k.total) for k in on_the_3rd.open_alerts_by_kind] == [("return_spike", 1)]
    assert on_feb_28.open_alerts_by_kind == []


def test_a_past_as_of_shows_the_loans_in_the_buckets_that_days_delinquency_run_recorded(db, client):
    from loan_monitoring.delinquency import Bucket
    from tests.integration.test_loan_monitoring_jobs import run_delinquency
    from tests.loan_factories import disbursed_loan, loan, loan_world

    world = loan_world(db, client.app.state.keys)
    bank = auth(make_api_key(db, "bank", world.bank))
    disbursed = disbursed_loan(db, client, world, bank, amount="80000.01", tenor_days=30)
    due = loan(db, disbursed).due_on
    run_delinquency(db, due + timedelta(days=5))
    run_delinquency(db, due + timedelta(days=40))

    def buckets(day):
        with db.session() as s:
            return {b.bucket: (b.loans, b.outstanding) for b in portfolio.portfolio(s, as_of=day).delinquency_buckets
                    if b.loans}

    assert buckets(due + timedelta(days=5)) == {Bucket.DPD_1_30: (1, D("80000.01"))}
    assert buckets(due + timedelta(days=40)) == {Bucket.DPD_31_60: (1, D("80000.01"))}
    assert buckets(due + timedelta(days=6)) == {}  # no run recorded that day
