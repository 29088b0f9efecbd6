"""Rule sets as data: validation, JSON round trip, and the maker-checker lifecycle."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from risk_engine.errors import Conflict, IllegalTransition, InvalidInput, PermissionDenied
from risk_engine.rules.model import (
    OverlayAction,
    Rule,
    RuleKind,
    RuleSet,
    RuleSetStatus,
    activate,
    approve,
    draft_from,
    retire,
    ruleset_digest,
    ruleset_from_json,
    ruleset_to_json,
)


def a_draft(author: str = "alice") -> RuleSet:
    return RuleSet(
        version=2,
        author=author,
        rules=(
            Rule("KO_DPD", RuleKind.KNOCK_OUT, "dpd_current > 30", "逾期超过30天", "Over 30 DPD"),
            Rule("REF_TENURE", "refer", "tenure_months < 6", "经营不满6个月", "Tenure under 6 months"),
            Rule(
                "OV_CAP",
                "overlay",
                "supplier_hhi_12m > 0.6",
                "集中度高",
                "Concentrated",
                OverlayAction(limit_cap=Decimal("100000.00"), notches=1),
            ),
        ),
    )


def test_the_author_may_not_approve_their_own_rule_set():
    with pytest.raises(PermissionDenied) as caught:
        approve(a_draft("alice"), "alice")
    assert caught.value.code == "maker_checker"


def test_maker_checker_ignores_case_and_surrounding_spaces():
    with pytest.raises(PermissionDenied):
        approve(a_draft("Alice"), "  alice ")


def test_another_person_approves_a_draft_which_then_activates():
    approved = approve(a_draft("alice"), "bob")
    assert approved.approver == "bob" and approved.status is RuleSetStatus.DRAFT
    active = activate(approved)
    assert active.status is RuleSetStatus.ACTIVE
    assert retire(active).status is RuleSetStatus.RETIRED


def test_an_unapproved_draft_cannot_be_activated():
    with pytest.raises(Conflict) as caught:
        activate(a_draft())
    assert caught.value.code == "not_approved"


def test_only_drafts_are_approved_and_only_the_active_set_retires():
    active = activate(approve(a_draft(), "bob"))
    with pytest.raises(IllegalTransition):
        approve(active, "carol")
    with pytest.raises(IllegalTransition):
        activate(active)
    with pytest.raises(IllegalTransition):
        retire(a_draft())


def test_a_stored_rule_set_whose_approver_is_its_author_is_refused_on_load():
    data = ruleset_to_json(activate(approve(a_draft(), "bob")))
    data["approver"] = "alice"
    with pytest.raises(PermissionDenied):
        ruleset_from_json(data)


def test_an_active_rule_set_must_name_its_approver():
    data = ruleset_to_json(a_draft())
    data["status"] = "active"
    with pytest.raises(InvalidInput) as caught:
        ruleset_from_json(data)
    assert caught.value.field == "approver"


def test_a_new_draft_from_an_active_set_starts_unapproved():
    active = activate(approve(a_draft(), "bob"))
    draft = draft_from(active, version=3, author="carol")
    assert draft.status is RuleSetStatus.DRAFT and draft.approver is None
    assert draft.rules == active.rules


def test_json_round_trip_keeps_every_field():
    original = approve(a_draft(), "bob")
    data = ruleset_to_json(original)
    text = json.dumps(data, ensure_ascii=False)
    again = ruleset_from_json(text)
    assert ruleset_to_json(again) == data
    assert again.rule("OV_CAP").action == OverlayAction(notches=1, limit_cap=Decimal("100000.00"))
    assert data["rules"][2]["action"] == {"notches": 1, "limit_cap": "100000.00"}


def test_the_digest_covers_rules_not_approval():
    draft = a_draft()
    assert ruleset_digest(draft) == ruleset_digest(approve(draft, "bob"))
    changed = draft_from(draft, version=3, author="alice", rules=draft.rules[:2])
    assert ruleset_digest(changed) != ruleset_digest(draft)


def test_a_bad_condition_is_reported_with_the_rule_index_and_position():
    data = ruleset_to_json(a_draft())
    data["rules"][1]["condition"] = "tenure_months < < 6"
    with pytest.raises(InvalidInput) as caught:
        ruleset_from_json(data)
    assert caught.value.field == "rules[1].condition"
    assert "REF_TENURE" in caught.value.detail and caught.value.extra["position"] == 17


def test_conditions_reading_unknown_names_are_refused_when_names_are_known():
    data = ruleset_to_json(a_draft())
    with pytest.raises(InvalidInput) as caught:
        ruleset_from_json(data, known_names={"dpd_current", "tenure_months"})
    assert "supplier_hhi_12m" in caught.value.detail


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "veto"}, "rules[0].kind"),
        ({"code": "lower_case"}, "rules[0].code"),
        ({"reason_zh": " "}, "rules[0].reason_zh"),
        ({"action": {"notches": 1}}, "rules[0].action"),
        ({"colour": "red"}, "rules[0]"),
    ],
)
def test_malformed_rules_are_refused_naming_the_field(change, field):
    data = ruleset_to_json(a_draft())
    data["rules"][0].update(change)
    with pytest.raises(InvalidInput) as caught:
        ruleset_from_json(data)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "action",
    [
        {},
        {"notches": 1.5},
        {"limit_cap": "-1"},
        {"limit_fraction": "1.5"},
        {"limit_cap": 100.5},
        {"limit_cap": "NaN"},
        {"shift": 1},
    ],
)
def test_overlay_actions_must_do_something_sensible(action):
    data = ruleset_to_json(a_draft())
    data["rules"][2]["action"] = action
    with pytest.raises(InvalidInput):
        ruleset_from_json(data)


def test_an_overlay_needs_an_action():
    with pytest.raises(InvalidInput):
        Rule("OV_X", "overlay", "x > 1", "原因", "reason")


def test_rule_codes_are_unique_within_a_set():
    rule = Rule("KO_X", "knock_out", "x > 1", "原因", "reason")
    with pytest.raises(InvalidInput):
        RuleSet(version=1, author="alice", rules=(rule, rule))


def test_a_rule_set_lists_the_names_its_rules_read():
    assert a_draft().names == {"dpd_current", "tenure_months", "supplier_hhi_12m"}
