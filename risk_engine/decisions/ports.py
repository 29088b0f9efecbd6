"""What the decision core needs from scoring, as two small protocols, so the model registry and the feature
store plug in without the core importing them.

* ``FeatureSource.features_for(session, dealer_id, as_of)`` → ``FeatureVector``: the dealer's point-in-time
  features as of ``as_of`` (computed only from what the engine knew before ``as_of``), by catalog name
  (``scoring.catalog``), ``None`` (or NaN) where a value is missing.
* ``Scorer.score(features, attributes, session=...)`` → ``Score``: the champion model's PD, grade on the
  master scale, score points, per-feature contributions in log-odds (``base + Σ contributions = margin``),
  reason codes, and the model's version and artifact hash. ``attributes`` are the dealer and request
  attributes the rules see (``risk_engine.rules.defaults.CONTEXT_NAMES``); a model may ignore them.
  ``session`` is the decision's own, for a scorer that reads (the registry looks up its champion in it);
  a scorer that reads nothing ignores it.

Both may raise ``ModelUnavailable`` (503) when no champion model or feature data is available.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class FeatureVector:
    dealer_id: str
    as_of: datetime
    values: Mapping[str, Any]  # catalog name -> number, bool or None (missing)
    snapshot_id: str | None = None  # the stored snapshot these values come from, when there is one
    source: str = ""  # e.g. "features:v3"


@dataclass(frozen=True)
class ReasonCode:
    """A factor that raised the risk: the feature, its contribution (log-odds) and wording in zh and en."""

    code: str
    feature: str
    contribution: float
    zh: str
    en: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "feature": self.feature,
            "contribution": self.contribution,
            "zh": self.zh,
            "en": self.en,
        }


@dataclass(frozen=True)
class Score:
    pd: float  # probability of default over the model's horizon, 0..1
    grade: str  # on the master scale (limits.policy.MASTER_SCALE)
    score: int  # points (PDO scaling)
    contributions: Mapping[str, float]  # feature -> log-odds contribution
    base: float  # the model's expected margin; base + Σ contributions = margin
    reason_codes: tuple[ReasonCode, ...]
    model_version: str
    model_hash: str  # SHA-256 of the model artifact
    extra: Mapping[str, Any] = field(default_factory=dict)  # anything else worth keeping (calibration...)

    @property
    def margin(self) -> float:
        return self.base + sum(self.contributions.values())


@runtime_checkable
class FeatureSource(Protocol):
    def features_for(self, session: Session, dealer_id: str, as_of: datetime) -> FeatureVector: ...


@runtime_checkable
class Scorer(Protocol):
    def score(
        self, features: Mapping[str, Any], attributes: Mapping[str, Any], *, session: Session | None = None
    ) -> Score: ...
