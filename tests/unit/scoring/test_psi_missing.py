"""Population stability counts missing values as a bin of their own (as optbinning's monitoring does):
a feature whose missing share jumps has shifted, whatever its present values look like."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.metrics import psi, psi_level
from scoring.monitoring import psi_entry
from scoring.training import psi_against_reference, reference_distribution


def _with_missing(n: int, missing_share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n)
    values[rng.random(n) < missing_share] = np.nan
    return values


def _reference(values: np.ndarray) -> dict:
    return reference_distribution(pd.DataFrame({"x": values}), np.linspace(0.01, 0.2, len(values)))["x"]


def test_a_missing_share_jumping_from_five_to_sixty_percent_is_a_significant_shift():
    reference = _reference(_with_missing(5000, 0.05, seed=1))
    recent = _with_missing(2000, 0.60, seed=2)  # the present values are distributed as before
    value = psi_against_reference(reference, recent)
    assert value is not None and psi_level(value) == "significant"


def test_an_unchanged_population_with_missing_values_is_stable():
    reference = _reference(_with_missing(5000, 0.05, seed=1))
    assert psi_level(psi_against_reference(reference, _with_missing(5000, 0.05, seed=3))) == "stable"


def test_the_missing_bin_is_weighed_like_any_other_bin():
    reference = {"edges": [0.5], "shares": [0.5, 0.5], "missing_share": 0.1}  # shares of present values
    value = psi_against_reference(reference, np.array([0.0, 1.0, np.nan, np.nan]))
    expected, actual = np.array([0.45, 0.45, 0.10]), np.array([0.25, 0.25, 0.50])
    assert value == pytest.approx(float(np.sum((actual - expected) * np.log(actual / expected))), rel=1e-9)


def test_a_feature_that_becomes_entirely_missing_still_gets_a_psi():
    reference = _reference(_with_missing(5000, 0.05, seed=1))
    value = psi_against_reference(reference, np.full(300, np.nan))
    assert value is not None and psi_level(value) == "significant"


def test_a_feature_missing_throughout_training_is_referenced_and_shows_values_appearing():
    reference = _reference(np.full(1000, np.nan))
    assert reference["missing_share"] == 1.0
    assert psi_level(psi_against_reference(reference, np.full(50, np.nan))) == "stable"
    assert psi_level(psi_against_reference(reference, _with_missing(500, 0.05, seed=4))) == "significant"


def test_no_recent_values_at_all_give_no_psi():
    assert psi_against_reference(_reference(_with_missing(100, 0.05, seed=1)), np.array([])) is None


def test_the_train_versus_out_of_time_psi_counts_missing_values_as_their_own_bin():
    expected, actual = _with_missing(5000, 0.05, seed=1), _with_missing(2000, 0.60, seed=2)
    assert psi_level(psi(expected, actual)) == "significant"
    assert psi(expected, expected) == pytest.approx(0.0, abs=1e-12)
    assert psi(np.array([0.0, 1.0, np.nan]), np.array([np.nan, np.nan, np.nan]), bins=[0.5]) > 0.25


def test_a_monitoring_entry_shows_the_missing_shares_behind_the_psi():
    reference = _reference(_with_missing(5000, 0.05, seed=1))
    entry = psi_entry(reference, _with_missing(2000, 0.60, seed=2))
    assert entry["level"] == "significant"
    assert entry["missing_share"]["reference"] == pytest.approx(0.05, abs=0.01)
    assert entry["missing_share"]["recent"] == pytest.approx(0.60, abs=0.03)
    assert psi_entry(None, np.array([1.0])) == {"psi": None, "level": None}
