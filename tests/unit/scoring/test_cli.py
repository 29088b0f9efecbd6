"""``risk-engine model``: cv, train-tabular and explain on CSVs with awkward names and values."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scoring.cli import model_app

from .synthetic import dealers

runner = CliRunner()


@pytest.fixture(scope="module")
def awkward_csv(tmp_path_factory):
    """Chinese, spaces, brackets and < in names; Chinese, brackets and empty values; an id column;
    the outcome as text."""
    X, y = dealers(420, seed=5)
    X = X.rename(columns={"days_past_due": "逾期 天数[DPD]", "tenure_months": "tenure <months>"})
    X.insert(0, "客户编号", [f"D{i:06d}" for i in range(len(X))])
    X["备注 note"] = np.where(np.arange(len(X)) % 7 == 0, "", "普通")
    X["结果"] = np.where(y == 1, "违约", "正常")
    path = tmp_path_factory.mktemp("csv") / "dealers 数据.csv"
    X.to_csv(path, index=False)
    return path


def invoke(*args):
    return runner.invoke(model_app, [str(a) for a in args])


def test_cv_prints_one_json_object_with_the_headline_figures(awkward_csv):
    result = invoke(
        "cv", "--csv", awkward_csv, "--target", "结果", "--bad", "违约", "--folds", 3, "--seed", 1
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"auc", "ks", "brier", "gini", "folds", "per_fold", "pooled"} <= set(summary)
    assert summary["folds"] == 3 and len(summary["per_fold"]) == 3
    assert summary["gini"] == pytest.approx(2 * summary["auc"] - 1)
    assert 0.5 < summary["auc"] <= 1.0
    assert "客户编号" in summary["dropped_columns"]


def test_trained_versions_explain_every_row_additively(awkward_csv, tmp_path):
    out = tmp_path / "model v1"
    trained = invoke(
        "train-tabular",
        "--csv",
        awkward_csv,
        "--target",
        "结果",
        "--bad",
        "违约",
        "--out",
        out,
        "--cv-folds",
        0,
        "--monotone",
        "逾期 天数[DPD]:+1",
    )
    assert trained.exit_code == 0, trained.output
    assert len(json.loads(trained.stdout)["manifest"]["content_hash"]) == 64
    assert "optimistic" in json.loads(trained.stdout)["metrics_from"]  # no CV: figures early stopping saw
    explained = invoke("explain", "--model", out, "--csv", awkward_csv)
    assert explained.exit_code == 0, explained.output
    rows = [json.loads(line) for line in explained.stdout.splitlines()]
    assert len(rows) == 420
    features = json.loads((out / "features.json").read_text())
    names = [f["name"] for f in features["encoded"]]
    for row in rows:
        assert abs(row["base"] + sum(row["contributions"].values()) - row["margin"]) <= 1e-6
        assert list(row["inputs"]) == names
        assert set(row["contributions"]) == set(features["source_columns"]) | set(features["dropped"])
    assert "逾期 天数(DPD)" in names and rows[0]["contributions"]["客户编号"] == 0.0  # dropped: listed, 0
    assert "结果" not in rows[0]["contributions"]  # the target is not an input
    assert rows[0]["inputs"]["备注 note=(missing)"] == 1.0  # row 0: empty note
    assert any(v is None for row in rows for v in row["inputs"].values())  # missing numbers stay null


def test_a_numeric_target_matches_its_text(tmp_path):
    X, y = dealers(300, seed=9)
    X["default flag"] = y.astype(int)
    path = tmp_path / "numeric.csv"
    X.to_csv(path, index=False)
    result = invoke("cv", "--csv", path, "--target", "default flag", "--bad", "1", "--folds", 2)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bads"] == int(y.sum())


def test_an_unknown_target_fails_with_a_message(awkward_csv):
    result = invoke("cv", "--csv", awkward_csv, "--target", "nope", "--bad", "1")
    assert result.exit_code == 2
    assert "no target column 'nope'" in result.stderr


def test_a_bad_value_that_never_occurs_fails_with_the_values_seen(awkward_csv):
    result = invoke("cv", "--csv", awkward_csv, "--target", "结果", "--bad", "坏")
    assert result.exit_code == 2
    assert "违约" in result.stderr and "正常" in result.stderr


def test_a_trained_version_reports_cross_validated_figures_and_refuses_tampering(awkward_csv, tmp_path):
    out = tmp_path / "m"
    trained = invoke(
        "train-tabular",
        "--csv",
        awkward_csv,
        "--target",
        "结果",
        "--bad",
        "违约",
        "--out",
        out,
        "--cv-folds",
        2,
    )
    assert trained.exit_code == 0, trained.output
    figures = json.loads((out / "metrics.json").read_text())
    assert figures["cv"]["folds"] == 2 and 0.5 < figures["cv"]["auc"] <= 1.0
    assert json.loads(trained.stdout)["metrics_from"] == "cross-validation"
    assert sum(row["count"] for row in figures["grade_table"]) == 420  # out-of-fold PD of every row
    assert "## Calibration" in (out / "model_card.md").read_text()
    (out / "calibration.json").write_text("{}")
    result = invoke("explain", "--model", out, "--csv", awkward_csv)
    assert result.exit_code == 2
    assert "calibration.json was changed" in result.stderr


def test_a_row_counter_column_is_dropped_in_cross_validation_and_in_the_trained_version(tmp_path):
    """A CSV written with its index (``Unnamed: 0``, 0..n-1) must not feed the model: the counter is
    recognised on the whole file, not on the random subset a fold or a validation split trains on."""
    X, y = dealers(420, seed=5)
    X["bad"] = y.astype(int)
    path = tmp_path / "with index.csv"
    X.to_csv(path)  # the pandas index becomes the column "Unnamed: 0"
    cv = invoke("cv", "--csv", path, "--target", "bad", "--bad", 1, "--folds", 3)
    assert cv.exit_code == 0, cv.output
    assert "Unnamed: 0" in json.loads(cv.stdout)["dropped_columns"]
    out = tmp_path / "model"
    trained = invoke("train-tabular", "--csv", path, "--target", "bad", "--bad", 1, "--out", out, "--cv-folds", 0)
    assert trained.exit_code == 0, trained.output
    features = json.loads((out / "features.json").read_text())
    assert "Unnamed: 0" in features["dropped"]
    assert "Unnamed: 0" not in features["source_columns"]
    row = json.loads(invoke("explain", "--model", out, "--csv", path).stdout.splitlines()[0])
    assert row["contributions"]["Unnamed: 0"] == 0.0  # listed as an input column, but it moved nothing
