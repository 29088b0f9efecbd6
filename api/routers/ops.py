"""Operations endpoints (no auth): liveness, readiness, Prometheus metrics."""
from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from risk_engine import migrations

router = APIRouter(tags=["operations"])
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's multi-process mode (set by risk-engine serve)


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and migrated to the newest revision")
def readyz(request: Request) -> JSONResponse:
    db = request.app.state.db
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as conn:
            current = migrations.current_revision(conn)
        checks["database"] = "ok"
        head = migrations.head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
    except Exception as exc:  # readiness reports, it never raises
        checks["database"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics (every worker's, summed, under `serve --workers N`)")
def metrics(request: Request) -> Response:
    if os.environ.get(MULTIPROCESS_DIR):  # several workers: each writes its figures there, any one answers
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
