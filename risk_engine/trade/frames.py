"""The stored trade as the pandas frames that ``scoring.features`` computes from.

Ids are mapped to dense integers for the vectorised feature code (``IdMap`` maps them back);
money leaves the database as integer fen (exact), times as UTC.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from risk_engine.parties.models import Dealer, Supplier
from risk_engine.trade import models as m
from scoring.features import TradeFrames


@dataclass(frozen=True)
class IdMap:
    dealers: pd.Index  # position -> dealer id (string)

    def code(self, dealer_id: str) -> int:
        pos = self.dealers.get_indexer([dealer_id])[0]
        if pos < 0:
            raise KeyError(dealer_id)
        return int(pos)

    def ids(self, codes: Sequence[int] | np.ndarray) -> list[str]:
        return [self.dealers[int(c)] for c in codes]


def _fen(column: Any) -> Any:
    return cast(func.round(column * 100), BigInteger)


def _frame(session: Session, statement: Any, columns: list[str]) -> pd.DataFrame:
    rows = session.execute(statement).all()
    return pd.DataFrame.from_records(rows, columns=columns)


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    return index.get_indexer(values.astype(object))


def load_trade_frames(session: Session, dealer_ids: Sequence[str] | None = None) -> tuple[TradeFrames, IdMap]:
    """All dealers' trade (``dealer_ids`` None) or just those dealers', with their suppliers."""
    def only(statement: Any, column: Any) -> Any:
        return statement if dealer_ids is None else statement.where(column.in_(list(dealer_ids)))

    dealers = _frame(session, only(select(Dealer.id, Dealer.credit_code, Dealer.industry, Dealer.registered_on,
                                          Dealer.licence_expires_on, Dealer.onboarded_at), Dealer.id),
                     ["id", "credit_code", "industry", "registered_on", "licence_expires_on", "onboarded_at"])
    index = pd.Index(dealers["id"].astype(object))
    dealers_out = pd.DataFrame({
        "dealer_id": np.arange(len(dealers), dtype=np.int64),
        "credit_code": dealers["credit_code"].astype(object),
        "industry": dealers["industry"].astype(object),
        "registered_on": pd.to_datetime(dealers["registered_on"]),
        "licence_expires_on": pd.to_datetime(dealers["licence_expires_on"]),
        "onboarded_on": pd.to_datetime(dealers["onboarded_at"], utc=True).dt.tz_convert("Asia/Shanghai")
        .dt.tz_localize(None).dt.normalize(),
        "recorded_at": pd.to_datetime(dealers["onboarded_at"], utc=True),
    })

    o = m.Order
    orders = _frame(session, only(select(o.id, o.dealer_id, o.supplier_id, _fen(o.amount), o.placed_at,
                                         o.cancelled_at, o.recorded_at), o.dealer_id),
                    ["id", "dealer", "supplier", "amount_fen", "placed_at", "cancelled_at", "recorded_at"])
    order_index = pd.Index(orders["id"].astype(object))
    supplier_index = pd.Index(pd.unique(orders["supplier"].astype(object)))
    orders_out = pd.DataFrame({
        "order_id": np.arange(len(orders), dtype=np.int64),
        "dealer_id": _codes(orders["dealer"], index),
        "supplier_id": _codes(orders["supplier"], supplier_index),
        "amount_fen": orders["amount_fen"].astype(np.int64),
        "placed_at": pd.to_datetime(orders["placed_at"], utc=True),
        "cancelled_at": pd.to_datetime(orders["cancelled_at"], utc=True),
        "recorded_at": pd.to_datetime(orders["recorded_at"], utc=True),
    })

    b = m.PaymentDue
    bills = _frame(session, only(select(b.dealer_id, b.due_on, b.paid_on, b.recorded_at, b.paid_recorded_at),
                                 b.dealer_id),
                   ["dealer", "due_on", "paid_on", "recorded_at", "paid_recorded_at"])
    payments_out = pd.DataFrame({
        "dealer_id": _codes(bills["dealer"], index),
        "due_on": pd.to_datetime(bills["due_on"]),
        "paid_on": pd.to_datetime(bills["paid_on"]),
        "recorded_at": pd.to_datetime(bills["recorded_at"], utc=True),
        "paid_recorded_at": pd.to_datetime(bills["paid_recorded_at"], utc=True),
    })

    i = m.Invoice
    invoices = _frame(session, only(select(i.order_id, i.seller_credit_code, i.buyer_credit_code, _fen(i.amount),
                                           _fen(i.tax), i.issued_on, i.recorded_at).join(o, o.id == i.order_id),
                                    o.dealer_id),
                      ["order", "seller_credit_code", "buyer_credit_code", "amount_fen", "tax_fen", "issued_on",
                       "recorded_at"])
    invoices_out = pd.DataFrame({
        "order_id": _codes(invoices["order"], order_index),
        "seller_credit_code": invoices["seller_credit_code"].astype(object),
        "buyer_credit_code": invoices["buyer_credit_code"].astype(object),
        "amount_fen": invoices["amount_fen"].astype(np.int64),
        "tax_fen": invoices["tax_fen"].astype(np.int64),
        "issued_on": pd.to_datetime(invoices["issued_on"]),
        "recorded_at": pd.to_datetime(invoices["recorded_at"], utc=True),
    })

    r = m.Return
    returns = _frame(session, only(select(r.order_id, r.dealer_id, _fen(r.amount), r.returned_at, r.recorded_at),
                                   r.dealer_id),
                     ["order", "dealer", "amount_fen", "returned_at", "recorded_at"])
    returns_out = pd.DataFrame({
        "order_id": _codes(returns["order"], order_index),
        "dealer_id": _codes(returns["dealer"], index),
        "amount_fen": returns["amount_fen"].astype(np.int64),
        "returned_at": pd.to_datetime(returns["returned_at"], utc=True),
        "recorded_at": pd.to_datetime(returns["recorded_at"], utc=True),
    })

    suppliers = _frame(session, select(Supplier.id, Supplier.credit_code)
                       .where(Supplier.id.in_(list(supplier_index))), ["id", "credit_code"])
    suppliers_out = pd.DataFrame({"supplier_id": _codes(suppliers["id"], supplier_index),
                                  "credit_code": suppliers["credit_code"].astype(object)})
    frames = TradeFrames(dealers=dealers_out, orders=orders_out, payments=payments_out, invoices=invoices_out,
                         returns=returns_out, suppliers=suppliers_out)
    return frames, IdMap(index)
