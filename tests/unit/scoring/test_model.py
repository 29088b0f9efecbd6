"""PDModel: sklearn conventions, monotone PDs, validation and calibration, the record fast path."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_engine.errors import InvalidInput
from scoring.model import PDModel

from .synthetic import FAST, dealers, fitted_model

REGIONS = ["华东", "华南", "西北 区域", "north<1>", None, "never seen"]


def applicant(draw_or_values: dict) -> pd.DataFrame:
    return pd.DataFrame([draw_or_values])


record = st.fixed_dictionaries(
    {
        "days_past_due": st.one_of(st.just(math.nan), st.floats(0, 60)),
        "tenure_months": st.one_of(st.just(math.nan), st.floats(0, 150)),
        "on_time_ratio": st.one_of(st.just(math.nan), st.floats(0, 1)),
        "region": st.sampled_from(REGIONS),
        "purchases [CNY]": st.one_of(st.just(math.nan), st.floats(0, 1e7)),
    }
)


@settings(max_examples=60, deadline=None)
@given(base=record, steps=st.lists(st.floats(0, 30), min_size=1, max_size=5))
def test_pd_never_falls_when_days_past_due_rise(base, steps):
    model = fitted_model()[0]
    start = 0.0 if math.isnan(base["days_past_due"]) else base["days_past_due"]
    values = np.cumsum([start, *steps])
    rows = pd.DataFrame([{**base, "days_past_due": v} for v in values])
    pd_ = model.predict_pd(rows)
    assert np.all(np.diff(pd_) >= -1e-12)
    assert np.all(np.diff(model.margin(rows)) >= -1e-12)


@settings(max_examples=40, deadline=None)
@given(base=record, low=st.floats(0, 1), high=st.floats(0, 1))
def test_pd_never_rises_when_the_on_time_ratio_improves(base, low, high):
    model = fitted_model()[0]
    low, high = sorted((low, high))
    rows = pd.DataFrame([{**base, "on_time_ratio": low}, {**base, "on_time_ratio": high}])
    worse, better = model.predict_pd(rows)
    assert better <= worse + 1e-12


def test_fit_returns_the_model_with_fitted_attributes():
    model, X, _ = fitted_model()
    assert model.feature_names_in_ == list(X.columns)
    assert model.n_features_in_ == 5
    assert model.calibration_ in ("isotonic", "platt")
    assert set(model.calibration_briers_) == {"uncalibrated", "isotonic", "platt"}
    assert 0 <= model.best_iteration_ < FAST["n_estimators"]
    assert model.monotone_constraints_["days_past_due"] == 1


def test_an_unfitted_model_refuses_to_score():
    with pytest.raises(InvalidInput, match="not fitted"):
        PDModel().predict_pd(pd.DataFrame({"a": [1.0]}))


def test_constructor_only_stores_parameters():
    model = PDModel(max_depth=3, monotone_constraints={"x": 1})
    assert model.get_params()["max_depth"] == 3
    assert not hasattr(model, "booster_")


def test_predicted_pd_and_explained_pd_are_the_same_numbers():
    model, X, _ = fitted_model()
    explained = model.explain(X.head(30))
    assert np.array_equal(model.predict_pd(X.head(30)), explained.pd)
    assert np.all((explained.pd >= model.pd_floor) & (explained.pd <= model.pd_cap))


def test_the_record_fast_path_matches_the_batch_path():
    model, X, _ = fitted_model()
    batch = model.explain(X.head(5))
    for i in range(5):
        row = X.iloc[i].to_dict()
        single = model.explain_record(row)
        assert single.pd == pytest.approx(batch.pd[i], abs=1e-12)
        assert single.margin == pytest.approx(batch.margin[i], abs=1e-12)
        assert list(single.contributions.values()) == pytest.approx(
            batch.contributions[i].tolist(), abs=1e-12
        )
        assert single.base + sum(single.contributions.values()) == pytest.approx(single.margin, abs=1e-9)


def test_a_record_with_absent_keys_scores_them_as_missing():
    model = fitted_model()[0]
    sparse = model.explain_record({"days_past_due": 3})
    explicit = model.explain_record(
        {
            "days_past_due": 3,
            "tenure_months": None,
            "on_time_ratio": float("nan"),
            "region": None,
            "purchases [CNY]": None,
        }
    )
    assert sparse.pd == explicit.pd


def test_an_explicit_validation_set_drives_early_stopping():
    X, y = dealers(500, seed=11)
    X_valid, y_valid = dealers(300, seed=12)
    model = PDModel(**FAST).fit(X, y, eval_set=(X_valid, y_valid))
    assert model.validation_ == {"rows": 300, "bads": int(y_valid.sum()), "source": "given"}


def test_a_monotone_constraint_on_a_categorical_column_is_refused():
    X, y = dealers(300)
    with pytest.raises(InvalidInput, match="categorical") as error:
        PDModel(**FAST, monotone_constraints={"region": 1}).fit(X, y)
    assert error.value.field == "region"


def test_a_monotone_constraint_on_an_unknown_column_is_refused():
    X, y = dealers(300)
    with pytest.raises(InvalidInput, match="no column"):
        PDModel(**FAST, monotone_constraints={"nope": 1}).fit(X, y)


def test_labels_must_hold_both_classes():
    X, _ = dealers(100)
    with pytest.raises(InvalidInput, match="both goods and bads"):
        PDModel(**FAST).fit(X, np.zeros(100))


def test_a_model_survives_export_and_import():
    model, X, _ = fitted_model()
    raw, state = model.to_parts()
    again = PDModel.from_parts(raw, state)
    assert np.array_equal(again.predict_pd(X.head(50)), model.predict_pd(X.head(50)))
