"""The scheduler: ``risk-engine scheduler`` is the ONE process that runs scheduled jobs.

Jobs are plain functions in each domain's ``jobs.py`` — ``func(db, *, as_of, settings) -> dict`` —
that open their own units of work (commit or roll back) and are idempotent: run twice for the same
``as_of`` they change nothing the second time. A domain registers its jobs with ``@scheduled(...)``
and adds its module to ``JOB_MODULES`` (the hook list): ``loan_monitoring.jobs`` is there; the audit
checkpoint and model monitoring jobs register the same way.

Slots: every firing is for a *scheduled slot*, the trigger's latest fire time at or before now, and
is claimed by inserting ``job_run (job, slot)`` under a unique index. A second scheduler, a restart or
a late firing that finds the slot claimed does nothing, so each slot runs once (on PostgreSQL the
second insert waits for the first and then fails on the index). A slot whose run failed, or whose
runner vanished (its lease ran out), is claimed again by the next firing or by the catch-up at start,
which runs each job's latest slot unless it succeeded: jobs resume after a crash.

Manual runs (``risk-engine jobs run JOB`` / ``risk-engine scheduler --run-once JOB``) always run, for
``as_of`` = now unless given, and are recorded with ``trigger = 'manual'`` outside the slot index.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import Base, Database, UTCDateTime, utcnow
from risk_engine.errors import NotFound
from risk_engine.settings import Settings

log = logging.getLogger("risk_engine.scheduler")

# The hook list: modules whose import registers scheduled jobs (``@scheduled``).
JOB_MODULES: list[str] = [
    "risk_engine.scheduler",
    "loan_monitoring.jobs",
    "scoring.jobs",
    "limits.jobs",
]

_LOOKBACK = timedelta(days=2)  # how far back the latest slot of a trigger is searched


class JobRun(Base):
    """One run of a job: for a scheduled slot (unique per job) or a manual run."""

    __tablename__ = "job_run"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status_known"),
        CheckConstraint("trigger IN ('schedule', 'manual')", name="trigger_known"),
        Index(
            "uq_job_run_scheduled_slot",
            "job",
            "slot",
            unique=True,
            sqlite_where=text("trigger = 'schedule'"),
            postgresql_where=text("trigger = 'schedule'"),
        ),
        Index("ix_job_run_job_started", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    slot: Mapped[datetime] = mapped_column(UTCDateTime, doc="the scheduled time this run is for (its as_of)")
    trigger: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10))
    runner: Mapped[str] = mapped_column(String(128), doc="host:pid of the process that ran it")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime] = mapped_column(
        UTCDateTime, doc="after this a running slot counts as crashed"
    )
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


JobFunction = Callable[..., Mapping[str, Any] | None]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    func: JobFunction
    cron: str  # crontab expression in the scheduler's time zone (settings.scheduler_timezone)
    description: str

    def trigger(self, timezone: str) -> Any:
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger.from_crontab(self.cron, timezone=timezone)


_REGISTRY: dict[str, ScheduledJob] = {}


def scheduled(name: str, *, cron: str, description: str) -> Callable[[JobFunction], JobFunction]:
    """Register ``func`` as the job ``name``, fired on ``cron``; the function is returned unchanged."""

    def register(func: JobFunction) -> JobFunction:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.func is not func:
            raise ValueError(f"job {name!r} is registered twice")
        _REGISTRY[name] = ScheduledJob(name, func, cron, description)
        return func

    return register


def registered_jobs() -> dict[str, ScheduledJob]:
    """Every job of every module in ``JOB_MODULES``, by name."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))


def get_job(name: str) -> ScheduledJob:
    jobs = registered_jobs()
    if name not in jobs:
        raise NotFound(f"no job {name!r}; jobs: {', '.join(jobs)}", field="job", code="unknown_job")
    return jobs[name]


def latest_slot(job: ScheduledJob, now: datetime, timezone: str) -> datetime | None:
    """The trigger's latest fire time at or before ``now`` (UTC), within the last two days."""
    trigger = job.trigger(timezone)
    fire = trigger.get_next_fire_time(None, now - _LOOKBACK)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return None if latest is None else latest.astimezone(UTC)


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class RunOutcome:
    job: str
    slot: datetime
    status: str  # succeeded, failed, skipped (the slot was claimed elsewhere or already done)
    result: Mapping[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "slot": self.slot.isoformat(),
            "status": self.status,
            "result": dict(self.result) if self.result is not None else None,
            "error": self.error,
        }


def _claim(db: Database, job: str, slot: datetime, trigger: str, lease: timedelta) -> int | None:
    """Insert the run; for a scheduled slot already claimed, take it over only if it failed or its runner's
    lease ran out. Returns the run id, or None when the slot is not ours to run."""
    now = utcnow()
    try:
        with db.unit_of_work() as session:
            run = JobRun(
                job=job,
                slot=slot,
                trigger=trigger,
                status="running",
                runner=runner_name(),
                attempts=1,
                started_at=now,
                lease_until=now + lease,
            )
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:
        if trigger != "schedule":
            raise
    with db.unit_of_work() as session:
        run_id = session.scalar(
            update(JobRun)
            .where(
                JobRun.job == job,
                JobRun.slot == slot,
                JobRun.trigger == "schedule",
                (JobRun.status == "failed") | ((JobRun.status == "running") & (JobRun.lease_until < now)),
            )
            .values(
                status="running",
                runner=runner_name(),
                attempts=JobRun.attempts + 1,
                started_at=now,
                lease_until=now + lease,
                finished_at=None,
                error=None,
            )
            .returning(JobRun.id)
        )
        return run_id


