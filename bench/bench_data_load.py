"""Bulk loading of orders with ``risk-engine data load``: throughput and peak memory.

    .venv/bin/python bench/bench_data_load.py                          # 5,000,000 orders, Parquet
    .venv/bin/python bench/bench_data_load.py --orders 500000 --format csv
    .venv/bin/python bench/bench_data_load.py --orders 50000 --profile  # where the loader spends its time

Makes a fresh SQLite database, migrates it, seeds the dealers and suppliers the orders refer to with
multi-row INSERTs (minimal rows: the benchmark is about the trade, not onboarding), writes the orders
to one file in row groups (the benchmark itself never holds them all), then runs
``risk-engine data load`` in a child process, sampling its resident set size from /proc while it runs
(peak: ``getrusage(RUSAGE_CHILDREN).ru_maxrss``, with its CPU time: on a shared machine rows per
CPU-second is the steadier figure). Prints figures as JSON lines; never asserts (the target: 5M orders
in under 1 GB resident, the loader streams chunks).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START = datetime(2024, 11, 1, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 86_400  # two years of orders
ROW_GROUP = 250_000
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _emit(figures: dict) -> None:
    print(json.dumps(figures, ensure_ascii=False), flush=True)


def dealer_ref(i: int) -> str:
    return f"D{i:06d}"


def supplier_ref(i: int) -> str:
    return f"S{i:05d}"


def _credit_code(prefix: str, i: int) -> str:
    from compliance.kyb import compute_credit_code_check_char

    body = f"{prefix}{i:08d}"[:17]
    return body + compute_credit_code_check_char(body)


def seed_parties(url: str, dealers: int, suppliers: int) -> float:
    """Dealers and suppliers in multi-row INSERTs of 5,000; returns seconds."""
    from sqlalchemy import insert

    from risk_engine.db import Database
    from risk_engine.ids import new_id
    from risk_engine.parties.models import Dealer, Supplier

    started = time.perf_counter()
    db = Database(url)
    onboarded = START.replace(year=START.year - 1)
    with db.unit_of_work() as s:
        for lo in range(0, suppliers, 5000):
            s.execute(insert(Supplier), [
                dict(id=new_id("sup"), external_id=supplier_ref(i), credit_code=_credit_code("914403005", i),
                     name=f"Supplier {i}", industry="building_materials", whitelisted=True,
                     onboarded_at=onboarded)
                for i in range(lo, min(lo + 5000, suppliers))])
        for lo in range(0, dealers, 5000):
            s.execute(insert(Dealer), [
                dict(id=new_id("dlr"), external_id=dealer_ref(i), credit_code=_credit_code("914403007", i),
                     name=f"Dealer {i}", industry="building_materials",
                     registered_on=datetime(2018, 1, 1).date(), onboarded_at=onboarded)
                for i in range(lo, min(lo + 5000, dealers))])
    db.dispose()
    return time.perf_counter() - started


def _iso(seconds: np.ndarray) -> pa.Array:
    stamps = (np.datetime64(START.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]"))
    text = np.datetime_as_string(stamps, unit="s")
    return pa.array(np.char.add(text.astype(object).astype(str), "Z"))


def _refs(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return pa.array(np.char.add(prefix, np.char.zfill(numbers.astype(str), width)))


def order_batches(n: int, dealers: int, suppliers: int, seed: int):
    rng = np.random.default_rng(seed)
    for lo in range(0, n, ROW_GROUP):
        size = min(ROW_GROUP, n - lo)
        ids = np.arange(lo, lo + size)
        placed = rng.integers(0, SPAN_SECONDS, size)
        recorded = placed + rng.integers(1, 3600, size)
        yuan = np.round(rng.lognormal(10, 1, size), 2).clip(1, 5_000_000)
        yield pa.record_batch({
            "external_id": _refs("O", ids, 9),
            "dealer": _refs("D", rng.integers(0, dealers, size), 6),
            "supplier": _refs("S", rng.integers(0, suppliers, size), 5),
            "amount": pa.array(np.char.mod("%.2f", yuan)),
            "placed_at": _iso(placed),
            "status": pa.array(np.full(size, "placed")),
            "recorded_at": _iso(recorded),
        })


def write_orders(path: Path, n: int, dealers: int, suppliers: int, seed: int) -> float:
    started = time.perf_counter()
    writer = None
    for batch in order_batches(n, dealers, suppliers, seed):
        if writer is None:
            writer = (pq.ParquetWriter(path, batch.schema) if path.suffix == ".parquet"
                      else pacsv.CSVWriter(path, batch.schema))
        writer.write_batch(batch)
    if writer is not None:
        writer.close()
    return time.perf_counter() - started


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_loader(url: str, path: Path, workdir: Path, chunk_rows: int) -> dict:
    env = dict(os.environ, RISK_DATABASE_URL=url, RISK_KEYS_DIR=str(workdir / "keys"), RISK_ENV="local",
               RISK_LOG_LEVEL="WARNING")
    # `risk-engine data load`, run by this interpreter from this checkout
    command = [sys.executable, "-c", "from risk_engine.cli import app; app()", "data", "load", str(path),
               "--type", "order", "--report", str(workdir / "rejected.csv"), "--chunk-rows", str(chunk_rows)]
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    samples = []
    while child.poll() is None:
        samples.append((time.perf_counter() - started, _rss_mb(child.pid)))
        time.sleep(1.0)
    out, err = child.communicate()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kib, cpu_seconds = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    if child.returncode != 0:
        raise SystemExit(f"loader failed ({child.returncode}):\n{err[-4000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    quarter = [round(mb) for _, mb in samples[:: max(1, len(samples) // 8)]]
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mb": peak_kib / 1024,
            "rss_samples_mb": quarter, "summary": summary}


def profile_in_process(url: str, path: Path, workdir: Path, chunk_rows: int) -> None:
    from risk_engine.db import Database
    from risk_engine.trade.loader import load_files

    db = Database(url)
    profiler = cProfile.Profile()
    profiler.enable()
    load_files(db.unit_of_work, [path], actor="bench", report_path=workdir / "rejected.csv", kind="order",
               chunk_rows=chunk_rows)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--dealers", type=int, default=100_000)
    parser.add_argument("--suppliers", type=int, default=2_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--chunk-rows", type=int, default=2000, help="rows per chunk (the loader's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="kept afterwards when given")
    parser.add_argument("--profile", action="store_true", help="load in this process under cProfile instead")
    args = parser.parse_args()

    from risk_engine import migrations

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-data-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "risk.db"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    try:
        migrations.upgrade(url)
        seeded = seed_parties(url, args.dealers, args.suppliers)
        path = workdir / f"orders.{args.format}"
        written = write_orders(path, args.orders, args.dealers, args.suppliers, args.seed)
        _emit({"step": "prepare", "orders": args.orders, "dealers": args.dealers, "suppliers": args.suppliers,
               "format": args.format, "file_mb": round(path.stat().st_size / 2**20, 1),
               "seed_parties_s": round(seeded, 1), "write_file_s": round(written, 1)})
        if args.profile:
            profile_in_process(url, path, workdir, args.chunk_rows)
            return
        result = run_loader(url, path, workdir, args.chunk_rows)
        summary = result["summary"]
        _emit({"step": "load", "orders": args.orders, "format": args.format, "chunk_rows": args.chunk_rows,
               "created": summary["created"], "rejected": summary["rejected"],
               "seconds": round(result["seconds"], 1),
               "rows_per_s": round(summary["rows"] / result["seconds"]),
               "cpu_s": round(result["cpu_seconds"], 1),  # wall time also counts other processes' load
               "rows_per_cpu_s": round(summary["rows"] / result["cpu_seconds"]),
               "peak_rss_mb": round(result["peak_rss_mb"]), "rss_samples_mb": result["rss_samples_mb"],
               "database_mb": round(database.stat().st_size / 2**20)})
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
