"""Calibration: isotonic or Platt chosen by cross-fitted Brier, monotone, floored."""

from __future__ import annotations

import numpy as np
import pytest

from risk_engine.errors import InvalidInput
from scoring.calibration import Calibrator, choose_calibration


def outcomes(pd_true: np.ndarray, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(pd_true)) < pd_true).astype(float)


def test_platt_wins_when_the_truth_is_logistic_in_the_margin():
    margin = np.random.default_rng(1).normal(-2, 1.5, 3000)
    calibrator, briers = choose_calibration(margin, outcomes(1 / (1 + np.exp(-(0.7 * margin + 0.3)))))
    assert calibrator.method == "platt"
    assert briers["platt"] < briers["isotonic"]
    assert calibrator.slope == pytest.approx(0.7, abs=0.15)


def test_isotonic_wins_when_the_truth_is_a_step():
    margin = np.random.default_rng(2).normal(0, 2, 3000)
    calibrator, briers = choose_calibration(margin, outcomes(np.where(margin > 1.0, 0.7, 0.03)))
    assert calibrator.method == "isotonic"
    assert briers["isotonic"] < briers["platt"]


def test_a_forced_method_is_used_and_reported_alone():
    margin = np.linspace(-3, 3, 400)
    calibrator, briers = choose_calibration(margin, outcomes(1 / (1 + np.exp(-margin))), method="isotonic")
    assert calibrator.method == "isotonic"
    assert set(briers) == {"uncalibrated", "isotonic"}


def test_calibrated_pd_is_monotone_and_floored():
    margin = np.random.default_rng(3).normal(-3, 2, 2000)
    y = outcomes(1 / (1 + np.exp(-margin)))
    for method in ("isotonic", "platt"):
        calibrator, _ = choose_calibration(margin, y, method=method)
        grid = np.linspace(-15, 15, 500)
        pd_ = calibrator.pd(grid)
        assert np.all(np.diff(pd_) >= 0)
        assert pd_.min() >= calibrator.pd_floor and pd_.max() <= calibrator.pd_cap
        assert [calibrator.pd_one(m) for m in grid[::50]] == pytest.approx(pd_[::50].tolist(), abs=1e-15)


def test_a_calibrator_survives_a_round_trip_through_plain_data():
    margin = np.linspace(-3, 3, 400)
    calibrator, _ = choose_calibration(margin, outcomes(1 / (1 + np.exp(-margin))), method="isotonic")
    again = Calibrator.from_dict(calibrator.to_dict())
    assert np.array_equal(again.pd(margin), calibrator.pd(margin))


def test_calibration_needs_both_outcomes():
    with pytest.raises(InvalidInput, match="two goods and two bads"):
        choose_calibration(np.arange(10.0), np.r_[np.zeros(9), 1.0])
