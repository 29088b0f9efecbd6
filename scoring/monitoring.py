"""Model monitoring: population stability of the champion's inputs and PD on recent decisions against
its training data, and its discrimination on decisions whose 12-month outcome has matured.

PSI bands follow DOMAIN.md: < 0.10 stable, 0.10-0.25 investigate, >= 0.25 significant.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from risk_engine.decisions.models import Decision
from risk_engine.trade.frames import load_trade_frames
from scoring import metrics as m
from scoring import registry
from scoring.features import default_days
from scoring.training import psi_against_reference

OUTCOME_MONTHS = 12


def monitoring_report(session: Session, models_dir: Path, *, now: datetime, window_days: int = 30,
                      version: str | None = None) -> dict[str, Any]:
    record = registry.get(session, version) if version else session.scalars(
        select(registry.ModelRecord).where(registry.ModelRecord.status == "champion")).first()
    if record is None:
        raise registry.ModelUnavailable("no champion model to monitor")
    reference = registry.load_verified(record, models_dir).training_data.get("reference", {})
    since = now - timedelta(days=window_days)
    recent = session.execute(
        select(Decision.inputs, Decision.pd).where(Decision.model_version == record.version,
                                                   Decision.decided_at >= since, Decision.pd.is_not(None))
    ).all()
    report: dict[str, Any] = {"model_version": record.version, "window_days": window_days,
                              "decisions": len(recent), "as_of": now.isoformat()}
    if recent:
        features = pd.DataFrame([json.loads(inputs).get("features", {}) for inputs, _ in recent], dtype=float)
        pds = np.array([float(p) for _, p in recent])
        report["psi_score"] = _psi_entry(reference.get("__pd__"), pds)
        report["psi_features"] = {
            name: _psi_entry(reference.get(name), features[name].to_numpy())
            for name in features.columns if name in reference
        }
        worst = sorted(((v["psi"], k) for k, v in report["psi_features"].items() if v["psi"] is not None),
                       reverse=True)[:5]
        report["largest_shifts"] = [{"feature": k, "psi": v} for v, k in worst]
    report["matured"] = matured_performance(session, record.version, now=now)
    return report


def _psi_entry(reference: dict[str, Any] | None, values: np.ndarray) -> dict[str, Any]:
    if reference is None:
        return {"psi": None, "level": None}
    value = psi_against_reference(reference, values)
    return {"psi": value, "level": None if value is None else m.psi_level(value)}


def matured_performance(session: Session, model_version: str, *, now: datetime) -> dict[str, Any]:
    """AUC, KS and Brier on decisions made at least 12 months ago, labelled from the trade since."""
    cutoff = now - pd.DateOffset(months=OUTCOME_MONTHS)
    rows = session.execute(select(Decision.dealer_id, Decision.decided_at, Decision.pd).where(
        Decision.model_version == model_version, Decision.decided_at <= cutoff.to_pydatetime(),
        Decision.pd.is_not(None))).all()
    if not rows:
        return {"decisions": 0, "note": "no decision has a matured 12-month outcome yet"}
    frames, ids = load_trade_frames(session, sorted({r.dealer_id for r in rows}))
    first_default = default_days(frames)
    y, p = [], []
    for dealer_id, decided_at, pd_ in rows:
        day = first_default.get(ids.code(dealer_id))
        start = pd.Timestamp(decided_at).tz_convert("Asia/Shanghai").date()
        end = (pd.Timestamp(start) + pd.DateOffset(months=OUTCOME_MONTHS)).date()
        defaulted = day is not None and start <= np.datetime64(int(day), "D").astype(object) <= end
        y.append(int(defaulted))
        p.append(float(pd_))
    out: dict[str, Any] = {"decisions": len(y), "observed_default_rate": float(np.mean(y)),
                           "expected_default_rate": float(np.mean(p))}
    if 0 < sum(y) < len(y):
        out.update(auc=m.auc(y, p), ks=m.ks(y, p), brier=m.brier(y, p))
    return out
