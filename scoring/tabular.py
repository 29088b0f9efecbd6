"""The tabular path: any credit data set in a CSV → cross-validation, a trained version, explanations.

Reading: UTF-8 (with or without BOM), falling back to GB18030 for files saved by Chinese Excel;
column names are kept exactly (any script, spaces, brackets), duplicated names get pandas' ``.1``
suffixes. The target column is compared with ``--bad`` as text after trimming, and numerically
when both parse as numbers ("1" matches 1 and 1.0); rows whose target is empty are dropped (no
outcome, nothing to learn). Every other column is a candidate input; see ``scoring.preprocess`` for
how numeric, categorical and identifier-like columns (mostly unique text, row counters) are treated.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from risk_engine.errors import InvalidInput
from scoring import metrics
from scoring.artifact import ModelVersion, fingerprint_frame
from scoring.explain import global_importance
from scoring.master_scale import MasterScale, ScoreScaling
from scoring.model import PDModel
from scoring.preprocess import TabularEncoder

#: Rows explained to rank global importance (a sample beyond that: the ranking is stable long before).
IMPORTANCE_ROWS = 20_000


def read_credit_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}", field="csv", code="file_not_found")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            frame = pd.read_csv(path, encoding=encoding, skipinitialspace=False)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise InvalidInput(
                f"{path} is not a readable CSV: {exc}", field="csv", code="unreadable_csv"
            ) from None
    else:
        raise InvalidInput(f"{path} is neither UTF-8 nor GB18030 text", field="csv", code="unreadable_csv")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def split_target(frame: pd.DataFrame, target: str, bad: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(inputs, labels with 1 = bad) from a frame; rows without a target value are dropped."""
    if target not in frame.columns:
        raise InvalidInput(
            f"no target column {target!r}; columns are {list(frame.columns)}",
            field="target",
            code="missing_column",
        )
    outcome = frame[target]
    known = outcome.notna().to_numpy() & (outcome.astype(str).str.strip() != "").to_numpy()
    labels = np.asarray([_is_bad(v, bad) for v in outcome[known]], dtype=np.float64)
    if not labels.any():
        seen = sorted({str(v) for v in outcome[known].unique()})[:10]
        raise InvalidInput(
            f"no row of {target!r} equals {bad!r}; values seen: {seen}", field="bad", code="no_bad_rows"
        )
    if labels.all():
        raise InvalidInput(
            f"every row of {target!r} equals {bad!r}: no goods to learn from",
            field="bad",
            code="no_good_rows",
        )
    return frame.loc[known].drop(columns=[target]).reset_index(drop=True), labels


def _is_bad(value: Any, bad: str) -> bool:
    text = str(value).strip()
    wanted = bad.strip()
    if text == wanted:
        return True
    try:
        return float(text) == float(wanted)
    except ValueError:
        return False


def stratified_folds(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train rows, test rows) of stratified K-fold; the same for every model compared."""
    minority = int(min(y.sum(), len(y) - y.sum()))
    if folds < 2 or folds > minority:
        raise InvalidInput(
            f"folds must be between 2 and the number of rows in the smaller class ({minority})", field="folds"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def performance(y: np.ndarray, pd_: np.ndarray) -> dict[str, float]:
    return {
        "auc": metrics.auc(y, pd_),
        "gini": metrics.gini(y, pd_),
        "ks": metrics.ks(y, pd_),
        "brier": metrics.brier(y, pd_),
        "rows": int(len(y)),
        "bad_rate": float(np.mean(y)),
    }


def cross_validate(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    model_params: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Stratified K-fold of the whole pipeline (encoding, training with early stopping,
    calibration) fitted inside each fold. Returns the summary and the out-of-fold PDs.

    ``auc``, ``gini``, ``ks`` and ``brier`` are means over folds (``*_std`` their spread);
    ``pooled`` gives the same figures over all out-of-fold predictions together."""
    params = {"random_state": seed, **(model_params or {})}
    # identifiers are a property of the whole file (a row counter is consecutive only there): drop them
    # once, before the folds, so no fold's model can learn from them
    dropped = dict(TabularEncoder(**(params.get("encoder_params") or {})).fit(X).dropped_)
    X = X.drop(columns=list(dropped))
    out_of_fold = np.empty(len(y))
    per_fold = []
    for number, (train_rows, test_rows) in enumerate(stratified_folds(y, folds, seed), start=1):
        model = PDModel(**params).fit(X.iloc[train_rows], y[train_rows])
        out_of_fold[test_rows] = model.predict_pd(X.iloc[test_rows])
        per_fold.append(
            {
                "fold": number,
                **performance(y[test_rows], out_of_fold[test_rows]),
                "trees": model.best_iteration_ + 1,
                "calibration": model.calibration_,
            }
        )
        dropped.update(model.encoder_.dropped_)
    summary: dict[str, Any] = {}
    for key in ("auc", "gini", "ks", "brier"):
        values = [f[key] for f in per_fold]
        summary[key] = float(np.mean(values))
        summary[f"{key}_std"] = float(np.std(values))
    summary.update(
        {
            "folds": folds,
            "seed": seed,
            "rows": int(len(y)),
            "bads": int(y.sum()),
            "pooled": performance(y, out_of_fold),
            "per_fold": per_fold,
            "dropped_columns": dropped,
        }
    )
    return summary, out_of_fold


