"""The stored trade as the pandas frames that ``scoring.features`` computes from.

Ids are mapped to dense integers for the vectorised feature code (``IdMap`` maps them back);
money leaves the database as integer fen (exact), times as UTC.

Besides the platform's trade, the engine's own credit history feeds the utilisation and prior-loan
features: ``credit_lines`` is the history of each line's limit (one row per movement that set it,
from ``credit_movement``; a closed line counts 0), ``loans`` the order loans that were disbursed,
visible from the bank's first disbursement report and repaid once the last repayment was recorded.
A loan's principal and due date are its current figures (a later tranche or a recall is not undone
for an earlier as-of date); everything else is point in time.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, case, cast, func, or_, select
from sqlalchemy.orm import Session

from limits.models import CreditLineRecord, CreditMovement
from loan_monitoring.models import Disbursement, OrderLoan, Repayment
from risk_engine.parties.models import Dealer, Supplier
from risk_engine.trade import models as m
from scoring.features import REQUIRED_COLUMNS, TradeFrames


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

    dealers_out, index = _dealers(session, only)
    orders, orders_out = _orders(session, only(select(*_ORDER_COLUMNS), m.Order.dealer_id), index)
    order_index = pd.Index(orders["id"].astype(object))
    supplier_index = pd.Index(pd.unique(orders["supplier"].astype(object)))
    orders_out["supplier_id"] = _codes(orders["supplier"], supplier_index)
    o = m.Order

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
    invoices = _frame(session, only(select(i.order_id, i.seller_credit_code, i.buyer_credit_code,
                                           _fen(i.amount), _fen(i.tax), i.issued_on, i.recorded_at)
                                    .join(o, o.id == i.order_id), o.dealer_id),
                      ["order", "seller_credit_code", "buyer_credit_code", "amount_fen", "tax_fen",
                       "issued_on", "recorded_at"])
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
    returns = _frame(session, only(select(r.order_id, r.dealer_id, _fen(r.amount), r.returned_at,
                                          r.recorded_at), r.dealer_id),
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
    frames = TradeFrames(dealers=dealers_out, orders=orders_out, payments=payments_out,
                         invoices=invoices_out, returns=returns_out, suppliers=suppliers_out,
                         credit_lines=_credit_lines(session, only, index), loans=_loans(session, only, index))
    return frames, IdMap(index)


def load_monthly_purchases(session: Session, month_starts: Sequence[datetime]) -> TradeFrames:
    """Every dealer, and per dealer and month what ``scoring.features.industry_seasonal_index`` reads:
    the sum of the orders placed in the month that were recorded, and not cancelled, before
    ``month_starts[0]``. ``month_starts`` go back in time; month k is [month_starts[k + 1],
    month_starts[k]). One row per (dealer, month), dated at the month's first instant — a dozen rows
    per dealer instead of every order, summed exactly (integer fen) in the database."""
    now, oldest = month_starts[0], month_starts[-1]
    dealers_out, index = _dealers(session, lambda statement, column: statement)
    o = m.Order
    month = case(*((o.placed_at >= begins, k) for k, begins in enumerate(month_starts[1:])))
    not_cancelled = or_(o.cancelled_at.is_(None), o.cancelled_at >= now, o.cancelled_recorded_at >= now)
    placed = (select(o.dealer_id.label("dealer"), month.label("month"), _fen(o.amount).label("fen"))
              .where(o.placed_at >= oldest, o.placed_at < now, o.recorded_at < now, not_cancelled)
              .subquery())
    sums = _frame(session, select(placed.c.dealer, placed.c.month, func.sum(placed.c.fen))
                  .group_by(placed.c.dealer, placed.c.month), ["dealer", "month", "amount_fen"])
    begins = pd.DatetimeIndex(pd.to_datetime(list(month_starts[1:]), utc=True))
    placed_at = pd.Series(begins[sums["month"].astype(np.int64).to_numpy()], dtype="datetime64[ns, UTC]")
    orders_out = pd.DataFrame({
        "order_id": np.arange(len(sums), dtype=np.int64),
        "dealer_id": _codes(sums["dealer"], index),
        "supplier_id": np.zeros(len(sums), dtype=np.int64),  # suppliers play no part
        "amount_fen": sums["amount_fen"].astype(np.int64),
        "placed_at": placed_at,
        "cancelled_at": pd.Series(pd.NaT, index=range(len(sums)), dtype="datetime64[ns, UTC]"),
        "recorded_at": placed_at,
    })
    return TradeFrames(dealers=dealers_out, orders=orders_out,
                       payments=pd.DataFrame(columns=REQUIRED_COLUMNS["payments"]))


def _dealers(session: Session, only: Any) -> tuple[pd.DataFrame, pd.Index]:
    dealers = _frame(session, only(select(Dealer.id, Dealer.credit_code, Dealer.industry,
                                          Dealer.registered_on, Dealer.licence_expires_on,
                                          Dealer.onboarded_at), Dealer.id),
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
    return dealers_out, index


_ORDER_COLUMNS = (m.Order.id, m.Order.dealer_id, m.Order.supplier_id, _fen(m.Order.amount), m.Order.placed_at,
                  m.Order.cancelled_at, m.Order.cancelled_recorded_at, m.Order.recorded_at)


def _orders(session: Session, statement: Any, index: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored orders as read, and as the feature frame (``supplier_id`` left to the caller)."""
    orders = _frame(session, statement,
                    ["id", "dealer", "supplier", "amount_fen", "placed_at", "cancelled_at", "cancelled_recorded_at",
                     "recorded_at"])
    # a cancellation counts from when it was effective or, if reported later, from when it was known
    effective = pd.to_datetime(orders["cancelled_at"], utc=True)
    known = pd.to_datetime(orders["cancelled_recorded_at"], utc=True)
    orders_out = pd.DataFrame({
        "order_id": np.arange(len(orders), dtype=np.int64),
        "dealer_id": _codes(orders["dealer"], index),
        "supplier_id": np.zeros(len(orders), dtype=np.int64),
        "amount_fen": orders["amount_fen"].astype(np.int64),
        "placed_at": pd.to_datetime(orders["placed_at"], utc=True),
        "cancelled_at": effective.where(known.isna() | (known <= effective), known),
        "recorded_at": pd.to_datetime(orders["recorded_at"], utc=True),
    })
    return orders, orders_out


