"""Consent (PIPL Art. 13-15): recorded per dealer and purpose; no scoring or data use without a consent
that is valid for that purpose at that moment; a revocation stops further use (not past decisions).

``consent_status`` and ``valid_consent`` are pure; ``require_consent`` is what the decision core calls
before scoring::

    consent.require_consent(session, dealer_id, "credit_scoring", at=now)   # raises ConsentMissing
    consent.require_consents(session, dealer_id, BANK_DECISION, at=now)     # every purpose, one query

A decision made for a bank (a credit limit, an order loan) hands the dealer's data to that bank — the
decision, its inputs and explanation, the signed report — so it needs ``data_sharing_with_bank`` beside the
purpose of the use itself (PIPL Art. 23: a separate consent to provide personal information to another
processor).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from compliance import audit
from compliance.models import CONSENT_PURPOSES, DealerConsent
from compliance.schemas import ConsentIn, ConsentRevocationIn, OnboardingConsentIn
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, IllegalTransition, InvalidInput, NotFound, PermissionDenied
from risk_engine.ids import new_id
from risk_engine.parties.models import Dealer

ACTIVE, PENDING, EXPIRED, REVOKED = "active", "pending", "expired", "revoked"


class ConsentMissing(PermissionDenied):
    """The dealer has no consent valid for this purpose now: the engine may not use its data for it."""

    title = "Consent missing"
    default_code = "consent_missing"


class ConsentTerms(Protocol):
    purpose: str
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def consent_status(consent: ConsentTerms, at: datetime) -> str:
    """``revoked`` from its revocation on, ``pending`` before its grant, ``expired`` from its expiry on,
    else ``active``."""
    if consent.revoked_at is not None and consent.revoked_at <= at:
        return REVOKED
    if consent.granted_at > at:
        return PENDING
    if consent.expires_at is not None and consent.expires_at <= at:
        return EXPIRED
    return ACTIVE


def valid_consent(consents: Iterable[ConsentTerms], purpose: str, at: datetime) -> ConsentTerms | None:
    """The consent that makes ``purpose`` lawful at ``at`` (the latest-expiring one), or None."""
    active = [c for c in consents if c.purpose == purpose and consent_status(c, at) == ACTIVE]
    return max(active, key=lambda c: (c.expires_at is None, c.expires_at or c.granted_at), default=None)


def consents_of(session: Session, dealer_id: str, purpose: str | None = None) -> list[DealerConsent]:
    statement = select(DealerConsent).where(DealerConsent.dealer_id == dealer_id)
    if purpose is not None:
        statement = statement.where(DealerConsent.purpose == purpose)
    return list(session.scalars(statement.order_by(DealerConsent.granted_at, DealerConsent.id)))


SHARING_WITH_BANK = "data_sharing_with_bank"
# what a decision made for a bank needs: the use itself, and handing the result to the bank (Art. 23)
CREDIT_LIMIT_FOR_BANK = ("credit_scoring", SHARING_WITH_BANK)
ORDER_LOAN_FOR_BANK = ("loan_monitoring", SHARING_WITH_BANK)

_CONSENTS = DealerConsent.__table__
_CONSENT_TERMS = (
    select(_CONSENTS)
    .where(_CONSENTS.c.dealer_id == bindparam("dealer_id"),
           _CONSENTS.c.purpose.in_(bindparam("purposes", expanding=True)))
    .order_by(_CONSENTS.c.granted_at, _CONSENTS.c.id)
)


def require_consent(
    session: Session, dealer_id: str, purpose: str, at: datetime | None = None
) -> ConsentTerms:
    """The consent under which ``purpose`` may be pursued for the dealer now (its row: ``id``, ``purpose``,
    ``granted_at``...); raises ``ConsentMissing``."""
    return require_consents(session, dealer_id, (purpose,), at)[purpose]


def require_consents(
    session: Session, dealer_id: str, purposes: Iterable[str], at: datetime | None = None
) -> dict[str, ConsentTerms]:
    """The consent in force for each of ``purposes`` (by purpose), read in one query; raises
    ``ConsentMissing`` naming every purpose without one."""
    purposes = tuple(dict.fromkeys(purposes))
    unknown = [p for p in purposes if p not in CONSENT_PURPOSES]
    if unknown or not purposes:
        raise ValueError(f"unknown consent purpose(s) {unknown!r}")
    at = at or utcnow()
    # the terms as plain rows (every decision asks): no ORM objects to build and track
    terms = session.execute(_CONSENT_TERMS, {"dealer_id": dealer_id, "purposes": list(purposes)}).all()
    found = {purpose: valid_consent(terms, purpose, at) for purpose in purposes}
    missing = [purpose for purpose, terms_in_force in found.items() if terms_in_force is None]
    if missing:
        raise ConsentMissing(
            f"dealer {dealer_id} has no valid consent for {' and '.join(missing)} (none given, expired or revoked)",
            extra={"dealer_id": dealer_id, "purpose": missing[0], "missing_purposes": missing},
        )
    return found  # type: ignore[return-value]  # every value is set: none is missing


# --- changes (flush and audit; the caller commits) -------------------------------------------------


def _record(session: Session, dealer_id: str, *, purpose: str, scope: str, evidence: str,
            granted_at: datetime, expires_at: datetime | None, actor: str) -> DealerConsent:
    consent = DealerConsent(
        id=new_id("cns"), dealer_id=dealer_id, purpose=purpose, scope=scope, evidence_ref=evidence,
        granted_at=granted_at, expires_at=expires_at, recorded_at=utcnow(), recorded_by=actor,
    )
    session.add(consent)
    session.flush()
    audit.record(session, actor=actor, action="consent.granted", subject_type="dealer", subject_id=dealer_id,
                 payload={"consent_id": consent.id, "purpose": purpose, "scope": scope, "evidence": evidence,
                          "granted_at": granted_at, "expires_at": expires_at})
    return consent


def record_onboarding_consent(
    session: Session, dealer_id: str, data: OnboardingConsentIn, *, actor: str
) -> list[DealerConsent]:
    return [
        _record(session, dealer_id, purpose=purpose, scope=data.scope, evidence=data.evidence,
                granted_at=data.granted_at, expires_at=data.expires_at, actor=actor)
        for purpose in data.purposes
    ]


def _dealer_or_404(session: Session, dealer_id: str) -> Dealer:
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        raise NotFound(f"no dealer {dealer_id}")
    return dealer


def grant(session: Session, dealer_id: str, data: ConsentIn, *, actor: str) -> DealerConsent:
    dealer = _dealer_or_404(session, dealer_id)
    if dealer.erased_at is not None:
        raise Conflict(f"dealer {dealer_id} was erased; it cannot give new consent", code="dealer_erased")
    return _record(session, dealer_id, purpose=data.purpose, scope=data.scope, evidence=data.evidence,
                   granted_at=data.granted_at, expires_at=data.expires_at, actor=actor)


def revoke(session: Session, dealer_id: str, consent_id: str, data: ConsentRevocationIn, *,
           actor: str) -> DealerConsent:
    """Stop the purpose from ``revoked_at`` (default now) on. Revoking twice is 409."""
    consent = session.get(DealerConsent, consent_id)
    if consent is None or consent.dealer_id != dealer_id:
        raise NotFound(f"no consent {consent_id} for dealer {dealer_id}")
    if consent.revoked_at is not None:
        raise IllegalTransition(
            f"consent {consent_id} was already revoked at {consent.revoked_at.isoformat()}",
            code="consent_already_revoked")
    revoked_at = data.revoked_at or utcnow()
    if revoked_at < consent.granted_at:
        raise InvalidInput("revoked_at: must not be before the consent was granted", field="body.revoked_at")
    _revoke(session, consent, revoked_at, data.reason, actor=actor)
    return consent


def _revoke(
    session: Session, consent: DealerConsent, revoked_at: datetime, reason: str, *, actor: str
) -> None:
    consent.revoked_at = revoked_at
    consent.revocation_reason = reason
    session.flush()
    audit.record(session, actor=actor, action="consent.revoked", subject_type="dealer",
                 subject_id=consent.dealer_id,
                 payload={"consent_id": consent.id, "purpose": consent.purpose, "revoked_at": revoked_at,
                          "reason": reason})


def revoke_all(session: Session, dealer_id: str, reason: str, *, actor: str,
               at: datetime | None = None) -> list[DealerConsent]:
    """Revoke every consent not yet revoked (erasure stops all further processing)."""
    at = at or utcnow()
    open_consents = [c for c in consents_of(session, dealer_id) if c.revoked_at is None]
    for consent in open_consents:
        _revoke(session, consent, max(at, consent.granted_at), reason, actor=actor)
    return open_consents


def consent_view(consent: DealerConsent, at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": consent.id, "dealer_id": consent.dealer_id, "purpose": consent.purpose, "scope": consent.scope,
        "evidence_ref": consent.evidence_ref, "granted_at": consent.granted_at,
        "expires_at": consent.expires_at, "revoked_at": consent.revoked_at,
        "revocation_reason": consent.revocation_reason, "recorded_at": consent.recorded_at,
        "status": consent_status(consent, at or utcnow()),
    }
