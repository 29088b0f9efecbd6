"""The operator-maintained LPR table behind the order-loan APR cap: a table whose confirmed period has run out
refers the application instead of capping it silently at the last known rate; an operator's confirmation or
a recorded fixing lets it through at the right cap; the platform's applied_at cannot pick an older, higher
LPR; every record is audited; the `risk-engine lpr` commands and the admin routes.

Rates marked *hypothetical* are made up for the tests: they are not published fixings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from compliance import audit
from compliance.models import AuditEntry
from loan_monitoring import lpr_records
from loan_monitoring.dates import business_date
from loan_monitoring.models import LprConfirmation, LprFixingRecord
from risk_engine import cli
from risk_engine.decisions.models import Decision
from risk_engine.errors import InvalidInput
from risk_engine.settings import Settings
from tests.factories import auth, make_api_key
from tests.loan_factories import confirm_lpr_table, loan_world

HYPOTHETICAL_PERCENT = Decimal("2.80")  # made up for the tests: not a published fixing


def today() -> date:
    return business_date(datetime.now(UTC))


@pytest.fixture
def platform(db):
    return auth(make_api_key(db, "platform"))


_keys = iter(range(10**6))


def apply(client, headers, world, **overrides):
    body = {"dealer_id": world.dealer.id, "bank_id": world.bank.id, "order_id": world.order.id,
            "amount": "80000.00", "tenor_days": 90}
    body.update(overrides)
    r = client.post("/v1/order-loans", headers={**headers, "Idempotency-Key": f"lpr-{next(_keys)}"}, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def apr_check(body):
    return next(c for c in body["checks"] if c["name"] == "apr_within_cap")


def record_fixing(db, effective_date, percent, *, source="hypothetical: made up for a test"):
    with db.unit_of_work() as s:
        return lpr_records.record_fixing(s, effective_date=effective_date, rate_percent=percent, source=source,
                                         actor="operator:test", today=today())


# --------------------------------------------------------------------------- the cap check


def test_an_application_after_the_tables_confirmed_period_is_referred_naming_that_date(db, client, platform):
    world = loan_world(db, client.app.state.keys, confirm_lpr=False)
    body = apply(client, platform, world)
    assert body["outcome"] == "refer" and body["state"] == "applied" and body["review_case_id"]
    assert body["failed_checks"] == ["apr_within_cap"] and body["reserved"] == "0.00"
    check = apr_check(body)
    assert check["on_failure"] == "refer"
    assert "2025-06-20" in check["reason_zh"] and "2025-06-20" in check["reason_en"]
    assert check["evidence"]["lpr_current"] is False and check["evidence"]["contract_date"] == today().isoformat()
    with db.session() as s:
        decision = s.get(Decision, body["decision_id"])
        recorded = json.loads(decision.inputs)["lpr"]
        reasons = json.loads(decision.explanation)["reasons"]
    assert recorded["confirmed_through"] == "2025-06-20" and recorded["current"] is False
    assert recorded["effective_date"] == "2025-05-20"
    assert reasons[0]["code"] == "apr_within_cap" and "2025-06-20" in reasons[0]["en"]


def test_an_operator_confirmation_through_today_approves_at_four_times_the_latest_rate(db, client, platform):
    world = loan_world(db, client.app.state.keys, confirm_lpr=False)
    confirm_lpr_table(db, today())
    body = apply(client, platform, world)
    assert body["outcome"] == "approve", body["failed_checks"]
    assert Decimal(body["apr_cap"]) == Decimal("0.12") and Decimal(body["lpr"]) == Decimal("0.03")
    assert body["lpr_effective_date"] == "2025-05-20" and body["lpr_confirmed_through"] == today().isoformat()
    evidence = apr_check(body)["evidence"]
    assert evidence["lpr_confirmed_through"] == today().isoformat() and evidence["lpr_current"] is True


def test_a_confirmation_older_than_the_grace_still_refers(db, client, platform):
    world = loan_world(db, client.app.state.keys, confirm_lpr=False)
    confirm_lpr_table(db, today() - timedelta(days=36))
    assert apply(client, platform, world)["outcome"] == "refer"


def test_a_recorded_fixing_sets_the_cap_of_applications_from_its_date(db, client, platform):
    world = loan_world(db, client.app.state.keys, confirm_lpr=False, apr=Decimal("0.1150"))
    effective = today() - timedelta(days=3)
    record_fixing(db, effective, HYPOTHETICAL_PERCENT)
    body = apply(client, platform, world)
    assert body["outcome"] == "decline" and body["failed_checks"] == ["apr_within_cap"]  # 11.50 % > 4 x 2.80 %
    assert Decimal(body["apr_cap"]) == Decimal("0.112") and body["lpr_effective_date"] == effective.isoformat()
    assert apr_check(body)["on_failure"] == "decline"


def test_a_recorded_fixing_approves_an_apr_within_its_cap(db, client, platform):
    world = loan_world(db, client.app.state.keys, confirm_lpr=False)  # the bank's APR: 6.50 %
    record_fixing(db, today() - timedelta(days=3), HYPOTHETICAL_PERCENT)
    body = apply(client, platform, world)
    assert body["outcome"] == "approve" and Decimal(body["lpr"]) == Decimal("0.028")


def test_a_backdated_applied_at_does_not_pick_an_older_higher_lpr(db, client, platform):
    """3.35 % was in force on 2024-10-01 (a 13.40 % cap); the engine decides today, at 3.00 % (12 %): a 13 %
    APR is declined whatever applied_at says, and applied_at is kept as information."""
    world = loan_world(db, client.app.state.keys, apr=Decimal("0.1300"))
    body = apply(client, platform, world, applied_at="2024-10-01T02:00:00Z")
    assert body["outcome"] == "decline" and body["failed_checks"] == ["apr_within_cap"]
    assert body["lpr_effective_date"] == "2025-05-20" and Decimal(body["apr_cap"]) == Decimal("0.12")
    evidence = apr_check(body)["evidence"]
    assert evidence["applied_on"] == "2024-10-01" and evidence["contract_date"] == today().isoformat()


# --------------------------------------------------------------------------- the records and their audit entries


def test_recording_a_fixing_and_a_confirmation_writes_their_audit_entries(db):
    fixing = record_fixing(db, date(2025, 5, 20), Decimal("3.00"), source="PBOC announcement of 2025-05-20")
    with db.unit_of_work() as s:
        confirmation = lpr_records.record_confirmation(
            s, through=date(2025, 9, 22), source="checked the NIFC announcements", actor="operator:test",
            today=today())
    with db.session() as s:
        entries = {e.action: e for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("lpr.%")))}
        assert audit.verify(s).intact
    assert entries["lpr.fixing_recorded"].seq == fixing.audit_seq
    assert entries["lpr.fixing_recorded"].actor == "operator:test"
    assert json.loads(entries["lpr.fixing_recorded"].payload) == {
        "effective_date": "2025-05-20", "one_year_lpr_percent": "3.00", "source": "PBOC announcement of 2025-05-20"}
    assert entries["lpr.confirmed"].seq == confirmation.audit_seq
    assert json.loads(entries["lpr.confirmed"].payload)["confirmed_through"] == "2025-09-22"


def test_a_record_whose_audit_entry_fails_is_not_kept(db, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError), db.unit_of_work() as s:
        lpr_records.record_confirmation(s, through=today(), source="x", actor="operator:test", today=today())
    with db.session() as s:
        assert s.scalars(select(LprConfirmation)).all() == []


@pytest.mark.parametrize(
    "record",
    [
        lambda s: lpr_records.record_fixing(s, effective_date=today() + timedelta(days=1), rate_percent=Decimal("3"),
                                            source="x", actor="t", today=today()),
        lambda s: lpr_records.record_confirmation(s, through=today() + timedelta(days=1), source="x", actor="t",
                                                  today=today()),
        lambda s: lpr_records.record_fixing(s, effective_date=today(), rate_percent=Decimal("30"), source="x",
                                            actor="t", today=today()),
        lambda s: lpr_records.record_fixing(s, effective_date=today(), rate_percent=Decimal("3.125"), source="x",
                                            actor="t", today=today()),
        lambda s: lpr_records.record_fixing(s, effective_date=date(2019, 8, 19), rate_percent=Decimal("4.31"),
                                            source="x", actor="t", today=today()),
        lambda s: lpr_records.record_confirmation(s, through=today(), source="  ", actor="t", today=today()),
    ],
    ids=["fixing-in-the-future", "confirmation-in-the-future", "implausible-rate", "three-decimals",
         "before-the-reformed-lpr", "no-source"],
)
def test_what_no_one_can_know_or_a_typing_error_is_refused(db, record):
    with pytest.raises(InvalidInput), db.unit_of_work() as s:
        record(s)
    with db.session() as s:
        assert s.scalars(select(LprFixingRecord)).all() == [] and s.scalars(select(LprConfirmation)).all() == []


def test_a_later_record_for_the_same_date_corrects_a_fixing(db):
    day = today() - timedelta(days=1)
    record_fixing(db, day, Decimal("2.75"))
    record_fixing(db, day, HYPOTHETICAL_PERCENT)
    with db.session() as s:
        table = lpr_records.lpr_table(s, Settings(env="test"))
    assert table.rate_on(today()) == Decimal("0.028") and table.confirmed_through == day


# --------------------------------------------------------------------------- risk-engine lpr …

runner = CliRunner()


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    from risk_engine import db as dbmod
    from risk_engine.settings import get_settings

    monkeypatch.setenv("RISK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    monkeypatch.setattr(dbmod, "_database", None)
    assert runner.invoke(cli.app, ["db", "upgrade"]).exit_code == 0
    yield
    get_settings.cache_clear()


def test_lpr_show_says_how_far_the_bundled_table_is_confirmed_and_warns_when_today_is_not(cli_database):
    r = runner.invoke(cli.app, ["lpr", "show"])
    assert r.exit_code == 0, r.output
    view = json.loads(r.stdout)
    assert view["confirmed_through"] == "2025-06-20" and view["grace_days"] == 35
    assert view["current_today"] is False and view["in_force_today"]["one_year_lpr_percent"] == "3.00"
    assert {f["origin"] for f in view["fixings"]} == {"bundled"}
    assert "confirmed only through 2025-06-20" in r.stderr


def test_lpr_confirm_and_add_record_audited_entries_that_show_lists(cli_database):
    r = runner.invoke(cli.app, ["lpr", "confirm", "--through", today().isoformat(), "--actor", "operator:alice"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["confirmed_through"] == today().isoformat()
    r = runner.invoke(cli.app, ["lpr", "add", "--effective", "2025-05-20", "--rate", "3.00",
                                "--source", "PBOC announcement of 2025-05-20"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["one_year_lpr_percent"].startswith("3.00")
    shown = runner.invoke(cli.app, ["lpr", "show"])
    view = json.loads(shown.stdout)
    assert view["current_today"] is True and view["confirmed_through"] == today().isoformat()
    assert "warning" not in shown.stderr
    assert [c["recorded_by"] for c in view["confirmations"]] == ["operator:alice"]
    assert view["recorded_fixings"][0]["source"] == "PBOC announcement of 2025-05-20"
    assert next(f for f in view["fixings"] if f["effective_date"] == "2025-05-20")["origin"] == "recorded"
    verified = runner.invoke(cli.app, ["audit", "verify"])
    assert verified.exit_code == 0 and json.loads(verified.stdout)["entries"] == 2


@pytest.mark.parametrize(
    "args, code, says",
    [
        (["lpr", "add", "--effective", "2025-13-01", "--rate", "3.00"], 2, "--effective"),
        (["lpr", "add", "--effective", "2025-05-20", "--rate", "three"], 2, "--rate"),
        (["lpr", "add", "--effective", "2025-05-20", "--rate", "30"], 1, "implausible"),
        (["lpr", "confirm", "--through", "2999-01-01"], 1, "after today"),
    ],
)
def test_lpr_commands_refuse_bad_input_in_one_line(cli_database, args, code, says):
    r = runner.invoke(cli.app, args)
    assert r.exit_code == code and says in r.stderr


# --------------------------------------------------------------------------- admin routes


@pytest.fixture
def lpr_client(db, settings):
    from api.app import create_app

    app = create_app(settings=settings, database=db)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_an_admin_reads_the_table_and_records_a_confirmation_and_a_fixing(db, lpr_client):
    admin = auth(make_api_key(db, "admin"))
    view = lpr_client.get("/v1/lpr", headers=admin).json()
    assert view["confirmed_through"] == "2025-06-20" and view["current_today"] is False
    r = lpr_client.post("/v1/lpr/confirmations", headers={**admin, "Idempotency-Key": "c1"},
                        json={"confirmed_through": today().isoformat(), "source": "checked the announcements"})
    assert r.status_code == 201, r.text
    assert r.json()["current_today"] is True and r.json()["confirmations"][0]["recorded_by"].startswith("admin:")
    r = lpr_client.post("/v1/lpr/fixings", headers={**admin, "Idempotency-Key": "f1"},
                        json={"effective_date": "2025-05-20", "rate_percent": "3.00"})
    assert r.status_code == 201, r.text
    again = lpr_client.post("/v1/lpr/fixings", headers={**admin, "Idempotency-Key": "f1"},
                            json={"effective_date": "2025-05-20", "rate_percent": "3.00"})
    assert again.json() == r.json()  # replayed, not recorded twice
    with db.session() as s:
        assert len(s.scalars(select(LprFixingRecord)).all()) == 1


def test_the_lpr_routes_are_for_admins_and_refuse_an_implausible_rate(db, lpr_client):
    platform = auth(make_api_key(db, "platform"))
    admin = auth(make_api_key(db, "admin"))
    assert lpr_client.get("/v1/lpr", headers=platform).status_code == 403
    r = lpr_client.post("/v1/lpr/fixings", headers={**admin, "Idempotency-Key": "bad"},
                        json={"effective_date": today().isoformat(), "rate_percent": "30"})
    assert r.status_code == 422 and "rate_percent" in r.text
    future = lpr_client.post("/v1/lpr/confirmations", headers={**admin, "Idempotency-Key": "future"},
                             json={"confirmed_through": (today() + timedelta(days=1)).isoformat()})
    assert future.status_code == 422 and future.json()["code"] == "time_in_future"


def test_a_date_no_one_can_know_yet_is_a_problem_naming_the_body_field_sent(db, lpr_client):
    admin = auth(make_api_key(db, "admin"))
    tomorrow = (today() + timedelta(days=1)).isoformat()
    confirmation = lpr_client.post("/v1/lpr/confirmations", headers={**admin, "Idempotency-Key": "c-future"},
                                   json={"confirmed_through": tomorrow})
    fixing = lpr_client.post("/v1/lpr/fixings", headers={**admin, "Idempotency-Key": "f-future"},
                             json={"effective_date": tomorrow, "rate_percent": "3.00"})
    old = lpr_client.post("/v1/lpr/fixings", headers={**admin, "Idempotency-Key": "f-old"},
                          json={"effective_date": "2019-08-19", "rate_percent": "4.31"})
    assert [r.status_code for r in (confirmation, fixing, old)] == [422, 422, 422]
    assert confirmation.json()["errors"][0]["field"] == "body.confirmed_through"
    assert fixing.json()["errors"][0]["field"] == "body.effective_date"
    assert old.json()["errors"][0]["field"] == "body.effective_date"


def test_the_records_an_admin_reads_carry_their_times_in_rfc3339_utc(db, lpr_client):
    admin = auth(make_api_key(db, "admin"))
    r = lpr_client.post("/v1/lpr/confirmations", headers={**admin, "Idempotency-Key": "c-z"},
                        json={"confirmed_through": today().isoformat()})
    assert r.json()["confirmations"][0]["recorded_at"].endswith("Z"), r.json()["confirmations"][0]
