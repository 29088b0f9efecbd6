"""Early-warning signals (EWS) from a dealer's features and credit-line state, computed daily.

Each signal is a metric computed in code (``METRICS``) and a rule given as data
(``SignalRule``): a direction and levels, each level a threshold, a severity and the actions it
calls for. The most severe level the metric reaches wins. Rules load from and dump to plain
dicts (``EarlyWarningPolicy.from_dict``), so thresholds and actions are configuration, not code.

Inputs are the dealer's row of ``scoring.catalog`` features (names below), plus three figures the
catalog does not hold and the caller adds to the same mapping: ``loan_days_past_due`` (worst
order loan, from the daily delinquency job), ``guarantee_days_remaining`` and
``guarantor_capacity_used`` (``limits.guarantees.GuaranteeCapacity.used_share`` of the dealer's guarantor,
0..1; absent when the dealer has no guarantor or its guarantee has expired): ``loan_monitoring.jobs.
engine_features``.

Default policy (DOMAIN.md; thresholds are policy, not law):

============================  ==============================================  ==========================
signal                        metric (inputs)                                 levels
============================  ==============================================  ==========================
purchase_volume_drop          last 3 months vs the 3 before, in percent       ≤ −30 warning;
                              (``purchase_trend_3m``, e.g. −30.0)             ≤ −50 critical, notch
payment_delays_rising         mean days paid late, last 3 m − last 12 m       ≥ 5 warning;
                              (``mean_payment_delay_days_3m``/``_12m``)       ≥ 15 critical, notch
days_past_due                 worst order loan's DPD (``loan_days_past_due``)  ≥ 1 warning; ≥ 31 critical,
                                                                              freeze + notch; ≥ 91 also
                                                                              recall
trade_payments_past_due       oldest unpaid supplier bill, days               ≥ 30 warning; ≥ 90 critical,
                              (``current_days_past_due``)                     notch
return_spike                  return rate, last 3 m − last 12 m               ≥ 0.05 warning; ≥ 0.15
                              (``return_rate_3m``/``_12m``)                   critical, notch
dispute_spike                 dispute rate, last 3 m − last 12 m; disabled    ≥ 0.05 warning; ≥ 0.15
                              until the platform sends disputes               critical
licence_expiring              months until the licence expires                ≤ 2 warning; ≤ 0 critical,
                              (``licence_months_remaining``)                  freeze
guarantee_expiring            days until the guarantee expires                ≤ 30 warning; ≤ 0 critical,
                                                                              freeze
guarantor_capacity_exhausted  guarantor's used share of its capacity          ≥ 0.90 warning; ≥ 1
                                                                              critical, freeze
supplier_concentration        ``supplier_hhi_12m``                            ≥ 0.80 info
utilisation_pinned            exposure ÷ limit per line, or without lines     ≥ 0.95 warning; ≥ 1
                              ``credit_utilisation_mean_3m``                  critical, notch
============================  ==============================================  ==========================

A missing input (``None`` or NaN) makes its signal *unavailable*, reported as such, never silently
"fine" — except where the catalog says missing means "nothing to watch": a long-term licence, no
guarantee, no guarantor. Dedup keys: ``dealer:{id}:ews:{signal}``, and for a line signal
``…:{signal}:{bank_id}`` — one open alert per dealer and signal (per line for utilisation); see
``alerts.deduplicate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from limits import credit_line
from loan_monitoring.alerts import Action, Alert, Severity
from loan_monitoring.money import jsonable
from risk_engine.errors import InvalidInput


class Signal(StrEnum):
    PURCHASE_VOLUME_DROP = "purchase_volume_drop"
    PAYMENT_DELAYS_RISING = "payment_delays_rising"
    DAYS_PAST_DUE = "days_past_due"
    TRADE_PAYMENTS_PAST_DUE = "trade_payments_past_due"
    RETURN_SPIKE = "return_spike"
    DISPUTE_SPIKE = "dispute_spike"
    LICENCE_EXPIRING = "licence_expiring"
    GUARANTEE_EXPIRING = "guarantee_expiring"
    GUARANTOR_CAPACITY_EXHAUSTED = "guarantor_capacity_exhausted"
    SUPPLIER_CONCENTRATION = "supplier_concentration"
    UTILISATION_PINNED = "utilisation_pinned"


class Direction(StrEnum):
    AT_LEAST = "at_least"  # the signal fires when the metric is >= the threshold
    AT_MOST = "at_most"  # … when the metric is <= the threshold


# The inputs this module reads, by the names it uses for them: ``scoring.catalog`` names where the
# catalog has the figure; one place to adapt them.
FEATURES = {
    "purchase_trend_3m": "purchase_trend_3m",
    "mean_payment_delay_days_3m": "mean_payment_delay_days_3m",
    "mean_payment_delay_days_12m": "mean_payment_delay_days_12m",
    "current_days_past_due": "current_days_past_due",
    "return_rate_3m": "return_rate_3m",
    "return_rate_12m": "return_rate_12m",
    "licence_months_remaining": "licence_months_remaining",
    "supplier_hhi_12m": "supplier_hhi_12m",
    "credit_utilisation_mean_3m": "credit_utilisation_mean_3m",
    # not in the catalog: added by the caller
    "loan_days_past_due": "loan_days_past_due",
    "guarantee_days_remaining": "guarantee_days_remaining",
    "guarantor_capacity_used": "guarantor_capacity_used",
    "dispute_rate_3m": "dispute_rate_3m",
    "dispute_rate_12m": "dispute_rate_12m",
}


@dataclass(frozen=True)
class Level:
    severity: Severity
    threshold: Decimal
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class SignalRule:
    signal: Signal
    direction: Direction
    levels: tuple[Level, ...]
    enabled: bool = True

    def level_reached(self, metric: Decimal) -> Level | None:
        def reached(level: Level) -> bool:
            return (
                metric >= level.threshold
                if self.direction is Direction.AT_LEAST
                else metric <= level.threshold
            )

        # The most extreme threshold reached: highest for at_least, lowest for at_most.
        hits = sorted(
            (lv for lv in self.levels if reached(lv)),
            key=lambda lv: lv.threshold,
            reverse=self.direction is Direction.AT_LEAST,
        )
        return hits[0] if hits else None


@dataclass(frozen=True)
class EarlyWarningPolicy:
    rules: tuple[SignalRule, ...]

    def rule(self, signal: Signal) -> SignalRule | None:
        return next((r for r in self.rules if r.signal is signal), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EarlyWarningPolicy:
        """``{"days_past_due": {"direction": "at_least", "enabled": true, "levels": [{"severity":
        "warning", "threshold": "1", "actions": ["freeze_line"]}]}, …}``; thresholds as strings or ints."""
        rules = []
        for name, spec in data.items():
            try:
                levels = tuple(
                    Level(
                        Severity(lv["severity"]),
                        _decimal(lv["threshold"], f"{name}.threshold"),
                        tuple(Action(a) for a in lv.get("actions", ())),
                    )
                    for lv in spec["levels"]
                )
                rules.append(
                    SignalRule(
                        Signal(name), Direction(spec["direction"]), levels, bool(spec.get("enabled", True))
                    )
                )
            except (KeyError, TypeError, ValueError) as error:
                raise InvalidInput(
                    f"early-warning rule {name!r} is malformed: {error}", field=name, code="bad_ews_policy"
                ) from None
        return cls(tuple(rules))

    def to_dict(self) -> dict[str, Any]:
        return {
            r.signal.value: {
                "direction": r.direction.value,
                "enabled": r.enabled,
                "levels": [
                    {
                        "severity": lv.severity.value,
                        "threshold": str(lv.threshold),
                        "actions": [a.value for a in lv.actions],
                    }
                    for lv in r.levels
                ],
            }
            for r in self.rules
        }


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{name} is not a number")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{name} is not finite")
    return result


W, C, INFO = Severity.WARNING, Severity.CRITICAL, Severity.INFO
FREEZE, NOTCH, RECALL = Action.FREEZE_LINE, Action.NOTCH_GRADE, Action.RECALL
_AL, _AM = Direction.AT_LEAST, Direction.AT_MOST

DEFAULT_POLICY = EarlyWarningPolicy(
    (
        SignalRule(
            Signal.PURCHASE_VOLUME_DROP,
            _AM,
            (Level(W, Decimal(-30)), Level(C, Decimal(-50), (NOTCH,))),
        ),
        SignalRule(
            Signal.PAYMENT_DELAYS_RISING, _AL, (Level(W, Decimal(5)), Level(C, Decimal(15), (NOTCH,)))
        ),
        SignalRule(
            Signal.DAYS_PAST_DUE,
            _AL,
            (
                Level(W, Decimal(1)),
                Level(C, Decimal(31), (FREEZE, NOTCH)),
                Level(C, Decimal(91), (FREEZE, NOTCH, RECALL)),
            ),
        ),
        SignalRule(
            Signal.TRADE_PAYMENTS_PAST_DUE, _AL, (Level(W, Decimal(30)), Level(C, Decimal(90), (NOTCH,)))
        ),
        SignalRule(
            Signal.RETURN_SPIKE, _AL, (Level(W, Decimal("0.05")), Level(C, Decimal("0.15"), (NOTCH,)))
        ),
        SignalRule(
            Signal.DISPUTE_SPIKE, _AL, (Level(W, Decimal("0.05")), Level(C, Decimal("0.15"))), enabled=False
        ),
        SignalRule(Signal.LICENCE_EXPIRING, _AM, (Level(W, Decimal(2)), Level(C, Decimal(0), (FREEZE,)))),
        SignalRule(Signal.GUARANTEE_EXPIRING, _AM, (Level(W, Decimal(30)), Level(C, Decimal(0), (FREEZE,)))),
        SignalRule(
            Signal.GUARANTOR_CAPACITY_EXHAUSTED,
            _AL,
            (Level(W, Decimal("0.90")), Level(C, Decimal(1), (FREEZE,))),
        ),
        SignalRule(Signal.SUPPLIER_CONCENTRATION, _AL, (Level(INFO, Decimal("0.80")),)),
        SignalRule(
            Signal.UTILISATION_PINNED, _AL, (Level(W, Decimal("0.95")), Level(C, Decimal(1), (NOTCH,)))
        ),
    )
)


Features = Mapping[str, Any]


def _feature(features: Features, key: str) -> Decimal | None:
    value = features.get(FEATURES[key])
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None  # NaN from a feature pipeline means "unknown"


def _difference(a: str, b: str) -> Callable[[Features], Decimal | None]:
    def metric(features: Features) -> Decimal | None:
        x, y = _feature(features, a), _feature(features, b)
        return None if x is None or y is None else x - y

    return metric


def _single(key: str) -> Callable[[Features], Decimal | None]:
    return lambda features: _feature(features, key)


@dataclass(frozen=True)
class Metric:
    compute: Callable[[Features], Decimal | None]
    inputs: tuple[str, ...]  # keys of FEATURES, named in the evidence
    missing_means_not_applicable: bool = False  # e.g. a long-term licence never expires


def _single_metric(key: str, *, missing_means_not_applicable: bool = False) -> Metric:
    return Metric(_single(key), (key,), missing_means_not_applicable)


def _difference_metric(a: str, b: str) -> Metric:
    return Metric(_difference(a, b), (a, b))


# Dealer-level metrics; utilisation is computed per line in ``_utilisation_alerts``.
METRICS: dict[Signal, Metric] = {
    Signal.PURCHASE_VOLUME_DROP: _single_metric("purchase_trend_3m"),
    Signal.PAYMENT_DELAYS_RISING: _difference_metric(
        "mean_payment_delay_days_3m", "mean_payment_delay_days_12m"
    ),
    Signal.DAYS_PAST_DUE: _single_metric("loan_days_past_due"),
    Signal.TRADE_PAYMENTS_PAST_DUE: _single_metric("current_days_past_due"),
    Signal.RETURN_SPIKE: _difference_metric("return_rate_3m", "return_rate_12m"),
    Signal.DISPUTE_SPIKE: _difference_metric("dispute_rate_3m", "dispute_rate_12m"),
    Signal.LICENCE_EXPIRING: _single_metric("licence_months_remaining", missing_means_not_applicable=True),
    Signal.GUARANTEE_EXPIRING: _single_metric("guarantee_days_remaining", missing_means_not_applicable=True),
    Signal.GUARANTOR_CAPACITY_EXHAUSTED: _single_metric(
        "guarantor_capacity_used", missing_means_not_applicable=True
    ),
    Signal.SUPPLIER_CONCENTRATION: _single_metric("supplier_hhi_12m"),
}

_MESSAGES: dict[Signal, tuple[str, str]] = {
    Signal.PURCHASE_VOLUME_DROP: (
        "近3个月采购额较前3个月明显下降",
        "purchases over the last 3 months fell against the 3 before",
    ),
    Signal.PAYMENT_DELAYS_RISING: ("付款延迟天数上升", "payment delays are rising"),
    Signal.DAYS_PAST_DUE: ("订单贷存在逾期", "an order loan of the dealer is past due"),
    Signal.TRADE_PAYMENTS_PAST_DUE: ("对供应商的货款逾期未付", "bills to suppliers are long past due"),
    Signal.RETURN_SPIKE: ("退货率激增", "returns spiked"),
    Signal.DISPUTE_SPIKE: ("纠纷率激增", "disputes spiked"),
    Signal.LICENCE_EXPIRING: ("营业执照即将到期或已到期", "the business licence expires soon or has expired"),
    Signal.GUARANTEE_EXPIRING: ("担保即将到期或已到期", "the guarantee expires soon or has expired"),
    Signal.GUARANTOR_CAPACITY_EXHAUSTED: (
        "担保机构担保能力接近用尽",
        "the guarantor's capacity is (nearly) exhausted",
    ),
    Signal.SUPPLIER_CONCENTRATION: ("采购集中于单一供应商", "purchases are concentrated on one supplier"),
    Signal.UTILISATION_PINNED: (
        "授信额度使用率持续处于上限",
        "credit-line utilisation is pinned at the limit",
    ),
}


@dataclass(frozen=True)
class EarlyWarningResult:
    alerts: tuple[Alert, ...]
    unavailable: tuple[Signal, ...]  # enabled signals whose inputs were missing


def utilisation(line: credit_line.CreditLine) -> Decimal | None:
    return None if line.limit <= 0 else line.exposure / line.limit


def early_warning_signals(
    dealer_id: str,
    features: Features,
    lines: Mapping[str, credit_line.CreditLine] | None = None,
    policy: EarlyWarningPolicy = DEFAULT_POLICY,
) -> EarlyWarningResult:
    """The signals a dealer's features and lines (by bank id) raise today; deduplicate before
    raising them."""
    lines = lines or {}
    alerts: list[Alert] = []
    unavailable: list[Signal] = []
    for rule in policy.rules:
        if not rule.enabled:
            continue
        if rule.signal is Signal.UTILISATION_PINNED:
            found, missing = _utilisation_alerts(dealer_id, features, lines, rule)
            alerts += found
            unavailable += [rule.signal] if missing else []
            continue
        spec = METRICS[rule.signal]
        metric = spec.compute(features)
        if metric is None:
            if not spec.missing_means_not_applicable:
                unavailable.append(rule.signal)
            continue
        level = rule.level_reached(metric)
        if level is not None:
            evidence = {
                "metric": metric,
                "threshold": level.threshold,
                "direction": rule.direction,
                "features": {
                    FEATURES[k]: _feature(features, k)
                    for k in spec.inputs
                    if _feature(features, k) is not None
                },
            }
            alerts.append(_alert(dealer_id, rule.signal, level, evidence))
    return EarlyWarningResult(tuple(alerts), tuple(unavailable))


def _utilisation_alerts(
    dealer_id: str, features: Features, lines: Mapping[str, credit_line.CreditLine], rule: SignalRule
) -> tuple[list[Alert], bool]:
    if not lines:
        ratio = _feature(features, "credit_utilisation_mean_3m")
        if ratio is None:
            return [], True
        level = rule.level_reached(ratio)
        evidence = {"metric": ratio, "features": {FEATURES["credit_utilisation_mean_3m"]: ratio}}
        return (
            [_alert(dealer_id, rule.signal, level, {**evidence, "threshold": level.threshold})]
            if level
            else []
        ), False
    alerts = []
    for bank_id, line in sorted(lines.items()):
        ratio = utilisation(line)
        level = rule.level_reached(ratio) if ratio is not None else None
        if level is not None:
            alerts.append(
                _alert(
                    dealer_id,
                    rule.signal,
                    level,
                    {
                        "metric": ratio,
                        "threshold": level.threshold,
                        "limit": line.limit,
                        "reserved": line.reserved,
                        "utilised": line.utilised,
                        "line_status": line.status,
                    },
                    bank_id=bank_id,
                )
            )
    return alerts, False


def _alert(
    dealer_id: str, signal: Signal, level: Level, evidence: dict[str, Any], bank_id: str | None = None
) -> Alert:
    zh, en = _MESSAGES[signal]
    key = f"dealer:{dealer_id}:ews:{signal.value}" + (f":{bank_id}" if bank_id else "")
    return Alert(
        signal.value,
        level.severity,
        key,
        zh,
        en,
        jsonable({"signal": signal, **evidence}),
        level.actions,
        dealer_id=dealer_id,
        bank_id=bank_id,
    )
