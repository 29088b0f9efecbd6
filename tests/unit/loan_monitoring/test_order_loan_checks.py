from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from limits.credit_line import LineStatus
from loan_monitoring.application import all_in_apr
from loan_monitoring.checks import CheckStatus, OnFailure, Outcome
from loan_monitoring.lpr import default_lpr_table, lpr_table_from
from loan_monitoring.parties import LinkKind, RelatedPartyLink
from loan_monitoring.repayment import DayCount
from loan_monitoring.state import LoanState
from loan_monitoring.trade import ExistingFinancing, OrderStatus
from risk_engine.errors import InvalidInput


def only_failure(result, name):
    failed = [c.name for c in result.failed_checks]
    assert failed == [name], failed
    return result.check(name)


def test_a_clean_application_is_approved_with_every_check_passed(scenario):
    result = scenario.check()
    assert result.outcome is Outcome.APPROVE
    assert all(c.status is CheckStatus.PASSED for c in result.checks), result.failed_checks
    assert result.reserve_amount == Decimal("80000.00")
    assert result.apr_cap == Decimal("0.1200")  # 4 x 3.00 % in force since 2025-05-20
    assert result.max_amount_by_ratio == Decimal("80000.00")


def test_the_explanation_is_plain_json_with_bilingual_reasons(scenario):
    result = scenario.bend(line=None).check()
    text = json.dumps(result.explanation(), ensure_ascii=False)
    assert "没有授信额度" in text and "no credit line" in text


def test_a_missing_order_is_declined_and_the_checks_that_need_it_are_skipped(scenario):
    result = scenario.bend(order=None).check()
    assert result.outcome is Outcome.DECLINE
    assert only_failure(result, "order_exists").field == "order_id"
    assert result.check("order_financeable").status is CheckStatus.SKIPPED
    assert result.check("amount_within_loan_to_order_ratio").status is CheckStatus.SKIPPED
    assert result.max_amount_by_ratio is None


def test_an_order_of_another_dealer_is_declined(scenario):
    result = scenario.bend(order=replace(scenario.order, dealer_id="dlr_other")).check()
    assert result.outcome is Outcome.DECLINE
    only_failure(result, "order_belongs_to_dealer")


@pytest.mark.parametrize("status", [OrderStatus.PLACED, OrderStatus.CANCELLED, OrderStatus.RETURNED])
def test_an_order_that_is_not_confirmed_or_was_unwound_is_declined(scenario, status):
    result = scenario.bend(order=replace(scenario.order, status=status)).check()
    assert result.outcome is Outcome.DECLINE
    check = only_failure(result, "order_financeable")
    assert status.value in check.reason_en and status.value in check.reason_zh


def test_an_order_already_paid_for_is_declined(scenario):
    paid = replace(scenario.order, status=OrderStatus.DELIVERED, settled=True)
    result = scenario.bend(order=paid).check()
    assert result.outcome is Outcome.DECLINE
    assert "settled" in only_failure(result, "order_financeable").reason_en


@pytest.mark.parametrize("status", [OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.DELIVERED])
def test_confirmed_shipped_or_delivered_unpaid_orders_are_financeable(scenario, status):
    assert scenario.bend(order=replace(scenario.order, status=status)).check().outcome is Outcome.APPROVE


def test_an_order_financed_at_another_bank_is_declined_without_revealing_that_banks_loan(scenario):
    elsewhere = ExistingFinancing("loan_b_secret", "bank_b", "ord_1", frozenset(), LoanState.DISBURSED)
    result = scenario.bend(existing_financings=(elsewhere,)).check()
    assert result.outcome is Outcome.DECLINE
    check = only_failure(result, "order_not_already_financed")
    assert check.evidence["at_other_banks"] == 1 and check.evidence["at_this_bank"] == []
    assert "loan_b_secret" not in json.dumps(result.explanation())


def test_an_order_financed_at_the_same_bank_is_declined_naming_the_loan(scenario):
    earlier = ExistingFinancing("loan_a_old", "bank_a", "ord_1", frozenset(), LoanState.REPAID)
    check = only_failure(scenario.bend(existing_financings=(earlier,)).check(), "order_not_already_financed")
    assert check.evidence["at_this_bank"] == ["loan_a_old"]


