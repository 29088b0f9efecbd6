"""Mapping the booster's margin to a calibrated PD: isotonic or Platt, whichever predicts better.

Both maps are monotone non-decreasing in the margin, so calibration never reorders applicants and
never breaks a monotone constraint. They are stored as a handful of numbers and applied with
plain numpy (no scikit-learn call on the decision path).

The choice is made by Brier score on held-out data, *cross-fitted* inside the validation set:
fitted and scored on the same rows, isotonic regression always wins (it is the least-squares
monotone fit), so each method is fitted on K−1 folds and scored on the remaining one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from risk_engine.errors import InvalidInput

#: Basel PD floor for corporate exposures (CRR Art. 160(1)): 0.03%. Also keeps scores finite.
PD_FLOOR = 0.0003
PD_CAP = 0.9999
METHODS = ("isotonic", "platt")


@dataclass(frozen=True)
class Calibrator:
    method: str  # "isotonic" | "platt"
    # isotonic: knots (margin, PD), linear between them, flat beyond; platt: slope and intercept
    knots_margin: tuple[float, ...] = ()
    knots_pd: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0
    pd_floor: float = PD_FLOOR
    pd_cap: float = PD_CAP
    _x: np.ndarray = field(init=False, repr=False, compare=False)
    _y: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_x", np.asarray(self.knots_margin, dtype=np.float64))
        object.__setattr__(self, "_y", np.asarray(self.knots_pd, dtype=np.float64))

    def pd(self, margin) -> np.ndarray:
        margin = np.asarray(margin, dtype=np.float64)
        if self.method == "isotonic":
            p = np.interp(margin, self._x, self._y)
        else:
            p = 1.0 / (1.0 + np.exp(-(self.slope * margin + self.intercept)))
        return np.clip(p, self.pd_floor, self.pd_cap)

    def pd_one(self, margin: float) -> float:
        """Scalar fast path for one decision."""
        if self.method == "isotonic":
            p = float(np.interp(margin, self._x, self._y))
        else:
            z = self.slope * margin + self.intercept
            p = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
        return min(max(p, self.pd_floor), self.pd_cap)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "knots_margin": list(self.knots_margin),
            "knots_pd": list(self.knots_pd),
            "slope": self.slope,
            "intercept": self.intercept,
            "pd_floor": self.pd_floor,
            "pd_cap": self.pd_cap,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        return cls(
            data["method"],
            tuple(data["knots_margin"]),
            tuple(data["knots_pd"]),
            data["slope"],
            data["intercept"],
            data["pd_floor"],
            data["pd_cap"],
        )


def fit_isotonic(margin: np.ndarray, y: np.ndarray, **limits: float) -> Calibrator:
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(margin, y)
    return Calibrator(
        "isotonic", tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)), **limits
    )


def fit_platt(margin: np.ndarray, y: np.ndarray, **limits: float) -> Calibrator | None:
    """Logistic regression of the outcome on the margin; ``None`` when the fitted slope is not
    positive (it would reverse the ranking)."""
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
    slope = float(lr.coef_[0, 0])
    if not slope > 0:
        return None
    return Calibrator("platt", slope=slope, intercept=float(lr.intercept_[0]), **limits)


_FITTERS = {"isotonic": fit_isotonic, "platt": fit_platt}


def choose_calibration(
    margin,
    y,
    *,
    method: str = "auto",
    folds: int = 5,
    seed: int = 0,
    pd_floor: float = PD_FLOOR,
    pd_cap: float = PD_CAP,
) -> tuple[Calibrator, dict[str, float | None]]:
    """Fit the calibration on (margin, y) — validation data the booster did not train on.

    ``method="auto"`` compares isotonic and Platt by cross-fitted Brier and refits the winner on
    all rows (a tie goes to Platt, the smoother map). Returns the calibrator and the Brier of
    each candidate plus ``"uncalibrated"`` (the booster's own sigmoid).
    """
    margin = np.asarray(margin, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if method not in ("auto", *METHODS):
        raise InvalidInput(f"calibration must be auto, isotonic or platt, not {method}", field="calibration")
    minority = int(min(y.sum(), len(y) - y.sum()))
    if minority < 2:
        raise InvalidInput(
            "calibration needs at least two goods and two bads in the validation data",
            code="too_few_outcomes",
        )
    limits = {"pd_floor": pd_floor, "pd_cap": pd_cap}
    briers: dict[str, float | None] = {
        "uncalibrated": float(np.mean((1.0 / (1.0 + np.exp(-margin)) - y) ** 2))
    }
    candidates = METHODS if method == "auto" else (method,)
    splitter = StratifiedKFold(n_splits=min(folds, minority), shuffle=True, random_state=seed)
    for name in candidates:
        predicted = np.empty_like(y)
        usable = True
        for fit_rows, score_rows in splitter.split(margin, y):
            calibrator = _FITTERS[name](margin[fit_rows], y[fit_rows], **limits)
            if calibrator is None:
                usable = False
                break
            predicted[score_rows] = calibrator.pd(margin[score_rows])
        briers[name] = float(np.mean((predicted - y) ** 2)) if usable else None
    scored = [name for name in candidates if briers.get(name) is not None]
    if not scored:
        raise InvalidInput(
            "no calibration could be fitted: the margin does not rank the outcomes", code="uncalibratable"
        )
    best = min(scored, key=lambda name: (briers[name], name != "platt"))
    final = _FITTERS[best](margin, y, **limits)
    if final is None:  # Platt won the folds but not on all rows: fall back to isotonic
        best, final = "isotonic", fit_isotonic(margin, y, **limits)
    return final, briers
