"""Model performance and stability measures: small pure functions over arrays.

Conventions: ``y`` is 1 for a bad (defaulted) case and 0 for a good one; ``score`` is any number
that rises with risk (a PD or a margin).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from risk_engine.errors import InvalidInput

#: PSI thresholds (optbinning ``ScorecardMonitoring``): below 0.10 no significant change,
#: 0.10–0.25 investigate, 0.25 and above a significant shift.
PSI_INVESTIGATE = 0.10
PSI_SIGNIFICANT = 0.25


def _labels_and_scores(y, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != score.shape:
        raise InvalidInput(f"{len(y)} labels but {len(score)} scores", code="length_mismatch")
    if not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInput("labels must be 0 (good) or 1 (bad)", code="invalid_labels")
    return y, score


def auc(y, score) -> float:
    """Area under the ROC curve: the chance a random bad scores above a random good."""
    y, score = _labels_and_scores(y, score)
    if y.min() == y.max():
        raise InvalidInput("AUC needs both goods and bads", code="single_class")
    return float(roc_auc_score(y, score))


def gini(y, score) -> float:
    """Accuracy ratio (Gini) = 2·AUC − 1."""
    return 2.0 * auc(y, score) - 1.0


def ks(y, score) -> float:
    """Kolmogorov–Smirnov: the largest gap between the bads' and goods' cumulative score shares."""
    y, score = _labels_and_scores(y, score)
    bads, goods = y.sum(), len(y) - y.sum()
    if bads == 0 or goods == 0:
        raise InvalidInput("KS needs both goods and bads", code="single_class")
    order = np.argsort(-score, kind="stable")
    y_sorted, s_sorted = y[order], score[order]
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # evaluate only between distinct scores
    bad_share = np.cumsum(y_sorted)[last_of_tie] / bads
    good_share = np.cumsum(1.0 - y_sorted)[last_of_tie] / goods
    return float(np.max(np.abs(bad_share - good_share)))


def brier(y, pd_) -> float:
    """Mean squared error of predicted default probabilities."""
    y, pd_ = _labels_and_scores(y, pd_)
    return float(np.mean((pd_ - y) ** 2))


#: Share given to an empty bin so the log in the PSI stays finite.
EMPTY_BIN_SHARE = 1e-4


def binned_shares(values, edges) -> np.ndarray:
    """Shares of ``values`` in the bins cut at the inner ``edges`` (a value equal to an edge goes to
    the bin above), then one more bin for missing values (NaN); over all values, so they sum to 1."""
    values = np.asarray(values, dtype=np.float64).ravel()
    edges = np.asarray(edges, dtype=np.float64)
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    return np.append(counts, missing.sum()) / len(values)


def psi_of_shares(expected_shares, actual_shares) -> float:
    """PSI = Σ (actual − expected) · ln(actual / expected) over matching bins; an empty bin counts as
    ``EMPTY_BIN_SHARE``."""
    e = np.maximum(np.asarray(expected_shares, dtype=np.float64), EMPTY_BIN_SHARE)
    a = np.maximum(np.asarray(actual_shares, dtype=np.float64), EMPTY_BIN_SHARE)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(expected, actual, bins: int | Sequence[float] = 10) -> float:
    """Population stability index of ``actual`` against ``expected``.

    With an int, the bins are the quantiles of the present values of ``expected`` (so each holds
    ~1/bins of them); with a sequence, those are the inner edges. Missing values (NaN) are a bin of
    their own in both samples (as in optbinning's monitoring): a jump in the missing share is a shift.
    Empty bins get a share of 1e-4 so the log stays finite.
    """
    expected = np.asarray(expected, dtype=np.float64).ravel()
    actual = np.asarray(actual, dtype=np.float64).ravel()
    if not len(expected) or not len(actual):
        raise InvalidInput("PSI needs two non-empty samples", code="empty_sample")
    if isinstance(bins, int):
        present = expected[~np.isnan(expected)]
        inner = np.linspace(0, 1, bins + 1)[1:-1]
        edges = np.unique(np.quantile(present, inner)) if len(present) else np.zeros(0)
    else:
        edges = np.unique(np.asarray(bins, dtype=np.float64))
    return psi_of_shares(binned_shares(expected, edges), binned_shares(actual, edges))


def psi_level(value: float) -> str:
    """'stable' below 0.10, 'investigate' from 0.10 to below 0.25, 'significant' from 0.25."""
    if value < PSI_INVESTIGATE:
        return "stable"
    if value < PSI_SIGNIFICANT:
        return "investigate"
    return "significant"


def default_rate_by_grade(grades: Sequence[str], pd_, y, order: Sequence[str] | None = None) -> list[dict]:
    """Per grade: count, expected default rate (mean PD) and observed default rate — the
    calibration table of a master scale. ``order`` lists grades to report (all of them, even empty)."""
    grades = np.asarray(grades, dtype=object)
    y, pd_ = _labels_and_scores(y, pd_)
    names = list(order) if order is not None else sorted(set(grades.tolist()))
    table = []
    for name in names:
        members = grades == name
        n = int(members.sum())
        table.append(
            {
                "grade": name,
                "count": n,
                "expected_default_rate": float(pd_[members].mean()) if n else None,
                "observed_default_rate": float(y[members].mean()) if n else None,
                "defaults": int(y[members].sum()),
            }
        )
    return table
