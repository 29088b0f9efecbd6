"""The console's routes under ``/console`` (and ``/`` → the console), kept out of the OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from api.console.views import access, alerts, audit, dealers, model, portfolio, reviews

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)


@router.get("/console")
def console_home() -> RedirectResponse:
    return RedirectResponse("/console/reviews", status_code=303)


for module in (access, reviews, alerts, dealers, portfolio, model, audit):
    router.include_router(module.router)