def test_cancelled_or_declined_financings_and_the_application_itself_do_not_count_as_duplicates(scenario):
    others = (
        ExistingFinancing("loan_x", "bank_b", "ord_1", frozenset(), LoanState.CANCELLED),
        ExistingFinancing("loan_y", "bank_b", "ord_1", frozenset(), LoanState.DECLINED),
        ExistingFinancing("loan_new", "bank_a", "ord_1", frozenset(), LoanState.APPLIED),
    )
    assert scenario.bend(existing_financings=others).check().outcome is Outcome.APPROVE


def test_an_invoice_already_financed_under_another_order_is_declined(scenario):
    other = ExistingFinancing(
        "loan_z", "bank_c", "ord_other", frozenset({"0310012300/00112345"}), LoanState.APPROVED
    )
    result = scenario.bend(existing_financings=(other,)).check()
    assert result.outcome is Outcome.DECLINE
    assert only_failure(result, "invoice_not_already_financed").evidence["shared_invoices"] == [
        "0310012300/00112345"
    ]


def test_an_invoice_of_an_order_another_loan_finances_is_declined_as_already_financed(scenario):
    """Financing an order finances its invoice (fund-usage monitoring counts it so): a second loan on
    another order naming that invoice is duplicate financing, not merely a mismatch to refer."""
    invoice = replace(scenario.invoice, order_id="ord_financed")
    financed = ExistingFinancing("loan_f", "bank_b", "ord_financed", frozenset(), LoanState.DISBURSED)
    result = scenario.bend(invoice=invoice, existing_financings=(financed,)).check()
    assert result.outcome is Outcome.DECLINE
    check = result.check("invoice_not_already_financed")
    assert check.failed and check.evidence["at_other_banks"] == 1
    assert result.check("order_not_already_financed").passed


@pytest.mark.parametrize(
    "change, field",
    [
        ({"buyer_credit_code": "91440300MA5XXXXXX1"}, "buyer_credit_code"),
        ({"seller_credit_code": "91440300MA5YYYYYY2"}, "seller_credit_code"),
        ({"tax": Decimal("11504.43")}, "amount"),  # one cent over the order, VAT included
        ({"issued_on": date(2025, 6, 1)}, "issued_on"),
    ],
)
def test_an_invoice_that_contradicts_the_order_is_referred(scenario, change, field):
    result = scenario.bend(invoice=replace(scenario.invoice, **change)).check()
    assert result.outcome is Outcome.REFER
    assert result.reserve_amount == 0
    check = only_failure(result, "invoice_matches_order")
    assert [c["field"] for c in check.evidence["contradictions"]] == [field]


def test_an_invoice_for_part_of_the_order_is_not_a_contradiction(scenario):
    partial = replace(scenario.invoice, amount=Decimal("40000.00"), tax=Decimal("5200.00"))
    assert scenario.bend(invoice=partial).check().outcome is Outcome.APPROVE


def test_an_invoice_that_cannot_be_found_is_referred(scenario):
    result = scenario.bend(invoice=None).check()
    assert result.outcome is Outcome.REFER
    only_failure(result, "invoice_matches_order")


def test_an_application_without_an_invoice_yet_skips_the_invoice_checks(scenario):
    result = scenario.bend(invoice=None, application=replace(scenario.application, invoice_key=None)).check()
    assert result.outcome is Outcome.APPROVE
    assert result.check("invoice_not_already_financed").status is CheckStatus.SKIPPED


def test_an_amount_above_the_loan_to_order_ratio_is_declined_by_one_cent(scenario):
    result = scenario.bend(application=replace(scenario.application, amount=Decimal("80000.01"))).check()
    assert result.outcome is Outcome.DECLINE
    check = only_failure(result, "amount_within_loan_to_order_ratio")
    assert check.evidence["max_amount"] == Decimal("80000.00") and check.field == "amount"


def test_a_supplier_off_the_whitelist_is_declined(scenario):
    result = scenario.bend(supplier=replace(scenario.supplier, whitelisted=False)).check()
    assert result.outcome is Outcome.DECLINE
    only_failure(result, "supplier_whitelisted")


