"""The PD model: encoding, a monotone-constrained XGBoost booster, calibration and explanation.

``PDModel`` follows scikit-learn conventions: the constructor only stores parameters, ``fit``
returns ``self`` and sets attributes ending in ``_``, and every other method refuses to run on an
unfitted model. After fitting, scoring never touches XGBoost: margins and contributions come from
``ExactTreeShap`` (float64, the booster's own splits), so ``predict_pd`` and ``explain`` agree to
the last digit and one decision needs no DataFrame and no DMatrix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.model_selection import train_test_split

from risk_engine.errors import InvalidInput
from scoring.calibration import PD_CAP, PD_FLOOR, Calibrator, choose_calibration
from scoring.explain import ExactTreeShap, fold_to_sources
from scoring.preprocess import TabularEncoder

#: Deeper trees make explanation tables grow as 2**depth and shallow trees are the norm for PD.
MAX_DEPTH = 6


@dataclass(frozen=True)
class Explanation:
    """Explained scores for a batch. Contributions are log-odds; ``base + contributions.sum(1)
    == margin`` per row; ``pd`` is the calibrated probability of default."""

    base: float
    margin: np.ndarray  # (n,)
    pd: np.ndarray  # (n,)
    columns: list[str]  # source columns
    contributions: np.ndarray  # (n, len(columns))
    feature_names: list[str]  # encoded columns, as the booster names them
    encoded_contributions: np.ndarray  # (n, len(feature_names))
    inputs: np.ndarray  # (n, len(feature_names)): the float32 values the booster compared

    def contributions_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.contributions, columns=self.columns)


@dataclass(frozen=True)
class RecordExplanation:
    pd: float
    margin: float
    base: float
    contributions: dict[str, float]  # source column → log-odds
    inputs: np.ndarray  # (encoded,) the float32 values the booster compared


class PDModel:
    """Probability-of-default model for any tabular data.

    ``monotone_constraints`` maps numeric source columns to +1 (a higher value never lowers the PD)
    or −1 (never raises it). Validation data — ``eval_set``, otherwise a stratified
    ``validation_fraction`` of the training rows — is used for early stopping and for fitting the
    calibration (chosen between isotonic and Platt by cross-fitted Brier), so it shapes the model:
    pass data held out from the training period, never the out-of-time or test sample whose figures
    are reported (``scoring.training`` holds out in-time dealers for it).
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        max_depth: int = 4,
        learning_rate: float = 0.05,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        monotone_constraints: Mapping[str, int] | None = None,
        early_stopping_rounds: int = 30,
        validation_fraction: float = 0.25,
        calibration: str = "auto",
        calibration_folds: int = 5,
        pd_floor: float = PD_FLOOR,
        pd_cap: float = PD_CAP,
        random_state: int = 0,
        n_jobs: int | None = None,
        encoder_params: Mapping[str, Any] | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.monotone_constraints = monotone_constraints
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.pd_floor = pd_floor
        self.pd_cap = pd_cap
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.encoder_params = encoder_params

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _PARAMS}

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y, eval_set: tuple[pd.DataFrame, Any] | None = None) -> PDModel:
        if not 1 <= self.max_depth <= MAX_DEPTH:
            raise InvalidInput(f"max_depth must be 1..{MAX_DEPTH}", field="max_depth")
        y = _binary_labels(y, len(X))
        if eval_set is None:
            X_train, X_valid, y_train, y_valid = train_test_split(
                X, y, test_size=self.validation_fraction, stratify=y, random_state=self.random_state
            )
        else:
            X_train, y_train = X, y
            X_valid, y_valid = eval_set[0], _binary_labels(eval_set[1], len(eval_set[0]))
        if y_valid.min() == y_valid.max():
            raise InvalidInput("validation data needs both goods and bads", code="single_class")

        # the column rules come from every row given: a row counter is only recognisable as consecutive
        # whole numbers on the whole frame, never on the random part a validation split leaves to train on
        encoder = TabularEncoder(**(self.encoder_params or {})).fit(X)
        constraints = self._encoded_constraints(encoder)
        params = {
            "objective": "binary:logistic",
            "tree_method": "hist",
            "eval_metric": "logloss",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "seed": self.random_state,
            "monotone_constraints": "(" + ",".join(map(str, constraints)) + ")",
        }
        if self.n_jobs:
            params["nthread"] = self.n_jobs
        names = list(encoder.feature_names_)
        train = xgb.DMatrix(encoder.transform(X_train), label=y_train, feature_names=names)
        valid_inputs = encoder.transform(X_valid)
        valid = xgb.DMatrix(valid_inputs, label=y_valid, feature_names=names)
        booster = xgb.train(
            params,
            train,
            num_boost_round=self.n_estimators,
            evals=[(valid, "validation")],
            early_stopping_rounds=self.early_stopping_rounds or None,
            verbose_eval=False,
        )
        best = getattr(booster, "best_iteration", None)
        if best is not None and best + 1 < booster.num_boosted_rounds():
            booster = booster[: best + 1]  # keep exactly the trees that scored best on validation

        self.encoder_ = encoder
        self.booster_ = booster
        self.explainer_ = ExactTreeShap.from_booster(booster)
        self.best_iteration_ = booster.num_boosted_rounds() - 1
        self.feature_names_in_ = list(encoder.source_columns_)
        self.n_features_in_ = len(self.feature_names_in_)
        self.monotone_constraints_ = dict(zip(names, constraints, strict=True))
        self.calibrator_, self.calibration_briers_ = choose_calibration(
            self.explainer_.margin(valid_inputs),
            y_valid,
            method=self.calibration,
            folds=self.calibration_folds,
            seed=self.random_state,
            pd_floor=self.pd_floor,
            pd_cap=self.pd_cap,
        )
        self.calibration_ = self.calibrator_.method
        self.validation_ = {
            "rows": int(len(y_valid)),
            "bads": int(y_valid.sum()),
            "source": "split" if eval_set is None else "given",
        }
        return self

    def _encoded_constraints(self, encoder: TabularEncoder) -> list[int]:
        wanted = dict(self.monotone_constraints or {})
        constraints = [0] * encoder.n_features_
        numeric = {name: slot for name, slot in encoder._numeric}
        for column, direction in wanted.items():
            if direction not in (-1, 0, 1):
                raise InvalidInput(f"monotone direction for {column} must be +1 or -1", field=column)
            if column in encoder.dropped_:
                raise InvalidInput(
                    f"{column} was dropped as an identifier and cannot be constrained", field=column
                )
            if column not in encoder.source_columns_:
                raise InvalidInput(f"no column {column} to constrain", field=column)
            if column not in numeric:
                raise InvalidInput(
                    f"{column} is categorical; only numeric columns take a monotone constraint", field=column
                )
            constraints[numeric[column]] = int(direction)
        return constraints

    # -- scoring ----------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "explainer_"):
            raise InvalidInput("this PDModel is not fitted yet; call fit first", code="not_fitted")

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return self.encoder_.transform(X)

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        """Raw margin (log-odds before calibration), float64."""
        inputs = self.encode(X)
        return self.explainer_.margin(inputs)

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        margin = self.margin(X)
        return self.calibrator_.pd(margin)

    def explain(self, X: pd.DataFrame) -> Explanation:
        inputs = self.encode(X)
        encoded, margin = self.explainer_.explain(inputs)
        columns = self.feature_names_in_
        return Explanation(
            base=self.explainer_.base,
            margin=margin,
            pd=self.calibrator_.pd(margin),
            columns=list(columns),
            contributions=fold_to_sources(encoded, self.encoder_.feature_source_, len(columns)),
            feature_names=list(self.encoder_.feature_names_),
            encoded_contributions=encoded,
            inputs=inputs.astype(np.float32).astype(np.float64),
        )

    def explain_record(self, record: Mapping[str, Any]) -> RecordExplanation:
        """One applicant as a mapping column → value (absent keys are missing): the fast path."""
        self._check_fitted()
        return self.explain_vector(self.encoder_.transform_record(record))

    def explain_vector(self, inputs: np.ndarray) -> RecordExplanation:
        """One already-encoded row (``encoder_.feature_names_`` order)."""
        self._check_fitted()
        encoded, margin = self.explainer_.explain(inputs)
        folded = np.bincount(self.encoder_.feature_source_, weights=encoded[0], minlength=self.n_features_in_)
        m = float(margin[0])
        return RecordExplanation(
            pd=self.calibrator_.pd_one(m),
            margin=m,
            base=self.explainer_.base,
            contributions=dict(zip(self.feature_names_in_, folded.tolist(), strict=True)),
            inputs=np.asarray(inputs, dtype=np.float32).astype(np.float64),
        )

    # -- persistence ------------------------------------------------------------------------------
    def to_parts(self) -> tuple[bytes, dict[str, Any]]:
        """(booster as UBJSON bytes, everything else as plain JSON-able data)."""
        self._check_fitted()
        state = {
            "params": _jsonable(self.get_params()),
            "encoder": self.encoder_.to_dict(),
            "calibration": self.calibrator_.to_dict(),
            "calibration_briers": self.calibration_briers_,
            "best_iteration": self.best_iteration_,
            "monotone_constraints": self.monotone_constraints_,
            "validation": self.validation_,
        }
        return bytes(self.booster_.save_raw("ubj")), state

    @classmethod
    def from_parts(cls, booster_raw: bytes, state: Mapping[str, Any]) -> PDModel:
        model = cls(**state["params"])
        booster = xgb.Booster()
        booster.load_model(bytearray(booster_raw))
        model.encoder_ = TabularEncoder.from_dict(state["encoder"])
        if list(booster.feature_names or []) != list(model.encoder_.feature_names_):
            raise InvalidInput("booster features do not match the stored encoder", code="corrupt_model")
        model.booster_ = booster
        model.explainer_ = ExactTreeShap.from_booster(booster)
        model.best_iteration_ = state["best_iteration"]
        model.feature_names_in_ = list(model.encoder_.source_columns_)
        model.n_features_in_ = len(model.feature_names_in_)
        model.monotone_constraints_ = dict(state["monotone_constraints"])
        model.calibrator_ = Calibrator.from_dict(state["calibration"])
        model.calibration_ = model.calibrator_.method
        model.calibration_briers_ = dict(state["calibration_briers"])
        model.validation_ = dict(state["validation"])
        return model


_PARAMS = (
    "n_estimators",
    "max_depth",
    "learning_rate",
    "min_child_weight",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
    "monotone_constraints",
    "early_stopping_rounds",
    "validation_fraction",
    "calibration",
    "calibration_folds",
    "pd_floor",
    "pd_cap",
    "random_state",
    "n_jobs",
    "encoder_params",
)


def _binary_labels(y, n: int) -> np.ndarray:
    labels = np.asarray(y, dtype=np.float64).ravel()
    if len(labels) != n:
        raise InvalidInput(f"{n} rows but {len(labels)} labels", code="length_mismatch")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise InvalidInput("labels must be 0 (good) or 1 (bad)", code="invalid_labels")
    if labels.min() == labels.max():
        raise InvalidInput("training data needs both goods and bads", code="single_class")
    return labels


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: dict(o) if isinstance(o, Mapping) else str(o)))
