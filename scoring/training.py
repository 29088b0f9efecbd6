"""Training the dealer PD model from the platform's trade: point-in-time snapshots at monthly
as-of dates, labelled with 90+ days past due within 12 months, validated out of time.

The last as-of dates are held out (never seen by the booster except for early stopping and
calibration, which is what out-of-time validation is for); metrics are computed on them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk_engine.errors import InvalidInput
from scoring import metrics as m
from scoring.artifact import ModelVersion, fingerprint_frame
from scoring.catalog import CATALOG, monotone_constraints
from scoring.explain import global_importance
from scoring.features import TradeFrames, build_training_snapshots, observed_until
from scoring.master_scale import MasterScale, ScoreScaling
from scoring.model import PDModel
from scoring.snapshots import CATALOG_VERSION

HISTORY_MONTHS_BEFORE_FIRST_SNAPSHOT = 6
REFERENCE_BINS = 10


@dataclass(frozen=True)
class TrainingPlan:
    as_of_dates: list[pd.Timestamp]
    validation_dates: list[pd.Timestamp]


def plan_snapshots(frames: TradeFrames, horizon_months: int = 12, validation_share: float = 0.3) -> TrainingPlan:
    """Monthly as-of dates from six months into the history up to the last date whose 12-month
    outcome is complete; the latest ``validation_share`` of them (at least one) are out of time."""
    placed = pd.to_datetime(frames.orders["placed_at"], utc=True)
    if placed.empty:
        raise InvalidInput("no orders to train on", code="no_training_data")
    first = (placed.min() + pd.DateOffset(months=HISTORY_MONTHS_BEFORE_FIRST_SNAPSHOT)).normalize()
    last = observed_until(frames) - pd.DateOffset(months=horizon_months)
    first_month = pd.Timestamp(year=first.year, month=first.month, day=1, tz="UTC") + pd.DateOffset(months=1)
    dates = list(pd.date_range(first_month, last, freq="MS"))
    if len(dates) < 2:
        raise InvalidInput(f"need at least {HISTORY_MONTHS_BEFORE_FIRST_SNAPSHOT + horizon_months + 2} months of "
                           "history to train and validate out of time", code="too_little_history")
    n_val = max(1, round(len(dates) * validation_share))
    return TrainingPlan(dates, dates[-n_val:])


def reference_distribution(X: pd.DataFrame, pd_: np.ndarray) -> dict[str, Any]:
    """Decile edges and shares of every feature and of the PD on the training rows, for PSI later."""
    out: dict[str, Any] = {}
    for name, values in [*X.items(), ("__pd__", pd.Series(pd_))]:
        v = values.to_numpy(dtype=np.float64)
        v = v[~np.isnan(v)]
        if not len(v):
            continue
        edges = np.unique(np.quantile(v, np.linspace(0, 1, REFERENCE_BINS + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
        out[name] = {"edges": edges.tolist(), "shares": (counts / len(v)).tolist(),
                     "missing_share": float(values.isna().mean())}
    return out


def psi_against_reference(reference: dict[str, Any], values: np.ndarray) -> float | None:
    """PSI of ``values`` against a stored reference (``reference_distribution`` entry)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if not len(v):
        return None
    edges = np.asarray(reference["edges"], dtype=np.float64)
    expected = np.maximum(np.asarray(reference["shares"], dtype=np.float64), 1e-4)
    actual = np.maximum(np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1) / len(v),
                        1e-4)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def train_dealer_model(
    frames: TradeFrames,
    *,
    version: str,
    seed: int = 0,
    model_params: dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> ModelVersion:
    plan = plan_snapshots(frames)
    X, y, meta = build_training_snapshots(frames, plan.as_of_dates)
    if y.sum() < 5:
        raise InvalidInput(f"only {int(y.sum())} defaults in the training snapshots: too few to train",
                           code="too_few_defaults")
    out_of_time = meta["as_of"].isin(plan.validation_dates).to_numpy()
    X_train, y_train = X[~out_of_time], y[~out_of_time].to_numpy()
    X_val, y_val = X[out_of_time], y[out_of_time].to_numpy()
    progress(f"snapshots: {len(X_train)} training rows ({y_train.mean():.1%} bad) at "
             f"{len(plan.as_of_dates) - len(plan.validation_dates)} dates, {len(X_val)} out-of-time rows "
             f"({y_val.mean():.1%} bad)")
    params = {"random_state": seed, "monotone_constraints": monotone_constraints(), **(model_params or {})}
    model = PDModel(**params).fit(X_train, y_train, eval_set=(X_val, y_val))
    scale, scaling = MasterScale(), ScoreScaling()
    pd_train, pd_val = model.predict_pd(X_train), model.predict_pd(X_val)
    grades_val = [scale.grade(p) for p in pd_val]
    figures = {
        "out_of_time": _performance(y_val, pd_val),
        "training": _performance(y_train, pd_train),
        "psi_score_train_vs_validation": m.psi(pd_train, pd_val),
        "psi_features_train_vs_validation": {
            name: m.psi(X_train[name].fillna(-1e12), X_val[name].fillna(-1e12)) for name in CATALOG
        },
        "default_rate_by_grade": m.default_rate_by_grade(grades_val, pd_val, y_val, order=scale.names),
        "calibration": {"method": model.calibration_, "brier_by_method": model.calibration_briers_},
        "global_importance": _importance(model, X_val),
    }
    progress(f"out of time: AUC {figures['out_of_time']['auc']:.3f}, KS {figures['out_of_time']['ks']:.3f}, "
             f"Brier {figures['out_of_time']['brier']:.4f}")
    training_data = {
        "fingerprint": fingerprint_frame(X, y),
        "rows": int(len(X)), "defaults": int(y.sum()),
        "as_of_dates": [d.isoformat() for d in plan.as_of_dates],
        "out_of_time_dates": [d.isoformat() for d in plan.validation_dates],
        "label": "90+ days past due within 12 months of the as-of date",
        "catalog_version": CATALOG_VERSION,
        "reference": reference_distribution(X_train, pd_train),
    }
    return ModelVersion(model=model, master_scale=scale, score_scaling=scaling, metrics=figures,
                        training_data=training_data, version=version)


def _performance(y: np.ndarray, pd_: np.ndarray) -> dict[str, float]:
    auc = m.auc(y, pd_)
    return {"auc": auc, "gini": 2 * auc - 1, "ks": m.ks(y, pd_), "brier": m.brier(y, pd_),
            "rows": int(len(y)), "default_rate": float(np.mean(y))}


def _importance(model: PDModel, X: pd.DataFrame) -> dict[str, float]:
    explained = model.explain(X)
    return global_importance(explained.contributions, list(explained.columns))