@pytest.mark.parametrize(
    "change",
    [
        {"owner_ids": frozenset({"person_dealer_owner"})},
        {"legal_representative_id": "person_dealer_rep"},
        {"settlement_accounts": frozenset({"6222000011112222"})},  # the dealer's account, spaced differently
    ],
)
def test_a_supplier_strongly_tied_to_the_dealer_is_declined(scenario, change):
    result = scenario.bend(supplier=replace(scenario.supplier, **change)).check()
    assert result.outcome is Outcome.DECLINE
    check = only_failure(result, "supplier_not_related_to_dealer")
    assert check.on_failure is OnFailure.DECLINE and check.evidence["strong"] is True


def test_a_supplier_sharing_only_the_dealers_address_is_referred(scenario):
    same_place = replace(scenario.supplier, registered_address="深圳市南山区科技园 1 号")
    result = scenario.bend(supplier=same_place).check()
    assert result.outcome is Outcome.REFER
    assert only_failure(result, "supplier_not_related_to_dealer").on_failure is OnFailure.REFER


def test_a_supplier_the_dealer_controls_through_a_known_link_is_declined(scenario):
    link = RelatedPartyLink("dlr_1", "sup_1", LinkKind.CONTROLS, "registry")
    result = scenario.bend(related_links=(link,)).check()
    assert result.outcome is Outcome.DECLINE
    only_failure(result, "supplier_not_related_to_dealer")


def test_a_supplier_tied_through_an_intermediary_is_referred(scenario):
    links = (
        RelatedPartyLink("dlr_1", "holding_x", LinkKind.CONTROLS),
        RelatedPartyLink("holding_x", "sup_1", LinkKind.CONTROLS),
    )
    result = scenario.bend(related_links=links).check()
    assert result.outcome is Outcome.REFER
    assert "holding_x" in only_failure(result, "supplier_not_related_to_dealer").evidence["ties"][0]["path"]


@pytest.mark.parametrize(
    "tenor, outcome",
    [(29, Outcome.DECLINE), (30, Outcome.APPROVE), (180, Outcome.APPROVE), (181, Outcome.DECLINE)],
)
def test_the_tenor_must_lie_within_the_products_range(scenario, tenor, outcome):
    result = scenario.bend(application=replace(scenario.application, tenor_days=tenor)).check()
    assert result.outcome is outcome
    if outcome is Outcome.DECLINE:
        only_failure(result, "tenor_within_product_range")


def test_an_apr_above_four_times_the_lpr_is_declined(scenario):
    result = scenario.bend(bank_product=replace(scenario.bank_product, apr=Decimal("0.1201"))).check()
    assert result.outcome is Outcome.DECLINE
    check = only_failure(result, "apr_within_cap")
    assert check.evidence["apr_cap"] == Decimal("0.1200") and check.evidence["lpr"] == Decimal("0.03")


def test_an_apr_exactly_at_the_cap_is_allowed(scenario):
    at_cap = scenario.bend(bank_product=replace(scenario.bank_product, apr=Decimal("0.12")))
    assert at_cap.check().outcome is Outcome.APPROVE


def test_an_act_360_rate_is_compared_with_the_cap_as_its_365_day_equivalent(scenario):
    product = replace(scenario.bank_product, apr=Decimal("0.119"), day_count=DayCount.ACT_360)
    result = scenario.bend(bank_product=product).check()
    assert result.all_in_apr == Decimal("0.120653")  # 0.119 x 365 / 360
    only_failure(result, "apr_within_cap")


def test_upfront_fees_count_towards_the_all_in_apr(scenario):
    # 8 % + 1,000 / 80,000 x 365 / 90 = 8 % + 5.0694 % = 13.07 % > 12 %
    application = replace(scenario.application, upfront_fees=Decimal("1000.00"))
    assert all_in_apr(application, scenario.bank_product) == Decimal("0.130695")  # rounded up
    only_failure(scenario.bend(application=application).check(), "apr_within_cap")


def test_rounding_never_carries_an_apr_over_the_cap_under_it(scenario):
    # 12 % + 0.01 CNY of fees on 80,000 over 180 days = 12.000025 %: above the cap, however little.
    application = replace(scenario.application, tenor_days=180, upfront_fees=Decimal("0.01"))
    product = replace(scenario.bank_product, apr=Decimal("0.12"))
    only_failure(scenario.bend(application=application, bank_product=product).check(), "apr_within_cap")


