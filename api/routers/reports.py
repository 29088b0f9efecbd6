"""Signed decision reports for partner banks (``application/jose``, a compact JWS)."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import BankOrOfficerClient
from api.deps import DbSession
from api.routers.decisions import bank_scope
from compliance import reports
from risk_engine.errors import NotFound

router = APIRouter(prefix="/v1", tags=["decisions"])

JOSE = "application/jose"


@router.get(
    "/decisions/{decision_id}/report",
    response_class=Response,
    responses={200: {"content": {JOSE: {"schema": {"type": "string"}}},
                     "description": "the compact JWS; verify with GET /.well-known/jwks.json "
                                    "(docs/compliance.md)"}},
    summary="The signed decision report: the decision, its audit entry and an inclusion proof against a "
            "signed checkpoint",
)
def get_report(decision_id: str, request: Request, principal: BankOrOfficerClient, session: DbSession) -> Response:
    try:
        jws = reports.issue_report(session, request.app.state.keys, decision_id, principal,
                                   bank_id=bank_scope(principal), path=request.url.path)
    except NotFound:
        session.commit()  # the refused pull stays in the access log
        raise
    session.commit()
    return Response(jws, media_type=JOSE)
