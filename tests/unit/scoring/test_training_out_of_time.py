"""The out-of-time sample is only reported on: early stopping and calibration use in-time data held out
from the booster, so the out-of-time AUC, KS, Brier and grade table are honest."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from risk_engine.demo.synthetic import generate_platform
from scoring import training
from scoring.features import build_training_snapshots

FAST = {"n_estimators": 80, "learning_rate": 0.15, "early_stopping_rounds": 15, "n_jobs": 1}


@functools.cache
def _snapshots():
    frames = generate_platform(n_dealers=600, months=24, seed=7).trade_frames()
    plan = training.plan_snapshots(frames)
    X, y, meta = build_training_snapshots(frames, plan.as_of_dates)
    out_of_time = meta["as_of"].isin(plan.out_of_time_dates).to_numpy()
    return frames, X, y, meta, out_of_time


def _train(monkeypatch, X: pd.DataFrame, y: pd.Series):
    frames, _, _, meta, _ = _snapshots()
    monkeypatch.setattr(training, "build_training_snapshots", lambda *_a, **_k: (X, y, meta))
    return training.train_dealer_model(frames, version="oot-test", seed=3, model_params=FAST)


def _fitted_state(version) -> tuple[bytes, dict]:
    booster, state = version.model.to_parts()
    return booster, state


def test_changing_the_out_of_time_outcomes_and_inputs_leaves_the_fitted_model_unchanged(monkeypatch):
    _, X, y, _, out_of_time = _snapshots()
    assert 0 < out_of_time.sum() < len(y)
    honest = _train(monkeypatch, X, y)

    flipped = y.copy()
    flipped[out_of_time] = 1 - flipped[out_of_time]
    relabelled = _train(monkeypatch, X, flipped)
    shuffled = X.copy()
    rows = np.flatnonzero(out_of_time)
    shuffled.iloc[rows] = X.iloc[np.random.default_rng(0).permutation(rows)].to_numpy()
    reshuffled = _train(monkeypatch, shuffled, flipped)

    booster, state = _fitted_state(honest)
    for tampered in (relabelled, reshuffled):
        tampered_booster, tampered_state = _fitted_state(tampered)
        assert tampered_booster == booster  # same trees, as many of them: early stopping never saw OOT
        assert tampered_state["calibration"] == state["calibration"]  # nor did the calibration
        assert tampered_state == state
    # ... while the out-of-time figures are computed from exactly those rows
    assert relabelled.metrics["out_of_time"]["auc"] == pytest.approx(1 - honest.metrics["out_of_time"]["auc"])
    assert reshuffled.metrics["out_of_time"] != relabelled.metrics["out_of_time"]


def test_early_stopping_and_calibration_use_in_time_dealers_held_out_from_the_booster(monkeypatch):
    _, X, y, meta, out_of_time = _snapshots()
    version = _train(monkeypatch, X, y)
    held_out = version.training_data["in_time_validation"]
    in_time_rows = int((~out_of_time).sum())
    assert version.model.validation_["rows"] == held_out["rows"]
    assert held_out["rows"] + version.metrics["training"]["rows"] == in_time_rows
    assert version.metrics["out_of_time"]["rows"] == int(out_of_time.sum())
    assert 0 < held_out["dealers"] < meta.loc[~out_of_time, "dealer_id"].nunique()
    assert held_out["defaults"] >= 2
    assert "in_time_validation" in version.metrics
    assert version.training_data["out_of_time_dates"] == [
        d.isoformat() for d in training.plan_snapshots(_snapshots()[0]).out_of_time_dates
    ]


def test_the_in_time_hold_out_keeps_each_dealer_on_one_side():
    _, _, y, meta, out_of_time = _snapshots()
    dealers = meta.loc[~out_of_time, "dealer_id"].to_numpy()
    fit_rows, valid_rows = training.hold_out_dealers(y[~out_of_time].to_numpy(), dealers, seed=3)
    assert not set(dealers[fit_rows]) & set(dealers[valid_rows])
    assert len(fit_rows) + len(valid_rows) == len(dealers)
    share = len(set(dealers[valid_rows])) / len(set(dealers))
    assert 0.15 < share < 0.35
    assert y[~out_of_time].to_numpy()[valid_rows].sum() >= 2
