"""Named check results and how failures combine into approve / refer / decline.

A failed check either *declines* (a hard rule: the law, the bank's product terms, the order cannot
be financed, duplicate financing) or *refers* to a risk officer (a soft mismatch a person can
resolve: an invoice that disagrees with its order, a weak tie between dealer and supplier). Any
decline wins; otherwise any refer; otherwise approve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum
from typing import Any

from loan_monitoring.money import jsonable


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # could not run: what it needs is missing, and another check already says so


class OnFailure(StrEnum):
    DECLINE = "decline"
    REFER = "refer"


class Outcome(StrEnum):
    APPROVE = "approve"
    REFER = "refer"
    DECLINE = "decline"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: CheckStatus
    on_failure: OnFailure
    field: str | None = None
    reason_zh: str = ""
    reason_en: str = ""
    evidence: Mapping[str, Any] = dataclass_field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status is CheckStatus.PASSED

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAILED

    def as_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "name": self.name,
                "status": self.status,
                "on_failure": self.on_failure,
                "field": self.field,
                "reason_zh": self.reason_zh,
                "reason_en": self.reason_en,
                "evidence": dict(self.evidence),
            }
        )


def passed(name: str, on_failure: OnFailure, field: str | None = None, **evidence: Any) -> CheckResult:
    return CheckResult(name, CheckStatus.PASSED, on_failure, field, evidence=evidence)


def failed(
    name: str, on_failure: OnFailure, field: str | None, reason_zh: str, reason_en: str, **evidence: Any
) -> CheckResult:
    return CheckResult(name, CheckStatus.FAILED, on_failure, field, reason_zh, reason_en, evidence)


def skipped(
    name: str, on_failure: OnFailure, field: str | None, reason_zh: str, reason_en: str
) -> CheckResult:
    return CheckResult(name, CheckStatus.SKIPPED, on_failure, field, reason_zh, reason_en)


def combine(checks: Iterable[CheckResult]) -> Outcome:
    failures = [c for c in checks if c.failed]
    if any(c.on_failure is OnFailure.DECLINE for c in failures):
        return Outcome.DECLINE
    if failures:
        return Outcome.REFER
    return Outcome.APPROVE