def test_the_cap_uses_the_lpr_of_the_beijing_decision_date(scenario):
    # 3.35 % until 2024-10-20, 3.10 % from 2024-10-21; 17:00 UTC on the 20th is 01:00 on the 21st in Beijing.
    # The contract is made when the engine decides: its clock, not the platform's applied_at, picks the rate.
    product = replace(scenario.bank_product, apr=Decimal("0.13"))
    applied = replace(scenario.application, applied_at=datetime(2024, 10, 20, 15, 0, tzinfo=UTC))
    before = scenario.bend(application=applied, bank_product=product, as_of=datetime(2024, 10, 20, 15, 59, tzinfo=UTC))
    after = scenario.bend(application=applied, bank_product=product, as_of=datetime(2024, 10, 20, 17, 0, tzinfo=UTC))
    assert before.check().outcome is Outcome.APPROVE
    late = after.check()
    assert late.lpr_effective_date == date(2024, 10, 21)
    only_failure(late, "apr_within_cap")


def test_a_backdated_application_does_not_pick_an_older_higher_lpr(scenario):
    """The platform says it applied in 2024-10 (3.35 %: a 13.40 % cap); the engine decides on 2025-06-10,
    when 3.00 % is in force: a 13 % APR is above the 12 % cap whatever applied_at says."""
    product = replace(scenario.bank_product, apr=Decimal("0.13"))
    backdated = replace(scenario.application, applied_at=datetime(2024, 10, 1, 2, 0, tzinfo=UTC))
    result = scenario.bend(application=backdated, bank_product=product).check()
    check = only_failure(result, "apr_within_cap")
    assert result.outcome is Outcome.DECLINE
    assert (result.lpr, result.lpr_effective_date, result.apr_cap) == (
        Decimal("0.03"), date(2025, 5, 20), Decimal("0.1200"))
    assert check.evidence["contract_date"] == date(2025, 6, 10)
    assert check.evidence["applied_on"] == date(2024, 10, 1)  # kept, as information


def test_the_check_records_the_fixing_used_and_how_far_the_table_is_confirmed(scenario):
    result = scenario.check()
    evidence = result.check("apr_within_cap").evidence
    assert evidence["lpr_effective_date"] == date(2025, 5, 20) and evidence["lpr"] == Decimal("0.03")
    assert evidence["lpr_confirmed_through"] == date(2025, 6, 20) and evidence["lpr_current"] is True
    assert result.lpr_confirmed_through == date(2025, 6, 20)
    assert result.explanation()["lpr_confirmed_through"] == "2025-06-20"


def test_a_contract_after_the_tables_confirmed_period_is_referred_naming_the_date(scenario):
    """November 2026, a table confirmed through 2025-06-20: the engine does not know the LPR of the day, so
    the cap cannot pass silently at 4 x 3.00 %; a risk officer confirms the rate."""
    result = scenario.bend(as_of=datetime(2026, 11, 10, 3, 0, tzinfo=UTC)).check()
    assert result.outcome is Outcome.REFER and result.reserve_amount == 0
    check = only_failure(result, "apr_within_cap")
    assert check.on_failure is OnFailure.REFER
    assert "2025-06-20" in check.reason_zh and "2025-06-20" in check.reason_en
    assert "confirmed" in check.reason_en and "确认" in check.reason_zh
    assert check.evidence["lpr_current"] is False and check.evidence["lpr_current_until"] == date(2025, 7, 25)
    assert check.evidence["apr_cap"] == Decimal("0.1200")  # at the last known rate, for the officer


def test_an_apr_above_the_last_known_cap_on_a_stale_table_is_still_referred_not_passed(scenario):
    product = replace(scenario.bank_product, apr=Decimal("0.15"))
    result = scenario.bend(bank_product=product, as_of=datetime(2026, 11, 10, 3, 0, tzinfo=UTC)).check()
    check = only_failure(result, "apr_within_cap")
    assert result.outcome is Outcome.REFER and check.failed
    assert "15.00%" in check.reason_en or "15.00 %" in check.reason_en


def test_within_the_grace_after_the_confirmed_date_the_last_rate_applies(scenario):
    result = scenario.bend(as_of=datetime(2025, 7, 25, 3, 0, tzinfo=UTC)).check()
    assert result.outcome is Outcome.APPROVE and result.apr_cap == Decimal("0.1200")


