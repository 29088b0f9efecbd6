"""HTTP for amendments (admin): a bank's product terms, a guarantor's terms, who guarantees a dealer; and
their history, read from the audit trail."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.auth import AdminClient, BankOrOfficerClient, OfficerClient
from api.deps import DbSession
from api.idempotency import Idempotency
from loan_monitoring.dates import business_date
from risk_engine.db import utcnow
from risk_engine.errors import NotFound
from risk_engine.parties import terms
from risk_engine.parties.models import Bank, Dealer, Guarantor
from risk_engine.parties.schemas import BankAmendmentIn, GuarantorAmendmentIn, GuarantorAssignmentIn

router = APIRouter(prefix="/v1", tags=["parties"])

_AMENDMENT = {
    "description": "`changes` names every term that moved (`from`, `to`); `changed: false` and no audit "
                   "entry when none did.",
}


@router.post("/banks/{bank_id}/amendments", summary="Change a bank's product terms (quota, caps, tenors, APR)",
             **_AMENDMENT)
def amend_bank(bank_id: str, body: BankAmendmentIn, principal: AdminClient, session: DbSession,
               idem: Idempotency) -> Response:
    return idem.run(session, principal,
                    lambda: terms.amend_bank(session, bank_id, body, actor=principal.actor).json())


@router.get("/banks/{bank_id}/amendments", summary="The bank's amendments, oldest first (a bank sees its own)")
def bank_amendments(bank_id: str, principal: BankOrOfficerClient, session: DbSession) -> list[dict[str, Any]]:
    if (principal.role == "bank" and principal.bank_id != bank_id) or session.get(Bank, bank_id) is None:
        raise NotFound(f"no bank {bank_id}")
    return terms.amendments(session, "bank", bank_id, terms.BANK_AMENDED)


@router.post("/guarantors/{guarantor_id}/amendments",
             summary="Change a guarantor's terms (net assets, caps, coverage, expiry, controlling parties)",
             **_AMENDMENT)
def amend_guarantor(guarantor_id: str, body: GuarantorAmendmentIn, principal: AdminClient, session: DbSession,
                    idem: Idempotency) -> Response:
    return idem.run(session, principal, lambda: terms.amend_guarantor(
        session, guarantor_id, body, actor=principal.actor, today=business_date(utcnow())).json())


@router.get("/guarantors/{guarantor_id}/amendments", summary="The guarantor's amendments, oldest first")
def guarantor_amendments(guarantor_id: str, principal: OfficerClient, session: DbSession) -> list[dict[str, Any]]:
    if session.get(Guarantor, guarantor_id) is None:
        raise NotFound(f"no guarantor {guarantor_id}")
    return terms.amendments(session, "guarantor", guarantor_id, terms.GUARANTOR_AMENDED)


@router.post("/dealers/{dealer_id}/guarantor-assignments",
             summary="Who guarantees the dealer from now on (checked against the guarantor's capacity)",
             **_AMENDMENT)
def assign_guarantor(dealer_id: str, body: GuarantorAssignmentIn, principal: AdminClient, session: DbSession,
                     idem: Idempotency) -> Response:
    return idem.run(session, principal, lambda: terms.assign_guarantor(
        session, dealer_id, body, actor=principal.actor, today=business_date(utcnow())).json())


@router.get("/dealers/{dealer_id}/guarantor-assignments", summary="The dealer's guarantor changes, oldest first")
def guarantor_assignments(dealer_id: str, principal: OfficerClient, session: DbSession) -> list[dict[str, Any]]:
    if session.get(Dealer, dealer_id) is None:
        raise NotFound(f"no dealer {dealer_id}")
    return terms.amendments(session, "dealer", dealer_id, terms.GUARANTOR_ASSIGNED)
