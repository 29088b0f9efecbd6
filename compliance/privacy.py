"""A dealer's personal data: the officer's read, the export of everything held, and erasure.

What erasure removes and what it keeps (PIPL Art. 47 with the retention duties of credit business):

* ``personal_data`` — legal representative's name, identity number and phone, the account number,
  free-text notes: **erasable**. Wiped with their blind indexes; the business name too when the dealer is
  an individual business (个体工商户, credit code starting ``92``), whose name usually is a person's.
* ``business_registration`` — credit code, name, region, industry, dates: **retained** (it identifies the
  business, is public in the business register, and keeps a dealer from being onboarded twice).
* ``consents`` — **retained**: the evidence that past processing was lawful. Erasure revokes every open one,
  so scoring stops (``consent.require_consent`` raises from then on).
* ``credit_records`` — audit entries, decisions, credit lines, loans: **retained_pseudonymised**. They
  refer to the dealer only by its random id (``dlr_…``), which after erasure links to no person.
* ``access_log`` — **retained**: who accessed the data is itself a record the law requires.

Other domains add their sections with ``register_export_section``: credit decisions, review cases, credit
lines, order loans, alerts and trade, each built in its domain's ``export`` module (``DOMAIN_SECTIONS``)
and registered by ``register_domain_sections``, which every export calls first.

Bounds. The credit records (decisions, reviews, lines and their movements, loans with their tranches,
repayments and fund flows, alerts) are exported whole: they grow with the dealer's credit, not with time,
and they are what a copy under PIPL Art. 45 is for. Records that grow with every order or every day —
the trade the platform sent, a loan's daily delinquency snapshots — are exported as the complete count
plus the ``RECENT_ITEMS`` most recent, newest first (``recent_items``), so that a dealer with years of trade
still gets a response of bounded size; the platform holds the originals of its trade.
"""
from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, inspect, select
from sqlalchemy.orm import Session

from compliance import access_log, audit, consent, fieldcrypt, pii
from compliance.access_log import Accessor
from compliance.keys import KeyProvider
from compliance.models import AccessLogEntry
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, DomainError, NotFound
from risk_engine.parties.models import Dealer

ERASABLE, RETAINED, RETAINED_PSEUDONYMISED = "erasable", "retained", "retained_pseudonymised"
INDIVIDUAL_BUSINESS_PREFIX = "92"
RECENT_ITEMS = 100  # per kind of record that grows with time (trade, daily snapshots); see the module doc

# Each module's ``EXPORT_SECTIONS`` joins every export. Imported on first use, not at the top: those modules
# import this one (for ``ExportSection``), and compliance sits below the domains it would otherwise import.
DOMAIN_SECTIONS = (
    "risk_engine.decisions.export",
    "limits.export",
    "loan_monitoring.export",
    "risk_engine.trade.export",
)


class PersonalDataUnreadable(DomainError):
    """Stored personal data that does not decrypt: a missing key or a tampered value. An incident."""

    status = 500
    title = "Personal data cannot be decrypted"
    default_code = "personal_data_unreadable"


@dataclass(frozen=True)
class ExportSection:
    name: str
    handling: str  # erasable | retained | retained_pseudonymised
    basis: str
    collect: Callable[[Session, Dealer, KeyProvider], Any]  # keys: to decrypt the personal data it holds


_EXTRA_SECTIONS: list[ExportSection] = []
_REGISTERING = threading.Lock()


def register_export_section(section: ExportSection) -> None:
    """For other domains (decisions, credit lines, loans): one more section in every export."""
    with _REGISTERING:
        if any(s.name == section.name for s in _EXTRA_SECTIONS):
            return
        _EXTRA_SECTIONS.append(section)


def register_domain_sections() -> None:
    """Register every domain's sections (``DOMAIN_SECTIONS``); idempotent and cheap after the first call.

    Called through ``export_sections`` by ``export_dealer`` and ``erase_dealer`` themselves, so every
    process — API workers, the CLI, the scheduler, a script — has the same sections without having to
    remember to register them."""
    for module in DOMAIN_SECTIONS:
        for section in importlib.import_module(module).EXPORT_SECTIONS:
            register_export_section(section)


# --- building blocks for the sections ------------------------------------------------------------


