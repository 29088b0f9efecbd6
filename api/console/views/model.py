"""The model page: the champion (and challenger) from the registry, its out-of-time metrics, calibration by
grade, and stability — PSI of the score and of each feature between training and out-of-time validation,
and PSI of the PDs the champion has given in live decisions against its training distribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.console import charts, queries
from api.console.auth import ConsoleOfficer
from api.console.rendering import render
from api.deps import DbSession
from risk_engine.errors import DomainError
from scoring import registry, training
from scoring.catalog import CATALOG
from scoring.metrics import psi_level

router = APIRouter()
PSI_FEATURES_SHOWN = 12
LIVE_PSI_MIN_DECISIONS = 30


@router.get("/console/model")
def model_page(request: Request, officer: ConsoleOfficer, session: DbSession) -> Response:
    t = officer.t
    versions = queries.model_versions(session)
    champion = next((v for v in versions if v.status == "champion"), None)
    challenger = next((v for v in versions if v.status == "challenger"), None)
    shown = champion or (versions[0] if versions else None)
    metrics = json.loads(shown.metrics) if shown else {}
    by_grade = [g for g in metrics.get("default_rate_by_grade", []) if g.get("count")]
    calibration_svg = None
    if by_grade:
        calibration_svg = charts.column_chart_svg(
            [g["grade"] for g in by_grade],
            [
                charts.Series(t("model.predicted"), [g["expected_default_rate"] for g in by_grade]),
                charts.Series(
                    t("model.observed"), [g["observed_default_rate"] for g in by_grade], charts.SECOND
                ),
            ],
            title=t("model.calibration"),
            value_format=lambda v: f"{v:.1%}",
        )
    feature_psi = sorted(
        (
            (name, value)
            for name, value in (metrics.get("psi_features_train_vs_validation") or {}).items()
            if value is not None
        ),
        key=lambda kv: -kv[1],
    )[:PSI_FEATURES_SHOWN]
    live = None
    if champion is not None:
        live = live_score_psi(
            session, champion, request.app.state.settings.models_dir, request.app.state.console_pd_references
        )
    labels = {name: t.pick(spec.en, spec.zh) for name, spec in CATALOG.items()}
    return render(
        request,
        "model.html",
        officer=officer,
        versions=versions,
        champion=champion,
        challenger=challenger,
        shown=shown,
        metrics=metrics,
        by_grade=by_grade,
        calibration_svg=calibration_svg,
        feature_psi=feature_psi,
        labels=labels,
        live=live,
        psi_level=psi_level,
    )


def live_score_psi(
    session: Session, champion: registry.ModelRecord, models_dir: Path, references: dict[str, Any]
) -> dict[str, Any]:
    """PSI of the PDs the champion gave in its latest live decisions against the PD distribution it was
    trained on (kept in its verified artifact; read once per version and process)."""
    pds = queries.champion_pds(session, champion.version)
    result: dict[str, Any] = {"decisions": len(pds), "psi": None, "error": None}
    if len(pds) < LIVE_PSI_MIN_DECISIONS:
        return result
    reference = references.get(champion.content_hash)
    if reference is None:
        try:
            version = registry.load_verified(champion, models_dir)
        except (DomainError, OSError) as exc:
            result["error"] = getattr(exc, "detail", str(exc))
            return result
        reference = references[champion.content_hash] = version.training_data.get("reference", {}).get(
            "__pd__"
        )
    if reference:
        result["psi"] = training.psi_against_reference(reference, np.asarray(pds, dtype=np.float64))
    return result
