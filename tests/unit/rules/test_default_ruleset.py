"""The shipped default rule set: each rule fires on a crafted context, and only the names documented."""

from __future__ import annotations

from decimal import Decimal

import pytest

from risk_engine.rules.defaults import (
    CONTEXT_NAMES,
    known_context_names,
    load_default_ruleset,
    unprovided_names,
)
from risk_engine.rules.engine import evaluate
from risk_engine.rules.model import RuleKind, RuleSetStatus

# a dealer nobody would object to
CLEAN = {
    "dpd_current": 0,
    "dpd_max_12m": 0,
    "tenure_months": 30,
    "business_age_months": 72,
    "licence_days_remaining": 900,
    "purchase_amount_3m": Decimal("450000.00"),
    "purchase_trend_3m": 4.0,
    "return_rate_6m": 0.02,
    "supplier_hhi_12m": 0.25,
    "consent_scoring": True,
    "kyb_verified": True,
    "blacklisted": False,
    "blacklist_screened": True,
    "related_party_flag": False,
    "guarantor_over_capacity": False,
    "prior_default": False,
    "duplicate_financing_flag": False,
    "open_alert_count": 0,
    "alert_grade_notches": 0,
    "loan_days_past_due": 0,
    "requested_amount": Decimal("300000.00"),
}

# rule code -> (changes to the clean context, decision, every rule expected to fire)
CASES = {
    "KO_CONSENT_MISSING": ({"consent_scoring": False}, "decline", set()),
    "KO_KYB_FAILED": ({"kyb_verified": False}, "decline", set()),
    "KO_LICENCE_EXPIRING": ({"licence_days_remaining": 30}, "decline", set()),
    "KO_BUSINESS_TOO_YOUNG": ({"business_age_months": 5}, "decline", set()),
    "KO_DPD_OVER_30": ({"dpd_current": 31}, "decline", set()),
    "KO_BLACKLISTED": ({"blacklisted": True}, "decline", set()),
    "KO_RELATED_PARTY_CIRCULAR_TRADE": ({"related_party_flag": True}, "decline", set()),
    "KO_GUARANTOR_OVER_CAPACITY": ({"guarantor_over_capacity": True}, "decline", set()),
    "KO_PRIOR_DEFAULT": ({"prior_default": True}, "decline", set()),
    "KO_DUPLICATE_FINANCING": ({"duplicate_financing_flag": True}, "decline", set()),
    "REF_DPD_1_30": ({"dpd_current": 12}, "refer", set()),
    "REF_DPD_HISTORY": ({"dpd_max_12m": 45}, "refer", set()),
    "REF_PURCHASES_FALLING": ({"purchase_trend_3m": -55.0}, "refer", set()),
    "REF_NO_RECENT_PURCHASES": ({"purchase_amount_3m": 0, "requested_amount": None}, "refer", set()),
    "REF_SHORT_TENURE": ({"tenure_months": 4}, "refer", {"OV_NEW_DEALER_CAP"}),
    "REF_LICENCE_UNKNOWN": ({"licence_days_remaining": None}, "refer", set()),
    "REF_REQUEST_ABOVE_PURCHASES": ({"requested_amount": Decimal("600000.01")}, "refer", set()),
    "REF_OPEN_ALERTS": ({"open_alert_count": 2}, "refer", set()),
    "REF_BLACKLIST_NOT_SCREENED": ({"blacklisted": None, "blacklist_screened": False}, "refer", set()),
    "OV_HIGH_RETURN_RATE": ({"return_rate_6m": 0.2}, "approve", set()),
    "OV_PURCHASES_SOFTENING": ({"purchase_trend_3m": -35.0}, "approve", set()),
    "OV_EARLY_WARNING_NOTCH": ({"alert_grade_notches": 1}, "approve", set()),
    "OV_SUPPLIER_CONCENTRATION": ({"supplier_hhi_12m": 0.75}, "approve", set()),
    "OV_NEW_DEALER_CAP": ({"tenure_months": 9}, "approve", set()),
}


@pytest.fixture(scope="module")
def default_rules():
    return load_default_ruleset()


def test_the_default_set_is_version_one_active_and_approved_by_someone_else(default_rules):
    assert default_rules.version == 1
    assert default_rules.status is RuleSetStatus.ACTIVE
    assert default_rules.approver and default_rules.approver != default_rules.author


def test_every_default_rule_has_a_crafted_case(default_rules):
    assert {rule.code for rule in default_rules.rules} == set(CASES)


def test_every_default_rule_has_chinese_and_english_reasons(default_rules):
    for rule in default_rules.rules:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.reason_zh), rule.code
        assert rule.reason_en.isascii(), rule.code


def test_the_default_rules_read_only_documented_context_names(default_rules):
    assert default_rules.names <= known_context_names()
    assert set(CLEAN) == set(CONTEXT_NAMES)


def test_a_clean_dealer_passes_every_default_rule(default_rules):
    outcome = evaluate(default_rules, CLEAN)
    assert outcome.decision == "approve"
    assert outcome.fired_codes == [] and outcome.error_codes == []
    assert all(r.status == "not_fired" for r in outcome.results)


