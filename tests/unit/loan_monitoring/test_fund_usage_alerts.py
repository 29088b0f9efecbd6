from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from loan_monitoring.alerts import Action, Severity
from loan_monitoring.fund_usage import (
    AccountTransfer,
    Delivery,
    Disbursement,
    FinancedLoan,
    FundFlows,
    MonitoringPolicy,
    OrderReturn,
    Refund,
    SupplierReceipt,
    check_disbursement,
    fund_usage_trace,
    monitor_fund_usage,
)
from loan_monitoring.parties import LinkKind, RelatedPartyLink
from loan_monitoring.state import LoanState
from loan_monitoring.trade import ExistingFinancing, InvoiceStatus, OrderStatus
from risk_engine.errors import Conflict, IllegalTransition

PAID_AT = datetime(2025, 6, 11, 2, 0, tzinfo=UTC)
AS_OF = datetime(2025, 7, 30, 2, 0, tzinfo=UTC)
SUPPLIER_ACCOUNT = "6222 0210 0000 0001"  # the scenario's supplier and dealer accounts (conftest)
DEALER_ACCOUNT = "6222 0000 1111 2222"


def at(year: int, month: int, day: int) -> datetime:
    """10:00 in Beijing on that day."""
    return datetime(year, month, day, 2, 0, tzinfo=UTC)


@pytest.fixture
def flows(scenario) -> FundFlows:
    loan = FinancedLoan(
        "loan_1",
        "bank_a",
        "dlr_1",
        "ord_1",
        "sup_1",
        Decimal("80000.00"),
        LoanState.DISBURSED,
        frozenset({scenario.invoice.key}),
    )
    return FundFlows(
        loan=loan,
        order=replace(scenario.order, status=OrderStatus.DELIVERED),
        dealer=scenario.dealer,
        supplier=scenario.supplier,
        disbursements=(Disbursement("dsb_1", Decimal("80000.00"), SUPPLIER_ACCOUNT, PAID_AT),),
        receipts=(
            SupplierReceipt(
                "rcp_1",
                SUPPLIER_ACCOUNT.replace(" ", ""),
                Decimal("80000.00"),
                PAID_AT + timedelta(minutes=5),
            ),
        ),
        deliveries=(Delivery("dlv_1", at(2025, 6, 20)),),
        invoices=(scenario.invoice,),
    )


def kinds(alerts):
    return sorted(a.kind for a in alerts)


def test_a_loan_whose_four_flows_agree_raises_no_alert(flows):
    assert monitor_fund_usage(flows, AS_OF) == ()


def test_a_disbursement_to_the_suppliers_account_is_accepted_quietly(flows):
    approved = replace(flows.loan, state=LoanState.APPROVED)
    check = check_disbursement(
        approved, flows.supplier, Disbursement("dsb_1", Decimal("50000.00"), SUPPLIER_ACCOUNT, PAID_AT), []
    )
    assert check.accepted and check.alerts == () and check.remaining_approved == Decimal("30000.00")


def test_a_disbursement_to_another_account_is_recorded_with_a_critical_alert(flows):
    approved = replace(flows.loan, state=LoanState.APPROVED)
    check = check_disbursement(
        approved, flows.supplier, Disbursement("dsb_1", Decimal("80000.00"), DEALER_ACCOUNT, PAID_AT), []
    )
    assert check.accepted
    [alert] = check.alerts
    assert alert.kind == "funds_to_other_account" and alert.severity is Severity.CRITICAL
    assert alert.evidence["payee_account"] == DEALER_ACCOUNT
    assert alert.evidence["supplier_accounts"] == [SUPPLIER_ACCOUNT]
    assert Action.FREEZE_LINE in alert.actions


def test_partial_disbursements_may_fill_but_not_exceed_the_approval(flows):
    first = Disbursement("dsb_1", Decimal("50000.00"), SUPPLIER_ACCOUNT, PAID_AT)
    exact = check_disbursement(
        flows.loan,
        flows.supplier,
        Disbursement("dsb_2", Decimal("30000.00"), SUPPLIER_ACCOUNT, PAID_AT),
        [first],
    )
    assert exact.accepted and exact.remaining_approved == 0
    over = check_disbursement(
        flows.loan,
        flows.supplier,
        Disbursement("dsb_2", Decimal("30000.01"), SUPPLIER_ACCOUNT, PAID_AT),
        [first],
    )
    assert not over.accepted and over.alerts[0].kind == "disbursement_exceeds_approval"
    assert over.alerts[0].evidence["excess"] == "0.01"
    with pytest.raises(Conflict):
        over.raise_if_refused()


def test_a_disbursement_of_a_cancelled_loan_is_an_illegal_transition(flows):
    with pytest.raises(IllegalTransition, match="cancelled to disbursed"):
        check_disbursement(
            replace(flows.loan, state=LoanState.CANCELLED), flows.supplier, flows.disbursements[0], []
        )


def test_the_same_disbursement_reported_twice_is_a_conflict(flows):
    with pytest.raises(Conflict):
        check_disbursement(flows.loan, flows.supplier, flows.disbursements[0], flows.disbursements)


