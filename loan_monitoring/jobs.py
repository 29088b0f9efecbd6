"""Scheduled jobs of loan monitoring (run by ``risk-engine scheduler``; each runnable once with
``risk-engine jobs run NAME``). Plain functions ``job(db, *, as_of, settings) -> dict``: each opens its
own units of work, one loan or dealer per transaction (each locks its loan and lines before its first
audit entry: see ``transitions``), so a crash loses at most one and a re-run picks up where it
stopped. All are idempotent for a given ``as_of``:

* ``loan_delinquency_daily`` — days past due and bucket of every outstanding loan on the business date
  of ``as_of`` (one ``loan_delinquency`` row per loan and day, rewritten by a re-run), and the state
  moves they call for: overdue, cured, defaulted after 90 days past due;
* ``loan_fund_usage_daily`` — the four-flows checks on every disbursed loan (``fund_usage``);
* ``early_warning_daily`` — early-warning signals per dealer with a credit line or a loan, deduplicated
  into alerts, with the configured actions (freezing the line).

Times: ``as_of`` is the scheduled slot (UTC); the business date is its Beijing date.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from limits import exposure, ledger
from limits.models import CreditLineRecord
from loan_monitoring import alerting, service
from loan_monitoring.dates import business_date
from loan_monitoring.delinquency import delinquency_events
from loan_monitoring.early_warning import DEFAULT_POLICY, EarlyWarningPolicy, early_warning_signals
from loan_monitoring.models import DelinquencySnapshot, OrderLoan
from loan_monitoring.state import OUTSTANDING_STATES, LoanState
from loan_monitoring.transitions import lock_lines, lock_loan, move
from risk_engine.db import Database, utcnow
from risk_engine.parties.models import Dealer, Guarantor
from risk_engine.scheduler import scheduled
from risk_engine.settings import Settings

BATCH = 200  # dealers whose trade features are read at once
DELINQUENCY_ACTOR = "system:job:loan_delinquency_daily"
FUND_USAGE_ACTOR = "system:job:loan_fund_usage_daily"
EWS_ACTOR = "system:job:early_warning_daily"
_OUTSTANDING = [s.value for s in OUTSTANDING_STATES]


def _batches(ids: Sequence[str], size: int = BATCH) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _ids(db: Database, statement: Any) -> list[str]:
    with db.session() as session:
        return list(session.scalars(statement))


# --------------------------------------------------------------------------- delinquency


@scheduled(
    "loan_delinquency_daily",
    cron="30 0 * * *",
    description="days past due and buckets of every outstanding order loan; overdue and default",
)
def daily_delinquency(db: Database, *, as_of: datetime, settings: Settings) -> dict[str, Any]:
    today = business_date(as_of)
    loan_ids = _ids(
        db,
        select(OrderLoan.id)
        .where(OrderLoan.state.in_(_OUTSTANDING), OrderLoan.due_on.is_not(None))
        .order_by(OrderLoan.id),
    )
    counts: dict[str, int] = {"loans": len(loan_ids), "fall_overdue": 0, "default": 0, "cure": 0}
    buckets: dict[str, int] = {}
    for loan_id in loan_ids:
        with db.unit_of_work() as session:
            bucket, events = _update_delinquency(session, loan_id, today, as_of)
        buckets[bucket] = buckets.get(bucket, 0) + 1
        for event in events:
            counts[event] = counts.get(event, 0) + 1
    return {"as_of": today.isoformat(), **counts, "buckets": buckets}


def _update_delinquency(
    session: Session, loan_id: str, today: date, as_of: datetime
) -> tuple[str, list[str]]:
    loan = lock_loan(session, loan_id)
    if LoanState(loan.state) not in OUTSTANDING_STATES:  # repaid since the list was read
        return loan.bucket, []
    status = service.delinquency_status(session, loan, today)
    events = delinquency_events(LoanState(loan.state), status)
    for event in events:
        move(
            session,
            loan,
            event,
            actor=DELINQUENCY_ACTOR,
            at=as_of,
            details={"days_past_due": status.days_past_due, "bucket": status.bucket.value, "as_of": today},
        )
    loan.days_past_due, loan.bucket = status.days_past_due, status.bucket.value
    snapshot = session.scalars(
        select(DelinquencySnapshot).where(
            DelinquencySnapshot.loan_id == loan.id, DelinquencySnapshot.as_of == today
        )
    ).first()
    if snapshot is None:
        snapshot = DelinquencySnapshot(loan_id=loan.id, as_of=today)
        session.add(snapshot)
    snapshot.days_past_due, snapshot.bucket = status.days_past_due, status.bucket.value
    snapshot.amount_past_due, snapshot.oldest_unpaid_due_on = (
        status.amount_past_due,
        status.oldest_unpaid_due_on,
    )
    snapshot.outstanding_principal, snapshot.in_default = loan.outstanding_principal, status.in_default
    snapshot.state, snapshot.computed_at = loan.state, utcnow()
    session.flush()
    return status.bucket.value, [e.value for e in events]


# --------------------------------------------------------------------------- fund usage


@scheduled(
    "loan_fund_usage_daily",
    cron="0 1 * * *",
    description="four-flows checks (receipts, deliveries, invoices, refunds, duplicates) per order loan",
)
def daily_fund_usage(db: Database, *, as_of: datetime, settings: Settings) -> dict[str, Any]:
    loan_ids = _ids(db, select(OrderLoan.id).where(OrderLoan.state.in_(_OUTSTANDING)).order_by(OrderLoan.id))
    totals = {"loans": len(loan_ids), "new": 0, "escalated": 0, "suppressed": 0, "lines_frozen": 0}
    for loan_id in loan_ids:
        with db.unit_of_work() as session:
            loan = lock_loan(session, loan_id)
            raised = service.monitor_loan(session, settings, loan, as_of=as_of, actor=FUND_USAGE_ACTOR)
        for key, value in raised.as_dict().items():
            totals[key] += value
    return totals


# --------------------------------------------------------------------------- early warning

# Trade features of the dealers (``scoring.catalog`` names) as of a moment, from whoever computes them:
# called once per batch of up to BATCH dealers, in a session that is rolled back (what a reader flushes
# is discarded); dealers it does not know are left out.
FeatureReader = Callable[[Session, Sequence[str], datetime], Mapping[str, Mapping[str, Any]]]
_feature_readers: list[FeatureReader] = []


def register_feature_reader(reader: FeatureReader) -> None:
    """Hook for the scoring domain: the early-warning job merges what every registered reader returns
    (dealer id → features) into the figures it computes itself from loans, lines and parties."""
    if reader not in _feature_readers:
        _feature_readers.append(reader)


def unregister_feature_reader(reader: FeatureReader) -> None:
    if reader in _feature_readers:
        _feature_readers.remove(reader)


def ews_policy(settings: Settings) -> EarlyWarningPolicy:
    if settings.ews_policy_file is None:
        return DEFAULT_POLICY
    return EarlyWarningPolicy.from_dict(json.loads(settings.ews_policy_file.read_text(encoding="utf-8")))


def engine_features(session: Session, dealer: Dealer, today: date) -> dict[str, Any]:
    """What the engine itself knows: the worst loan's DPD, the licence and the guarantee expiry, and how
    much of its regulatory capacity the dealer's guarantor has used (while its guarantee runs)."""
    worst = session.scalar(
        select(func.max(OrderLoan.days_past_due)).where(
            OrderLoan.dealer_id == dealer.id, OrderLoan.state.in_(_OUTSTANDING)
        )
    )
    features: dict[str, Any] = {"loan_days_past_due": worst or 0}
    if dealer.licence_expires_on is not None:
        features["licence_months_remaining"] = (
            Decimal((dealer.licence_expires_on - today).days) / Decimal("30.4375")
        ).quantize(Decimal("0.01"))
    guarantor = None if dealer.guarantor_id is None else session.get(Guarantor, dealer.guarantor_id)
    if guarantor is not None:
        expires_on = guarantor.guarantee_expires_on
        if expires_on is not None:
            features["guarantee_days_remaining"] = (expires_on - today).days
        if expires_on is None or expires_on >= today:  # an expired guarantee uses no capacity
            features["guarantor_capacity_used"] = exposure.capacity_for(session, guarantor, dealer.id).used_share
    return features


