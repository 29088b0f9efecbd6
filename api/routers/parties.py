"""HTTP for the parties: banks and guarantors (admin), dealers and suppliers (platform)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select

from api.auth import AdminClient, AnyClient, Authenticator, PlatformClient, Principal, bank_scoped
from api.deps import CurrentBlacklist, DbSession, Keys
from api.idempotency import Idempotency
from risk_engine.errors import NotFound
from risk_engine.parties import service
from risk_engine.parties.models import Bank, Dealer, Guarantor, Supplier
from risk_engine.parties.schemas import (
    BankIn,
    BankOut,
    DealerIn,
    DealerOut,
    GuarantorIn,
    GuarantorOut,
    SupplierIn,
    SupplierOut,
)

router = APIRouter(prefix="/v1", tags=["parties"])
PartyReader = Annotated[Principal, Depends(Authenticator("platform", "risk_officer", "admin"))]


@router.post("/banks", status_code=201, response_model=BankOut, summary="Register a partner bank")
def create_bank(body: BankIn, principal: AdminClient, session: DbSession, idem: Idempotency) -> Response:
    return idem.run(session, principal,
                    lambda: BankOut.model_validate(service.create_bank(session, body, actor=principal.actor)),
                    status_code=201)


@router.get("/banks", response_model=list[BankOut], summary="Partner banks (a bank sees only itself)")
def list_banks(principal: AnyClient, session: DbSession) -> list[BankOut]:
    rows = session.scalars(bank_scoped(select(Bank).order_by(Bank.name), principal, Bank.id))
    return [BankOut.model_validate(b) for b in rows]


@router.get("/banks/{bank_id}", response_model=BankOut, summary="One partner bank")
def get_bank(bank_id: str, principal: AnyClient, session: DbSession) -> BankOut:
    bank = session.scalars(bank_scoped(select(Bank).where(Bank.id == bank_id), principal, Bank.id)).first()
    if bank is None:
        raise NotFound(f"no bank {bank_id}")
    return BankOut.model_validate(bank)


@router.post("/guarantors", status_code=201, response_model=GuarantorOut, summary="Register a guarantor")
def create_guarantor(body: GuarantorIn, principal: AdminClient, session: DbSession,
                     idem: Idempotency) -> Response:
    return idem.run(
        session, principal,
        lambda: GuarantorOut.model_validate(service.create_guarantor(session, body, actor=principal.actor)),
        status_code=201,
    )


@router.get("/guarantors", response_model=list[GuarantorOut], summary="Guarantors, by name")
def list_guarantors(principal: PartyReader, session: DbSession) -> list[GuarantorOut]:
    return [GuarantorOut.model_validate(g) for g in session.scalars(select(Guarantor).order_by(Guarantor.name,
                                                                                                Guarantor.id))]


@router.get("/guarantors/{guarantor_id}", response_model=GuarantorOut)
def get_guarantor(guarantor_id: str, principal: PartyReader, session: DbSession) -> GuarantorOut:
    return GuarantorOut.model_validate(service.get_or_404(session, Guarantor, guarantor_id, "guarantor"))


@router.post("/dealers", status_code=201, response_model=DealerOut, summary="Onboard a dealer (KYB checks)")
def onboard_dealer(body: DealerIn, principal: PlatformClient, session: DbSession, idem: Idempotency,
                   keys: Keys, blacklist: CurrentBlacklist) -> Response:
    return idem.run(
        session, principal,
        lambda: DealerOut.model_validate(
            service.onboard_dealer(session, body, actor=principal.actor, keys=keys, blacklist=blacklist)),
        status_code=201,
    )


@router.get("/dealers/{dealer_id}", response_model=DealerOut)
def get_dealer(dealer_id: str, principal: PartyReader, session: DbSession) -> DealerOut:
    return DealerOut.model_validate(service.get_or_404(session, Dealer, dealer_id, "dealer"))


@router.post("/suppliers", status_code=201, response_model=SupplierOut, summary="Onboard a supplier")
def onboard_supplier(body: SupplierIn, principal: PlatformClient, session: DbSession,
                     idem: Idempotency, keys: Keys, blacklist: CurrentBlacklist) -> Response:
    return idem.run(
        session, principal,
        lambda: SupplierOut.model_validate(service.onboard_supplier(session, body, actor=principal.actor,
                                                                    keys=keys, blacklist=blacklist)),
        status_code=201,
    )


@router.get("/suppliers/{supplier_id}", response_model=SupplierOut)
def get_supplier(supplier_id: str, principal: PartyReader, session: DbSession) -> SupplierOut:
    return SupplierOut.model_validate(service.get_or_404(session, Supplier, supplier_id, "supplier"))


@router.get("/clients/me", summary="Who am I: the calling client's id, role and bank")
def whoami(principal: AnyClient) -> dict[str, str | None]:
    return {"client_id": principal.client_id, "name": principal.name, "role": principal.role,
            "bank_id": principal.bank_id}
