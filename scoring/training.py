"""Training the dealer PD model from the platform's trade: point-in-time snapshots at monthly
as-of dates, labelled with more than 90 days past due within 12 months, validated out of time.

The snapshots fall into three parts, and the out-of-time part is touched only to report:

- **out of time** (OOT): the latest as-of dates. Never seen by the booster, the early stopping, the
  calibration or the encoder; AUC, KS, Brier and the grade table are computed on it.
- **in-time validation**: the in-time snapshots of a stratified quarter of the dealers, held out
  whole (a dealer's monthly snapshots share one outcome, so a dealer split across both sides would
  let early stopping and calibration reward memorising it). Early stopping and calibration use it.
- **training**: every other in-time snapshot; the booster fits on these.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

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
#: Share of the in-time dealers held out for early stopping and calibration (one of four folds).
IN_TIME_VALIDATION_FOLDS = 4
LABEL = "more than 90 days past due within 12 months of the as-of date"


@dataclass(frozen=True)
class TrainingPlan:
    as_of_dates: list[pd.Timestamp]
    out_of_time_dates: list[pd.Timestamp]


def plan_snapshots(frames: TradeFrames, horizon_months: int = 12, out_of_time_share: float = 0.3) -> TrainingPlan:
    """Monthly as-of dates from six months into the history up to the last date whose 12-month
    outcome is complete; the latest ``out_of_time_share`` of them (at least one) are out of time."""
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
    n_oot = max(1, round(len(dates) * out_of_time_share))
    return TrainingPlan(dates, dates[-n_oot:])


def hold_out_dealers(y: np.ndarray, dealers: np.ndarray, *, seed: int,
                     folds: int = IN_TIME_VALIDATION_FOLDS) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of the in-time snapshots: one of ``folds`` stratified groups
    of dealers is held out with all its snapshots, so no dealer is on both sides."""
    y = np.asarray(y)
    if len(np.unique(dealers[y == 1])) < folds:
        raise InvalidInput(f"only {len(np.unique(dealers[y == 1]))} in-time dealers default: too few to hold "
                           "some out for early stopping and calibration", code="too_few_defaults")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return next(splitter.split(np.zeros(len(y)), y, groups=dealers))


def reference_distribution(X: pd.DataFrame, pd_: np.ndarray) -> dict[str, Any]:
    """Per feature and for the PD (``__pd__``), on the development rows: the decile edges of the present
    values, each bin's share of the present values, and the share of missing values — what PSI is
    computed against later. A feature missing on every row gets no edges and ``missing_share`` 1."""
    out: dict[str, Any] = {}
    for name, values in [*X.items(), ("__pd__", pd.Series(pd_))]:
        v = values.to_numpy(dtype=np.float64)
        missing_share = float(np.isnan(v).mean()) if len(v) else 0.0
        v = v[~np.isnan(v)]
        if not len(v):
            out[name] = {"edges": [], "shares": [0.0], "missing_share": missing_share}
            continue
        edges = np.unique(np.quantile(v, np.linspace(0, 1, REFERENCE_BINS + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
        out[name] = {"edges": edges.tolist(), "shares": (counts / len(v)).tolist(),
                     "missing_share": missing_share}
    return out


def psi_against_reference(reference: dict[str, Any], values: np.ndarray) -> float | None:
    """PSI of ``values`` against a stored reference (``reference_distribution`` entry), missing values
    (NaN) counted as a bin of their own on both sides; ``None`` when there are no values at all."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if not len(v):
        return None
    missing_share = float(reference.get("missing_share", 0.0))
    present_shares = np.asarray(reference["shares"], dtype=np.float64)
    expected = np.append(present_shares * (1.0 - missing_share), missing_share)
    return m.psi_of_shares(expected, m.binned_shares(v, reference["edges"]))


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
    out_of_time = meta["as_of"].isin(plan.out_of_time_dates).to_numpy()
    in_time = np.flatnonzero(~out_of_time)
    dealers = meta["dealer_id"].to_numpy()[in_time]
    fit_rows, valid_rows = (in_time[rows] for rows in hold_out_dealers(y.to_numpy()[in_time], dealers, seed=seed))
    X_train, y_train = X.iloc[fit_rows], y.to_numpy()[fit_rows]
    X_valid, y_valid = X.iloc[valid_rows], y.to_numpy()[valid_rows]
    X_oot, y_oot = X[out_of_time], y[out_of_time].to_numpy()
    progress(f"snapshots: {len(X_train)} training rows ({y_train.mean():.1%} bad) and {len(X_valid)} in-time "
             f"validation rows ({y_valid.mean():.1%} bad) at {len(plan.as_of_dates) - len(plan.out_of_time_dates)} "
             f"dates, {len(X_oot)} out-of-time rows ({y_oot.mean():.1%} bad)")
    params = {"random_state": seed, "monotone_constraints": monotone_constraints(), **(model_params or {})}
    # early stopping and calibration on in-time dealers the booster never saw; the OOT rows only report
    model = PDModel(**params).fit(X_train, y_train, eval_set=(X_valid, y_valid))
    scale, scaling = MasterScale(), ScoreScaling()
    X_in_time = X.iloc[in_time]
    pd_train, pd_valid, pd_oot = model.predict_pd(X_train), model.predict_pd(X_valid), model.predict_pd(X_oot)
    pd_in_time = model.predict_pd(X_in_time)
    grades_oot = [scale.grade(p) for p in pd_oot]
    figures = {
        "out_of_time": _performance(y_oot, pd_oot),
        "training": _performance(y_train, pd_train),
        "in_time_validation": {**_performance(y_valid, pd_valid),
                               "note": "seen by early stopping and calibration"},
        "psi_score_train_vs_validation": m.psi(pd_in_time, pd_oot),
        "psi_features_train_vs_validation": {
            name: m.psi(X_in_time[name], X_oot[name]) for name in CATALOG
        },
        "default_rate_by_grade": m.default_rate_by_grade(grades_oot, pd_oot, y_oot, order=scale.names),
        "calibration": {"method": model.calibration_, "brier_by_method": model.calibration_briers_},
        "global_importance": _importance(model, X_oot),
    }
    progress(f"out of time: AUC {figures['out_of_time']['auc']:.3f}, KS {figures['out_of_time']['ks']:.3f}, "
             f"Brier {figures['out_of_time']['brier']:.4f}")
    training_data = {
        "fingerprint": fingerprint_frame(X, y),
        "rows": int(len(X)), "defaults": int(y.sum()),
        "as_of_dates": [d.isoformat() for d in plan.as_of_dates],
        "out_of_time_dates": [d.isoformat() for d in plan.out_of_time_dates],
        "label": LABEL,
        "early_stopping_and_calibration": (
            f"in-time snapshots of 1 in {IN_TIME_VALIDATION_FOLDS} dealers, held out from the booster; "
            "the out-of-time dates are only reported on"),
        "in_time_validation": {"rows": int(len(valid_rows)), "defaults": int(y_valid.sum()),
                               "dealers": int(len(np.unique(meta["dealer_id"].to_numpy()[valid_rows])))},
        "catalog_version": CATALOG_VERSION,
        "reference": reference_distribution(X_in_time, pd_in_time),
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
