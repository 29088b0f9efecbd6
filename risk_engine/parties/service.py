"""Onboarding and lookup of the parties. Services flush and audit; the caller commits."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance import audit, consent, kyb, pii, screening
from compliance.keys import KeyProvider
from compliance.privacy import is_individual_business
from loan_monitoring.dates import business_date
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, InvalidInput, NotFound
from risk_engine.ids import new_id
from risk_engine.parties.models import Bank, Dealer, Guarantor, Supplier
from risk_engine.parties.schemas import BankIn, DealerIn, GuarantorIn, SupplierIn

LEVERAGE_CAP = Decimal("10")
LEVERAGE_CAP_SMALL_FIRMS = Decimal("15")
_Screened = TypeVar("_Screened")


def _kyb_checked(credit_code: str, screen: Callable[[], _Screened], *found: InvalidInput) -> _Screened:
    """The credit code's check character, the KYB screening and the ``found`` failures, in one answer that
    names every failing field (a bad credit code must not hide a bad licence or a blacklisted id)."""
    failures = list(found)
    try:
        kyb.validate_credit_code(credit_code, field="body.credit_code")
    except InvalidInput as exc:
        failures.insert(0, exc)
    errors: list[dict[str, Any]] = [{"field": f.field, "reason": f.detail, "type": f.code} for f in failures]
    try:
        screened = screen()
    except screening.KybFailed as exc:
        errors += exc.extra.get("errors") or [{"field": exc.field, "reason": exc.detail, "type": exc.code}]
    if errors:
        raise screening.KybFailed("; ".join(e["reason"] for e in errors), field=errors[0]["field"],
                                  code=errors[0]["type"], extra={"errors": errors})
    return screened


def _insert_unique(session: Session, party: Any, what: str) -> None:
    """Insert ``party``. Two requests onboarding the same credit code (or external id) at the same moment
    both pass the checks above; the database's unique index stops the second, which gets the same 409."""
    session.add(party)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a {what} with credit code {party.credit_code} (or external_id "
                       f"{getattr(party, 'external_id', None)}) was onboarded at the same moment",
                       field="credit_code", code=f"{what}_exists") from None


def _unique_credit_code(session: Session, model: type, credit_code: str, what: str) -> None:
    if session.scalars(select(model.id).where(model.credit_code == credit_code)).first() is not None:
        raise Conflict(f"a {what} with credit code {credit_code} is already onboarded",
                       field="credit_code", code=f"{what}_exists")


def _unique_external_id(session: Session, model: type, external_id: str | None, what: str) -> None:
    if external_id and session.scalars(select(model.id).where(model.external_id == external_id)).first():
        raise Conflict(f"a {what} with external_id {external_id} already exists",
                       field="external_id", code=f"{what}_exists")


def dealer_id_of(session: Session, reference: str) -> str | None:
    """The engine's id of the dealer that ``reference`` names: the engine's own id or the platform's
    (``external_id``), the engine's id winning when another dealer's external id happens to spell it."""
    found = session.execute(
        select(Dealer.id).where(or_(Dealer.id == reference, Dealer.external_id == reference))
        .order_by((Dealer.id == reference).desc()).limit(1)
    ).scalar()
    return found


def create_bank(session: Session, data: BankIn, *, actor: str) -> Bank:
    kyb.validate_credit_code(data.credit_code, field="body.credit_code")
    _unique_credit_code(session, Bank, data.credit_code, "bank")
    bank = Bank(id=new_id("bnk"), **data.model_dump())
    _insert_unique(session, bank, "bank")
    audit.record(session, actor=actor, action="bank.created", subject_type="bank", subject_id=bank.id,
                 payload=data.model_dump(mode="json"))
    return bank


def create_guarantor(session: Session, data: GuarantorIn, *, actor: str) -> Guarantor:
    controlling_parties, found = _controlling_parties(data.controlling_parties)
    _kyb_checked(data.credit_code, lambda: None, *found)
    _unique_credit_code(session, Guarantor, data.credit_code, "guarantor")
    guarantor = Guarantor(
        id=new_id("gua"),
        leverage_cap=LEVERAGE_CAP_SMALL_FIRMS if data.serves_small_firms else LEVERAGE_CAP,
        controlling_parties=controlling_parties,
        **data.model_dump(exclude={"controlling_parties"}),
    )
    _insert_unique(session, guarantor, "guarantor")
    audit.record(session, actor=actor, action="guarantor.created", subject_type="guarantor",
                 subject_id=guarantor.id,
                 payload=data.model_dump(mode="json") | {"controlling_parties": controlling_parties})
    return guarantor


