"""Reason codes: the factors that raised the risk most, in Chinese and English."""

from __future__ import annotations

import pytest

from scoring.catalog import CATALOG
from scoring.reasons import adverse_factors, describe

CONTRIBUTIONS = {
    "current_days_past_due": 0.8,
    "purchase_trend_3m": 0.5,
    "on_time_payment_ratio_3m": 0.3,
    "tenure_months": -0.4,
    "region": 0.2,
    "purchase_amount_3m": 0.0,
}
VALUES = {
    "current_days_past_due": 45,
    "purchase_trend_3m": -62.0,
    "on_time_payment_ratio_3m": 0.55,
    "tenure_months": 4,
    "region": "西北",
    "purchase_amount_3m": 10_000.0,
}


def test_only_factors_that_raised_the_risk_are_given_largest_first():
    reasons = adverse_factors(CONTRIBUTIONS, VALUES, CATALOG, top_n=10)
    assert [r["feature"] for r in reasons] == [
        "current_days_past_due",
        "purchase_trend_3m",
        "on_time_payment_ratio_3m",
        "region",
    ]
    assert all(r["contribution"] > 0 for r in reasons)


def test_top_n_limits_the_reasons():
    assert len(adverse_factors(CONTRIBUTIONS, VALUES, CATALOG, top_n=2)) == 2


def test_a_fall_in_purchases_is_said_as_a_fall_with_its_size():
    reason = adverse_factors(CONTRIBUTIONS, VALUES, CATALOG)[1]
    assert reason["zh"] == "近3个月采购额较前3个月下降62%"
    assert reason["en"] == "purchases of the last 3 months vs the 3 before: down 62%"


def test_days_past_due_name_the_days_and_that_they_are_high():
    reason = adverse_factors(CONTRIBUTIONS, VALUES, CATALOG)[0]
    assert reason == {
        "feature": "current_days_past_due",
        "value": 45,
        "contribution": 0.8,
        "zh": "当前逾期天数偏高（45天）",
        "en": "days past due of the oldest unpaid trade payment today: 45 days (high)",
    }


def test_a_ratio_is_shown_as_a_percentage_and_low_when_low_is_risky():
    reason = adverse_factors(CONTRIBUTIONS, VALUES, CATALOG)[2]
    assert reason["zh"] == "近3个月按时付款比例偏低（55%）"
    assert reason["en"].endswith(": 55% (low)")


def test_a_feature_outside_the_catalog_is_named_by_its_column():
    reason = adverse_factors(CONTRIBUTIONS, VALUES, CATALOG)[3]
    assert (reason["zh"], reason["en"]) == ("region为西北", "region: 西北")


@pytest.mark.parametrize(
    ("unit", "value", "zh", "en"),
    [
        ("cny", 1234567.891, "金额偏高（1,234,567.89元）", "amount: CNY 1,234,567.89 (high)"),
        ("count", 7, "次数偏高（7次）", "count: 7 (high)"),
        ("months", 3, "月数偏高（3个月）", "months: 3 months (high)"),
        ("percent_change", 25.4, "采购额上升25%", "change: up 25%"),
    ],
)
def test_each_unit_has_its_own_way_of_writing_the_value(unit, value, zh, en):
    label = {
        "cny": ("金额", "amount"),
        "count": ("次数", "count"),
        "months": ("月数", "months"),
        "percent_change": ("采购额变化", "change"),
    }[unit]
    entry = {"zh": label[0], "en": label[1], "unit": unit, "direction": 1}
    assert describe("x", value, entry) == {"zh": zh, "en": en}


def test_a_missing_value_is_said_to_be_missing():
    assert describe(
        "x", None, {"zh": "发票一致率", "en": "invoice match", "unit": "ratio", "direction": -1}
    ) == {"zh": "发票一致率缺失", "en": "invoice match: missing"}


def test_a_catalog_label_may_be_the_whole_sentence():
    entry = {
        "zh": "采购额{change}{value}",
        "en": "purchases {change} {value} on the previous 3 months",
        "unit": "percent_change",
        "direction": 0,
    }
    assert describe("trend", -62.0, entry) == {
        "zh": "采购额下降62%",
        "en": "purchases down 62% on the previous 3 months",
    }
