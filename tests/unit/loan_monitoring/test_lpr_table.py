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


# --------------------------------------------------------------------------- how far the table is known

HYPOTHETICAL = Decimal("0.028")  # a made-up rate for tests: not a published fixing


def test_the_bundled_table_is_confirmed_through_the_june_2025_fixing():
    table = default_lpr_table()
    assert table.confirmed_through == date(2025, 6, 20)
    assert table.last_fixing.effective_date == date(2025, 5, 20)


def test_a_table_is_current_until_its_confirmed_date_plus_the_grace():
    table = default_lpr_table()
    assert table.current_until(35) == date(2025, 7, 25)
    assert table.is_current_on(date(2025, 7, 25), 35)
    assert not table.is_current_on(date(2025, 7, 26), 35)
    assert not table.is_current_on(date(2026, 11, 25))  # the default grace is 35 days


def test_a_table_read_from_a_csv_alone_is_confirmed_through_its_last_fixing(tmp_path):
    path = tmp_path / "lpr.csv"
    path.write_text("effective_date,one_year_lpr_percent\n2025-05-20,3.00\n", encoding="utf-8")
    assert load_lpr_table(path).confirmed_through == date(2025, 5, 20)


def test_a_confirmation_never_moves_the_known_period_back():
    table = default_lpr_table()
    assert table.confirmed(date(2026, 11, 20)).confirmed_through == date(2026, 11, 20)
    assert table.confirmed(date(2024, 1, 1)).confirmed_through == date(2025, 6, 20)


def test_merging_tables_keeps_the_later_confirmation_and_a_newer_fixing_confirms_its_own_date():
    newer = lpr_table_from([(date(2026, 10, 20), HYPOTHETICAL)])
    merged = default_lpr_table().overridden_by(newer)
    assert merged.confirmed_through == date(2026, 10, 20)
    assert lpr_on(date(2026, 11, 1), merged) == HYPOTHETICAL
    assert default_lpr_table().confirmed(date(2026, 11, 1)).overridden_by(newer).confirmed_through == date(
        2026, 11, 1
    )
