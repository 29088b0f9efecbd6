"""The dealer's credit lines, each with every movement on it, in the data-subject export
(``compliance.privacy``). Exported whole: a line moves once per credit event (a decision, a loan's
reservation, disbursement or repayment, a freeze), so its history grows with credit, not with time."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.keys import KeyProvider
from compliance.privacy import RETAINED_PSEUDONYMISED, ExportSection, exportable, record_of
from limits.models import CreditLineRecord, CreditMovement
from risk_engine.parties.models import Dealer


def credit_lines_of(session: Session, dealer: Dealer, keys: KeyProvider) -> list[dict[str, Any]]:
    """Every line of the dealer (one per bank) with its available amount and its movements, oldest first."""
    lines = list(session.scalars(select(CreditLineRecord).where(CreditLineRecord.dealer_id == dealer.id)
                                 .order_by(CreditLineRecord.opened_at, CreditLineRecord.id)))
    movements: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in session.scalars(select(CreditMovement)
                             .where(CreditMovement.line_id.in_([line.id for line in lines]))
                             .order_by(CreditMovement.id)):
        movements[m.line_id].append(record_of(m))
    return [{**record_of(line), "available": exportable(line.available), "movements": movements[line.id]}
            for line in lines]


EXPORT_SECTIONS = (
    ExportSection("credit_lines", RETAINED_PSEUDONYMISED,
                  "the credit-line ledger: credit records kept for the statutory retention period (and "
                  "needed while the line or a loan on it is open), referring to the dealer only by its "
                  "random id", credit_lines_of),
)