def train_version(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    cv_folds: int = 5,
    seed: int = 0,
    model_params: Mapping[str, Any] | None = None,
    training_data: Mapping[str, Any] | None = None,
    version: str = "",
    master_scale: MasterScale | None = None,
    score_scaling: ScoreScaling | None = None,
) -> ModelVersion:
    """Fit the final model on all rows; its figures come from cross-validating the same pipeline
    (``cv_folds`` = 0 skips that and reports only the validation split, which early stopping and
    calibration have already seen). The grade table uses out-of-fold PDs when there are any."""
    scale = master_scale or MasterScale()
    model = PDModel(**{"random_state": seed, **(model_params or {})}).fit(X, y)
    figures: dict[str, Any] = {}
    if cv_folds:
        figures["cv"], graded_pd = cross_validate(X, y, folds=cv_folds, seed=seed, model_params=model_params)
        graded_y = y
    else:
        # the same split PDModel.fit made
        _, X_valid, _, graded_y = train_test_split(
            X, y, test_size=model.validation_fraction, stratify=y, random_state=model.random_state
        )
        graded_pd = model.predict_pd(X_valid)
        figures["validation"] = {
            **performance(graded_y, graded_pd),
            "note": "seen by early stopping and calibration",
        }
    grades = [scale.grade(p) for p in graded_pd]
    figures["grade_table"] = metrics.default_rate_by_grade(grades, graded_pd, graded_y, order=scale.names)
    sample = X.sample(n=min(len(X), IMPORTANCE_ROWS), random_state=seed) if len(X) > IMPORTANCE_ROWS else X
    figures["global_importance"] = global_importance(
        model.explain(sample).contributions, model.feature_names_in_
    )
    figures["calibration"] = {"chosen": model.calibration_, "briers": model.calibration_briers_}
    data = {
        "rows": int(len(y)),
        "bads": int(y.sum()),
        "bad_rate": float(np.mean(y)),
        "columns": list(X.columns),
        **(training_data or {}),
    }
    if "sha256" not in data:
        data["sha256"] = fingerprint_frame(X, y)
    return ModelVersion(
        model=model,
        master_scale=scale,
        score_scaling=score_scaling or ScoreScaling(),
        metrics=figures,
        training_data=data,
        version=version,
    )


def explain_rows(version: ModelVersion, frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """One JSON-ready object per row: pd, grade, score, margin, base, contributions (log-odds,
    ``base + sum == margin``) and the encoded inputs the booster compared.

    ``contributions`` name every column of ``frame`` in its order except the version's target (when
    the file still holds it): the model's own columns with their SHAP values, and 0.0 for the columns
    the pipeline dropped (identifiers, row counters) or never saw — they did not move the margin."""
    explained = version.model.explain(frame)
    names = explained.feature_names
    target = version.training_data.get("target")
    slot = {name: j for j, name in enumerate(explained.columns)}
    listed = [(str(column), slot.get(str(column))) for column in frame.columns if str(column) != target]
    for i in range(len(frame)):
        pd_i = float(explained.pd[i])
        contributions = explained.contributions[i].tolist()
        yield {
            "row": i,
            "pd": pd_i,
            "grade": version.master_scale.grade(pd_i),
            "score": version.score_scaling.score(pd_i),
            "margin": float(explained.margin[i]),
            "base": explained.base,
            "contributions": {column: 0.0 if j is None else contributions[j] for column, j in listed},
            "inputs": {
                name: (None if math.isnan(v) else v)
                for name, v in zip(names, explained.inputs[i].tolist(), strict=True)
            },
        }


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
