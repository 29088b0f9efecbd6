"""Master scale and PDO score scaling: golden numbers and monotonicity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk_engine.errors import InvalidInput
from scoring.master_scale import Grade, MasterScale, ScoreScaling


def test_the_default_scaling_gives_600_points_at_19_to_1_and_50_to_double():
    scaling = ScoreScaling()
    assert scaling.factor == pytest.approx(72.13475204444817, rel=1e-6)
    assert scaling.offset == pytest.approx(387.6036243565417, rel=1e-6)
    assert scaling.score(0.05) == pytest.approx(600.0, rel=1e-6)  # odds 19:1
    assert scaling.score(1 / 39) == pytest.approx(650.0, rel=1e-6)  # odds 38:1
    assert scaling.score(0.5) == pytest.approx(387.6036243565417, rel=1e-6)  # odds 1:1


def test_a_configured_scaling_follows_the_same_formula():
    scaling = ScoreScaling(points=500, odds=50, pdo=20)
    assert scaling.score(1 / 51) == pytest.approx(500.0, rel=1e-6)
    assert scaling.score(1 / 101) == pytest.approx(520.0, rel=1e-6)


@given(st.floats(1e-6, 1 - 1e-6))
def test_score_and_pd_invert_each_other(pd):
    scaling = ScoreScaling()
    assert scaling.pd(scaling.score(pd)) == pytest.approx(pd, rel=1e-9)


def test_the_default_scale_has_at_least_eight_grades_covering_all_pds():
    scale = MasterScale()
    assert len(scale.grades) >= 8
    assert scale.grade(0.0) == "AAA" and scale.grade(0.0005) == "AAA"
    assert scale.grade(0.001) == "AA"  # lower bound inclusive
    assert scale.grade(0.03) == "B"
    assert scale.grade(0.999) == "C"
    assert scale.grade(1.0) == "D"


@given(st.floats(0, 1), st.floats(0, 1))
def test_a_higher_pd_never_gets_a_better_grade(p, q):
    scale = MasterScale()
    low, high = sorted((p, q))
    assert scale.names.index(scale.grade(low)) <= scale.names.index(scale.grade(high))


@given(st.floats(0, 1), st.floats(0, 1))
def test_a_higher_pd_never_gets_a_higher_score(p, q):
    scaling = ScoreScaling()
    low, high = sorted((p, q))
    assert scaling.score(low) >= scaling.score(high)


def test_each_grade_band_holds_its_representative_pd():
    scale = MasterScale()
    for grade in scale.grades[:-1]:
        assert scale.grade(grade.representative_pd) == grade.name


@pytest.mark.parametrize("pd", [-0.1, 1.1, math.nan])
def test_a_pd_outside_zero_to_one_is_refused(pd):
    with pytest.raises(InvalidInput):
        MasterScale().grade(pd)


def test_gapped_bands_are_refused():
    with pytest.raises(InvalidInput, match="contiguous"):
        MasterScale([Grade("A", 0.0, 0.1), Grade("B", 0.2, 1.0)])


def test_a_scale_survives_plain_data():
    scale = MasterScale()
    assert MasterScale.from_dict(scale.to_dict()).grades == scale.grades
