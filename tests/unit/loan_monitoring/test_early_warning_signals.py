from __future__ import annotations

from decimal import Decimal

import pytest

from limits.credit_line import CreditLine, LineStatus
from loan_monitoring.alerts import Action, OpenAlert, Severity, deduplicate
from loan_monitoring.early_warning import (
    DEFAULT_POLICY,
    EarlyWarningPolicy,
    Signal,
    early_warning_signals,
)
from risk_engine.errors import InvalidInput

# A dealer row in scoring.catalog names, plus the figures the caller adds (loan DPD, guarantee).
CALM = {
    "purchase_trend_3m": -3.0,  # percent, as scoring.features computes it
    "mean_payment_delay_days_3m": 2.0,
    "mean_payment_delay_days_12m": 1.5,
    "current_days_past_due": 0,
    "loan_days_past_due": 0,
    "return_rate_3m": 0.02,
    "return_rate_12m": 0.02,
    "licence_months_remaining": 30,
    "guarantee_days_remaining": 200,
    "guarantor_capacity_used": 0.5,
    "supplier_hhi_12m": 0.35,
    "credit_utilisation_mean_3m": 0.4,
}
LINES = {"bank_a": CreditLine(Decimal("500000.00"), utilised=Decimal("200000.00"))}


def signal(features, lines=LINES, policy=DEFAULT_POLICY):
    return {a.kind: a for a in early_warning_signals("dlr_1", {**CALM, **features}, lines, policy).alerts}


def test_a_calm_dealer_raises_no_signal_and_every_enabled_signal_could_be_computed():
    result = early_warning_signals("dlr_1", CALM, LINES)
    assert result.alerts == () and result.unavailable == ()


@pytest.mark.parametrize(
    "features, kind, severity",
    [
        ({"purchase_trend_3m": -29.99}, None, None),
        ({"purchase_trend_3m": -30.0}, "purchase_volume_drop", Severity.WARNING),
        ({"purchase_trend_3m": -50.0}, "purchase_volume_drop", Severity.CRITICAL),
        ({"mean_payment_delay_days_3m": 6.4}, None, None),  # +4.9 days on the 12-month mean
        ({"mean_payment_delay_days_3m": 6.5}, "payment_delays_rising", Severity.WARNING),
        ({"mean_payment_delay_days_3m": 16.4}, "payment_delays_rising", Severity.WARNING),
        ({"mean_payment_delay_days_3m": 16.5}, "payment_delays_rising", Severity.CRITICAL),
        ({"loan_days_past_due": 1}, "days_past_due", Severity.WARNING),
        ({"loan_days_past_due": 30}, "days_past_due", Severity.WARNING),
        ({"loan_days_past_due": 31}, "days_past_due", Severity.CRITICAL),
        ({"current_days_past_due": 29}, None, None),
        ({"current_days_past_due": 30}, "trade_payments_past_due", Severity.WARNING),
        ({"current_days_past_due": 90}, "trade_payments_past_due", Severity.CRITICAL),
        ({"return_rate_3m": 0.0699}, None, None),
        ({"return_rate_3m": 0.07}, "return_spike", Severity.WARNING),
        ({"return_rate_3m": 0.17}, "return_spike", Severity.CRITICAL),
        ({"licence_months_remaining": 3}, None, None),
        ({"licence_months_remaining": 2}, "licence_expiring", Severity.WARNING),
        ({"licence_months_remaining": -1}, "licence_expiring", Severity.CRITICAL),
        ({"guarantee_days_remaining": 31}, None, None),
        ({"guarantee_days_remaining": 30}, "guarantee_expiring", Severity.WARNING),
        ({"guarantee_days_remaining": -3}, "guarantee_expiring", Severity.CRITICAL),
        ({"guarantor_capacity_used": 0.9}, "guarantor_capacity_exhausted", Severity.WARNING),
        ({"guarantor_capacity_used": 1.0}, "guarantor_capacity_exhausted", Severity.CRITICAL),
        ({"supplier_hhi_12m": 0.7999}, None, None),
        ({"supplier_hhi_12m": 0.8}, "supplier_concentration", Severity.INFO),
    ],
)
def test_each_signal_fires_at_its_threshold_with_its_severity(features, kind, severity):
    alerts = signal(features)
    if kind is None:
        assert alerts == {}
    else:
        assert list(alerts) == [kind] and alerts[kind].severity is severity


def test_the_worst_days_past_due_level_brings_its_actions():
    assert signal({"loan_days_past_due": 1})["days_past_due"].actions == ()
    assert set(signal({"loan_days_past_due": 31})["days_past_due"].actions) == {
        Action.FREEZE_LINE,
        Action.NOTCH_GRADE,
    }
    assert Action.RECALL in signal({"loan_days_past_due": 91})["days_past_due"].actions


def test_utilisation_pinned_at_the_limit_is_raised_per_line():
    full = CreditLine(Decimal("500000.00"), Decimal("100000.00"), Decimal("400000.00"), LineStatus.FROZEN)
    nearly = CreditLine(Decimal("100000.00"), utilised=Decimal("95000.00"))
    roomy = CreditLine(Decimal("100000.00"), utilised=Decimal("94999.99"))
    alerts = early_warning_signals("dlr_1", CALM, {"bank_a": full, "bank_b": nearly, "bank_c": roomy}).alerts
    by_bank = {a.bank_id: a for a in alerts}
    assert set(by_bank) == {"bank_a", "bank_b"}
    assert by_bank["bank_a"].severity is Severity.CRITICAL and by_bank["bank_b"].severity is Severity.WARNING
    assert by_bank["bank_a"].dedup_key == "dealer:dlr_1:ews:utilisation_pinned:bank_a"


