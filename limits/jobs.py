"""Scheduled jobs of the credit-line ledger (run by ``risk-engine scheduler``; each runnable once with
``risk-engine jobs run NAME``).

* ``credit_line_expiry_daily`` — closes the lines whose term has run out. A line past its
  ``expires_on`` already takes no new reservation (the ledger refuses it), but until it is closed it
  still holds its limit out of the bank's quota, stands in its guarantor's book at its full limit and
  shows in the portfolio as active. Closing it gives the limit back to the bank's quota; what is
  drawn on it runs off as the loans are repaid (and stays in the guarantor's book until then). A line
  still holding a reservation (a loan approved before the expiry, not yet paid out) is left for a later
  run: the ledger closes a line only with nothing reserved. The dealer's next credit-limit decision
  reopens a closed line.

Idempotent for a given ``as_of``: one line per transaction, each a ledger movement with its audit entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from limits import ledger
from limits.models import CreditLineRecord
from loan_monitoring.dates import business_date
from risk_engine.db import Database
from risk_engine.errors import Conflict, IllegalTransition
from risk_engine.scheduler import scheduled
from risk_engine.settings import Settings

EXPIRY_ACTOR = "system:job:credit_line_expiry_daily"


@scheduled(
    "credit_line_expiry_daily",
    cron="10 0 * * *",
    description="close the credit lines past their expiry date, giving their limit back to the bank's quota",
)
def close_expired_lines(db: Database, *, as_of: datetime, settings: Settings) -> dict[str, Any]:
    today = business_date(as_of)  # a line runs to the end of its Beijing expiry date
    with db.session() as session:
        line_ids = list(session.scalars(
            select(CreditLineRecord.id)
            .where(CreditLineRecord.status != "closed", CreditLineRecord.expires_on < today)
            .order_by(CreditLineRecord.id)
        ))
    counts = {"expired": len(line_ids), "closed": 0, "left_with_reservations": 0}
    for line_id in line_ids:
        try:
            with db.unit_of_work() as session:
                ledger.close(session, line_id, cause=ledger.Cause("job", f"credit_line_expiry_daily:{today}"),
                             actor=EXPIRY_ACTOR, reason=f"the line's term ended (expired before {today})")
            counts["closed"] += 1
        except Conflict as refused:  # a loan approved before the expiry still holds a reservation
            if refused.code != "reservations_open":
                raise
            counts["left_with_reservations"] += 1
        except IllegalTransition:  # closed since the list was read
            continue
    return {"as_of": today.isoformat(), **counts}