def _controlling_parties(codes: list[str]) -> tuple[list[str], list[InvalidInput]]:
    """The credit codes of the guarantor's controlling parties, normalised and each kept once, and a failure
    per code whose check character is wrong, naming its place in the request."""
    valid: list[str] = []
    failures: list[InvalidInput] = []
    for i, code in enumerate(codes):
        try:
            valid.append(kyb.validate_credit_code(code, field=f"body.controlling_parties[{i}]"))
        except InvalidInput as exc:
            failures.append(exc)
    return list(dict.fromkeys(valid)), failures


CLOCK_SKEW = timedelta(minutes=5)  # as for the platform's times on events and consents


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
    now = utcnow()
    on = today or business_date(now)  # licences and registrations run on Beijing dates
    rep = data.legal_representative
    found = []
    if data.registered_on > on:
        found.append(InvalidInput(f"body.registered_on: {data.registered_on} is in the future",
                                  field="body.registered_on", code="registered_in_future"))
    if data.onboarded_at is not None and data.onboarded_at > now + CLOCK_SKEW:
        found.append(InvalidInput(f"body.onboarded_at: {data.onboarded_at} is in the future",
                                  field="body.onboarded_at", code="time_in_future"))
    elif data.onboarded_at is not None and business_date(data.onboarded_at) < data.registered_on:
        found.append(InvalidInput(f"body.onboarded_at: before the business was registered ({data.registered_on})",
                                  field="body.onboarded_at", code="before_registration"))
    if data.consent.expires_at is not None and data.consent.expires_at <= now:
        # no personal data is taken in without a consent in force (PIPL Art. 13)
        found.append(InvalidInput(f"body.consent.expires_at: the consent expired at {data.consent.expires_at}",
                                  field="body.consent.expires_at", code="consent_expired"))
    screened = _kyb_checked(data.credit_code, lambda: screening.screen_dealer(
        credit_code=data.credit_code, id_number=rep.id_number, phone=rep.phone,
        account_number=data.account_number, licence_expires_on=data.licence_expires_on,
        on=on, blacklist=blacklist,
    ), *found)
    _unique_credit_code(session, Dealer, data.credit_code, "dealer")
    _unique_external_id(session, Dealer, data.external_id, "dealer")
    if data.guarantor_id is not None and session.get(Guarantor, data.guarantor_id) is None:
        raise NotFound(f"no guarantor {data.guarantor_id}", field="guarantor_id")
    # the platform's clock may run a little ahead: its "just joined" is now, never a start the features cannot see yet
    dealer = Dealer(id=new_id("dlr"), onboarded_at=min(data.onboarded_at or now, now),
                    **data.model_dump(exclude=_DEALER_PERSONAL_AND_CONSENT | {"onboarded_at"}))
    pii.seal_legal_representative(keys, dealer, pii.LegalRepresentative(rep.name, screened.id_number,
                                                                         screened.phone))
    pii.seal_account_number(keys, dealer, screened.account_number)
    _insert_unique(session, dealer, "dealer")
    held = ["legal_representative.name", "legal_representative.id_number", "legal_representative.phone"]
    held += ["account_number"] if screened.account_number else []
    # An individual business's name is usually a person's: erasure replaces it, and the audit trail, which
    # is never rewritten, must not keep it either.
    recorded = _DEALER_PERSONAL_AND_CONSENT | ({"name"} if is_individual_business(dealer) else set())
    audit.record(session, actor=actor, action="dealer.onboarded", subject_type="dealer", subject_id=dealer.id,
                 payload=data.model_dump(mode="json", exclude=recorded)
                 | {"onboarded_at": dealer.onboarded_at,  # the start it is rated from, given or defaulted
                    "personal_data_held": held, "licence_expiring_soon": screened.licence.expiring_soon})
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
    account = _kyb_checked(data.credit_code, lambda: screening.screen_supplier(
        credit_code=data.credit_code, account_number=data.account_number, blacklist=blacklist))
    _unique_credit_code(session, Supplier, data.credit_code, "supplier")
    _unique_external_id(session, Supplier, data.external_id, "supplier")
    supplier = Supplier(id=new_id("sup"), **data.model_dump(exclude={"account_number"}))
    pii.seal_account_number(keys, supplier, account)
    _insert_unique(session, supplier, "supplier")
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
