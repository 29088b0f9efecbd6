"""The dealer feature catalog: what each model input means, in Chinese and English.

``CATALOG`` is ordered; ``scoring.features.compute_features`` returns exactly these columns in
this order. ``direction`` is the sign of the effect on the probability of default where it is
known from credit practice (+1: a higher value never lowers the risk, -1: never raises it) and 0
where it is not — only nonzero directions become XGBoost monotone constraints, so a direction is
set only where a reversal would be a modelling error (more days past due, a better on-time ratio,
longer tenure...), never for volume, growth or concentration, whose effect is not monotone.
``missing`` says what a missing value (NaN) means; the model receives NaN, not an imputed value.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

Unit = Literal["cny", "count", "ratio", "percent_change", "days", "months", "per_month", "hhi"]
WINDOWS = (3, 6, 12)


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    zh: str
    en: str
    window_months: int | None
    unit: Unit
    direction: Literal[-1, 0, 1]
    missing: str

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"{self.name}: direction must be -1, 0 or +1")


def _windowed(
    stem: str, zh: str, en: str, unit: Unit, direction: Literal[-1, 0, 1], missing: str
) -> list[FeatureSpec]:
    return [
        FeatureSpec(
            name=f"{stem}_{w}m",
            zh=zh.format(w=w),
            en=en.format(w=w),
            window_months=w,
            unit=unit,
            direction=direction,
            missing=missing,
        )
        for w in WINDOWS
    ]


_NO_PURCHASES = "no purchase in the window"
_NO_DUE = "no trade payment fell due in the window"
_SPECS: list[FeatureSpec] = [
    *_windowed(
        "purchase_amount",
        "近{w}个月采购金额",
        "purchase amount, last {w} months",
        "cny",
        0,
        "never missing: 0 when nothing was bought",
    ),
    *_windowed(
        "purchase_count",
        "近{w}个月采购笔数",
        "number of purchase orders, last {w} months",
        "count",
        0,
        "never missing: 0 when nothing was bought",
    ),
    *_windowed(
        "purchase_frequency",
        "近{w}个月月均采购笔数",
        "orders per month on the platform, last {w} months",
        "per_month",
        0,
        "the dealer was not yet onboarded",
    ),
    *_windowed(
        "active_month_ratio",
        "近{w}个月有采购的月份占比",
        "share of full months with at least one order, last {w} months",
        "ratio",
        0,
        "no full calendar month on the platform inside the window",
    ),
    *_windowed(
        "average_order_value",
        "近{w}个月平均订单金额",
        "average order value, last {w} months",
        "cny",
        0,
        _NO_PURCHASES,
    ),
    *_windowed(
        "on_time_payment_ratio",
        "近{w}个月按时付款比例",
        "share of payments made on time, last {w} months",
        "ratio",
        -1,
        _NO_DUE,
    ),
    *_windowed(
        "mean_payment_delay_days",
        "近{w}个月平均逾期天数",
        "mean days paid late (unpaid: late so far), last {w} months",
        "days",
        1,
        _NO_DUE,
    ),
    *_windowed(
        "max_payment_delay_days",
        "近{w}个月最长逾期天数",
        "longest payment delay in days (unpaid: late so far), last {w} months",
        "days",
        1,
        _NO_DUE,
    ),
    *_windowed(
        "return_rate",
        "近{w}个月退货率",
        "returned amount over purchased amount, last {w} months",
        "ratio",
        1,
        "no purchase in the window, or no return data supplied",
    ),
    *_windowed(
        "supplier_hhi",
        "近{w}个月供应商集中度（HHI）",
        "supplier concentration (Herfindahl index of purchase shares), last {w} months",
        "hhi",
        0,
        _NO_PURCHASES,
    ),
    *_windowed(
        "invoice_match_ratio",
        "近{w}个月发票与订单一致比例",
        "share of invoices agreeing with their order (amount, buyer, seller, date), last {w} months",
        "ratio",
        -1,
        "no invoice issued in the window, or no invoice data supplied",
    ),
    FeatureSpec(
        "purchase_trend_3m",
        "近3个月采购额较前3个月变化",
        "purchases of the last 3 months vs the 3 before",
        6,
        "percent_change",
        0,
        "fewer than 6 full months on the platform, or no purchase in the earlier 3",
    ),
    FeatureSpec(
        "purchase_trend_6m",
        "近6个月采购额较前6个月变化",
        "purchases of the last 6 months vs the 6 before",
        12,
        "percent_change",
        0,
        "fewer than 12 full months on the platform, or no purchase in the earlier 6",
    ),
    FeatureSpec(
        "seasonally_adjusted_trend_3m",
        "季节调整后近3个月采购额变化",
        "last 3 months vs the 3 before, each month scaled by the industry's platform-wide activity "
        "(removes the Spring Festival dip and industry seasons)",
        6,
        "percent_change",
        0,
        "fewer than 6 full months on the platform, or no purchase in the earlier 3",
    ),
    FeatureSpec(
        "purchase_volatility_6m",
        "近6个月采购额波动系数",
        "coefficient of variation of monthly purchases, last 6 months",
        6,
        "ratio",
        0,
        "fewer than 3 full months on the platform in the window, or nothing bought",
    ),
    FeatureSpec(
        "purchase_volatility_12m",
        "近12个月采购额波动系数",
        "coefficient of variation of monthly purchases, last 12 months",
        12,
        "ratio",
        0,
        "fewer than 3 full months on the platform in the window, or nothing bought",
    ),
    FeatureSpec(
        "days_since_last_order",
        "距最近一次采购天数",
        "days since the last purchase order",
        None,
        "days",
        1,
        "the dealer never placed an order",
    ),
    FeatureSpec(
        "tenure_months",
        "平台合作月数",
        "months since onboarding on the platform",
        None,
        "months",
        -1,
        "the dealer was not yet onboarded",
    ),
    FeatureSpec(
        "business_age_months",
        "企业成立月数",
        "months since the business was registered",
        None,
        "months",
        -1,
        "registration date unknown",
    ),
    FeatureSpec(
        "licence_months_remaining",
        "营业执照剩余有效月数",
        "months until the business licence expires (negative: expired)",
        None,
        "months",
        -1,
        "long-term licence without expiry date (营业期限长期)",
    ),
    FeatureSpec(
        "current_days_past_due",
        "当前逾期天数",
        "days past due of the oldest unpaid trade payment today",
        None,
        "days",
        1,
        "never missing: 0 when nothing is overdue",
    ),
    FeatureSpec(
        "credit_utilisation_mean_3m",
        "近3个月授信平均使用率",
        "mean of month-end outstanding order loans over the credit limit, last 3 months",
        3,
        "ratio",
        1,
        "no credit line during the window, or no credit-line data supplied",
    ),
    FeatureSpec(
        "credit_utilisation_mean_12m",
        "近12个月授信平均使用率",
        "mean of month-end outstanding order loans over the credit limit, last 12 months",
        12,
        "ratio",
        1,
        "no credit line during the window, or no credit-line data supplied",
    ),
    FeatureSpec(
        "credit_utilisation_max_12m",
        "近12个月授信最高使用率",
        "highest month-end utilisation of the credit limit, last 12 months",
        12,
        "ratio",
        1,
        "no credit line during the window, or no credit-line data supplied",
    ),
    FeatureSpec(
        "prior_loan_count",
        "历史订单贷笔数",
        "order loans disbursed before today",
        None,
        "count",
        0,
        "no loan data supplied",
    ),
    FeatureSpec(
        "prior_loan_late_ratio",
        "历史订单贷逾期比例",
        "share of order loans already due that were repaid late or are still unpaid",
        None,
        "ratio",
        1,
        "no order loan has fallen due yet, or no loan data supplied",
    ),
    FeatureSpec(
        "prior_loan_max_days_late",
        "历史订单贷最长逾期天数",
        "longest delay in days of an order loan repayment (unpaid: late so far)",
        None,
        "days",
        1,
        "no order loan has fallen due yet, or no loan data supplied",
    ),
]

CATALOG: OrderedDict[str, FeatureSpec] = OrderedDict((spec.name, spec) for spec in _SPECS)
if len(CATALOG) != len(_SPECS):
    raise RuntimeError("duplicate feature name in the catalog")

FEATURE_NAMES: tuple[str, ...] = tuple(CATALOG)


def monotone_constraints() -> dict[str, int]:
    """``{name: +1 | -1}`` for every feature whose direction is known (XGBoost ``monotone_constraints``)."""
    return {name: spec.direction for name, spec in CATALOG.items() if spec.direction != 0}
