"""A synthetic ordering platform: dealers, suppliers, banks, a guarantor and their trade history.

``generate_platform`` draws hidden dealer economics (``behaviour.py``), identities
(``parties.py``), orders and their follow-ups (``trade.py``) and order loans with misuse cases
(``financing.py``), then assembles one DataFrame per table. The model is described for risk
officers in ``README.md`` next to this file.

Conventions of every table: ids are int64 from 1; money is int64 fen (分); ``*_at`` columns are
instants as ``datetime64[us, UTC]``; ``*_on`` columns are China Standard Time calendar dates as
naive midnight ``datetime64[s]``; missing times are NaT (the event has not happened as far as the
extract knows). Every event carries ``recorded_at``: when the platform learned of it. Columns
prefixed ``latent_`` are hidden ground truth, for evaluation only — never model inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from loan_monitoring.delinquency import DEFAULT_AFTER_DAYS
from risk_engine.demo import financing, tables, trade
from risk_engine.demo.behaviour import DealerBehaviour, draw_behaviour
from risk_engine.demo.ids import distinct_serials
from risk_engine.demo.parties import (
    account_numbers,
    make_banks,
    make_dealers,
    make_guarantors,
    make_suppliers,
    related_party_links,
)
from risk_engine.demo.reference import INDUSTRIES, PROVINCES, daily_activity
from risk_engine.demo.timeline import CST_OFFSET, DAY, NEVER, month_start_days, to_dates
from scoring.features import TradeFrames

DEFAULT_START = date(2024, 11, 1)
DEALERS_PER_BLOCK = 20_000  # trade is generated block by block to bound memory
CIRCULAR_TRADER_SHARE = 0.01


@dataclass(frozen=True)
class Platform:
    dealers: pd.DataFrame
    suppliers: pd.DataFrame
    banks: pd.DataFrame
    guarantors: pd.DataFrame
    orders: pd.DataFrame
    payments: pd.DataFrame
    invoices: pd.DataFrame
    deliveries: pd.DataFrame
    returns: pd.DataFrame
    related_parties: pd.DataFrame
    credit_lines: pd.DataFrame
    loans: pd.DataFrame
    observed_until: pd.Timestamp  # the extract: every recorded_at is before it

    def tables(self) -> dict[str, pd.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "observed_until"}

    def trade_frames(self) -> TradeFrames:
        """The observable inputs of feature computation (no ``latent_`` column reaches them)."""

        def visible(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.drop(columns=[c for c in frame.columns if c.startswith("latent_")])

        return TradeFrames(
            dealers=visible(self.dealers),
            orders=visible(self.orders),
            payments=self.payments,
            invoices=self.invoices,
            returns=self.returns,
            suppliers=self.suppliers,
            credit_lines=self.credit_lines,
            loans=visible(self.loans),
            observed_until=self.observed_until,
        )

    def to_parquet(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables().items():
            frame.to_parquet(directory / f"{name}.parquet", index=False)
        pd.Series([self.observed_until]).to_frame("observed_until").to_parquet(directory / "extract.parquet")

    @classmethod
    def from_parquet(cls, directory: str | Path, columns: dict[str, list[str]] | None = None) -> Platform:
        """Load a saved platform; ``columns`` may restrict what is read per table (others load empty)."""
        directory = Path(directory)
        tables = {}
        for f in fields(cls):
            if f.name == "observed_until":
                continue
            wanted = None if columns is None else columns.get(f.name, [])
            frame = pd.read_parquet(directory / f"{f.name}.parquet", columns=wanted)
            dates = {c: "datetime64[s]" for c in frame.columns if c.endswith("_on")}  # Parquet has no [s]
            tables[f.name] = frame.astype(dates)
        until = pd.read_parquet(directory / "extract.parquet")["observed_until"].iloc[0]
        return cls(**tables, observed_until=until)


def generate_platform(
    n_dealers: int = 2_000, months: int = 24, seed: int = 0, start: date = DEFAULT_START
) -> Platform:
    """Generate ``months`` months of platform history from the first of ``start``'s month."""
    if n_dealers < 1 or months < 1:
        raise ValueError("need at least one dealer and one month")
    month_days = month_start_days(start, months)
    first_day, end_day = int(month_days[0]), int(month_days[-1])
    end = end_day * DAY - CST_OFFSET
    platform_stream, trade_stream = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(platform_stream)
    behaviour = draw_behaviour(rng, n_dealers, first_day, end_day)

    circular = rng.random(n_dealers) < 2 * CIRCULAR_TRADER_SHARE / (1.0 + np.exp(behaviour.creditworthiness))
    regular_industry = _spread(max(2 * len(INDUSTRIES), n_dealers // 20), [i.share for i in INDUSTRIES])
    n_regular = len(regular_industry)
    circular_dealers = np.flatnonzero(circular)
    supplier_industry = np.concatenate([regular_industry, behaviour.industry[circular_dealers]])
    supplier_province = np.concatenate(
        [rng.choice(len(PROVINCES), n_regular, p=_shares(PROVINCES)), behaviour.province[circular_dealers]]
    )
    supplier_onboarded = np.concatenate(
        [
            first_day - rng.integers(1, 30, n_regular),
            np.maximum(
                behaviour.onboarded_day[circular_dealers] - rng.integers(1, 30, len(circular_dealers)),
                first_day - 30,
            ),
        ]
    )
    n_suppliers = len(supplier_industry)
    serials = distinct_serials(n_dealers + n_suppliers + 4, int(rng.integers(0, 10**8)))
    accounts = account_numbers(n_dealers + n_suppliers, int(rng.integers(0, 10**15)))
    dealers = make_dealers(rng, behaviour, serials[:n_dealers], accounts[:n_dealers])
    suppliers = make_suppliers(
        rng,
        supplier_industry,
        supplier_province,
        serials[n_dealers : n_dealers + n_suppliers],
        accounts[n_dealers:],
        supplier_onboarded,
    )
    related = np.full(n_dealers, -1, dtype=np.int64)
    related[circular_dealers] = n_regular + np.arange(len(circular_dealers))
    popularity = np.concatenate([rng.pareto(1.2, n_regular) + 1.0, np.zeros(len(circular_dealers))])
    choice = trade.choose_suppliers(rng, behaviour, supplier_industry, popularity, related)
    links = related_party_links(rng, dealers, suppliers, circular_dealers, related, choice.slots[:, 0])

    daily = np.array([daily_activity(ind, first_day, end_day) for ind in INDUSTRIES])
    blocks = [
        _trade_block(
            np.random.default_rng(block_stream),
            behaviour,
            choice,
            circular,
            lo,
            min(lo + DEALERS_PER_BLOCK, n_dealers),
            month_days,
            daily,
            end,
        )
        for lo, block_stream in zip(
            range(0, n_dealers, DEALERS_PER_BLOCK),
            trade_stream.spawn(-(-n_dealers // DEALERS_PER_BLOCK)),
            strict=True,
        )
    ]
    block = {k: np.concatenate([b.pop(k) for b in blocks]) for k in list(blocks[0])}
    del blocks
    dealer_misuse = block.pop("dealer_misuse")
    frames = tables.assemble(rng, block, dealers, suppliers)
    dealers = _with_ground_truth(dealers, behaviour, circular, dealer_misuse, frames, end_day)
    until = pd.Timestamp(end, unit="s", tz="UTC").as_unit("us")
    return Platform(
        dealers=dealers,
        suppliers=suppliers,
        banks=make_banks(serials[-4:-1], n_dealers, first_day),
        guarantors=make_guarantors(serials[-1:], n_dealers, first_day),
        related_parties=links[links["recorded_at"] < until].reset_index(drop=True),
        observed_until=until,
        **frames,
    )


def _shares(items) -> np.ndarray:
    s = np.array([i.share for i in items])
    return s / s.sum()


def _spread(n: int, shares: list[float]) -> np.ndarray:
    """n category labels in proportion to shares, each category at least twice."""
    counts = np.maximum(2, np.floor(np.array(shares) / sum(shares) * n).astype(np.int64))
    return np.repeat(np.arange(len(shares)), counts)


def _slice(behaviour: DealerBehaviour, lo: int, hi: int) -> DealerBehaviour:
    return replace(behaviour, **{f.name: getattr(behaviour, f.name)[lo:hi] for f in fields(behaviour)})


def _trade_block(
    rng: np.random.Generator,
    behaviour: DealerBehaviour,
    choice: trade.SupplierChoice,
    circular: np.ndarray,
    lo: int,
    hi: int,
    month_days: np.ndarray,
    daily: np.ndarray,
    end: int,
) -> dict[str, np.ndarray]:
    """Orders, follow-ups and loans of dealers lo..hi-1 as flat arrays (dealer positions global)."""
    part = _slice(behaviour, lo, hi)
    part_choice = trade.SupplierChoice(
        choice.slots[lo:hi], choice.cumulative_shares[lo:hi], choice.related_supplier[lo:hi]
    )
    orders = trade.place_orders(rng, part, part_choice, month_days, daily)
    lines, kinds = financing.grant_credit_lines(rng, part, int(month_days[-1]))
    loans, orders = financing.finance_orders(rng, part, orders, lines, kinds, end)
    orders = trade.truncate_at(orders, end)
    financed = np.zeros(len(orders), dtype=bool)
    financed[loans.order] = True
    follow = trade.follow_ups(rng, part, orders, financed, circular[lo:hi], end)
    out = {f"order_{k}": v for k, v in vars(orders).items()}
    out["order_dealer"] = orders.dealer + lo
    out["order_status"] = trade.order_status(orders, follow)
    out["order_block"] = np.full(len(orders), lo, dtype=np.int64)
    out.update({f"follow_{f.name}": getattr(follow, f.name) for f in fields(follow)})
    out.update({f"loan_{k}": v for k, v in vars(loans).items()})
    out["loan_dealer"] = loans.dealer + lo
    out["loan_block"] = np.full(len(loans.order), lo, dtype=np.int64)
    out.update({f"line_{k}": v for k, v in vars(lines).items()})
    out["line_dealer"] = lines.dealer + lo
    out["dealer_misuse"] = kinds
    return out


def _with_ground_truth(
    dealers: pd.DataFrame,
    behaviour: DealerBehaviour,
    circular: np.ndarray,
    misuse: np.ndarray,
    frames: dict[str, pd.DataFrame],
    end_day: int,
) -> pd.DataFrame:
    """Hidden columns: creditworthiness, distress, first 90+ DPD day, circular trading, misuse kind."""
    dealers = dealers.copy()
    dealers["latent_creditworthiness"] = behaviour.creditworthiness
    dealers["latent_growth_per_month"] = behaviour.growth_per_month
    dealers["latent_distressed_on"] = to_dates(behaviour.distress_day)
    defaulted = np.full(len(dealers), NEVER, dtype=np.int64)
    for frame, due, paid in (("payments", "due_on", "paid_on"), ("loans", "due_on", "repaid_on")):
        table = frames[frame]
        due_day = table[due].to_numpy().astype("datetime64[D]").astype(np.int64)
        paid_day = table[paid].to_numpy().astype("datetime64[D]")
        paid_day = np.where(np.isnat(paid_day), NEVER, paid_day.astype(np.int64))
        hit = due_day + DEFAULT_AFTER_DAYS + 1  # the first day more than 90 days past due
        bad = (paid_day > hit) & (hit < end_day)  # a payment counts on the day it is made
        np.minimum.at(defaulted, table["dealer_id"].to_numpy()[bad] - 1, hit[bad])
    dealers["latent_defaulted_on"] = to_dates(defaulted)
    dealers["latent_circular_trader"] = circular
    dealers["latent_misuse"] = tables.labels(misuse, trade.MISUSE_KINDS)
    return dealers
