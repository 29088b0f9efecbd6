"""Golden feature values on the hand-made history in ``history.py`` (figures worked out there)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from scoring.catalog import FEATURE_NAMES
from scoring.features import compute_features, industry_seasonal_index

from .history import AS_OF, history

MONTH = 30.4375


def approx(value):
    return pytest.approx(value, rel=1e-6)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return compute_features(history(), AS_OF)


@pytest.fixture(scope="module")
def first(features) -> pd.Series:
    return features.loc[1]


@pytest.fixture(scope="module")
def second(features) -> pd.Series:
    return features.loc[2]


def test_only_dealers_onboarded_before_the_as_of_date_are_scored(features):
    assert list(features.index) == [1, 2]
    assert features.index.name == "dealer_id"
    assert list(features.columns) == list(FEATURE_NAMES)


def test_purchases_ignore_cancelled_and_not_yet_recorded_orders(first):
    assert first["purchase_amount_3m"] == approx(40_000)
    assert first["purchase_amount_6m"] == approx(70_000)
    assert first["purchase_amount_12m"] == approx(80_000)
    assert (first["purchase_count_3m"], first["purchase_count_6m"], first["purchase_count_12m"]) == (2, 4, 5)
    assert first["average_order_value_3m"] == approx(20_000)
    assert first["average_order_value_6m"] == approx(17_500)
    assert first["average_order_value_12m"] == approx(16_000)


def test_frequency_and_active_months_count_only_months_on_the_platform(first, second):
    assert first["purchase_frequency_3m"] == approx(2 / 3)
    assert first["purchase_frequency_12m"] == approx(5 / 12)
    assert first["active_month_ratio_6m"] == approx(4 / 6)
    assert first["active_month_ratio_12m"] == approx(5 / 12)
    tenure = (date(2026, 7, 1) - date(2026, 3, 10)).days / MONTH
    assert second["purchase_frequency_6m"] == approx(2 / tenure)
    # April, May and June are its only full months; it bought in April and June
    assert second["active_month_ratio_12m"] == approx(2 / 3)


def test_trends_compare_consecutive_windows_in_percent(first, second):
    assert first["purchase_trend_3m"] == approx(100 * (40_000 / 30_000 - 1))
    assert first["purchase_trend_6m"] == approx(100 * (70_000 / 10_000 - 1))
    assert np.isnan(second["purchase_trend_3m"])  # fewer than six full months on the platform


def test_a_dealer_alone_in_its_industry_has_no_seasonally_adjusted_trend(first):
    # its own monthly profile is the industry's seasonal index: months with purchases all equal
    assert first["seasonally_adjusted_trend_3m"] == approx(0.0)


def test_seasonal_adjustment_divides_each_month_by_the_industry_index():
    index = industry_seasonal_index(history(), AS_OF)
    index.loc["food_beverage"] = [1.0, 1.0, 2.0, 1.0, 0.5, 1.0] + [1.0] * 6
    adjusted = compute_features(history(), AS_OF, dealer_ids=[1], industry_index=index).loc[1]
    recent = 10_000 / 1.0 + 0 + 30_000 / 2.0
    earlier = 10_000 / 1.0 + 20_000 / 0.5 + 0
    assert adjusted["seasonally_adjusted_trend_3m"] == approx(100 * (recent / earlier - 1))


def test_volatility_is_the_coefficient_of_variation_of_full_months(first, second):
    six = np.array([10, 0, 30, 10, 20, 0]) * 1_000.0
    twelve = np.array([10, 0, 30, 10, 20, 0, 0, 0, 0, 0, 10, 0]) * 1_000.0
    assert first["purchase_volatility_6m"] == approx(six.std() / six.mean())
    assert first["purchase_volatility_12m"] == approx(twelve.std() / twelve.mean())
    assert second["purchase_volatility_6m"] == approx(1 / np.sqrt(2))


def test_recency_tenure_age_and_licence(first, second):
    assert first["days_since_last_order"] == approx(20 + 14 / 24)
    assert second["days_since_last_order"] == approx(29 + 14 / 24)
    assert first["tenure_months"] == approx((date(2026, 7, 1) - date(2025, 1, 15)).days / MONTH)
    assert first["business_age_months"] == approx((date(2026, 7, 1) - date(2020, 7, 1)).days / MONTH)
    assert first["licence_months_remaining"] == approx(365 / MONTH)
    assert np.isnan(second["licence_months_remaining"])  # long-term licence


def test_payment_behaviour_counts_unrecorded_payments_as_still_unpaid(first, second):
    assert first["on_time_payment_ratio_3m"] == approx(0.0)
    assert first["on_time_payment_ratio_6m"] == approx(1 / 4)
    assert first["on_time_payment_ratio_12m"] == approx(1 / 5)
    assert first["mean_payment_delay_days_3m"] == approx((5 + 42 + 16) / 3)
    assert first["mean_payment_delay_days_6m"] == approx((0 + 5 + 42 + 16) / 4)
    assert first["mean_payment_delay_days_12m"] == approx((10 + 0 + 5 + 42 + 16) / 5)
    assert first["max_payment_delay_days_12m"] == approx(42)
    assert first["current_days_past_due"] == approx(42)
    assert np.isnan(second["on_time_payment_ratio_12m"])
    assert second["current_days_past_due"] == 0


def test_return_rate_is_returned_over_purchased_amount(first, second):
    assert first["return_rate_3m"] == approx(3_000 / 40_000)
    assert first["return_rate_6m"] == approx(5_000 / 70_000)
    assert first["return_rate_12m"] == approx(5_000 / 80_000)
    assert second["return_rate_12m"] == 0


def test_supplier_concentration_is_the_herfindahl_index(first, second):
    assert first["supplier_hhi_3m"] == approx(0.75**2 + 0.25**2)
    assert first["supplier_hhi_6m"] == approx((50 / 70) ** 2 + (20 / 70) ** 2)
    assert first["supplier_hhi_12m"] == approx(0.75**2 + 0.25**2)
    assert second["supplier_hhi_12m"] == approx(1.0)


def test_invoices_must_agree_with_order_buyer_seller_and_date(first, second):
    assert first["invoice_match_ratio_3m"] == approx(1 / 2)  # wrong buyer
    assert first["invoice_match_ratio_6m"] == approx(2 / 4)  # + backdated
    assert first["invoice_match_ratio_12m"] == approx(2 / 5)  # + wrong seller
    assert np.isnan(second["invoice_match_ratio_12m"])


def test_credit_utilisation_is_sampled_at_month_boundaries(first, second):
    # Jul 1: 70k of 100k, Jun 1: 50k, May 1: 0, Apr 1: 0, Mar 1: 40k, Feb 1: 40k, Jan 1: 0; no line before
    assert first["credit_utilisation_mean_3m"] == approx((0.7 + 0.5 + 0.0) / 3)
    assert first["credit_utilisation_mean_12m"] == approx((0.7 + 0.5 + 0 + 0 + 0.4 + 0.4 + 0) / 7)
    assert first["credit_utilisation_max_12m"] == approx(0.7)
    assert np.isnan(second["credit_utilisation_mean_12m"])


def test_prior_loan_performance(first, second):
    assert first["prior_loan_count"] == 3
    assert first["prior_loan_late_ratio"] == approx(1 / 2)
    assert first["prior_loan_max_days_late"] == approx(17)
    assert second["prior_loan_count"] == 0
    assert np.isnan(second["prior_loan_late_ratio"])


def test_requested_dealers_come_back_in_order_with_unknown_ones_missing():
    frame = compute_features(history(), AS_OF, dealer_ids=[3, 1, 42])
    assert list(frame.index) == [3, 1, 42]
    assert frame.loc[[3, 42], "tenure_months"].isna().all()
    pd.testing.assert_series_equal(frame.loc[1], compute_features(history(), AS_OF).loc[1])


def test_optional_tables_left_out_give_missing_values_not_zeros():
    bare = compute_features(history(invoices=None, returns=None, credit_lines=None, loans=None), AS_OF).loc[1]
    for name in (
        "invoice_match_ratio_3m",
        "return_rate_12m",
        "credit_utilisation_max_12m",
        "prior_loan_count",
    ):
        assert np.isnan(bare[name]), name
    assert bare["purchase_amount_12m"] == approx(80_000)


def test_empty_optional_tables_mean_nothing_happened():
    empty_loans = history().loans.iloc[0:0]
    frame = compute_features(history(loans=empty_loans), AS_OF).loc[1]
    assert frame["prior_loan_count"] == 0
    assert frame["credit_utilisation_max_12m"] == 0  # a line, nothing drawn
    assert np.isnan(frame["prior_loan_late_ratio"])


def test_naive_as_of_is_taken_as_utc():
    naive = AS_OF.tz_localize(None)
    pd.testing.assert_frame_equal(compute_features(history(), naive), compute_features(history(), AS_OF))


def test_latent_columns_are_never_read():
    dealers = history().dealers.assign(latent_creditworthiness=[9.0, -9.0, 0.0])
    orders = history().orders.assign(latent_misuse="no_delivery")
    pd.testing.assert_frame_equal(
        compute_features(history(dealers=dealers, orders=orders), AS_OF), compute_features(history(), AS_OF)
    )


@pytest.mark.parametrize("dealer", [1, 2])
def test_scoring_one_dealer_with_the_platform_index_matches_scoring_the_whole_platform(dealer):
    everyone = compute_features(history(), AS_OF)
    index = industry_seasonal_index(history(), AS_OF)
    alone = compute_features(history(), AS_OF, dealer_ids=[dealer], industry_index=index)
    pd.testing.assert_frame_equal(alone, everyone.loc[[dealer]])


def test_a_bill_paid_earlier_today_is_no_longer_past_due():
    from .history import at, payments

    bills = payments()
    bills.loc[2, "paid_recorded_at"] = at("2026-07-01 09:00")  # P3 (paid 2026-06-29) now known
    bills.loc[3, "paid_on"] = pd.Timestamp("2026-07-01")  # P4, 16 days late, settled this morning
    bills.loc[3, "paid_recorded_at"] = at("2026-07-01 09:00")
    noon = at("2026-07-01 12:00")
    dealer = compute_features(history(payments=bills), noon, dealer_ids=[1]).loc[1]
    assert dealer["current_days_past_due"] == 0
    assert dealer["max_payment_delay_days_3m"] == approx(40)  # P3 paid 40 days late; P4 16 days late
