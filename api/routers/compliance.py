"""HTTP for personal data, consent, export and erasure, and the access log.

Reads of personal data are logged in the access log, so those GET routes commit; a refused read is
logged too (committed before the error propagates).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime

from api.auth import AdminClient, Authenticator, OfficerClient, PlatformClient, Principal
from api.deps import DbSession, Keys
from api.idempotency import Idempotency
from compliance import access_log, consent, privacy
from compliance.schemas import (
    AccessLogOut,
    AccessLogPage,
    ConsentIn,
    ConsentOut,
    ConsentRevocationIn,
    DealerPiiOut,
    ErasureIn,
    ErasureOut,
)
from risk_engine.errors import NotFound

router = APIRouter(prefix="/v1", tags=["compliance"])
ConsentReader = Annotated[Principal, Depends(Authenticator("platform", "risk_officer", "admin"))]


@router.get("/dealers/{dealer_id}/pii", response_model=DealerPiiOut,
            summary="The dealer's personal data in clear (officers, admins); every read is logged")
def read_personal_data(
    dealer_id: str, principal: OfficerClient, session: DbSession, keys: Keys, request: Request,
    purpose: Annotated[str | None, Query(max_length=128, description="why, for the access log")] = None,
) -> DealerPiiOut:
    try:
        body = privacy.read_personal_data(session, keys, dealer_id, principal, purpose=purpose,
                                          path=request.url.path)
    except NotFound:
        session.commit()  # keep the access-log entry of the refused read
        raise
    session.commit()
    return DealerPiiOut(**body)


@router.post("/dealers/{dealer_id}/consents", status_code=201, response_model=ConsentOut,
             summary="Record a consent of the dealer for one purpose")
def grant_consent(dealer_id: str, body: ConsentIn, principal: PlatformClient, session: DbSession,
                  idem: Idempotency) -> Response:
    return idem.run(
        session, principal,
        lambda: ConsentOut(**consent.consent_view(
            consent.grant(session, dealer_id, body, actor=principal.actor))),
        status_code=201,
    )


@router.post("/dealers/{dealer_id}/consents/{consent_id}/revocation", response_model=ConsentOut,
             summary="Revoke a consent: the purpose stops from revoked_at on")
def revoke_consent(dealer_id: str, consent_id: str, body: ConsentRevocationIn, principal: PlatformClient,
                   session: DbSession, idem: Idempotency) -> Response:
    return idem.run(
        session, principal,
        lambda: ConsentOut(**consent.consent_view(
            consent.revoke(session, dealer_id, consent_id, body, actor=principal.actor))),
    )


@router.get("/dealers/{dealer_id}/consents", response_model=list[ConsentOut],
            summary="The dealer's consents with their status now")
def list_consents(dealer_id: str, principal: ConsentReader, session: DbSession) -> list[ConsentOut]:
    privacy.require_dealer(session, dealer_id)
    return [ConsentOut(**consent.consent_view(c)) for c in consent.consents_of(session, dealer_id)]


@router.get("/dealers/{dealer_id}/export",
            summary="Everything held about the dealer, personal data decrypted (admins; logged)")
def export_dealer(dealer_id: str, principal: AdminClient, session: DbSession, keys: Keys,
                  request: Request) -> dict:
    try:
        body = privacy.export_dealer(session, keys, dealer_id, principal, path=request.url.path)
    except NotFound:
        session.commit()  # keep the access-log entry of the refused export
        raise
    session.commit()
    return body


@router.post("/dealers/{dealer_id}/erasure", response_model=ErasureOut,
             summary="Erase the dealer's personal data; credit records are kept pseudonymised")
def erase_dealer(dealer_id: str, body: ErasureIn, principal: AdminClient, session: DbSession,
                 idem: Idempotency) -> Response:
    return idem.run(
        session, principal,
        lambda: ErasureOut(**privacy.erase_dealer(session, dealer_id, body.reason, actor=principal.actor)),
    )


@router.get("/access-log", response_model=AccessLogPage,
            summary="Who read personal data or pulled a report, oldest first (admins)")
def read_access_log(
    principal: AdminClient, session: DbSession,
    client: Annotated[str | None, Query(description="client id")] = None,
    subject: Annotated[str | None, Query(description="subject id, e.g. a dealer or decision id")] = None,
    subject_type: Annotated[str | None, Query()] = None,
    action: Annotated[str | None, Query(examples=["dealer.pii.read"])] = None,
    since: Annotated[AwareDatetime | None, Query(description="RFC 3339")] = None,
    after: Annotated[int | None, Query(description="cursor: next_after of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=access_log.MAX_PAGE)] = 100,
) -> AccessLogPage:
    items, next_after = access_log.search(session, client_id=client, subject_type=subject_type,
                                          subject_id=subject, action=action, since=since, after=after,
                                          limit=limit)
    return AccessLogPage(items=[AccessLogOut(**access_log.entry_view(e)) for e in items],
                         next_after=next_after)
