"""Read models for the console's pages: plain SELECTs shaped for display. Nothing here decides or
writes; every state change goes through the domain services the API calls.

Only what one page needs lives here (names to show, a dealer's chart series, a page of audit entries).
Figures the API serves as well belong to their domain: the portfolio is ``loan_monitoring.portfolio``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ApiClient
from compliance.models import AuditEntry
from limits.models import CreditMovement
from loan_monitoring.models import OrderLoan
from risk_engine.decisions.models import Decision
from risk_engine.parties.models import Bank, Dealer
from risk_engine.trade.models import Order, PaymentDue
from scoring.registry import ModelRecord

AUDIT_PAGE = 50


def recent_audit_entries(
    session: Session, *, subject_id: str | None = None, before: int | None = None, limit: int = AUDIT_PAGE
) -> list[AuditEntry]:
    """The newest entries first (optionally of one subject, optionally older than ``before``)."""
    statement = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if subject_id:
        statement = statement.where(AuditEntry.subject_id == subject_id)
    if before is not None:
        statement = statement.where(AuditEntry.seq < before)
    return list(session.scalars(statement))


def entries_with_payload(entries: Iterable[AuditEntry]) -> list[dict[str, Any]]:
    return [{"entry": e, "payload": json.loads(e.payload)} for e in sorted(entries, key=lambda e: e.seq)]


def bank_names(session: Session) -> list[tuple[str, str]]:
    return [(row.id, row.name) for row in session.execute(select(Bank.id, Bank.name).order_by(Bank.name))]


def party_names(
    session: Session, dealer_ids: Iterable[str], bank_ids: Iterable[str]
) -> dict[str, dict[str, str]]:
    dealers, banks = set(dealer_ids), set(bank_ids)
    return {
        "dealers": {
            r.id: r.name
            for r in session.execute(select(Dealer.id, Dealer.name).where(Dealer.id.in_(dealers)))
        }
        if dealers
        else {},
        "banks": {r.id: r.name for r in session.execute(select(Bank.id, Bank.name).where(Bank.id.in_(banks)))}
        if banks
        else {},
    }


def review_rows(session: Session, cases: Sequence[Any]) -> list[dict[str, Any]]:
    """Review cases with the names of their dealer and bank and their decision's grade, PD and score."""
    names = party_names(session, (c.dealer_id for c in cases), (c.bank_id for c in cases))
    ids = [c.decision_id for c in cases]
    decisions = (
        {
            row.id: row
            for row in session.execute(
                select(
                    Decision.id, Decision.kind, Decision.grade, Decision.pd, Decision.score, Decision.outcome
                ).where(Decision.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    return [
        {
            "case": c,
            "dealer": names["dealers"].get(c.dealer_id, c.dealer_id),
            "bank": names["banks"].get(c.bank_id, c.bank_id),
            "decision": decisions.get(c.decision_id),
        }
        for c in cases
    ]


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """``role:client_id`` actors of audit entries → the API client's name (``system:…`` actors have none)."""
    by_client = {actor.split(":", 1)[1]: actor for actor in set(actors) if ":" in actor}
    if not by_client:
        return {}
    rows = session.execute(select(ApiClient.id, ApiClient.name).where(ApiClient.id.in_(by_client)))
    return {by_client[row.id]: row.name for row in rows}


# --------------------------------------------------------------------------- the dealer page

LIMIT_MOVEMENTS = ("open", "adjust", "renew", "freeze", "unfreeze", "close", "reopen")


def dealer_orders(session: Session, dealer_id: str, since: datetime) -> list[tuple[datetime, Decimal]]:
    """(placed_at, amount) of the dealer's orders since ``since``, cancelled ones left out."""
    rows = session.execute(
        select(Order.placed_at, Order.amount).where(
            Order.dealer_id == dealer_id, Order.placed_at >= since, Order.status != "cancelled"
        )
    )
    return [(row.placed_at, row.amount) for row in rows]


def dealer_bills(session: Session, dealer_id: str, since: date) -> list[tuple[date, date | None]]:
    """(due_on, paid_on) of the dealer's trade bills due since ``since``."""
    rows = session.execute(
        select(PaymentDue.due_on, PaymentDue.paid_on).where(
            PaymentDue.dealer_id == dealer_id, PaymentDue.due_on >= since
        )
    )
    return [(row.due_on, row.paid_on) for row in rows]


def limit_history(session: Session, line_ids: Sequence[str]) -> list[CreditMovement]:
    """The movements that changed a line's limit or status, newest first."""
    if not line_ids:
        return []
    return list(
        session.scalars(
            select(CreditMovement)
            .where(CreditMovement.line_id.in_(line_ids), CreditMovement.kind.in_(LIMIT_MOVEMENTS))
            .order_by(CreditMovement.at.desc(), CreditMovement.id.desc())
            .limit(200)
        )
    )


def find_dealers(session: Session, text: str, limit: int = 50) -> list[Dealer]:
    """A dealer by id, credit code or the platform's id; otherwise the dealers whose name contains
    ``text``."""
    exact = session.scalars(
        select(Dealer)
        .where((Dealer.id == text) | (Dealer.credit_code == text.upper()) | (Dealer.external_id == text))
        .limit(1)
    ).first()
    if exact is not None:
        return [exact]
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(
        session.scalars(
            select(Dealer).where(Dealer.name.ilike(pattern, escape="\\")).order_by(Dealer.name).limit(limit)
        )
    )


# --------------------------------------------------------------------------- order loans

DEALER_LOANS = 20


def dealer_loans(session: Session, dealer_id: str, limit: int = DEALER_LOANS) -> list[OrderLoan]:
    """The dealer's most recent order-loan applications, newest first."""
    return list(
        session.scalars(
            select(OrderLoan)
            .where(OrderLoan.dealer_id == dealer_id)
            .order_by(OrderLoan.applied_at.desc(), OrderLoan.id.desc())
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- the model page

LIVE_PSI_DECISIONS = 2000


def model_versions(session: Session) -> list[ModelRecord]:
    return list(session.scalars(select(ModelRecord).order_by(ModelRecord.created_at.desc()).limit(50)))


def champion_pds(session: Session, model_version: str, limit: int = LIVE_PSI_DECISIONS) -> list[float]:
    """The PDs of the latest decisions ``model_version`` scored."""
    rows = session.scalars(
        select(Decision.pd)
        .where(Decision.model_version == model_version, Decision.pd.is_not(None))
        .order_by(Decision.decided_at.desc())
        .limit(limit)
    )
    return [float(pd) for pd in rows]