def test_monitoring_flags_funds_paid_to_another_account(flows):
    diverted = replace(
        flows, disbursements=(replace(flows.disbursements[0], payee_account=DEALER_ACCOUNT),), receipts=()
    )
    assert kinds(monitor_fund_usage(diverted, AS_OF)) == ["funds_to_other_account"]  # not also a mismatch


def test_receipts_that_do_not_match_the_disbursement_raise_an_amount_mismatch(flows):
    short = replace(flows, receipts=(replace(flows.receipts[0], amount=Decimal("60000.00")),))
    [alert] = monitor_fund_usage(short, AS_OF)
    assert alert.kind == "amount_mismatch"
    assert alert.evidence["difference"] == "20000.00"


def test_missing_receipts_wait_for_the_receipt_window(flows):
    none_yet = replace(flows, receipts=())
    assert monitor_fund_usage(none_yet, PAID_AT + timedelta(days=3)) == ()
    assert kinds(monitor_fund_usage(none_yet, PAID_AT + timedelta(days=4))) == ["amount_mismatch"]


def test_an_order_cancelled_after_disbursement_without_a_refund_is_critical(flows):
    cancelled = replace(
        flows,
        order=replace(flows.order, status=OrderStatus.CANCELLED, cancelled_at=at(2025, 6, 15)),
        deliveries=(),
    )
    [alert] = monitor_fund_usage(cancelled, AS_OF)
    assert alert.kind == "order_cancelled_no_refund" and alert.severity is Severity.CRITICAL
    assert alert.evidence["missing"] == "80000.00"
    refunded = replace(cancelled, refunds=(Refund("rf_1", at(2025, 6, 18), Decimal("80000.00")),))
    assert monitor_fund_usage(refunded, AS_OF) == ()


def test_a_cancellation_is_given_the_refund_window_before_it_alerts(flows):
    cancelled = replace(
        flows,
        order=replace(flows.order, status=OrderStatus.CANCELLED, cancelled_at=at(2025, 7, 25)),
    )
    assert monitor_fund_usage(cancelled, AS_OF) == ()


def test_money_disbursed_against_an_already_cancelled_order_must_come_back_too(flows):
    cancelled = replace(
        flows,
        order=replace(flows.order, status=OrderStatus.CANCELLED, cancelled_at=at(2025, 6, 5)),
        deliveries=(),
    )
    [alert] = monitor_fund_usage(cancelled, at(2025, 6, 19))  # 8 days after paying
    assert alert.kind == "order_cancelled_no_refund"


def test_an_order_returned_in_full_without_return_records_expects_the_whole_disbursement_back(flows):
    returned = replace(
        flows,
        order=replace(flows.order, status=OrderStatus.RETURNED, returned_at=at(2025, 7, 1)),
    )
    [alert] = monitor_fund_usage(returned, AS_OF)
    assert alert.kind == "order_returned_no_refund" and alert.evidence["expected_refund"] == "80000.00"


def test_goods_returned_after_disbursement_require_the_financed_share_back(flows):
    returned = replace(flows, returns=(OrderReturn("ret_1", at(2025, 7, 1), Decimal("50000.00")),))
    [alert] = monitor_fund_usage(returned, AS_OF)
    assert alert.kind == "order_returned_no_refund"
    assert alert.evidence["expected_refund"] == "40000.00"  # 50,000 of goods x 80 % financed
    enough = replace(returned, refunds=(Refund("rf_1", at(2025, 7, 3), Decimal("40000.00")),))
    assert monitor_fund_usage(enough, AS_OF) == ()


def test_no_delivery_within_the_configured_days_is_flagged_with_the_invoice_as_evidence(flows):
    paper = replace(flows, deliveries=())
    policy = MonitoringPolicy(delivery_within_days=30)
    assert monitor_fund_usage(paper, at(2025, 7, 11), policy) == ()  # day 30
    [alert] = monitor_fund_usage(paper, at(2025, 7, 12), policy)
    assert alert.kind == "no_delivery" and alert.evidence["invoiced_without_delivery"] is True
    assert monitor_fund_usage(paper, AS_OF, MonitoringPolicy(delivery_within_days=60)) == ()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount": Decimal("88495.59")}, "amount"),
        ({"buyer_credit_code": "91440300MA5XXXXXX1"}, "buyer_credit_code"),
        ({"seller_credit_code": "91440300MA5YYYYYY2"}, "seller_credit_code"),
        ({"issued_on": date(2025, 6, 1)}, "issued_on"),  # the order was placed on 2 June
        ({"status": InvoiceStatus.REVERSED}, "status"),
    ],
)
def test_an_invoice_that_contradicts_the_order_is_flagged_with_the_field(flows, change, field):
    bad = replace(flows, invoices=(replace(flows.invoices[0], **change),))
    [alert] = monitor_fund_usage(bad, AS_OF)
    assert alert.kind == "invoice_contradicts_order"
    assert [c["field"] for c in alert.evidence["contradictions"]] == [field]


