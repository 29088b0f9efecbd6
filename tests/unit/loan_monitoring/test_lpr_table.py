from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from loan_monitoring.lpr import (
    apr_cap,
    default_lpr_table,
    load_lpr_table,
    lpr_on,
    lpr_table_from,
    parse_lpr_csv,
)
from risk_engine.errors import InvalidInput


@pytest.mark.parametrize(
    "on, rate",
    [
        (date(2019, 8, 20), "0.0425"),
        (date(2019, 9, 19), "0.0425"),
        (date(2019, 9, 20), "0.0420"),
        (date(2020, 4, 20), "0.0385"),
        (date(2021, 12, 19), "0.0385"),
        (date(2021, 12, 20), "0.0380"),
        (date(2022, 8, 22), "0.0365"),
        (date(2023, 8, 21), "0.0345"),
        (date(2024, 7, 22), "0.0335"),
        (date(2024, 10, 20), "0.0335"),
        (date(2024, 10, 21), "0.0310"),
        (date(2025, 5, 20), "0.0300"),
    ],
)
def test_the_bundled_table_gives_the_published_one_year_lpr_in_force(on, rate):
    assert lpr_on(on) == Decimal(rate)


def test_the_cap_is_four_times_the_lpr_in_force():
    assert apr_cap(date(2024, 10, 21)) == Decimal("0.1240")
    assert apr_cap(date(2024, 10, 20), multiple=4) == Decimal("0.1340")


def test_there_is_no_reformed_lpr_before_20_august_2019():
    with pytest.raises(InvalidInput, match="2019-08-20"):
        lpr_on(date(2019, 8, 19))


def test_a_csv_can_replace_or_extend_the_bundled_table(tmp_path):
    path = tmp_path / "lpr.csv"
    path.write_text(
        "effective_date,one_year_lpr_percent\n2025-05-20,3.00\n2026-01-20,2.90\n", encoding="utf-8"
    )
    newer = load_lpr_table(path)
    assert lpr_on(date(2026, 2, 1), newer) == Decimal("0.029")
    merged = default_lpr_table().overridden_by(newer)
    assert lpr_on(date(2024, 10, 21), merged) == Decimal("0.031")
    assert apr_cap(date(2026, 2, 1), table=merged) == Decimal("0.116")


@pytest.mark.parametrize(
    "text",
    [
        "effective_date,one_year_lpr_percent\n2025-13-01,3.00\n",
        "effective_date,one_year_lpr_percent\n2025-05-20,three\n",
        "date,rate\n2025-05-20,3.00\n",
        "effective_date,one_year_lpr_percent\n2025-05-20,300\n",
        "effective_date,one_year_lpr_percent\n",
    ],
)
def test_a_malformed_csv_is_rejected(text):
    with pytest.raises(InvalidInput):
        parse_lpr_csv(text)


def test_duplicate_dates_are_rejected():
    with pytest.raises(InvalidInput):
        lpr_table_from([(date(2025, 1, 1), Decimal("0.03")), (date(2025, 1, 1), Decimal("0.031"))])
