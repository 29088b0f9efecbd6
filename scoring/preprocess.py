"""Turning any tabular frame into the float matrix the booster sees, and back to source columns.

Rules (fitted once, stored as plain JSON):

- **numeric** columns (numbers, booleans, or text columns where at least ``numeric_share`` of the
  present values parse as numbers) pass through as float; missing or unparsable values stay NaN
  and XGBoost sends them down each split's learned default branch.
- **categorical** columns are one-hot encoded over the ``max_categories`` most frequent values
  seen at least ``min_category_count`` times. A value never seen in training, or too rare to get
  its own column, encodes as all zeros (the booster treats it like "none of the known values").
  A missing value gets its own ``col=(missing)`` indicator when training data had missing values,
  otherwise all zeros as well. Values are compared as stripped text, so ``1`` and ``"1"`` match.
- **identifier** columns are dropped and listed in ``dropped_`` with the reason: text columns whose
  values are mostly unique (more than ``identifier_share`` of present values distinct, and more
  distinct values than ``max_categories``), and whole-number columns that simply count rows
  (all distinct, consecutive). They carry no transferable signal and would let a model memorise.

Encoded names keep the source text (any script, spaces) but XGBoost refuses ``[``, ``]`` and ``<``
in feature names, so those become ``(``, ``)`` and ``＜``; names made equal by that get ``~2``,
``~3``… ``feature_map_`` maps every encoded name back to its source column (and category).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from risk_engine.errors import InvalidInput

MISSING_LABEL = "(missing)"
_FORBIDDEN = str.maketrans({"[": "(", "]": ")", "<": "＜"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass
class ColumnRule:
    name: str
    kind: str  # "numeric" | "categorical" | "identifier"
    categories: list[str] = field(default_factory=list)
    missing_indicator: bool = False
    reason: str | None = None


def encoded_name(text: str) -> str:
    """A feature name XGBoost accepts, as close to ``text`` as possible."""
    cleaned = _CONTROL.sub(" ", str(text)).translate(_FORBIDDEN).strip()
    return cleaned or "_"


def category_text(value: Any) -> str | None:
    """The text a categorical value is matched by; ``None`` for missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 1.0 read from a float column matches "1"
    text = str(value).strip()
    return text or None


