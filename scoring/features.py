"""Point-in-time dealer features: the ``CATALOG`` columns computed from trade history as of a moment.

``compute_features(trade, as_of)`` sees only events the platform had *recorded* before ``as_of``
(every table carries ``recorded_at``; a payment counts as paid only once its ``paid_recorded_at``
is before ``as_of``, an order as cancelled only once ``cancelled_at`` is). Nothing here reads a
``latent_`` column. Windows are calendar months back from ``as_of``: "last 3 months" is
[as_of - 3 months, as_of). Business dates (due, paid, issued) are China Standard Time calendar
days; "today" is the CST date of ``as_of``.

Everything is vectorised over events (bincount / ufunc.at on dealer positions); nothing loops
over dealers, so five million orders take seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loan_monitoring import delinquency
from scoring.catalog import CATALOG, FEATURE_NAMES

NEVER = np.iinfo(np.int64).max
MICROS_PER_DAY = 86_400_000_000
CST_OFFSET_MICROS = 8 * 3_600_000_000  # China Standard Time, UTC+8, no daylight saving
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
MONTH_DAYS = 30.4375
#: Default is *more than* this many days past due (Basel: "past due more than 90 days"): the order
#: loans' own definition, imported so the label and the loan servicing can never disagree.
DEFAULT_AFTER_DAYS_PAST_DUE = delinquency.DEFAULT_AFTER_DAYS
INVOICE_AMOUNT_TOLERANCE_FEN = 100  # rounding across invoice lines
SEASONAL_INDEX_BOUNDS = (0.2, 5.0)  # an industry month at 1 % of normal would otherwise explode ratios
HISTORY_MONTHS = 12

# What compute_features reads from each table (load only these from Parquet or the database).
REQUIRED_COLUMNS: dict[str, list[str]] = {
    "dealers": (
        "dealer_id credit_code industry registered_on licence_expires_on onboarded_on recorded_at".split()
    ),
    "orders": "order_id dealer_id supplier_id amount_fen placed_at cancelled_at recorded_at".split(),
    "payments": "dealer_id due_on paid_on recorded_at paid_recorded_at".split(),
    "invoices": (
        "order_id seller_credit_code buyer_credit_code amount_fen tax_fen issued_on recorded_at".split()
    ),
    "returns": "order_id dealer_id amount_fen returned_at recorded_at".split(),
    "suppliers": "supplier_id credit_code".split(),
    "credit_lines": "dealer_id bank_id limit_fen recorded_at".split(),
    "loans": "dealer_id principal_fen disbursed_at due_on repaid_on recorded_at repaid_recorded_at".split(),
}


@dataclass(frozen=True)
class TradeFrames:
    """The platform's observable history. Optional tables may be None (their features are missing)
    or empty (nothing happened: counts are 0). ``observed_until`` is the end of the extract, used
    to tell complete from censored outcomes; if None it is the latest ``recorded_at`` seen."""

    dealers: pd.DataFrame
    orders: pd.DataFrame
    payments: pd.DataFrame
    invoices: pd.DataFrame | None = None
    returns: pd.DataFrame | None = None
    suppliers: pd.DataFrame | None = None
    credit_lines: pd.DataFrame | None = None
    loans: pd.DataFrame | None = None
    observed_until: pd.Timestamp | None = None


# --- time -------------------------------------------------------------------------------------


def _instants(column: pd.Series) -> np.ndarray:
    """UTC microseconds since the epoch (naive input is taken as UTC); missing -> NEVER."""
    if not pd.api.types.is_datetime64_any_dtype(column):
        column = pd.to_datetime(column, utc=True)
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    values = column.to_numpy(dtype="datetime64[us]")
    micros = values.view(np.int64).copy()
    micros[np.isnat(values)] = NEVER
    return micros


def _days(column: pd.Series) -> np.ndarray:
    """Calendar day numbers since 1970-01-01 of a date column; missing -> NEVER."""
    if not pd.api.types.is_datetime64_any_dtype(column):
        column = pd.to_datetime(column)
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_convert(CHINA_STANDARD_TIME).dt.tz_localize(None)
    values = column.to_numpy(dtype="datetime64[D]")
    days = values.view(np.int64).copy()
    days[np.isnat(values)] = NEVER
    return days


@dataclass(frozen=True)
class Clock:
    """``as_of`` as the integer scales the computation uses, with month boundaries going back."""

    as_of: pd.Timestamp
    now: int  # UTC microseconds
    today: int  # CST day number
    month_starts: np.ndarray  # now - k months, k = 0..HISTORY_MONTHS, in UTC microseconds
    month_start_days: np.ndarray  # today - k months, CST day numbers

    @classmethod
    def at(cls, as_of: datetime | pd.Timestamp | str) -> Clock:
        ts = pd.Timestamp(as_of)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        now = int(ts.value) // 1_000  # Timestamp.value is nanoseconds
        today = (now + CST_OFFSET_MICROS) // MICROS_PER_DAY
        naive = ts.tz_localize(None)
        day0 = pd.Timestamp(np.datetime64(today, "D"))
        back = range(HISTORY_MONTHS + 1)
        return cls(
            as_of=ts,
            now=now,
            today=today,
            month_starts=np.array([(naive - pd.DateOffset(months=k)).value // 1_000 for k in back]),
            month_start_days=np.array(
                [
                    (day0 - pd.DateOffset(months=k)).to_datetime64().astype("datetime64[D]").astype(np.int64)
                    for k in back
                ]
            ),
        )

    def day_of(self, instants: np.ndarray) -> np.ndarray:
        return np.where(instants == NEVER, NEVER, (instants + CST_OFFSET_MICROS) // MICROS_PER_DAY)

    def months_ago(self, instants: np.ndarray) -> np.ndarray:
        """0 for the last month, 1 for the one before...; -1 outside the 12-month history or in the future."""
        ascending = self.month_starts[::-1]
        slot = np.searchsorted(ascending, instants, side="right") - 1
        inside = (slot >= 0) & (slot < HISTORY_MONTHS)
        return np.where(inside, HISTORY_MONTHS - 1 - slot, -1)

    def days_ago_band(self, days: np.ndarray) -> np.ndarray:
        """Window band of a business date before today: 0 = last 3 months, 1 = 3-6, 2 = 6-12, -1 = other."""
        starts = self.month_start_days
        band = np.full(len(days), -1, dtype=np.int64)
        for b, lo in reversed(list(enumerate((starts[3], starts[6], starts[12])))):
            band[(days >= lo) & (days < self.today)] = b
        return band

    def instant_band(self, instants: np.ndarray) -> np.ndarray:
        starts = self.month_starts
        band = np.full(len(instants), -1, dtype=np.int64)
        for b, lo in reversed(list(enumerate((starts[3], starts[6], starts[12])))):
            band[(instants >= lo) & (instants < self.now)] = b
        return band


WINDOW_BANDS = {3: 1, 6: 2, 12: 3}  # a window is the union of the first k bands


# --- the dealers in scope -----------------------------------------------------------------------


@dataclass(frozen=True)
class Universe:
    """Dealers the computation runs over (positions 0..n-1) and the rows to return."""

    ids: np.ndarray
    index: pd.Index
    known: np.ndarray  # onboarding recorded before as_of
    industry: np.ndarray  # codes into industries
    industries: np.ndarray
    onboarded: np.ndarray  # CST midnight of onboarding, UTC micros
    onboarded_day: np.ndarray
    registered_day: np.ndarray
    licence_day: np.ndarray
    credit_codes: pa.Array

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, dealer_ids: pd.Series | np.ndarray) -> np.ndarray:
        return self.index.get_indexer(np.asarray(dealer_ids, dtype=np.int64))


def _universe(dealers: pd.DataFrame, clock: Clock, only: np.ndarray | None) -> Universe:
    if only is not None:
        dealers = dealers[dealers["dealer_id"].isin(only)]
    ids = dealers["dealer_id"].to_numpy(dtype=np.int64)
    industry, industries = pd.factorize(dealers["industry"].astype("str"), use_na_sentinel=True)
    onboarded_day = _days(dealers["onboarded_on"])
    return Universe(
        ids=ids,
        index=pd.Index(ids),
        known=_instants(dealers["recorded_at"]) < clock.now,
        industry=industry,
        industries=np.asarray(industries, dtype=object),
        onboarded=np.where(onboarded_day == NEVER, NEVER, onboarded_day * MICROS_PER_DAY - CST_OFFSET_MICROS),
        onboarded_day=onboarded_day,
        registered_day=_days(dealers["registered_on"]),
        licence_day=_days(dealers["licence_expires_on"]),
        credit_codes=_arrow_text(dealers["credit_code"]),
    )


def _arrow_text(column: pd.Series) -> pa.Array:
    """The column as one Arrow large_string array (zero-copy for pandas' Arrow-backed ``str``)."""
    try:
        values = pa.array(column.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        values = pa.array(column.to_numpy(dtype=object), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.large_string())


def _restrict(frame: pd.DataFrame, only: np.ndarray | None) -> pd.DataFrame:
    return frame if only is None else frame[frame["dealer_id"].isin(only)]


# --- purchases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purchases:
    dealer: np.ndarray  # positions of visible, uncancelled orders placed before as_of
    supplier: np.ndarray
    amount: np.ndarray  # fen, float
    placed: np.ndarray
    month: np.ndarray  # months ago, -1 if older than the history
    monthly_amount: np.ndarray  # (n, 12) fen
    monthly_count: np.ndarray  # (n, 12)
    full_month: np.ndarray  # (n, 12) dealer onboarded before the month began


def _purchases(orders: pd.DataFrame, universe: Universe, clock: Clock) -> Purchases:
    dealer = universe.positions(orders["dealer_id"])
    placed = _instants(orders["placed_at"])
    visible = (
        (dealer >= 0)
        & (_instants(orders["recorded_at"]) < clock.now)
        & (placed < clock.now)
        & ~(_instants(orders["cancelled_at"]) < clock.now)
    )
    dealer, placed = dealer[visible], placed[visible]
    amount = orders["amount_fen"].to_numpy(dtype=np.float64)[visible]
    supplier = orders["supplier_id"].to_numpy(dtype=np.int64)[visible]
    month = clock.months_ago(placed)
    n, h = len(universe), HISTORY_MONTHS
    recent = month >= 0
    cell = dealer[recent] * h + month[recent]
    monthly_amount = np.bincount(cell, weights=amount[recent], minlength=n * h).reshape(n, h)
    monthly_count = np.bincount(cell, minlength=n * h).reshape(n, h).astype(np.float64)
    month_begins = clock.month_starts[1:]  # start of months-ago k is now - (k + 1) months
    full_month = (universe.onboarded[:, None] <= month_begins[None, :]) & universe.known[:, None]
    return Purchases(dealer, supplier, amount, placed, month, monthly_amount, monthly_count, full_month)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _percent_change(recent: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    return 100.0 * (_ratio(recent, earlier) - 1.0)


def _tenure_months(universe: Universe, clock: Clock) -> np.ndarray:
    months = (clock.today - universe.onboarded_day) / MONTH_DAYS
    return np.where(universe.known & (universe.onboarded_day != NEVER), months, np.nan)


def _purchase_features(p: Purchases, universe: Universe, clock: Clock, seasonal: np.ndarray) -> dict:
    out = {}
    tenure = _tenure_months(universe, clock)
    for w in (3, 6, 12):
        amount = p.monthly_amount[:, :w].sum(axis=1)
        count = p.monthly_count[:, :w].sum(axis=1)
        observed = p.full_month[:, :w]
        out[f"purchase_amount_{w}m"] = amount / 100.0
        out[f"purchase_count_{w}m"] = count
        out[f"purchase_frequency_{w}m"] = count / np.maximum(np.minimum(tenure, w), 1.0)
        out[f"active_month_ratio_{w}m"] = _ratio(
            ((p.monthly_count[:, :w] > 0) & observed).sum(axis=1), observed.sum(axis=1)
        )
        out[f"average_order_value_{w}m"] = _ratio(amount, count) / 100.0
    a = p.monthly_amount
    six_full, twelve_full = p.full_month[:, :6].all(axis=1), p.full_month.all(axis=1)
    out["purchase_trend_3m"] = np.where(six_full, _percent_change(a[:, :3].sum(1), a[:, 3:6].sum(1)), np.nan)
    out["purchase_trend_6m"] = np.where(
        twelve_full, _percent_change(a[:, :6].sum(1), a[:, 6:12].sum(1)), np.nan
    )
    adjusted = a[:, :6] / seasonal[:, :6]
    out["seasonally_adjusted_trend_3m"] = np.where(
        six_full, _percent_change(adjusted[:, :3].sum(1), adjusted[:, 3:6].sum(1)), np.nan
    )
    for w in (6, 12):
        observed = p.full_month[:, :w]
        months = observed.sum(axis=1)
        values = np.where(observed, a[:, :w], 0.0)
        mean = _ratio(values.sum(axis=1), months)
        var = _ratio((np.where(observed, (a[:, :w] - mean[:, None]) ** 2, 0.0)).sum(axis=1), months)
        out[f"purchase_volatility_{w}m"] = np.where(months >= 3, _ratio(np.sqrt(var), mean), np.nan)
    last = np.full(len(universe), -1, dtype=np.int64)
    np.maximum.at(last, p.dealer, p.placed)
    out["days_since_last_order"] = np.where(last >= 0, (clock.now - last) / MICROS_PER_DAY, np.nan)
    out["tenure_months"] = tenure
    out["business_age_months"] = np.where(
        universe.known & (universe.registered_day != NEVER),
        (clock.today - universe.registered_day) / MONTH_DAYS,
        np.nan,
    )
    out["licence_months_remaining"] = np.where(
        universe.known & (universe.licence_day != NEVER),
        (universe.licence_day - clock.today) / MONTH_DAYS,
        np.nan,
    )
    return out


def _seasonal_index_table(p: Purchases, universe: Universe) -> np.ndarray:
    """(industries, 12): the industry's mean purchases per fully observed dealer, each month,
    relative to its 12-month average — the Spring Festival dip and industry seasons in one number."""
    k = len(universe.industries)
    table = np.ones((k, HISTORY_MONTHS))
    valid = universe.industry >= 0
    for j in range(k):
        rows = valid & (universe.industry == j)
        observed = p.full_month[rows]
        dealers = observed.sum(axis=0)
        per_dealer = _ratio(np.where(observed, p.monthly_amount[rows], 0.0).sum(axis=0), dealers)
        level = np.nanmean(per_dealer) if np.isfinite(per_dealer).any() else np.nan
        if np.isfinite(level) and level > 0:
            table[j] = np.where(np.isfinite(per_dealer), per_dealer / level, 1.0)
    return np.clip(table, *SEASONAL_INDEX_BOUNDS)


def industry_seasonal_index(trade: TradeFrames, as_of: datetime | pd.Timestamp | str) -> pd.DataFrame:
    """Platform-wide seasonal index per industry (rows) and month ago (columns 0..11) as of ``as_of``.

    Pass it to ``compute_features(..., industry_index=...)`` when scoring a few dealers from their
    own history only: the seasonal adjustment must come from the whole platform.
    """
    clock = Clock.at(as_of)
    universe = _universe(trade.dealers, clock, None)
    table = _seasonal_index_table(_purchases(trade.orders, universe, clock), universe)
    return pd.DataFrame(
        table,
        index=pd.Index(universe.industries, name="industry"),
        columns=pd.RangeIndex(HISTORY_MONTHS, name="months_ago"),
    )


def _seasonal_rows(universe: Universe, index: pd.DataFrame | np.ndarray) -> np.ndarray:
    if isinstance(index, np.ndarray):
        table = index
    else:
        table = index.reindex(pd.Index(universe.industries)).fillna(1.0).to_numpy(dtype=np.float64)
    rows = np.ones((len(universe), HISTORY_MONTHS))
    has = universe.industry >= 0
    rows[has] = table[universe.industry[has]]
    return np.clip(rows, *SEASONAL_INDEX_BOUNDS)


def _concentration(p: Purchases, universe: Universe) -> dict:
    """Herfindahl index of each dealer's purchase shares by supplier, per window."""
    recent = p.month >= 0
    band = np.minimum(np.searchsorted([3, 6, 12], p.month[recent], side="right"), 2)
    supplier_code, _ = pd.factorize(p.supplier[recent])
    key = p.dealer[recent].astype(np.int64) * (int(supplier_code.max(initial=0)) + 1) + supplier_code
    unique_key, pair = np.unique(key, return_inverse=True)
    pair_dealer = unique_key // (int(supplier_code.max(initial=0)) + 1)
    sums = np.bincount(pair * 3 + band, weights=p.amount[recent], minlength=len(unique_key) * 3)
    cumulative = sums.reshape(-1, 3).cumsum(axis=1)
    out = {}
    for w, bands in WINDOW_BANDS.items():
        total = p.monthly_amount[:, :w].sum(axis=1)
        squares = np.bincount(pair_dealer, weights=cumulative[:, bands - 1] ** 2, minlength=len(universe))
        out[f"supplier_hhi_{w}m"] = _ratio(squares, total**2)
    return out


# --- payments, returns, invoices ---------------------------------------------------------------------


def _late_payments(
    dealer: np.ndarray, due: np.ndarray, settled: np.ndarray, settled_day: np.ndarray, n: int, clock: Clock
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(dealers, 3 nested windows) arrays: obligations due, paid on time, total and maximum delay
    in days (an unpaid obligation is late by the days so far)."""
    band = clock.days_ago_band(due)
    inside = band >= 0
    dealer, due, settled, settled_day, band = (
        dealer[inside],
        due[inside],
        settled[inside],
        settled_day[inside],
        band[inside],
    )
    delay = np.maximum(np.where(settled, settled_day - due, clock.today - due), 0).astype(np.float64)
    on_time = settled & (settled_day <= due)
    cell = dealer * 3 + band
    due_n = np.bincount(cell, minlength=n * 3).reshape(n, 3).cumsum(axis=1)
    on_time_n = (
        np.bincount(cell, weights=on_time.astype(np.float64), minlength=n * 3).reshape(n, 3).cumsum(axis=1)
    )
    delay_sum = np.bincount(cell, weights=delay, minlength=n * 3).reshape(n, 3).cumsum(axis=1)
    delay_max = np.full(n * 3, -1.0)
    np.maximum.at(delay_max, cell, delay)
    delay_max = np.maximum.accumulate(delay_max.reshape(n, 3), axis=1)
    return due_n, on_time_n, delay_sum, delay_max


def _payment_features(payments: pd.DataFrame, universe: Universe, clock: Clock) -> dict:
    n = len(universe)
    dealer = universe.positions(payments["dealer_id"])
    visible = (dealer >= 0) & (_instants(payments["recorded_at"]) < clock.now)
    dealer = dealer[visible]
    due = _days(payments["due_on"])[visible]
    paid_day = _days(payments["paid_on"])[visible]
    paid = (_instants(payments["paid_recorded_at"])[visible] < clock.now) & (paid_day != NEVER)
    due_n, on_time_n, delay_sum, delay_max = _late_payments(dealer, due, paid, paid_day, n, clock)
    out = {}
    for w, bands in WINDOW_BANDS.items():
        count = due_n[:, bands - 1]
        out[f"on_time_payment_ratio_{w}m"] = _ratio(on_time_n[:, bands - 1], count)
        out[f"mean_payment_delay_days_{w}m"] = _ratio(delay_sum[:, bands - 1], count)
        out[f"max_payment_delay_days_{w}m"] = np.where(count > 0, delay_max[:, bands - 1], np.nan)
    overdue = (due < clock.today) & ~(paid & (paid_day <= clock.today))  # paid today: no longer past due
    dpd = np.zeros(n)
    np.maximum.at(dpd, dealer[overdue], (clock.today - due[overdue]).astype(np.float64))
    out["current_days_past_due"] = dpd
    return out


def _return_features(returns: pd.DataFrame | None, p: Purchases, universe: Universe, clock: Clock) -> dict:
    if returns is None:
        return {f"return_rate_{w}m": np.full(len(universe), np.nan) for w in WINDOW_BANDS}
    n = len(universe)
    dealer = universe.positions(returns["dealer_id"])
    band = clock.instant_band(_instants(returns["returned_at"]))
    use = (dealer >= 0) & (_instants(returns["recorded_at"]) < clock.now) & (band >= 0)
    amount = returns["amount_fen"].to_numpy(dtype=np.float64)[use]
    sums = np.bincount(dealer[use] * 3 + band[use], weights=amount, minlength=n * 3).reshape(n, 3).cumsum(1)
    return {
        f"return_rate_{w}m": _ratio(sums[:, bands - 1], p.monthly_amount[:, :w].sum(axis=1))
        for w, bands in WINDOW_BANDS.items()
    }


def _invoice_scope(trade: TradeFrames, only: np.ndarray | None) -> TradeFrames:
    """The invoices that can concern the requested dealers (their orders' or bearing their code),
    with just the orders and returns those invoices refer to."""
    if only is None or trade.invoices is None:
        return trade
    orders = trade.orders
    mine = orders.loc[orders["dealer_id"].isin(only), "order_id"]
    codes = trade.dealers.loc[trade.dealers["dealer_id"].isin(only), "credit_code"]
    invoices = trade.invoices
    invoices = invoices[invoices["order_id"].isin(mine) | invoices["buyer_credit_code"].isin(codes)]
    referred = orders[orders["order_id"].isin(invoices["order_id"])]
    returns = trade.returns
    if returns is not None:
        returns = returns[returns["order_id"].isin(referred["order_id"])]
    return replace(trade, invoices=invoices, orders=referred, returns=returns)


def _invoice_features(trade: TradeFrames, universe: Universe, clock: Clock) -> dict:
    """Share of invoices agreeing with their order: amount (gross or net of returns), buyer,
    seller and an issue date not before the order. An invoice whose order the platform does not
    know is a disagreement."""
    n = len(universe)
    if trade.invoices is None:
        return {f"invoice_match_ratio_{w}m": np.full(n, np.nan) for w in WINDOW_BANDS}
    invoices = trade.invoices
    band = clock.days_ago_band(_days(invoices["issued_on"]))
    use = (_instants(invoices["recorded_at"]) < clock.now) & (band >= 0)
    invoices, band = invoices[use], band[use]

    orders = trade.orders
    order_index = pd.Index(orders["order_id"].to_numpy(dtype=np.int64))
    order_row = order_index.get_indexer(invoices["order_id"].to_numpy(dtype=np.int64))
    order_known = order_row >= 0
    order_row = np.where(order_known, order_row, 0)
    order_known &= _instants(orders["recorded_at"])[order_row] < clock.now
    order_dealer = universe.positions(orders["dealer_id"].to_numpy(dtype=np.int64)[order_row])
    buyer = pc.index_in(_arrow_text(invoices["buyer_credit_code"]), value_set=universe.credit_codes)
    buyer = buyer.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    dealer = np.where(order_known, order_dealer, buyer)  # an unknown order's invoice counts for its buyer

    gross = orders["amount_fen"].to_numpy(dtype=np.int64)[order_row]
    returned = np.zeros(len(orders), dtype=np.int64)
    if trade.returns is not None and len(trade.returns):
        r = trade.returns
        r_row = order_index.get_indexer(r["order_id"].to_numpy(dtype=np.int64))
        ok = (r_row >= 0) & (_instants(r["recorded_at"]) < clock.now)
        np.add.at(returned, r_row[ok], r["amount_fen"].to_numpy(dtype=np.int64)[ok])
    invoiced = invoices["amount_fen"].to_numpy(dtype=np.int64) + invoices["tax_fen"].to_numpy(dtype=np.int64)
    amount_ok = (np.abs(invoiced - gross) <= INVOICE_AMOUNT_TOLERANCE_FEN) | (
        np.abs(invoiced - (gross - returned[order_row])) <= INVOICE_AMOUNT_TOLERANCE_FEN
    )
    placed_day = clock.day_of(_instants(orders["placed_at"]))[order_row]
    date_ok = _days(invoices["issued_on"]) >= placed_day
    match = order_known & amount_ok & (buyer == order_dealer) & date_ok
    if trade.suppliers is not None:
        codes = _arrow_text(trade.suppliers["credit_code"])
        seller = pc.index_in(_arrow_text(invoices["seller_credit_code"]), value_set=codes)
        seller = seller.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        order_supplier = pd.Index(trade.suppliers["supplier_id"].to_numpy(dtype=np.int64)).get_indexer(
            orders["supplier_id"].to_numpy(dtype=np.int64)[order_row]
        )
        match &= (seller == order_supplier) & (seller >= 0)
    keep = dealer >= 0
    cell = dealer[keep] * 3 + band[keep]
    total = np.bincount(cell, minlength=n * 3).reshape(n, 3).cumsum(axis=1)
    matched = (
        np.bincount(cell, weights=match[keep].astype(np.float64), minlength=n * 3)
        .reshape(n, 3)
        .cumsum(axis=1)
    )
    return {
        f"invoice_match_ratio_{w}m": _ratio(matched[:, bands - 1], total[:, bands - 1])
        for w, bands in WINDOW_BANDS.items()
    }


# --- credit lines and order loans ------------------------------------------------------------------


@dataclass(frozen=True)
class Loans:
    """Order loans recorded before as_of; repaid only once the repayment was recorded too."""

    dealer: np.ndarray
    principal: np.ndarray
    disbursed: np.ndarray
    due: np.ndarray
    repaid: np.ndarray
    repaid_day: np.ndarray


def _loans(loans: pd.DataFrame, universe: Universe, clock: Clock) -> Loans:
    dealer = universe.positions(loans["dealer_id"])
    visible = (dealer >= 0) & (_instants(loans["recorded_at"]) < clock.now)
    repaid_day = _days(loans["repaid_on"])[visible]
    return Loans(
        dealer=dealer[visible],
        principal=loans["principal_fen"].to_numpy(dtype=np.float64)[visible],
        disbursed=_instants(loans["disbursed_at"])[visible],
        due=_days(loans["due_on"])[visible],
        repaid=(_instants(loans["repaid_recorded_at"])[visible] < clock.now) & (repaid_day != NEVER),
        repaid_day=repaid_day,
    )


def _loan_features(loans: Loans | None, n: int, clock: Clock) -> dict:
    if loans is None:
        return {name: np.full(n, np.nan) for name in LOAN_FEATURES}
    fell_due = loans.due < clock.today
    late = fell_due & ~(loans.repaid & (loans.repaid_day <= loans.due))
    days_late = np.where(loans.repaid, loans.repaid_day - loans.due, clock.today - loans.due)
    due_n = np.bincount(loans.dealer[fell_due], minlength=n)
    worst = np.full(n, -1.0)
    np.maximum.at(worst, loans.dealer[fell_due], np.maximum(days_late[fell_due], 0).astype(np.float64))
    return {
        "prior_loan_count": np.bincount(loans.dealer, minlength=n).astype(np.float64),
        "prior_loan_late_ratio": _ratio(np.bincount(loans.dealer[late], minlength=n), due_n),
        "prior_loan_max_days_late": np.where(due_n > 0, worst, np.nan),
    }


def _utilisation_features(
    lines: pd.DataFrame | None, loans: Loans | None, universe: Universe, clock: Clock
) -> dict:
    """Outstanding order loans over the limit in force, at as_of and each of the 11 month
    boundaries before it; the limit is the sum over banks of each bank's latest line."""
    n = len(universe)
    if lines is None or loans is None:
        return {name: np.full(n, np.nan) for name in UTILISATION_FEATURES}
    line_dealer = universe.positions(lines["dealer_id"])
    recorded = _instants(lines["recorded_at"])
    keep = (line_dealer >= 0) & (recorded < clock.now)
    bank = lines["bank_id"].to_numpy(dtype=np.int64) if "bank_id" in lines else np.zeros(len(lines), np.int64)
    chrono = np.argsort(recorded[keep], kind="stable")
    line_dealer, recorded, bank = line_dealer[keep][chrono], recorded[keep][chrono], bank[keep][chrono]
    limit_fen = lines["limit_fen"].to_numpy(dtype=np.float64)[keep][chrono]
    repaid_at = np.where(loans.repaid, loans.repaid_day * MICROS_PER_DAY - CST_OFFSET_MICROS, NEVER)
    utilisation = np.full((n, HISTORY_MONTHS), np.nan)
    for k, moment in enumerate(clock.month_starts[:HISTORY_MONTHS]):
        in_force = recorded < moment
        superseded = pd.DataFrame({"d": line_dealer[in_force], "b": bank[in_force]}).duplicated(keep="last")
        latest = ~superseded.to_numpy()
        limit = np.bincount(line_dealer[in_force][latest], weights=limit_fen[in_force][latest], minlength=n)
        open_ = (loans.disbursed < moment) & (repaid_at >= moment)
        outstanding = np.bincount(loans.dealer[open_], weights=loans.principal[open_], minlength=n)
        utilisation[:, k] = _ratio(outstanding, limit)
    drawn = np.isfinite(utilisation)
    recent = drawn[:, :3]
    return {
        "credit_utilisation_mean_3m": _ratio(np.where(recent, utilisation[:, :3], 0).sum(1), recent.sum(1)),
        "credit_utilisation_mean_12m": _ratio(np.where(drawn, utilisation, 0).sum(1), drawn.sum(1)),
        "credit_utilisation_max_12m": np.where(
            drawn.any(axis=1), np.where(drawn, utilisation, -np.inf).max(axis=1), np.nan
        ),
    }


LOAN_FEATURES = ("prior_loan_count", "prior_loan_late_ratio", "prior_loan_max_days_late")
UTILISATION_FEATURES = (
    "credit_utilisation_mean_3m",
    "credit_utilisation_mean_12m",
    "credit_utilisation_max_12m",
)


# --- public API -------------------------------------------------------------------------------------


def compute_features(
    trade: TradeFrames,
    as_of: datetime | pd.Timestamp | str,
    dealer_ids: Iterable[int] | None = None,
    industry_index: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The CATALOG features of each dealer as of ``as_of``, indexed by ``dealer_id`` (float64).

    Without ``dealer_ids``: every dealer whose onboarding was recorded before ``as_of``. With
    them: exactly those dealers in that order (unknown ones get missing values). The seasonal
    adjustment uses the industries of all dealers in ``trade`` unless ``industry_index`` (from
    :func:`industry_seasonal_index`) is given — then only the requested dealers' events are read.
    """
    clock = Clock.at(as_of)
    wanted = None if dealer_ids is None else np.asarray(list(dealer_ids), dtype=np.int64)
    narrow = wanted if industry_index is not None else None
    universe = _universe(trade.dealers, clock, narrow)
    p = _purchases(_restrict(trade.orders, narrow), universe, clock)
    seasonal = _seasonal_rows(
        universe, industry_index if industry_index is not None else _seasonal_index_table(p, universe)
    )
    columns: dict[str, np.ndarray] = {}
    columns.update(_purchase_features(p, universe, clock, seasonal))
    columns.update(_concentration(p, universe))
    columns.update(_payment_features(_restrict(trade.payments, narrow), universe, clock))
    returns = None if trade.returns is None else _restrict(trade.returns, narrow)
    columns.update(_return_features(returns, p, universe, clock))
    columns.update(_invoice_features(_invoice_scope(trade, narrow), universe, clock))
    loans = None if trade.loans is None else _loans(_restrict(trade.loans, narrow), universe, clock)
    columns.update(_loan_features(loans, len(universe), clock))
    lines = None if trade.credit_lines is None else _restrict(trade.credit_lines, narrow)
    columns.update(_utilisation_features(lines, loans, universe, clock))
    missing = set(FEATURE_NAMES) - set(columns)
    if missing:
        raise RuntimeError(f"features without a computation: {sorted(missing)}")

    rows = np.flatnonzero(universe.known) if wanted is None else universe.positions(wanted)
    present = rows >= 0
    data = {}
    for name in FEATURE_NAMES:
        values = np.full(len(rows), np.nan)
        values[present] = np.asarray(columns[name], dtype=np.float64)[rows[present]]
        data[name] = values
    ids = universe.ids[rows] if wanted is None else wanted
    return pd.DataFrame(data, index=pd.Index(ids, name="dealer_id"), columns=list(CATALOG))


def default_days(trade: TradeFrames) -> pd.Series:
    """The date each dealer first went more than 90 days past due on a trade payment or order loan,
    indexed by dealer_id (``defaulted_on``, datetime64[s]); dealers never in default are absent.

    Days past due are counted as ``loan_monitoring.delinquency`` counts them (and as
    ``current_days_past_due`` does): a payment counts on the day it is made, so an obligation due on
    D and still unpaid at the end of D + n is n days past due. It is in default from D + 91 (91 days
    past due, ``delinquency.first_day_in_default``) when it is unpaid, or paid after D + 91 — if that
    day is inside the extract: an unpaid bill whose 91st day comes after ``observed_until`` is not
    (yet) a default. Paid on D + 91 it was at most 90 days past due: not a default. Derived from
    payments and repayments only.
    """
    return _default_day_numbers(trade).astype("datetime64[D]").astype("datetime64[s]").rename("defaulted_on")


def _default_day_numbers(trade: TradeFrames) -> pd.Series:
    end_day = Clock.at(observed_until(trade)).today
    parts = [(trade.payments, "paid_on")]
    if trade.loans is not None:
        parts.append((trade.loans, "repaid_on"))
    dealers, days = [], []
    for table, paid_column in parts:
        due = _days(table["due_on"])
        hit = due + DEFAULT_AFTER_DAYS_PAST_DUE + 1  # the first day more than 90 days past due
        bad = (due != NEVER) & (_days(table[paid_column]) > hit) & (hit < end_day)
        dealers.append(table["dealer_id"].to_numpy(dtype=np.int64)[bad])
        days.append(hit[bad])
    first = pd.Series(np.concatenate(days), index=pd.Index(np.concatenate(dealers), name="dealer_id"))
    return first.groupby(level=0).min()


def observed_until(trade: TradeFrames) -> pd.Timestamp:
    """End of the extract: ``trade.observed_until``, else the latest order or payment recorded."""
    if trade.observed_until is not None:
        return pd.Timestamp(trade.observed_until)
    latest = 0
    for frame in (trade.orders, trade.payments):
        recorded = _instants(frame["recorded_at"])
        latest = max(latest, int(recorded[recorded != NEVER].max(initial=0)))
    return pd.Timestamp(latest, unit="us", tz="UTC")


def _months_after(day: int, months: int) -> int:
    later = pd.Timestamp(np.datetime64(day, "D")) + pd.DateOffset(months=months)
    return int(later.to_datetime64().astype("datetime64[D]").astype(np.int64))


def build_training_snapshots(
    trade: TradeFrames,
    as_of_dates: Sequence[datetime | pd.Timestamp | str],
    horizon_months: int = 12,
    complete_outcomes_only: bool = True,
    min_orders: int = 1,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Feature snapshots at several dates with the outcome that followed each.

    For every as-of date: dealers onboarded before it, not already in default, with at least
    ``min_orders`` orders recorded before it. The label is 1 when the dealer first goes more than
    90 days past due within ``horizon_months`` after the as-of date (see :func:`default_days`).
    Snapshots whose horizon runs past the end of the extract are censored: dropped unless
    ``complete_outcomes_only`` is False (then ``meta.outcome_complete`` says which).

    Returns ``(X, y, meta)`` sharing one RangeIndex: X has the CATALOG columns (float64), y is
    int8 named ``default_12m`` (for the default horizon), meta has dealer_id (int64), as_of
    (datetime64[us, UTC]), defaulted_on (datetime64[s], NaT if none) and outcome_complete (bool).
    """
    first_default = _default_day_numbers(trade)
    end_day = Clock.at(observed_until(trade)).today
    order_dealer = trade.orders["dealer_id"].to_numpy(dtype=np.int64)
    order_recorded = _instants(trade.orders["recorded_at"])
    xs, ys, metas = [pd.DataFrame(columns=list(CATALOG), dtype=np.float64)], [], []
    for as_of in as_of_dates:
        clock = Clock.at(as_of)
        horizon_end = _months_after(clock.today, horizon_months)
        complete = horizon_end <= end_day
        if complete_outcomes_only and not complete:
            continue
        features = compute_features(trade, clock.as_of)
        ids = features.index.to_numpy()
        default_day = first_default.reindex(ids).to_numpy(dtype=np.float64)
        history = pd.Series(order_dealer[order_recorded < clock.now]).value_counts()
        keep = (history.reindex(ids).fillna(0).to_numpy() >= min_orders) & ~(default_day <= clock.today)
        defaulted = default_day[keep] <= horizon_end
        defaulted_on = np.full(len(defaulted), np.datetime64("NaT"), dtype="datetime64[s]")
        defaulted_on[defaulted] = default_day[keep][defaulted].astype(np.int64).astype("datetime64[D]")
        xs.append(features[keep].reset_index(drop=True))
        ys.append(defaulted.astype(np.int8))
        metas.append(_meta(ids[keep], clock.as_of, defaulted_on, complete))
    X = pd.concat(xs, ignore_index=True).astype(np.float64)
    y = pd.Series(np.concatenate([np.zeros(0, np.int8), *ys]), name=f"default_{horizon_months}m")
    meta = pd.concat(
        [_meta(np.zeros(0, np.int64), None, np.zeros(0, "datetime64[s]"), True), *metas], ignore_index=True
    )
    return X, y, meta


def _meta(
    ids: np.ndarray, as_of: pd.Timestamp | None, defaulted_on: np.ndarray, complete: bool
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dealer_id": ids.astype(np.int64),
            "as_of": pd.Series(as_of, index=range(len(ids)), dtype="datetime64[us, UTC]"),
            "defaulted_on": defaulted_on,
            "outcome_complete": np.full(len(ids), complete),
        }
    )
