"""The FastAPI application: routers, error handlers, observability, body-size limit."""
from __future__ import annotations

from fastapi import FastAPI

from api import console, docs, openapi
from api.auth import PrincipalCache
from api.errors import install_error_handlers
from api.observability import BodySizeLimit, Metrics, RefuseNulInUrl, RequestObservability
from api.routers import (
    alerts,
    amendments,
    audit,
    compliance,
    decisions,
    lpr,
    models,
    ops,
    order_loans,
    parties,
    portfolio,
    reports,
    reviews,
    rulesets,
    trade,
)
from compliance.keys import key_provider_for
from compliance.screening import BlacklistSource
from risk_engine.db import Database, get_database
from risk_engine.settings import Settings, get_settings
from scoring.registry import RegistryScorer
from scoring.snapshots import SnapshotFeatureSource

DESCRIPTION = """
Credit-risk engine for supply-chain finance: dealer ratings, credit limits and order loans for
B2B ordering platforms and their partner banks.

* Auth: `Authorization: Bearer <api key>`; roles `platform`, `bank`, `risk_officer`, `admin`.
* Money: decimal strings in CNY (`"125000.00"`); times RFC 3339 UTC.
* Errors: `application/problem+json` (RFC 9457) naming every failing field.
* Every mutating POST accepts `Idempotency-Key`: a retry returns the first response.
"""


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Risk engine", version="0.1.0", description=DESCRIPTION, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.db = database or get_database()
    app.state.metrics = Metrics()
    app.state.principals = PrincipalCache(settings.api_key_cache_seconds)
    app.state.keys = key_provider_for(settings)
    app.state.blacklist = BlacklistSource(settings.blacklist_file)
    app.state.scorer = RegistryScorer(app.state.db, settings.models_dir)
    app.state.feature_source = SnapshotFeatureSource()
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(parties.router)
    app.include_router(amendments.router)
    app.include_router(trade.router)
    app.include_router(decisions.router)
    app.include_router(reviews.router)
    app.include_router(rulesets.router)
    app.include_router(audit.router)
    app.include_router(compliance.router)
    app.include_router(order_loans.router)
    app.include_router(alerts.router)
    app.include_router(models.router)
    app.include_router(reports.router)
    app.include_router(portfolio.router)
    app.include_router(lpr.router)
    console.install(app)
    docs.install(app)
    openapi.install(app)
    # Outermost last: observability sees every request, including those the size limit refuses.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RefuseNulInUrl)
    app.add_middleware(RequestObservability, metrics=app.state.metrics)
    return app