def test_an_operator_confirmation_lets_a_later_contract_pass_at_the_last_rate(scenario):
    confirmed = default_lpr_table().confirmed(date(2026, 11, 1))
    result = scenario.bend(lpr_table=confirmed, as_of=datetime(2026, 11, 10, 3, 0, tzinfo=UTC)).check()
    assert result.outcome is Outcome.APPROVE and result.apr_cap == Decimal("0.1200")
    assert result.check("apr_within_cap").evidence["lpr_confirmed_through"] == date(2026, 11, 1)


def test_a_newer_fixing_sets_the_cap_of_later_contracts(scenario):
    hypothetical = lpr_table_from([(date(2026, 10, 20), Decimal("0.028"))])  # made up: not a published rate
    table = default_lpr_table().overridden_by(hypothetical)
    result = scenario.bend(lpr_table=table, as_of=datetime(2026, 11, 10, 3, 0, tzinfo=UTC)).check()
    assert result.outcome is Outcome.APPROVE
    assert (result.lpr, result.lpr_effective_date, result.apr_cap) == (
        Decimal("0.028"), date(2026, 10, 20), Decimal("0.112"))
    tight = replace(scenario.bank_product, apr=Decimal("0.115"))
    over = scenario.bend(lpr_table=table, bank_product=tight, as_of=datetime(2026, 11, 10, 3, 0, tzinfo=UTC))
    assert only_failure(over.check(), "apr_within_cap").on_failure is OnFailure.DECLINE


def test_the_grace_after_the_confirmed_date_is_a_policy_setting(scenario):
    on_day_36 = scenario.bend(as_of=datetime(2025, 7, 26, 3, 0, tzinfo=UTC))
    assert on_day_36.check().outcome is Outcome.REFER
    assert on_day_36.check(lpr_grace_days=40).outcome is Outcome.APPROVE


@pytest.mark.parametrize("status", [LineStatus.FROZEN, LineStatus.CLOSED])
def test_a_line_that_is_not_active_is_declined(scenario, status):
    result = scenario.bend(line=replace(scenario.line, status=status)).check()
    assert result.outcome is Outcome.DECLINE
    only_failure(result, "credit_line_active")


def test_an_expired_line_is_declined(scenario):
    result = scenario.bend(line=replace(scenario.line, expires_on=date(2025, 6, 9))).check()
    only_failure(result, "credit_line_active")


def test_a_dealer_without_a_line_at_this_bank_is_declined(scenario):
    result = scenario.bend(line=None).check()
    assert result.outcome is Outcome.DECLINE
    assert [c.name for c in result.failed_checks] == ["credit_line_active"]
    assert result.check("credit_line_has_available_credit").status is CheckStatus.SKIPPED


def test_an_amount_above_the_available_credit_is_declined(scenario):
    tight = replace(scenario.line, utilised=Decimal("320000.01"))  # available 79,999.99
    result = scenario.bend(line=tight).check()
    assert result.outcome is Outcome.DECLINE
    assert only_failure(result, "credit_line_has_available_credit").evidence["available"] == Decimal(
        "79999.99"
    )


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount": 80000.0}, "amount"),
        ({"amount": Decimal("-1.00")}, "amount"),
        ({"amount": Decimal("100.001")}, "amount"),
        ({"tenor_days": 0}, "tenor_days"),
        ({"applied_at": datetime(2025, 6, 10, 2, 0)}, "applied_at"),
        ({"bank_id": "bank_b"}, "bank_id"),
    ],
)
def test_malformed_applications_raise_invalid_input_naming_the_field(scenario, change, field):
    with pytest.raises(InvalidInput) as raised:
        scenario.bend(application=replace(scenario.application, **change)).check()
    assert raised.value.field == field


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount_cents=st.integers(min_value=1, max_value=30_000_000))
def test_an_amount_is_approved_exactly_when_within_both_the_ratio_and_the_available_credit(
    scenario, amount_cents
):
    amount = Decimal(amount_cents) / 100
    result = scenario.bend(application=replace(scenario.application, amount=amount)).check()
    within = amount <= Decimal("80000.00") and amount <= scenario.line.available
    assert (result.outcome is Outcome.APPROVE) is within
    assert result.outcome in (Outcome.APPROVE, Outcome.DECLINE)
