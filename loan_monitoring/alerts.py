"""Alerts raised by fund-usage monitoring and early warning, and their deduplication.

Every alert carries a ``dedup_key``: while an alert with that key is open (not yet resolved by a
risk officer), the same finding is not raised again. If the finding has grown more severe it comes
back as an *escalation* of the open alert rather than a second alert. Once the open alert is
resolved, a finding that persists is raised afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any

from loan_monitoring.money import jsonable


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Action(StrEnum):
    """What the engine (or the bank) should do about an alert, beyond showing it to an officer."""

    FREEZE_LINE = "freeze_line"  # no new reservations on the dealer's lines
    NOTCH_GRADE = "notch_grade_at_next_review"  # one grade down at the next limit review
    RECALL = "recall"  # ask the bank to recall outstanding loans


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: Severity
    dedup_key: str
    message_zh: str
    message_en: str
    evidence: Mapping[str, Any] = dataclass_field(default_factory=dict)  # JSON-safe facts
    actions: tuple[Action, ...] = ()
    dealer_id: str | None = None
    loan_id: str | None = None
    bank_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": self.kind,
                "severity": self.severity,
                "dedup_key": self.dedup_key,
                "message_zh": self.message_zh,
                "message_en": self.message_en,
                "evidence": dict(self.evidence),
                "actions": list(self.actions),
                "dealer_id": self.dealer_id,
                "loan_id": self.loan_id,
                "bank_id": self.bank_id,
            }
        )


@dataclass(frozen=True)
class OpenAlert:
    """What deduplication needs to know about an alert still open under a dedup key."""

    severity: Severity
    actions: frozenset[Action] = frozenset()


@dataclass(frozen=True)
class Deduplicated:
    new: tuple[Alert, ...]  # raise these
    escalated: tuple[Alert, ...]  # open under this key, but now more severe or calling for more actions
    suppressed: tuple[Alert, ...]  # already open at least this severe with these actions: nothing to do


def deduplicate(candidates: Iterable[Alert], open_alerts: Mapping[str, Severity | OpenAlert]) -> Deduplicated:
    """Sort a run's findings against the open alerts (dedup key → severity, or ``OpenAlert``).

    Within the run, the most severe finding per key is kept. A finding whose key is open comes back
    as an escalation when it is more severe or, given an ``OpenAlert``, asks for an action the open
    alert did not (91 days past due adds a recall to the freeze of 31 days, at the same severity).
    """
    strongest: dict[str, Alert] = {}
    for alert in candidates:
        kept = strongest.get(alert.dedup_key)
        if kept is None or (alert.severity.rank, len(alert.actions)) > (
            kept.severity.rank,
            len(kept.actions),
        ):
            strongest[alert.dedup_key] = alert
    new, escalated, suppressed = [], [], []
    for key, alert in strongest.items():
        current = open_alerts.get(key)
        if current is None:
            new.append(alert)
            continue
        if isinstance(current, OpenAlert):
            more = alert.severity.rank > current.severity.rank or not set(alert.actions) <= current.actions
        else:  # only the severity is known: compare that alone
            more = alert.severity.rank > Severity(current).rank
        if more:
            escalated.append(alert)
        else:
            suppressed.append(alert)
    return Deduplicated(tuple(new), tuple(escalated), tuple(suppressed))
