"""Reason codes: the factors that most raised an applicant's risk, said in Chinese and English.

A catalog describes features: ``{name: {"zh": ..., "en": ..., "unit": ..., "direction": ...}}``
(``scoring.catalog.CATALOG``, whose entries are objects with those attributes; plain mappings work
too, and a feature missing from the catalog is named by its raw column name). ``direction`` is +1
when a higher value means more risk, −1 when a lower value does.

The sentence comes from a template chosen by the feature's unit (``ratio`` 0.62 → 62%,
``percent_change`` in percent points −62 → "down 62%", ``days``, ``count``, ``months``, ``cny``,
``per_month``, ``hhi``). A catalog label may instead be a whole template itself, using ``{value}``
(the formatted value), ``{change}`` (``下降``/``上升`` or ``down``/``up``) and ``{level}``
(``偏高``/``偏低`` or ``high``/``low``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

#: How a unit's value is written, per language.
_FORMATS: dict[str, Callable[[float], tuple[str, str]]] = {
    "ratio": lambda v: (f"{v * 100:.0f}%", f"{v * 100:.0f}%"),  # 0.62 → 62%
    "percent": lambda v: (f"{v:.0f}%", f"{v:.0f}%"),  # 62 → 62%
    "percent_change": lambda v: (f"{abs(v):.0f}%", f"{abs(v):.0f}%"),  # −62 (percent points) → 62% (down)
    "days": lambda v: (f"{v:.0f}天", f"{v:.0f} days"),
    "count": lambda v: (f"{v:.0f}次", f"{v:.0f}"),
    "months": lambda v: (f"{v:.0f}个月", f"{v:.0f} months"),
    "cny": lambda v: (f"{v:,.2f}元", f"CNY {v:,.2f}"),
    "per_month": lambda v: (f"{v:.1f}笔/月", f"{v:.1f} a month"),
    "hhi": lambda v: (f"{v:.2f}", f"{v:.2f}"),
}
_FORMATS["amount"] = _FORMATS["cny"]

#: Sentences (zh, en) with {label}, {value}, {level}, {change}: changes say which way they went,
#: other units whether the value is high or low (by the feature's direction).
_TEMPLATES: dict[str, tuple[str, str]] = {
    "percent_change": ("{label}{change}{value}", "{label}: {change} {value}"),
}
_LEVEL_TEMPLATE = ("{label}{level}（{value}）", "{label}: {value} ({level})")
_DEFAULT_TEMPLATE = ("{label}为{value}", "{label}: {value}")
_MISSING_TEMPLATE = ("{label}缺失", "{label}: missing")
_LEVEL = {1: ("偏高", "high"), -1: ("偏低", "low"), 0: ("", "")}
_CHANGE = {True: ("下降", "down"), False: ("上升", "up")}


def adverse_factors(
    contributions: Mapping[str, float],
    values: Mapping[str, Any],
    catalog: Mapping[str, Any] | None = None,
    *,
    top_n: int = 4,
    min_contribution: float = 1e-9,
) -> list[dict[str, Any]]:
    """The ``top_n`` features with the largest positive contribution (those that raised the risk),
    largest first: ``{feature, value, contribution, zh, en}``. Ties break by feature name."""
    catalog = catalog or {}
    raised = sorted(
        ((c, f) for f, c in contributions.items() if c > min_contribution),
        key=lambda item: (-item[0], item[1]),
    )[:top_n]
    return [
        {
            "feature": feature,
            "value": _plain(values.get(feature)),
            "contribution": float(contribution),
            **describe(feature, values.get(feature), catalog.get(feature)),
        }
        for contribution, feature in raised
    ]


def describe(feature: str, value: Any, entry: Any) -> dict[str, str]:
    """The zh and en sentence for one feature at one value."""
    label_zh = str(_field(entry, "zh") or feature)
    label_en = str(_field(entry, "en") or feature)
    unit = str(_field(entry, "unit") or "")
    direction = _direction(_field(entry, "direction"))
    if unit == "percent_change" and label_zh.endswith("变化") and len(label_zh) > len("变化"):
        label_zh = label_zh[: -len("变化")]  # "…较前3个月变化" + "下降62%" reads "…较前3个月下降62%"
    number = _number(value)
    if value is None or (number is not None and math.isnan(number)):
        return _fill(_MISSING_TEMPLATE, label_zh, label_en, "", "", direction, False)
    if number is None:  # a category
        return _fill(_DEFAULT_TEMPLATE, label_zh, label_en, str(value), str(value), direction, False)
    fmt = _FORMATS.get(unit)
    value_zh, value_en = fmt(number) if fmt else (_general(number), _general(number))
    template = _TEMPLATES.get(unit, _LEVEL_TEMPLATE if direction else _DEFAULT_TEMPLATE)
    return _fill(template, label_zh, label_en, value_zh, value_en, direction, number < 0)


def _fill(
    template: tuple[str, str],
    label_zh: str,
    label_en: str,
    value_zh: str,
    value_en: str,
    direction: int,
    falling: bool,
) -> dict[str, str]:
    slots_zh = {"value": value_zh, "level": _LEVEL[direction][0], "change": _CHANGE[falling][0]}
    slots_en = {"value": value_en, "level": _LEVEL[direction][1], "change": _CHANGE[falling][1]}
    return {
        "zh": _sentence(template[0], label_zh, slots_zh),
        "en": _sentence(template[1], label_en, slots_en),
    }


def _sentence(template: str, label: str, slots: dict[str, str]) -> str:
    if "{value}" in label:  # a label that is itself a template is the whole sentence
        try:
            return label.format(**slots)
        except (KeyError, IndexError, ValueError):
            pass  # braces that were not meant as slots: use the label as plain text
    return template.format(label=label, **slots)


def _field(entry: Any, name: str) -> Any:
    """A catalog entry may be a mapping or an object with attributes (``FeatureSpec``)."""
    if entry is None:
        return None
    if isinstance(entry, Mapping):
        return entry.get(name)
    return getattr(entry, name, None)


def _direction(raw: Any) -> int:
    if raw in (None, "", 0):
        return 0
    if isinstance(raw, str):
        return {
            "+": 1,
            "+1": 1,
            "up": 1,
            "higher_is_riskier": 1,
            "-": -1,
            "-1": -1,
            "down": -1,
            "lower_is_riskier": -1,
        }.get(raw.strip().lower(), 0)
    return 1 if raw > 0 else -1


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)  # numpy scalars, numeric text
    except (TypeError, ValueError):
        return None


def _general(number: float) -> str:
    return f"{number:,.0f}" if number.is_integer() and abs(number) >= 1000 else f"{number:.4g}"


def _plain(value: Any) -> Any:
    """JSON-friendly value: numpy scalars to Python, NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