def number_or_nan(value: Any) -> float:
    if value is None or value is pd.NA:
        return math.nan
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, str):
        value = value.strip().replace(",", "")  # "1,234.5" as exported by spreadsheets
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class TabularEncoder:
    """Fitted encoder from a raw frame (or one record) to the booster's float64 input matrix."""

    def __init__(
        self,
        *,
        max_categories: int = 50,
        min_category_count: int = 1,
        identifier_share: float = 0.5,
        numeric_share: float = 0.95,
    ) -> None:
        self.max_categories = max_categories
        self.min_category_count = min_category_count
        self.identifier_share = identifier_share
        self.numeric_share = numeric_share

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> TabularEncoder:
        if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
            raise InvalidInput("expected a DataFrame with at least one column", code="no_columns")
        if frame.columns.duplicated().any():
            duplicated = [str(c) for c in frame.columns[frame.columns.duplicated()]]
            raise InvalidInput(
                f"duplicate column names: {duplicated}", field=duplicated[0], code="duplicate_column"
            )
        self.rules_ = [self._rule_for(str(name), frame[name]) for name in frame.columns]
        if not any(rule.kind != "identifier" for rule in self.rules_):
            raise InvalidInput("no usable columns: every column looks like an identifier", code="no_columns")
        self._index()
        return self

    def _rule_for(self, name: str, column: pd.Series) -> ColumnRule:
        present = column.dropna()
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            values = present.astype(float)
            if (
                len(values) > self.max_categories
                and values.is_unique
                and np.all(values == np.round(values))
                and np.all(np.diff(np.sort(values)) == 1)
            ):
                return ColumnRule(name, "identifier", reason="consecutive whole numbers: a row counter")
            return ColumnRule(name, "numeric")
        text = present.map(category_text).dropna()
        if len(text) and text.map(number_or_nan).notna().mean() >= self.numeric_share:
            return ColumnRule(name, "numeric")
        counts = text.value_counts()
        if len(counts) > self.max_categories and len(counts) > self.identifier_share * len(text):
            return ColumnRule(name, "identifier", reason=f"{len(counts)} distinct values in {len(text)} rows")
        kept = counts[counts >= self.min_category_count]
        kept = kept.sort_index(kind="stable").sort_values(ascending=False, kind="stable")[
            : self.max_categories
        ]
        has_missing = len(text) < len(column)
        return ColumnRule(
            name, "categorical", categories=[str(c) for c in kept.index], missing_indicator=has_missing
        )

    def _index(self) -> None:
        names: list[str] = []
        sources: list[int] = []
        meaning: list[dict[str, Any]] = []
        self.source_columns_ = [rule.name for rule in self.rules_ if rule.kind != "identifier"]
        self.dropped_ = {rule.name: rule.reason for rule in self.rules_ if rule.kind == "identifier"}
        self._numeric: list[tuple[str, int]] = []
        self._categorical: list[tuple[str, dict[str, int], int | None]] = []
        for source, rule in enumerate(r for r in self.rules_ if r.kind != "identifier"):
            if rule.kind == "numeric":
                self._numeric.append((rule.name, len(names)))
                names.append(rule.name)
                sources.append(source)
                meaning.append({"source": rule.name, "category": None})
                continue
            slots = {}
            for category in rule.categories:
                slots[category] = len(names)
                names.append(f"{rule.name}={category}")
                sources.append(source)
                meaning.append({"source": rule.name, "category": category})
            missing_slot = None
            if rule.missing_indicator:
                missing_slot = len(names)
                names.append(f"{rule.name}={MISSING_LABEL}")
                sources.append(source)
                meaning.append({"source": rule.name, "category": None, "missing": True})
            self._categorical.append((rule.name, slots, missing_slot))
        self.feature_names_ = _unique([encoded_name(n) for n in names])
        self.feature_source_ = np.asarray(sources, dtype=np.intp)
        self.feature_map_ = dict(zip(self.feature_names_, meaning, strict=True))

    # -- transforming -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "rules_"):
            raise InvalidInput("this encoder is not fitted yet; call fit first", code="not_fitted")

    @property
    def n_features_(self) -> int:
        return len(self.feature_names_)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(rows, encoded columns) float64. Every used source column must be present; extra
        columns (the target, identifiers) are ignored."""
        self._check_fitted()
        missing = [name for name in self.source_columns_ if name not in frame.columns]
        if missing:
            raise InvalidInput(f"missing columns: {missing}", field=missing[0], code="missing_column")
        out = np.zeros((len(frame), self.n_features_))
        for name, slot in self._numeric:
            column = frame[name]
            if pd.api.types.is_bool_dtype(column):
                out[:, slot] = column.astype(float).to_numpy()
            elif pd.api.types.is_numeric_dtype(column):
                out[:, slot] = column.to_numpy(dtype=np.float64, na_value=np.nan)
            else:  # text or mixed objects: the same parsing as a single record
                out[:, slot] = column.map(number_or_nan).to_numpy(dtype=np.float64, na_value=np.nan)
        rows = np.arange(len(frame))
        for name, slots, missing_slot in self._categorical:
            text = frame[name].map(category_text)
            slot = text.map(slots).to_numpy(dtype=np.float64, na_value=np.nan)
            known = ~np.isnan(slot)
            out[rows[known], slot[known].astype(np.intp)] = 1.0
            if missing_slot is not None:
                out[text.isna().to_numpy(), missing_slot] = 1.0
        return out

    def transform_record(self, record: Mapping[str, Any]) -> np.ndarray:
        """One record (a mapping column → value; absent keys are missing) as a (encoded,) vector —
        the fast path for a single decision, no DataFrame involved."""
        self._check_fitted()
        out = np.zeros(self.n_features_)
        get = record.get
        for name, slot in self._numeric:
            out[slot] = number_or_nan(get(name))
        for name, slots, missing_slot in self._categorical:
            text = category_text(get(name))
            if text is None:
                if missing_slot is not None:
                    out[missing_slot] = 1.0
            elif text in slots:
                out[slots[text]] = 1.0
        return out

    # -- persistence ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "params": {
                "max_categories": self.max_categories,
                "min_category_count": self.min_category_count,
                "identifier_share": self.identifier_share,
                "numeric_share": self.numeric_share,
            },
            "columns": [asdict(rule) for rule in self.rules_],
            "feature_names": list(self.feature_names_),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TabularEncoder:
        encoder = cls(**data["params"])
        encoder.rules_ = [ColumnRule(**rule) for rule in data["columns"]]
        encoder._index()
        if list(encoder.feature_names_) != list(data["feature_names"]):
            raise InvalidInput(
                "stored feature names do not match the stored column rules", code="corrupt_encoder"
            )
        return encoder


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    taken = set(names)
    out = []
    for name in names:
        if name not in seen:
            seen[name] = 1
            out.append(name)
            continue
        n = seen[name]
        while True:
            n += 1
            candidate = f"{name}~{n}"
            if candidate not in taken:
                break
        seen[name] = n
        taken.add(candidate)
        out.append(candidate)
    return out
