"""The master scale (PD bands → rating grades) and points-to-double-the-odds score scaling.

Default scale (policy, configurable): ten grades, each band's upper PD bound roughly doubling, from
AAA (below 0.10%) to C (20% and above); D is reserved for obligors in default (PD = 100%, e.g. more
than 90 days past due), which a model PD never reaches on its own.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from risk_engine.errors import InvalidInput


@dataclass(frozen=True)
class Grade:
    name: str
    pd_min: float  # inclusive
    pd_max: float  # exclusive, except the last grade which includes 1.0
    zh: str = ""
    en: str = ""

    @property
    def representative_pd(self) -> float:
        """Geometric mid-point of the band; half the upper bound for a band starting at 0."""
        if self.pd_min <= 0.0:
            return self.pd_max / 2.0
        return math.sqrt(self.pd_min * self.pd_max)


DEFAULT_GRADES: tuple[Grade, ...] = (
    Grade("AAA", 0.0, 0.001, "极低风险", "minimal risk"),
    Grade("AA", 0.001, 0.0025, "很低风险", "very low risk"),
    Grade("A", 0.0025, 0.005, "低风险", "low risk"),
    Grade("BBB", 0.005, 0.01, "较低风险", "moderate risk"),
    Grade("BB", 0.01, 0.025, "中等风险", "elevated risk"),
    Grade("B", 0.025, 0.05, "较高风险", "high risk"),
    Grade("CCC", 0.05, 0.10, "高风险", "very high risk"),
    Grade("CC", 0.10, 0.20, "很高风险", "severe risk"),
    Grade("C", 0.20, 1.0, "极高风险", "near default"),
    Grade("D", 1.0, 1.0, "违约", "in default"),
)


class MasterScale:
    """Contiguous PD bands covering [0, 1], best grade first."""

    def __init__(self, grades: Sequence[Grade] = DEFAULT_GRADES) -> None:
        grades = tuple(grades)
        if len(grades) < 2:
            raise InvalidInput("a master scale needs at least two grades", code="invalid_scale")
        if grades[0].pd_min != 0.0 or grades[-1].pd_max != 1.0:
            raise InvalidInput("grades must cover PD from 0 to 1", code="invalid_scale")
        for lower, upper in zip(grades, grades[1:], strict=False):
            if lower.pd_max != upper.pd_min or lower.pd_min > lower.pd_max:
                raise InvalidInput(
                    f"grades {lower.name} and {upper.name} are not contiguous", code="invalid_scale"
                )
        if len({g.name for g in grades}) != len(grades):
            raise InvalidInput("grade names must be unique", code="invalid_scale")
        self.grades = grades
        self._upper_bounds = [g.pd_max for g in grades[:-1]]

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.grades]

    def grade(self, pd: float) -> str:
        """The grade whose band holds ``pd``: lower bound inclusive, upper exclusive; PD = 1 is the
        last grade (default)."""
        if not 0.0 <= pd <= 1.0 or math.isnan(pd):
            raise InvalidInput(f"PD must be within [0, 1], got {pd}", field="pd", code="invalid_pd")
        return self.grades[bisect.bisect_right(self._upper_bounds, pd)].name

    def band(self, name: str) -> Grade:
        for g in self.grades:
            if g.name == name:
                return g
        raise InvalidInput(f"unknown grade {name}", field="grade", code="unknown_grade")

    def to_dict(self) -> dict[str, Any]:
        return {"grades": [asdict(g) for g in self.grades]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MasterScale:
        return cls([Grade(**g) for g in data["grades"]])


@dataclass(frozen=True)
class ScoreScaling:
    """Points to double the odds: score = offset + factor · ln(good:bad odds), with
    factor = pdo / ln 2 and offset = points − factor · ln(odds). The default (600 points at 19:1
    good:bad, i.e. PD 5%, 50 points to double the odds) is the R ``scorecard`` package's
    (600 at bad:good 1:19, PDO 50)."""

    points: float = 600.0
    odds: float = 19.0  # good:bad at ``points``
    pdo: float = 50.0

    def __post_init__(self) -> None:
        if self.pdo <= 0 or self.odds <= 0:
            raise InvalidInput("PDO and odds must be positive", code="invalid_scaling")

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.points - self.factor * math.log(self.odds)

    def score(self, pd: float) -> float:
        """Score of a PD; higher is safer. PD is clipped to [1e-9, 1 − 1e-9] to keep it finite."""
        p = min(max(pd, 1e-9), 1.0 - 1e-9)
        return self.offset + self.factor * math.log((1.0 - p) / p)

    def pd(self, score: float) -> float:
        """Inverse of ``score``."""
        return 1.0 / (1.0 + math.exp((score - self.offset) / self.factor))
