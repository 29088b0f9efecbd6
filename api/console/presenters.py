"""From a decision document (``risk_engine.decisions.service.decision_view``) to what the decision page
shows: the waterfall, the limit candidates, the rules that fired, the reasons. Pure functions over plain
data; nothing is recomputed or re-decided here, only arranged and labelled. The dealer page's monthly
series are summed here from the rows ``queries`` reads."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api.console import charts, formatting
from api.console.i18n import Translator
from loan_monitoring.dates import business_date

ADDITIVITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Explanation:
    svg: str
    rows: list[dict[str, Any]]  # feature, label, value, contribution — all inputs, largest first
    base: float
    margin: float
    additivity_gap: float


def feature_labels(catalog: Mapping[str, Any] | None, t: Translator) -> dict[str, str]:
    """Feature name → its label in the page's language (``scoring.catalog.CATALOG`` entries carry
    ``zh`` and ``en``)."""
    labels: dict[str, str] = {}
    for name, spec in (catalog or {}).items():
        zh = getattr(spec, "zh", None) if not isinstance(spec, Mapping) else spec.get("zh")
        en = getattr(spec, "en", None) if not isinstance(spec, Mapping) else spec.get("en")
        labels[name] = t.pick(en, zh) or name
    return labels


def explanation(
    document: Mapping[str, Any], t: Translator, labels: Mapping[str, str], *, max_steps: int = 12
) -> Explanation | None:
    """The SHAP waterfall of a decision, or None when the decision was made without the model."""
    model = (document.get("explanation") or {}).get("model") or {}
    contributions = model.get("contributions")
    if not contributions or model.get("base") is None:
        return None
    values = (document.get("inputs") or {}).get("features") or {}
    base = float(model["base"])
    rows = sorted(
        (
            {
                "feature": name,
                "label": labels.get(name, name),
                "value": formatting.feature_value(values.get(name)),
                "contribution": float(c),
            }
            for name, c in contributions.items()
        ),
        key=lambda r: (-abs(r["contribution"]), r["feature"]),
    )
    margin = (
        float(model["margin"])
        if model.get("margin") is not None
        else base + math.fsum(r["contribution"] for r in rows)
    )
    gap = base + math.fsum(r["contribution"] for r in rows) - margin
    pd = document.get("pd")
    final_note = None
    if pd is not None and abs(charts.sigmoid(margin) - float(pd)) > 5e-5:
        final_note = t("waterfall.calibrated_pd", pd=formatting.percent(pd))
    svg = charts.waterfall_svg(
        base,
        [charts.WaterfallStep(r["label"], r["value"], r["contribution"]) for r in rows],
        labels=charts.WaterfallLabels(
            title=t("waterfall.title"),
            base=t("waterfall.base"),
            final=t("waterfall.final"),
            others=t("waterfall.others", n="{n}"),
            axis=t("waterfall.axis"),
            pd=t("waterfall.pd", pd="{pd}"),
            raises=t("waterfall.raises"),
            lowers=t("waterfall.lowers"),
        ),
        max_steps=max_steps,
        percent=lambda p: formatting.percent(Decimal(repr(p))),
        final_note=final_note,
    )
    return Explanation(svg, rows, base, margin, gap)


def limit_candidates(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every limit the policy considered, smallest first; the binding one is marked."""
    limit = (document.get("explanation") or {}).get("limit") or {}
    binding = document.get("binding_constraint") or limit.get("binding")
    candidates = [
        {"name": name, "amount": Decimal(str(amount)), "binding": name == binding}
        for name, amount in (limit.get("candidates") or {}).items()
        if amount is not None
    ]
    return sorted(candidates, key=lambda c: (c["amount"], c["name"]))


def rule_results(
    document: Mapping[str, Any], t: Translator
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the rules that fired or erred, every rule) with their reasons in the page's language."""
    results = (document.get("rules") or {}).get("results") or []
    rows = [
        {
            "code": r.get("code"),
            "kind": r.get("kind"),
            "status": r.get("status"),
            "fired": bool(r.get("fired")) or r.get("status") == "fired",
            "reason": t.pick(r.get("reason_en"), r.get("reason_zh")),
            "detail": r.get("detail"),
        }
        for r in results
    ]
    return [r for r in rows if r["fired"] or r["status"] == "error"], rows


def reasons(document: Mapping[str, Any], t: Translator) -> list[dict[str, str]]:
    """The reason codes behind the outcome, with their wording; codes without wording still show."""
    worded = {r.get("code"): r for r in (document.get("explanation") or {}).get("reasons") or []}
    model_reasons = {
        r.get("code"): r
        for r in ((document.get("explanation") or {}).get("model") or {}).get("reason_codes") or []
    }
    out = []
    for code in document.get("reason_codes") or []:
        r = worded.get(code) or model_reasons.get(code) or {}
        out.append({"code": code, "text": t.pick(r.get("en"), r.get("zh"))})
    for code, r in model_reasons.items():
        if code not in (document.get("reason_codes") or []):
            out.append({"code": code, "text": t.pick(r.get("en"), r.get("zh")), "model": True})
    return out


# --------------------------------------------------------------------------- dealer series


def month_labels(today: date, months: int) -> list[str]:
    """The last ``months`` calendar months up to and including ``today``'s, oldest first (``2026-11``)."""
    year, month = today.year, today.month
    labels = []
    for _ in range(months):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return labels[::-1]


def monthly_purchases(orders: Iterable[tuple[datetime, Decimal]], labels: Sequence[str]) -> list[Decimal]:
    """Order amounts summed by the Beijing month they were placed in (the platform's business month, as
    the engine's features count it), one figure per label."""
    totals = dict.fromkeys(labels, Decimal("0.00"))
    for placed_at, amount in orders:
        placed_on = business_date(placed_at)
        key = f"{placed_on.year:04d}-{placed_on.month:02d}"
        if key in totals:
            totals[key] += amount
    return [totals[label] for label in labels]


def monthly_delays(
    bills: Iterable[tuple[date, date | None]], labels: Sequence[str], today: date
) -> tuple[list[float | None], list[int | None]]:
    """By the month bills fell due: the average and the longest days late (a bill still unpaid counts the
    days up to ``today``; paid on time counts 0). Months with no bill due are None."""
    late: dict[str, list[int]] = {label: [] for label in labels}
    for due_on, paid_on in bills:
        if due_on > today:
            continue
        key = f"{due_on.year:04d}-{due_on.month:02d}"
        if key in late:
            late[key].append(max(((paid_on or today) - due_on).days, 0))
    average = [round(sum(v) / len(v), 1) if v else None for v in (late[label] for label in labels)]
    longest = [max(v) if v else None for v in (late[label] for label in labels)]
    return average, longest