@scheduled(
    "early_warning_daily",
    cron="30 1 * * *",
    description="early-warning signals per dealer: deduplicated alerts, configured actions (freeze)",
)
def daily_early_warning(db: Database, *, as_of: datetime, settings: Settings) -> dict[str, Any]:
    today = business_date(as_of)
    policy = ews_policy(settings)
    dealer_ids = _ids(
        db,
        union(
            select(CreditLineRecord.dealer_id),
            select(OrderLoan.dealer_id).where(OrderLoan.state.in_(_OUTSTANDING)),
        ).order_by("dealer_id"),
    )
    totals: dict[str, Any] = {
        "dealers": len(dealer_ids),
        "new": 0,
        "escalated": 0,
        "suppressed": 0,
        "lines_frozen": 0,
        "unavailable": {},
    }
    for batch in _batches(dealer_ids, BATCH):
        external: dict[str, dict[str, Any]] = {}
        with db.session() as session:
            for reader in _feature_readers:
                for dealer_id, features in reader(session, batch, as_of).items():
                    external.setdefault(dealer_id, {}).update(features)
        for dealer_id in batch:
            with db.unit_of_work() as session:
                dealer = session.get(Dealer, dealer_id)
                if dealer is None:
                    continue
                lines = ledger.lines_of_dealer(session, dealer_id)
                lock_lines(session, [line.id for line in lines])
                features = {**external.get(dealer_id, {}), **engine_features(session, dealer, today)}
                result = early_warning_signals(
                    dealer_id, features, {line.bank_id: ledger.as_model(line) for line in lines}, policy
                )
                raised = alerting.raise_alerts(
                    session,
                    result.alerts,
                    source="early_warning",
                    actor=EWS_ACTOR,
                    auto_actions=settings.alert_auto_actions,
                    now=utcnow(),
                )
            for key, value in raised.as_dict().items():
                totals[key] += value
            for signal in result.unavailable:
                totals["unavailable"][signal.value] = totals["unavailable"].get(signal.value, 0) + 1
    return totals
