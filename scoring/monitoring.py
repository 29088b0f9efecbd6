"""Model monitoring: population stability of the champion's inputs and PD on recent decisions against
its training data, and its discrimination on decisions whose 12-month outcome has matured.

PSI bands follow DOMAIN.md: < 0.10 stable, 0.10-0.25 investigate, >= 0.25 significant. Missing values
are a PSI bin of their own (as in optbinning's monitoring), so a jump in a feature's missing share is a
shift even when its present values look as they did in training.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
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
        report["psi_score"] = psi_entry(reference.get("__pd__"), pds)
        report["psi_features"] = {
            name: psi_entry(reference.get(name), features[name].to_numpy())
            for name in features.columns if name in reference
        }
        worst = sorted(((v["psi"], k) for k, v in report["psi_features"].items() if v["psi"] is not None),
                       reverse=True)[:5]
        report["largest_shifts"] = [{"feature": k, "psi": v} for v, k in worst]
    report["matured"] = matured_performance(session, record.version, now=now)
    return report


def psi_entry(reference: dict[str, Any] | None, values: np.ndarray) -> dict[str, Any]:
    """PSI and its band for one feature (or the PD), with the missing shares behind it: missing values
    are a bin of their own, so a feature that stops being supplied shows up as a shift."""
    if reference is None:
        return {"psi": None, "level": None}
    values = np.asarray(values, dtype=np.float64)
    value = psi_against_reference(reference, values)
    return {"psi": value, "level": None if value is None else m.psi_level(value),
            "missing_share": {"reference": float(reference.get("missing_share", 0.0)),
                              "recent": float(np.isnan(values).mean()) if len(values) else None}}


def matured_performance(session: Session, model_version: str, *, now: datetime) -> dict[str, Any]:
    """AUC, KS and Brier on decisions made at least 12 months ago, labelled from the trade since."""
    cutoff = now - pd.DateOffset(months=OUTCOME_MONTHS)
    rows = session.execute(select(Decision.dealer_id, Decision.decided_at, Decision.pd).where(
        Decision.model_version == model_version, Decision.decided_at <= cutoff.to_pydatetime(),
        Decision.pd.is_not(None))).all()
    if not rows:
        return {"decisions": 0, "note": "no decision has a matured 12-month outcome yet"}
    frames, ids = load_trade_frames(session, sorted({r.dealer_id for r in rows}))
    # outcomes are observed up to now, not up to these dealers' last event (a defaulter stops trading)
    first_default = default_days(dataclasses.replace(frames, observed_until=pd.Timestamp(now)))
    y, p = [], []
    for dealer_id, decided_at, pd_ in rows:
        day = first_default.get(ids.code(dealer_id))
        start = pd.Timestamp(decided_at).tz_convert("Asia/Shanghai").date()
        end = (pd.Timestamp(start) + pd.DateOffset(months=OUTCOME_MONTHS)).date()
        defaulted = day is not None and start <= pd.Timestamp(day).date() <= end
        y.append(int(defaulted))
        p.append(float(pd_))
    out: dict[str, Any] = {"decisions": len(y), "observed_default_rate": float(np.mean(y)),
                           "expected_default_rate": float(np.mean(p))}
    if 0 < sum(y) < len(y):
        out.update(auc=m.auc(y, p), ks=m.ks(y, p), brier=m.brier(y, p))
    return out


def _rank_correlation(live: np.ndarray, shadow: np.ndarray) -> float | None:
    """Spearman's rho, or None where it is undefined (either side constant): never a NaN in JSON."""
    if np.ptp(live) == 0 or np.ptp(shadow) == 0:
        return None
    return float(pd.Series(live).corr(pd.Series(shadow), method="spearman"))


def challenger_comparison(session: Session, *, since: datetime | None = None) -> dict[str, Any]:
    """Champion vs challenger on the live decisions the challenger scored in shadow: agreement of grades,
    PD differences, rank correlation, and — where the 12-month outcome has matured — each one's AUC."""
    # the champion's own grade (before the rules' overlays notched it) is what the challenger's compares with
    query = select(Decision.dealer_id, Decision.decided_at, Decision.pd,
                   func.coalesce(Decision.model_grade, Decision.grade), Decision.model_version,
                   Decision.explanation).where(Decision.pd.is_not(None))
    if since is not None:
        query = query.where(Decision.decided_at >= since)
    pairs: dict[tuple[str, str], list[tuple[float, float, str, str]]] = {}
    for _dealer, _at, pd_, grade, version, explanation in session.execute(query):
        shadow = (json.loads(explanation or "{}").get("model", {}).get("extra") or {}).get("shadow")
        if not shadow or "pd" not in shadow:
            continue
        pairs.setdefault((version, shadow["model_version"]), []).append(
            (float(pd_), float(shadow["pd"]), grade, shadow["grade"]))
    comparisons = []
    for (champion, challenger), rows in sorted(pairs.items()):
        live = np.array([r[0] for r in rows])
        shadow = np.array([r[1] for r in rows])
        same_grade = np.mean([_fold(r[2]) == _fold(r[3]) for r in rows])
        comparisons.append({
            "champion": champion, "challenger": challenger, "decisions": len(rows),
            "mean_pd": {"champion": float(live.mean()), "challenger": float(shadow.mean())},
            "mean_abs_pd_difference": float(np.abs(live - shadow).mean()),
            "grade_agreement": float(same_grade),
            "rank_correlation": _rank_correlation(live, shadow) if len(rows) > 2 else None,
            "challenger_riskier_share": float(np.mean(shadow > live)),
        })
    return {"comparisons": comparisons,
            "note": "shadow scores are recorded on every live decision and never acted on"}


def _fold(grade: str) -> str:
    return "C/D" if grade in ("C", "D") else grade
