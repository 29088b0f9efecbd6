"""The console's SVG charts are pure functions: well-formed, escaped, and faithful to the numbers."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.console.charts import (
    RISK_DOWN,
    RISK_UP,
    Series,
    WaterfallStep,
    column_chart_svg,
    hbar_chart_svg,
    nice_ticks,
    sigmoid,
    waterfall_steps,
    waterfall_svg,
)

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//s:g[@class='waterfall-step']", NS)


def marker_x(root: ET.Element, cls: str) -> float:
    line = root.find(f".//s:g[@class='{cls}']/s:line", NS)
    return float(line.get("x1"))


STEPS = [
    WaterfallStep("days past due, max 12m", "35", 0.9),
    WaterfallStep("on-time ratio, 12m", "0.62", 0.4),
    WaterfallStep("months on platform", "48", -0.7),
]


def test_the_waterfall_runs_from_the_base_value_to_base_plus_the_contributions():
    root = parse(waterfall_svg(-2.0, STEPS))
    assert root.get("role") == "img"
    assert root.find("s:title", NS).text.startswith("How the model")
    steps = bars(root)
    assert [s.find("s:title", NS).text for s in steps] == [
        "days past due, max 12m = 35: +0.9000",
        "months on platform = 48: -0.7000",
        "on-time ratio, 12m = 0.62: +0.4000",
    ]
    desc = root.find("s:desc", NS).text
    assert "Base value E[f(x)] -2.000" in desc and "Final value f(x) -1.400" in desc
    assert f"PD {sigmoid(-1.4) * 100:.2f}%" in desc


def test_each_bar_starts_where_the_one_above_ended_and_is_coloured_by_its_sign():
    root = parse(waterfall_svg(-2.0, STEPS))
    rects = [s.find("s:rect", NS) for s in bars(root)]
    assert [r.get("fill") for r in rects] == [RISK_UP, RISK_DOWN, RISK_UP]
    base_x, final_x = marker_x(root, "waterfall-base"), marker_x(root, "waterfall-final")
    first, second, third = ((float(r.get("x")), float(r.get("x")) + float(r.get("width"))) for r in rects)
    assert first[0] == pytest.approx(base_x, abs=0.01)  # +0.9 starts at the base
    assert second[1] == pytest.approx(first[1], abs=0.01)  # −0.7 ends where it started: the previous end
    assert third[0] == pytest.approx(second[0], abs=0.01)  # +0.4 starts where −0.7 got to
    assert third[1] == pytest.approx(final_x, abs=0.01)  # and ends at the final value
    widths = [float(r.get("width")) for r in rects]
    assert widths[0] / widths[2] == pytest.approx(0.9 / 0.4, rel=1e-3)


def test_small_contributions_beyond_the_top_ones_are_summed_into_one_row():
    steps = [WaterfallStep(f"f{i}", str(i), 0.01 * (i + 1)) for i in range(20)]
    rows = waterfall_steps(steps, 5, "{n} other features")
    assert [r.label for r in rows] == ["f19", "f18", "f17", "f16", "16 other features"]
    assert rows[-1].contribution == pytest.approx(sum(0.01 * (i + 1) for i in range(16)))
    root = parse(waterfall_svg(0.0, steps, max_steps=5))
    assert len(bars(root)) == 5
    assert "+2.100" in root.find("s:desc", NS).text  # the final value still adds every contribution


def test_labels_are_escaped_and_a_calibrated_pd_can_be_given_for_the_final_row():
    svg = waterfall_svg(-1.0, [WaterfallStep('<script>"x"</script> & co', "1", 0.5)], final_note="PD 3.10%")
    assert "<script>" not in svg
    root = parse(svg)
    assert "&" in bars(root)[0].find("s:title", NS).text
    assert "PD 3.10%" in root.find(".//s:g[@class='waterfall-final']/s:title", NS).text


def test_a_non_finite_contribution_is_refused():
    with pytest.raises(ValueError):
        waterfall_svg(0.0, [WaterfallStep("x", "1", math.nan)])


@given(
    base=st.floats(-6, 6),
    contributions=st.lists(st.floats(-3, 3), min_size=1, max_size=30),
)
def test_any_waterfall_is_well_formed_and_ends_at_the_sum(base, contributions):
    steps = [WaterfallStep(f"feature {i}", "", c) for i, c in enumerate(contributions)]
    root = parse(waterfall_svg(base, steps))
    final = base + math.fsum(contributions)
    assert f"Final value f(x) {final:+.3f}" in root.find("s:desc", NS).text
    assert len(bars(root)) == min(len(contributions), 12)


def test_nice_ticks_cover_the_range_with_round_steps():
    assert nice_ticks(-2.3, 1.1) == [-3, -2, -1, 0, 1, 2]
    assert nice_ticks(-2.3, 1.1, 8) == [-2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]
    assert nice_ticks(0, 1_234_567, 4) == [0, 500_000, 1_000_000, 1_500_000]
    assert nice_ticks(3, 3) == [3.0, 3.2, 3.4, 3.6, 3.8, 4.0]


def test_column_and_line_charts_draw_one_mark_per_value_and_skip_missing_ones():
    months = ["2026-01", "2026-02", "2026-03"]
    svg = column_chart_svg(months, [Series("purchases", [100.0, None, 250.5])], title="Monthly purchases")
    root = parse(svg)
    assert len(root.findall(".//s:rect", NS)) == 2
    assert "2026-03 · purchases: 250" in svg
    line = parse(column_chart_svg(months, [Series("days late", [1.0, 4.0, 2.0])], title="Delays", line=True))
    assert len(line.findall(".//s:circle", NS)) == 3
    assert len(line.findall(".//s:polyline", NS)) == 1
    with pytest.raises(ValueError):
        column_chart_svg(months, [Series("short", [1.0])], title="x")


def test_grouped_columns_have_a_legend_and_bars_for_each_series():
    svg = column_chart_svg(
        ["A", "B"],
        [Series("predicted", [0.01, 0.02]), Series("observed", [0.012, 0.018], "#8a4b00")],
        title="Calibration",
        value_format=lambda v: f"{v:.1%}",
    )
    root = parse(svg)
    assert len(root.findall(".//s:rect", NS)) == 4 + 2  # bars + legend swatches
    assert re.search(r">predicted<", svg) and re.search(r">observed<", svg)


def test_horizontal_bars_scale_to_the_largest_value():
    root = parse(hbar_chart_svg([("A", 200.0), ("B", 100.0), ("C", 0.0)], title="Exposure by grade"))
    widths = [float(r.get("width")) for r in root.findall(".//s:rect", NS)]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert widths[2] == 0
