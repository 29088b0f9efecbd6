"""Charts as inline SVG, built by pure functions: plain numbers and labels in, an SVG string out.

No JavaScript and nothing fetched: the console's pages stay server-rendered, printable and readable
by a screen reader (each chart is ``role="img"`` with a title and a description, and every bar carries
a ``<title>`` with its exact figures). All text is escaped here. Colours meet WCAG AA on white:
``RISK_UP`` (#b3261e, 6.0:1) for what raises the risk, ``RISK_DOWN`` (#1b6e3a, 6.4:1) for what lowers it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import count

RISK_UP = "#b3261e"
RISK_DOWN = "#1b6e3a"
NEUTRAL = "#1f4e8c"
LIGHT = "#6a8cc0"  # the limit behind an exposure bar: 3.4:1 on white (graphics need 3:1)
SECOND = "#8a4b00"
INK = "#1a1a1a"
MUTED = "#595959"  # 7.0:1 on white
GRID = "#d0d0d0"
FONT = 'font-family="system-ui, sans-serif"'

_ids = count(1)


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate: two decimals, no trailing zeros (smaller pages, stable output)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def sigmoid(margin: float) -> float:
    if margin >= 0:
        return 1.0 / (1.0 + math.exp(-margin))
    e = math.exp(margin)
    return e / (1.0 + e)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("tick range must be finite")
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-6:  # one value (or a hair's breadth): a unit-wide axis around it
        hi = lo + 1.0
    raw = (hi - lo) / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(value, 12))
    return ticks


def _svg_open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    tid, did = _id("chart-title"), _id("chart-desc")
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="{tid} {did}" {FONT} '
        f'font-size="12" fill="{INK}">'
        f'<title id="{tid}">{_t(title)}</title><desc id="{did}">{_t(desc)}</desc>'
    )
    return head, "</svg>"


# --------------------------------------------------------------------------- SHAP waterfall


@dataclass(frozen=True)
class WaterfallStep:
    """One feature's push on the model's log-odds: its name, its value as shown, its contribution."""

    label: str
    value: str
    contribution: float


@dataclass(frozen=True)
class WaterfallLabels:
    title: str = "How the model got from the base value to this applicant's score"
    base: str = "Base value E[f(x)]"
    final: str = "Final value f(x)"
    others: str = "{n} other features"
    axis: str = "log-odds of default"
    pd: str = "PD {pd}"
    raises: str = "raises the risk"
    lowers: str = "lowers the risk"


def waterfall_steps(steps: Sequence[WaterfallStep], max_steps: int, others_label: str) -> list[WaterfallStep]:
    """The largest ``max_steps`` contributions by size (ties by label), the rest summed into one row."""
    ordered = sorted(steps, key=lambda s: (-abs(s.contribution), s.label))
    if len(ordered) <= max_steps:
        return ordered
    shown, rest = ordered[: max_steps - 1], ordered[max_steps - 1 :]
    return [
        *shown,
        WaterfallStep(others_label.format(n=len(rest)), "", math.fsum(s.contribution for s in rest)),
    ]


def waterfall_svg(
    base: float,
    steps: Sequence[WaterfallStep],
    *,
    labels: WaterfallLabels = WaterfallLabels(),
    max_steps: int = 12,
    width: int = 940,
    percent: Callable[[float], str] = lambda p: f"{p * 100:.2f}%",
    final_note: str | None = None,
) -> str:
    """A SHAP waterfall from the base value (the model's average log-odds) to this applicant's value
    ``base + Σ contributions``: one bar per feature, largest first, each starting where the one above
    ended; red bars raise the risk, green ones lower it. The base and final rows also give the PD
    (the logistic of the log-odds), or for the final row ``final_note`` when given — a calibrated PD, say."""
    if not math.isfinite(base) or any(not math.isfinite(s.contribution) for s in steps):
        raise ValueError("base and contributions must be finite numbers")
    rows = waterfall_steps(steps, max(max_steps, 2), labels.others)
    final = base + math.fsum(s.contribution for s in rows)

    # columns: input name | its value | the bars | the contribution (or, on the base and final rows, the PD)
    row_h, top, name_r, value_r, note_w = 28, 34, 280, 360, 215
    plot_l, plot_r = value_r + 14, width - note_w
    n_rows = len(rows) + 2
    height = top + n_rows * row_h + 44

    running, spans = base, []
    for step in rows:
        spans.append((running, running + step.contribution))
        running += step.contribution
    points = [base, final, *(p for span in spans for p in span)]
    ticks = nice_ticks(min(points), max(points), 6)
    lo, hi = ticks[0], ticks[-1]

    def x(v: float) -> float:
        return plot_l + (v - lo) / (hi - lo) * (plot_r - plot_l)

    desc = (
        f"{labels.base} {base:+.3f} ({labels.pd.format(pd=percent(sigmoid(base)))}); "
        + "; ".join(f"{s.label} {s.value} {s.contribution:+.3f}".replace("  ", " ") for s in rows)
        + f"; {labels.final} {final:+.3f} ({final_note or labels.pd.format(pd=percent(sigmoid(final)))})."
    )
    head, tail = _svg_open(width, height, labels.title, desc)
    out = [head]
    out.append(f'<text x="{plot_l}" y="16" fill="{MUTED}">{_t(labels.axis)}</text>')
    out.append(
        f'<g font-size="11" fill="{RISK_UP}"><rect x="{width - 250}" y="6" width="12" height="12" '
        f'fill="{RISK_UP}"/><text x="{width - 234}" y="16">{_t(labels.raises)}</text></g>'
    )
    out.append(
        f'<g font-size="11" fill="{RISK_DOWN}"><rect x="{width - 125}" y="6" width="12" height="12" '
        f'fill="{RISK_DOWN}"/><text x="{width - 109}" y="16">{_t(labels.lowers)}</text></g>'
    )
    bottom = top + n_rows * row_h
    for tick in ticks:
        out.append(
            f'<line x1="{_n(x(tick))}" y1="{top - 4}" x2="{_n(x(tick))}" y2="{bottom}" stroke="{GRID}"/>'
        )
        out.append(
            f'<text x="{_n(x(tick))}" y="{bottom + 16}" text-anchor="middle" fill="{MUTED}">'
            f"{_t(_tick_text(tick))}</text>"
        )

    def marker_row(i: int, name: str, value: float, cls: str, pd_note: str | None = None) -> None:
        y = top + i * row_h
        note = f"{value:+.3f} · {pd_note or labels.pd.format(pd=percent(sigmoid(value)))}"
        out.append(f'<g class="{cls}"><title>{_t(name)}: {_t(note)}</title>')
        out.append(f'<text x="{value_r}" y="{y + 18}" text-anchor="end" font-weight="600">{_t(name)}</text>')
        out.append(
            f'<line x1="{_n(x(value))}" y1="{y + 3}" x2="{_n(x(value))}" y2="{y + row_h - 3}" '
            f'stroke="{INK}" stroke-width="3"/>'
        )
        out.append(f'<text x="{plot_r + 6}" y="{y + 18}" font-weight="600">{_t(note)}</text></g>')

    marker_row(0, labels.base, base, "waterfall-base")
    for i, (step, (start, end)) in enumerate(zip(rows, spans, strict=True), start=1):
        y = top + i * row_h
        colour = RISK_UP if step.contribution > 0 else RISK_DOWN
        left, right = min(start, end), max(start, end)
        bar_w = max(x(right) - x(left), 1.5)
        label = f"{step.label} = {step.value}" if step.value else step.label
        out.append(f'<g class="waterfall-step"><title>{_t(label)}: {step.contribution:+.4f}</title>')
        out.append(f'<text x="{name_r}" y="{y + 18}" text-anchor="end">{_t(_clip(step.label, 40))}</text>')
        if step.value:
            out.append(
                f'<text x="{value_r}" y="{y + 18}" text-anchor="end" font-weight="600">'
                f"{_t(_clip(step.value, 12))}</text>"
            )
        out.append(
            f'<rect x="{_n(x(left))}" y="{y + 5}" width="{_n(bar_w)}" height="{row_h - 10}" fill="{colour}"/>'
        )
        out.append(
            f'<line x1="{_n(x(end))}" y1="{y + row_h - 5}" x2="{_n(x(end))}" y2="{y + row_h + 5}" '
            f'stroke="{MUTED}" stroke-dasharray="2 2"/>'
        )
        out.append(f'<text x="{plot_r + 6}" y="{y + 18}" fill="{colour}">{step.contribution:+.3f}</text></g>')
    marker_row(n_rows - 1, labels.final, final, "waterfall-final", final_note)
    out.append(tail)
    return "".join(out)


def _tick_text(value: float) -> str:
    if value == int(value):
        return f"{int(value)}"
    return f"{value:g}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- series charts


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    colour: str = NEUTRAL


def column_chart_svg(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    value_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    width: int = 800,
    height: int = 240,
    line: bool = False,
) -> str:
    """Grouped columns (or, with ``line``, lines with points) over categories such as months or grades.
    A missing value (None) draws nothing for that category."""
    if any(len(s.values) != len(categories) for s in series):
        raise ValueError("every series needs one value per category")
    values = [v for s in series for v in s.values if v is not None]
    if any(not math.isfinite(v) for v in values):
        raise ValueError("values must be finite")
    left, right, top, bottom = 72, 12, 30, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values]) or 1.0, 4)
    lo, hi = ticks[0], ticks[-1]

    def y(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    desc = "; ".join(
        f"{s.name}: "
        + ", ".join(
            f"{c} {value_format(v) if v is not None else '—'}"
            for c, v in zip(categories, s.values, strict=True)
        )
        for s in series
    )
    head, tail = _svg_open(width, height, title, desc)
    out = [head]
    if unit:
        out.append(f'<text x="{left}" y="14" fill="{MUTED}">{_t(unit)}</text>')
    legend_x = width - right
    for s in reversed(series if len(series) > 1 else []):
        text_w = 7 * len(s.name) + 18
        legend_x -= text_w + 10
        out.append(
            f'<rect x="{legend_x}" y="4" width="12" height="12" fill="{s.colour}"/>'
            f'<text x="{legend_x + 16}" y="14">{_t(s.name)}</text>'
        )
    for tick in ticks:
        out.append(
            f'<line x1="{left}" y1="{_n(y(tick))}" x2="{width - right}" y2="{_n(y(tick))}" '
            f'stroke="{GRID}"/><text x="{left - 6}" y="{_n(y(tick) + 4)}" text-anchor="end" '
            f'fill="{MUTED}">{_t(value_format(tick))}</text>'
        )
    n = max(len(categories), 1)
    slot = plot_w / n
    label_every = max(1, math.ceil(n / 14))
    for i, category in enumerate(categories):
        if i % label_every == 0:
            out.append(
                f'<text x="{_n(left + slot * (i + 0.5))}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="{MUTED}" font-size="11">{_t(category)}</text>'
            )
    zero = y(max(lo, min(0.0, hi)))
    if line:
        for s in series:
            pts = [
                (left + slot * (i + 0.5), y(v), c, v)
                for i, (c, v) in enumerate(zip(categories, s.values, strict=True))
                if v is not None
            ]
            if len(pts) > 1:
                path = " ".join(f"{_n(px)},{_n(py)}" for px, py, _, _ in pts)
                out.append(f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2"/>')
            for px, py, c, v in pts:
                out.append(
                    f'<circle cx="{_n(px)}" cy="{_n(py)}" r="3.5" fill="{s.colour}">'
                    f"<title>{_t(c)} · {_t(s.name)}: {_t(value_format(v))}</title></circle>"
                )
    else:
        k = max(len(series), 1)
        bar_w = slot * 0.8 / k
        for j, s in enumerate(series):
            for i, (c, v) in enumerate(zip(categories, s.values, strict=True)):
                if v is None:
                    continue
                bx = left + slot * i + slot * 0.1 + j * bar_w
                top_y, bot_y = min(y(v), zero), max(y(v), zero)
                out.append(
                    f'<rect x="{_n(bx)}" y="{_n(top_y)}" width="{_n(max(bar_w - 1, 1))}" '
                    f'height="{_n(max(bot_y - top_y, 0.5))}" fill="{s.colour}"><title>{_t(c)} · '
                    f"{_t(s.name)}: {_t(value_format(v))}</title></rect>"
                )
    out.append(f'<line x1="{left}" y1="{_n(zero)}" x2="{width - right}" y2="{_n(zero)}" stroke="{INK}"/>')
    out.append(tail)
    return "".join(out)


def hbar_chart_svg(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    value_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    colour: str = NEUTRAL,
    width: int = 560,
    overlay: Sequence[float] | None = None,
    names: tuple[str, str] | None = None,
) -> str:
    """Horizontal bars, one per row (limits by grade, alerts by kind): label, bar, figure. With
    ``overlay`` (exposure within the limit, say), a darker bar of that value is drawn inside each bar
    and ``names`` labels the two in a legend."""
    if any(not math.isfinite(v) or v < 0 for _, v in rows) or (
        overlay is not None
        and (len(overlay) != len(rows) or any(not math.isfinite(v) or v < 0 for v in overlay))
    ):
        raise ValueError("bar values must be finite and non-negative, one overlay value per row")
    row_h, label_w, value_w, top = 24, 210, 130, 22 if names else 4
    height = top + max(len(rows), 1) * row_h + 4
    peak = max([v for _, v in rows] + list(overlay or []) or [0.0]) or 1.0
    plot_w = width - label_w - value_w - 10
    desc = "; ".join(
        f"{label}: {value_format(v)}"
        + (f" ({names[1] if names else ''} {value_format(overlay[i])})" if overlay is not None else "")
        for i, (label, v) in enumerate(rows)
    )
    head, tail = _svg_open(width, height, title, desc)
    out = [head]
    if names:
        out.append(
            f'<rect x="{label_w}" y="4" width="12" height="12" fill="{LIGHT}"/>'
            f'<text x="{label_w + 16}" y="14">{_t(names[0])}</text>'
            f'<rect x="{label_w + 150}" y="4" width="12" height="12" fill="{colour}"/>'
            f'<text x="{label_w + 166}" y="14">{_t(names[1])}</text>'
        )
    for i, (label, v) in enumerate(rows):
        y = top + i * row_h
        w = v / peak * plot_w
        right = max(w, overlay[i] / peak * plot_w if overlay is not None else 0.0)  # exposure may pass the limit
        figure = value_format(v) if overlay is None else f"{value_format(overlay[i])} / {value_format(v)}"
        bar = (
            f'<rect x="{label_w}" y="{y + 3}" width="{_n(max(w, 0.5 if v else 0))}" height="{row_h - 6}" '
            f'fill="{LIGHT if overlay is not None else colour}"/>'
        )
        if overlay is not None:
            ow = overlay[i] / peak * plot_w
            bar += (
                f'<rect x="{label_w}" y="{y + 6}" width="{_n(max(ow, 0.5 if overlay[i] else 0))}" '
                f'height="{row_h - 12}" fill="{colour}"/>'
            )
        out.append(
            f"<g><title>{_t(label)}: {_t(figure)}</title>"
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{_t(_fit(label, label_w - 10))}</text>'
            f'{bar}<text x="{_n(label_w + right + 6)}" y="{y + 16}">{_t(figure)}</text></g>'
        )
    out.append(tail)
    return "".join(out)


def _fit(text: str, max_px: float) -> str:
    """Clip ``text`` to about ``max_px`` at 12 px (a CJK character takes about twice a Latin one)."""
    used, out = 0.0, []
    for ch in text:
        used += 12.5 if ord(ch) > 0x2E80 else 7.2
        if used > max_px:
            return "".join(out).rstrip() + "…"
        out.append(ch)
    return text
