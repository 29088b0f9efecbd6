"""What a credit decision learns from blacklist screening: listed or not when a blacklist is configured,
and, when none is, that screening was not performed — never a silent ``not listed``."""

from __future__ import annotations

from compliance import kyb, screening

LISTED = "91350100M000100Y43"
CLEAR = "91110108MA01C3KX2B"
BLACKLIST = kyb.Blacklist.of([kyb.BlacklistEntry("credit_code", LISTED, "court enforcement")])


def test_a_dealer_on_the_configured_blacklist_is_blacklisted_and_screened():
    assert screening.blacklist_attributes(BLACKLIST, credit_code=LISTED) == {
        "blacklisted": True, "blacklist_screened": True}


def test_a_dealer_not_on_the_configured_blacklist_is_screened_and_not_blacklisted():
    assert screening.blacklist_attributes(BLACKLIST, credit_code=CLEAR) == {
        "blacklisted": False, "blacklist_screened": True}


def test_an_empty_configured_blacklist_still_screens():
    assert screening.blacklist_attributes(kyb.Blacklist(), credit_code=CLEAR) == {
        "blacklisted": False, "blacklist_screened": True}


def test_without_a_configured_blacklist_screening_is_recorded_as_not_performed_and_blacklisted_left_unknown():
    assert screening.blacklist_attributes(None, credit_code=CLEAR) == {"blacklist_screened": False}
