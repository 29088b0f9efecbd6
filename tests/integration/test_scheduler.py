"""The scheduler: every job runnable once from the CLI; each scheduled slot runs once across schedulers
and restarts; a failed or abandoned slot is picked up again."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from risk_engine import cli, scheduler
from risk_engine.errors import Conflict
from risk_engine.scheduler import JobRun
from risk_engine.settings import Settings

runner = CliRunner()
NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # 11:00 in Beijing


@pytest.fixture
def use_db(db, monkeypatch):
    from risk_engine import db as dbmod

    monkeypatch.setattr(dbmod, "_database", db)
    return db


@pytest.fixture
def keys_dir(tmp_path, monkeypatch):
    from risk_engine.settings import get_settings

    monkeypatch.setenv("RISK_KEYS_DIR", str(tmp_path / "keys"))
    get_settings.cache_clear()
    yield tmp_path / "keys"
    get_settings.cache_clear()


@pytest.fixture
def counting_job():
    """A job registered for the test only, counting its runs (and failing on demand)."""
    calls: list[datetime] = []
    state = {"fail": False}

    @scheduler.scheduled("test_counting_job", cron="0 * * * *", description="test only")
    def job(db, *, as_of, settings):
        calls.append(as_of)
        if state["fail"] == "domain":
            raise Conflict("the champion is missing", code="model_unavailable")
        if state["fail"]:
            raise RuntimeError("boom")
        return {"calls": len(calls)}

    yield calls, state
    scheduler._REGISTRY.pop("test_counting_job", None)


def runs(db, job):
    with db.session() as s:
        return list(s.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))


def test_jobs_list_names_every_registered_job(use_db):
    r = runner.invoke(cli.app, ["jobs", "list"])
    assert r.exit_code == 0, r.output
    names = {json.loads(line)["job"] for line in r.stdout.splitlines()}
    assert {
        "loan_delinquency_daily",
        "loan_fund_usage_daily",
        "early_warning_daily",
        "idempotency_purge",
        "credit_line_expiry_daily",
    } <= names


@pytest.mark.parametrize(
    "job",
    [
        "loan_delinquency_daily",
        "loan_fund_usage_daily",
        "early_warning_daily",
        "idempotency_purge",
        "audit_checkpoint",
        "credit_line_expiry_daily",
    ],
)
def test_each_job_runs_once_from_the_cli(use_db, job, keys_dir):
    r = runner.invoke(cli.app, ["jobs", "run", job, "--as-of", "2026-03-01T16:30:00Z"])
    assert r.exit_code == 0, r.output
    outcome = json.loads(r.stdout)
    assert outcome["status"] == "succeeded" and outcome["job"] == job
    [run] = runs(use_db, job)
    assert run.trigger == "manual" and run.status == "succeeded" and run.finished_at is not None


def test_scheduler_run_once_runs_the_job_and_exits(use_db):
    r = runner.invoke(cli.app, ["scheduler", "--run-once", "idempotency_purge"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["result"] == {"purged": 0}


def test_an_unknown_job_is_refused_naming_the_known_ones(use_db):
    r = runner.invoke(cli.app, ["jobs", "run", "nightly_magic"])
    assert r.exit_code == 2
    assert "loan_delinquency_daily" in r.output


def test_a_failing_job_exits_non_zero_and_is_recorded_as_failed(use_db, counting_job):
    calls, state = counting_job
    state["fail"] = True
    r = runner.invoke(cli.app, ["jobs", "run", "test_counting_job"])
    assert r.exit_code == 1
    [run] = runs(use_db, "test_counting_job")
    assert run.status == "failed" and "boom" in run.error


def test_a_job_refused_by_a_domain_error_is_a_failed_run_exit_1_not_a_usage_error(use_db, counting_job):
    _, state = counting_job
    state["fail"] = "domain"
    r = runner.invoke(cli.app, ["jobs", "run", "test_counting_job"])
    assert r.exit_code == 1 and "job test_counting_job failed: the champion is missing" in r.output
    [run] = runs(use_db, "test_counting_job")
    assert run.status == "failed"


def test_a_scheduled_slot_runs_once_however_often_it_fires(db, counting_job):
    calls, _ = counting_job
    settings = Settings(env="test")
    first = scheduler.run_scheduled_slot(db, settings, "test_counting_job", NOW + timedelta(minutes=5))
    second = scheduler.run_scheduled_slot(db, settings, "test_counting_job", NOW + timedelta(minutes=40))
    assert first.status == "succeeded" and second.status == "skipped"
    assert first.slot == NOW and calls == [NOW]
    third = scheduler.run_scheduled_slot(
        db, settings, "test_counting_job", NOW + timedelta(hours=1, minutes=1)
    )
    assert third.status == "succeeded" and third.slot == NOW + timedelta(hours=1)
    assert len(runs(db, "test_counting_job")) == 2


def test_a_failed_slot_is_run_again_by_the_next_firing(db, counting_job):
    calls, state = counting_job
    settings = Settings(env="test")
    state["fail"] = True
    assert scheduler.run_scheduled_slot(db, settings, "test_counting_job", NOW).status == "failed"
    state["fail"] = False
    again = scheduler.run_scheduled_slot(db, settings, "test_counting_job", NOW + timedelta(minutes=1))
    assert again.status == "succeeded"
    [run] = runs(db, "test_counting_job")
    assert run.status == "succeeded" and run.attempts == 2 and run.error is None


def test_a_slot_abandoned_by_a_crashed_scheduler_is_taken_over_after_its_lease(db, counting_job):
    calls, _ = counting_job
    settings = Settings(env="test")
    with db.unit_of_work() as s:
        s.add(
            JobRun(
                job="test_counting_job",
                slot=NOW,
                trigger="schedule",
                status="running",
                runner="gone:1",
                attempts=1,
                started_at=NOW,
                lease_until=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    assert scheduler.run_scheduled_slot(db, settings, "test_counting_job", NOW).status == "skipped"
    with db.unit_of_work() as s:
        s.execute(update(JobRun).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert scheduler.run_scheduled_slot(db, settings, "test_counting_job", NOW).status == "succeeded"
    assert calls == [NOW]


def test_catch_up_at_start_runs_each_jobs_latest_slot_unless_it_succeeded(db, counting_job):
    calls, _ = counting_job
    settings = Settings(env="test")
    outcomes = {o.job: o for o in scheduler.catch_up(db, settings, NOW + timedelta(minutes=10))}
    assert outcomes["test_counting_job"].status == "succeeded"
    assert "test_counting_job" not in {
        o.job for o in scheduler.catch_up(db, settings, NOW + timedelta(minutes=20))
    }
    assert calls == [NOW]


@pytest.mark.postgres
def test_two_schedulers_started_together_run_each_slot_exactly_once(pg_db, counting_job):
    calls, _ = counting_job
    settings = Settings(env="test")
    start = threading.Barrier(4)
    outcomes = []

    def one_scheduler():
        start.wait()
        outcomes.append(scheduler.run_scheduled_slot(pg_db, settings, "test_counting_job", NOW))

    threads = [threading.Thread(target=one_scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status for o in outcomes) == ["skipped", "skipped", "skipped", "succeeded"]
    assert calls == [NOW]
    assert [r.status for r in runs(pg_db, "test_counting_job")] == ["succeeded"]
