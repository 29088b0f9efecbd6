"""Exact TreeSHAP: additivity, agreement with shap and XGBoost, folding and importance."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from risk_engine.errors import InvalidInput
from scoring.explain import ExactTreeShap, _distinct_feature_tables, fold_to_sources, global_importance

from .synthetic import fitted_model, raw_booster

cell = st.one_of(
    st.just(math.nan), st.floats(-4, 4, allow_nan=False), st.sampled_from([0.0, -0.0, 1e30, -1e30])
)


@functools.cache
def _explainer() -> ExactTreeShap:
    return ExactTreeShap.from_booster(raw_booster()[0])


@pytest.fixture
def explainer() -> ExactTreeShap:
    return _explainer()


@settings(max_examples=60, deadline=None)
@given(rows=arrays(np.float64, st.tuples(st.integers(1, 12), st.just(6)), elements=cell))
def test_contributions_add_up_to_the_margin_for_any_row(rows):
    explainer = _explainer()
    contributions, margin = explainer.explain(rows)
    assert np.abs(explainer.base + contributions.sum(axis=1) - margin).max() <= 1e-9
    assert np.array_equal(margin, explainer.margin(rows)) or np.allclose(
        margin, explainer.margin(rows), atol=1e-12
    )


def test_margin_is_the_boosters_margin_to_float32_rounding(explainer):
    booster, X = raw_booster()
    expected = booster.predict(xgb.DMatrix(X), output_margin=True)
    assert np.abs(explainer.margin(X) - expected).max() < 1e-5


def test_contributions_equal_shap_tree_explainer(explainer):
    with warnings.catch_warnings():  # shap's import touches deprecated matplotlib colour APIs
        warnings.simplefilter("ignore")
        import shap

    booster, X = raw_booster()
    reference = shap.TreeExplainer(booster)
    values = reference.shap_values(X[:200])
    contributions, _ = explainer.explain(X[:200])
    assert np.abs(contributions - values).max() < 1e-5
    assert explainer.base == pytest.approx(float(reference.expected_value), abs=1e-5)


def test_contributions_equal_xgboost_pred_contribs(explainer):
    booster, X = raw_booster()
    native = booster.predict(xgb.DMatrix(X), pred_contribs=True)
    contributions, _ = explainer.explain(X)
    assert np.abs(contributions - native[:, :-1]).max() < 1e-5
    assert explainer.base == pytest.approx(float(native[0, -1]), abs=1e-5)


def test_one_row_and_a_batch_give_the_same_contributions(explainer):
    _, X = raw_booster()
    batch, batch_margin = explainer.explain(X[:50], n_threads=2)
    for i in (0, 17, 49):
        single, margin = explainer.explain(X[i])
        assert np.allclose(single[0], batch[i], atol=1e-12)
        assert margin[0] == pytest.approx(batch_margin[i], abs=1e-12)


def test_a_model_too_large_for_the_tables_is_refused():
    with pytest.raises(InvalidInput, match="too large"):
        ExactTreeShap.from_booster(raw_booster()[0], max_table_entries=1000)


def test_a_row_of_the_wrong_width_is_refused(explainer):
    with pytest.raises(InvalidInput, match="6 encoded columns"):
        explainer.explain(np.zeros((2, 5)))


@settings(max_examples=40, deadline=None)
@given(u=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_a_leafs_table_splits_exactly_what_the_leaf_adds(u, seed):
    """Efficiency per leaf: Σ_j φ_j(q) = v·Π_{j∈q} 1·Π_{j∉q} 0 … i.e. f(all known) − f(none known),
    where f(S) = v · Π_{j∈S} o_j · Π_{j∉S} z_j."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.05, 1.0, size=(3, u))
    v = rng.normal(size=3)
    table = _distinct_feature_tables(z, v, u)
    for q in range(1 << u):
        o = np.array([(q >> j) & 1 for j in range(u)], dtype=float)
        assert np.allclose(table[:, q, :].sum(axis=1), v * np.prod(o) - v * np.prod(z, axis=1), atol=1e-12)


def test_one_hot_contributions_fold_into_their_source_column():
    model, X, _ = fitted_model()
    explained = model.explain(X.head(40))
    region = model.feature_names_in_.index("region")
    slots = [i for i, s in enumerate(model.encoder_.feature_source_) if s == region]
    assert len(slots) > 1
    assert np.allclose(
        explained.contributions[:, region], explained.encoded_contributions[:, slots].sum(axis=1)
    )
    assert np.allclose(explained.base + explained.contributions.sum(axis=1), explained.margin, atol=1e-9)


def test_folding_sums_columns_by_source():
    folded = fold_to_sources(np.array([[1.0, 2.0, 3.0]]), np.array([0, 1, 0]), 2)
    assert folded.tolist() == [[4.0, 2.0]]


def test_global_importance_ranks_columns_by_mean_absolute_contribution():
    importance = global_importance(np.array([[1.0, -3.0, 0.0], [-1.0, 1.0, 0.5]]), ["a", "b", "c"])
    assert list(importance) == ["b", "a", "c"]
    assert importance["b"] == pytest.approx(2.0)
