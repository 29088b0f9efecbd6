"""Combining rule results: knock-outs decline, refers and broken rules refer, overlays accumulate."""

from __future__ import annotations

from decimal import Decimal

from risk_engine.rules.engine import RuleStatus, evaluate
from risk_engine.rules.model import OverlayAction, Rule, RuleSet


def rule_set(*rules: Rule) -> RuleSet:
    return RuleSet(version=7, author="alice", rules=rules)


KO_DPD = Rule("KO_DPD", "knock_out", "dpd > 30", "逾期", "Past due")
KO_BLACK = Rule("KO_BLACK", "knock_out", "blacklisted == true", "黑名单", "Blacklisted")
REF_YOUNG = Rule("REF_YOUNG", "refer", "tenure < 6", "新客户", "New customer")
OV_NOTCH = Rule("OV_NOTCH", "overlay", "returns > 0.1", "退货", "Returns", OverlayAction(notches=1))
OV_NOTCH_2 = Rule(
    "OV_NOTCH_2", "overlay", "returns > 0.2", "退货高", "High returns", OverlayAction(notches=2)
)
OV_CAP_A = Rule(
    "OV_CAP_A",
    "overlay",
    "tenure < 12",
    "上限",
    "Cap",
    OverlayAction(limit_cap=Decimal("300000.00"), limit_fraction=Decimal("0.8")),
)
OV_CAP_B = Rule(
    "OV_CAP_B",
    "overlay",
    "hhi > 0.5",
    "集中",
    "Concentrated",
    OverlayAction(limit_cap=Decimal("200000.00"), limit_fraction=Decimal("0.9")),
)

CLEAN = {"dpd": 0, "blacklisted": False, "tenure": 36, "returns": 0.01, "hhi": 0.2}


def test_no_rule_firing_approves():
    outcome = evaluate(rule_set(KO_DPD, KO_BLACK, REF_YOUNG, OV_NOTCH), CLEAN)
    assert outcome.decision == "approve"
    assert outcome.fired_codes == [] and outcome.notches == 0 and outcome.limit_cap is None
    assert [r.status for r in outcome.results] == [RuleStatus.NOT_FIRED] * 4


def test_any_knock_out_declines_naming_every_knock_out_that_fired():
    context = {**CLEAN, "dpd": 45, "blacklisted": True, "tenure": 2}
    outcome = evaluate(rule_set(KO_DPD, REF_YOUNG, KO_BLACK), context)
    assert outcome.decision == "decline"
    assert outcome.knock_out_codes == ["KO_DPD", "KO_BLACK"]
    assert outcome.refer_codes == ["REF_YOUNG"]
    assert [reason["code"] for reason in outcome.reasons] == ["KO_DPD", "KO_BLACK"]
    assert outcome.reasons[0] == {"code": "KO_DPD", "zh": "逾期", "en": "Past due"}


def test_a_refer_without_knock_outs_refers():
    outcome = evaluate(rule_set(KO_DPD, REF_YOUNG), {**CLEAN, "tenure": 3})
    assert outcome.decision == "refer" and outcome.refer_codes == ["REF_YOUNG"]


def test_a_rule_that_cannot_be_evaluated_refers_instead_of_approving():
    outcome = evaluate(rule_set(KO_DPD, REF_YOUNG), {**CLEAN, "dpd": "thirty"})
    assert outcome.decision == "refer"
    assert outcome.error_codes == ["KO_DPD"]
    result = outcome.results[0]
    assert result.status is RuleStatus.ERROR and "cannot order" in result.detail
    assert outcome.reasons[0]["code"] == "KO_DPD"


def test_a_knock_out_still_declines_when_another_rule_errs():
    outcome = evaluate(rule_set(KO_DPD, KO_BLACK), {**CLEAN, "dpd": "x", "blacklisted": True})
    assert outcome.decision == "decline" and outcome.knock_out_codes == ["KO_BLACK"]


def test_a_condition_that_is_not_true_or_false_is_an_error():
    outcome = evaluate(rule_set(Rule("REF_VALUE", "refer", "tenure + 1", "值", "Value")), CLEAN)
    assert outcome.results[0].status is RuleStatus.ERROR and outcome.decision == "refer"


def test_missing_inputs_leave_a_rule_unknown_and_unfired():
    outcome = evaluate(rule_set(KO_DPD, REF_YOUNG), {"tenure": 24})
    assert outcome.decision == "approve"
    assert outcome.results[0].status is RuleStatus.UNKNOWN
    assert outcome.results[0].missing_inputs == ("dpd",)
    assert outcome.to_json()["results"][0]["missing_inputs"] == ["dpd"]


def test_overlays_add_notches_and_keep_the_tightest_caps():
    context = {**CLEAN, "returns": 0.3, "tenure": 8, "hhi": 0.7}
    outcome = evaluate(rule_set(OV_NOTCH, OV_NOTCH_2, OV_CAP_A, OV_CAP_B), context)
    assert outcome.decision == "approve"
    assert outcome.notches == 3
    assert outcome.limit_cap == Decimal("200000.00")
    assert outcome.limit_fraction == Decimal("0.8")
    assert outcome.overlay_codes == ["OV_NOTCH", "OV_NOTCH_2", "OV_CAP_A", "OV_CAP_B"]


def test_overlays_apply_alongside_a_referral():
    outcome = evaluate(rule_set(REF_YOUNG, OV_CAP_A), {**CLEAN, "tenure": 3})
    assert outcome.decision == "refer" and outcome.limit_cap == Decimal("300000.00")


def test_the_outcome_serialises_to_plain_json():
    outcome = evaluate(rule_set(KO_DPD, OV_CAP_B), {**CLEAN, "hhi": 0.9})
    data = outcome.to_json()
    assert data["decision"] == "approve" and data["ruleset_version"] == 7
    assert data["limit_cap"] == "200000.00" and data["limit_fraction"] == "0.9"
    assert data["results"][1]["action"] == {"limit_cap": "200000.00", "limit_fraction": "0.9"}
    assert data["results"][0] == {
        "code": "KO_DPD",
        "kind": "knock_out",
        "status": "not_fired",
        "fired": False,
        "reason_zh": "逾期",
        "reason_en": "Past due",
    }
