"""HTTP for the model registry (admin)."""
from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from api.auth import AdminClient
from api.deps import DbSession
from api.idempotency import Idempotency
from risk_engine.db import utcnow
from risk_engine.schemas import RequestModel
from scoring import registry

router = APIRouter(prefix="/v1/models", tags=["models"])


class StatusChangeIn(RequestModel):
    status: Literal["champion", "challenger", "retired", "candidate"]


def _view(r: registry.ModelRecord, *, card: bool = False) -> dict[str, Any]:
    out = {"id": r.id, "version": r.version, "status": r.status, "content_hash": r.content_hash,
           "training_fingerprint": r.training_fingerprint, "created_at": r.created_at,
           "promoted_at": r.promoted_at, "promoted_by": r.promoted_by, "metrics": json.loads(r.metrics)}
    if card:
        out["card_markdown"] = r.card
    return out


@router.get("", summary="Registered model versions, newest first")
def list_models(principal: AdminClient, session: DbSession) -> list[dict[str, Any]]:
    rows = session.scalars(select(registry.ModelRecord).order_by(registry.ModelRecord.created_at.desc()))
    return [_view(r) for r in rows]


@router.get("/monitoring", summary="The champion's stability (PSI) on recent decisions and matured performance")
def monitoring(request: Request, principal: AdminClient, session: DbSession, window_days: int = 30) -> dict[str, Any]:
    from scoring.monitoring import monitoring_report

    return monitoring_report(session, request.app.state.settings.models_dir, now=utcnow(), window_days=window_days)


@router.get("/comparison", summary="Champion vs challenger on the decisions the challenger scored in shadow")
def comparison(principal: AdminClient, session: DbSession) -> dict[str, Any]:
    from scoring.monitoring import challenger_comparison

    return challenger_comparison(session)


@router.get("/{version}", summary="One version with its metrics and model card")
def get_model(version: str, principal: AdminClient, session: DbSession) -> dict[str, Any]:
    return _view(registry.get(session, version), card=True)


@router.post("/{version}/status", summary="Promote to champion or challenger, or retire (audited)")
def change_status(version: str, body: StatusChangeIn, principal: AdminClient, session: DbSession,
                  idem: Idempotency) -> Response:
    return idem.run(session, principal, lambda: _view(
        registry.set_status(session, version, body.status, actor=principal.actor)))