# movements that set a line's limit (or take it away); reserve, utilise... leave it as it was
_LIMIT_MOVEMENTS = ("open", "adjust", "renew", "close", "reopen")


def _credit_lines(session: Session, only: Any, index: pd.Index) -> pd.DataFrame:
    line, mv = CreditLineRecord, CreditMovement
    limit_fen = case((mv.status_after == "closed", 0), else_=_fen(mv.limit_after))
    lines = _frame(session, only(select(line.dealer_id, line.bank_id, limit_fen, mv.at)
                                 .join(line, line.id == mv.line_id)
                                 .where(mv.kind.in_(_LIMIT_MOVEMENTS))
                                 .order_by(mv.at, mv.id), line.dealer_id),
                   ["dealer", "bank", "limit_fen", "at"])
    bank_index = pd.Index(pd.unique(lines["bank"].astype(object)))
    return pd.DataFrame({
        "dealer_id": _codes(lines["dealer"], index),
        "bank_id": _codes(lines["bank"], bank_index),
        "limit_fen": lines["limit_fen"].astype(np.int64),
        "recorded_at": pd.to_datetime(lines["at"], utc=True),
    })


def _loans(session: Session, only: Any, index: pd.Index) -> pd.DataFrame:
    loan = OrderLoan
    reported = (select(Disbursement.loan_id, func.min(Disbursement.recorded_at).label("at"))
                .group_by(Disbursement.loan_id).subquery())
    settled = (select(Repayment.loan_id, func.max(Repayment.recorded_at).label("at"))
               .group_by(Repayment.loan_id).subquery())
    repaid = loan.state == "repaid"
    statement = (select(loan.dealer_id, _fen(loan.disbursed_amount), loan.first_disbursed_at, loan.due_on,
                        case((repaid, loan.repaid_at)), reported.c.at,
                        case((repaid, func.coalesce(settled.c.at, loan.repaid_at))))
                 .join(reported, reported.c.loan_id == loan.id)
                 .outerjoin(settled, settled.c.loan_id == loan.id)
                 .where(loan.first_disbursed_at.is_not(None)))
    loans = _frame(session, only(statement, loan.dealer_id),
                   ["dealer", "principal_fen", "disbursed_at", "due_on", "repaid_at", "recorded_at",
                    "repaid_recorded_at"])
    repaid_at = pd.to_datetime(loans["repaid_at"], utc=True)
    return pd.DataFrame({
        "dealer_id": _codes(loans["dealer"], index),
        "principal_fen": loans["principal_fen"].astype(np.int64),
        "disbursed_at": pd.to_datetime(loans["disbursed_at"], utc=True),
        "due_on": pd.to_datetime(loans["due_on"]),
        # the Beijing business date of the final repayment
        "repaid_on": repaid_at.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).dt.normalize(),
        "recorded_at": pd.to_datetime(loans["recorded_at"], utc=True),
        "repaid_recorded_at": pd.to_datetime(loans["repaid_recorded_at"], utc=True),
    })
