"""Scheduled jobs of the credit-line ledger (run by ``risk-engine scheduler``; each runnable once with
``risk-engine jobs run NAME``).

* ``credit_line_expiry_daily`` — closes the lines whose term has run out. A line past its
  ``expires_on`` already takes no new reservation (the ledger refuses it), but until it is closed it
  still holds its limit out of the bank's quota, stands in its guarantor's book at its full limit and
  shows in the portfolio as active. Closing it gives the limit back to the bank's quota; what is
  drawn on it runs off as the loans are repaid (and stays in the guarantor's book until then). A line
  still holding a reservation (a loan approved before the expiry, not yet paid out) is left for a later
  run: the ledger closes a line only with nothing reserved. The dealer's next credit-limit decision
  reopens a closed line — as active, which is why a *frozen* line is left as it is (``left_frozen``):
  closing it would let that decision lift a freeze that only the resolution of its alert may lift.

Idempotent for a given ``as_of``: one line per transaction, each a ledger movement with its audit entry.
Each line is locked (the bank's quota row, then the line: the ledger's order) and its expiry read again
before it is closed: a re-rating may have given it a new term since the list was read.
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
        expired = session.execute(
            select(CreditLineRecord.id, CreditLineRecord.bank_id)
            .where(CreditLineRecord.status != "closed", CreditLineRecord.expires_on < today)
            .order_by(CreditLineRecord.id)
        ).all()
    counts = {"expired": len(expired), "closed": 0, "left_with_reservations": 0, "left_frozen": 0}
    for line_id, bank_id in expired:
        try:
            with db.unit_of_work() as session:
                ledger.lock_bank_quota(session, bank_id)
                line = session.scalars(
                    select(CreditLineRecord).where(CreditLineRecord.id == line_id)
                    .with_for_update().execution_options(populate_existing=True)
                ).one()
                if line.status == "closed" or line.expires_on is None or line.expires_on >= today:
                    continue  # closed, or given a new term, since the list was read
                if line.status == "frozen":
                    counts["left_frozen"] += 1
                    continue
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