@pytest.mark.parametrize("code", list(CASES))
def test_each_default_rule_fires_on_its_crafted_context(default_rules, code):
    changes, decision, also_fired = CASES[code]
    outcome = evaluate(default_rules, {**CLEAN, **changes})
    assert set(outcome.fired_codes) == {code} | also_fired
    assert outcome.decision == decision
    assert outcome.error_codes == []


def test_a_missing_consent_is_a_knock_out_too(default_rules):
    context = {key: value for key, value in CLEAN.items() if key != "consent_scoring"}
    assert evaluate(default_rules, context).knock_out_codes == ["KO_CONSENT_MISSING"]


@pytest.mark.parametrize(("days", "fires"), [(-10, True), (0, True), (30, True), (31, False)])
def test_a_licence_expired_or_expiring_within_30_days_knocks_out(default_rules, days, fires):
    outcome = evaluate(default_rules, {**CLEAN, "licence_days_remaining": days})
    assert ("KO_LICENCE_EXPIRING" in outcome.knock_out_codes) is fires


@pytest.mark.parametrize(("dpd", "decision"), [(0, "approve"), (1, "refer"), (30, "refer"), (31, "decline")])
def test_days_past_due_bands_decide(default_rules, dpd, decision):
    assert evaluate(default_rules, {**CLEAN, "dpd_current": dpd}).decision == decision


@pytest.mark.parametrize(
    ("trend", "fired"),
    [(-10.0, set()), (-30.0, set()), (-30.01, {"OV_PURCHASES_SOFTENING"}), (-50.0, {"OV_PURCHASES_SOFTENING"}),
     (-50.01, {"REF_PURCHASES_FALLING"}), (-100.0, {"REF_PURCHASES_FALLING"})],
)
def test_purchase_trend_bands_are_in_the_catalogs_percent(default_rules, trend, fired):
    """``purchase_trend_3m`` is a percent change (``scoring.catalog``, as ``scoring.features`` computes it):
    a 10 % dip passes, a fall of 30–50 % notches the grade, more than 50 % is referred."""
    assert set(evaluate(default_rules, {**CLEAN, "purchase_trend_3m": trend}).fired_codes) == fired


def test_thresholds_on_percent_features_are_percents_not_fractions(default_rules):
    """A threshold below 1 in magnitude on a percent-change feature is a fraction written by mistake."""
    import re

    from scoring.catalog import CATALOG

    percent = {name for name, spec in CATALOG.items() if spec.unit == "percent_change"}
    for rule in default_rules.rules:
        for name, number in re.findall(r"([a-z_0-9]+)\s*[<>=!]=?\s*(-?[0-9.]+)", rule.condition.text):
            if name in percent:
                assert float(number) == 0 or abs(float(number)) >= 1, (rule.code, rule.condition.text)


def test_default_overlays_carry_their_actions(default_rules):
    outcome = evaluate(
        default_rules,
        {
            **CLEAN,
            "return_rate_6m": 0.3,
            "supplier_hhi_12m": 0.9,
            "tenure_months": 8,
            "purchase_trend_3m": -40.0,
            "alert_grade_notches": 2,
        },
    )
    assert outcome.notches == 3
    assert outcome.limit_fraction == Decimal("0.5")
    assert outcome.limit_cap == Decimal("200000.00")
    assert {r.code for r in default_rules.rules if r.kind is RuleKind.OVERLAY} == set(outcome.overlay_codes)


def test_an_empty_context_is_declined_for_missing_consent_not_crashed(default_rules):
    outcome = evaluate(default_rules, {})
    assert outcome.decision == "decline"
    assert outcome.knock_out_codes == ["KO_CONSENT_MISSING"]
    assert outcome.error_codes == []


def test_names_the_context_does_not_provide_are_listed(default_rules):
    assert unprovided_names(default_rules, CLEAN) == []
    without_hhi = [name for name in CLEAN if name != "supplier_hhi_12m"]
    assert unprovided_names(default_rules, without_hhi) == ["supplier_hhi_12m"]


def test_a_dealer_screened_against_a_blacklist_and_not_on_it_passes_the_blacklist_rules(default_rules):
    outcome = evaluate(default_rules, CLEAN | {"blacklisted": False, "blacklist_screened": True})
    assert outcome.decision == "approve"
    statuses = {r.code: r.status.value for r in outcome.results}
    assert statuses["KO_BLACKLISTED"] == "not_fired" and statuses["REF_BLACKLIST_NOT_SCREENED"] == "not_fired"


def test_without_a_blacklist_the_decision_is_referred_saying_screening_was_not_performed(default_rules):
    unscreened = {k: v for k, v in CLEAN.items() if k != "blacklisted"} | {"blacklist_screened": False}
    outcome = evaluate(default_rules, unscreened)
    assert outcome.decision == "refer"
    assert outcome.refer_codes == ["REF_BLACKLIST_NOT_SCREENED"]
    (reason,) = [r for r in outcome.reasons if r["code"] == "REF_BLACKLIST_NOT_SCREENED"]
    assert "not screened" in reason["en"]
    assert {r.code: r.status.value for r in outcome.results}["KO_BLACKLISTED"] == "unknown"


def test_a_screening_result_supplied_by_the_feature_source_counts_as_screened(default_rules):
    outcome = evaluate(default_rules, CLEAN | {"blacklisted": False, "blacklist_screened": False})
    assert outcome.decision == "approve"
