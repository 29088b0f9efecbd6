"""Amending a bank's product terms and a guarantor's terms, and changing who guarantees a dealer.

Terms move during a partnership: a bank raises or lowers its quota on the platform or reprices its
product, a guarantor files new audited accounts (its net assets bound its capacity by law), renews its
guarantee agreement or changes hands, a dealer signs with another guarantor. Each change is one
amendment: every term that moved is recorded ``from`` → ``to`` with the reason, in one audit entry in the
caller's transaction; an amendment that moves nothing records nothing. Decisions already made keep the
terms they were made under (their recorded inputs say which); the next decision uses the new ones.

Locks follow the decisions' order (guarantor row, then the bank's quota row), so an amendment and a
decision at the same moment each see the other whole. Services flush and audit; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from compliance import audit
from compliance.models import AuditEntry
from limits import exposure, ledger
from limits.models import CreditLineRecord
from risk_engine.db import Money
from risk_engine.errors import Conflict, InvalidInput, NotFound
from risk_engine.parties.models import Bank, Dealer, Guarantor
from risk_engine.parties.schemas import BankAmendmentIn, GuarantorAmendmentIn, GuarantorAssignmentIn
from risk_engine.parties.service import LEVERAGE_CAP, LEVERAGE_CAP_SMALL_FIRMS, _controlling_parties

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
BANK_AMENDED, GUARANTOR_AMENDED, GUARANTOR_ASSIGNED = "bank.amended", "guarantor.amended", "dealer.guarantor_assigned"


@dataclass(frozen=True)
class Amendment:
    """What an amendment did: the terms that moved (name → {"from", "to"}), empty when nothing did, and
    what the new terms mean for the book (``effects``)."""

    subject_id: str
    changes: dict[str, dict[str, Any]]
    reason: str
    audit_seq: int | None
    effects: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {"id": self.subject_id, "changed": bool(self.changes), "changes": self.changes,
                "reason": self.reason, "audit_seq": self.audit_seq, **self.effects}


def _plain(value: Any, column_type: Any) -> Any:
    """A term as the API shows it: money with its cents, ratios without trailing zeros, dates ISO."""
    if isinstance(value, Decimal):
        return format(value.quantize(CENT) if isinstance(column_type, Money) else value.normalize(), "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _apply(row: Any, new_terms: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Set each term on ``row``; the ones whose value moved, as {"from", "to"} in JSON form."""
    changes: dict[str, dict[str, Any]] = {}
    for name, value in new_terms.items():
        old = getattr(row, name)
        if old != value:
            column_type = row.__table__.c[name].type
            changes[name] = {"from": _plain(old, column_type), "to": _plain(value, column_type)}
            setattr(row, name, value)
    return changes


def _record(session: Session, *, action: str, subject_type: str, subject_id: str,
            changes: dict[str, dict[str, Any]], reason: str, actor: str, **extra: Any) -> int | None:
    if not changes:
        return None
    session.flush()  # the database's constraints see the new terms before the entry that reports them
    entry = audit.record(session, actor=actor, action=action, subject_type=subject_type, subject_id=subject_id,
                         payload={"changes": changes, "reason": reason, **extra})
    return entry.seq


# --------------------------------------------------------------------------- banks


def amend_bank(session: Session, bank_id: str, data: BankAmendmentIn, *, actor: str) -> Amendment:
    """New product terms for the bank. A quota below what its lines already hold is accepted (the bank
    decides its appetite): existing lines keep their limits, and new or larger limits get nothing until
    lines shrink or close — ``remaining_quota`` in the answer is then negative."""
    if session.get(Bank, bank_id) is None:
        raise NotFound(f"no bank {bank_id}")
    ledger.lock_bank_quota(session, bank_id)  # decisions at this bank wait, and see the new quota whole
    bank = session.scalars(select(Bank).where(Bank.id == bank_id).with_for_update()).one()
    terms = data.model_dump(exclude={"reason"}, exclude_unset=True)
    if None in terms.values():
        raise InvalidInput("a bank's terms cannot be removed, only changed",
                           field=f"body.{next(k for k, v in terms.items() if v is None)}")
    low, high = terms.get("min_tenor_days", bank.min_tenor_days), terms.get("max_tenor_days", bank.max_tenor_days)
    if low > high:
        field_name = "min_tenor_days" if "min_tenor_days" in terms else "max_tenor_days"
        raise InvalidInput(f"min_tenor_days ({low}) would exceed max_tenor_days ({high})",
                           field=f"body.{field_name}", code="tenor_range")
    changes = _apply(bank, terms)
    seq = _record(session, action=BANK_AMENDED, subject_type="bank", subject_id=bank.id, changes=changes,
                  reason=data.reason, actor=actor)
    return Amendment(bank.id, changes, data.reason, seq,
                     {"remaining_quota": format(ledger.remaining_quota(session, bank.id), "f")})


