"""`risk-engine data load FILE...`: trade events from CSV or Parquet, streamed in chunks.

Each file holds one event type: a ``type`` column, or the file name (``orders.csv`` → ``order``,
``payment_dues.parquet`` → ``payment_due``...). Rows go through the same validation as
``POST /v1/events``; every chunk commits on its own with its audit entry, so memory stays flat
whatever the file size, and a rejected row is written to the rejected-rows report (file, row,
external_id, field, reason) instead of stopping the load.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from risk_engine.trade import service
from risk_engine.trade.models import EVENT_KINDS

CHUNK_ROWS = 2000
_STEM_KIND = {
    "orders": "order", "order_statuses": "order_status", "order_status": "order_status",
    "payment_dues": "payment_due", "bills": "payment_due", "payments": "payment", "invoices": "invoice",
    "deliveries": "delivery", "returns": "return", "related_parties": "related_party",
    "related_party_links": "related_party",
}


@dataclass
class LoadSummary:
    files: list[str] = field(default_factory=list)
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    report_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def kind_of(path: Path, explicit: str | None = None) -> str | None:
    if explicit:
        return explicit
    stem = path.name.split(".")[0].lower()
    return _STEM_KIND.get(stem, stem if stem in EVENT_KINDS else None)


def iter_rows(path: Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[list[dict[str, Any]]]:
    """Chunks of rows as dicts, without loading the whole file; empty cells are left out."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield [{k: _plain(v) for k, v in row.items() if v is not None and v != ""}
                   for row in batch.to_pylist()]
        return
    if suffix in (".csv", ".txt"):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            chunk: list[dict[str, Any]] = []
            for row in reader:
                chunk.append({k: v for k, v in row.items() if k and v not in (None, "")})
                if len(chunk) >= chunk_rows:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        return
    raise ValueError(f"{path}: only .csv and .parquet files can be loaded")


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def load_files(
    open_session: Callable[[], Any],
    paths: list[Path],
    *,
    actor: str,
    report_path: Path,
    kind: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[LoadSummary], None] | None = None,
) -> LoadSummary:
    """Load ``paths`` in order (put orders before the events that refer to them)."""
    summary = LoadSummary(report_path=str(report_path))
    with ExitStack() as stack:
        fh = stack.enter_context(report_path.open("w", newline="", encoding="utf-8"))
        writer = csv.writer(fh)
        writer.writerow(["file", "row", "type", "external_id", "field", "reason"])
        for path in paths:
            event_kind = kind_of(path, kind)
            summary.files.append(str(path))
            row_offset = 0
            for chunk in iter_rows(path, chunk_rows):
                if event_kind:
                    for row in chunk:
                        row.setdefault("type", event_kind)
                session: Session
                with open_session() as session:
                    report = service.ingest_chunk(session, chunk, actor=actor, ledger=service.Ledger(session))
                for rej in report.rejected:
                    for err in rej["errors"]:
                        writer.writerow([path.name, row_offset + rej["index"] + 2, rej["type"], rej["external_id"],
                                         err["field"], err["reason"]])
                counts = report.as_dict()["counts"]
                summary.rows += counts["received"]
                summary.created += counts["created"]
                summary.duplicates += counts["duplicates"]
                summary.rejected += counts["rejected"]
                row_offset += len(chunk)
                if progress:
                    progress(summary)
    return summary
