"""The synthetic platform: reproducible, well-formed, and behaving like the model it documents."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from risk_engine.demo import generate_platform
from risk_engine.demo.ids import is_valid_credit_code, is_valid_resident_id
from risk_engine.demo.reference import spring_festival
from scoring.features import compute_features, default_days

ID_COLUMNS = {
    "dealers": "dealer_id",
    "suppliers": "supplier_id",
    "banks": "bank_id",
    "guarantors": "guarantor_id",
    "orders": "order_id",
    "payments": "payment_id",
    "invoices": "invoice_id",
    "deliveries": "delivery_id",
    "returns": "return_id",
    "related_parties": "link_id",
    "credit_lines": "credit_line_id",
    "loans": "loan_id",
}


def _cst_date(instants: pd.Series) -> pd.Series:
    return (instants + pd.Timedelta(hours=8)).dt.tz_localize(None).dt.floor("D")


def test_the_same_seed_gives_the_same_platform_and_another_seed_does_not():
    first = generate_platform(n_dealers=150, months=12, seed=7)
    again = generate_platform(n_dealers=150, months=12, seed=7)
    other = generate_platform(n_dealers=150, months=12, seed=8)
    for name, table in first.tables().items():
        pd.testing.assert_frame_equal(table, again.tables()[name], obj=name)
    assert first.observed_until == again.observed_until
    assert not first.orders["amount_fen"].equals(other.orders["amount_fen"])


def test_column_types_follow_the_table_conventions(platform):
    for name, table in platform.tables().items():
        for column, dtype in table.dtypes.items():
            where = f"{name}.{column}"
            if column.endswith(("_id", "_fen", "_bp", "_days")):
                assert dtype == np.int64, where
            elif column.endswith("_at"):
                assert str(dtype) == "datetime64[us, UTC]", where
            elif column.endswith("_on"):
                assert str(dtype) == "datetime64[s]", where
        id_column = ID_COLUMNS[name]
        assert table.columns[0] == id_column and table[id_column].is_unique, name
        assert "recorded_at" in table.columns, name


def test_there_is_no_floating_point_money(platform):
    for name, table in platform.tables().items():
        for column in table.columns:
            if "amount" in column or "fen" in column or "limit" in column or "principal" in column:
                assert column.endswith("_fen") and table[column].dtype == np.int64, f"{name}.{column}"


def test_identifiers_are_valid_and_unique(platform):
    codes = pd.concat(
        [
            platform.dealers["credit_code"],
            platform.suppliers["credit_code"],
            platform.banks["credit_code"],
            platform.guarantors["credit_code"],
        ]
    )
    assert codes.map(is_valid_credit_code).all() and codes.is_unique
    assert platform.dealers["legal_rep_id_number"].map(is_valid_resident_id).all()
    assert platform.suppliers["legal_rep_id_number"].map(is_valid_resident_id).all()
    assert platform.dealers["legal_rep_phone"].str.fullmatch(r"1\d{10}").all()
    assert platform.invoices["invoice_code"].str.fullmatch(r"\d{10}").all()
    assert not platform.invoices.duplicated(["invoice_code", "invoice_number"]).any()


def test_every_event_is_recorded_after_it_happened_and_before_the_extract(platform):
    until = platform.observed_until
    for name, table in platform.tables().items():
        for column in [c for c in table.columns if c.endswith("recorded_at")]:
            assert (table[column].dropna() < until).all(), f"{name}.{column}"
    orders = platform.orders
    assert (orders["recorded_at"] >= orders["placed_at"]).all()
    for earlier, later in [
        ("placed_at", "confirmed_at"),
        ("confirmed_at", "shipped_at"),
        ("shipped_at", "delivered_at"),
        ("placed_at", "cancelled_at"),
    ]:
        both = orders[[earlier, later]].dropna()
        assert (both[later] >= both[earlier]).all(), (earlier, later)
    payments = platform.payments
    paid = payments.dropna(subset=["paid_on"])
    assert (_cst_date(paid["paid_recorded_at"]) > paid["paid_on"]).all()
    assert payments["paid_on"].isna().eq(payments["paid_recorded_at"].isna()).all()
    invoices = platform.invoices
    assert (_cst_date(invoices["recorded_at"]) >= invoices["issued_on"] - pd.Timedelta(days=0)).all()
    loans = platform.loans
    assert (loans["recorded_at"] >= loans["disbursed_at"]).all()


def test_references_between_tables_resolve(platform):
    dealer_ids, supplier_ids = set(platform.dealers["dealer_id"]), set(platform.suppliers["supplier_id"])
    orders = platform.orders.set_index("order_id")
    assert set(orders["dealer_id"]) <= dealer_ids and set(orders["supplier_id"]) <= supplier_ids
    for name in ("payments", "deliveries", "returns", "loans"):
        table = platform.tables()[name]
        assert (
            orders.loc[table["order_id"], "dealer_id"].to_numpy() == table["dealer_id"].to_numpy()
        ).all(), name
    assert set(platform.invoices["order_id"]) <= set(orders.index)
    assert set(platform.loans["bank_id"]) | set(platform.credit_lines["bank_id"]) <= set(
        platform.banks["bank_id"]
    )
    assert set(platform.related_parties["supplier_id"]) <= supplier_ids


def test_worse_creditworthiness_brings_more_late_payments_and_more_defaults(platform):
    dealers = platform.dealers.set_index("dealer_id")
    quintile = pd.qcut(dealers["latent_creditworthiness"], 5, labels=False)
    defaults = dealers["latent_defaulted_on"].notna().groupby(quintile).mean()
    payments = platform.payments.dropna(subset=["paid_on"])
    late = (payments["paid_on"] > payments["due_on"]).groupby(quintile.loc[payments["dealer_id"]].to_numpy())
    late_share = late.mean()
    assert late_share.is_monotonic_decreasing and late_share[0] > 4 * late_share[4]
    assert defaults[0] > 4 * defaults[4] and defaults[0] > defaults[2] > defaults[4]


def test_the_default_rate_is_a_few_percent_over_two_years(platform):
    assert 0.03 <= platform.dealers["latent_defaulted_on"].notna().mean() <= 0.08


def test_defaults_read_from_payments_are_the_hidden_default_dates(platform):
    observed = default_days(platform.trade_frames())
    truth = platform.dealers.set_index("dealer_id")["latent_defaulted_on"].dropna()
    pd.testing.assert_series_equal(observed, truth, check_names=False)


def test_credit_lines_are_never_overdrawn(platform):
    loans = platform.loans.assign(
        repaid_at=(platform.loans["repaid_on"] - pd.Timedelta(hours=8)).dt.tz_localize("UTC")
    )
    pairs = loans.merge(loans, on=["dealer_id", "bank_id"], suffixes=("", "_other"))
    open_then = (pairs["disbursed_at_other"] < pairs["disbursed_at"]) & ~(
        pairs["repaid_at_other"] <= pairs["disbursed_at"]
    )
    earlier = pairs[open_then].groupby("loan_id")["principal_fen_other"].sum()
    outstanding = loans.set_index("loan_id")["principal_fen"].add(earlier, fill_value=0)
    limits = platform.credit_lines.set_index(["dealer_id", "bank_id"])["limit_fen"]
    limit = limits.loc[list(zip(loans["dealer_id"], loans["bank_id"], strict=True))].to_numpy()
    assert (outstanding.loc[loans["loan_id"]].to_numpy() <= limit).all()
    assert (
        loans["principal_fen"]
        <= platform.orders.set_index("order_id").loc[loans["order_id"], "amount_fen"].to_numpy() * 0.8
    ).all()


def test_every_misuse_kind_leaves_an_observable_trace(platform):
    orders = platform.orders.set_index("order_id")
    loans = platform.loans
    kinds = orders["latent_misuse"].value_counts()
    assert set(kinds.index) == {
        "financed_then_cancelled",
        "invoice_mismatch",
        "no_delivery",
        "duplicate_financing",
        "diverted_funds",
    }
    paper = orders.index[orders["latent_misuse"] == "no_delivery"]
    assert not set(paper) & set(platform.deliveries["order_id"])
    assert (orders.loc[paper, "status"] != "cancelled").all()

    cancelled = loans[loans["latent_misuse"] == "financed_then_cancelled"]
    when = orders.loc[cancelled["order_id"], "cancelled_at"].to_numpy()
    assert (pd.Series(when).dropna().to_numpy() > cancelled["disbursed_at"].to_numpy()[~pd.isna(when)]).all()

    twice = loans[loans["latent_misuse"] == "duplicate_financing"].groupby("order_id")["bank_id"].nunique()
    assert (twice == 2).all()

    accounts = platform.suppliers.set_index("supplier_id")["account_number"]
    expected = accounts.loc[orders.loc[loans["order_id"], "supplier_id"]].to_numpy()
    diverted = loans["payee_account"].to_numpy() != expected
    assert (diverted == (loans["latent_misuse"] == "diverted_funds").to_numpy()).all()


def test_invoices_agree_with_their_orders_except_the_mismatched_ones(platform):
    orders = platform.orders.set_index("order_id")
    invoices = platform.invoices
    order = orders.loc[invoices["order_id"]]
    returned = platform.returns.groupby("order_id")["amount_fen"].sum()
    net = order["amount_fen"].to_numpy() - returned.reindex(invoices["order_id"]).fillna(0).to_numpy()
    dealer_code = platform.dealers.set_index("dealer_id")["credit_code"].loc[order["dealer_id"]].to_numpy()
    supplier_code = (
        platform.suppliers.set_index("supplier_id")["credit_code"].loc[order["supplier_id"]].to_numpy()
    )
    agrees = (
        ((invoices["amount_fen"] + invoices["tax_fen"]).to_numpy() == net)
        & (invoices["buyer_credit_code"].to_numpy() == dealer_code)
        & (invoices["seller_credit_code"].to_numpy() == supplier_code)
        & (invoices["issued_on"].to_numpy() >= _cst_date(order["placed_at"]).to_numpy())
    )
    mismatched = (order["latent_misuse"] == "invoice_mismatch").to_numpy()
    assert agrees[~mismatched].all()
    assert not agrees[mismatched].any()
    vat = invoices["tax_fen"] / invoices["amount_fen"]
    assert vat[~mismatched].between(0.085, 0.135).all()


def test_circular_traders_share_identity_with_a_related_supplier(platform):
    dealers = platform.dealers.set_index("dealer_id")
    suppliers = platform.suppliers.set_index("supplier_id")
    links = platform.related_parties
    circular = dealers.index[dealers["latent_circular_trader"]]
    assert len(circular) > 0 and set(circular) <= set(links["dealer_id"])
    columns = {
        "legal_representative": "legal_rep_id_number",
        "address": "address",
        "account": "account_number",
    }
    for link in links.itertuples():
        if link.kind in columns:
            column = columns[link.kind]
            assert dealers.loc[link.dealer_id, column] == suppliers.loc[link.supplier_id, column]
    mostly_related = platform.orders[platform.orders["dealer_id"].isin(circular)].merge(
        links[["dealer_id", "supplier_id"]].drop_duplicates(), on=["dealer_id", "supplier_id"]
    )
    assert len(mostly_related) > 0.4 * platform.orders["dealer_id"].isin(circular).sum()


@pytest.mark.parametrize("year", [2025, 2026])
def test_purchases_stall_in_the_spring_festival_week(platform, year):
    festival = pd.Timestamp(spring_festival(year))
    day = _cst_date(platform.orders["placed_at"])
    holiday = day.between(festival - pd.Timedelta(days=7), festival + pd.Timedelta(days=7)).sum() / 15
    after = day.between(festival + pd.Timedelta(days=25), festival + pd.Timedelta(days=54)).sum() / 30
    assert holiday < 0.35 * after


def test_small_platforms_can_be_generated_from_any_start():
    tiny = generate_platform(n_dealers=3, months=2, seed=1, start=date(2023, 12, 15))
    assert tiny.observed_until == pd.Timestamp("2024-01-31 16:00", tz="UTC")
    assert len(tiny.dealers) == 3 and len(tiny.banks) == 3 and len(tiny.guarantors) == 1


@pytest.mark.parametrize("n_dealers", [1, 7, 130, 300, 997])
def test_any_number_of_dealers_can_be_generated(n_dealers):
    platform = generate_platform(n_dealers=n_dealers, months=3, seed=n_dealers)
    assert len(platform.dealers) == n_dealers
    assert set(platform.suppliers["industry"]) >= set(platform.dealers["industry"])


def test_a_platform_survives_a_parquet_round_trip(tmp_path):
    platform = generate_platform(n_dealers=40, months=6, seed=2)
    platform.to_parquet(tmp_path)
    again = type(platform).from_parquet(tmp_path)
    for name, table in platform.tables().items():
        pd.testing.assert_frame_equal(again.tables()[name], table, obj=name)
    assert again.observed_until == platform.observed_until


@pytest.mark.parametrize("as_of", ["2025-02-10", "2025-11-01", "2026-10-31"])
def test_features_of_the_demo_platform_are_finite_or_missing(platform, as_of):
    features = compute_features(platform.trade_frames(), pd.Timestamp(as_of, tz="UTC"))
    values = features.to_numpy()
    assert not np.isinf(values).any()
    assert len(features) == (platform.dealers["recorded_at"] < pd.Timestamp(as_of, tz="UTC")).sum()
    assert (features["current_days_past_due"] >= 0).all()
    assert features.filter(like="ratio").stack().dropna().between(0, 1).all()


def test_generating_in_several_blocks_keeps_loans_and_follow_ups_on_their_orders(monkeypatch):
    from risk_engine.demo import synthetic

    monkeypatch.setattr(synthetic, "DEALERS_PER_BLOCK", 60)
    platform = generate_platform(n_dealers=250, months=12, seed=4)
    orders = platform.orders.set_index("order_id")
    assert (
        orders.index.equals(pd.RangeIndex(1, len(orders) + 1)) and orders["placed_at"].is_monotonic_increasing
    )
    for name in ("payments", "deliveries", "returns", "loans"):
        table = platform.tables()[name]
        assert (
            orders.loc[table["order_id"], "dealer_id"].to_numpy() == table["dealer_id"].to_numpy()
        ).all(), name
    loans = platform.loans
    assert (loans["disbursed_at"].to_numpy() > orders.loc[loans["order_id"], "confirmed_at"].to_numpy()).all()
    assert (loans["principal_fen"] <= orders.loc[loans["order_id"], "amount_fen"].to_numpy() * 0.8).all()
