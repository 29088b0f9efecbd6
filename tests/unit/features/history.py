"""A hand-made trade history small enough to compute every feature by hand.

As of 2026-07-01 00:00 China Standard Time. Windows: last 3 months = April-June 2026, last 6 =
January-June 2026, last 12 = July 2025-June 2026. Amounts below are in yuan; the frames hold fen.

Dealer 1 (food & beverage, onboarded 2025-01-15, registered 2020-07-01, licence to 2027-07-01)
  orders  O1 2025-08-10 10,000 supplier 1     O2 2026-02-15 20,000 supplier 1
          O3 2026-03-05 10,000 supplier 2     O4 2026-04-20 30,000 supplier 1
          O5 2026-06-10 10,000 supplier 2
          O6 2026-06-20 50,000 cancelled 2026-06-22          -> not a purchase
          O7 2026-06-25 99,999 recorded 2026-07-02           -> not known yet
  payments P1 due 2026-02-01 paid 2026-01-30 (on time)
           P2 due 2026-04-10 paid 2026-04-15 (5 days late)
           P3 due 2026-05-20 paid 2026-06-29 but recorded 2026-07-02 -> unpaid so far, 42 days
           P4 due 2026-06-15 unpaid, 16 days
           P5 due 2025-09-01 paid 2025-09-11 (10 days late)
           P6 due 2026-07-05 (not due yet)    P7 recorded 2026-07-02 (not known yet)
  returns  3,000 of O4 on 2026-04-25; 2,000 of O2 on 2026-02-20; one recorded after as-of
  invoices I1 O4 27,000 (net of its return) ok      I2 O5 10,000 to dealer 2's code: wrong buyer
           I3 O2 18,000 (net) ok                    I4 O3 dated before the order: backdated
           I5 O1 10,000 from supplier 2's code: wrong seller
  credit line 100,000 at bank 1 from 2025-12-15
  loans    L1 40,000 2026-01-10, due 2026-03-10, repaid 2026-03-08
           L2 50,000 2026-05-15, due 2026-06-14, unpaid (17 days late)
           L3 20,000 2026-06-20, due 2026-08-20 (not due yet)

Dealer 2 (pharmaceuticals, onboarded 2026-03-10, registered 2024-01-01, long-term licence)
  orders  Q1 2026-04-05 5,000 supplier 1, Q2 2026-06-01 5,000 supplier 1; nothing else.

Dealer 3 is onboarded after the as-of date.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import pandas as pd

from scoring.features import TradeFrames

CST = timezone(timedelta(hours=8))
AS_OF = pd.Timestamp("2026-07-01 00:00", tz=CST).tz_convert("UTC")
CODES = {1: "9144030071526726XG", 2: "911101050000000514", 3: "91310115999999998C"}
SUPPLIER_CODES = {1: "91440106000000001X", 2: "914403050000000029"}


def at(text: str | None) -> pd.Timestamp:
    """A China Standard Time wall-clock moment as a UTC timestamp."""
    return pd.NaT if text is None else pd.Timestamp(text, tz=CST).tz_convert("UTC")


def on(text: str | None) -> pd.Timestamp:
    return pd.NaT if text is None else pd.Timestamp(text)


def _instants(values) -> pd.Series:
    return pd.Series([at(v) for v in values], dtype="datetime64[us, UTC]")


def _dates(values) -> pd.Series:
    return pd.Series([on(v) for v in values], dtype="datetime64[s]")


def yuan(amount: float) -> int:
    return round(amount * 100)


def dealers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dealer_id": [1, 2, 3],
            "credit_code": [CODES[1], CODES[2], CODES[3]],
            "industry": ["food_beverage", "pharmaceuticals", "food_beverage"],
            "registered_on": _dates(["2020-07-01", "2024-01-01", "2019-01-01"]),
            "licence_expires_on": _dates(["2027-07-01", None, None]),
            "onboarded_on": _dates(["2025-01-15", "2026-03-10", "2026-07-05"]),
            "recorded_at": _instants(["2025-01-15 10:00", "2026-03-10 10:00", "2026-07-05 10:00"]),
        }
    )


def orders() -> pd.DataFrame:
    rows = [
        # id, dealer, supplier, yuan, placed, cancelled, recorded
        (1, 1, 1, 10_000, "2025-08-10 10:00", None, "2025-08-10 10:01"),
        (2, 1, 1, 20_000, "2026-02-15 10:00", None, "2026-02-15 10:01"),
        (3, 1, 2, 10_000, "2026-03-05 10:00", None, "2026-03-05 10:01"),
        (4, 1, 1, 30_000, "2026-04-20 10:00", None, "2026-04-20 10:01"),
        (5, 1, 2, 10_000, "2026-06-10 10:00", None, "2026-06-10 10:01"),
        (6, 1, 1, 50_000, "2026-06-20 10:00", "2026-06-22 09:00", "2026-06-20 10:01"),
        (7, 1, 1, 99_999, "2026-06-25 10:00", None, "2026-07-02 10:00"),
        (8, 2, 1, 5_000, "2026-04-05 10:00", None, "2026-04-05 10:01"),
        (9, 2, 1, 5_000, "2026-06-01 10:00", None, "2026-06-01 10:01"),
    ]
    ids, dealer, supplier, amount, placed, cancelled, recorded = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "order_id": ids,
            "dealer_id": dealer,
            "supplier_id": supplier,
            "amount_fen": [yuan(a) for a in amount],
            "placed_at": _instants(placed),
            "cancelled_at": _instants(cancelled),
            "recorded_at": _instants(recorded),
        }
    )


def payments() -> pd.DataFrame:
    rows = [
        # dealer, due, paid, recorded, paid recorded
        (1, "2026-02-01", "2026-01-30", "2026-01-01 10:00", "2026-01-31 10:00"),
        (1, "2026-04-10", "2026-04-15", "2026-03-10 10:00", "2026-04-16 10:00"),
        (1, "2026-05-20", "2026-06-29", "2026-04-20 10:00", "2026-07-02 10:00"),
        (1, "2026-06-15", None, "2026-05-15 10:00", None),
        (1, "2025-09-01", "2025-09-11", "2025-08-17 10:00", "2025-09-12 10:00"),
        (1, "2026-07-05", None, "2026-06-17 10:00", None),
        (1, "2026-06-01", None, "2026-07-02 10:00", None),
    ]
    dealer, due, paid, recorded, paid_recorded = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "dealer_id": dealer,
            "amount_fen": yuan(1_000),
            "due_on": _dates(due),
            "paid_on": _dates(paid),
            "recorded_at": _instants(recorded),
            "paid_recorded_at": _instants(paid_recorded),
        }
    )


def returns() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [4, 2, 5],
            "dealer_id": [1, 1, 1],
            "amount_fen": [yuan(3_000), yuan(2_000), yuan(1_000)],
            "returned_at": _instants(["2026-04-25 10:00", "2026-02-20 10:00", "2026-06-28 10:00"]),
            "recorded_at": _instants(["2026-04-25 11:00", "2026-02-20 11:00", "2026-07-03 11:00"]),
        }
    )


def _vat(gross_yuan: float) -> tuple[int, int]:
    net = round(yuan(gross_yuan) / 1.13)
    return net, yuan(gross_yuan) - net


def invoices() -> pd.DataFrame:
    rows = [
        # order, seller, buyer, gross yuan, issued
        (4, SUPPLIER_CODES[1], CODES[1], 27_000, "2026-05-01"),
        (5, SUPPLIER_CODES[2], CODES[2], 10_000, "2026-06-15"),
        (2, SUPPLIER_CODES[1], CODES[1], 18_000, "2026-02-25"),
        (3, SUPPLIER_CODES[2], CODES[1], 10_000, "2026-02-28"),
        (1, SUPPLIER_CODES[2], CODES[1], 10_000, "2025-08-20"),
    ]
    order, seller, buyer, gross, issued = zip(*rows, strict=True)
    amounts = [_vat(g) for g in gross]
    return pd.DataFrame(
        {
            "order_id": order,
            "seller_credit_code": seller,
            "buyer_credit_code": buyer,
            "amount_fen": [a for a, _ in amounts],
            "tax_fen": [t for _, t in amounts],
            "issued_on": _dates(issued),
            "recorded_at": _instants([f"{d} 12:00" for d in issued]),
        }
    )


def suppliers() -> pd.DataFrame:
    return pd.DataFrame({"supplier_id": [1, 2], "credit_code": [SUPPLIER_CODES[1], SUPPLIER_CODES[2]]})


def credit_lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dealer_id": [1],
            "bank_id": [1],
            "limit_fen": [yuan(100_000)],
            "recorded_at": _instants(["2025-12-15 10:00"]),
        }
    )


def loans() -> pd.DataFrame:
    rows = [
        # principal, disbursed, due, repaid, repaid recorded
        (40_000, "2026-01-10 10:00", "2026-03-10", "2026-03-08", "2026-03-08 18:00"),
        (50_000, "2026-05-15 10:00", "2026-06-14", None, None),
        (20_000, "2026-06-20 10:00", "2026-08-20", None, None),
    ]
    principal, disbursed, due, repaid, repaid_recorded = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "dealer_id": [1, 1, 1],
            "principal_fen": [yuan(p) for p in principal],
            "disbursed_at": _instants(disbursed),
            "due_on": _dates(due),
            "repaid_on": _dates(repaid),
            "recorded_at": _instants(disbursed),
            "repaid_recorded_at": _instants(repaid_recorded),
        }
    )


def history(**overrides) -> TradeFrames:
    tables = dict(
        dealers=dealers(),
        orders=orders(),
        payments=payments(),
        invoices=invoices(),
        returns=returns(),
        suppliers=suppliers(),
        credit_lines=credit_lines(),
        loans=loans(),
    )
    tables.update(overrides)
    return TradeFrames(**tables)