def exportable(value: Any) -> Any:
    """A JSON-safe copy: Decimal as a decimal string, datetimes RFC 3339 in UTC, dates ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent: a normalised rate of 10 would print as "1E+1"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): exportable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [exportable(v) for v in value]
    return value


def unseal(keys: KeyProvider, row: Any, column: str) -> str | None:
    """``pii.unseal``, an unreadable value being an incident (``PersonalDataUnreadable``)."""
    try:
        return pii.unseal(keys, row, column)
    except fieldcrypt.UndecryptableField as exc:
        raise PersonalDataUnreadable(f"{row.__tablename__} {row.id}: {exc}") from None


def record_of(row: Any, keys: KeyProvider | None = None, *, json_text: Iterable[str] = ()) -> dict[str, Any]:
    """Every stored attribute of ``row``, exportable: ``*_enc`` columns decrypted under their name without
    the suffix (their blind ``*_index`` left out: a keyed hash, meaningless to anyone), ``json_text``
    columns parsed. Complete by construction: a column added later is exported too."""
    decoded = set(json_text)
    record: dict[str, Any] = {}
    for attr in inspect(row).mapper.column_attrs:
        name = attr.key
        if name.endswith("_index") and hasattr(row, name[:-6] + "_enc"):
            continue
        if name.endswith("_enc"):
            if keys is None:
                raise ValueError(f"{row.__tablename__}.{name} is encrypted: pass the keys")
            record[name[:-4]] = unseal(keys, row, name)
        elif name in decoded:
            text = getattr(row, name)
            record[name] = None if text is None else json.loads(text)
        else:
            record[name] = getattr(row, name)
    return exportable(record)


def recent_items(session: Session, statement: Select[Any], view: Callable[[Any], Any]) -> dict[str, Any]:
    """A kind of record that grows with time: how many there are, and the ``RECENT_ITEMS`` first rows of
    ``statement`` (ordered newest first by the caller), each through ``view``."""
    count = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    items = [view(row) for row in session.scalars(statement.limit(RECENT_ITEMS))]
    return {"count": count, "truncated": count > len(items), "items": items}


def require_dealer(session: Session, dealer_id: str) -> Dealer:
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        raise NotFound(f"no dealer {dealer_id}")
    return dealer


def is_individual_business(dealer: Dealer) -> bool:
    return dealer.credit_code.startswith(INDIVIDUAL_BUSINESS_PREFIX)


def pseudonym_of(dealer: Dealer) -> str:
    """The name the records carry after erasure: the dealer's random id, never derived from personal data."""
    return f"erased dealer {dealer.id}"


# --- the officer's read --------------------------------------------------------------------------


def read_personal_data(
    session: Session, keys: KeyProvider, dealer_id: str, principal: Accessor, *,
    purpose: str | None = None, path: str | None = None,
) -> dict[str, Any]:
    """Decrypt the dealer's personal data for an officer or admin, and log the access.

    A missing dealer is logged as ``not_found`` before ``NotFound`` is raised (the caller commits)."""
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        access_log.log_access(session, principal, "dealer.pii.read", "dealer", dealer_id, outcome="not_found",
                              purpose=purpose, path=path)
        raise NotFound(f"no dealer {dealer_id}")
    access_log.log_access(session, principal, "dealer.pii.read", "dealer", dealer_id,
                          {"fields": _held_fields(dealer)}, purpose=purpose, path=path)
    return {"dealer_id": dealer.id, **_decrypted(keys, dealer), "erased_at": dealer.erased_at}


def _decrypted(keys: KeyProvider, dealer: Dealer) -> dict[str, Any]:
    try:
        rep = pii.legal_representative_of(keys, dealer)
        account = pii.account_number_of(keys, dealer)
    except fieldcrypt.UndecryptableField as exc:
        raise PersonalDataUnreadable(f"dealer {dealer.id}: {exc}") from None
    return {"legal_representative": {"name": rep.name, "id_number": rep.id_number, "phone": rep.phone},
            "account_number": account}


def _held_fields(dealer: Dealer) -> list[str]:
    names = {"legal_rep_name_enc": "legal_representative.name",
             "legal_rep_id_number_enc": "legal_representative.id_number",
             "legal_rep_phone_enc": "legal_representative.phone", "account_number_enc": "account_number"}
    return [name for column, name in names.items() if getattr(dealer, column) is not None]


# --- export --------------------------------------------------------------------------------------


def _personal_data(session: Session, dealer: Dealer, keys: KeyProvider) -> Any:
    return {**_decrypted(keys, dealer), "notes": dealer.notes}


def _registration(session: Session, dealer: Dealer, keys: KeyProvider) -> Any:
    return {
        "id": dealer.id, "credit_code": dealer.credit_code, "name": dealer.name,
        "external_id": dealer.external_id, "region": dealer.region, "industry": dealer.industry,
        "registered_on": dealer.registered_on, "licence_expires_on": dealer.licence_expires_on,
        "onboarded_at": dealer.onboarded_at, "guarantor_id": dealer.guarantor_id,
    }


