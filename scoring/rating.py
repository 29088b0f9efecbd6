"""One explained rating: PD, grade, score, contributions and reason codes for one applicant.

The single-decision hot path: a mapping in, a ``Rating`` out, no DataFrame, no DMatrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from scoring.master_scale import MasterScale, ScoreScaling
from scoring.model import PDModel
from scoring.reasons import adverse_factors


@dataclass(frozen=True)
class Rating:
    pd: float
    grade: str
    score: float
    margin: float  # log-odds before calibration
    base: float  # expected margin; base + sum(contributions) == margin
    contributions: dict[str, float]  # source column → log-odds
    reasons: list[dict[str, Any]]  # the factors that raised the risk most, zh and en

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rate(
    model: PDModel,
    scale: MasterScale,
    scaling: ScoreScaling,
    record: Mapping[str, Any],
    *,
    catalog: Mapping[str, Any] | None = None,
    top_n: int = 4,
) -> Rating:
    explained = model.explain_record(record)
    return Rating(
        pd=explained.pd,
        grade=scale.grade(explained.pd),
        score=scaling.score(explained.pd),
        margin=explained.margin,
        base=explained.base,
        contributions=explained.contributions,
        reasons=adverse_factors(explained.contributions, record, catalog, top_n=top_n),
    )
