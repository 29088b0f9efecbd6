"""Onboarding and lookup of the parties. Services flush and audit; the caller commits."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import audit, consent, kyb, pii, screening
from compliance.keys import KeyProvider
from risk_engine.errors import Conflict, NotFound
from risk_engine.ids import new_id
from risk_engine.parties.models import Bank, Dealer, Guarantor, Supplier
from risk_engine.parties.schemas import BankIn, DealerIn, GuarantorIn, SupplierIn

LEVERAGE_CAP = Decimal("10")
LEVERAGE_CAP_SMALL_FIRMS = Decimal("15")


def _unique_credit_code(session: Session, model: type, credit_code: str, what: str) -> None:
    if session.scalars(select(model.id).where(model.credit_code == credit_code)).first() is not None:
        raise Conflict(f"a {what} with credit code {credit_code} is already onboarded",
                       field="credit_code", code=f"{what}_exists")


def _unique_external_id(session: Session, model: type, external_id: str | None, what: str) -> None:
    if external_id and session.scalars(select(model.id).where(model.external_id == external_id)).first():
        raise Conflict(f"a {what} with external_id {external_id} already exists",
                       field="external_id", code=f"{what}_exists")


def create_bank(session: Session, data: BankIn, *, actor: str) -> Bank:
    kyb.validate_credit_code(data.credit_code, field="credit_code")
    _unique_credit_code(session, Bank, data.credit_code, "bank")
    bank = Bank(id=new_id("bnk"), **data.model_dump())
    session.add(bank)
    session.flush()
    audit.record(session, actor=actor, action="bank.created", subject_type="bank", subject_id=bank.id,
                 payload=data.model_dump(mode="json"))
    return bank


def create_guarantor(session: Session, data: GuarantorIn, *, actor: str) -> Guarantor:
    kyb.validate_credit_code(data.credit_code, field="credit_code")
    _unique_credit_code(session, Guarantor, data.credit_code, "guarantor")
    guarantor = Guarantor(
        id=new_id("gua"),
        leverage_cap=LEVERAGE_CAP_SMALL_FIRMS if data.serves_small_firms else LEVERAGE_CAP,
        **data.model_dump(),
    )
    session.add(guarantor)
    session.flush()
    audit.record(session, actor=actor, action="guarantor.created", subject_type="guarantor",
                 subject_id=guarantor.id, payload=data.model_dump(mode="json"))
    return guarantor


def onboard_dealer(
    session: Session,
    data: DealerIn,
    *,
    actor: str,
    keys: KeyProvider,
    blacklist: kyb.Blacklist | None = None,
    today: date | None = None,
) -> Dealer:
    """KYB-screen, record the dealer with its personal data encrypted, and its consent.

    The audit entry names the personal fields held but never their values."""
    kyb.validate_credit_code(data.credit_code, field="credit_code")
    rep = data.legal_representative
    screened = screening.screen_dealer(
        credit_code=data.credit_code, id_number=rep.id_number, phone=rep.phone,
        account_number=data.account_number, licence_expires_on=data.licence_expires_on,
        on=today or date.today(), blacklist=blacklist,
    )
    _unique_credit_code(session, Dealer, data.credit_code, "dealer")
    _unique_external_id(session, Dealer, data.external_id, "dealer")
    if data.guarantor_id is not None and session.get(Guarantor, data.guarantor_id) is None:
        raise NotFound(f"no guarantor {data.guarantor_id}", field="guarantor_id")
    dealer = Dealer(id=new_id("dlr"), **data.model_dump(exclude=_DEALER_PERSONAL_AND_CONSENT))
    pii.seal_legal_representative(keys, dealer, pii.LegalRepresentative(rep.name, screened.id_number,
                                                                         screened.phone))
    pii.seal_account_number(keys, dealer, screened.account_number)
    session.add(dealer)
    session.flush()
    held = ["legal_representative.name", "legal_representative.id_number", "legal_representative.phone"]
    held += ["account_number"] if screened.account_number else []
    audit.record(session, actor=actor, action="dealer.onboarded", subject_type="dealer", subject_id=dealer.id,
                 payload=data.model_dump(mode="json", exclude=_DEALER_PERSONAL_AND_CONSENT)
                 | {"personal_data_held": held, "licence_expiring_soon": screened.licence.expiring_soon})
    consent.record_onboarding_consent(session, dealer.id, data.consent, actor=actor)
    return dealer


_DEALER_PERSONAL_AND_CONSENT = {"legal_representative", "account_number", "consent"}


def onboard_supplier(
    session: Session,
    data: SupplierIn,
    *,
    actor: str,
    keys: KeyProvider,
    blacklist: kyb.Blacklist | None = None,
) -> Supplier:
    kyb.validate_credit_code(data.credit_code, field="credit_code")
    account = screening.screen_supplier(credit_code=data.credit_code, account_number=data.account_number,
                                        blacklist=blacklist)
    _unique_credit_code(session, Supplier, data.credit_code, "supplier")
    _unique_external_id(session, Supplier, data.external_id, "supplier")
    supplier = Supplier(id=new_id("sup"), **data.model_dump(exclude={"account_number"}))
    pii.seal_account_number(keys, supplier, account)
    session.add(supplier)
    session.flush()
    audit.record(session, actor=actor, action="supplier.onboarded", subject_type="supplier",
                 subject_id=supplier.id,
                 payload=data.model_dump(mode="json", exclude={"account_number"})
                 | {"personal_data_held": ["account_number"]})
    return supplier


def get_or_404(session: Session, model: type, object_id: str, what: str):  # noqa: ANN201
    obj = session.get(model, object_id)
    if obj is None:
        raise NotFound(f"no {what} {object_id}")
    return obj
