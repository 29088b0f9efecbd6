"""The dealer's credit decisions and review cases in the data-subject export (``compliance.privacy``).

Both are exported whole: a decision is the record a dealer may ask to have explained (PIPL Art. 24, 45) —
inputs, model and rule-set versions, every rule's result, the explanation — and a review case is an
officer's judgement on one of them, with its reason. Neither holds personal data beyond the dealer's id.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.keys import KeyProvider
from compliance.privacy import RETAINED_PSEUDONYMISED, ExportSection, record_of
from risk_engine.decisions.models import Decision, ReviewCase
from risk_engine.parties.models import Dealer

_DECISION_JSON = ("reason_codes", "inputs", "rule_results", "explanation")


def decisions_of(session: Session, dealer: Dealer, keys: KeyProvider) -> list[dict[str, Any]]:
    """Every decision about the dealer (credit limits and order loans), oldest first."""
    rows = session.scalars(
        select(Decision).where(Decision.dealer_id == dealer.id).order_by(Decision.decided_at, Decision.id))
    return [record_of(d, json_text=_DECISION_JSON) for d in rows]


def review_cases_of(session: Session, dealer: Dealer, keys: KeyProvider) -> list[dict[str, Any]]:
    """Every review of a referred decision about the dealer, oldest first."""
    rows = session.scalars(
        select(ReviewCase).where(ReviewCase.dealer_id == dealer.id).order_by(ReviewCase.opened_at, ReviewCase.id))
    return [record_of(c) for c in rows]


EXPORT_SECTIONS = (
    ExportSection("credit_decisions", RETAINED_PSEUDONYMISED,
                  "credit records kept for the statutory retention period and for the partner banks' "
                  "re-check of signed decision reports (which must keep verifying); they refer to the dealer "
                  "only by its random id. Includes the explanation of each automated decision (PIPL Art. 24)",
                  decisions_of),
    ExportSection("review_cases", RETAINED_PSEUDONYMISED,
                  "the officers' reviews and overrides of referred decisions, with their written reasons: "
                  "credit records kept for the statutory retention period, referring to the dealer only by "
                  "its random id", review_cases_of),
)
