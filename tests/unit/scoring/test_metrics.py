"""Performance and stability measures, pinned on small worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from risk_engine.errors import InvalidInput
from scoring.metrics import auc, brier, default_rate_by_grade, gini, ks, psi, psi_level

Y = np.array([0, 0, 1, 1, 0, 1])
SCORE = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])


def test_auc_counts_the_pairs_ranked_right():
    assert auc(Y, SCORE) == pytest.approx(8 / 9, rel=1e-6)  # 8 of 9 bad-good pairs in order


def test_gini_is_twice_auc_minus_one():
    assert gini(Y, SCORE) == pytest.approx(2 * 8 / 9 - 1, rel=1e-6)


def test_ks_is_the_widest_gap_between_the_cumulative_shares():
    assert ks(Y, SCORE) == pytest.approx(2 / 3, rel=1e-6)


def test_ks_does_not_split_tied_scores():
    assert ks([0, 1], [0.5, 0.5]) == 0.0


def test_brier_is_the_mean_squared_error():
    assert brier([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2, rel=1e-6)


def test_psi_of_a_sample_against_itself_is_zero_and_a_shift_is_significant():
    rng = np.random.default_rng(0)
    base = rng.normal(size=5000)
    assert psi(base, base) == pytest.approx(0.0, abs=1e-12)
    assert psi_level(psi(base, base + 1.0)) == "significant"


def test_psi_with_explicit_edges():
    value = psi([0, 0, 1, 1], [0, 1, 1, 1], bins=[0.5])
    assert value == pytest.approx(
        (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5), rel=1e-6
    )


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0.0, "stable"),
        (0.0999, "stable"),
        (0.10, "investigate"),
        (0.2499, "investigate"),
        (0.25, "significant"),
        (3.0, "significant"),
    ],
)
def test_psi_levels_follow_the_monitoring_thresholds(value, level):
    assert psi_level(value) == level


def test_default_rates_per_grade_compare_expected_and_observed():
    table = default_rate_by_grade(
        ["A", "A", "B", "B"], [0.01, 0.03, 0.2, 0.4], [0, 0, 1, 0], order=["A", "B", "C"]
    )
    assert table[0] == {
        "grade": "A",
        "count": 2,
        "expected_default_rate": pytest.approx(0.02),
        "observed_default_rate": 0.0,
        "defaults": 0,
    }
    assert table[1]["observed_default_rate"] == 0.5
    assert table[2]["count"] == 0 and table[2]["observed_default_rate"] is None


def test_auc_needs_both_classes():
    with pytest.raises(InvalidInput):
        auc([1, 1], [0.2, 0.3])


def test_rank_correlation_of_a_constant_side_is_undefined_not_nan():
    import json

    import numpy as np

    from scoring.monitoring import _rank_correlation

    same = np.array([0.02, 0.02, 0.02])
    assert _rank_correlation(same, np.array([0.01, 0.03, 0.05])) is None
    assert _rank_correlation(np.array([0.01, 0.03, 0.05]), np.array([0.02, 0.06, 0.04])) == 0.5
    json.dumps({"rank_correlation": _rank_correlation(same, same)}, allow_nan=False)