def test_without_lines_utilisation_comes_from_the_three_month_mean():
    pinned = signal({"credit_utilisation_mean_3m": 1.0}, lines={})["utilisation_pinned"]
    assert pinned.severity is Severity.CRITICAL and pinned.bank_id is None


def test_missing_or_nan_inputs_make_a_signal_unavailable_not_silent():
    features = {**CALM, "loan_days_past_due": None, "supplier_hhi_12m": float("nan")}
    del features["return_rate_12m"]
    result = early_warning_signals("dlr_1", features, LINES)
    assert set(result.unavailable) == {
        Signal.DAYS_PAST_DUE,
        Signal.SUPPLIER_CONCENTRATION,
        Signal.RETURN_SPIKE,
    }


def test_a_long_term_licence_or_no_guarantee_is_nothing_to_watch_rather_than_unavailable():
    features = {**CALM, "licence_months_remaining": float("nan")}
    del features["guarantee_days_remaining"], features["guarantor_capacity_used"]
    assert early_warning_signals("dlr_1", features, LINES).unavailable == ()


def test_the_evidence_names_the_metric_threshold_and_features():
    alert = signal({"mean_payment_delay_days_3m": 20.0})["payment_delays_rising"]
    assert alert.evidence == {
        "signal": "payment_delays_rising",
        "metric": "18.5",
        "threshold": "15",
        "direction": "at_least",
        "features": {"mean_payment_delay_days_3m": "20.0", "mean_payment_delay_days_12m": "1.5"},
    }


def test_the_same_signal_for_the_same_dealer_is_not_raised_twice_while_open():
    first = deduplicate(early_warning_signals("dlr_1", {**CALM, "loan_days_past_due": 5}).alerts, {})
    assert [a.kind for a in first.new] == ["days_past_due"]
    open_alerts = {a.dedup_key: a.severity for a in first.new}
    tomorrow = early_warning_signals("dlr_1", {**CALM, "loan_days_past_due": 6}).alerts
    again = deduplicate(tomorrow, open_alerts)
    assert again.new == () and again.escalated == () and len(again.suppressed) == 1


def test_once_resolved_a_persisting_signal_is_raised_afresh():
    today = early_warning_signals("dlr_1", {**CALM, "loan_days_past_due": 5}).alerts
    assert len(deduplicate(today, {}).new) == 1  # nothing open any more


def test_a_worsening_signal_escalates_the_open_alert_instead_of_duplicating_it():
    open_alerts = {"dealer:dlr_1:ews:days_past_due": Severity.WARNING}
    worse = early_warning_signals("dlr_1", {**CALM, "loan_days_past_due": 40}).alerts
    result = deduplicate(worse, open_alerts)
    assert result.new == () and [a.severity for a in result.escalated] == [Severity.CRITICAL]


def test_a_new_action_at_the_same_severity_is_an_escalation():
    open_alerts = {
        "dealer:dlr_1:ews:days_past_due": OpenAlert(
            Severity.CRITICAL, frozenset({Action.FREEZE_LINE, Action.NOTCH_GRADE})
        )
    }
    worse = early_warning_signals("dlr_1", {**CALM, "loan_days_past_due": 91}).alerts
    result = deduplicate(worse, open_alerts)
    assert [Action.RECALL in a.actions for a in result.escalated] == [True]


def test_another_dealer_with_the_same_signal_is_not_deduplicated_against_the_first():
    alerts = (
        early_warning_signals("dlr_1", {**CALM, "loan_days_past_due": 5}).alerts
        + early_warning_signals("dlr_2", {**CALM, "loan_days_past_due": 5}).alerts
    )
    assert len(deduplicate(alerts, {}).new) == 2


def test_thresholds_and_actions_are_data_that_round_trip_through_a_dict():
    data = DEFAULT_POLICY.to_dict()
    assert EarlyWarningPolicy.from_dict(data) == DEFAULT_POLICY
    data["days_past_due"]["levels"] = [{"severity": "critical", "threshold": 1, "actions": ["freeze_line"]}]
    data["supplier_concentration"]["enabled"] = False
    data["dispute_spike"]["enabled"] = True  # no dispute data is sent: unavailable, not an alert
    result = early_warning_signals(
        "dlr_1",
        {**CALM, "loan_days_past_due": 1, "supplier_hhi_12m": 1.0},
        LINES,
        EarlyWarningPolicy.from_dict(data),
    )
    [alert] = result.alerts
    assert alert.kind == "days_past_due" and alert.severity is Severity.CRITICAL
    assert alert.actions == (Action.FREEZE_LINE,)
    assert result.unavailable == (Signal.DISPUTE_SPIKE,)


@pytest.mark.parametrize(
    "bad",
    [
        {"days_past_due": {"direction": "sideways", "levels": []}},
        {"no_such_signal": {"direction": "at_least", "levels": []}},
        {"days_past_due": {"direction": "at_least", "levels": [{"severity": "loud", "threshold": 1}]}},
        {"days_past_due": {"direction": "at_least", "levels": [{"severity": "info", "threshold": "many"}]}},
        {
            "days_past_due": {
                "direction": "at_least",
                "levels": [{"severity": "info", "threshold": 1, "actions": ["shout"]}],
            }
        },
    ],
)
def test_a_malformed_policy_is_rejected(bad):
    with pytest.raises(InvalidInput):
        EarlyWarningPolicy.from_dict(bad)
