"""Scale curve of the dealer feature computation (and of the synthetic platform generator), and the
early-warning job's feature reads from the database.

    .venv/bin/python bench/bench_features.py                 # 10,000 and 100,000 dealers
    .venv/bin/python bench/bench_features.py --sizes 2000 10000 --repeat 3
    .venv/bin/python bench/bench_features.py --early-warning # the daily job on a 1,200-dealer demo
    .venv/bin/python bench/bench_features.py --early-warning --sizes 2000 --repeat 3

Each size's platform is generated once and cached as Parquet under bench/out/. Every measurement
runs in a fresh child process, so the peak resident set size (getrusage ``ru_maxrss``) is that of
loading the history plus computing the features, nothing else. Prints figures; never asserts a
timing (the target is 100,000 dealers / ~5M orders in at most 60 s and 4 GB on two cores).

``--early-warning`` seeds a demo database once per size (``risk-engine demo seed``, SQLite, cached
under bench/out/; about a quarter of the dealers hold a credit line and are watched) and runs
``early_warning_daily`` on fresh copies of it, alternately reading the features one dealer at a time
through a feature snapshot each (how the scheduler read them until 2026-11) and a batch at a time
(``features_of_dealers``, what it reads now). Prints the wall time of each, the part spent reading
features, and whether both raised the same alerts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _platform_dir(n_dealers: int, seed: int) -> Path:
    return OUT / f"platform_{n_dealers}_seed{seed}"


def generate(n_dealers: int, seed: int) -> dict:
    from risk_engine.demo import generate_platform

    started = time.perf_counter()
    platform = generate_platform(n_dealers=n_dealers, seed=seed)
    seconds = time.perf_counter() - started
    platform.to_parquet(_platform_dir(n_dealers, seed))
    return {
        "step": "generate",
        "dealers": n_dealers,
        "orders": len(platform.orders),
        "payments": len(platform.payments),
        "invoices": len(platform.invoices),
        "loans": len(platform.loans),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def measure(n_dealers: int, seed: int, repeat: int) -> dict:
    import pandas as pd

    from risk_engine.demo import Platform
    from scoring.features import REQUIRED_COLUMNS, compute_features

    started = time.perf_counter()
    platform = Platform.from_parquet(_platform_dir(n_dealers, seed), columns=REQUIRED_COLUMNS)
    trade = platform.trade_frames()
    load_seconds = time.perf_counter() - started
    rss_after_load = _peak_rss_mb()
    as_of = pd.Timestamp(platform.observed_until) - pd.Timedelta(days=1)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        features = compute_features(trade, as_of)
        timings.append(time.perf_counter() - started)
    return {
        "step": "compute_features",
        "dealers": n_dealers,
        "orders": len(trade.orders),
        "payments": len(trade.payments),
        "as_of": as_of.isoformat(),
        "rows": len(features),
        "columns": features.shape[1],
        "load_seconds": round(load_seconds, 2),
        "seconds": [round(t, 2) for t in timings],
        "peak_rss_mb_after_load": round(rss_after_load),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


# --- the early-warning job on a demo database ------------------------------------------------------


def _demo_database(n_dealers: int, seed: int, regenerate: bool) -> Path:
    """A seeded demo database (SQLite) for this size and seed, made once."""
    folder = OUT / f"ews_demo_{n_dealers}_seed{seed}"
    path, done_marker = folder / "risk.db", folder / "seeded"
    if done_marker.exists() and not regenerate:
        return path
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = {"RISK_DATABASE_URL": f"sqlite:///{path}", "RISK_KEYS_DIR": str(folder / "keys"),
           "RISK_MODELS_DIR": str(folder / "models"), "RISK_ENV": "local"}
    cli = Path(sys.executable).parent / "risk-engine"
    print(f"seeding a {n_dealers}-dealer demo database in {folder} (a minute or two)...", file=sys.stderr)
    for command in (["db", "upgrade"],
                    ["demo", "seed", "--dealers", str(n_dealers), "--seed", str(seed),
                     "--keys-file", str(folder / "demo-keys.json")]):
        done = subprocess.run([str(cli), *command], env={**_environ(), **env}, cwd=ROOT, capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()[-2000:]}")
    done_marker.touch()
    return path


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RISK_")}


def _per_dealer_reader():
    """The scheduler's reader until 2026-11: one dealer at a time, each through a stored feature
    snapshot (flushed into a session the job never commits)."""
    from scoring.snapshots import SnapshotFeatureSource

    source = SnapshotFeatureSource()

    def read(session, dealer_ids, as_of):
        return {d: dict(source.features_for(session, d, as_of).values) for d in dealer_ids}

    return read


def _timed(reader, spent: list[float]):
    def read(session, dealer_ids, as_of):
        started = time.perf_counter()
        try:
            return reader(session, dealer_ids, as_of)
        finally:
            spent.append(time.perf_counter() - started)

    return read


def _run_early_warning(source: Path, reader, as_of: datetime) -> dict:
    from loan_monitoring import jobs
    from risk_engine.db import Database
    from risk_engine.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "risk.db"
        shutil.copy(source, copy)
        db = Database(f"sqlite:///{copy}")
        spent: list[float] = []
        timed = _timed(reader, spent)
        jobs.register_feature_reader(timed)
        try:
            started = time.perf_counter()
            result = jobs.daily_early_warning(db, as_of=as_of, settings=Settings(env="test"))
            seconds = time.perf_counter() - started
            alerts = _open_alerts(db)
        finally:
            jobs.unregister_feature_reader(timed)
            db.dispose()
    return {"seconds": seconds, "reading": sum(spent), "result": result, "alerts": alerts}


def _open_alerts(db) -> list[tuple]:
    from sqlalchemy import select

    from loan_monitoring.models import Alert

    with db.session() as session:
        return sorted(session.execute(select(Alert.dedup_key, Alert.severity, Alert.status, Alert.occurrences)))


def measure_early_warning(n_dealers: int, seed: int, repeat: int, regenerate: bool) -> None:
    from scoring.snapshots import features_of_dealers

    database = _demo_database(n_dealers, seed, regenerate)
    as_of = datetime.now(UTC)  # after everything the demo recorded
    paths = {"per dealer": _per_dealer_reader(), "batched": features_of_dealers}
    runs: dict[str, list[dict]] = {name: [] for name in paths}
    for _ in range(repeat):
        for name, reader in paths.items():
            runs[name].append(_run_early_warning(database, reader, as_of))
    before, after = runs["per dealer"], runs["batched"]
    dealers = before[0]["result"]["dealers"]
    same = all(r["result"] == before[0]["result"] and r["alerts"] == before[0]["alerts"] for r in before + after)
    print(f"early_warning_daily on a {n_dealers}-dealer demo (SQLite): {dealers} dealers watched, "
          f"as of {as_of.isoformat(timespec='seconds')}, best of {repeat}")
    print(f"{'':<22}{'per dealer':>12}{'batched':>12}{'speed-up':>10}")
    for label, key in (("job wall time, s", "seconds"), ("  reading features, s", "reading")):
        one, many = min(r[key] for r in before), min(r[key] for r in after)
        print(f"{label:<22}{one:>12.2f}{many:>12.2f}{one / many:>9.1f}x")
    print(f"same alerts raised: {'yes' if same else 'NO'} ({json.dumps(after[0]['result'], sort_keys=True)})")


def _child(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if result.returncode != 0:
        return {"step": args[1], "error": result.stderr.strip().splitlines()[-1:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--regenerate", action="store_true", help="ignore cached Parquet")
    parser.add_argument("--early-warning", action="store_true",
                        help="time early_warning_daily per dealer vs batched on a seeded demo (default 1,200 dealers)")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "DEALERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.early_warning:
        sizes = args.sizes if "--sizes" in sys.argv else [1200]
        for n in sizes:
            measure_early_warning(n, args.seed, args.repeat, args.regenerate)
        return

    if args.child:
        step, n = args.child[0], int(args.child[1])
        out = generate(n, args.seed) if step == "generate" else measure(n, args.seed, args.repeat)
        print(json.dumps(out))
        return

    for n in args.sizes:
        if args.regenerate or not (_platform_dir(n, args.seed) / "orders.parquet").exists():
            print(json.dumps(_child("--child", "generate", str(n), "--seed", str(args.seed))), flush=True)
        print(
            json.dumps(
                _child("--child", "features", str(n), "--seed", str(args.seed), "--repeat", str(args.repeat))
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
