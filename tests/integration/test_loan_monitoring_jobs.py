"""The daily jobs against a real database: days past due moving a loan to overdue and default,
fund-usage alerts, early-warning alerts deduplicated with the line frozen once."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from compliance import audit
from compliance.models import AuditEntry
from loan_monitoring import jobs
from loan_monitoring.dates import BEIJING
from loan_monitoring.models import Alert, DelinquencySnapshot
from risk_engine.settings import Settings
from tests.factories import auth, make_api_key
from tests.loan_factories import disbursed_loan, ingest, line_figures, loan, loan_world

SETTINGS = Settings(env="test")


def at_half_past_midnight(day: date) -> datetime:
    """The delinquency job's slot on a Beijing business date."""
    return datetime.combine(day, time(0, 30), BEIJING).astimezone(UTC)


@pytest.fixture
def world(db, client):
    return loan_world(db, client.app.state.keys)


@pytest.fixture
def disbursed(db, client, world):
    """80,000 for 30 days, disbursed 200 days ago (Beijing dates)."""
    return disbursed_loan(db, client, world, auth(make_api_key(db, "bank", world.bank)), tenor_days=30)


def run_delinquency(db, day):
    return jobs.daily_delinquency(db, as_of=at_half_past_midnight(day), settings=SETTINGS)


def test_the_daily_job_moves_an_unpaid_loan_to_overdue_then_default(db, world, disbursed):
    due = loan(db, disbursed).due_on
    assert run_delinquency(db, due)["fall_overdue"] == 0  # due today: not yet past due
    assert loan(db, disbursed).state == "disbursed"

    result = run_delinquency(db, due + timedelta(days=1))
    assert result["fall_overdue"] == 1 and result["buckets"] == {"1-30": 1}
    row = loan(db, disbursed)
    assert (row.state, row.days_past_due, row.bucket) == ("overdue", 1, "1-30")

    run_delinquency(db, due + timedelta(days=90))
    row = loan(db, disbursed)
    assert (row.state, row.days_past_due, row.bucket) == ("overdue", 90, "61-90")

    result = run_delinquency(db, due + timedelta(days=91))
    assert result["default"] == 1
    row = loan(db, disbursed)
    assert (row.state, row.days_past_due, row.bucket) == ("defaulted", 91, "90+")
    assert row.defaulted_at is not None
    assert line_figures(db, world.line_id)["utilised"] == Decimal(
        "80000.00"
    )  # exposure stays until recovered

    with db.session() as s:
        snapshots = s.scalars(select(DelinquencySnapshot).order_by(DelinquencySnapshot.as_of)).all()
        assert [(x.days_past_due, x.bucket, x.state) for x in snapshots] == [
            (0, "current", "disbursed"),
            (1, "1-30", "overdue"),
            (90, "61-90", "overdue"),
            (91, "90+", "defaulted"),
        ]
        actions = [
            e.action
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.subject_id == disbursed).order_by(AuditEntry.seq)
            )
        ]
        assert actions == [
            "order_loan.approve",
            "order_loan.disburse",
            "order_loan.fall_overdue",
            "order_loan.default",
        ]
        assert audit.verify(s).intact


def test_a_loan_first_seen_beyond_90_days_goes_through_overdue_to_default_in_one_run(db, world, disbursed):
    due = loan(db, disbursed).due_on
    result = run_delinquency(db, due + timedelta(days=120))
    assert result["fall_overdue"] == 1 and result["default"] == 1
    assert loan(db, disbursed).state == "defaulted"


def test_rerunning_the_job_for_the_same_day_changes_nothing(db, world, disbursed):
    day = loan(db, disbursed).due_on + timedelta(days=5)
    run_delinquency(db, day)
    with db.session() as s:
        entries = len(s.scalars(select(AuditEntry.seq)).all())
    again = run_delinquency(db, day)
    assert again["fall_overdue"] == 0
    with db.session() as s:
        assert len(s.scalars(select(AuditEntry.seq)).all()) == entries
        assert len(s.scalars(select(DelinquencySnapshot)).all()) == 1


def test_paying_the_arrears_cures_an_overdue_loan(db, client, world, disbursed):
    due = loan(db, disbursed).due_on
    run_delinquency(db, due + timedelta(days=3))
    bank = auth(make_api_key(db, "bank", world.bank))
    payoff = client.get(f"/v1/order-loans/{disbursed}", headers=bank).json()["owed"]
    r = client.post(
        f"/v1/order-loans/{disbursed}/repayments",
        headers=bank,
        json={"reference": "R-1", "amount": payoff["total"], "paid_at": datetime.now(UTC).isoformat()},
    )
    assert r.status_code == 201, r.text
    assert Decimal(r.json()["to_penalty_interest"]) > 0
    assert loan(db, disbursed).state == "repaid"
    assert line_figures(db, world.line_id)["utilised"] == Decimal("0.00")


