"""Simulating a draft over recorded decisions: counts, transitions and limit deltas on a hand-made book."""

from __future__ import annotations

from decimal import Decimal

import pytest

from limits.policy import LimitRequest, assign_limit
from risk_engine.errors import InvalidInput
from risk_engine.rules.engine import RecordedDecision, simulate
from risk_engine.rules.model import OverlayAction, Rule, RuleSet

DRAFT = RuleSet(
    version=5,
    author="alice",
    rules=(
        Rule("KO_DPD", "knock_out", "dpd_current > 30", "逾期", "Past due"),
        Rule("REF_YOUNG", "refer", "tenure_months < 6", "新客户", "New customer"),
        Rule(
            "OV_CONC",
            "overlay",
            "supplier_hhi_12m > 0.6",
            "集中",
            "Concentrated",
            OverlayAction(limit_cap=Decimal("100000.00")),
        ),
        Rule("REF_BROKEN", "refer", "region > 1", "坏规则", "Broken rule"),
    ),
)

OK = {"dpd_current": 0, "tenure_months": 24, "supplier_hhi_12m": 0.2}
INPUTS = [
    OK,  # 0 approve → approve, 300k unchanged
    {**OK, "dpd_current": 40},  # 1 approve → decline, 200k → 0
    {**OK, "tenure_months": 3},  # 2 approve → refer, 150k kept
    {**OK, "supplier_hhi_12m": 0.8},  # 3 approve → approve, 500k → 100k
    OK,  # 4 decline → approve, limit unknown
    {**OK, "tenure_months": 3},  # 5 refer → refer, 80k unchanged
]
RECORDED = [
    {"decision": "approve", "limit": "300000.00"},
    {"decision": "approve", "limit": "200000.00"},
    {"decision": "approve", "limit": "150000.00"},
    {"decision": "approve", "limit": "500000.00"},
    {"decision": "decline", "limit": "0.00"},
    RecordedDecision("refer", Decimal("80000.00")),
]


@pytest.fixture(scope="module")
def report():
    return simulate(DRAFT, INPUTS, RECORDED)


def test_the_report_counts_outcomes_before_and_after(report):
    assert report.cases == 6
    assert report.before == {"approve": 4, "refer": 1, "decline": 1}
    assert report.after == {"approve": 3, "refer": 2, "decline": 1}


def test_the_report_has_the_full_transition_matrix(report):
    assert report.transitions == {
        "approve": {"approve": 2, "refer": 1, "decline": 1},
        "refer": {"approve": 0, "refer": 1, "decline": 0},
        "decline": {"approve": 1, "refer": 0, "decline": 0},
    }


def test_the_report_sums_limit_changes_over_priced_cases(report):
    assert report.limit_total_before == Decimal("1230000.00")
    assert report.limit_total_after == Decimal("630000.00")
    assert report.limit_delta == Decimal("-600000.00")
    assert (report.limits_increased, report.limits_decreased, report.limits_unpriced) == (0, 2, 1)


def test_the_report_lists_each_changed_case(report):
    assert [(c.index, c.before, c.after) for c in report.changes] == [
        (1, "approve", "decline"),
        (2, "approve", "refer"),
        (3, "approve", "approve"),
        (4, "decline", "approve"),
    ]
    assert report.changes[2].limit_after == Decimal("100000.00")
    assert report.changes[0].fired_codes == ("KO_DPD",)


def test_the_report_counts_rule_hits_and_missing_inputs(report):
    assert report.rule_hits == {"KO_DPD": 1, "REF_YOUNG": 2, "OV_CONC": 1, "REF_BROKEN": 0}
    assert report.rule_unknown == {"REF_BROKEN": 6}
    assert report.rule_errors == {}


def test_a_rule_that_errs_shows_in_the_report_and_refers():
    report = simulate(DRAFT, [{**OK, "region": "east"}], [{"decision": "approve", "limit": "1000.00"}])
    assert report.rule_errors == {"REF_BROKEN": 1}
    assert report.after["refer"] == 1


def test_the_report_serialises_money_as_strings(report):
    data = report.to_json()
    assert data["limits"] == {
        "total_before": "1230000.00",
        "total_after": "630000.00",
        "delta": "-600000.00",
        "increased": 0,
        "decreased": 2,
        "unpriced": 1,
    }
    assert data["changed"] == 4 and data["changes"][3]["limit_after"] is None


def test_a_caller_supplied_pipeline_prices_every_case():
    def decide(context, outcome, recorded):
        request = LimitRequest(grade=context["grade"], avg_monthly_purchases=context["avg_purchases"])
        limit = assign_limit(request.with_overlays(outcome))
        if outcome.decision == "decline" or not limit.eligible:
            return RecordedDecision("decline", Decimal("0.00"))
        return RecordedDecision(outcome.decision, limit.limit)

    inputs = [
        {**OK, "grade": "A", "avg_purchases": Decimal("100000")},
        {**OK, "grade": "CCC", "avg_purchases": Decimal("100000"), "supplier_hhi_12m": 0.9},
    ]
    recorded = [{"decision": "approve", "limit": "150000.00"}, {"decision": "decline", "limit": "0"}]
    report = simulate(DRAFT, inputs, recorded, decide=decide)
    assert [c.limit_after for c in report.changes] == [Decimal("200000.00")]
    assert report.limits_unpriced == 0 and report.limit_delta == Decimal("50000.00")


def test_inputs_and_outcomes_must_pair_up():
    with pytest.raises(InvalidInput):
        simulate(DRAFT, INPUTS, RECORDED[:-1])