# --------------------------------------------------------------------------- guarantors


def amend_guarantor(
    session: Session, guarantor_id: str, data: GuarantorAmendmentIn, *, actor: str, today: dt.date
) -> Amendment:
    """New terms for the guarantor. Facts are recorded as they are: net assets that fell below what its
    book needs are accepted, and the answer says which limits of its book now exceed the law
    (``book``: total guaranteed against the leverage cap, the dealers over their single-client share, the
    dealers it now controls) — their next re-rating cuts them to the legal share."""
    guarantor = exposure.lock_guarantor(session, guarantor_id)
    if guarantor is None:
        raise NotFound(f"no guarantor {guarantor_id}")
    terms = data.model_dump(exclude={"reason"}, exclude_unset=True)
    for name in ("net_assets", "serves_small_firms", "single_client_cap", "related_party_cap", "coverage_ratio",
                 "controlling_parties"):
        if name in terms and terms[name] is None:
            raise InvalidInput("this term cannot be removed, only changed", field=f"body.{name}")
    if "controlling_parties" in terms:
        codes, failures = _controlling_parties(terms["controlling_parties"])
        if failures:
            raise failures[0]
        terms["controlling_parties"] = codes
    if "serves_small_firms" in terms:
        terms["leverage_cap"] = LEVERAGE_CAP_SMALL_FIRMS if terms["serves_small_firms"] else LEVERAGE_CAP
    single = terms.get("single_client_cap", guarantor.single_client_cap)
    related = terms.get("related_party_cap", guarantor.related_party_cap)
    if related < single:
        field_name = "related_party_cap" if "related_party_cap" in terms else "single_client_cap"
        raise InvalidInput(f"related_party_cap ({related}) would be below single_client_cap ({single})",
                           field=f"body.{field_name}", code="cap_range")
    expires = terms.get("guarantee_expires_on", guarantor.guarantee_expires_on)
    if "guarantee_expires_on" in terms and expires is not None and expires < today:
        raise InvalidInput(f"guarantee_expires_on {expires} is already past", field="body.guarantee_expires_on",
                           code="date_in_past")
    changes = _apply(guarantor, terms)
    seq = _record(session, action=GUARANTOR_AMENDED, subject_type="guarantor", subject_id=guarantor.id,
                  changes=changes, reason=data.reason, actor=actor)
    return Amendment(guarantor.id, changes, data.reason, seq, {"book": guarantor_book(session, guarantor)})


def guarantor_book(session: Session, guarantor: Guarantor) -> dict[str, Any]:
    """The guarantor's book against its terms: what it guarantees in all and per dealer, the leverage
    capacity, and the dealers whose guarantee the terms no longer allow."""
    book = exposure.guaranteed_book(session, guarantor)
    per_dealer: dict[str, Decimal] = {}
    for dealer_id, amount in book:
        per_dealer[dealer_id] = per_dealer.get(dealer_id, ZERO) + amount
    total = sum(per_dealer.values(), ZERO)
    leverage = guarantor.net_assets * guarantor.leverage_cap
    single_cap = guarantor.net_assets * guarantor.single_client_cap
    controlled = exposure.controlling_dealers(session, guarantor)
    return {
        "total_guaranteed": format(total, "f"),
        "leverage_capacity": format(leverage.quantize(CENT), "f"),
        "leverage_headroom": format((leverage - total).quantize(CENT), "f"),
        "dealers_over_single_client_cap": sorted(d for d, amount in per_dealer.items() if amount > single_cap),
        "controlling_parties_guaranteed": sorted(d for d in per_dealer if d in controlled),
    }


# --------------------------------------------------------------------------- a dealer's guarantor