def test_several_invoices_adding_up_to_more_than_the_order_are_flagged(flows):
    half = replace(flows.invoices[0], amount=Decimal("53097.35"), tax=Decimal("6902.65"))  # 60,000 each
    bad = replace(flows, invoices=(half, replace(half, invoice_number="00112346")))
    [alert] = monitor_fund_usage(bad, AS_OF)
    assert alert.dedup_key == "loan:loan_1:invoice_contradicts_order:total"


def test_duplicate_financing_found_after_approval_at_another_bank_is_flagged(flows):
    other = ExistingFinancing(
        "loan_b", "bank_b", None, frozenset({flows.invoices[0].key}), LoanState.DISBURSED
    )
    [alert] = monitor_fund_usage(replace(flows, other_financings=(other,)), AS_OF)
    assert alert.kind == "duplicate_financing" and alert.evidence["at_other_banks"] == 1
    assert "loan_b" not in json.dumps(alert.as_dict())
    assert Action.RECALL in alert.actions


def test_the_loan_itself_is_not_its_own_duplicate(flows):
    itself = ExistingFinancing("loan_1", "bank_a", "ord_1", frozenset(), LoanState.DISBURSED)
    assert monitor_fund_usage(replace(flows, other_financings=(itself,)), AS_OF) == ()


def test_related_dealer_and_supplier_are_flagged_as_circular_trade(flows):
    related = replace(flows, supplier=replace(flows.supplier, legal_representative_id="person_dealer_rep"))
    [alert] = monitor_fund_usage(related, AS_OF)
    assert alert.kind == "circular_trade" and alert.severity is Severity.CRITICAL
    assert alert.evidence["ties"][0]["kind"] == "legal_representative"


def test_a_weak_tie_is_a_circular_trade_warning(flows):
    links = (
        RelatedPartyLink("dlr_1", "x", LinkKind.SHARED_PHONE),
        RelatedPartyLink("x", "sup_1", LinkKind.CONTROLS),
    )
    [alert] = monitor_fund_usage(replace(flows, related_links=links), AS_OF)
    assert alert.kind == "circular_trade" and alert.severity is Severity.WARNING


def test_money_that_goes_round_back_to_the_dealer_is_circular_trade(flows):
    hops = (
        AccountTransfer(
            SUPPLIER_ACCOUNT, "6217 0000 9999 0001", Decimal("79000.00"), PAID_AT + timedelta(hours=2)
        ),
        AccountTransfer(
            "6217 0000 9999 0001", DEALER_ACCOUNT, Decimal("78500.00"), PAID_AT + timedelta(days=1)
        ),
    )
    [alert] = monitor_fund_usage(replace(flows, transfers=hops), AS_OF)
    assert alert.kind == "circular_trade" and alert.dedup_key == "loan:loan_1:circular_trade:round_trip:dsb_1"
    assert [hop["to"] for hop in alert.evidence["chain"]] == ["6217 0000 9999 0001", DEALER_ACCOUNT]


@pytest.mark.parametrize(
    "hops",
    [
        # too small to be the loan coming back
        (AccountTransfer(SUPPLIER_ACCOUNT, DEALER_ACCOUNT, Decimal("1000.00"), PAID_AT + timedelta(days=1)),),
        # before the disbursement: ordinary trade, not the loan
        (
            AccountTransfer(
                SUPPLIER_ACCOUNT, DEALER_ACCOUNT, Decimal("80000.00"), PAID_AT - timedelta(days=1)
            ),
        ),
        # hops out of time order cannot carry the same money
        (
            AccountTransfer(SUPPLIER_ACCOUNT, "A", Decimal("80000.00"), PAID_AT + timedelta(days=2)),
            AccountTransfer("A", DEALER_ACCOUNT, Decimal("80000.00"), PAID_AT + timedelta(days=1)),
        ),
        # after the window
        (
            AccountTransfer(
                SUPPLIER_ACCOUNT, DEALER_ACCOUNT, Decimal("80000.00"), PAID_AT + timedelta(days=31)
            ),
        ),
    ],
)
def test_transfers_that_cannot_be_the_loan_coming_back_are_ignored(flows, hops):
    assert monitor_fund_usage(replace(flows, transfers=hops), AS_OF) == ()


def test_dedup_keys_are_stable_between_runs(flows):
    diverted = replace(flows, disbursements=(replace(flows.disbursements[0], payee_account=DEALER_ACCOUNT),))
    first = [a.dedup_key for a in monitor_fund_usage(diverted, AS_OF)]
    later = [a.dedup_key for a in monitor_fund_usage(diverted, AS_OF + timedelta(days=1))]
    assert first == later and "loan:loan_1:funds_to_other_account:dsb_1" in first


def test_the_fund_usage_trace_lists_the_flows_in_time_order(flows):
    trace = fund_usage_trace(flows)
    assert [e["flow"] for e in trace] == ["invoice", "disbursement", "supplier_receipt", "delivery"]
    json.dumps(trace)