def _consents(session: Session, dealer: Dealer, keys: KeyProvider) -> Any:
    return [consent.consent_view(c) for c in consent.consents_of(session, dealer.id)]


def _credit_records(session: Session, dealer: Dealer, keys: KeyProvider) -> Any:
    return [
        {"seq": e.seq, "recorded_at": e.recorded_at, "actor": e.actor, "action": e.action,
         "payload": json.loads(e.payload), "entry_hash": e.entry_hash}
        for e in audit.entries_for(session, "dealer", dealer.id)
    ]


def _accesses(session: Session, dealer: Dealer, keys: KeyProvider) -> Any:
    rows = session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.subject_type == "dealer", AccessLogEntry.subject_id == dealer.id)
        .order_by(AccessLogEntry.id)
    )
    return [access_log.entry_view(e) for e in rows]


def export_sections() -> list[ExportSection]:
    """Every section of an export, in order: this module's, then the domains', then the access log."""
    register_domain_sections()
    return [
        ExportSection("personal_data", ERASABLE,
                      "PIPL Art. 47: erased on request once no longer needed for the stated purposes",
                      _personal_data),
        ExportSection("business_registration", RETAINED,
                      "identifies the business, not a person; public in the business register; keeps the "
                      "dealer from being onboarded twice (the name is erased for an individual business)",
                      _registration),
        ExportSection("consents", RETAINED, "evidence that past processing was lawful (PIPL Art. 13-14)",
                      _consents),
        ExportSection("credit_records", RETAINED_PSEUDONYMISED,
                      "credit records kept for the statutory retention period, referring to the dealer "
                      "only by its random id", _credit_records),
        *_EXTRA_SECTIONS,
        ExportSection("access_log", RETAINED, "record of every access to this dealer's personal data "
                      "(PIPL Art. 51)", _accesses),
    ]


def export_dealer(
    session: Session, keys: KeyProvider, dealer_id: str, principal: Accessor, *, path: str | None = None
) -> dict[str, Any]:
    """Everything held about the dealer, personal data decrypted, each section saying how erasure treats
    it. Logged in the access log, a missing dealer as ``not_found`` before ``NotFound`` (the caller
    commits)."""
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        access_log.log_access(session, principal, "dealer.export", "dealer", dealer_id, outcome="not_found",
                              path=path)
        raise NotFound(f"no dealer {dealer_id}")
    sections = export_sections()
    access_log.log_access(session, principal, "dealer.export", "dealer", dealer_id,
                          {"fields": _held_fields(dealer), "sections": [s.name for s in sections]}, path=path)
    erased = dealer.erased_at is not None
    return {
        "dealer_id": dealer.id,
        "exported_at": utcnow(),
        "erased_at": dealer.erased_at,
        "sections": {
            s.name: {"handling": s.handling, "basis": s.basis,
                     "erased": erased and s.handling == ERASABLE, "data": s.collect(session, dealer, keys)}
            for s in sections
        },
    }


# --- erasure -------------------------------------------------------------------------------------


def erase_dealer(session: Session, dealer_id: str, reason: str, *, actor: str,
                 at: datetime | None = None) -> dict[str, Any]:
    """Wipe the dealer's personal data and blind indexes, revoke its consents, keep its credit records
    under the pseudonym; audited as ``dealer.erased`` (which names fields, never values)."""
    dealer = require_dealer(session, dealer_id)
    if dealer.erased_at is not None:
        raise Conflict(f"dealer {dealer_id} was already erased at {dealer.erased_at.isoformat()}",
                       code="dealer_already_erased")
    at = at or utcnow()
    erased = pii.wipe_dealer(dealer)
    if dealer.notes is not None:
        dealer.notes = None
        erased.append("notes")
    if is_individual_business(dealer):
        dealer.name = pseudonym_of(dealer)
        erased.append("name")
    dealer.erased_at = at
    session.flush()
    revoked = consent.revoke_all(session, dealer.id, f"erasure: {reason}", actor=actor, at=at)
    retained = [s.name for s in export_sections() if s.handling != ERASABLE]
    audit.record(session, actor=actor, action="dealer.erased", subject_type="dealer", subject_id=dealer.id,
                 payload={"reason": reason, "erased": erased, "retained": retained,
                          "consents_revoked": [c.id for c in revoked], "pseudonym": pseudonym_of(dealer)})
    return {"dealer_id": dealer.id, "erased_at": at, "pseudonym": pseudonym_of(dealer), "erased": erased,
            "retained": retained, "consents_revoked": [c.id for c in revoked]}
