"""Training snapshots: features as of each date, labelled by more than 90 days past due in the following year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.catalog import FEATURE_NAMES
from scoring.features import TradeFrames, build_training_snapshots, default_days

from .history import _dates, _instants

EARLY, LATE = "2025-04-01 00:00", "2025-09-01 00:00"


def _trade() -> TradeFrames:
    """Dealer 1 never pays a bill due 2025-03-01; dealer 2 pays one 89 days late; dealer 3 was in
    default before 2025-04-01; dealer 4 has no order before it; dealer 5 repays a loan 106 days late."""
    dealers = pd.DataFrame(
        {
            "dealer_id": [1, 2, 3, 4, 5],
            "credit_code": [f"code{i}" for i in range(1, 6)],
            "industry": "auto_parts",
            "registered_on": _dates(["2015-01-01"] * 5),
            "licence_expires_on": _dates([None] * 5),
            "onboarded_on": _dates(["2024-01-10"] * 5),
            "recorded_at": _instants(["2024-01-10 10:00"] * 5),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4, 5],
            "dealer_id": [1, 2, 3, 4, 5],
            "supplier_id": 1,
            "amount_fen": 1_000_000,
            "placed_at": _instants(["2025-01-05 10:00"] * 3 + ["2025-06-05 10:00", "2025-01-05 10:00"]),
            "cancelled_at": _instants([None] * 5),
            "recorded_at": _instants(["2025-01-05 10:01"] * 3 + ["2025-06-05 10:01", "2025-01-05 10:01"]),
        }
    )
    payments = pd.DataFrame(
        {
            "dealer_id": [1, 2, 3],
            "due_on": _dates(["2025-03-01", "2025-03-01", "2024-10-01"]),
            "paid_on": _dates([None, "2025-05-29", None]),
            "recorded_at": _instants(["2025-01-20 10:00", "2025-01-20 10:00", "2024-09-01 10:00"]),
            "paid_recorded_at": _instants([None, "2025-05-30 10:00", None]),
        }
    )
    loans = pd.DataFrame(
        {
            "dealer_id": [5],
            "principal_fen": [800_000],
            "disbursed_at": _instants(["2025-03-01 10:00"]),
            "due_on": _dates(["2025-06-01"]),
            "repaid_on": _dates(["2025-09-15"]),
            "recorded_at": _instants(["2025-03-01 11:00"]),
            "repaid_recorded_at": _instants(["2025-09-15 18:00"]),
        }
    )
    return TradeFrames(
        dealers=dealers,
        orders=orders,
        payments=payments,
        loans=loans,
        observed_until=pd.Timestamp("2026-06-01", tz="UTC"),
    )


def test_default_is_the_first_day_more_than_ninety_days_past_due_of_an_unpaid_or_very_late_obligation():
    days = default_days(_trade())
    assert days.to_dict() == {
        1: pd.Timestamp("2025-05-31"),  # due 2025-03-01, unpaid: 91 days past due on 2025-05-31
        3: pd.Timestamp("2024-12-31"),
        5: pd.Timestamp("2025-08-31"),
    }
    assert str(days.dtype) == "datetime64[s]" and days.index.name == "dealer_id"


def test_snapshot_labels_defaults_in_the_following_twelve_months():
    X, y, meta = build_training_snapshots(_trade(), [EARLY])
    labels = dict(zip(meta["dealer_id"], y, strict=True))
    assert labels == {1: 1, 2: 0, 5: 1}  # 3 already in default, 4 without history
    assert list(X.columns) == list(FEATURE_NAMES)
    assert len(X) == len(y) == len(meta)
    assert y.name == "default_12m" and y.dtype == np.int8
    defaulted_on = dict(zip(meta["dealer_id"], meta["defaulted_on"], strict=True))
    assert defaulted_on[1] == pd.Timestamp("2025-05-31")
    assert pd.isna(defaulted_on[2])
    assert meta["outcome_complete"].all()


def test_features_of_a_snapshot_are_those_as_of_its_date():
    X, _, meta = build_training_snapshots(_trade(), [EARLY])
    row = X[meta["dealer_id"] == 2].iloc[0]
    assert row["current_days_past_due"] == pytest.approx(31)  # due 2025-03-01, still unpaid on 2025-04-01


def test_snapshots_whose_year_runs_past_the_extract_are_censored():
    X, y, meta = build_training_snapshots(_trade(), [EARLY, LATE])
    assert set(meta["as_of"]) == {pd.Timestamp(EARLY, tz="UTC")}
    X, y, meta = build_training_snapshots(_trade(), [EARLY, LATE], complete_outcomes_only=False)
    late = meta["as_of"] == pd.Timestamp(LATE, tz="UTC")
    assert not meta.loc[late, "outcome_complete"].any()
    assert set(meta.loc[late, "dealer_id"]) == {2, 4}  # 1, 3 and 5 were in default by then


def test_no_complete_snapshot_gives_empty_frames_with_the_right_columns():
    X, y, meta = build_training_snapshots(_trade(), [LATE])
    assert X.empty and y.empty and meta.empty
    assert list(X.columns) == list(FEATURE_NAMES)
    assert list(meta.columns) == ["dealer_id", "as_of", "defaulted_on", "outcome_complete"]
    assert dict(meta.dtypes.astype(str)) == {
        "dealer_id": "int64",
        "as_of": "datetime64[us, UTC]",
        "defaulted_on": "datetime64[s]",
        "outcome_complete": "bool",
    }
