"""The catalog and the computed columns agree, and its directions are safe as monotone constraints."""

from __future__ import annotations

import typing

import numpy as np
import pytest

from scoring.catalog import CATALOG, FEATURE_NAMES, WINDOWS, FeatureSpec, Unit, monotone_constraints
from scoring.features import compute_features

from .history import AS_OF, history


def test_computed_features_are_exactly_the_catalog_columns_in_catalog_order():
    frame = compute_features(history(), AS_OF)
    assert list(frame.columns) == list(CATALOG) == list(FEATURE_NAMES)
    assert all(dtype == np.float64 for dtype in frame.dtypes)


def test_every_feature_is_described_in_chinese_and_english_with_a_known_unit():
    units = set(typing.get_args(Unit))
    for name, spec in CATALOG.items():
        assert spec.name == name
        assert spec.zh and spec.en and spec.missing
        assert spec.unit in units
        assert spec.window_months is None or spec.window_months in (*WINDOWS, 6, 12)


@pytest.mark.parametrize(
    "stem",
    [
        "purchase_amount",
        "purchase_count",
        "purchase_frequency",
        "average_order_value",
        "on_time_payment_ratio",
        "mean_payment_delay_days",
        "max_payment_delay_days",
        "return_rate",
        "supplier_hhi",
        "invoice_match_ratio",
    ],
)
def test_windowed_features_exist_for_three_six_and_twelve_months(stem):
    for window in WINDOWS:
        assert CATALOG[f"{stem}_{window}m"].window_months == window


def test_monotone_constraints_cover_exactly_the_features_with_a_known_direction():
    constraints = monotone_constraints()
    assert constraints == {n: s.direction for n, s in CATALOG.items() if s.direction}
    assert set(constraints.values()) <= {-1, 1}


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("current_days_past_due", 1),
        ("max_payment_delay_days_12m", 1),
        ("mean_payment_delay_days_3m", 1),
        ("on_time_payment_ratio_6m", -1),
        ("tenure_months", -1),
        ("business_age_months", -1),
        ("prior_loan_late_ratio", 1),
        ("credit_utilisation_max_12m", 1),
    ],
)
def test_directions_known_from_credit_practice(name, direction):
    assert CATALOG[name].direction == direction


@pytest.mark.parametrize(
    "name",
    [
        "purchase_amount_12m",
        "purchase_trend_3m",
        "seasonally_adjusted_trend_3m",
        "supplier_hhi_12m",
        "purchase_volatility_12m",
        "average_order_value_6m",
    ],
)
def test_no_constraint_where_the_effect_is_not_monotone(name):
    assert CATALOG[name].direction == 0


def test_a_direction_outside_minus_one_zero_one_is_refused():
    with pytest.raises(ValueError):
        FeatureSpec("x", "x", "x", None, "days", 2, "never")  # type: ignore[arg-type]
