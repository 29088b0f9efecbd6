"""The rule context of one decision (pure): the dealer's features plus the attributes the rules read.

The context holds every feature under its catalog name (``scoring.catalog``), then the documented rule
names (``risk_engine.rules.defaults.CONTEXT_NAMES``). Where a rule name is a feature under another name it
is derived here, once, so rules and models read the same figures:

======================== ==================================================================
rule name                derived from
======================== ==================================================================
dpd_current              the worse of ``current_days_past_due`` (oldest unpaid trade payment) and
                         ``loan_days_past_due`` (worst outstanding order loan, an attribute)
dpd_max_12m              ``max_payment_delay_days_12m``
prior_default            ``prior_loan_max_days_late`` > 90: more than 90 days past due, the Basel default
                         definition the order loans use (``loan_monitoring.delinquency``); false when
                         ``prior_loan_count`` is known and no loan has fallen due
licence_days_remaining   the dealer's licence expiry (a long-term licence: ``LONG_TERM_LICENCE_DAYS``)
business_age_months      the dealer's registration date (when the features do not carry it)
======================== ==================================================================

Attributes the service computes (consent, KYB, related-party flag, guarantor capacity, the requested
amount) override anything of the same name in the feature vector. Values are made JSON-exact: NaN and
``None`` become ``None`` (missing), numpy scalars and ``Decimal`` plain numbers — the context a decision
recorded (as JSON) then evaluates exactly as the live one did, which the simulation of a draft relies on.
Money in a rule is a threshold, not a balance: a float carries a CNY amount to the fen exactly up to 10^13.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

from loan_monitoring.delinquency import DEFAULT_AFTER_DAYS

LONG_TERM_LICENCE_DAYS = 36_500  # 营业期限长期: treated as a hundred years, never "unknown"

ZERO = Decimal("0.00")


def plain_value(value: Any) -> Any:
    """A context value as plain JSON data: None for missing (None or NaN), numbers as int or float."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Decimal):
        return None if value.is_nan() else float(value)
    if hasattr(value, "item") and not isinstance(value, numbers.Number | Decimal):
        value = value.item()  # numpy scalar
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return None if math.isnan(value) else value
    return value


def months_between(start: dt.date, end: dt.date) -> int:
    months = (end.year - start.year) * 12 + (end.month - start.month)
    return months - (1 if end.day < start.day else 0)


def licence_days_remaining(expires_on: dt.date | None, today: dt.date) -> int:
    return LONG_TERM_LICENCE_DAYS if expires_on is None else (expires_on - today).days


def build_context(features: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Features, the derived rule names, then the service's attributes (which win)."""
    context = {name: plain_value(value) for name, value in features.items()}

    def derive(name: str, value: Any) -> None:
        if context.get(name) is None and value is not None:
            context[name] = value

    context.update({name: plain_value(value) for name, value in attributes.items()})
    # days past due today: the worse of the dealer's oldest unpaid trade payment and its order loans
    trade, loans = context.get("current_days_past_due"), context.get("loan_days_past_due")
    derive("dpd_current", max((v for v in (trade, loans) if v is not None), default=None))
    derive("dpd_max_12m", context.get("max_payment_delay_days_12m"))
    late = context.get("prior_loan_max_days_late")
    if late is None and context.get("prior_loan_count") is not None:
        late = 0  # loan data supplied, but no order loan has fallen due: nothing was ever late
    derive("prior_default", None if late is None else late > DEFAULT_AFTER_DAYS)
    return context


def average_monthly_purchases(context: Mapping[str, Any]) -> Decimal:
    """Purchases per month over the last 12 months, or over the months on the platform when fewer.

    The capacity candidate of the limit policy multiplies this; a dealer with no purchase data gets 0.
    """
    amount = context.get("purchase_amount_12m")
    if amount is None:
        amount, months = context.get("purchase_amount_3m"), 3
    else:
        tenure = context.get("tenure_months")
        months = 12 if tenure is None else max(1, min(12, int(tenure)))
    if amount is None:
        return ZERO
    average = Decimal(str(amount)) / months
    return max(average, ZERO).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