def assign_guarantor(
    session: Session, dealer_id: str, data: GuarantorAssignmentIn, *, actor: str, today: dt.date
) -> Amendment:
    """The dealer is guaranteed by ``data.guarantor_id`` from now on (or by nobody). The new guarantor takes
    on the guarantee of the dealer's lines at once (open ones, and closed ones still being repaid, as
    ``limits.exposure`` counts a book), so it must be allowed to and have the room: not
    one of its controlling parties (Art. 17), a guarantee not expired, and regulatory headroom for the
    covered share of those lines (Art. 15-16) — else 409 and nothing changes. Removing the guarantor is
    always allowed; the answer lists the lines left without a guarantee, which their next re-rating sizes
    without one."""
    new_id = data.guarantor_id
    dealer, held = _lock_dealer_and_guarantors(session, dealer_id, new_id)
    switching = new_id is not None and new_id != dealer.guarantor_id
    if switching and held[new_id] is None:
        raise NotFound(f"no guarantor {new_id}", field="body.guarantor_id")
    line = CreditLineRecord
    # and the dealer's lines: a decision holding one commits first and is counted below; one that takes it
    # after this commits finds the dealer's guarantor changed and is refused (decisions.service)
    session.execute(select(line.id).where(line.dealer_id == dealer.id).with_for_update()).all()
    # the lines a guarantor stands behind, as its book counts them: open ones, and closed ones until repaid
    lines = [(row.id, exposure.guaranteed_amount(row.status, row.limit, row.reserved + row.utilised))
             for row in session.execute(
                 select(line.id, line.status, line.limit, line.reserved, line.utilised)
                 .where(line.dealer_id == dealer.id,
                        or_(line.status != "closed", line.reserved > 0, line.utilised > 0))
                 .order_by(line.id))]
    open_limits = sum((amount for _, amount in lines), ZERO)
    effects: dict[str, Any] = {"open_lines": [line_id for line_id, _ in lines], "open_limits": format(open_limits, "f")}
    if switching:
        guarantor = held[new_id]
        assert guarantor is not None  # checked above
        needed = sum((exposure.covered(amount, guarantor.coverage_ratio) for _, amount in lines), ZERO)
        _may_guarantee(session, guarantor, dealer, needed, today)
        effects["guaranteed"] = format(needed, "f")
    elif new_id is None:
        effects["unguaranteed_lines"] = effects["open_lines"]
    changes = _apply(dealer, {"guarantor_id": new_id})
    seq = _record(session, action=GUARANTOR_ASSIGNED, subject_type="dealer", subject_id=dealer.id,
                  changes=changes, reason=data.reason, actor=actor, open_limits=effects["open_limits"])
    return Amendment(dealer.id, changes, data.reason, seq, effects)


def _lock_dealer_and_guarantors(
    session: Session, dealer_id: str, new_id: str | None
) -> tuple[Dealer, dict[str, Guarantor | None]]:
    """The dealer row, locked and as it now is, with its current and its new guarantor locked before it.

    Both guarantors, in id order, before reading the lines: a decision running under the old one finishes
    first (its line is then counted), one under the new one sees the dealer's lines in its book once this
    commits. The dealer's guarantor is read again once they are held: an assignment that committed while
    this one waited has changed it, and the guarantor it put in is the one replaced (and locked) now."""
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        raise NotFound(f"no dealer {dealer_id}")
    held: dict[str, Guarantor | None] = {}
    current = dealer.guarantor_id
    while True:
        if new_id != current:
            for guarantor_id in sorted({new_id, current} - {None} - held.keys()):
                held[guarantor_id] = exposure.lock_guarantor(session, guarantor_id)
        dealer = session.scalars(
            select(Dealer).where(Dealer.id == dealer_id)
            .with_for_update(key_share=True)  # the row lock its UPDATE takes anyway: FK inserts are not held up
            .execution_options(populate_existing=True)
        ).one()
        if dealer.guarantor_id == current:
            return dealer, held
        current = dealer.guarantor_id


def _may_guarantee(session: Session, guarantor: Guarantor, dealer: Dealer, needed: Decimal,
                   today: dt.date) -> None:
    if dealer.credit_code in (guarantor.controlling_parties or []):
        raise Conflict(f"dealer {dealer.id} is a controlling party of guarantor {guarantor.id}: it may not "
                       "guarantee it (融资担保公司监督管理条例 Art. 17)", field="body.guarantor_id",
                       code="controlling_party")
    if guarantor.guarantee_expires_on is not None and guarantor.guarantee_expires_on < today:
        raise Conflict(f"guarantor {guarantor.id}'s guarantee expired on {guarantor.guarantee_expires_on}",
                       field="body.guarantor_id", code="guarantee_expired")
    capacity = exposure.capacity_for(session, guarantor, dealer.id)
    if needed > capacity.headroom:
        raise Conflict(
            f"guarantor {guarantor.id} has room for {max(capacity.headroom, ZERO)} more for this dealer "
            f"({capacity.binding}); its open lines need {needed}",
            field="body.guarantor_id", code="guarantor_over_capacity",
            extra={"needed": format(needed, "f"), "headroom": format(max(capacity.headroom, ZERO), "f"),
                   "binding": capacity.binding},
        )


# --------------------------------------------------------------------------- history


def amendments(session: Session, subject_type: str, subject_id: str, action: str) -> list[dict[str, Any]]:
    """The amendments of one bank, guarantor or dealer's guarantor, oldest first, from the audit trail."""
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id,
               AuditEntry.action == action)
        .order_by(AuditEntry.seq)
    )
    return [
        {"audit_seq": e.seq, "recorded_at": e.recorded_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
         "actor": e.actor, **json.loads(e.payload)}
        for e in entries
    ]
