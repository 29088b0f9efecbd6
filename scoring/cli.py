"""``risk-engine model …``: the engine's modelling pipeline on any tabular credit data set.

Mounted by the main CLI with ``app.add_typer(model_app, name="model")``. Every command prints JSON
on stdout (UTF-8, non-ASCII kept) and errors as one line on stderr with exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from risk_engine.errors import DomainError
from scoring import tabular
from scoring.artifact import load_version, save_version

model_app = typer.Typer(
    help="Cross-validate, train and explain the PD model on any tabular credit data set (CSV).",
    no_args_is_help=True,
)

CsvOption = Annotated[Path, typer.Option("--csv", help="CSV file with a header row (UTF-8 or GB18030).")]
TargetOption = Annotated[str, typer.Option("--target", help="Name of the outcome column.")]
BadOption = Annotated[str, typer.Option("--bad", help='Outcome value that means default ("1" matches 1).')]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed for folds, splits and the booster.")]


def _print(value) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, allow_nan=False))


def _fail(error: DomainError) -> typer.Exit:
    where = f" ({error.field})" if error.field else ""
    typer.echo(f"error{where}: {error.detail}", err=True)
    return typer.Exit(code=2)


def _monotone(values: list[str]) -> dict[str, int]:
    """``COLUMN:+1`` / ``COLUMN:-1`` (the last colon separates, so a column name may hold colons)."""
    constraints = {}
    for value in values:
        column, _, sign = value.rpartition(":")
        if not column or sign.strip() not in ("+1", "1", "-1"):
            raise typer.BadParameter(
                f"expected COLUMN:+1 or COLUMN:-1, got {value!r}", param_hint="--monotone"
            )
        constraints[column] = 1 if sign.strip() in ("+1", "1") else -1
    return constraints


@model_app.command("cv")
def cv(
    csv: CsvOption,
    target: TargetOption,
    bad: BadOption,
    folds: Annotated[int, typer.Option("--folds", help="Number of stratified folds.")] = 5,
    seed: SeedOption = 0,
) -> None:
    """Stratified K-fold cross-validation of the whole pipeline (encoding, training with early
    stopping and calibration inside each fold). Prints one JSON object: auc, gini, ks, brier (means
    over folds), their _std, folds, pooled out-of-fold figures and per_fold details."""
    try:
        X, y = tabular.split_target(tabular.read_credit_csv(csv), target, bad)
        summary, _ = tabular.cross_validate(X, y, folds=folds, seed=seed)
    except DomainError as error:
        raise _fail(error) from None
    _print(summary)


@model_app.command("train-tabular")
def train_tabular(
    csv: CsvOption,
    target: TargetOption,
    bad: BadOption,
    out: Annotated[Path, typer.Option("--out", help="New (or empty) directory for the version.")],
    cv_folds: Annotated[
        int, typer.Option("--cv-folds", help="Folds for the reported figures; 0 skips cross-validation.")
    ] = 5,
    monotone: Annotated[
        list[str] | None,
        typer.Option("--monotone", help="COLUMN:+1 (higher never lowers PD) or COLUMN:-1; repeatable."),
    ] = None,
    version: Annotated[str, typer.Option("--version", help="Version label for the card.")] = "",
    seed: SeedOption = 0,
) -> None:
    """Train a model version on the whole file and write it as a verified artifact. Prints the
    manifest (with its content hash) and the headline figures."""
    try:
        frame = tabular.read_credit_csv(csv)
        X, y = tabular.split_target(frame, target, bad)
        trained = tabular.train_version(
            X,
            y,
            cv_folds=cv_folds,
            seed=seed,
            version=version or csv.stem,
            model_params={"monotone_constraints": _monotone(monotone or [])},
            training_data={
                "source": csv.name,
                "target": target,
                "bad_value": bad,
                "sha256": tabular.file_sha256(csv),
            },
        )
        manifest = save_version(trained, out)
    except DomainError as error:
        raise _fail(error) from None
    cross_validated = "cv" in trained.metrics
    _print(
        {
            "out": str(out),
            "manifest": manifest,
            "metrics": {
                k: v
                for k, v in trained.metrics["cv" if cross_validated else "validation"].items()
                if k in ("auc", "gini", "ks", "brier")
            },
            # without cross-validation the only figures are on the split early stopping and calibration
            # used: say so next to them, they are optimistic
            "metrics_from": "cross-validation" if cross_validated else (
                "validation split seen by early stopping and calibration (optimistic)"
            ),
            "calibration": trained.model.calibration_,
            "trees": trained.model.best_iteration_ + 1,
        }
    )


@model_app.command("explain")
def explain(
    model: Annotated[Path, typer.Option("--model", help="A model version directory.")], csv: CsvOption
) -> None:
    """One JSON object per row (JSON Lines): pd, grade, score, margin, base, contributions per
    input column in log-odds (base + sum == margin; every column of the CSV but the target, 0.0 for
    those the pipeline dropped or never saw) and inputs, the exact encoded vector the booster saw
    (float32 values, null for missing) by encoded feature name."""
    try:
        version = load_version(model)
        rows = tabular.explain_rows(version, tabular.read_credit_csv(csv))
        for row in rows:
            _print(row)
    except DomainError as error:
        raise _fail(error) from None