def _finish(
    db: Database, run_id: int, status: str, result: Mapping[str, Any] | None, error: str | None
) -> None:
    with db.unit_of_work() as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(
                status=status,
                finished_at=utcnow(),
                result=None if result is None else dict(result),
                error=error,
            )
        )


def run_job(
    db: Database, settings: Settings, name: str, *, as_of: datetime | None = None, trigger: str = "manual"
) -> RunOutcome:
    """Run ``name`` once for ``as_of`` (a scheduled slot when ``trigger='schedule'``), recording the run."""
    job = get_job(name)
    slot = as_of or utcnow()
    run_id = _claim(db, job.name, slot, trigger, timedelta(seconds=settings.job_lease_seconds))
    if run_id is None:
        log.info("job slot already claimed", extra={"job": name, "slot": slot.isoformat()})
        return RunOutcome(job.name, slot, "skipped")
    try:
        result = job.func(db, as_of=slot, settings=settings) or {}
    except Exception as exc:  # recorded, then re-raised for the caller (the CLI exits non-zero)
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _finish(db, run_id, "failed", None, error)
        log.exception("job failed", extra={"job": name, "slot": slot.isoformat()})
        raise
    _finish(db, run_id, "succeeded", result, None)
    return RunOutcome(job.name, slot, "succeeded", result)


def run_scheduled_slot(
    db: Database, settings: Settings, name: str, now: datetime | None = None
) -> RunOutcome | None:
    """What a firing does: run the job's latest slot unless it is claimed or done."""
    job = get_job(name)
    slot = latest_slot(job, now or utcnow(), settings.scheduler_timezone)
    if slot is None:
        return None
    try:
        return run_job(db, settings, name, as_of=slot, trigger="schedule")
    except Exception:
        return RunOutcome(name, slot, "failed", error="see the job_run row and the log")


def catch_up(db: Database, settings: Settings, now: datetime | None = None) -> list[RunOutcome]:
    """At start: run every job's latest slot that has not succeeded (missed while down, or crashed)."""
    now = now or utcnow()
    outcomes = []
    for name, job in registered_jobs().items():
        slot = latest_slot(job, now, settings.scheduler_timezone)
        if slot is None:
            continue
        with db.session() as session:
            done = session.scalar(
                select(JobRun.id).where(
                    JobRun.job == name,
                    JobRun.slot == slot,
                    JobRun.trigger == "schedule",
                    JobRun.status == "succeeded",
                )
            )
        if done is None:
            outcome = run_scheduled_slot(db, settings, name, now)
            if outcome is not None:
                outcomes.append(outcome)
    return outcomes


def serve(
    db: Database, settings: Settings
) -> None:  # pragma: no cover - blocks; exercised by run_scheduled_slot
    """Run the APScheduler 3 ``BlockingScheduler`` with every registered job until interrupted."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(
        timezone=settings.scheduler_timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for name, job in registered_jobs().items():
        scheduler.add_job(
            run_scheduled_slot,
            trigger=job.trigger(settings.scheduler_timezone),
            args=[db, settings, name],
            id=name,
            name=job.description,
            replace_existing=True,
        )
        log.info("job scheduled", extra={"job": name, "cron": job.cron})
    for outcome in catch_up(db, settings):
        log.info("catch-up run", extra=outcome.as_dict())
    scheduler.start()


def recent_runs(db: Database, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    with db.session() as session:
        statement = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
        if job:
            statement = statement.where(JobRun.job == job)
        return [
            {
                "job": r.job,
                "slot": r.slot.isoformat(),
                "trigger": r.trigger,
                "status": r.status,
                "runner": r.runner,
                "attempts": r.attempts,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "result": r.result,
                "error": r.error,
            }
            for r in session.scalars(statement)
        ]


# --------------------------------------------------------------------------- built-in jobs


@scheduled(
    "idempotency_purge",
    cron="15 * * * *",
    description="delete stored Idempotency-Key responses past their expiry",
)
def purge_idempotency_keys(db: Database, *, as_of: datetime, settings: Settings) -> dict[str, Any]:
    from api.idempotency import purge_expired

    with db.unit_of_work() as session:
        return {"purged": purge_expired(session)}


@scheduled(
    "audit_checkpoint",
    cron="45 * * * *",
    description="sign a checkpoint (RFC 9162 tree head) over the audit trail when it grew",
)
def audit_checkpoint(db: Database, *, as_of: datetime, settings: Settings) -> dict[str, Any]:
    from compliance.checkpoints import checkpoint_now
    from compliance.keys import key_provider_for

    checkpoint = checkpoint_now(db, key_provider_for(settings))
    return {"tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash}
