"""The default rule set and the context names rules may read.

The service builds a rule context as one flat mapping: the dealer's point-in-time features plus the
dealer and request attributes below. A name the context lacks, or holds as ``None``, is *missing*
(see ``risk_engine.rules.expr``). Numbers may be ``int``, ``float`` or ``Decimal``; money is CNY.

Features (point in time, from the feature vector):

=========================== ======= ===============================================================
name                        type    meaning
=========================== ======= ===============================================================
dpd_current                 number  days past due today: the worse of the oldest unpaid trade payment
                                    and the worst outstanding order loan (0 when none overdue)
dpd_max_12m                 number  worst days past due over the last 12 months
tenure_months               number  months since the dealer's first order on the platform
business_age_months         number  months since the business was registered
licence_days_remaining      number  days until the business licence expires (negative: expired)
purchase_amount_3m          number  purchases over the last 3 months, CNY
purchase_trend_3m           number  percent change of the last 3 months' purchases on the previous
                                    3 months (``scoring.catalog``): −50 means purchases halved
return_rate_6m              number  returned / purchased amount over 6 months, 0..1
supplier_hhi_12m            number  Herfindahl index of purchase shares across suppliers, 0..1
=========================== ======= ===============================================================

Dealer and request attributes:

=========================== ======= ===============================================================
consent_scoring             boolean the dealer consented to credit scoring (PIPL Art. 13)
kyb_verified                boolean know-your-business checks passed
blacklisted                 boolean on the platform's or a bank's blacklist (missing: not screened)
blacklist_screened          boolean the dealer was screened against a configured blacklist for this
                                    decision (``compliance.screening.blacklist_attributes``); false:
                                    none is configured, and ``REF_BLACKLIST_NOT_SCREENED`` refers
                                    unless a screening result (``blacklisted``) came from elsewhere
related_party_flag          boolean circular trade among related parties flagged
guarantor_over_capacity     boolean the guarantor has no regulatory headroom for this dealer's line
                                    (``limits.guarantees.guarantee_capacity`` headroom is 0, measured
                                    without the line's own guarantee: ``limits.exposure``)
prior_default               boolean a previous loan reached 90+ days past due
loan_days_past_due          number  worst days past due of the dealer's outstanding order loans here
duplicate_financing_flag    boolean fund-usage monitoring found an order or invoice of the dealer
                                    financed twice (not resolved as a false positive)
open_alert_count            number  warning and critical alerts on the dealer still open (early
                                    warning, fund usage, delinquency); info-level ones do not count
alert_grade_notches         number  of those, the alerts asking for the grade to be notched down at
                                    the next limit review (``notch_grade_at_next_review``)
requested_amount            number  the limit the dealer asked for, CNY
=========================== ======= ===============================================================

``CONTEXT_NAMES`` holds this table; pass ``known_context_names()`` (with the feature catalog's names
added) to ``ruleset_from_json`` to refuse drafts that read names the service never provides.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources

from risk_engine.rules.model import RuleSet, ruleset_from_json

# name -> (type, meaning)
CONTEXT_NAMES: dict[str, tuple[str, str]] = {
    "dpd_current": ("number", "days past due today: worst of trade payments and order loans"),
    "dpd_max_12m": ("number", "worst days past due over the last 12 months"),
    "tenure_months": ("number", "months since the first order on the platform"),
    "business_age_months": ("number", "months since the business was registered"),
    "licence_days_remaining": ("number", "days until the business licence expires (negative: expired)"),
    "purchase_amount_3m": ("number", "purchases over the last 3 months, CNY"),
    "purchase_trend_3m": ("number", "percent change of the last 3 months' purchases on the previous 3; -50: halved"),
    "return_rate_6m": ("number", "returned / purchased amount over 6 months"),
    "supplier_hhi_12m": ("number", "Herfindahl index of purchase shares across suppliers"),
    "consent_scoring": ("boolean", "the dealer consented to credit scoring"),
    "kyb_verified": ("boolean", "know-your-business checks passed"),
    "blacklisted": ("boolean", "on a blacklist"),
    "blacklist_screened": ("boolean", "screened against a configured blacklist for this decision"),
    "related_party_flag": ("boolean", "circular trade among related parties flagged"),
    "guarantor_over_capacity": ("boolean", "the guarantor has no regulatory headroom for this dealer"),
    "prior_default": ("boolean", "a previous loan reached 90+ days past due"),
    "loan_days_past_due": ("number", "worst days past due of the dealer's outstanding order loans"),
    "duplicate_financing_flag": ("boolean", "an order or invoice was financed twice"),
    "open_alert_count": ("number", "warning and critical alerts on the dealer still open"),
    "alert_grade_notches": ("number", "open alerts asking for a grade notch at the next limit review"),
    "requested_amount": ("number", "the limit asked for, CNY"),
}


def known_context_names(feature_names: Iterable[str] = ()) -> frozenset[str]:
    """The names a rule may read: the documented ones plus the feature catalog's."""
    return frozenset(CONTEXT_NAMES) | frozenset(feature_names)


def default_ruleset_json() -> dict:
    text = resources.files("risk_engine.rules").joinpath("default_ruleset.json").read_text("utf-8")
    return json.loads(text)


def load_default_ruleset(feature_names: Iterable[str] = ()) -> RuleSet:
    """The shipped default rule set (version 1, active), validated against the known context names."""
    return ruleset_from_json(default_ruleset_json(), known_context_names(feature_names))


def unprovided_names(ruleset: RuleSet, provided_names: Iterable[str]) -> list[str]:
    """Names the rule set reads that the context builder does not provide, sorted.

    A rule reading a name the context never holds is always *unknown* and never fires; the service
    should check this when it activates a rule set and at start-up.
    """
    return sorted(ruleset.names - frozenset(provided_names))
