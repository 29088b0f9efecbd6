"""``risk_engine.decisions.context.build_context``: the rule names derived from features and attributes."""

from __future__ import annotations

import pytest

from risk_engine.decisions.context import build_context


@pytest.mark.parametrize(
    ("trade", "loans", "dpd"),
    [(0, 0, 0), (12, 0, 12), (0, 45, 45), (40, 5, 40), (None, 7, 7), (3, None, 3), (None, None, None)],
)
def test_days_past_due_is_the_worse_of_trade_payments_and_order_loans(trade, loans, dpd):
    features = {} if trade is None else {"current_days_past_due": trade}
    attributes = {} if loans is None else {"loan_days_past_due": loans}
    assert build_context(features, attributes).get("dpd_current") == dpd


@pytest.mark.parametrize(
    ("features", "prior_default"),
    [
        ({"prior_loan_count": 3, "prior_loan_max_days_late": 95}, True),
        ({"prior_loan_count": 3, "prior_loan_max_days_late": 89}, False),
        ({"prior_loan_count": 3, "prior_loan_max_days_late": 91}, True),  # more than 90 days: the loans' default
        ({"prior_loan_count": 3, "prior_loan_max_days_late": 90}, False),
        ({"prior_loan_count": 2, "prior_loan_max_days_late": None}, False),  # none has fallen due yet
        ({"prior_loan_count": 0}, False),
        ({}, None),  # no loan data supplied: unknown, never silently fine
    ],
)
def test_a_prior_default_is_judged_whenever_loan_data_is_supplied(features, prior_default):
    assert build_context(features, {}).get("prior_default") is prior_default


def test_an_attribute_the_service_computed_wins_over_a_feature_and_a_derivation():
    context = build_context({"current_days_past_due": 50, "related_party_flag": False},
                            {"dpd_current": 0, "related_party_flag": True})
    assert (context["dpd_current"], context["related_party_flag"]) == (0, True)
