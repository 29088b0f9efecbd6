"""Turn the generator's flat arrays into the published tables, one DataFrame each.

Orders are renumbered in placement order; follow-up tables come out sorted by order id without a
DataFrame sort (the arrays are permuted once, which matters at five million orders). Arrays are
popped from the working dict as soon as they are used so that memory stays bounded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from risk_engine.demo import financing, trade
from risk_engine.demo.timeline import NEVER, to_dates, to_timestamps

CARRIERS = ("SF", "YT", "ZTO", "JD", "DB")


def labels(codes: np.ndarray, names: tuple[str, ...]) -> pd.Series:
    """Small-int codes (negative = missing) -> a ``str`` column without materialising Python strings."""
    mask = codes < 0
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask), pa.array(list(names))
    )
    return pd.Series(dictionary.cast(pa.string()), dtype="str")


def digit_text(values: np.ndarray, width: int, prefix: pa.Array | str = "") -> pd.Series:
    """Zero-padded decimal text of non-negative integers, optionally prefixed element-wise."""
    digits = pc.utf8_lpad(pc.cast(pa.array(values, type=pa.int64()), pa.string()), width, "0")
    if isinstance(prefix, str) and not prefix:
        return pd.Series(digits, dtype="str")
    if not isinstance(prefix, str):
        prefix = prefix.cast(pa.string())
    return pd.Series(pc.binary_join_element_wise(prefix, digits, ""), dtype="str")


def _ids(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)


def assemble(
    rng: np.random.Generator, b: dict[str, np.ndarray], dealers: pd.DataFrame, suppliers: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """orders, deliveries, returns, payments, invoices, credit_lines and loans from the block arrays."""
    block_first = dict(zip(*np.unique(b.pop("order_block"), return_index=True), strict=True))
    loan_order = b.pop("loan_order") + np.array([block_first[x] for x in b.pop("loan_block")], dtype=np.int64)
    chrono = np.argsort(b["order_placed"], kind="stable")
    for key in [k for k in b if k.startswith(("order_", "follow_"))]:
        b[key] = b[key][chrono]
    rank = np.empty_like(chrono)
    rank[chrono] = np.arange(len(chrono))
    loan_order = rank[loan_order]
    del chrono, rank

    n_orders = len(b["order_placed"])
    order_id = _ids(n_orders)
    dealer_id = b["order_dealer"] + 1
    frames: dict[str, pd.DataFrame] = {}
    frames["deliveries"] = _deliveries(rng, b, order_id, dealer_id)
    frames["returns"] = _returns(b, order_id, dealer_id)
    frames["payments"] = _payments(b, order_id, dealer_id)
    frames["invoices"] = _invoices(rng, b, order_id, dealers, suppliers)
    frames["credit_lines"] = _credit_lines(b)
    frames["loans"] = _loans(b, loan_order, order_id, dealers, suppliers)
    frames["orders"] = pd.DataFrame(
        {
            "order_id": order_id,
            "dealer_id": dealer_id,
            "supplier_id": b.pop("order_supplier") + 1,
            "amount_fen": b.pop("order_amount_fen"),
            "status": labels(b.pop("order_status"), trade.ORDER_STATUSES),
            "placed_at": to_timestamps(b.pop("order_placed")),
            "confirmed_at": to_timestamps(b.pop("order_confirmed")),
            "shipped_at": to_timestamps(b.pop("order_shipped")),
            "delivered_at": to_timestamps(b.pop("order_delivered")),
            "cancelled_at": to_timestamps(b.pop("order_cancelled")),
            "returned_at": to_timestamps(
                np.where(b.pop("follow_full_return"), b.pop("follow_returned"), NEVER)
            ),
            "recorded_at": to_timestamps(b.pop("order_recorded")),
            "latent_misuse": labels(b.pop("order_misuse"), trade.MISUSE_KINDS),
        }
    )
    return frames


def _deliveries(rng, b, order_id, dealer_id) -> pd.DataFrame:
    rows = np.flatnonzero(
        (b["follow_delivery_recorded"] != NEVER)
        & (b["order_misuse"] != trade.MISUSE_KINDS.index("no_delivery"))
    )
    carriers = pa.array(np.array(CARRIERS)[rng.integers(0, len(CARRIERS), len(rows))])
    return pd.DataFrame(
        {
            "delivery_id": _ids(len(rows)),
            "order_id": order_id[rows],
            "dealer_id": dealer_id[rows],
            "waybill_number": digit_text((order_id[rows] * 982_451_653 + 7) % 10**12, 12, carriers),
            "shipped_at": to_timestamps(b["order_shipped"][rows]),
            "delivered_at": to_timestamps(b["order_delivered"][rows]),
            "recorded_at": to_timestamps(b.pop("follow_delivery_recorded")[rows]),
        }
    )


def _returns(b, order_id, dealer_id) -> pd.DataFrame:
    rows = np.flatnonzero(b["follow_return_recorded"] != NEVER)
    return pd.DataFrame(
        {
            "return_id": _ids(len(rows)),
            "order_id": order_id[rows],
            "dealer_id": dealer_id[rows],
            "amount_fen": b["follow_return_fen"][rows],
            "full_return": b["follow_full_return"][rows],
            "returned_at": to_timestamps(b["follow_returned"][rows]),
            "recorded_at": to_timestamps(b.pop("follow_return_recorded")[rows]),
        }
    )


def _payments(b, order_id, dealer_id) -> pd.DataFrame:
    rows = np.flatnonzero(b["follow_bill_recorded"] != NEVER)
    return pd.DataFrame(
        {
            "payment_id": _ids(len(rows)),
            "order_id": order_id[rows],
            "dealer_id": dealer_id[rows],
            "amount_fen": b["order_amount_fen"][rows] - b.pop("follow_return_fen")[rows],
            "due_on": to_dates(b.pop("follow_due_day")[rows]),
            "paid_on": to_dates(b.pop("follow_paid_day")[rows]),
            "recorded_at": to_timestamps(b.pop("follow_bill_recorded")[rows]),
            "paid_recorded_at": to_timestamps(b.pop("follow_paid_recorded")[rows]),
        }
    )


def _invoices(rng, b, order_id, dealers: pd.DataFrame, suppliers: pd.DataFrame) -> pd.DataFrame:
    rows = np.flatnonzero(b["follow_invoice_recorded"] != NEVER)
    dealer_pos = b["order_dealer"][rows]
    wrong_buyer = b.pop("order_invoice_mismatch")[rows] == trade.INVOICE_MISMATCH_KINDS.index("buyer")
    other = (dealer_pos + 1 + rng.integers(0, max(len(dealers) - 1, 1), len(rows))) % len(dealers)
    buyer_pos = np.where(wrong_buyer, other, dealer_pos)
    issued = b.pop("follow_invoice_day")[rows]
    seller_code = suppliers["credit_code"].array.take(b["order_supplier"][rows])
    division4 = pc.utf8_slice_codeunits(pa.array(seller_code), 2, 6)
    year2 = (issued.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970) % 100
    # VAT invoice code: 4-digit tax office, 2-digit year, 3-digit batch, 1 = special VAT invoice
    code_tail = year2 * 10_000 + rng.integers(100, 999, len(rows)) * 10 + 1
    return pd.DataFrame(
        {
            "invoice_id": _ids(len(rows)),
            "invoice_code": digit_text(code_tail, 6, division4),
            "invoice_number": digit_text(
                (np.arange(len(rows)) * 48_271 + int(rng.integers(0, 10**8))) % 10**8, 8
            ),
            "order_id": order_id[rows],
            "seller_credit_code": pd.Series(seller_code, dtype="str"),
            "buyer_credit_code": pd.Series(dealers["credit_code"].array.take(buyer_pos), dtype="str"),
            "amount_fen": b.pop("follow_invoice_fen")[rows],
            "tax_fen": b.pop("follow_tax_fen")[rows],
            "issued_on": to_dates(issued),
            "recorded_at": to_timestamps(b.pop("follow_invoice_recorded")[rows]),
        }
    )


def _credit_lines(b) -> pd.DataFrame:
    order = np.lexsort((b["line_dealer"], b["line_recorded"]))
    return pd.DataFrame(
        {
            "credit_line_id": _ids(len(order)),
            "dealer_id": b.pop("line_dealer")[order] + 1,
            "bank_id": b.pop("line_bank")[order] + 1,
            "limit_fen": b.pop("line_limit_fen")[order],
            "granted_at": to_timestamps(b.pop("line_granted")[order]),
            "recorded_at": to_timestamps(b.pop("line_recorded")[order]),
        }
    )


def _loans(b, loan_order, order_id, dealers: pd.DataFrame, suppliers: pd.DataFrame) -> pd.DataFrame:
    order = np.lexsort((loan_order, b["loan_disbursed"]))
    loan_order = loan_order[order]
    dealer = b.pop("loan_dealer")[order]
    bank = b.pop("loan_bank")[order]
    supplier_account = np.asarray(suppliers["account_number"].array.take(b["order_supplier"][loan_order]))
    dealer_account = np.asarray(dealers["account_number"].array.take(dealer))
    payee = np.where(b.pop("loan_diverted")[order], dealer_account, supplier_account)
    return pd.DataFrame(
        {
            "loan_id": _ids(len(order)),
            "order_id": order_id[loan_order],
            "dealer_id": dealer + 1,
            "bank_id": bank + 1,
            "principal_fen": b.pop("loan_principal_fen")[order],
            "apr_bp": financing.APR_BP[bank].astype(np.int64),
            "tenor_days": b.pop("loan_tenor_days")[order].astype(np.int64),
            "payee_account": pd.Series(payee, dtype="str"),
            "disbursed_at": to_timestamps(b.pop("loan_disbursed")[order]),
            "due_on": to_dates(b.pop("loan_due_day")[order]),
            "repaid_on": to_dates(b.pop("loan_repaid_day")[order]),
            "recorded_at": to_timestamps(b.pop("loan_recorded")[order]),
            "repaid_recorded_at": to_timestamps(b.pop("loan_repaid_recorded")[order]),
            "latent_misuse": labels(b.pop("loan_misuse")[order], trade.MISUSE_KINDS),
        }
    )
