"""Features as of T depend only on what the platform had recorded before T."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_engine.demo import generate_platform
from scoring.features import TradeFrames, compute_features

AS_OF_DATES = [pd.Timestamp("2025-09-01 04:00", tz="UTC"), pd.Timestamp("2026-01-15 16:00", tz="UTC")]
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def trade() -> TradeFrames:
    return generate_platform(n_dealers=60, months=14, seed=11, start=date(2025, 1, 1)).trade_frames()


@pytest.fixture(scope="module")
def baseline(trade) -> dict[pd.Timestamp, pd.DataFrame]:
    return {t: compute_features(trade, t) for t in AS_OF_DATES}


def _later(data, as_of: pd.Timestamp, n: int) -> pd.Series:
    """Recording times at or after as_of (exactly as_of included)."""
    offsets = st.one_of(st.just(0), st.integers(0, 400 * 86_400))
    seconds = data.draw(st.lists(offsets, min_size=n, max_size=n))
    return pd.Series([as_of + pd.Timedelta(seconds=s) for s in seconds], dtype="datetime64[us, UTC]")


def _anytime(data, as_of: pd.Timestamp, n: int) -> pd.Series:
    """Event times on either side of as_of: a late report may describe an old event."""
    offsets = st.one_of(st.just(-1), st.integers(-400 * 86_400, 400 * 86_400))
    seconds = data.draw(st.lists(offsets, min_size=n, max_size=n))
    return pd.Series([as_of + pd.Timedelta(seconds=s) for s in seconds], dtype="datetime64[us, UTC]")


def _dates(instants: pd.Series) -> pd.Series:
    return instants.dt.tz_convert(None).dt.floor("D").astype("datetime64[s]")


def _late_rows(data, table: pd.DataFrame, as_of: pd.Timestamp, id_column: str | None) -> pd.DataFrame:
    """Copies of random existing rows, re-timed so that the platform learns of them at or after as_of."""
    n = data.draw(st.integers(0, 4))
    if n == 0 or len(table) == 0:
        return table.iloc[0:0]
    picks = data.draw(st.lists(st.integers(0, len(table) - 1), min_size=n, max_size=n))
    rows = table.iloc[picks].reset_index(drop=True).copy()
    for column in rows.columns:
        if column == "recorded_at" or column.endswith("_recorded_at"):
            rows[column] = _later(data, as_of, n)
        elif column.endswith("_at"):
            rows[column] = _anytime(data, as_of, n)
        elif column.endswith("_on"):
            rows[column] = _dates(_anytime(data, as_of, n))
        elif column.endswith("_fen"):
            rows[column] = data.draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n))
    if id_column is not None:
        rows[id_column] = table[id_column].max() + 1 + pd.RangeIndex(n)
    return rows


def _late_settlements(
    data, table: pd.DataFrame, as_of: pd.Timestamp, day: str, recorded: str
) -> pd.DataFrame:
    """Settle some open items, but with the news arriving at or after as_of."""
    open_rows = table.index[~(table[recorded] < as_of)]
    if len(open_rows) == 0:
        return table
    picks = data.draw(st.lists(st.sampled_from(list(open_rows)), max_size=5, unique=True))
    table = table.copy()
    news = _later(data, as_of, len(picks))
    table.loc[picks, recorded] = news.to_numpy()
    table.loc[picks, day] = _dates(_anytime(data, as_of, len(picks))).to_numpy()
    return table


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_events_recorded_at_or_after_the_as_of_date_never_change_its_features(trade, baseline, data):
    as_of = data.draw(st.sampled_from(AS_OF_DATES))
    orders = pd.concat([trade.orders, _late_rows(data, trade.orders, as_of, "order_id")], ignore_index=True)
    still_open = orders.index[~(orders["cancelled_at"] < as_of)]
    cancelled = data.draw(st.lists(st.sampled_from(list(still_open)), max_size=5, unique=True))
    orders.loc[cancelled, "cancelled_at"] = _later(data, as_of, len(cancelled)).to_numpy()
    later = TradeFrames(
        dealers=pd.concat(
            [trade.dealers, _late_rows(data, trade.dealers, as_of, "dealer_id")], ignore_index=True
        ),
        orders=orders,
        payments=_late_settlements(
            data,
            pd.concat(
                [trade.payments, _late_rows(data, trade.payments, as_of, "payment_id")], ignore_index=True
            ),
            as_of,
            "paid_on",
            "paid_recorded_at",
        ),
        invoices=pd.concat(
            [trade.invoices, _late_rows(data, trade.invoices, as_of, "invoice_id")], ignore_index=True
        ),
        returns=pd.concat(
            [trade.returns, _late_rows(data, trade.returns, as_of, "return_id")], ignore_index=True
        ),
        suppliers=trade.suppliers,
        credit_lines=pd.concat(
            [trade.credit_lines, _late_rows(data, trade.credit_lines, as_of, None)], ignore_index=True
        ),
        loans=_late_settlements(
            data,
            pd.concat([trade.loans, _late_rows(data, trade.loans, as_of, "loan_id")], ignore_index=True),
            as_of,
            "repaid_on",
            "repaid_recorded_at",
        ),
    )
    pd.testing.assert_frame_equal(compute_features(later, as_of), baseline[as_of])


def test_a_payment_counts_once_its_news_arrives(trade):
    as_of = AS_OF_DATES[1]
    payments = trade.payments
    paid_before = payments["paid_recorded_at"] < as_of
    due_before = payments["due_on"] < as_of.tz_localize(None) - 30 * DAY
    row = payments.index[paid_before & due_before & (payments["recorded_at"] < as_of)][0]
    dealer = payments.loc[row, "dealer_id"]
    news_late = payments.copy()
    news_late.loc[row, "paid_recorded_at"] = as_of + DAY
    before = compute_features(trade, as_of).loc[dealer]
    after = compute_features(TradeFrames(**{**trade.__dict__, "payments": news_late}), as_of).loc[dealer]
    assert after["current_days_past_due"] >= before["current_days_past_due"]
    assert after["current_days_past_due"] > 0
