"""The limit policy: one test per binding constraint, notching, rounding, and the min-of-candidates law."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from limits.policy import (
    DEFAULT_GRADE_POLICIES,
    MASTER_SCALE,
    GradePolicy,
    GradePolicyTable,
    GuaranteeSupport,
    LimitRequest,
    assign_limit,
    notch_grade,
    round_down,
)
from risk_engine.errors import InvalidInput
from risk_engine.rules.engine import evaluate
from risk_engine.rules.model import OverlayAction, Rule, RuleSet

D = Decimal


def request(**changes) -> LimitRequest:
    """Grade A (2× monthly purchases, cap 2m) with loose bank terms: capacity binds at 200,000."""
    base = dict(
        grade="A",
        avg_monthly_purchases=D("100000.00"),
        product_cap=D("3000000.00"),
        bank_remaining_quota=D("50000000.00"),
    )
    return LimitRequest(**{**base, **changes})


def test_capacity_binds_when_purchases_are_the_smallest_measure():
    decision = assign_limit(request())
    assert decision.binding == "capacity" and decision.limit == D("200000.00")


def test_the_grade_cap_binds_for_a_dealer_buying_a_lot():
    decision = assign_limit(request(grade="B", avg_monthly_purchases=D("10000000")))
    assert decision.binding == "grade_cap" and decision.limit == D("200000.00")


def test_the_bank_products_cap_binds():
    decision = assign_limit(request(product_cap=D("150000.00")))
    assert decision.binding == "product_cap" and decision.limit == D("150000.00")


def test_the_banks_remaining_quota_binds():
    decision = assign_limit(request(bank_remaining_quota=D("80000.00")))
    assert decision.binding == "bank_quota" and decision.limit == D("80000.00")


def test_an_exhausted_bank_quota_gives_no_limit():
    decision = assign_limit(request(bank_remaining_quota=D("-10.00")))
    assert decision.binding == "bank_quota" and decision.limit == D("0.00")


def test_the_dealer_never_gets_more_than_requested():
    decision = assign_limit(request(requested_amount=D("120000.00")))
    assert decision.binding == "requested" and decision.limit == D("120000.00")


def test_the_guarantee_backed_share_binds():
    guarantee = GuaranteeSupport(committed_amount=D("60000.00"), coverage_ratio=D("0.5"))
    decision = assign_limit(request(guarantee=guarantee))
    assert decision.binding == "guarantee_backed" and decision.limit == D("120000.00")


def test_a_product_requiring_a_guarantee_gives_nothing_without_one():
    decision = assign_limit(request(requires_guarantee=True))
    assert decision.binding == "guarantee_backed" and decision.limit == D("0.00")


def test_the_guarantors_regulatory_headroom_binds():
    guarantee = GuaranteeSupport(
        committed_amount=D("500000.00"),
        coverage_ratio=D("0.8"),
        regulatory_headroom=D("40000.00"),
        in_place=D("40000.00"),
    )
    decision = assign_limit(request(guarantee=guarantee))
    assert decision.binding == "guarantor_capacity"
    assert decision.limit == D("100000.00")  # (40k in place + 40k headroom) / 0.8


def test_a_guarantee_without_an_agreed_amount_is_limited_by_regulatory_capacity_only():
    guarantee = GuaranteeSupport(
        committed_amount=None, coverage_ratio=D("0.5"), regulatory_headroom=D("50000.00")
    )
    decision = assign_limit(request(guarantee=guarantee))
    assert "guarantee_backed" not in decision.candidates
    assert decision.binding == "guarantor_capacity" and decision.limit == D("100000.00")


def test_an_overlay_amount_cap_binds():
    decision = assign_limit(request(overlay_cap=D("90000.00")))
    assert decision.binding == "overlay_cap" and decision.limit == D("90000.00")


def test_an_overlay_fraction_scales_the_policy_amount():
    decision = assign_limit(request(overlay_fraction=D("0.5"), product_cap=D("150000.00")))
    assert decision.binding == "overlay_fraction"
    assert decision.limit == D("75000.00")  # half of the 150k the product cap allowed


def test_an_ineligible_grade_gets_no_limit_and_says_so():
    decision = assign_limit(request(grade="CCC"))
    assert decision.binding == "grade_eligibility" and decision.limit == D("0.00")
    assert not decision.eligible


def test_every_candidate_is_reported_in_policy_order():
    guarantee = GuaranteeSupport(D("900000"), D("0.5"), regulatory_headroom=D("700000"))
    decision = assign_limit(
        request(
            requested_amount=D("999999"),
            guarantee=guarantee,
            overlay_cap=D("888888"),
            overlay_fraction=D("0.9"),
        )
    )
    assert list(decision.candidates) == [
        "capacity",
        "grade_cap",
        "product_cap",
        "bank_quota",
        "requested",
        "guarantee_backed",
        "guarantor_capacity",
        "overlay_cap",
        "overlay_fraction",
    ]
    assert decision.candidates["overlay_fraction"] == D("180000.00")
    assert decision.to_json()["candidates"]["guarantee_backed"] == "1800000.00"


def test_an_overlay_fraction_and_an_overlay_cap_do_not_compound():
    decision = assign_limit(
        request(avg_monthly_purchases=D("500000"), overlay_cap=D("200000.00"), overlay_fraction=D("0.5"))
    )
    assert decision.candidates["overlay_fraction"] == D("500000.00")  # half of the 1m policy amount
    assert decision.binding == "overlay_cap" and decision.limit == D("200000.00")


def test_ties_name_the_first_constraint_in_policy_order():
    decision = assign_limit(request(product_cap=D("200000.00"), bank_remaining_quota=D("200000.00")))
    assert decision.binding == "capacity"


def test_the_limit_rounds_down_to_the_products_unit():
    decision = assign_limit(request(avg_monthly_purchases=D("123456.78"), rounding_unit=D("1000")))
    assert decision.candidates["capacity"] == D("246913.56")
    assert decision.limit == D("246000.00")


def test_the_limit_rounds_down_to_the_fen_by_default():
    decision = assign_limit(request(avg_monthly_purchases=D("33333.335"), grade="BBB"))
    assert decision.limit == D("50000.00")  # 33333.335 × 1.5 = 50000.0025


def test_notching_moves_down_the_scale_and_stops_at_the_ends():
    assert notch_grade("A", 1) == "BBB"
    assert notch_grade("A", 2) == "BB"
    assert notch_grade("AA", -1) == "AAA"
    assert notch_grade("AAA", -3) == "AAA"
    assert notch_grade("CC", 5) == "C/D"
    assert notch_grade("A", 0) == "A"


def test_a_notched_grade_gets_the_notched_policy():
    decision = assign_limit(request(notches=1))
    assert (decision.model_grade, decision.grade) == ("A", "BBB")
    assert decision.limit == D("150000.00")  # BBB multiple 1.5


def test_notching_into_an_ineligible_grade_declines_the_limit():
    decision = assign_limit(request(grade="B", notches=1))
    assert decision.grade == "CCC" and decision.binding == "grade_eligibility"


def test_unknown_grades_are_refused():
    with pytest.raises(InvalidInput):
        assign_limit(request(grade="Z"))
    with pytest.raises(InvalidInput):
        notch_grade("Z", 1)


def test_the_default_table_follows_the_master_scale():
    assert DEFAULT_GRADE_POLICIES.grades == MASTER_SCALE
    eligible = [p.eligible for p in DEFAULT_GRADE_POLICIES.policies]
    assert eligible == sorted(eligible, reverse=True)  # eligibility never returns further down


def test_a_custom_table_is_plain_data():
    table = GradePolicyTable.from_json(
        [
            {"grade": "1", "purchase_multiple": "4", "cap": "1000000"},
            {"grade": "2", "purchase_multiple": "1", "cap": "100000"},
            {"grade": "3", "purchase_multiple": "0", "cap": "0", "eligible": False},
        ]
    )
    decision = assign_limit(LimitRequest(grade="1", avg_monthly_purchases=D("50000"), notches=1), table)
    assert decision.grade == "2" and decision.limit == D("50000.00")
    assert GradePolicyTable.from_json(table.to_json()) == table


def test_a_policy_table_refuses_duplicate_grades():
    policy = GradePolicy("A", D(1), D(1))
    with pytest.raises(InvalidInput):
        GradePolicyTable((policy, policy))


def test_rule_overlays_feed_the_limit_policy():
    rules = RuleSet(
        version=1,
        author="alice",
        rules=(
            Rule("OV_RET", "overlay", "returns > 0.1", "退货", "Returns", OverlayAction(notches=1)),
            Rule("OV_CAP", "overlay", "true", "上限", "Cap", OverlayAction(limit_cap=D("120000.00"))),
        ),
    )
    outcome = evaluate(rules, {"returns": 0.2})
    decision = assign_limit(request().with_overlays(outcome))
    assert decision.grade == "BBB" and decision.binding == "overlay_cap"
    assert decision.limit == D("120000.00")


amounts = st.decimals(min_value=-1000, max_value=10_000_000, places=2)


@settings(max_examples=200, deadline=None)
@given(
    grade=st.sampled_from(MASTER_SCALE),
    purchases=st.decimals(min_value=0, max_value=5_000_000, places=2),
    product_cap=st.none() | amounts,
    quota=st.none() | amounts,
    requested=st.none() | amounts,
    fraction=st.none() | st.decimals(min_value=0, max_value=1, places=2),
    unit=st.sampled_from([D("0.01"), D("100"), D("1000")]),
    notches=st.integers(-3, 3),
)
def test_the_limit_is_the_smallest_candidate_rounded_down(
    grade, purchases, product_cap, quota, requested, fraction, unit, notches
):
    decision = assign_limit(
        LimitRequest(
            grade=grade,
            avg_monthly_purchases=purchases,
            product_cap=product_cap,
            bank_remaining_quota=quota,
            requested_amount=requested,
            overlay_fraction=fraction,
            rounding_unit=unit,
            notches=notches,
        )
    )
    smallest = min(decision.candidates.values())
    assert decision.candidates[decision.binding] == smallest
    assert decision.limit == round_down(smallest, unit)
    assert D(0) <= decision.limit <= smallest
    assert decision.limit % unit == 0
    assert decision.limit == decision.limit.quantize(D("0.01"))
