"""Evaluating a rule set on one decision's context, and simulating a draft over recorded decisions.

How the rule results combine (``evaluate``):

1. any knock-out rule fired → ``decline``, naming every knock-out that fired;
2. otherwise any refer rule fired, or any rule could not be evaluated (an ``error``: a type error, a
   division by zero) → ``refer``. A broken rule never approves silently: a person looks;
3. otherwise ``approve`` (as far as the rules go: the grade and the limit policy may still decline).

Overlays apply whatever the decision: the notches of every fired overlay add up, and the tightest
amount cap and the tightest fraction cap are kept. A rule whose condition is unknown because inputs
were missing (see ``expr``) does not fire; its result lists the missing names.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from risk_engine.errors import InvalidInput
from risk_engine.rules.expr import MISSING, ExpressionEvaluationError
from risk_engine.rules.model import OverlayAction, Rule, RuleKind, RuleSet

DECISIONS = ("approve", "refer", "decline")


class RuleStatus(StrEnum):
    FIRED = "fired"
    NOT_FIRED = "not_fired"
    UNKNOWN = "unknown"  # the condition needed a missing input; does not fire
    ERROR = "error"  # the condition could not be evaluated; the decision is referred


@dataclass(frozen=True)
class RuleResult:
    code: str
    kind: RuleKind
    status: RuleStatus
    reason_zh: str
    reason_en: str
    detail: str | None = None
    missing_inputs: tuple[str, ...] = ()
    action: OverlayAction | None = None

    @property
    def fired(self) -> bool:
        return self.status is RuleStatus.FIRED

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "kind": self.kind.value,
            "status": self.status.value,
            "fired": self.fired,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }
        if self.detail is not None:
            data["detail"] = self.detail
        if self.missing_inputs:
            data["missing_inputs"] = list(self.missing_inputs)
        if self.action is not None and self.fired:
            data["action"] = self.action.to_json()
        return data


@dataclass(frozen=True)
class RuleOutcome:
    decision: str  # approve | refer | decline
    ruleset_version: int
    results: tuple[RuleResult, ...]
    notches: int = 0
    limit_cap: Decimal | None = None
    limit_fraction: Decimal | None = None

    def codes(self, kind: RuleKind) -> list[str]:
        return [r.code for r in self.results if r.fired and r.kind is kind]

    @property
    def knock_out_codes(self) -> list[str]:
        return self.codes(RuleKind.KNOCK_OUT)

    @property
    def refer_codes(self) -> list[str]:
        return self.codes(RuleKind.REFER)

    @property
    def overlay_codes(self) -> list[str]:
        return self.codes(RuleKind.OVERLAY)

    @property
    def error_codes(self) -> list[str]:
        return [r.code for r in self.results if r.status is RuleStatus.ERROR]

    @property
    def fired_codes(self) -> list[str]:
        return [r.code for r in self.results if r.fired]

    @property
    def reasons(self) -> list[dict[str, str]]:
        """The reasons behind the decision, knock-outs first, then refers and rule errors."""
        if self.decision == "decline":
            chosen = [r for r in self.results if r.fired and r.kind is RuleKind.KNOCK_OUT]
        else:
            chosen = [r for r in self.results if (r.fired and r.kind is RuleKind.REFER)
                      or r.status is RuleStatus.ERROR]
        reasons = []
        for r in chosen:
            if r.status is RuleStatus.ERROR:
                reasons.append({"code": r.code, "zh": f"规则无法执行，需人工审核：{r.reason_zh}",
                                "en": f"Rule could not be evaluated, manual review: {r.reason_en}"})
            else:
                reasons.append({"code": r.code, "zh": r.reason_zh, "en": r.reason_en})
        return reasons

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "ruleset_version": self.ruleset_version,
            "knock_out_codes": self.knock_out_codes,
            "refer_codes": self.refer_codes,
            "overlay_codes": self.overlay_codes,
            "error_codes": self.error_codes,
            "reasons": self.reasons,
            "notches": self.notches,
            "limit_cap": None if self.limit_cap is None else str(self.limit_cap),
            "limit_fraction": None if self.limit_fraction is None else str(self.limit_fraction),
            "results": [r.to_json() for r in self.results],
        }


def evaluate_rule(rule: Rule, context: Mapping[str, Any]) -> RuleResult:
    def result(status: RuleStatus, detail: str | None = None, missing: tuple[str, ...] = ()) -> RuleResult:
        return RuleResult(rule.code, rule.kind, status, rule.reason_zh, rule.reason_en,
                          detail, missing, rule.action)

    try:
        evaluation = rule.condition.evaluate(context)
    except ExpressionEvaluationError as exc:
        return result(RuleStatus.ERROR, exc.detail)
    value = evaluation.value
    if value is MISSING:
        return result(RuleStatus.UNKNOWN, "condition needs missing input(s)", evaluation.missing_names)
    if not isinstance(value, bool):
        return result(RuleStatus.ERROR, "condition must be true or false, not a value")
    return result(RuleStatus.FIRED if value else RuleStatus.NOT_FIRED, missing=evaluation.missing_names)


def evaluate(ruleset: RuleSet, context: Mapping[str, Any]) -> RuleOutcome:
    """Evaluate every rule of ``ruleset`` on ``context`` and combine the results (see module doc)."""
    results = tuple(evaluate_rule(rule, context) for rule in ruleset.rules)
    if any(r.fired and r.kind is RuleKind.KNOCK_OUT for r in results):
        decision = "decline"
    elif any((r.fired and r.kind is RuleKind.REFER) or r.status is RuleStatus.ERROR for r in results):
        decision = "refer"
    else:
        decision = "approve"
    notches, caps, fractions = 0, [], []
    for r in results:
        if r.fired and r.kind is RuleKind.OVERLAY and r.action is not None:
            notches += r.action.notches
            if r.action.limit_cap is not None:
                caps.append(r.action.limit_cap)
            if r.action.limit_fraction is not None:
                fractions.append(r.action.limit_fraction)
    return RuleOutcome(
        decision=decision,
        ruleset_version=ruleset.version,
        results=results,
        notches=notches,
        limit_cap=min(caps, default=None),
        limit_fraction=min(fractions, default=None),
    )


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True)
class RecordedDecision:
    """What was decided for one recorded case: the decision and the limit granted (0 for a decline)."""

    decision: str
    limit: Decimal | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}", field="decision")

    @classmethod
    def of(cls, value: RecordedDecision | Mapping[str, Any]) -> RecordedDecision:
        if isinstance(value, RecordedDecision):
            return value
        limit = value.get("limit")
        return cls(value["decision"], None if limit is None else Decimal(str(limit)))


# (context, rule outcome under the draft) -> what the whole decision would be under the draft
DecideFn = Callable[[Mapping[str, Any], RuleOutcome, RecordedDecision], RecordedDecision]


def decide_with_rules_only(context: Mapping[str, Any], outcome: RuleOutcome,
                           recorded: RecordedDecision) -> RecordedDecision:
    """The default stand-in for the whole decision pipeline: the draft's rules decide.

    Good enough to see which cases the rules move; inexact where the grade or limit policy took part
    (a case the grade declined shows as approved here). The limit is the recorded limit under the
    draft's caps (a fraction cap scales the recorded limit), 0 for a decline, and unknown for a case
    that was declined before. Notches are not priced. The service passes a ``decide`` that reruns the
    grade and limit policy on the recorded inputs for exact figures.
    """
    if outcome.decision == "decline":
        return RecordedDecision("decline", Decimal("0.00"))
    limit = recorded.limit
    if limit is not None and recorded.decision != "decline":
        if outcome.limit_cap is not None:
            limit = min(limit, outcome.limit_cap)
        if outcome.limit_fraction is not None:
            limit = (limit * outcome.limit_fraction).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    elif recorded.decision == "decline":
        limit = None  # what a previously declined case would get is not knowable without the pipeline
    return RecordedDecision(outcome.decision, limit)


@dataclass(frozen=True)
class CaseChange:
    index: int
    before: str
    after: str
    limit_before: Decimal | None
    limit_after: Decimal | None
    fired_codes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "before": self.before,
            "after": self.after,
            "limit_before": None if self.limit_before is None else str(self.limit_before),
            "limit_after": None if self.limit_after is None else str(self.limit_after),
            "fired_codes": list(self.fired_codes),
        }


@dataclass(frozen=True)
class SimulationReport:
    ruleset_version: int
    cases: int
    before: dict[str, int]
    after: dict[str, int]
    transitions: dict[str, dict[str, int]]  # before -> after -> count
    limit_total_before: Decimal
    limit_total_after: Decimal
    limits_increased: int
    limits_decreased: int
    limits_unpriced: int  # cases whose limit before or after is unknown; left out of the totals
    rule_hits: dict[str, int]
    rule_errors: dict[str, int]
    rule_unknown: dict[str, int]
    changes: tuple[CaseChange, ...] = field(default=())

    @property
    def limit_delta(self) -> Decimal:
        return self.limit_total_after - self.limit_total_before

    @property
    def changed(self) -> int:
        return len(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleset_version": self.ruleset_version,
            "cases": self.cases,
            "before": self.before,
            "after": self.after,
            "transitions": self.transitions,
            "changed": self.changed,
            "limits": {
                "total_before": str(self.limit_total_before),
                "total_after": str(self.limit_total_after),
                "delta": str(self.limit_delta),
                "increased": self.limits_increased,
                "decreased": self.limits_decreased,
                "unpriced": self.limits_unpriced,
            },
            "rule_hits": self.rule_hits,
            "rule_errors": self.rule_errors,
            "rule_unknown": self.rule_unknown,
            "changes": [c.to_json() for c in self.changes],
        }


def simulate(
    draft: RuleSet,
    recorded_inputs: Sequence[Mapping[str, Any]],
    current_outcomes: Sequence[RecordedDecision | Mapping[str, Any]],
    *,
    decide: DecideFn = decide_with_rules_only,
) -> SimulationReport:
    """Replay ``draft`` over recorded decision contexts and compare with what was decided.

    ``recorded_inputs[i]`` is the context decision ``i`` was judged on; ``current_outcomes[i]`` what was
    decided (``{"decision": ..., "limit": ...}``). ``decide`` turns the draft's rule outcome into a
    whole decision; the service passes one that reruns grade and limit policy on the recorded inputs.
    A case whose decision or limit changes is listed in ``changes``; a limit change counts in
    ``limits_increased`` / ``limits_decreased`` and the totals.
    """
    if len(recorded_inputs) != len(current_outcomes):
        raise InvalidInput("recorded inputs and current outcomes must pair up one to one",
                           field="current_outcomes")
    before: Counter[str] = Counter({d: 0 for d in DECISIONS})
    after: Counter[str] = Counter({d: 0 for d in DECISIONS})
    transitions = {b: {a: 0 for a in DECISIONS} for b in DECISIONS}
    hits: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    total_before = total_after = Decimal("0.00")
    increased = decreased = unpriced = 0
    changes = []
    for index, (context, recorded_value) in enumerate(zip(recorded_inputs, current_outcomes, strict=True)):
        recorded = RecordedDecision.of(recorded_value)
        outcome = evaluate(draft, context)
        simulated = decide(context, outcome, recorded)
        before[recorded.decision] += 1
        after[simulated.decision] += 1
        transitions[recorded.decision][simulated.decision] += 1
        for r in outcome.results:
            if r.fired:
                hits[r.code] += 1
            elif r.status is RuleStatus.ERROR:
                errors[r.code] += 1
            elif r.status is RuleStatus.UNKNOWN:
                unknown[r.code] += 1
        limit_before, limit_after = recorded.limit, simulated.limit
        if limit_before is None or limit_after is None:
            unpriced += 1
        else:
            total_before += limit_before
            total_after += limit_after
            increased += limit_after > limit_before
            decreased += limit_after < limit_before
        if simulated.decision != recorded.decision or limit_before != limit_after:
            changes.append(CaseChange(index, recorded.decision, simulated.decision,
                                      limit_before, limit_after, tuple(outcome.fired_codes)))
    return SimulationReport(
        ruleset_version=draft.version,
        cases=len(recorded_inputs),
        before=dict(before),
        after=dict(after),
        transitions=transitions,
        limit_total_before=total_before,
        limit_total_after=total_after,
        limits_increased=increased,
        limits_decreased=decreased,
        limits_unpriced=unpriced,
        rule_hits={rule.code: hits[rule.code] for rule in draft.rules},
        rule_errors=dict(errors),
        rule_unknown=dict(unknown),
        changes=tuple(changes),
    )
