import csv

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select

from risk_engine.trade.loader import kind_of, load_files
from risk_engine.trade.models import Order, PaymentDue
from tests.factories import make_dealer, make_supplier


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_files_load_in_chunks_with_a_rejected_rows_report(db, tmp_path):
    make_dealer(db, external_id="D-1")
    make_supplier(db, external_id="S-1")
    orders = tmp_path / "orders.csv"
    write_csv(orders, [
        {"external_id": f"O-{i}", "dealer": "D-1" if i != 3 else "D-404", "supplier": "S-1",
         "amount": "100.00", "placed_at": f"2026-01-0{i + 1}T08:00:00+08:00", "status": "placed"}
        for i in range(5)
    ])
    bills = tmp_path / "payment_dues.parquet"
    pq.write_table(pa.table({"external_id": ["B-0", "B-1"], "order": ["O-0", "O-1"],
                             "amount": ["100.00", "100.00"], "due_on": ["2026-02-01", "2026-02-02"],
                             "paid_on": ["2026-02-01", None]}), bills)
    report = tmp_path / "rejected.csv"
    summary = load_files(db.unit_of_work, [orders, bills], actor="test", report_path=report, chunk_rows=2)
    assert (summary.rows, summary.created, summary.rejected) == (7, 6, 1)
    rejected = list(csv.DictReader(report.open()))
    assert rejected == [{"file": "orders.csv", "row": "5", "type": "order", "external_id": "O-3",
                         "field": "dealer", "reason": "unknown dealer 'D-404'"}]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 4
        assert s.scalar(select(func.count()).select_from(PaymentDue).where(PaymentDue.paid_on.is_not(None))) == 1
    again = load_files(db.unit_of_work, [orders], actor="test", report_path=report)
    assert again.duplicates == 4 and again.created == 0


def test_event_type_comes_from_the_file_name():
    from pathlib import Path

    assert kind_of(Path("x/orders.csv")) == "order"
    assert kind_of(Path("payments.parquet")) == "payment"
    assert kind_of(Path("stuff.csv")) is None
    assert kind_of(Path("stuff.csv"), "invoice") == "invoice"
