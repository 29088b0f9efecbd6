"""The checks an order-loan application must pass before approval.

``check_order_loan`` runs every check and returns them all, named, with a Chinese and an English
reason and the field at fault, plus the outcome (``checks.combine``):

=====================================  ==========  ================================================
check                                  on failure  why
=====================================  ==========  ================================================
order_exists                           decline     nothing to finance
order_belongs_to_dealer                decline     a dealer may only finance its own purchases
order_financeable                      decline     confirmed (or shipped / delivered) and unpaid;
                                                   not placed-only, cancelled, returned or settled
order_not_already_financed             decline     duplicate financing (一女多嫁), any bank
invoice_not_already_financed           decline     duplicate financing of the invoice, any bank
invoice_matches_order                  refer       amount / buyer / seller / date mismatch is often
                                                   a clerical error a person can clear
amount_within_loan_to_order_ratio      decline     the bank's product term
supplier_whitelisted                   decline     the bank lends only against whitelisted sellers
supplier_not_related_to_dealer         decline if  shared owner, legal representative or account;
                                       strong,     a shared address / phone or a tie through an
                                       else refer  intermediary is referred
tenor_within_product_range             decline     the bank's product term
apr_within_cap                         decline     4 × the one-year LPR in force on the Beijing date
                                                   of the decision, when the contract is made (law;
                                                   the platform's ``applied_at`` is only information)
                                       refer       that date is past the LPR table's confirmed date
                                                   plus the grace: the rate in force is not known
credit_line_active                     decline     no lending on a frozen, closed or expired line
credit_line_has_available_credit       decline     a limit increase is a separate request
=====================================  ==========  ================================================

Checks that cannot run because what they need is missing (no order, no invoice yet) are
``skipped`` and say why. Malformed input (a negative amount, a naive datetime, a product of another
bank) is not a check failure: it raises ``InvalidInput``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from limits import credit_line
from loan_monitoring import lpr
from loan_monitoring.checks import CheckResult, OnFailure, Outcome, combine, failed, passed, skipped
from loan_monitoring.dates import business_date, require_aware
from loan_monitoring.money import CENT, ZERO, jsonable, percent, require_money, require_rate
from loan_monitoring.parties import Dealer, RelatedPartyLink, Supplier, relationship
from loan_monitoring.repayment import DayCount, annual_equivalent
from loan_monitoring.trade import (
    FINANCEABLE_ORDER_STATUSES,
    ExistingFinancing,
    Invoice,
    PurchaseOrder,
    duplicate_evidence,
    duplicate_financings,
    invoice_contradictions,
)
from risk_engine.errors import InvalidInput

D, R = OnFailure.DECLINE, OnFailure.REFER


@dataclass(frozen=True)
class OrderLoanApplication:
    application_id: str
    dealer_id: str
    bank_id: str
    order_id: str
    amount: Decimal
    tenor_days: int
    applied_at: datetime  # aware; the platform's word, kept as information (the decision time picks the LPR)
    invoice_key: str | None = None  # trade.invoice_key(code, number) of the invoice it names, if any
    upfront_fees: Decimal = ZERO  # one-off fees the borrower pays (service, guarantee), CNY


@dataclass(frozen=True)
class BankProduct:
    bank_id: str
    apr: Decimal  # contract annual rate incl. annual fees, e.g. Decimal("0.065")
    loan_to_order_ratio: Decimal = Decimal("0.80")
    min_tenor_days: int = 30
    max_tenor_days: int = 180
    day_count: DayCount = DayCount.ACT_365
    apr_cap_multiple: Decimal = lpr.CAP_MULTIPLE


@dataclass(frozen=True)
class LoanCheckResult:
    application_id: str
    outcome: Outcome
    checks: tuple[CheckResult, ...]
    amount: Decimal
    max_amount_by_ratio: Decimal | None  # None when the order is missing
    all_in_apr: Decimal  # per 365-day year, fees included
    apr_cap: Decimal
    lpr: Decimal
    lpr_effective_date: date
    decided_at: datetime
    lpr_confirmed_through: date | None = None  # how far the LPR table was known complete

    @property
    def reserve_amount(self) -> Decimal:
        """What approval reserves on the line; a referral reserves only when an officer approves."""
        return self.amount if self.outcome is Outcome.APPROVE else ZERO

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.failed)

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def explanation(self) -> dict[str, Any]:
        return jsonable(
            {
                "application_id": self.application_id,
                "outcome": self.outcome,
                "amount": self.amount,
                "max_amount_by_ratio": self.max_amount_by_ratio,
                "all_in_apr": self.all_in_apr,
                "apr_cap": self.apr_cap,
                "lpr": self.lpr,
                "lpr_effective_date": self.lpr_effective_date,
                "lpr_confirmed_through": self.lpr_confirmed_through,
                "decided_at": self.decided_at,
                "checks": [c.as_dict() for c in self.checks],
            }
        )


def all_in_apr(application: OrderLoanApplication, product: BankProduct) -> Decimal:
    """Contract rate per 365-day year plus one-off fees spread over the tenor, rounded *up* to six
    places so that rounding can never carry a rate over the cap."""
    rate = annual_equivalent(product.apr, product.day_count)
    fees = application.upfront_fees / application.amount * Decimal(365) / Decimal(application.tenor_days)
    return (rate + fees).quantize(Decimal("0.000001"), rounding=ROUND_UP)


def _validate(application: OrderLoanApplication, product: BankProduct, as_of: datetime) -> None:
    require_money(application.amount, "amount", positive=True)
    require_money(application.upfront_fees, "upfront_fees")
    if (
        not isinstance(application.tenor_days, int)
        or isinstance(application.tenor_days, bool)
        or application.tenor_days <= 0
    ):
        raise InvalidInput(
            "tenor_days must be a positive whole number of days",
            field="tenor_days",
            code="tenor_out_of_range",
        )
    require_aware(application.applied_at, "applied_at")
    require_aware(as_of, "as_of")
    require_rate(product.apr, "bank_product.apr")
    if product.bank_id != application.bank_id:
        raise InvalidInput(
            f"product of bank {product.bank_id} used for an application to {application.bank_id}",
            field="bank_id",
            code="bank_mismatch",
        )


def check_order_loan(
    application: OrderLoanApplication,
    order: PurchaseOrder | None,
    invoice: Invoice | None,
    supplier: Supplier | None,
    dealer: Dealer,
    bank_product: BankProduct,
    line: credit_line.CreditLine | None,
    existing_financings: Sequence[ExistingFinancing],
    related_links: Sequence[RelatedPartyLink],
    lpr_table: lpr.LprTable | None,
    as_of: datetime,
    *,
    lpr_grace_days: int = lpr.DEFAULT_GRACE_DAYS,
) -> LoanCheckResult:
    """Every check on ``application`` decided at ``as_of``: the contract is made then, so its Beijing date
    picks the LPR (``lpr_table``, default the bundled one), trusted up to ``lpr_grace_days`` after the date
    the table is confirmed through."""
    _validate(application, bank_product, as_of)
    checks: list[CheckResult] = []
    checks += _order_checks(application, order)
    checks += _duplicate_checks(application, invoice, existing_financings)
    checks.append(_invoice_check(application, order, invoice, dealer, supplier))
    ratio_check, max_amount = _ratio_check(application, order, bank_product)
    checks.append(ratio_check)
    checks += _supplier_checks(order, supplier, dealer, related_links)
    checks.append(_tenor_check(application, bank_product))
    table = lpr_table or lpr.default_lpr_table()
    apr_check, apr, cap, fixing = _apr_check(application, bank_product, table, as_of, lpr_grace_days)
    checks.append(apr_check)
    checks += _line_checks(application, line, business_date(as_of))
    return LoanCheckResult(
        application.application_id,
        combine(checks),
        tuple(checks),
        application.amount,
        max_amount,
        apr,
        cap,
        fixing.rate,
        fixing.effective_date,
        as_of,
        table.known_through,
    )


_NO_ORDER = ("订单不存在，无法检查", "the order was not found, so this cannot be checked")


def _order_checks(application: OrderLoanApplication, order: PurchaseOrder | None) -> list[CheckResult]:
    if order is None:
        return [
            failed(
                "order_exists",
                D,
                "order_id",
                f"订单 {application.order_id} 不存在",
                f"order {application.order_id} does not exist",
                order_id=application.order_id,
            ),
            skipped("order_belongs_to_dealer", D, "order_id", *_NO_ORDER),
            skipped("order_financeable", D, "order_id", *_NO_ORDER),
        ]
    checks = [passed("order_exists", D, "order_id", order_id=order.order_id)]
    if order.dealer_id == application.dealer_id:
        checks.append(passed("order_belongs_to_dealer", D, "order_id"))
    else:
        checks.append(
            failed(
                "order_belongs_to_dealer",
                D,
                "order_id",
                "订单不属于申请经销商",
                "the order belongs to another dealer",
                order_id=order.order_id,
            )
        )
    if order.status in FINANCEABLE_ORDER_STATUSES and not order.settled:
        checks.append(passed("order_financeable", D, "order_id", order_status=order.status))
    else:
        state_zh, state_en = (
            ("已结清", "settled") if order.settled else (order.status.value, order.status.value)
        )
        checks.append(
            failed(
                "order_financeable",
                D,
                "order_id",
                f"订单状态为 {state_zh}，只有已确认且未结清的订单可融资",
                f"the order is {state_en}; only confirmed, unsettled orders can be financed",
                order_status=order.status,
                settled=order.settled,
            )
        )
    return checks


def _duplicate_checks(
    application: OrderLoanApplication, invoice: Invoice | None, financings: Sequence[ExistingFinancing]
) -> list[CheckResult]:
    common = {
        "bank_id": application.bank_id,
        "financings": financings,
        "exclude_loan_id": application.application_id,
    }
    by_order = duplicate_financings(order_id=application.order_id, invoice_keys=(), **common)
    checks = [
        failed(
            "order_not_already_financed",
            D,
            "order_id",
            "该订单已在本行或他行融资（重复融资）",
            "the order is already financed at this or another bank (duplicate financing)",
            **duplicate_evidence(by_order),
        )
        if by_order
        else passed("order_not_already_financed", D, "order_id")
    ]
    key = invoice.key if invoice else application.invoice_key
    if key is None:
        checks.append(skipped("invoice_not_already_financed", D, "invoice_key", "尚无发票", "no invoice yet"))
        return checks
    # A loan on the order the invoice bills finances that invoice too (as fund-usage monitoring counts it).
    billed_order = invoice.order_id if invoice is not None and invoice.order_id != application.order_id else None
    by_invoice = duplicate_financings(order_id=billed_order, invoice_keys=(key,), **common)
    checks.append(
        failed(
            "invoice_not_already_financed",
            D,
            "invoice_key",
            "该发票已在本行或他行融资（重复融资）",
            "the invoice is already financed at this or another bank (duplicate financing)",
            **duplicate_evidence(by_invoice),
        )
        if by_invoice
        else passed("invoice_not_already_financed", D, "invoice_key", invoice_key=key)
    )
    return checks


def _invoice_check(
    application: OrderLoanApplication,
    order: PurchaseOrder | None,
    invoice: Invoice | None,
    dealer: Dealer,
    supplier: Supplier | None,
) -> CheckResult:
    name = "invoice_matches_order"
    if invoice is None:
        if application.invoice_key is not None:
            return failed(
                name,
                R,
                "invoice_key",
                f"发票 {application.invoice_key} 未找到",
                f"invoice {application.invoice_key} was not found",
                invoice_key=application.invoice_key,
            )
        return skipped(name, R, "invoice_key", "尚无发票", "no invoice yet")
    if order is None or supplier is None:
        return skipped(name, R, "invoice_key", *_NO_ORDER)
    contradictions = invoice_contradictions(invoice, order, dealer, supplier)
    if not contradictions:
        return passed(name, R, "invoice_key", invoice_key=invoice.key)
    fields = ", ".join(c.field for c in contradictions)
    return failed(
        name,
        R,
        "invoice_key",
        f"发票与订单不一致：{fields}",
        f"the invoice contradicts the order: {fields}",
        invoice_key=invoice.key,
        contradictions=[
            {"field": c.field, "invoice": c.invoice_value, "order": c.order_value} for c in contradictions
        ],
    )


def _ratio_check(
    application: OrderLoanApplication, order: PurchaseOrder | None, product: BankProduct
) -> tuple[CheckResult, Decimal | None]:
    name = "amount_within_loan_to_order_ratio"
    if order is None:
        return skipped(name, D, "amount", *_NO_ORDER), None
    max_amount = (order.amount * product.loan_to_order_ratio).quantize(CENT, rounding=ROUND_DOWN)
    evidence = {
        "amount": application.amount,
        "order_amount": order.amount,
        "loan_to_order_ratio": product.loan_to_order_ratio,
        "max_amount": max_amount,
    }
    if application.amount <= max_amount:
        return passed(name, D, "amount", **evidence), max_amount
    return failed(
        name,
        D,
        "amount",
        f"申请金额 {application.amount} 超过订单金额的 {percent(product.loan_to_order_ratio)}"
        f"（上限 {max_amount}）",
        f"amount {application.amount} exceeds {percent(product.loan_to_order_ratio)} of the order "
        f"(at most {max_amount})",
        **evidence,
    ), max_amount


def _supplier_checks(
    order: PurchaseOrder | None, supplier: Supplier | None, dealer: Dealer, links: Sequence[RelatedPartyLink]
) -> list[CheckResult]:
    if supplier is None or (order is not None and supplier.supplier_id != order.supplier_id):
        why = ("订单的供应商未知", "the order's supplier is unknown") if order is not None else _NO_ORDER
        return [
            failed("supplier_whitelisted", D, "supplier_id", *why)
            if order is not None
            else skipped("supplier_whitelisted", D, "supplier_id", *why),
            skipped("supplier_not_related_to_dealer", D, "supplier_id", *why),
        ]
    checks = [
        passed("supplier_whitelisted", D, "supplier_id", supplier_id=supplier.supplier_id)
        if supplier.whitelisted
        else failed(
            "supplier_whitelisted",
            D,
            "supplier_id",
            "供应商不在白名单内",
            "the supplier is not whitelisted",
            supplier_id=supplier.supplier_id,
        )
    ]
    related = relationship(dealer, supplier, links)
    if not related.related:
        checks.append(passed("supplier_not_related_to_dealer", D, "supplier_id"))
    else:
        on_failure = D if related.strong else R
        kinds = ", ".join(sorted({t.kind.value for t in related.ties}))
        checks.append(
            failed(
                "supplier_not_related_to_dealer",
                on_failure,
                "supplier_id",
                f"供应商与经销商存在关联关系（{kinds}），疑似自融",
                f"the supplier is related to the dealer ({kinds}): possible self-financing",
                ties=related.as_evidence(),
                strong=related.strong,
            )
        )
    return checks


def _tenor_check(application: OrderLoanApplication, product: BankProduct) -> CheckResult:
    evidence = {
        "tenor_days": application.tenor_days,
        "min_tenor_days": product.min_tenor_days,
        "max_tenor_days": product.max_tenor_days,
    }
    if product.min_tenor_days <= application.tenor_days <= product.max_tenor_days:
        return passed("tenor_within_product_range", D, "tenor_days", **evidence)
    return failed(
        "tenor_within_product_range",
        D,
        "tenor_days",
        f"期限 {application.tenor_days} 天不在产品范围 "
        f"{product.min_tenor_days}–{product.max_tenor_days} 天内",
        f"tenor of {application.tenor_days} days is outside the product's "
        f"{product.min_tenor_days}–{product.max_tenor_days} days",
        **evidence,
    )


def _apr_check(
    application: OrderLoanApplication, product: BankProduct, table: lpr.LprTable, as_of: datetime, grace_days: int
) -> tuple[CheckResult, Decimal, Decimal, lpr.LprFixing]:
    contract_date = business_date(as_of)
    fixing = table.fixing_on(contract_date)
    cap = Decimal(product.apr_cap_multiple) * fixing.rate
    apr = all_in_apr(application, product)
    current = table.is_current_on(contract_date, grace_days)
    evidence = {
        "all_in_apr": apr,
        "apr_cap": cap,
        "lpr": fixing.rate,
        "lpr_effective_date": fixing.effective_date,
        "lpr_confirmed_through": table.known_through,
        "lpr_current_until": table.current_until(grace_days),
        "lpr_current": current,
        "cap_multiple": product.apr_cap_multiple,
        "day_count": product.day_count,
        "contract_date": contract_date,
        "applied_on": business_date(application.applied_at),
    }
    if not current:
        return (
            failed(
                "apr_within_cap",
                R,
                "apr",
                f"一年期LPR表仅确认至 {table.known_through}，合同日 {contract_date} 适用的LPR未知，"
                f"需风控专员确认利率：按最近已知LPR {percent(fixing.rate)}（{fixing.effective_date} 起）"
                f"上限为 {percent(cap)}，综合年化利率 {percent(apr)}",
                f"the one-year LPR table is confirmed only through {table.known_through}: the LPR in force "
                f"on the contract date {contract_date} is not known, so a risk officer must confirm the rate; "
                f"at the last known LPR {percent(fixing.rate)} (from {fixing.effective_date}) the cap is "
                f"{percent(cap)}, the all-in APR is {percent(apr)}",
                **evidence,
            ),
            apr,
            cap,
            fixing,
        )
    if apr <= cap:
        return passed("apr_within_cap", D, "apr", **evidence), apr, cap, fixing
    return (
        failed(
            "apr_within_cap",
            D,
            "apr",
            f"综合年化利率 {percent(apr)} 超过一年期LPR的{product.apr_cap_multiple}倍（{percent(cap)}）",
            f"all-in APR {percent(apr)} exceeds {product.apr_cap_multiple}× the one-year LPR "
            f"({percent(cap)})",
            **evidence,
        ),
        apr,
        cap,
        fixing,
    )


def _line_checks(
    application: OrderLoanApplication, line: credit_line.CreditLine | None, today: date
) -> list[CheckResult]:
    if line is None:
        return [
            failed(
                "credit_line_active",
                D,
                "line",
                "经销商在本行没有授信额度",
                "the dealer has no credit line at this bank",
            ),
            skipped("credit_line_has_available_credit", D, "amount", "没有授信额度", "no credit line"),
        ]
    checks = []
    if line.status is not credit_line.LineStatus.ACTIVE:
        checks.append(
            failed(
                "credit_line_active",
                D,
                "line",
                f"授信额度状态为 {line.status.value}",
                f"the credit line is {line.status.value}",
                line_status=line.status,
            )
        )
    elif line.is_expired(today):
        checks.append(
            failed(
                "credit_line_active",
                D,
                "line",
                f"授信额度已于 {line.expires_on} 到期",
                f"the credit line expired on {line.expires_on}",
                expires_on=line.expires_on,
            )
        )
    else:
        checks.append(passed("credit_line_active", D, "line", line_status=line.status))
    evidence = {
        "amount": application.amount,
        "limit": line.limit,
        "reserved": line.reserved,
        "utilised": line.utilised,
        "available": line.available,
    }
    if application.amount <= line.available:
        checks.append(passed("credit_line_has_available_credit", D, "amount", **evidence))
    else:
        checks.append(
            failed(
                "credit_line_has_available_credit",
                D,
                "amount",
                f"可用额度 {line.available} 不足申请金额 {application.amount}",
                f"available credit {line.available} is less than the amount {application.amount}",
                **evidence,
            )
        )
    return checks
