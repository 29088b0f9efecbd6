"""Scheduled jobs of the scoring domain, and the feature reader the early-warning job uses."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from loan_monitoring import jobs as loan_jobs
from risk_engine.db import Database
from risk_engine.scheduler import scheduled
from risk_engine.settings import Settings
from scoring.monitoring import monitoring_report
from scoring.snapshots import features_of_dealers, refresh_industry_seasonality

log = logging.getLogger("risk_engine.scoring")


@contextmanager
def early_warning_reads_trade_features() -> Iterator[None]:
    """While open, the early-warning job reads the same point-in-time features a decision scores, as of
    the job's ``as_of``, a batch of dealers at a time (``features_of_dealers``). Nothing is stored: a
    feature snapshot records what a decision scored, and an alert carries its figures in its evidence.
    The scheduler and `risk-engine jobs run` open it; a plain import changes nothing."""
    loan_jobs.register_feature_reader(features_of_dealers)
    try:
        yield
    finally:
        loan_jobs.unregister_feature_reader(features_of_dealers)


@scheduled("model_monitoring_daily", cron="0 3 * * *",
           description="PSI of the champion's inputs and PD on the last 30 days' decisions; matured AUC")
def daily_model_monitoring(db: Database, *, as_of: datetime, settings: Settings) -> dict[str, Any]:
    with db.session() as session:
        report = monitoring_report(session, settings.models_dir, now=as_of)
    score = report.get("psi_score") or {}
    if score.get("level") in ("investigate", "significant"):
        log.warning("model score PSI %s is %s", score.get("psi"), score.get("level"))
    return report


@scheduled("industry_seasonality_daily", cron="15 0 * * *",
           description="the month's industry seasonal index, stored once for every decision and job of the month")
def daily_industry_seasonality(db: Database, *, as_of: datetime, settings: Settings) -> dict[str, Any]:
    """Store (or correct, after a back-fill) the seasonal index of ``as_of``'s month, so that the first
    decision of a month and every early-warning batch read it instead of recomputing it platform-wide."""
    with db.unit_of_work() as session:
        row = refresh_industry_seasonality(session, as_of)
        return {"month": row.as_of_month.isoformat(), "dealers": row.dealers, "index_sha256": row.index_sha256}