def test_early_warning_alerts_are_deduplicated_and_freeze_the_line_once(db, world, disbursed):
    due = loan(db, disbursed).due_on
    run_delinquency(db, due + timedelta(days=5))
    first = jobs.daily_early_warning(
        db, as_of=at_half_past_midnight(due + timedelta(days=5)), settings=SETTINGS
    )
    assert first["new"] == 1 and first["lines_frozen"] == 0  # 5 DPD: a warning, no action
    run_delinquency(db, due + timedelta(days=6))
    again = jobs.daily_early_warning(
        db, as_of=at_half_past_midnight(due + timedelta(days=6)), settings=SETTINGS
    )
    assert again["new"] == 0 and again["suppressed"] == 1
    with db.session() as s:
        [alert] = s.scalars(select(Alert).where(Alert.kind == "days_past_due")).all()
        assert alert.severity == "warning" and alert.occurrences == 2 and alert.evidence["metric"] == "5"

    run_delinquency(db, due + timedelta(days=31))
    worse = jobs.daily_early_warning(
        db, as_of=at_half_past_midnight(due + timedelta(days=31)), settings=SETTINGS
    )
    assert worse["escalated"] == 1 and worse["lines_frozen"] == 1
    assert line_figures(db, world.line_id)["status"] == "frozen"
    with db.session() as s:
        [alert] = s.scalars(select(Alert).where(Alert.kind == "days_past_due")).all()
        assert alert.severity == "critical" and "freeze_line" in alert.actions
        assert alert.actions_taken[0]["line_id"] == world.line_id
    jobs.daily_early_warning(db, as_of=at_half_past_midnight(due + timedelta(days=32)), settings=SETTINGS)
    with db.session() as s:
        assert len(s.scalars(select(Alert).where(Alert.kind == "days_past_due")).all()) == 1


def test_fund_usage_job_raises_no_delivery_and_amount_mismatch_with_evidence(db, world, disbursed):
    result = jobs.daily_fund_usage(db, as_of=datetime.now(UTC), settings=SETTINGS)
    assert result["new"] == 2
    with db.session() as s:
        alerts = {a.kind: a for a in s.scalars(select(Alert))}
    assert set(alerts) == {"no_delivery", "amount_mismatch"}
    assert alerts["no_delivery"].evidence["days_since_disbursement"] >= 199
    assert alerts["amount_mismatch"].evidence["received_total"] == "0.00"
    assert (
        alerts["amount_mismatch"].loan_id == disbursed and alerts["amount_mismatch"].bank_id == world.bank.id
    )
    # the goods arrive: the next run raises nothing new, the open alert stays for the officer
    ingest(
        db,
        {
            "type": "delivery",
            "external_id": "DL-1",
            "order": world.order.id,
            "delivered_at": datetime.now(UTC).isoformat(),
        },
    )
    assert jobs.daily_fund_usage(db, as_of=datetime.now(UTC), settings=SETTINGS)["new"] == 0


@pytest.fixture
def trade_features():
    """Stand-in for the scoring domain's features, fed to the early-warning job through its hook."""
    values: dict[str, dict] = {}

    def reader(session, dealer_ids, as_of):
        return {d: values[d] for d in dealer_ids if d in values}

    jobs.register_feature_reader(reader)
    yield values
    jobs.unregister_feature_reader(reader)


def test_trade_features_feed_early_warning_and_a_grade_notch_is_left_for_the_review(
    db, world, trade_features
):
    trade_features[world.dealer.id] = {
        "purchase_trend_3m": -62.5,
        "return_rate_3m": 0.02,
        "return_rate_12m": 0.02,
    }
    result = jobs.daily_early_warning(db, as_of=datetime.now(UTC), settings=SETTINGS)
    assert result["new"] == 1 and result["lines_frozen"] == 0
    with db.session() as s:
        [alert] = s.scalars(select(Alert)).all()
        assert alert.kind == "purchase_volume_drop" and alert.severity == "critical"
        assert alert.actions == ["notch_grade_at_next_review"]
        assert alert.evidence["features"] == {"purchase_trend_3m": "-62.5"}
        from loan_monitoring.alerting import pending_grade_notches

        assert [a.id for a in pending_grade_notches(s, world.dealer.id)] == [alert.id]
    assert line_figures(db, world.line_id)["status"] == "active"


def test_freezing_is_left_to_people_when_it_is_not_an_automatic_action(db, world, disbursed):
    due = loan(db, disbursed).due_on
    run_delinquency(db, due + timedelta(days=40))
    manual = Settings(env="test", alert_auto_actions=[])
    result = jobs.daily_early_warning(
        db, as_of=at_half_past_midnight(due + timedelta(days=40)), settings=manual
    )
    assert result["new"] == 1 and result["lines_frozen"] == 0
    assert line_figures(db, world.line_id)["status"] == "active"


def test_a_guarantor_at_its_capacity_warns_then_freezes_the_lines_it_backs(db, client):
    """Guarantor with 1m net assets: one client may have 100,000 guaranteed (10 %). A 150,000 line at
    coverage 0.60 is 90,000 guaranteed (0.90: warning); at 200,000 it is 120,000 (over: critical, freeze)."""
    from tests.factories import make_bank, make_dealer, make_guarantor
    from tests.loan_factories import open_line

    guarantor = make_guarantor(db, net_assets=Decimal("1000000.00"), coverage_ratio=Decimal("0.60"))
    bank = make_bank(db)
    dealer = make_dealer(db, keys=client.app.state.keys, guarantor_id=guarantor.id)
    line_id = open_line(db, dealer, bank, "150000.00")
    result = jobs.daily_early_warning(db, as_of=datetime.now(UTC), settings=SETTINGS)
    assert result["lines_frozen"] == 0
    with db.session() as s:
        [alert] = s.scalars(select(Alert).where(Alert.kind == "guarantor_capacity_exhausted")).all()
        assert (alert.severity, alert.evidence["metric"]) == ("warning", "0.9000")

    from limits import ledger

    with db.unit_of_work() as s:
        ledger.adjust_limit(s, line_id, Decimal("200000.00"), cause=ledger.Cause("test", "t"), actor="test")
    result = jobs.daily_early_warning(db, as_of=datetime.now(UTC), settings=SETTINGS)
    assert result["escalated"] == 1 and result["lines_frozen"] == 1
    assert line_figures(db, line_id)["status"] == "frozen"
