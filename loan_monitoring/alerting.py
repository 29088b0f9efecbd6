"""Alerts, persisted: raising findings deduplicated against the open alerts, carrying out the actions
the engine is configured to take, listing them for risk officers, and resolving them.

``raise_alerts`` takes the pure findings of ``fund_usage`` / ``early_warning`` and sorts them with
``alerts.deduplicate`` against the open alerts with the same dedup keys: a new finding is inserted,
a more severe one (or one calling for more actions) escalates the open row, the rest only bump
``last_seen_at``. The partial unique index ``uq_alert_open_dedup_key`` keeps one open alert per key
whatever the caller does.

Actions: ``freeze_line`` is carried out here when it is in ``settings.alert_auto_actions`` — the
alert's line (its bank), or every line of the dealer for a dealer-level alert — through
``limits.ledger.freeze`` with the alert as the cause; what was done is kept in ``actions_taken``.
``notch_grade_at_next_review`` and ``recall`` stay on the alert for the limit review and the bank.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import audit
from limits import ledger
from limits.credit_line import LineStatus
from limits.models import CreditLineRecord
from loan_monitoring.alerts import Action, OpenAlert, Severity, deduplicate
from loan_monitoring.alerts import Alert as Finding
from loan_monitoring.models import ALERT_RESOLUTIONS, Alert
from loan_monitoring.transitions import lock_lines
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, InvalidInput, NotFound
from risk_engine.ids import new_id


@dataclass
class Raised:
    new: list[Alert] = field(default_factory=list)
    escalated: list[Alert] = field(default_factory=list)
    suppressed: int = 0
    lines_frozen: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "new": len(self.new),
            "escalated": len(self.escalated),
            "suppressed": self.suppressed,
            "lines_frozen": len(self.lines_frozen),
        }


def raise_alerts(
    session: Session,
    findings: Iterable[Finding],
    *,
    source: str,
    actor: str,
    auto_actions: Sequence[str] = (Action.FREEZE_LINE.value,),
    now: datetime | None = None,
) -> Raised:
    """Record ``findings`` (deduplicated), carry out the automatic actions; flush, never commit."""
    now = now or utcnow()
    findings = list(findings)
    if not findings:
        return Raised()
    open_rows = {
        row.dedup_key: row
        for row in session.scalars(
            select(Alert)
            .where(Alert.status == "open", Alert.dedup_key.in_({f.dedup_key for f in findings}))
            .with_for_update()
        )
    }
    sorted_out = deduplicate(
        findings,
        {
            key: OpenAlert(Severity(row.severity), frozenset(Action(a) for a in row.actions))
            for key, row in open_rows.items()
        },
    )
    raised = Raised(suppressed=len(sorted_out.suppressed))
    for finding in sorted_out.suppressed:
        row = open_rows[finding.dedup_key]
        row.last_seen_at, row.occurrences = now, row.occurrences + 1

    # Decide what to freeze and lock those lines before the first audit entry (transitions.lock_loan).
    targets: list[tuple[str, Finding, list[CreditLineRecord]]] = []
    for finding in (*sorted_out.new, *sorted_out.escalated):
        alert_id = open_rows[finding.dedup_key].id if finding.dedup_key in open_rows else new_id("alr")
        lines = _lines_to_freeze(session, finding) if _wants_freeze(finding, auto_actions) else []
        targets.append((alert_id, finding, lines))
    lock_lines(session, [line.id for _, _, lines in targets for line in lines])

    for alert_id, finding, lines in targets:
        taken = _freeze(session, alert_id, finding, lines, actor, now)
        raised.lines_frozen += [t["line_id"] for t in taken]
        if finding.dedup_key in open_rows:
            raised.escalated.append(
                _escalate(session, open_rows[finding.dedup_key], finding, taken, actor, now)
            )
        else:
            raised.new.append(_insert(session, alert_id, finding, source, taken, actor, now))
    session.flush()
    return raised


def _wants_freeze(finding: Finding, auto_actions: Sequence[str]) -> bool:
    return Action.FREEZE_LINE in finding.actions and Action.FREEZE_LINE.value in auto_actions


def _lines_to_freeze(session: Session, finding: Finding) -> list[CreditLineRecord]:
    if finding.dealer_id is None:
        return []
    statement = select(CreditLineRecord).where(
        CreditLineRecord.dealer_id == finding.dealer_id, CreditLineRecord.status == LineStatus.ACTIVE.value
    )
    if finding.bank_id is not None:
        statement = statement.where(CreditLineRecord.bank_id == finding.bank_id)
    return list(session.scalars(statement.order_by(CreditLineRecord.id)))


def _freeze(
    session: Session,
    alert_id: str,
    finding: Finding,
    lines: list[CreditLineRecord],
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    taken = []
    for line in lines:
        session.refresh(line)
        if line.status != LineStatus.ACTIVE.value:
            continue
        movement = ledger.freeze(
            session,
            line.id,
            cause=ledger.Cause("alert", alert_id),
            actor=actor,
            reason=f"{finding.kind}: {finding.message_en}",
        )
        taken.append(
            {
                "action": Action.FREEZE_LINE.value,
                "line_id": line.id,
                "bank_id": line.bank_id,
                "credit_movement_id": movement.id,
                "at": now.isoformat(),
            }
        )
    return taken


def _summary(row: Alert) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "severity": row.severity,
        "source": row.source,
        "dedup_key": row.dedup_key,
        "dealer_id": row.dealer_id,
        "loan_id": row.loan_id,
        "bank_id": row.bank_id,
        "actions": row.actions,
        "actions_taken": row.actions_taken,
        "evidence": row.evidence,
    }


def _insert(
    session: Session,
    alert_id: str,
    finding: Finding,
    source: str,
    taken: list[dict[str, Any]],
    actor: str,
    now: datetime,
) -> Alert:
    data = finding.as_dict()
    row = Alert(
        id=alert_id,
        kind=finding.kind,
        severity=finding.severity.value,
        source=source,
        dedup_key=finding.dedup_key,
        status="open",
        dealer_id=finding.dealer_id,
        loan_id=finding.loan_id,
        bank_id=finding.bank_id,
        message_zh=finding.message_zh,
        message_en=finding.message_en,
        evidence=data["evidence"],
        actions=data["actions"],
        actions_taken=taken,
        occurrences=1,
        raised_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="alert.raised",
        subject_type="alert",
        subject_id=row.id,
        payload=_summary(row),
    )
    return row


def _escalate(
    session: Session, row: Alert, finding: Finding, taken: list[dict[str, Any]], actor: str, now: datetime
) -> Alert:
    before = {"severity": row.severity, "actions": row.actions}
    data = finding.as_dict()
    if Severity(finding.severity).rank > Severity(row.severity).rank:
        row.severity = finding.severity.value
    row.actions = sorted(set(row.actions) | set(data["actions"]))
    row.actions_taken = [*row.actions_taken, *taken]
    row.evidence = data["evidence"]
    row.message_zh, row.message_en = finding.message_zh, finding.message_en
    row.escalated_at = row.last_seen_at = now
    row.occurrences += 1
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="alert.escalated",
        subject_type="alert",
        subject_id=row.id,
        payload={"before": before, **_summary(row)},
    )
    return row


# --------------------------------------------------------------------------- reading and resolving


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = "open"
    kind: str | None = None
    severity: str | None = None
    source: str | None = None
    dealer_id: str | None = None
    loan_id: str | None = None
    bank_id: str | None = None
    raised_since: datetime | None = None
    raised_before: datetime | None = None


def encode_cursor(row: Alert) -> str:
    return base64.urlsafe_b64encode(f"{row.raised_at.isoformat()}|{row.id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, alert_id = raw.split("|", 1)
        return datetime.fromisoformat(at), alert_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this API issued", field="cursor", code="bad_cursor") from None


def list_alerts(
    session: Session, filters: AlertFilter, *, limit: int = 100, cursor: str | None = None
) -> tuple[list[Alert], str | None]:
    """Newest first; ``next_cursor`` continues after the last row returned (None at the end)."""
    statement = select(Alert)
    for column, value in (
        ("status", filters.status),
        ("kind", filters.kind),
        ("severity", filters.severity),
        ("source", filters.source),
        ("dealer_id", filters.dealer_id),
        ("loan_id", filters.loan_id),
        ("bank_id", filters.bank_id),
    ):
        if value is not None:
            statement = statement.where(getattr(Alert, column) == value)
    if filters.raised_since is not None:
        statement = statement.where(Alert.raised_at >= filters.raised_since)
    if filters.raised_before is not None:
        statement = statement.where(Alert.raised_at < filters.raised_before)
    if cursor:
        at, alert_id = _decode_cursor(cursor)
        statement = statement.where(
            (Alert.raised_at < at) | ((Alert.raised_at == at) & (Alert.id < alert_id))
        )
    rows = list(session.scalars(statement.order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)


def get_alert(session: Session, alert_id: str) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None:
        raise NotFound(f"no alert {alert_id}", field="alert_id")
    return row


def resolve_alert(
    session: Session, alert_id: str, *, resolution: str, reason: str, actor: str, unfreeze_lines: bool = False
) -> Alert:
    """Close an open alert with a written reason; optionally unfreeze the lines it froze."""
    if resolution not in ALERT_RESOLUTIONS:
        raise InvalidInput(f"resolution must be one of {', '.join(ALERT_RESOLUTIONS)}", field="resolution")
    if not reason or not reason.strip():
        raise InvalidInput("a resolution needs a written reason", field="reason", code="reason_required")
    row = get_alert(session, alert_id)
    frozen = [t["line_id"] for t in row.actions_taken if t.get("action") == Action.FREEZE_LINE.value]
    if unfreeze_lines:
        lock_lines(session, frozen)  # lines before the alert row: the order raise_alerts' callers follow
    row = session.scalars(
        select(Alert).where(Alert.id == alert_id).with_for_update().execution_options(populate_existing=True)
    ).one()
    if row.status != "open":
        raise Conflict(
            f"alert {alert_id} was already resolved ({row.resolution}) by {row.resolved_by}",
            field="alert_id",
            code="alert_already_resolved",
        )
    now = utcnow()
    unfrozen, kept_frozen = [], {}
    if unfreeze_lines:
        for line_id in dict.fromkeys(frozen):
            line = ledger.get_line(session, line_id)
            if line.status != LineStatus.FROZEN.value:
                continue
            holder = _other_alert_freezing(session, row, line)
            if holder is not None:
                _hold_freeze(session, holder, row, line, actor, now)
                kept_frozen[line_id] = holder.id
                continue
            ledger.unfreeze(
                session,
                line_id,
                cause=ledger.Cause("alert", row.id),
                actor=actor,
                reason=f"alert {resolution}: {reason.strip()}",
            )
            unfrozen.append(line_id)
    row.status, row.resolved_at, row.resolved_by = "resolved", now, actor
    row.resolution, row.resolution_reason = resolution, reason.strip()
    if unfrozen:
        row.actions_taken = [
            *row.actions_taken,
            *({"action": "unfreeze_line", "line_id": i, "at": now.isoformat()} for i in unfrozen),
        ]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="alert.resolved",
        subject_type="alert",
        subject_id=row.id,
        payload={
            "resolution": resolution,
            "reason": row.resolution_reason,
            "unfrozen_lines": unfrozen,
            "kept_frozen": kept_frozen,
            "kind": row.kind,
            "dedup_key": row.dedup_key,
        },
    )
    return row


def _other_alert_freezing(session: Session, resolving: Alert, line: CreditLineRecord) -> Alert | None:
    """Another open alert calling for this line to be frozen (its bank's, or a dealer-level one), locked.

    Its own freeze found the line frozen already, so nothing records it as that alert's freeze: thawing
    the line now would leave its finding open with the line active, and deduplication would never
    freeze it again."""
    rows = session.scalars(
        select(Alert)
        .where(Alert.status == "open", Alert.dealer_id == line.dealer_id, Alert.id != resolving.id)
        .order_by(Alert.raised_at, Alert.id)
        .with_for_update()
    )
    return next(
        (
            r
            for r in rows
            if Action.FREEZE_LINE.value in r.actions and r.bank_id in (None, line.bank_id)
        ),
        None,
    )


def _hold_freeze(
    session: Session, holder: Alert, resolved: Alert, line: CreditLineRecord, actor: str, now: datetime
) -> None:
    """The line stays frozen for ``holder``: its freeze from now on, thawed when it is resolved."""
    held = {
        "action": Action.FREEZE_LINE.value,
        "line_id": line.id,
        "bank_id": line.bank_id,
        "held_from_alert": resolved.id,
        "at": now.isoformat(),
    }
    holder.actions_taken = [*holder.actions_taken, held]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="alert.freeze_held",
        subject_type="alert",
        subject_id=holder.id,
        payload={"line_id": line.id, "held_from_alert": resolved.id, "dedup_key": holder.dedup_key},
    )


def pending_grade_notches(session: Session, dealer_id: str) -> list[Alert]:
    """Open alerts asking for the dealer's grade to be notched down at the next limit review."""
    rows = session.scalars(select(Alert).where(Alert.dealer_id == dealer_id, Alert.status == "open"))
    return [r for r in rows if Action.NOTCH_GRADE.value in r.actions]
