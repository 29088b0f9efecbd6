"""What the decision and dealer pages show, arranged from plain data: the waterfall rows, the limit
candidates, the fired rules, the reasons, and the dealer's monthly series."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from api.console import presenters
from api.console.charts import sigmoid
from api.console.i18n import Translator

DOCUMENT = {
    "pd": "0.0123",
    "binding_constraint": "capacity",
    "reason_codes": ["REF_DPD_1_30", "R_CURRENT_DAYS_PAST_DUE"],
    "inputs": {
        "features": {"current_days_past_due": 10, "tenure_months": 36, "on_time_payment_ratio_12m": 0.98}
    },
    "rules": {
        "results": [
            {
                "code": "REF_DPD_1_30",
                "kind": "refer",
                "status": "fired",
                "reason_en": "1-30 DPD",
                "reason_zh": "逾期",
            },
            {"code": "KO_X", "kind": "knock_out", "status": "not_fired", "reason_en": "x", "reason_zh": "x"},
            {
                "code": "REF_Y",
                "kind": "refer",
                "status": "error",
                "reason_en": "y",
                "reason_zh": "y",
                "detail": "bad",
            },
        ]
    },
    "explanation": {
        "reasons": [
            {"code": "REF_DPD_1_30", "en": "Currently 1 to 30 days past due", "zh": "当前逾期1-30天"}
        ],
        "model": {
            "base": -3.0,
            "margin": -2.1,
            "contributions": {
                "current_days_past_due": 1.2,
                "tenure_months": -0.4,
                "on_time_payment_ratio_12m": 0.1,
            },
            "reason_codes": [
                {"code": "R_CURRENT_DAYS_PAST_DUE", "en": "Days past due today", "zh": "当前逾期天数"}
            ],
        },
        "limit": {"binding": "capacity", "candidates": {"capacity": "333333.32", "grade_cap": "2000000.00"}},
    },
}


def test_the_explanation_lists_every_input_largest_first_and_checks_additivity():
    explained = presenters.explanation(
        DOCUMENT, Translator("en"), {"tenure_months": "months on the platform"}
    )
    assert [r["feature"] for r in explained.rows] == [
        "current_days_past_due",
        "tenure_months",
        "on_time_payment_ratio_12m",
    ]
    assert explained.rows[1]["label"] == "months on the platform" and explained.rows[1]["value"] == "36"
    assert explained.additivity_gap == pytest.approx(0.0, abs=1e-12)
    assert "calibrated PD 1.23%" in explained.svg  # 1.23% is not the logistic of −2.1 (10.9%)
    assert sigmoid(-2.1) == pytest.approx(0.109, abs=1e-3)


def test_a_decision_without_a_model_has_no_waterfall():
    assert presenters.explanation({"explanation": {"model": {}}}, Translator("en"), {}) is None


def test_limit_candidates_are_sorted_with_the_binding_one_marked():
    candidates = presenters.limit_candidates(DOCUMENT)
    assert [(c["name"], c["amount"], c["binding"]) for c in candidates] == [
        ("capacity", Decimal("333333.32"), True),
        ("grade_cap", Decimal("2000000.00"), False),
    ]


def test_fired_and_erring_rules_are_picked_out_in_the_page_language():
    fired, everything = presenters.rule_results(DOCUMENT, Translator("zh"))
    assert [r["code"] for r in fired] == ["REF_DPD_1_30", "REF_Y"]
    assert fired[0]["reason"] == "逾期" and len(everything) == 3


def test_reasons_carry_their_wording_and_model_reasons_come_along():
    reasons = presenters.reasons(DOCUMENT, Translator("en"))
    assert reasons == [
        {"code": "REF_DPD_1_30", "text": "Currently 1 to 30 days past due"},
        {"code": "R_CURRENT_DAYS_PAST_DUE", "text": "Days past due today"},
    ]


def test_monthly_series_sum_purchases_and_measure_delays_by_month():
    labels = presenters.month_labels(date(2026, 2, 10), 3)
    assert labels == ["2025-12", "2026-01", "2026-02"]
    orders = [
        (datetime(2025, 12, 31, 15, 59, tzinfo=UTC), Decimal("10.50")),  # 23:59 in Beijing
        (datetime(2026, 2, 1, tzinfo=UTC), Decimal("5.00")),
        (datetime(2026, 2, 3, tzinfo=UTC), Decimal("5.25")),
        (datetime(2025, 11, 3, tzinfo=UTC), Decimal("99.00")),
    ]
    assert presenters.monthly_purchases(orders, labels) == [
        Decimal("10.50"),
        Decimal("0.00"),
        Decimal("10.25"),
    ]
    bills = [
        (date(2026, 1, 5), date(2026, 1, 5)),
        (date(2026, 1, 10), date(2026, 1, 20)),
        (date(2026, 2, 1), None),
        (date(2026, 3, 1), None),
    ]
    average, longest = presenters.monthly_delays(bills, labels, date(2026, 2, 10))
    assert average == [None, 5.0, 9.0] and longest == [None, 10, 9]


def test_purchases_count_in_the_beijing_month_the_order_was_placed_in():
    labels = ["2025-12", "2026-01"]
    new_year_morning = datetime(2025, 12, 31, 23, tzinfo=UTC)  # 2026-01-01 07:00 in Beijing
    assert presenters.monthly_purchases([(new_year_morning, Decimal("10.50"))], labels) == [
        Decimal("0.00"),
        Decimal("10.50"),
    ]
    assert presenters.business_date(new_year_morning) == date(2026, 1, 1)
