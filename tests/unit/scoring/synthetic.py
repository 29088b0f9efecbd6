"""Small synthetic credit data and models shared by the scoring tests (built once per run)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import xgboost as xgb

from scoring.model import PDModel

FAST = {"n_estimators": 60, "max_depth": 4, "learning_rate": 0.15, "early_stopping_rounds": 15, "n_jobs": 1}


def dealers(n: int = 900, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Dealers with a known risk: more days past due and a lower on-time ratio raise it, longer
    tenure lowers it, one region is riskier; values are missing here and there."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "days_past_due": rng.poisson(4, n).astype(float),
            "tenure_months": rng.integers(1, 120, n).astype(float),
            "on_time_ratio": rng.uniform(0.3, 1.0, n),
            "region": rng.choice(["华东", "华南", "西北 区域", "north<1>"], n),
            "purchases [CNY]": rng.lognormal(11, 1, n),
        }
    )
    frame.loc[rng.random(n) < 0.08, "on_time_ratio"] = np.nan
    frame.loc[rng.random(n) < 0.05, "region"] = None
    frame.loc[rng.random(n) < 0.05, "days_past_due"] = np.nan
    logit = (
        -1.2
        + 0.25 * frame["days_past_due"].fillna(4)
        - 0.02 * frame["tenure_months"]
        - 2.0 * frame["on_time_ratio"].fillna(0.6)
        + 0.9 * (frame["region"] == "西北 区域")
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    return frame, y


MONOTONE = {"days_past_due": 1, "tenure_months": -1, "on_time_ratio": -1}


@functools.cache
def fitted_model() -> tuple[PDModel, pd.DataFrame, np.ndarray]:
    X, y = dealers()
    return PDModel(**FAST, monotone_constraints=MONOTONE).fit(X, y), X, y


@functools.cache
def raw_booster(depth: int = 5, rounds: int = 40) -> tuple[xgb.Booster, np.ndarray]:
    """A plain booster on numeric data with many missing values and features split repeatedly
    on one path (few features, deep trees)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 6))
    X[rng.random(X.shape) < 0.15] = np.nan
    signal = np.nan_to_num(X[:, 0]) * 1.5 + np.sin(np.nan_to_num(X[:, 1]) * 2) + np.nan_to_num(X[:, 2]) ** 2
    y = (signal + rng.normal(size=600) > 1).astype(float)
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": depth,
        "eta": 0.3,
        "nthread": 1,
        "seed": 0,
    }
    booster = xgb.train(params, xgb.DMatrix(X, label=y), rounds)
    return booster, X
