"""The audit page: is the trail intact (hash chain, Merkle tree, every signed checkpoint), the latest
signed checkpoint, and the newest entries. Admins may sign a checkpoint here, as through the API.

The verification runs in the background (``api.console.verification``): the page shows the latest result
and its time, and starts a new run when that one is over a minute old.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.console import queries
from api.console.auth import CheckedForm, ConsoleOfficer
from api.console.rendering import render
from api.console.views.common import flash_from, friendly_error
from api.deps import DbSession
from compliance import checkpoints
from risk_engine.errors import DomainError

router = APIRouter()


@router.get("/console/audit")
def audit_page(
    request: Request,
    officer: ConsoleOfficer,
    session: DbSession,
    subject: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    done: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    verifier = request.app.state.console_verifier
    verifier.refresh()
    latest = checkpoints.latest_checkpoint(session)
    entries = queries.recent_audit_entries(session, subject_id=subject or None, before=before)
    rows = [{"entry": e, "payload": json.loads(e.payload)} for e in entries]
    older = entries[-1].seq if len(entries) == queries.AUDIT_PAGE else None
    return render(
        request,
        "audit.html",
        officer=officer,
        verification=verifier.latest,
        running=verifier.running,
        checkpoint=None if latest is None else checkpoints.checkpoint_view(latest),
        rows=rows,
        actors=queries.actor_names(session, [e.actor for e in entries]),
        subject=subject or "",
        older=older,
        flash=flash_from(officer.t, done),
    )


@router.get("/console/audit/status")
def verification_status(request: Request, officer: ConsoleOfficer) -> Response:
    """The verification status alone, for the page's script to poll while a run is going."""
    verifier = request.app.state.console_verifier
    return render(
        request, "_trail_status.html", officer=officer, verification=verifier.latest, running=verifier.running
    )


@router.post("/console/audit/verify")
def verify_now(request: Request, officer: ConsoleOfficer, form: CheckedForm) -> Response:
    request.app.state.console_verifier.refresh(force=True)
    return RedirectResponse("/console/audit?done=audit.verifying", status_code=303)


@router.post("/console/audit/checkpoints")
def sign_checkpoint(
    request: Request, officer: ConsoleOfficer, form: CheckedForm, session: DbSession
) -> Response:
    if not officer.is_admin:
        return friendly_error(request, officer, 403, officer.t("audit.admin_only"), back="/console/audit")
    try:
        checkpoints.create_checkpoint(session, request.app.state.keys)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return friendly_error(request, officer, exc.status, exc.detail, back="/console/audit")
    return RedirectResponse("/console/audit?done=audit.signed", status_code=303)
