"""A guarantor's regulatory headroom (融资担保公司监督管理条例 Art. 15–17)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from limits.guarantees import (
    GuaranteeRegulation,
    Guarantor,
    guarantee_capacity,
    outstanding_by_client,
)
from risk_engine.errors import Conflict, InvalidInput

D = Decimal
TEN_MILLION = D("10000000.00")


def guarantor(net_assets: Decimal = TEN_MILLION, **kwargs) -> Guarantor:
    return Guarantor("G1", net_assets, **kwargs)


def test_one_client_is_held_to_ten_percent_of_net_assets():
    capacity = guarantee_capacity(guarantor(), {"dealer": D("600000.00")}, "dealer")
    assert capacity.binding == "single_party"
    assert capacity.headroom == D("400000.00")  # 10% of 10m = 1m, 600k used


def test_a_client_with_its_related_parties_is_held_to_fifteen_percent():
    book = {
        "dealer": D("200000.00"),
        "sister": D("900000.00"),
        "parent": D("300000.00"),
        "other": D("5000000.00"),
    }
    capacity = guarantee_capacity(guarantor(), book, "dealer", related_clients=["sister", "parent"])
    assert capacity.binding == "related_group"
    assert capacity.headroom == D("100000.00")  # 15% of 10m = 1.5m, group holds 1.4m
    assert capacity.group_outstanding == D("1400000.00")
    assert capacity.candidates["single_party"] == D("800000.00")


def test_total_guarantees_are_held_to_ten_times_net_assets():
    book = {f"client{i}": D("99500.00") for i in range(100)}  # 9.95m against 1m net assets
    capacity = guarantee_capacity(guarantor(D("1000000.00")), book, "dealer")
    assert capacity.binding == "leverage"
    assert capacity.headroom == D("50000.00")
    assert capacity.total_outstanding == D("9950000.00")


def test_a_guarantor_serving_small_and_micro_firms_may_go_to_fifteen_times():
    book = {f"client{i}": D("99500.00") for i in range(100)}
    capacity = guarantee_capacity(guarantor(D("1000000.00"), serves_small_micro=True), book, "dealer")
    assert capacity.candidates["leverage"] == D("5050000.00")  # 15m − 9.95m
    assert capacity.binding == "single_party" and capacity.headroom == D("100000.00")


def test_a_small_micro_guarantor_is_still_held_to_fifteen_times():
    book = {f"client{i}": D("149900.00") for i in range(100)}  # 14.99m against 1m
    capacity = guarantee_capacity(guarantor(D("1000000.00"), serves_small_micro=True), book, "dealer")
    assert capacity.binding == "leverage" and capacity.headroom == D("10000.00")


def test_no_guarantee_for_the_guarantors_controlling_shareholder_or_actual_controller():
    g = guarantor(controlling_parties=frozenset({"owner-co"}))
    capacity = guarantee_capacity(g, {}, "owner-co")
    assert capacity.headroom == D("0.00") and capacity.binding == "controlling_party"
    assert capacity.exhausted


def test_a_guarantor_without_positive_net_assets_has_no_capacity():
    capacity = guarantee_capacity(guarantor(D("-5.00")), {}, "dealer")
    assert capacity.headroom == 0 and capacity.binding == "net_assets"


def test_headroom_never_goes_negative_when_a_limit_is_already_exceeded():
    capacity = guarantee_capacity(guarantor(), {"dealer": D("1200000.00")}, "dealer")
    assert capacity.headroom == D("0.00") and capacity.binding == "single_party"
    assert capacity.candidates["single_party"] == D("0.00")


def test_several_guarantees_for_one_client_add_up():
    pairs = [("dealer", D("300000.00")), ("dealer", D("300000.00")), ("other", D("1.00"))]
    assert outstanding_by_client(pairs) == {"dealer": D("600000.00"), "other": D("1.00")}
    assert guarantee_capacity(guarantor(), pairs, "dealer").headroom == D("400000.00")


def test_headroom_is_rounded_down_to_the_fen():
    capacity = guarantee_capacity(guarantor(D("1000.005")), {}, "dealer")
    assert capacity.headroom == D("100.00")


def test_requiring_more_than_the_headroom_is_a_conflict():
    capacity = guarantee_capacity(guarantor(), {"dealer": D("600000.00")}, "dealer")
    capacity.require(D("400000.00"))
    with pytest.raises(Conflict) as caught:
        capacity.require(D("400000.01"))
    assert caught.value.code == "guarantor_over_capacity"


def test_ratios_are_configurable():
    stricter = GuaranteeRegulation(single_party_share=D("0.05"))
    assert guarantee_capacity(guarantor(), {}, "dealer", regulation=stricter).headroom == D("500000.00")


def test_negative_balances_are_refused():
    with pytest.raises(InvalidInput):
        guarantee_capacity(guarantor(), {"dealer": D("-1")}, "dealer")


balances = st.decimals(min_value=0, max_value=3_000_000, places=2)


@settings(max_examples=200, deadline=None)
@given(
    net_assets=st.decimals(min_value=1, max_value=20_000_000, places=2),
    small_micro=st.booleans(),
    client=balances,
    related=st.lists(balances, max_size=3),
    others=st.lists(balances, max_size=20),
)
def test_granting_the_whole_headroom_keeps_every_ratio(net_assets, small_micro, client, related, others):
    book = {"dealer": client}
    book.update({f"related{i}": amount for i, amount in enumerate(related)})
    book.update({f"other{i}": amount for i, amount in enumerate(others)})
    g = guarantor(net_assets, serves_small_micro=small_micro)
    related_ids = [f"related{i}" for i in range(len(related))]
    capacity = guarantee_capacity(g, book, "dealer", related_ids)
    assert capacity.headroom >= 0
    book["dealer"] += capacity.headroom
    multiple = 15 if small_micro else 10
    within_before = (
        sum(book.values()) - capacity.headroom <= net_assets * multiple
        and client <= net_assets * D("0.10")
        and client + sum(related) <= net_assets * D("0.15")
    )
    if capacity.headroom > 0 or within_before:
        assert sum(book.values()) <= net_assets * multiple
        assert book["dealer"] <= net_assets * D("0.10")
        assert book["dealer"] + sum(related) <= net_assets * D("0.15")


@pytest.mark.parametrize(
    ("book", "share"),
    [
        ({}, D("0")),  # nothing guaranteed yet
        ({"dealer": D("500000.00")}, D("0.5")),  # half of the client's 1m single-party cap
        ({"dealer": D("100000.00"), "others": D("94900000.00")}, D("0.95")),  # 95m of the 100m leverage cap
        ({"dealer": D("1200000.00")}, D("1")),  # the single-party cap already exceeded: 1, not more
    ],
)
def test_the_used_share_is_that_of_the_most_used_constraint(book, share):
    """The early-warning signal ``guarantor_capacity_exhausted`` reads this (≥ 0.90 warns, 1 freezes)."""
    assert guarantee_capacity(guarantor(), book, "dealer").used_share == share


def test_a_guarantor_that_may_guarantee_the_client_nothing_has_used_all_of_it():
    controlled = guarantee_capacity(guarantor(controlling_parties=frozenset({"owner-co"})), {}, "owner-co")
    assert controlled.used_share == guarantee_capacity(guarantor(D("-5.00")), {}, "dealer").used_share == 1
