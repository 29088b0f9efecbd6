"""``risk-engine model explain``: ``contributions`` name every input column of the CSV (CONTRACT.md), the
ones the pipeline dropped or never saw with 0.0, and ``base + sum == margin`` still holds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scoring import tabular
from scoring.artifact import load_version
from scoring.cli import model_app

from .synthetic import dealers

runner = CliRunner()


def invoke(*args):
    return runner.invoke(model_app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A CSV with an id column, a row counter and a constant column next to the real inputs, and a
    model trained on it."""
    X, y = dealers(420, seed=5)
    X.insert(0, "客户编号", [f"D{i:06d}" for i in range(len(X))])  # mostly unique text: an identifier
    X.insert(1, "row no", np.arange(len(X)))  # consecutive whole numbers: a row counter
    X["constant"] = 7.0
    X["结果"] = np.where(y == 1, "违约", "正常")
    folder = tmp_path_factory.mktemp("explain")
    path = folder / "dealers.csv"
    X.to_csv(path, index=False)
    out = folder / "model"
    result = invoke("train-tabular", "--csv", path, "--target", "结果", "--bad", "违约", "--out", out,
                    "--cv-folds", 0)
    assert result.exit_code == 0, result.output
    return path, out, X


def _rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_dropped_columns_are_listed_with_a_zero_contribution(trained):
    path, out, X = trained
    dropped = json.loads((out / "features.json").read_text())["dropped"]
    assert {"客户编号", "row no"} <= set(dropped)
    rows = _rows(invoke("explain", "--model", out, "--csv", path))
    inputs = [c for c in X.columns if c != "结果"]
    for row in rows:
        assert list(row["contributions"]) == inputs  # every input column, in the file's order, no target
        assert row["contributions"]["客户编号"] == 0.0 and row["contributions"]["row no"] == 0.0
        assert row["base"] + sum(row["contributions"].values()) == pytest.approx(row["margin"], abs=1e-9)


def test_a_file_without_the_target_and_with_a_column_never_seen_lists_every_column(trained, tmp_path):
    path, out, X = trained
    applicants = X.drop(columns=["结果"]).head(5).assign(**{"comment 备注": "new"})
    csv = tmp_path / "applicants.csv"
    applicants.to_csv(csv, index=False)
    rows = _rows(invoke("explain", "--model", out, "--csv", csv))
    assert len(rows) == 5
    for row in rows:
        assert list(row["contributions"]) == list(applicants.columns)
        assert row["contributions"]["comment 备注"] == 0.0
        assert row["base"] + sum(row["contributions"].values()) == pytest.approx(row["margin"], abs=1e-9)


def test_the_listed_contributions_of_the_model_columns_are_the_models_own(trained):
    path, out, _ = trained
    version = load_version(out)
    frame = tabular.read_credit_csv(path).head(3)
    explained = version.model.explain(frame)
    for i, row in enumerate(tabular.explain_rows(version, frame)):
        for j, column in enumerate(explained.columns):
            assert row["contributions"][column] == explained.contributions[i, j]
