"""One explained rating: PD, grade, score, contributions and reasons agree with each other."""

from __future__ import annotations

import pytest

from scoring.master_scale import MasterScale, ScoreScaling
from scoring.rating import rate

from .synthetic import fitted_model


def test_a_rating_is_consistent_from_pd_to_reasons():
    model, X, _ = fitted_model()
    record = X.iloc[3].to_dict()
    rating = rate(model, MasterScale(), ScoreScaling(), record, top_n=3)
    assert rating.grade == MasterScale().grade(rating.pd)
    assert rating.score == pytest.approx(ScoreScaling().score(rating.pd))
    assert rating.base + sum(rating.contributions.values()) == pytest.approx(rating.margin, abs=1e-9)
    raised = sorted((c for c in rating.contributions.values() if c > 1e-9), reverse=True)[:3]
    assert [r["contribution"] for r in rating.reasons] == raised
    assert all(r["zh"] and r["en"] for r in rating.reasons)
    assert rating.to_dict()["grade"] == rating.grade
