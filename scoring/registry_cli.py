"""`risk-engine model train | list | promote | card`: the registry from the command line."""
from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import select

from scoring.cli import model_app


def _db_and_dir():  # noqa: ANN202
    from risk_engine.db import get_database
    from risk_engine.settings import get_settings

    return get_database(), get_settings().models_dir


@model_app.command("train")
def train(
    promote: Annotated[bool, typer.Option("--promote/--no-promote", help="make it the champion")] = False,
    challenger: Annotated[bool, typer.Option("--challenger", help="make it the challenger (shadow)")] = False,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train a dealer PD model on the stored trade (out-of-time validated) and register it."""
    from scoring.service import train_and_register

    db, models_dir = _db_and_dir()
    status = "champion" if promote else "challenger" if challenger else "candidate"
    record = train_and_register(db, models_dir, actor="system:cli", status=status, seed=seed,
                                progress=lambda msg: typer.echo(f"train: {msg}", err=True))
    typer.echo(json.dumps({"version": record.version, "status": record.status,
                           "content_hash": record.content_hash, "metrics": json.loads(record.metrics)["out_of_time"]}))


@model_app.command("list")
def list_versions() -> None:
    """Registered model versions, newest first."""
    from scoring.registry import ModelRecord

    db, _ = _db_and_dir()
    with db.session() as s:
        for r in s.scalars(select(ModelRecord).order_by(ModelRecord.created_at.desc())):
            oot = json.loads(r.metrics).get("out_of_time", {})
            typer.echo(f"{r.version:<20} {r.status:<10} auc={oot.get('auc', float('nan')):.3f} {r.content_hash[:16]}")


@model_app.command("promote")
def promote(
    version: str,
    status: Annotated[str, typer.Option(help="champion, challenger or retired")] = "champion",
) -> None:
    """Change a version's status (audited)."""
    from scoring import registry

    db, _ = _db_and_dir()
    with db.unit_of_work() as s:
        record = registry.set_status(s, version, status, actor="system:cli")
        typer.echo(json.dumps({"version": record.version, "status": record.status}))


@model_app.command("monitor")
def monitor(
    window_days: Annotated[int, typer.Option(min=1, help="decisions of the last N days")] = 30,
    version: Annotated[str | None, typer.Option(help="default: the champion")] = None,
) -> None:
    """PSI of inputs and PD on recent decisions against training, and matured-outcome performance."""
    from risk_engine.db import utcnow
    from scoring.monitoring import monitoring_report

    db, models_dir = _db_and_dir()
    with db.session() as s:
        report = monitoring_report(s, models_dir, now=utcnow(), window_days=window_days, version=version)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))


@model_app.command("compare")
def compare() -> None:
    """Champion vs challenger on the decisions the challenger scored in shadow."""
    from scoring.monitoring import challenger_comparison

    db, _ = _db_and_dir()
    with db.session() as s:
        typer.echo(json.dumps(challenger_comparison(s), ensure_ascii=False, indent=2))


@model_app.command("card")
def card(version: str) -> None:
    """Print a version's model card (Markdown)."""
    from scoring import registry

    db, _ = _db_and_dir()
    with db.session() as s:
        typer.echo(registry.get(s, version).card)
