"""From rule outcome, model grade and limit inputs to approve / refer / decline (pure).

=========================================== ========= =====================================
when                                        outcome   reason code
=========================================== ========= =====================================
a knock-out rule fired                      decline   the rules' codes
the (notched) grade is not eligible         decline   ``GRADE_NOT_ELIGIBLE``
the limit policy leaves nothing             decline   ``NO_LIMIT_AVAILABLE`` (names the binding
                                                      constraint)
a refer rule fired, or a rule was in error  refer     the rules' codes
the new limit is under the line's exposure  refer     ``LIMIT_BELOW_EXPOSURE``
otherwise                                   approve
=========================================== ========= =====================================

The limit is always computed (a referred case carries the limit an officer would approve); a declined
decision grants 0. ``reprice`` replays the same steps on a recorded decision's inputs under another rule
outcome: the exact simulation of a draft rule set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from limits.policy import (
    DEFAULT_GRADE_POLICIES,
    GradePolicyTable,
    GuaranteeSupport,
    LimitDecision,
    LimitRequest,
    assign_limit,
)
from risk_engine.rules.engine import RecordedDecision, RuleOutcome

ZERO = Decimal("0.00")

ENGINE_REASONS = {
    "GRADE_NOT_ELIGIBLE": ("评级低于授信准入等级", "The grade is below the lowest grade eligible for credit"),
    "NO_LIMIT_AVAILABLE": (
        "按额度政策可授信额度为零（{binding}）",
        "The limit policy leaves no credit ({binding})",
    ),
    "LIMIT_BELOW_EXPOSURE": (
        "新额度低于现有授信占用，需人工审核",
        "The new limit is below what the line already has outstanding: manual review",
    ),
}


def engine_reason(code: str, **fields: str) -> dict[str, str]:
    zh, en = ENGINE_REASONS[code]
    return {"code": code, "zh": zh.format(**fields), "en": en.format(**fields)}


@dataclass(frozen=True)
class LimitInputs:
    """What the limit policy needs besides the grade and the rules' overlays, as recorded with a decision."""

    avg_monthly_purchases: Decimal
    product_cap: Decimal | None = None
    bank_remaining_quota: Decimal | None = None  # including the limit the existing line already holds
    requested_amount: Decimal | None = None
    guarantee: GuaranteeSupport | None = None
    requires_guarantee: bool = False
    current_exposure: Decimal = ZERO  # reserved + utilised on the existing line

    def limit_request(self, grade: str) -> LimitRequest:
        return LimitRequest(
            grade=grade,
            avg_monthly_purchases=self.avg_monthly_purchases,
            product_cap=self.product_cap,
            bank_remaining_quota=self.bank_remaining_quota,
            requested_amount=self.requested_amount,
            guarantee=self.guarantee,
            requires_guarantee=self.requires_guarantee,
        )

    def to_json(self) -> dict[str, Any]:
        g = self.guarantee
        return {
            "avg_monthly_purchases": str(self.avg_monthly_purchases),
            "product_cap": _str(self.product_cap),
            "bank_remaining_quota": _str(self.bank_remaining_quota),
            "requested_amount": _str(self.requested_amount),
            "guarantee": None
            if g is None
            else {
                "committed_amount": _str(g.committed_amount),
                "coverage_ratio": str(g.coverage_ratio),
                "regulatory_headroom": _str(g.regulatory_headroom),
                "in_place": str(g.in_place),
            },
            "requires_guarantee": self.requires_guarantee,
            "current_exposure": str(self.current_exposure),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LimitInputs:
        g = data.get("guarantee")
        return cls(
            avg_monthly_purchases=Decimal(data["avg_monthly_purchases"]),
            product_cap=_dec(data.get("product_cap")),
            bank_remaining_quota=_dec(data.get("bank_remaining_quota")),
            requested_amount=_dec(data.get("requested_amount")),
            guarantee=None
            if g is None
            else GuaranteeSupport(
                committed_amount=_dec(g.get("committed_amount")),
                coverage_ratio=Decimal(g["coverage_ratio"]),
                regulatory_headroom=_dec(g.get("regulatory_headroom")),
                in_place=Decimal(g.get("in_place", "0")),
            ),
            requires_guarantee=bool(data.get("requires_guarantee", False)),
            current_exposure=Decimal(data.get("current_exposure", "0.00")),
        )


@dataclass(frozen=True)
class Verdict:
    outcome: str  # approve | refer | decline
    limit: Decimal  # granted (approve), proposed (refer), 0 (decline)
    limit_decision: LimitDecision
    reasons: list[dict[str, str]] = field(default_factory=list)

    @property
    def binding(self) -> str:
        return self.limit_decision.binding

    @property
    def grade(self) -> str:
        return self.limit_decision.grade


def decide(
    rule_outcome: RuleOutcome,
    model_grade: str,
    inputs: LimitInputs,
    table: GradePolicyTable = DEFAULT_GRADE_POLICIES,
) -> Verdict:
    limit = assign_limit(inputs.limit_request(model_grade).with_overlays(rule_outcome), table)
    if rule_outcome.decision == "decline":
        return Verdict("decline", ZERO, limit, rule_outcome.reasons)
    if not limit.eligible:
        return Verdict("decline", ZERO, limit, [engine_reason("GRADE_NOT_ELIGIBLE")])
    if limit.limit <= 0:
        return Verdict("decline", ZERO, limit, [engine_reason("NO_LIMIT_AVAILABLE", binding=limit.binding)])
    if rule_outcome.decision == "refer":
        return Verdict("refer", limit.limit, limit, rule_outcome.reasons)
    if limit.limit < inputs.current_exposure:
        return Verdict("refer", limit.limit, limit, [engine_reason("LIMIT_BELOW_EXPOSURE")])
    return Verdict("approve", limit.limit, limit, [])


def reprice(
    recorded_inputs: Mapping[str, Any],
    rule_outcome: RuleOutcome,
    table: GradePolicyTable = DEFAULT_GRADE_POLICIES,
) -> RecordedDecision:
    """What a recorded decision would have been under ``rule_outcome`` (same model grade, same inputs)."""
    verdict = decide(
        rule_outcome,
        recorded_inputs["model"]["grade"],
        LimitInputs.from_json(recorded_inputs["limit_inputs"]),
        table,
    )
    return RecordedDecision(verdict.outcome, verdict.limit)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
