"""Loading a generated platform into the database, through the same services a real platform's
data goes through: dealers and suppliers are onboarded with KYB screening, encrypted personal data
and consent; trade arrives as events through the bulk ingestion path; credit lines open through the
ledger. Only the onboarding and grant times are back-dated to the generated history.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import select

from compliance.keys import KeyProvider
from limits import ledger
from risk_engine.db import Database
from risk_engine.demo.synthetic import Platform
from risk_engine.parties import service as parties
from risk_engine.parties.models import Bank, Dealer, Guarantor
from risk_engine.parties.schemas import DealerIn, SupplierIn
from risk_engine.trade import service as trade

ACTOR = "system:demo-seed"
EVENT_CHUNK = 4000
PARTY_CHUNK = 250


def dealer_ref(code: int) -> str:
    return f"D{int(code):06d}"


def supplier_ref(code: int) -> str:
    return f"S{int(code):05d}"


def order_ref(code: int) -> str:
    return f"O{int(code):08d}"


@dataclass
class LoadedPlatform:
    dealers: int = 0
    suppliers: int = 0
    events: int = 0
    rejected: int = 0
    credit_lines: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)  # "type field: reason" -> events


def _yuan(fen: Any) -> str:
    return str(Decimal(int(fen)) / 100)


def _ts(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").isoformat() if pd.Timestamp(value).tzinfo else \
        pd.Timestamp(value).tz_localize("UTC").isoformat()


def _day(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size]


def load_platform(db: Database, platform: Platform, *, keys: KeyProvider,
                  progress: Callable[[str], None] = lambda _msg: None) -> LoadedPlatform:
    loaded = LoadedPlatform()
    with db.session() as s:
        banks = list(s.scalars(select(Bank).order_by(Bank.created_at, Bank.id)))
        guarantor = s.scalars(select(Guarantor)).first()
    _onboard_suppliers(db, platform.suppliers, keys, loaded)
    progress(f"suppliers onboarded: {loaded.suppliers}")
    _onboard_dealers(db, platform.dealers, keys, guarantor.id if guarantor else None, loaded)
    progress(f"dealers onboarded: {loaded.dealers}")
    for name, events in _event_streams(platform):
        before = loaded.events
        for chunk in _chunks(events, EVENT_CHUNK):
            with db.unit_of_work() as session:
                records = [{k: v for k, v in r.items() if v is not None and v == v}  # NaN != NaN
                           for r in chunk.to_dict("records")]
                report = trade.ingest_chunk(session, records, actor=ACTOR, ledger=trade.Ledger(session))
            counts = report.as_dict()["counts"]
            loaded.events += counts["created"]
            loaded.rejected += counts["rejected"]
            loaded.rejections += report.rejected[:5]
            loaded.rejected_by_reason.update(f"{r['type']} {e['field']}: {e['reason']}"
                                             for r in report.rejected for e in r["errors"][:1])
        progress(f"{name}: {loaded.events - before} events")
    _open_credit_lines(db, platform.credit_lines, banks, loaded)
    progress(f"credit lines opened: {loaded.credit_lines}")
    return loaded


def _onboard_suppliers(db: Database, suppliers: pd.DataFrame, keys: KeyProvider, loaded: LoadedPlatform) -> None:
    for chunk in _chunks(suppliers, PARTY_CHUNK):
        with db.unit_of_work() as session:
            for row in chunk.itertuples(index=False):
                supplier = parties.onboard_supplier(session, SupplierIn(
                    credit_code=row.credit_code, name=row.name, external_id=supplier_ref(row.supplier_id),
                    industry=row.industry, whitelisted=bool(row.whitelisted), account_number=row.account_number,
                ), actor=ACTOR, keys=keys)
                supplier.onboarded_at = pd.Timestamp(row.recorded_at).to_pydatetime()
                loaded.suppliers += 1


def _onboard_dealers(db: Database, dealers: pd.DataFrame, keys: KeyProvider, guarantor_id: str | None,
                     loaded: LoadedPlatform) -> None:
    for chunk in _chunks(dealers, PARTY_CHUNK):
        with db.unit_of_work() as session:
            for row in chunk.itertuples(index=False):
                onboarded = pd.Timestamp(row.recorded_at).to_pydatetime()
                data = DealerIn(
                    credit_code=row.credit_code, name=row.name, external_id=dealer_ref(row.dealer_id),
                    region=row.region, industry=row.industry, registered_on=_day(row.registered_on),
                    licence_expires_on=_day(row.licence_expires_on), guarantor_id=guarantor_id,
                    legal_representative={"name": row.legal_rep_name, "id_number": row.legal_rep_id_number,
                                          "phone": row.legal_rep_phone},
                    account_number=row.account_number,
                    consent={"purposes": ["credit_scoring", "data_sharing_with_bank", "loan_monitoring"],
                             "scope": "platform trade history for credit limits and order loans",
                             "evidence": f"demo e-signature {dealer_ref(row.dealer_id)}",
                             "granted_at": onboarded.isoformat()},
                )
                dealer = parties.onboard_dealer(session, data, actor=ACTOR, keys=keys, today=onboarded.date())
                dealer.onboarded_at = onboarded
                loaded.dealers += 1


def _event_streams(p: Platform) -> list[tuple[str, pd.DataFrame]]:
    o = p.orders
    orders = pd.DataFrame({
        "type": "order", "external_id": o["order_id"].map(order_ref), "dealer": o["dealer_id"].map(dealer_ref),
        "supplier": o["supplier_id"].map(supplier_ref), "amount": o["amount_fen"].map(_yuan),
        "placed_at": o["placed_at"].map(_ts), "status": o["status"].astype(object),
        **{c: o[c].map(_ts) for c in ("confirmed_at", "shipped_at", "delivered_at", "cancelled_at", "returned_at")},
        "recorded_at": o["recorded_at"].map(_ts),
    })
    b = p.payments
    bills = pd.DataFrame({
        "type": "payment_due", "external_id": "B" + b["payment_id"].astype(str), "order": b["order_id"].map(order_ref),
        "amount": b["amount_fen"].map(_yuan), "due_on": b["due_on"].map(_day), "paid_on": b["paid_on"].map(_day),
        "recorded_at": b["recorded_at"].map(_ts), "paid_recorded_at": b["paid_recorded_at"].map(_ts),
    })
    i = p.invoices
    invoices = pd.DataFrame({
        "type": "invoice", "external_id": "I" + i["invoice_id"].astype(str), "order": i["order_id"].map(order_ref),
        "invoice_code": i["invoice_code"].astype(object), "invoice_number": i["invoice_number"].astype(object),
        "seller_credit_code": i["seller_credit_code"].astype(object),
        "buyer_credit_code": i["buyer_credit_code"].astype(object), "amount": i["amount_fen"].map(_yuan),
        "tax": i["tax_fen"].map(_yuan), "issued_on": i["issued_on"].map(_day), "recorded_at": i["recorded_at"].map(_ts),
    })
    d = p.deliveries
    deliveries = pd.DataFrame({
        "type": "delivery", "external_id": "W" + d["delivery_id"].astype(str), "order": d["order_id"].map(order_ref),
        "delivered_at": d["delivered_at"].map(_ts), "tracking_number": d["waybill_number"].astype(object),
        "recorded_at": d["recorded_at"].map(_ts),
    })
    r = p.returns
    returns = pd.DataFrame({
        "type": "return", "external_id": "R" + r["return_id"].astype(str), "order": r["order_id"].map(order_ref),
        "amount": r["amount_fen"].map(_yuan), "returned_at": r["returned_at"].map(_ts),
        "recorded_at": r["recorded_at"].map(_ts),
    })
    rp = p.related_parties
    related = pd.DataFrame({
        "type": "related_party", "external_id": "L" + rp["link_id"].astype(str),
        "dealer": rp["dealer_id"].map(dealer_ref), "supplier": rp["supplier_id"].map(supplier_ref),
        "kind": rp["kind"].astype(object), "recorded_at": rp["recorded_at"].map(_ts),
    })
    streams = [("orders", orders), ("bills", bills), ("invoices", invoices), ("deliveries", deliveries),
               ("returns", returns), ("related parties", related)]
    return streams


def _open_credit_lines(db: Database, lines: pd.DataFrame, banks: list[Bank], loaded: LoadedPlatform) -> None:
    with db.session() as s:
        dealer_ids = dict(s.execute(select(Dealer.external_id, Dealer.id)).all())
    with db.unit_of_work() as session:
        for row in lines.itertuples(index=False):
            if not 1 <= int(row.bank_id) <= len(banks):
                continue
            bank = banks[int(row.bank_id) - 1]  # table ids count from 1, in the order the banks were created
            dealer_id = dealer_ids[dealer_ref(row.dealer_id)]
            limit = min(Decimal(int(row.limit_fen)) / 100, bank.max_line_amount)
            cause = ledger.Cause("demo_history", f"credit_line:{int(row.credit_line_id)}")
            ledger.open_line(session, dealer_id=dealer_id, bank_id=bank.id, limit=limit, cause=cause, actor=ACTOR)
            loaded.credit_lines += 1
