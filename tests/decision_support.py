"""Test support for the decision core: a real (tiny) XGBoost model trained on synthetic dealers and wrapped
as a ``Scorer``, a feature source built from dicts, and the feature values of a sound dealer.

The model is trained once per test process (a few hundred milliseconds): it is real — monotone in days
past due, exact TreeSHAP contributions by the champion's own explainer (``scoring.explain``) — so the
decisions in the tests go through the same scoring arithmetic the champion model will, not a hard-coded PD.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
import xgboost as xgb

from risk_engine.decisions.ports import FeatureVector, ReasonCode, Score
from scoring.explain import ExactTreeShap

MODEL_FEATURES = (
    "current_days_past_due",
    "max_payment_delay_days_12m",
    "on_time_payment_ratio_12m",
    "tenure_months",
    "purchase_amount_12m",
    "return_rate_6m",
)
MONOTONE = (1, 1, -1, -1, 0, 1)
# master scale: upper PD bound of each grade
PD_BANDS = (
    ("AAA", 0.003),
    ("AA", 0.006),
    ("A", 0.012),
    ("BBB", 0.025),
    ("BB", 0.05),
    ("B", 0.10),
    ("CCC", 0.20),
    ("CC", 0.35),
    ("C/D", 1.01),
)
REASON_WORDING = {
    "current_days_past_due": ("当前逾期天数较高", "Days past due today"),
    "max_payment_delay_days_12m": ("近12个月最长逾期天数较高", "Longest payment delay, last 12 months"),
    "on_time_payment_ratio_12m": ("近12个月按时付款比例偏低", "Share of payments on time, last 12 months"),
    "tenure_months": ("平台合作时间较短", "Months on the platform"),
    "purchase_amount_12m": ("近12个月采购金额", "Purchases, last 12 months"),
    "return_rate_6m": ("近6个月退货率偏高", "Return rate, last 6 months"),
}

GOOD_DEALER: dict[str, Any] = {
    "current_days_past_due": 0,
    "max_payment_delay_days_12m": 3,
    "on_time_payment_ratio_12m": 0.98,
    "tenure_months": 36,
    "purchase_amount_3m": 900_000.0,
    "purchase_amount_12m": 3_600_000.0,
    "purchase_trend_3m": 5.0,
    "return_rate_6m": 0.02,
    "supplier_hhi_12m": 0.3,
    "prior_loan_max_days_late": 0,
    "open_alert_count": 0,
    "duplicate_financing_flag": False,
    "blacklisted": False,
}


def synthetic_dealers(n: int = 3000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dpd = rng.choice([0, 0, 0, 0, 0, 3, 10, 25, 45, 90], size=n).astype(float)
    max_delay = dpd + rng.integers(0, 20, size=n)
    on_time = np.clip(rng.beta(8, 1.5, size=n) - dpd / 200, 0, 1)
    tenure = rng.integers(1, 96, size=n).astype(float)
    purchases = rng.lognormal(14, 1.0, size=n)
    returns = np.clip(rng.beta(1.2, 20, size=n), 0, 1)
    logit = -4.2 + 0.06 * dpd + 0.02 * max_delay - 3.0 * (on_time - 0.85) - 0.015 * tenure + 6.0 * returns
    bad = rng.random(n) < 1 / (1 + np.exp(-logit))
    x = np.column_stack([dpd, max_delay, on_time, tenure, purchases, returns])
    x[rng.random(n) < 0.05, 2] = np.nan  # some dealers had nothing fall due
    return x, bad.astype(int)


@cache
def tiny_xgb_scorer() -> XgbScorer:
    x, y = synthetic_dealers()
    params = {
        "objective": "binary:logistic",
        "max_depth": 3,
        "eta": 0.2,
        "subsample": 1.0,
        "monotone_constraints": "(" + ",".join(map(str, MONOTONE)) + ")",
        "seed": 7,
        "nthread": 1,
        "base_score": float(y.mean()),
    }
    booster = xgb.train(
        params, xgb.DMatrix(x, label=y, feature_names=list(MODEL_FEATURES)), num_boost_round=40
    )
    raw = booster.save_raw("ubj")
    return XgbScorer(booster, version="test-tiny-xgb-1", model_hash=hashlib.sha256(bytes(raw)).hexdigest())


class XgbScorer:
    """A ``Scorer`` over an XGBoost booster: PD from the margin, exact TreeSHAP contributions."""

    def __init__(
        self,
        booster: xgb.Booster,
        *,
        version: str,
        model_hash: str,
        pdo: float = 50.0,
        points: float = 600.0,
        odds: float = 19.0,
    ) -> None:
        self.booster = booster
        self.booster.set_param({"nthread": 1})  # one row at a time: OpenMP threads only cost
        self.explainer = ExactTreeShap.from_booster(booster)  # margin and contributions, as the champion's
        self.version = version
        self.model_hash = model_hash
        self.factor = pdo / math.log(2)
        self.offset = points - self.factor * math.log(odds)

    def vector(self, features: Mapping[str, Any]) -> np.ndarray:
        return np.array(
            [[np.nan if features.get(name) is None else float(features[name]) for name in MODEL_FEATURES]],
            dtype=float,
        )

    def score(self, features: Mapping[str, Any], attributes: Mapping[str, Any], *, session: Any = None) -> Score:
        explained, margins = self.explainer.explain(self.vector(features), n_threads=1)
        margin = float(margins[0])
        contributions = dict(zip(MODEL_FEATURES, explained[0].tolist(), strict=True))
        pd = 1.0 / (1.0 + math.exp(-margin))
        grade = next(g for g, upper in PD_BANDS if pd < upper)
        points = int(round(self.offset - self.factor * margin))  # good:bad odds = exp(-margin)
        raising = sorted((kv for kv in contributions.items() if kv[1] > 0), key=lambda kv: -kv[1])[:3]
        reasons = tuple(
            ReasonCode(f"R_{name.upper()}", name, value, *REASON_WORDING[name]) for name, value in raising
        )
        return Score(
            pd=pd,
            grade=grade,
            score=points,
            contributions=contributions,
            base=self.explainer.base,
            reason_codes=reasons,
            model_version=self.version,
            model_hash=self.model_hash,
        )


class DictFeatureSource:
    """Point-in-time features from a dict per dealer (the sound dealer's by default)."""

    def __init__(self, default: Mapping[str, Any] | None = None) -> None:
        self.default = dict(GOOD_DEALER if default is None else default)
        self.by_dealer: dict[str, dict[str, Any]] = {}

    def set(self, dealer_id: str, **changes: Any) -> None:
        self.by_dealer[dealer_id] = {**self.default, **changes}

    def features_for(self, session: Any, dealer_id: str, as_of: datetime) -> FeatureVector:
        return FeatureVector(
            dealer_id=dealer_id,
            as_of=as_of,
            values=dict(self.by_dealer.get(dealer_id, self.default)),
            snapshot_id=None,
            source="test:dict",
        )
